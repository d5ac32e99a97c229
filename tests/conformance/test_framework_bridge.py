"""The bridge into zoo-framework reads like zoo-framework code: reactors get a node's content
unchanged as `req.content` with `req.node` and `req.seq` beside it, an app with its own workers and
Master runs with the bridge joining it (as a library and with `--app`), and events no reactor
listens to are kept, newest per node and topic, in a bounded store the app reads.

zoo-framework keeps process-wide registries and reads ./config.json at first import, so each case
runs in a Python process of its own, in a folder holding zoo-framework's config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from host_tools.interpreter import PROJECT_ROOT

CONFIG = {
    "event": {"delay": 0, "dispatchBatchingEnabled": True, "batchMaxSize": 100000},
    "log": {"level": "warning"},
    "stateMachine": {"picklePath": "./zooStates.pic"},
}

# A Source standing in for a serial port or a broker: it feeds EVENTS to its sinks the way the
# bridge does (on its own thread, offering an event again while a sink says "no room") and keeps
# what the sinks send down.
FAKE_SOURCE = """
import threading, time
from host_tools.link.flow import Source

class FakeSource(Source):
    def __init__(self, sinks, events):
        self.sinks = sinks
        self.events = events
        self.sent = []
        self._stop = threading.Event()

    def start(self):
        for s in self.sinks:
            s.attach(self)
        threading.Thread(target=self._feed, daemon=True).start()
        return self

    def _feed(self):
        for ev in self.events:
            for s in self.sinks:
                while s.event(*ev) is False:
                    time.sleep(0.01)

    def stop(self, timeout=2.0):
        self._stop.set()

    def send(self, topic, content=None, node=None, channel="default", priority=0):
        self.sent.append([topic, content, node])

    def stats(self):
        return {"sent": len(self.sent)}
