# Supervision: errors, restart policies with backoff, timeouts, failed workers.
import asyncio

from helpers import Counter, Quiet, st, wait_until
from zoo_micro import BaseWorker, Master
from zoo_micro.port import ticks_diff, ticks_ms

HEAPSIZE = "72K"  # the test module itself is large; the runtime's share is what shrank


class Flaky(BaseWorker):
    """Fails `fail_first` times, then succeeds; records when each run started."""

    is_loop = True
    fail_first = 3

    def __init__(self, props=None):
        super().__init__(props)
        self.starts = []
        self.seen = []

    def _execute(self):
        self.starts.append(ticks_ms())
        if len(self.starts) <= self.fail_first:
            raise ValueError("boom %d" % len(self.starts))
        return None

    def _on_error(self):  # the full framework's signature; the exception is self._zoo_error
        self.seen.append(self._zoo_error)


async def test_error_calls_on_error_and_restart_backs_off_exponentially():
    m = Master()
    w = m.register_worker("flaky", Flaky, props={"delay_time": 0.1})
    with Quiet():
        await m.start()
        await wait_until(lambda: len(w.starts) >= 5, timeout=5)
        await m.stop()
    assert [str(e) for e in w.seen] == ["boom 1", "boom 2", "boom 3"]
    gaps = [ticks_diff(w.starts[i + 1], w.starts[i]) for i in range(4)]
    # Retries after 0.1, 0.2, 0.4 s, then the successful run resets to delay_time (0.1 s).
    assert 90 <= gaps[0] < 190, gaps
    assert 190 <= gaps[1] < 350, gaps
    assert 390 <= gaps[2] < 700, gaps
    assert 90 <= gaps[3] < 190, gaps
    assert st(m, w)["restarts"] == 3 and st(m, w)["errors"] == 3 and st(m, w)["fails"] == 0


async def test_backoff_starts_at_100ms_when_delay_time_is_zero_and_is_capped():
    m = Master({"backoff_max": 0.15})
    w = m.register_worker("flaky", Flaky, props={"delay_time": 0})
    with Quiet():
        await m.start()
        await wait_until(lambda: len(w.starts) >= 4, timeout=5)
        await m.stop()
    gaps = [ticks_diff(w.starts[i + 1], w.starts[i]) for i in range(3)]
    assert 90 <= gaps[0] < 145, gaps  # at least 0.1 s
    assert 140 <= gaps[1] < 260, gaps  # 0.2 s capped to 0.15 s
    assert 140 <= gaps[2] < 260, gaps


async def test_max_restarts_marks_failed_and_announces_it():
    class Broken(BaseWorker):
        def _execute(self):
            raise RuntimeError("always")

    failed = []
    m = Master()
    w = m.register_worker("broken", Broken, props={"delay_time": 0, "max_restarts": 2})
    m.subscribe("zoo.worker.failed", lambda r: failed.append(r.content))
    with Quiet():
        await m.start()
        await wait_until(lambda: failed, timeout=5)
        await asyncio.sleep(0.3)
        await m.stop()
    assert st(m, w)["status"] == "failed"
    assert st(m, w)["runs"] == 3 and st(m, w)["restarts"] == 2  # first run + 2 restarts, then it gives up
    assert failed == [{"worker": "broken", "restarts": 2, "errors": 3}]


async def test_restart_never_fails_on_first_error():
    m = Master()
    w = m.register_worker("flaky", Flaky, props={"delay_time": 0, "restart": "never"})
    with Quiet():
        await m.start()
        await wait_until(lambda: st(m, w)["status"] == "failed")
        await asyncio.sleep(0.15)
        await m.stop()
    assert len(w.starts) == 1 and st(m, w)["restarts"] == 0


async def test_restart_always_reruns_a_one_shot_worker():
    m = Master()
    always = m.register_worker(
        "a", Counter, props={"is_loop": False, "restart": "always", "delay_time": 0.01}
    )
    once = m.register_worker("b", Counter, props={"is_loop": False, "delay_time": 0.01})
    await m.start()
    await wait_until(lambda: always.n >= 3)
    await m.stop()
    assert once.n == 1


async def test_failing_worker_does_not_disturb_others():
    class Broken(BaseWorker):
        def _execute(self):
            raise RuntimeError("x")

    m = Master()
    m.register_worker("broken", Broken, props={"delay_time": 0, "max_restarts": 1})
    s = m.register_worker("steady", Counter, props={"delay_time": 0.01})
    with Quiet():
        await m.start()
        await asyncio.sleep(0.3)
        await m.stop()
    assert st(m, m.get_worker("broken"))["status"] == "failed"
    assert s.n >= 10 and st(m, s)["errors"] == 0


