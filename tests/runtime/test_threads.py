# Thread workers: real _thread, publishing from threads, stuck detection, shutdown, limits.
import asyncio

from helpers import Counter, Quiet, raises, st, wait_until
from zoo_micro import BaseWorker, Master, port

HEAPSIZE = "96K"  # the test module itself is large; the runtime's share is what shrank


class Ticker(BaseWorker):
    mode = "thread"
    is_loop = True

    def __init__(self, props=None):
        super().__init__(props)
        self.n = 0
        self.idents = []

    def _execute(self):
        self.n += 1
        if len(self.idents) < 3:
            self.idents.append(port.ident())
        return self.n


async def test_thread_worker_runs_on_its_own_thread_and_publishes_results():
    got = []
    m = Master()
    w = m.register_worker("ticker", Ticker, props={"delay_time": 0.01})
    m.subscribe("ticker_result", lambda r: got.append(r.content))
    await m.start()
    await wait_until(lambda: len(got) >= 5)
    await m.stop()
    assert got[:5] == [1, 2, 3, 4, 5]  # in order, none lost
    assert port.ident() not in w.idents


async def test_thread_worker_stops_on_shutdown_and_nothing_keeps_running():
    m = Master()
    w = m.register_worker("ticker", Ticker, props={"delay_time": 0.01})
    await m.start()
    await wait_until(lambda: w.n >= 3)
    await m.stop()
    assert m._threads == []  # the thread has exited, not merely been asked to
    n = w.n
    await asyncio.sleep(0.1)
    assert w.n == n
    assert st(m, w)["status"] == "stopped"


class ShortOfHeap:
    """A delay_time whose arithmetic fails `times` times, as a float's does on a full heap."""

    def __init__(self, times):
        self.left = times

    def __mul__(self, k):
        if self.left:
            self.left -= 1
            raise MemoryError
        return 0.01 * k


async def test_thread_worker_outlives_a_heap_too_full_between_its_runs():
    m = Master({"svm_check_interval": 0})
    w = m.register_worker("ticker", Ticker, props={"delay_time": 0.01})
    w.delay_time = delay = ShortOfHeap(3)
    await m.start()
    await wait_until(lambda: w.n >= 6)
    alive = w in m._threads
    await m.stop()
    assert delay.left == 0 and alive
    assert st(m, w)["errors"] == 0  # the runs themselves went well


def test_run_with_duration_returns_with_thread_workers_stopped():
    m = Master()
    w = m.register_worker("ticker", Ticker, props={"delay_time": 0.01})
    m.run(0.15)
    n = w.n
    assert n >= 3 and m._threads == []
    port.sleep_ms(60)
    assert w.n == n


async def test_blocking_thread_worker_does_not_block_the_loop():
    class Blocker(BaseWorker):
        mode = "thread"
        is_loop = True

        def _execute(self):
            port.sleep_ms(200)  # a blocking driver call

    class Fast(BaseWorker):
        is_loop = True

        def __init__(self, props=None):
            super().__init__(props)
            self.n = 0

        def _execute(self):
            self.n += 1

    m = Master()
    m.register_worker("blocker", Blocker, props={"delay_time": 0})
    f = m.register_worker("fast", Fast, props={"delay_time": 0.01})
    await m.start()
    await asyncio.sleep(0.2)
    await m.stop()
    assert f.n >= 8


async def test_thread_worker_over_run_timeout_is_reported_stuck():
    class Hang(BaseWorker):
        mode = "thread"

        def __init__(self, props=None):
            super().__init__(props)
            self.release = False

        def _execute(self):
            while not self.release:
                port.sleep_ms(5)

    stuck = []
    m = Master({"svm_check_interval": 0.02})
    w = m.register_worker("hang", Hang, props={"run_timeout": 0.05, "is_loop": False})
    m.subscribe("zoo.worker.stuck", lambda r: stuck.append(r.content["worker"]))
    with Quiet():
        await m.start()
        await wait_until(lambda: stuck)
        assert st(m, w)["status"] == "stuck"
        w.release = True
        await wait_until(lambda: st(m, w)["status"] == "done")
        await m.stop()
    assert stuck == ["hang"]


