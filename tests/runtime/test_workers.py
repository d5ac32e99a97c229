# Workers: loop and one-shot runs, results, hooks, registration.
import asyncio

from helpers import Counter, Quiet, raises, st, wait_until
from zoo_micro import BaseWorker, Master, worker

HEAPSIZE = "72K"  # the test module itself is large; the runtime's share is what shrank


async def test_loop_worker_runs_every_delay_time():
    m = Master()
    w = m.register_worker("c", Counter, props={"delay_time": 0.02})
    await m.start()
    await asyncio.sleep(0.25)
    await m.stop()
    # ~12 runs expected in 0.25 s at 20 ms; generous bounds for a loaded machine
    assert 4 <= w.n <= 14, w.n
    assert st(m, w)["runs"] == w.n


async def test_one_shot_worker_runs_once():
    m = Master()
    w = m.register_worker("once", Counter, props={"is_loop": False, "delay_time": 0})
    await m.start()
    await wait_until(lambda: st(m, w)["status"] == "done")
    await asyncio.sleep(0.05)
    await m.stop()
    assert w.n == 1


async def test_result_is_published_on_name_result_topic():
    class Sampler(BaseWorker):
        is_loop = True

        def __init__(self, props=None):
            super().__init__(props)
            self.n = 0

        async def _execute(self):
            self.n += 1
            return {"reading": self.n}

    got = []
    m = Master()
    m.register_worker("sampler", Sampler, props={"delay_time": 0.01})
    m.subscribe("sampler_result", lambda req: got.append(req.content["reading"]))
    await m.start()
    await wait_until(lambda: len(got) >= 3)
    await m.stop()
    assert got[:3] == [1, 2, 3]


async def test_none_result_publishes_nothing():
    m = Master()
    m.register_worker("c", Counter, props={"delay_time": 0.01})
    await m.start()
    await asyncio.sleep(0.05)
    await m.stop()
    assert m.stats()["published"] == 0


async def test_worker_never_runs_concurrently_with_itself():
    class Slow(BaseWorker):
        is_loop = True

        def __init__(self, props=None):
            super().__init__(props)
            self.inside = 0
            self.most = 0

        async def _execute(self):
            self.inside += 1
            self.most = max(self.most, self.inside)
            await asyncio.sleep(0.02)
            self.inside -= 1

    m = Master()
    w = m.register_worker("slow", Slow, props={"delay_time": 0})
    await m.start()
    await wait_until(lambda: st(m, w)["runs"] >= 5)
    await m.stop()
    assert w.most == 1


async def test_hooks_run_in_order():
    calls = []

    class Hooked(BaseWorker):
        def _on_create(self):
            calls.append("create")

        def _execute(self):
            calls.append("execute")
            return 42

        def _destroy_result(self, result):
            calls.append(("result", result))

        def _on_done(self):
            calls.append("done")

        def _destroy(self, result):
            calls.append(("destroy", result))

    m = Master()
    m.register_worker("h", Hooked)  # is_loop defaults to False: one run
    await m.start()
    await wait_until(lambda: "done" in calls)
    await asyncio.sleep(0.05)
    await m.stop()
    # The full framework's hooks and arguments, in its order.
    assert calls == ["create", "execute", ("result", 42), "done", ("destroy", None)], calls


def test_bad_props_are_refused_with_clear_errors():
    e = raises(ValueError, Counter, {"mode": "process"})
    assert "mode" in str(e)
    e = raises(ValueError, Counter, {"restart": "sometimes"})
    assert "restart" in str(e)
    e = raises(ValueError, Counter, {"dealy_time": 1})
    assert "dealy_time" in str(e)
    e = raises(ValueError, Counter, {"delay_time": -1})
    assert "negative" in str(e)


def test_register_worker_takes_class_or_instance_and_count():
    m = Master()
    ws = m.register_worker("pool", Counter, count=3)
    assert [w.name for w in ws] == ["pool:0", "pool:1", "pool:2"]
    one = Counter({"delay_time": 0.5})
    assert m.register_worker("solo", one) is one
    assert one.name == "solo" and one.delay_time == 0.5
    e = raises(ValueError, m.register_worker, "solo", Counter)
    assert "already registered" in str(e)
    raises(TypeError, m.register_worker, "x", object)