async def test_async_run_timeout_cancels_and_reports_timeout():
    class Hang(BaseWorker):
        is_loop = True

        def __init__(self, props=None):
            super().__init__(props)
            self.errors_seen = []
            self.finished_runs = 0

        async def _execute(self):
            await asyncio.sleep(10)
            self.finished_runs += 1

        def _on_error(self):
            self.errors_seen.append(self._zoo_error)

    m = Master()
    w = m.register_worker("hang", Hang, props={"run_timeout": 0.05, "delay_time": 0.05, "max_restarts": 0})
    t0 = ticks_ms()
    with Quiet():
        await m.start()
        await wait_until(lambda: st(m, w)["status"] == "failed", timeout=3)
        await m.stop()
    assert ticks_diff(ticks_ms(), t0) < 2000
    assert w.finished_runs == 0
    assert len(w.errors_seen) == 1 and isinstance(w.errors_seen[0], asyncio.TimeoutError)


async def test_plain_execute_overrun_is_reported_as_timeout():
    from zoo_micro import port

    class Busy(BaseWorker):
        def __init__(self, props=None):
            super().__init__(props)
            self.errors_seen = []

        def _execute(self):
            port.sleep_ms(60)

        def _on_error(self):
            self.errors_seen.append(self._zoo_error)

    m = Master()
    w = m.register_worker("busy", Busy, props={"run_timeout": 0.02, "is_loop": False, "restart": "never"})
    with Quiet():
        await m.start()
        await wait_until(lambda: st(m, w)["status"] == "failed")
        await m.stop()
    assert isinstance(w.errors_seen[0], asyncio.TimeoutError)


async def test_error_in_on_error_hook_is_contained():
    class BadHook(Flaky):
        def _on_error(self):
            raise KeyError("hook")

    m = Master()
    # Not delay 0: runs would pile up in `starts` until a 96K heap ran out, an error of its own.
    w = m.register_worker("bad", BadHook, props={"delay_time": 0.01})
    with Quiet():
        await m.start()
        await wait_until(lambda: len(w.starts) >= 4, timeout=5)
        await m.stop()
    assert st(m, w)["errors"] == 3 and st(m, w)["status"] == "stopped"


async def test_failing_on_create_is_retried_with_the_restart_policy():
    class LateSensor(BaseWorker):
        is_loop = True

        def __init__(self, props=None):
            super().__init__(props)
            self.creates = 0
            self.runs_ok = 0

        def _on_create(self):
            self.creates += 1
            if self.creates < 3:
                raise OSError("sensor not ready")

        def _execute(self):
            self.runs_ok += 1

    m = Master()
    w = m.register_worker("late", LateSensor, props={"delay_time": 0})
    with Quiet():
        await m.start()
        await wait_until(lambda: w.runs_ok >= 2, timeout=5)
        await m.stop()
    assert w.creates == 3 and st(m, w)["errors"] == 2 and st(m, w)["restarts"] == 2


async def test_worker_survives_a_memory_error_in_its_book_keeping():
    class Unlucky(BaseWorker):
        is_loop = True

        def __init__(self, props=None):
            super().__init__(props)
            self.n = 0

        def _execute(self):
            self.n += 1
            return self.n

    got = []
    m = Master()
    m.register_worker("unlucky", Unlucky, props={"delay_time": 0.01})
    publish = m.publish

    def full_heap_once(topic, content=None, *args):
        if content == 2:
            raise MemoryError("heap full")
        return publish(topic, content, *args)

    m.publish = full_heap_once
    m.subscribe("unlucky_result", lambda r: got.append(r.content))
    with Quiet():
        await m.start()
        await wait_until(lambda: len(got) >= 3, timeout=5)
        await m.stop()
    assert got[:3] == [1, 3, 4], got  # run 2's result was lost to the error, the worker lived on


class Undescribable(Exception):
    def __repr__(self):
        raise MemoryError()  # as a full heap fails to format an error message


async def test_a_failure_that_cannot_even_be_logged_leaves_workers_running():
    class Odd(BaseWorker):
        is_loop = True

        def _execute(self):
            raise Undescribable()

    class OddThread(Odd):
        mode = "thread"

    m = Master()
    a = m.register_worker("odd", Odd, props={"delay_time": 0.01})
    t = m.register_worker("odd_thread", OddThread, props={"delay_time": 0.01})
    with Quiet():
        await m.start()
        await wait_until(lambda: st(m, a)["runs"] >= 3 and st(m, t)["runs"] >= 3)
        await m.stop()


async def test_the_supervisor_lives_when_the_heap_has_no_room_for_its_alarm():
    real = asyncio.create_task
    failed = []

    def tight(coro):
        if not failed and "_alarm" in repr(coro):
            failed.append(1)
            coro.close()
            raise MemoryError()
        return real(coro)

    m = Master()
    w = m.register_worker("c", Counter, props={"delay_time": 0.03})
    asyncio.create_task = tight
    try:
        await m.start()
        await wait_until(lambda: failed and w.n >= 4)
        await m.stop()
    finally:
        asyncio.create_task = real
