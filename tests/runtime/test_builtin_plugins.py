# The watchdog and scheduler plugins.
import asyncio
import sys

from helpers import Counter, Quiet, no_heap, st, wait_until
from zoo_micro import BaseWorker, Master, port, scheduler

HEAPSIZE = "80K"  # the test module itself is large; the runtime's share is what shrank


class FakeWDT:
    made = []

    def __init__(self, timeout):
        self.timeout = timeout
        self.fed = 0
        FakeWDT.made.append(self)

    def feed(self):
        self.fed += 1


class FakeMachine:
    WDT = FakeWDT


class fake_machine:
    """`with fake_machine(module):` puts a stand-in `machine` module in place for the block."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.saved = sys.modules.get("machine")
        sys.modules["machine"] = self.module

    def __exit__(self, *exc):
        if self.saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = self.saved


class Sensor(BaseWorker):
    is_loop = True
    broken = False

    def _execute(self):
        if self.broken:
            raise ValueError("hung sensor")


async def test_watchdog_is_fed_only_while_the_node_is_healthy():
    with fake_machine(FakeMachine):
        m = Master({"watchdog": {"timeout_ms": 40}, "svm_check_interval": 0})
        sensor = m.register_worker("sensor", Sensor, props={"delay_time": 0.01, "restart": "never"})
        await m.start()
        wdt = FakeWDT.made[-1]
        assert wdt.timeout == 40
        await wait_until(lambda: wdt.fed >= 2)
        with Quiet():
            sensor.broken = True
            await wait_until(lambda: st(m, sensor)["status"] == "failed")
            fed = wdt.fed
            await asyncio.sleep(0.1)  # ten feed periods
        assert wdt.fed <= fed + 1  # at most one feed already under way
        await m.stop()


class Slow(BaseWorker):
    mode = "thread"
    is_loop = True

    def _execute(self):
        port.sleep_ms(80)


async def test_watchdog_feeds_through_a_stop_without_loading_health_checks_again():
    with fake_machine(FakeMachine):
        m = Master({"watchdog": {"timeout_ms": 40}, "svm_check_interval": 0.02})
        m.register_worker("slow", Slow, props={"delay_time": 0.01})  # the stop waits for its thread
        await m.start()
        wdt = FakeWDT.made[-1]
        await wait_until(lambda: wdt.fed >= 2)
        fed = wdt.fed
        await m.stop()
        assert wdt.fed > fed  # fed while the stop waited
        # Stopping dropped the health checks to make room; the feeds did not bring them back.
        assert "zoo_micro.svm" not in sys.modules and m.svm is None


async def test_a_full_heap_skips_a_feed_and_the_watchdog_feeds_on():
    with fake_machine(FakeMachine):
        m = Master({"watchdog": {"timeout_ms": 40}, "svm_check_interval": 0})
        await m.start()
        wdt = FakeWDT.made[-1]
        dog = m.plugins.get("watchdog")
        seen = []  # the feeds counted as each of the next three checks found no heap

        def healthy():
            if len(seen) < 3:
                seen.append(wdt.fed)
                raise MemoryError
            return True

        fed = wdt.fed
        dog.healthy = healthy
        await wait_until(lambda: wdt.fed > fed)  # the loop lived on to feed again
        assert seen == [fed, fed, fed], seen  # and fed nothing while the checks failed
        await m.stop()


async def test_the_watchdog_check_allocates_nothing():
    # A node short of heap whose workers run is fed: only a hung or failing one is reset.
    with fake_machine(FakeMachine):
        m = Master({"watchdog": {"timeout_ms": 4000}, "svm_check_interval": 0})
        m.register_worker("w", Counter, props={"delay_time": 0.01})
        await m.start()
        dog = m.plugins.get("watchdog")
        assert dog.healthy()  # health checks are off: this first call makes the monitor
        if port.MICROPYTHON:
            import micropython

            micropython.heap_lock()  # any allocation raises MemoryError until heap_unlock()
            try:
                ok = dog.healthy()
            finally:
                micropython.heap_unlock()
        else:
            ok = dog.healthy()
        m.get_worker("w")._zoo[0] = "failed"
        failed = dog.healthy()
        await m.stop()
        assert ok and not failed


async def test_watchdog_stays_off_without_machine_wdt():
    with fake_machine(object()):  # a machine module with no WDT
        m = Master({"watchdog": True, "svm_check_interval": 0})
        with Quiet():
            await m.start()
        assert m.plugins.get("watchdog").wdt is None
        await m.stop()


async def test_scheduler_publishes_every_n_seconds():
    got = []
    m = Master({"schedule": [{"every": 0.05, "topic": "tick", "content": "t"}], "svm_check_interval": 0})
    m.subscribe("tick", lambda r: got.append(r.content))
    await m.start()
    await asyncio.sleep(0.28)
    await m.stop()
    assert 3 <= len(got) <= 6, got  # five due; a late wake-up skips a slot rather than bunching
    assert got[0] == "t"


async def test_the_scheduler_outlives_a_full_heap():
    got = []
    m = Master({"schedule": [{"every": 0.02, "topic": "tick"}], "svm_check_interval": 0})
    m.subscribe("tick", lambda r: got.append(1))
    await m.start()
    sched = m.plugins.get("scheduler")
    # A tick finds no heap, and neither does the line that would say so.
    sched._tick, left = no_heap(sched._tick, 1)
    from zoo_micro import log

    said = log.error
    log.error, _ = no_heap(said, 1)
    try:
        await wait_until(lambda: not left[0])
    finally:
        log.error = said
    n = len(got)
    await wait_until(lambda: len(got) > n, timeout=3)  # ticks a second later, and on
    await m.stop()


async def test_scheduler_fires_at_a_time_of_day_once_the_clock_is_set():
    clock = [(2000, 1, 1, 6, 30, 0)]  # RTC not set yet
    saved = scheduler.wall_clock
    scheduler.wall_clock = lambda: clock[0]
    got = []
    try:
        m = Master({"schedule": [{"at": "06:30", "topic": "report"}], "svm_check_interval": 0})
        m.subscribe("report", lambda r: got.append(1))
        await m.start()
        plugin = m.plugins.get("scheduler")
        plugin._tick()
        assert got == [] and plugin.jobs[0].fired == 0
        clock[0] = (2026, 11, 30, 6, 29, 59)
        plugin._tick()
        assert plugin.jobs[0].fired == 0
        clock[0] = (2026, 11, 30, 6, 30, 1)
        plugin._tick()
        plugin._tick()  # still 06:30: once per day
        assert plugin.jobs[0].fired == 1
        clock[0] = (2026, 12, 1, 6, 30, 0)
        plugin._tick()
        assert plugin.jobs[0].fired == 2
        await wait_until(lambda: len(got) == 2)
        await m.stop()
    finally:
        scheduler.wall_clock = saved


def test_scheduler_refuses_bad_entries():
    from helpers import raises

    for bad in ({"topic": "x"}, {"every": 1}, {"at": "7h", "topic": "x"}, {"every": 0, "topic": "x"}):
        raises(ValueError, scheduler.Job, bad)