def test_too_many_thread_workers_is_a_clear_error():
    m = Master({"max_threads": 1})
    m.register_worker("a", Ticker)
    e = raises(ValueError, m.register_worker, "b", Ticker)
    assert "allows 1" in str(e)


class _FakeSys:
    # What `import sys` gives zoo_micro.port while it is loaded again as if on another board.
    def __init__(self, real, platform):
        self.real = real
        self.platform = platform

    def __getattr__(self, name):
        return getattr(self.real, name)


def thread_limit_on(platform):
    """port.THREAD_LIMIT as zoo_micro.port computes it on a board whose sys.platform is `platform`."""
    import sys

    import zoo_micro

    saved = sys.modules["zoo_micro.port"]
    sys.modules["sys"] = _FakeSys(sys, platform)
    del sys.modules["zoo_micro.port"]
    try:
        import zoo_micro.port as other

        return other.THREAD_LIMIT
    finally:
        del sys.modules["sys"]
        sys.modules["zoo_micro.port"] = saved
        zoo_micro.port = saved


def test_each_board_data_file_and_the_runtime_agree_on_its_thread_limit():
    # The board data files (boards/*.json, beside tests/ as the runner's path shows) are what the
    # host tools flash and build from; the runtime's own default must say the same per port.
    import json
    import os
    import sys

    boards = sys.argv[0].rsplit("/", 3)[0] + "/boards"
    seen = {}
    for name in sorted(os.listdir(boards)):
        if not name.endswith(".json"):
            continue
        with open(boards + "/" + name) as f:
            data = json.load(f)
        platform = data["micropython"]["port"]
        assert thread_limit_on(platform) == data["max_threads"], (name, platform, data["max_threads"])
        seen[platform] = data["max_threads"]
    assert seen.get("rp2") == 1 and len(seen) >= 2, seen  # RP2 boards have exactly one spare core
    assert thread_limit_on(port.PLATFORM) == port.THREAD_LIMIT  # and the stand-in loads it faithfully


async def test_port_without_thread_falls_back_to_asyncio():
    saved = port.HAS_THREAD
    port.HAS_THREAD = False
    try:
        m = Master()
        with Quiet():
            w = m.register_worker("ticker", Ticker, props={"delay_time": 0.01})
        assert w.mode == "async"
        await m.start()
        await wait_until(lambda: w.n >= 2)
        await m.stop()
        assert w.idents[0] == port.ident()  # ran on the loop's thread
    finally:
        port.HAS_THREAD = saved


async def test_publish_from_plain_thread_needs_threads_enabled():
    got = []
    m = Master({"threads": True})
    m.subscribe("from.thread", lambda r: got.append(r.content))
    await m.start()
    done = []

    def body():
        for i in range(50):
            m.publish("from.thread", i)
        done.append(1)

    port.start_thread(body, ())
    await wait_until(lambda: len(got) == 50)
    await m.stop()
    assert got == list(range(50))


async def test_once_threads_may_publish_the_master_and_bus_gain_no_attributes_as_they_run():
    # Without a GIL (RP2040, the unix port) an attribute added on the loop's thread rebuilds the
    # object's dict while a thread may be reading it, and the thread then misses bus.inbox.
    def keys(o):
        return sorted(o.__dict__.keys())

    m = Master({"threads": True, "queue_size": 2, "svm_check_interval": 0})
    failed = []

    def bad(r):
        failed.append(r.content)
        raise ValueError("nope")

    m.subscribe("bad", bad, retry_strategy=4, retry_time=2)
    await m.start()
    master_keys, bus_keys = keys(m), keys(m.bus)
    with Quiet():
        m.publish("nobody.listens", 1)  # no_subscriber
        m.publish("bad", 2)  # handler_errors, retrying, retries, dead_lettered
        for i in range(5):
            m.publish("burst", i)  # dropped: the queue holds 2
        await wait_until(lambda: m.stats()["dead_lettered"] == 1)
        m.subscribe("waiter", lambda r: None)
        m.get_health_report()
        assert m.plugins is not None
    s = m.stats()
    assert s["no_subscriber"] >= 1 and s["handler_errors"] == 2 and s["dropped"] >= 3, s
    assert keys(m) == master_keys and keys(m.bus) == bus_keys
    await m.stop()
    assert keys(m.bus) == bus_keys