def test_worker_decorator_registers_with_every_new_master():
    @worker(count=2, delay_time=0.3)
    class Decorated(Counter):
        pass

    assert isinstance(Decorated({}), Counter)  # still a class
    a = Master()
    b = Master()
    for m in (a, b):
        names = [w.name for w in m.workers]
        assert "Decorated:0" in names and "Decorated:1" in names, names
        assert m.get_worker("Decorated:1").delay_time == 0.3


async def test_pool_workers_share_one_result_topic():
    class Emit(BaseWorker):
        def _execute(self):
            return self.name

    got = []
    m = Master()
    m.register_worker("emit", Emit, count=2, props={"is_loop": False})
    m.subscribe("emit_result", lambda r: got.append(r.content))
    await m.start()
    await wait_until(lambda: len(got) == 2)
    await m.stop()
    assert sorted(got) == ["emit:0", "emit:1"]


async def test_worker_registered_after_start_runs():
    m = Master()
    await m.start()
    w = m.register_worker("late", Counter, props={"delay_time": 0.01})
    await wait_until(lambda: w.n >= 2)
    await m.stop()


async def test_worker_built_the_full_frameworks_way():
    # A constructor without arguments that hands its props to BaseWorker, as zoo-framework's
    # README shows; props given to register_worker still apply on top.
    class MyWorker(BaseWorker):
        def __init__(self):
            super().__init__({"is_loop": True, "delay_time": 0.01, "name": "MyWorker"})
            self.runs = 0  # the app's own counter: the framework's bookkeeping stays off it
            self.errors = []

        def _execute(self):
            self.runs += 1

    m = Master()
    w = m.register_worker("MyWorker", MyWorker)
    fast = m.register_worker("fast", MyWorker, props={"delay_time": 0})
    assert w.is_loop and w.delay_time == 0.01 and w.name == "MyWorker"
    assert fast.name == "fast" and fast.delay_time == 0 and fast.is_loop
    await m.start()
    await wait_until(lambda: w.runs >= 3)
    await m.stop()
    assert w.errors == [] and m.stats()["workers"]["MyWorker"]["runs"] == w.runs


async def test_one_shot_is_the_default():
    m = Master()
    w = m.register_worker("once", Counter, props={"is_loop": BaseWorker.is_loop, "delay_time": 0})
    await m.start()
    await wait_until(lambda: st(m, w)["status"] == "done")
    await asyncio.sleep(0.02)
    await m.stop()
    assert BaseWorker.is_loop is False and w.n == 1


async def test_the_full_frameworks_worker_attributes_metadata_and_stats():
    class Probe(BaseWorker):
        def __init__(self):
            super().__init__({"name": "Probe"})
            self.state["boots"] = 1  # the worker's own dict, kept when register_worker applies props

        def _execute(self):
            self.state["runs"] = self.state.get("runs", 0) + 1

    m = Master()
    w = m.register_worker("Probe", Probe, {"priority": 10, "tags": ["io"]})  # metadata, as there
    assert w.run_timeout is None and w.registry_name == "Probe" and w.is_loop is False
    await m.start()
    await wait_until(lambda: st(m, w)["status"] == "done")
    await m.stop()
    assert w.state == {"boots": 1, "runs": 1}
    s = m.get_worker_stats("Probe")
    assert s["name"] == "Probe" and s["type"] == "Probe" and s["metadata"] == {"priority": 10, "tags": ["io"]}
    assert sorted(s["health"]) == [
        "avg_execute_time",
        "error_count",
        "error_rate",
        "execute_count",
        "health_score",
        "last_execute_time",
        "status",
    ]
    assert s["health"]["execute_count"] == 1 and m.get_worker_stats("Nobody") is None


async def test_results_on_the_full_frameworks_waiter_topic():
    got = []

    class Adder(BaseWorker):
        def _execute(self):
            return 2 + 3

    class Broken(BaseWorker):
        def _execute(self):
            raise ValueError("no")

    m = Master()
    m.register_worker("Adder", Adder)
    m.register_worker("Broken", Broken, props={"restart": "never"})
    m.subscribe("waiter", lambda req: got.append(req.content))
    with Quiet():
        await m.start()
        await wait_until(lambda: len(got) == 2)
        await m.stop()
    ok = [r for r in got if r.registry_name == "Adder"][0]
    bad = [r for r in got if r.registry_name == "Broken"][0]
    assert (ok.content, ok.error, ok.success, ok.cls_name, ok.topic) == (5, None, True, "Adder", "waiter")
    assert (bad.content, bad.error, bad.success) == (None, "ValueError: no", False)
