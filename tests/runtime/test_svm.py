# SVM health: fed by the runtime, every status transition, node vitals, periodic reports.
import asyncio

from helpers import Quiet, st, wait_until
from zoo_micro import BaseWorker, Master, port

HEAPSIZE = "72K"  # the test module itself is large; the runtime's share is what shrank

FIELDS = (
    "status",
    "health_score",
    "execute_count",
    "error_count",
    "error_rate",
    "avg_execute_time",
    "max_execute_time",
    "last_execute_time",
    "restarts",
)


class Scripted(BaseWorker):
    """Fails while `failing` is true; sleeps `hang_ms` in a run when set."""

    is_loop = True

    def __init__(self, props=None):
        super().__init__(props)
        self.failing = False
        self.hang_s = 0

    async def _execute(self):
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.failing:
            raise ValueError("sensor error")


def health(m, name):
    m.get_health_report()  # makes the monitor if the periodic check is off
    m.svm.check()
    return m.get_health_report()["workers"][name]


async def test_report_has_the_full_framework_fields_and_node_vitals():
    m = Master({"svm_check_interval": 0.05})
    m.register_worker("w", Scripted, props={"delay_time": 0.01})
    await m.start()
    await asyncio.sleep(0.1)
    r = m.get_health_report()
    await m.stop()
    w = r["workers"]["w"]
    for f in FIELDS:
        assert f in w, f
    assert w["status"] == "running" and w["health_score"] == 100 and w["execute_count"] >= 5
    assert w["avg_execute_time"] >= 0 and w["max_execute_time"] >= w["avg_execute_time"]
    node = r["node"]
    for f in ("mem_free", "mem_alloc", "queue_depth", "dropped", "loop_lag_ms", "uptime_ms"):
        assert f in node, f
    assert node["uptime_ms"] >= 90
    if port.MICROPYTHON:
        assert node["mem_free"] > 0 and node["mem_alloc"] > 0


class Stepped(BaseWorker):
    """Runs only when told: each entry of `todo` is one run, True to fail it, False to finish it."""

    def __init__(self, props=None):
        super().__init__(props)
        self.todo = []
        self.go = None

    async def _execute(self):
        while not self.todo:
            self.go = asyncio.Event()
            await self.go.wait()
        if self.todo.pop(0):
            raise ValueError("sensor error")


async def runs(m, w, *outcomes):
    """Make `w` run once per outcome (True: fail), and return its health once the last one ended."""
    n = st(m, w)["runs"] + len(outcomes)
    w.todo.extend(outcomes)
    if w.go is not None:
        w.go.set()
    await wait_until(lambda: st(m, w)["runs"] == n, timeout=5)
    return health(m, "w")


async def test_status_moves_running_warning_unhealthy_and_back_to_running():
    # Thresholds in docs/health.md: "warning" from one failure or a recent error rate of 10 %,
    # "unhealthy" from three failures in a row or 50 %; each run moves the rate a quarter of
    # the way towards 0 % (clean) or 100 % (failed).
    m = Master({"svm_check_interval": 0, "backoff_max": 0.05})
    w = m.register_worker("w", Stepped, props={"delay_time": 0, "is_loop": True})
    await m.start()
    with Quiet():
        assert (await runs(m, w, False, False))["status"] == "running"
        h = await runs(m, w, True)  # one failure: rate 25 %, one in a row
        assert h["status"] == "warning" and 0 < h["health_score"] < 100, h
        h = await runs(m, w, True)  # rate 44 %, two in a row
        assert h["status"] == "warning", h
        h = await runs(m, w, True)  # rate 58 %, three in a row
        assert h["status"] == "unhealthy", h
        h = await runs(m, w, False)  # none in a row, but the rate is still 43 %
        assert h["status"] == "warning", h
        seen = []
        for _ in range(6):  # 32, 24, 18, 13, 10, 7 %
            seen.append((await runs(m, w, False))["status"])
    await m.stop()
    assert seen == ["warning"] * 5 + ["running"], seen


async def test_worker_that_stops_making_progress_becomes_stuck_within_one_check():
    stuck = []
    m = Master({"svm_check_interval": 0.05})
    w = m.register_worker("w", Scripted, props={"delay_time": 0.02})
    m.subscribe("zoo.worker.stuck", lambda r: stuck.append(r.content["worker"]))
    await m.start()
    await wait_until(lambda: st(m, w)["runs"] >= 2)
    with Quiet():
        w.hang_s = 1  # no run finishes within 3 x delay_time any more
        await wait_until(lambda: stuck, timeout=1)
    assert m.get_health_report()["workers"]["w"]["status"] == "stuck"
    assert m.get_health_report()["workers"]["w"]["health_score"] == 10
    w.hang_s = 0
    await m.stop()
    assert stuck == ["w"]


async def test_failed_worker_reports_failed_with_zero_score():
    m = Master({"svm_check_interval": 0})
    w = m.register_worker("w", Scripted, props={"delay_time": 0, "max_restarts": 1})
    w.failing = True
    with Quiet():
        await m.start()
        await wait_until(lambda: st(m, w)["status"] == "failed")
    h = health(m, "w")
    await m.stop()
    assert h["status"] == "failed" and h["health_score"] == 0 and h["restarts"] == 1


async def test_health_is_published_every_check_interval():
    reports = []
    m = Master({"svm_check_interval": 0.05, "name": "n7"})
    m.register_worker("w", Scripted, props={"delay_time": 0.01})
    m.subscribe("zoo.svm.health", lambda r: reports.append(r.content))
    await m.start()
    await wait_until(lambda: len(reports) >= 3)
    await m.stop()
    assert reports[-1]["node"]["name"] == "n7" and "w" in reports[-1]["workers"]


async def test_loop_lag_shows_a_blocked_loop():
    lags = []
    m = Master({"svm_check_interval": 0.05})
    m.subscribe("zoo.svm.health", lambda r: lags.append(r.content["node"]["loop_lag_ms"]))
    await m.start()
    await wait_until(lambda: len(lags) >= 2)
    port.sleep_ms(300)  # block the loop as a bad driver call would
    n = len(lags)
    await wait_until(lambda: len(lags) >= n + 2)
    await m.stop()
    assert max(lags[n:]) >= 200, lags  # most of the block shows, whatever the machine's own load


async def test_health_checks_end_with_the_run_and_a_report_after_it_loads_them_again():
    import sys

    m = Master({"svm_check_interval": 0.05})
    m.register_worker("w", Scripted, props={"delay_time": 0.01})
    await m.start()
    await asyncio.sleep(0.1)
    await m.stop()
    # Their code and task are gone before shutdown.py loads: a full heap has that much more room.
    assert m.svm is None and "zoo_micro.svm" not in sys.modules
    r = m.get_health_report()
    assert r["workers"]["w"]["execute_count"] >= 5 and r["node"]["loop_lag_ms"] == 0


async def test_health_checks_outlive_a_heap_too_full_to_report_their_own_failure():
    class Full(Exception):
        def __repr__(self):
            raise MemoryError  # as formatting the log line would on a full heap

    m = Master({"svm_check_interval": 0.02})
    got = []
    m.subscribe("zoo.svm.health", got.append)
    await m.start()
    report = m.svm.report
    fails = [2]

    def flaky():
        if fails[0]:
            fails[0] -= 1
            raise Full()
        return report()

    m.svm.report = flaky
    with Quiet():
        await wait_until(lambda: len(got) >= 1 and not fails[0])
    await m.stop()
    assert got[-1].content["node"]["uptime_ms"] > 0