"""


def run_script(tmp: Path, body: str, files: dict[str, str] | None = None, timeout: float = 60) -> dict:
    """Run `body` (after FAKE_SOURCE) in a fresh process in `tmp`; it prints one JSON line last."""
    (tmp / "config.json").write_text(json.dumps(CONFIG))
    for name, text in (files or {}).items():
        (tmp / name).write_text(textwrap.dedent(text))
    (tmp / "case.py").write_text(FAKE_SOURCE + textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "case.py"], cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_reactors_get_the_nodes_content_with_the_node_and_seq_on_the_request(tmp_path: Path) -> None:
    r = run_script(
        tmp_path,
        """
        import json
        from zoo_framework.core import Master
        from zoo_framework.core.aop import event
        from zoo_framework.event.event_channel_manager import EventChannelManager
        from zoo_framework.fifo.node import EventNode
        from zoo_framework.reactor.event_retry_strategy import EventRetryStrategy
        from zoo_framework.workers import BaseWorker
        from host_tools.sinks.framework_sink import FrameworkSink, run_app

        seen, calls = [], []

        @event("sensor.temp")
        def on_temp(req):
            seen.append([req.topic, req.content, req.node, req.seq, req.channel, req.reactor_name])

        @event("sensor.alarm", channel="alarms", retry_strategy=EventRetryStrategy.RetryTimes, retry_time=2,
               error_callback=lambda name, topic, content, e: calls.append(["error", content]),
               done_callback=lambda name, topic, content: calls.append(["done", content]))
        def on_alarm(req):
            seen.append([req.topic, req.content, req.node, req.seq, req.channel, req.reactor_name])
            raise RuntimeError("no siren")

        class Local(BaseWorker):  # the app's own event, on a topic node events also use
            def __init__(self):
                super().__init__({"name": "Local"})
            def _execute(self):
                EventChannelManager.get_channel("default").push_event(EventNode("sensor.temp", 99))

        class Stop(BaseWorker):
            def __init__(self):
                super().__init__({"is_loop": True, "delay_time": 0.05, "name": "Stop"})
            def _execute(self):
                if len(seen) >= 7 and len(calls) >= 3:
                    master.shutdown()

        master = Master()
        master.register_worker("Local", Local)
        master.register_worker("Stop", Stop)
        sink = FrameworkSink(master, down=["led.set"])
        source = FakeSource([sink], [
            ("n1", "sensor.temp", 21.5, "default", 0, 7),
            ("n1", "sensor.temp", {"c": 22, "unit": "C"}, "default", 0, 8),
            ("n2", "sensor.temp", [1, 2], "default", 0, 1),
            ("n2", "sensor.temp", None, "default", 0, 2),
            ("n1", "sensor.alarm", "hot", "alarms", 3, 9),
        ])
        run_app(master, source, seconds=20)
        print(json.dumps({"seen": seen, "calls": calls, "received": sink.received}))
        """,
    )
    temps = [s for s in r["seen"] if s[0] == "sensor.temp"]
    assert sorted(temps, key=str) == sorted(
        [
            ["sensor.temp", 21.5, "n1", 7, "default", "on_temp"],
            ["sensor.temp", {"c": 22, "unit": "C"}, "n1", 8, "default", "on_temp"],
            ["sensor.temp", [1, 2], "n2", 1, "default", "on_temp"],
            ["sensor.temp", None, "n2", 2, "default", "on_temp"],
            ["sensor.temp", 99, None, None, "default", "on_temp"],  # the app's own: no node, no seq
        ],
        key=str,
    )
    # Retries and callbacks see the node's content too, and the request keeps the node's channel.
    alarms = [s for s in r["seen"] if s[0] == "sensor.alarm"]
    assert alarms == [["sensor.alarm", "hot", "n1", 9, "alarms", "on_alarm"]] * 2
    assert r["calls"] == [["error", "hot"], ["error", "hot"], ["done", "hot"]]
    assert r["received"] == 5


def test_app_events_on_down_topics_go_to_nodes_and_node_events_are_not_echoed(tmp_path: Path) -> None:
    r = run_script(
        tmp_path,
        """
        import json
        from zoo_framework.core import Master
        from zoo_framework.event.event_channel_manager import EventChannelManager
        from zoo_framework.fifo.node import EventNode
        from zoo_framework.workers import BaseWorker
        from host_tools.sinks.framework_sink import FrameworkSink, run_app

        class Led(BaseWorker):
            def __init__(self):
                super().__init__({"is_loop": True, "delay_time": 0.05, "name": "Led"})
                self.n = 0
            def _execute(self):
                self.n += 1
                ch = EventChannelManager.get_channel("default")
                if self.n == 1:
                    ch.push_event(EventNode("led.set", 1))
                    ch.push_event(EventNode("led.set", {"node": "n2", "content": 0}))
                if len(source.sent) >= 2 and self.n > 3:
                    master.shutdown()

        master = Master()
        master.register_worker("Led", Led)
        sink = FrameworkSink(master, down=["led.set"])
        source = FakeSource([sink], [("n1", "led.set", 5, "default", 0, 1)])  # a node's own led.set
        run_app(master, source, seconds=20)
        print(json.dumps({"sent": source.sent, "unheard": sink.unheard}))
        """,
    )
    assert sorted(r["sent"], key=str) == sorted([["led.set", 1, None], ["led.set", 0, "n2"]], key=str)
    assert r["unheard"] == 1  # only the bridge's forwarder listens to led.set: the node's event is kept


def test_unheard_events_keep_the_newest_per_node_and_topic_in_a_bounded_store(tmp_path: Path) -> None:
    r = run_script(
        tmp_path,
        """
        import json
        from host_tools.sinks.framework_sink import FrameworkSink
        from host_tools.errors import UserError

        sink = FrameworkSink(keep=3)
        acks = [sink.event(*ev) for ev in [
            ("n1", "door", "open", "default", 0, 1),
            ("n1", "door", "shut", "default", 0, 2),   # replaces n1's door
            ("n2", "door", "open", "default", 0, 1),
            ("n1", "light", 300, "default", 0, 3),
            ("n1", "rain", True, "default", 0, 4),     # a fourth pair: n1's door goes
            ("n2", "door", "shut", "default", 0, 2),   # updates n2's door, now the newest
            ("n3", "wind", 5, "default", 0, 1),        # n1's light goes
        ]]
        errors = []
        for bad in ({"keep": -1}, {"down": "led.set"}, {"master": object()}):
            try:
                FrameworkSink(**bad)
            except UserError as e:
                errors.append(str(e))
        print(json.dumps({
            "acks": acks,
            "unheard": sink.unheard,
            "kept": [[e["node"], e["topic"], e["content"], e["seq"]] for e in sink.unheard_events()],
            "latest_door": sink.latest("door"),
            "latest_n1_door": sink.latest("door", node="n1"),
            "n2": [e["topic"] for e in sink.unheard_events(node="n2")],
            "nothing_kept": FrameworkSink(keep=0).event("n1", "x", 1, "default", 0, 1),
            "errors": errors,
        }))
        """,
    )
    assert r["acks"] == [True] * 7  # acknowledged to the node: kept here, not refused
    assert r["unheard"] == 7
    assert r["kept"] == [["n1", "rain", True, 4], ["n2", "door", "shut", 2], ["n3", "wind", 5, 1]]
    door = {"node": "n2", "topic": "door", "content": "shut", "seq": 2, "channel": "default"}
    assert r["latest_door"] == door
    assert r["latest_n1_door"] is None  # pushed out by newer pairs
    assert r["n2"] == ["door"]
    assert r["nothing_kept"] is True
    assert len(r["errors"]) == 3
    assert "keep must be 0 or more" in r["errors"][0]
    assert "list of topics" in r["errors"][1]
    assert "TwinSink" in r["errors"][2]


APP_WITH_MASTER = """
    # A zoo-framework app with its own worker and Master; run by itself it would start its own bridge.
    import json
    from pathlib import Path
    from zoo_framework.core import Master
    from zoo_framework.core.aop import event
    from zoo_framework.workers import BaseWorker

    class Beat(BaseWorker):
        def __init__(self):
            super().__init__({"is_loop": True, "delay_time": 0.1, "name": "Beat"})
            self.n = 0
        def _execute(self):
            self.n += 1
            Path("beats.txt").write_text(str(self.n))

    @event("zoo.hello")
    def on_hello(req):
        pass

    master = Master()
    master.register_worker("Beat", Beat)

    if __name__ == "__main__":
        raise SystemExit("started as a script: the bridge must import the app instead")
