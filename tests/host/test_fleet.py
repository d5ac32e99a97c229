"""Twenty virtual nodes (MicroPython unix port + MqttPlugin) publish through Mosquitto into a
zoo-framework app; the broker restarts mid-run and a node dies without a goodbye. And the fleet's
table on an 80-column terminal."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from mqtt_apps.broker import Mosquitto, micropython_node, python_app
from rich.console import Console

from host_tools.fleet import Fleet, table
from host_tools.node_view import NodeView

NODES = 20
COUNT = 60  # events per node
RATE = 15  # events per second per node


def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def command(url_port: int, node: str, topic: str, content) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", url_port)
    c.loop_start()
    c.publish(f"zoo/{node}/cmd/{topic}", json.dumps(content), qos=1).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_fleet_survives_broker_restart_without_loss_or_duplicates_and_last_will_marks_a_killed_node(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    out = tmp_path / "received.jsonl"
    (tmp_path / "host").mkdir()
    host = python_app("framework_app.py", [broker.url, str(out)], cwd=tmp_path / "host")
    procs: list[subprocess.Popen] = [host]
    names = [f"n{i:02d}" for i in range(NODES)]
    fleet = Fleet(broker.url)
    try:
        assert host.stdout.readline().strip() == "host ready"
        fleet.start()
        for name in names:
            procs.append(micropython_node([name, str(broker.port), str(COUNT), str(RATE)], cwd=tmp_path))
        nodes = dict(zip(names, procs[1:], strict=True))
        assert fleet.wait(lambda f: sum(bool(v.online) for v in f.nodes()) == NODES, 30), (
            "nodes never came online"
        )

        # Restart the broker while the events are flowing.
        wait_for(lambda: len(read_records(out)) >= NODES * COUNT // 4, 30, "a quarter of the events")
        broker.restart(down=0.5)
        assert len(read_records(out)) < NODES * COUNT, "the restart came after the run: it proved nothing"
        fleet.stop()
        fleet = Fleet(broker.url).start()

        wait_for(lambda: sum("i" in r for r in read_records(out)) >= NODES * COUNT, 60, "every event")
        time.sleep(0.5)  # room for a duplicate to show up, if the dedupe let one through
        records = read_records(out)
        ticks = [r for r in records if "i" in r]
        for name in names:
            mine = sorted(r["i"] for r in ticks if r["node"] == name)
            assert mine == list(range(1, COUNT + 1)), f"{name}: lost or repeated events: {mine}"
        pongs = {r["node"] for r in records if "pong" in r}
        assert pongs == set(names), f"commands down to the nodes did not all come back: {sorted(pongs)}"
        healthy = {r["node"] for r in records if "health" in r and "mqtt" in r["plugins"]}
        assert healthy == set(names), f"health reports did not reach the framework: {sorted(healthy)}"

        # Every node saw the broker go away and reconnected; nothing was dropped from an outbox.
        def settled(f: Fleet) -> bool:
            views = [f.node(n) for n in names]
            return all(
                v is not None and v.mqtt.get("outages", 0) >= 1 and v.mqtt.get("outbox") == 0 for v in views
            )

        assert fleet.wait(settled, 20), [v.as_dict() for v in fleet.nodes()]
        assert all(fleet.node(n).mqtt["dropped"] == 0 for n in names)

        # A node killed without a goodbye shows offline through its last will.
        victim = names[3]
        nodes[victim].send_signal(signal.SIGKILL)
        nodes[victim].wait(5)
        assert fleet.wait(lambda f: f.node(victim).online is False, 20), "the last will never came"
        assert all(fleet.node(n).online for n in names if n != victim)

        # A clean stop says offline itself and exits 0.
        for name in names:
            if name != victim:
                command(broker.port, name, "fleet.stop", None)
        for name in names:
            if name != victim:
                assert nodes[name].wait(20) == 0, nodes[name].stdout.read()
        assert fleet.wait(lambda f: not any(v.online for v in f.nodes()), 10)
        host.terminate()
        stats = [
            line for line in host.communicate(timeout=10)[0].splitlines() if line.startswith("host stats")
        ]
        print(stats)
    finally:
        fleet.stop()
        if host.poll() is None:
            host.terminate()
            try:
                host.wait(10)
            except subprocess.TimeoutExpired:
                pass
        stop_all(procs)
        broker.stop()


def test_the_fleet_table_fits_80_columns_and_never_cuts_a_node_name():
    now = time.monotonic()
    health = {
        "node": {"mem_free": 40960, "mem_alloc": 123456, "uptime_ms": 10000},
        "workers": {"w": {"status": "unhealthy", "health_score": 45}},
        "plugins": {"mqtt": {"seq": 50, "outbox": 12, "outbox_max": 64, "dropped": 12345, "outages": 3}},
    }
    names = ["zoo_micro_node_12", "greenhouse-east-07", "n1", "greenhouse-east-sensor-node-7"]
    views = []
    for i, name in enumerate(names):
        v = NodeView(name, online=i % 2 == 0, info={"board": "Raspberry Pi Pico W", "via": "bridge-lab-3"})
        v.last_seen = now - 754
        v.heard_health(health)
        views.append(v)
    console = Console(width=80, record=True)
    console.print(table(views, "zoo fleet on mqtt://127.0.0.1:1883", now=now))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "\u2026" not in text  # nothing cut with an ellipsis
    for word in ("node", "state", "health", "ev/s", "heap", "outbox", "dropped", "outages"):
        assert word in text
    firsts = [line.split()[0] for line in lines if line[:1].strip()]
    for name in names[:3]:
        assert name in firsts  # whole, at the start of its row
    # A name longer than the node column folds onto the next line, every character kept.
    i = next(i for i, line in enumerate(lines) if line.startswith("greenhouse-east-sen"))
    assert (lines[i].split()[0] + lines[i + 1].split()[0]) == names[3]
    row = next(line for line in lines if line.startswith("zoo_micro_node_12"))
    assert all(w in row for w in ("online", "unhealthy", "5.0", "40.0K", "12/64", " 3"))
    assert "Raspberry Pi Pico W" in text and "bridge-lab-3" in text and "13m ago" in text
