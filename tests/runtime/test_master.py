# The Master: configuration, embedding in an asyncio program, run/shutdown, Ctrl-C, stats.
import asyncio
import json
import os

from helpers import Counter, Quiet, raises, st, wait_until
from zoo_micro import BaseWorker, Master, port

HEAPSIZE = "88K"  # the test module itself is large; the runtime's share is what shrank


def test_config_from_dict_and_json_file():
    m = Master({"name": "n1", "queue_size": 8})
    assert m.name == "n1" and m.bus.queue_size == 8
    assert m.config["backoff_max"] == 30  # defaults fill the rest
    path = "zoo_test_config.json"
    with open(path, "w") as f:
        json.dump({"name": "from-file", "retry_delay": 0.5}, f)
    try:
        m = Master(path)
        assert m.name == "from-file" and m.bus.retry_delay == 0.5
    finally:
        os.remove(path)


def test_bad_config_is_a_clear_error():
    e = raises(ValueError, Master, "no_such_config.json")
    assert "not found" in str(e)
    with open("zoo_bad.json", "w") as f:
        f.write("{not json")
    try:
        e = raises(ValueError, Master, "zoo_bad.json")
        assert "not valid JSON" in str(e)
    finally:
        os.remove("zoo_bad.json")
    raises(ValueError, Master, [1, 2])


async def test_start_and_stop_embed_in_an_existing_program():
    m = Master()
    w = m.register_worker("c", Counter, props={"delay_time": 0.01})
    mine = []

    async def my_task():
        while True:
            mine.append(1)
            await asyncio.sleep(0.01)

    t = asyncio.create_task(my_task())
    await m.start()
    await wait_until(lambda: w.n >= 3)
    await m.stop()
    n = w.n
    await asyncio.sleep(0.05)
    assert w.n == n and len(mine) >= 3
    t.cancel()


async def test_set_up_code_is_forgotten_as_the_node_starts_and_loaded_again_when_needed():
    import sys

    m = Master({"name": "n1"})
    assert "zoo_micro.config" not in sys.modules  # read once, forgotten
    m.register_worker("a", Counter, props={"delay_time": 0.01})
    assert "zoo_micro.assemble" in sys.modules  # while the node is put together
    await m.start()
    assert "zoo_micro.assemble" not in sys.modules
    late = m.register_worker("b", Counter, props={"delay_time": 0.01})  # a running node takes more
    assert "zoo_micro.assemble" not in sys.modules
    await wait_until(lambda: late.n >= 2 and m.get_worker("a").n >= 2)
    await m.stop()


def test_run_with_duration_is_bounded():
    m = Master()
    w = m.register_worker("c", Counter, props={"delay_time": 0.01})
    t0 = port.ticks_ms()
    m.run(0.2)
    took = port.ticks_diff(port.ticks_ms(), t0)
    assert 180 <= took < 1500, took
    assert w.n >= 3


def test_shutdown_from_a_handler_ends_run():
    m = Master()
    m.register_worker("c", Counter, props={"delay_time": 0.01})
    m.subscribe("stop", lambda r: m.shutdown())
    m.subscribe("c_result", lambda r: None)

    class Stopper(BaseWorker):
        is_loop = False
        delay_time = 0

        def _execute(self):
            return "go"

    m.register_worker("s", Stopper)
    m.subscribe("s_result", lambda r: m.publish("stop"))
    t0 = port.ticks_ms()
    m.run()  # would block forever without shutdown()
    assert port.ticks_diff(port.ticks_ms(), t0) < 3000


def test_ctrl_c_stops_every_worker_including_threads():
    class Thread(Counter):
        mode = "thread"

    class CtrlC(BaseWorker):
        is_loop = True

        def __init__(self, props=None):
            super().__init__(props)
            self.n = 0

        def _execute(self):
            self.n += 1
            if self.n == 5:
                raise KeyboardInterrupt

    m = Master()
    t = m.register_worker("t", Thread, props={"delay_time": 0.01})
    m.register_worker("k", CtrlC, props={"delay_time": 0.01})
    raises(KeyboardInterrupt, m.run)
    assert m._threads == [] and st(m, t)["status"] == "stopped"
    n = t.n
    port.sleep_ms(50)
    assert t.n == n


async def test_stats_count_workers_and_events():
    class Bad(BaseWorker):
        is_loop = True

        def _execute(self):
            raise ValueError()

    m = Master()
    m.register_worker("c", Counter, props={"delay_time": 0.01})
    m.register_worker("bad", Bad, props={"delay_time": 0, "max_restarts": 1})
    m.subscribe("x", lambda r: None)
    m.publish("x")
    m.publish("y")
    with Quiet():
        await m.start()
        await wait_until(lambda: st(m, m.get_worker("bad"))["status"] == "failed")
        await asyncio.sleep(0.05)
        await m.stop()
    s = m.stats()
    assert s["published"] == 3  # x, y, and the zoo.worker.failed announcement
    assert s["delivered"] == 1 and s["no_subscriber"] == 2
    assert s["workers"]["c"]["runs"] >= 3 and s["workers"]["c"]["errors"] == 0
    assert s["workers"]["bad"] == {
        "status": "failed",
        "runs": 2,
        "errors": 2,
        "restarts": 1,
        "fails": 2,
        "last_error": "ValueError()",
    }