async def test_a_thread_publishes_without_importing_anything():
    # An import on the thread looks in sys.modules, which the loop may be growing at that moment.
    import sys

    got = []
    m = Master({"threads": True})
    m.subscribe("t", lambda r: got.append(r.content))
    await m.start()
    real = sys.modules["zoo_micro.threads"]
    sys.modules["zoo_micro.threads"] = None  # an import of it now fails
    try:
        port.start_thread(lambda: [m.publish("t", i) for i in range(3)], ())
        await wait_until(lambda: len(got) == 3)
    finally:
        sys.modules["zoo_micro.threads"] = real
    await m.stop()
    assert got == [0, 1, 2]


class FailsOnce(Counter):
    mode = "thread"

    def _execute(self):
        self.n += 1
        if self.n == 2:
            raise ValueError("once")


async def test_a_thread_workers_failure_adds_no_attribute_the_loop_may_be_reading():
    m = Master({"svm_check_interval": 0})
    w = m.register_worker("fails", FailsOnce, props={"delay_time": 0.01})
    await m.start()
    before = sorted(w.__dict__.keys())
    with Quiet():
        await wait_until(lambda: w.n >= 3)
    assert repr(w._zoo_error) == repr(ValueError("once"))
    assert sorted(w.__dict__.keys()) == before
    await m.stop()


async def test_backlog_from_threads_and_interrupts_waits_for_the_queue_instead_of_dropping():
    # 45 events pile up in the inboxes while the loop is blocked; the queue holds 32 per channel.
    got = []
    m = Master({"threads": True})
    m.subscribe("burst", lambda r: got.append(r.content))
    await m.start()
    done = []

    def body():
        for i in range(25):
            m.publish("burst", i)
        done.append(1)

    port.start_thread(body, ())
    for i in range(25, 45):
        m.publish_isr("burst", i)
    while not done:
        port.sleep_ms(1)  # blocks the loop, as a long synchronous handler would
    await wait_until(lambda: len(got) == 45)
    await m.stop()
    assert sorted(got) == list(range(45))
    assert m.stats()["dropped"] == 0


async def test_a_stuck_consumer_never_blocks_a_publishing_thread_for_good_and_counts_what_it_drops():
    gate = asyncio.Event()
    got = []

    async def slow(req):
        got.append(req.content)
        await gate.wait()  # the dispatcher is stuck here until released

    m = Master({"threads": True, "queue_size": 4})
    m.subscribe("slow", slow)
    await m.start()
    sent = []

    def body():
        for i in range(12):
            sent.append(m.publish("slow", i))

    port.start_thread(body, ())
    await wait_until(lambda: len(sent) == 12)  # the thread was never blocked for good
    gate.set()
    await wait_until(lambda: len(got) + m.stats()["dropped"] == 12)
    await m.stop()
    dropped = m.stats()["dropped"]
    assert dropped > 0 and got[0] == 0  # some had to go, and each one is counted
    assert got == sorted(got)  # what was kept arrives in order


async def test_publish_from_thread_without_wakeup_raises():
    m = Master({"threads": False})
    await m.start()
    errors = []

    def body():
        try:
            m.publish("x")
        except RuntimeError as e:
            errors.append(str(e))

    port.start_thread(body, ())
    await wait_until(lambda: errors)
    await m.stop()
    assert "threads" in errors[0]


async def test_publish_isr_reaches_handlers():
    got = []
    m = Master({"threads": True})
    m.subscribe("button", lambda r: got.append(r.content))
    await m.start()
    for i in range(5):
        m.publish_isr("button", i)
    await wait_until(lambda: len(got) == 5)
    await m.stop()
    assert got == [0, 1, 2, 3, 4]


def test_board_data_file_sets_the_thread_limit():
    import json
    import os

    with open("board.json", "w") as f:
        json.dump({"id": "pico", "max_threads": 1}, f)  # as zoo-micro build writes it
    try:
        m = Master()
        assert m.config["max_threads"] == 1
        m.register_worker("a", Ticker)
        e = raises(ValueError, m.register_worker, "b", Ticker)
        assert "allows 1" in str(e)
        assert Master({"max_threads": 3}).config["max_threads"] == 3  # the app's config still wins
    finally:
        os.remove("board.json")