"""


def test_launch_with_app_runs_the_apps_own_master_and_workers(tmp_path: Path) -> None:
    r = run_script(
        tmp_path,
        """
        import json, sys
        from pathlib import Path
        from host_tools.bridge import launch as launch_module
        from host_tools.sinks import framework_sink

        joined = []
        real_sink = framework_sink.FrameworkSink
        class Recording(real_sink):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                joined.append(self)
        framework_sink.FrameworkSink = Recording

        stats = launch_module.launch("loop://", sink="framework", seconds=2.5, app="app.py", down=["led.set"])
        app = sys.modules["app"]
        print(json.dumps({
            "beats": int(Path("beats.txt").read_text()),
            "joined_the_apps_master": len(joined) == 1 and joined[0].master is app.master,
            "down": joined[0].down,
            "stats_is_dict": isinstance(stats, dict),
        }))
        """,
        files={"app.py": APP_WITH_MASTER},
    )
    assert r["beats"] >= 2  # the app's own worker ran under the bridge
    assert r["joined_the_apps_master"] and r["down"] == ["led.set"]
    assert r["stats_is_dict"]


def test_launch_refuses_two_masters_and_down_topics_beside_the_apps_own_sink(tmp_path: Path) -> None:
    r = run_script(
        tmp_path,
        """
        import json
        from host_tools.bridge.launch import launch
        from host_tools.errors import UserError
        errors = []
        for app, down in (("two.py", None), ("own_sink.py", ["led.set"])):
            try:
                launch("loop://", sink="framework", seconds=1, app=app, down=down)
                errors.append(None)
            except UserError as e:
                errors.append(str(e))
        print(json.dumps({"errors": errors}))
        """,
        files={
            "two.py": "from zoo_framework.core import Master\n\nfirst = Master()\nsecond = Master()\n",
            "own_sink.py": (
                "from zoo_framework.core import Master\n"
                "from host_tools.sinks.framework_sink import FrameworkSink\n\n"
                "master = Master()\nsink = FrameworkSink(master, down=['fan.set'])\n"
            ),
        },
    )
    two, own = r["errors"]
    assert two is not None and "2 zoo-framework Masters" in two
    assert own is not None and "list the down topics there" in own


def test_the_worked_example_in_the_docs_runs_under_the_bridge(tmp_path: Path) -> None:
    doc = (PROJECT_ROOT / "docs" / "framework-bridge.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```python\n")[1:]]
    example = next(b for b in blocks if "class Report" in b)
    r = run_script(
        tmp_path,
        """
        import contextlib, io, json, sys
        from host_tools.bridge.launch import launch

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            launch("loop://", sink="framework", seconds=2.5, app="greenhouse.py")
        app = sys.modules["greenhouse"]
        print(json.dumps({
            "printed": out.getvalue().splitlines(),
            "fed_the_apps_sink": app.sink.source is not None and app.sink.master is app.master,
            "down": app.sink.down,
        }))
        """,
        files={"greenhouse.py": example},
    )
    assert "report: door unknown" in r["printed"]  # the app's own worker ran under the bridge
    assert r["fed_the_apps_sink"] and r["down"] == ["fan.set"]
