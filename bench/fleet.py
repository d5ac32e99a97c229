"""Fleet benchmark: virtual nodes (MicroPython unix port + MqttPlugin) -> Mosquitto -> MqttSource ->
FrameworkSink -> a zoo-framework reactor. One JSON line per figure: events per second delivered into
the framework and end-to-end latency (node's publish call to the reactor, p50/p99), for a few fleet
sizes and both link runners, beside the baseline of paho publishing QoS 1 to paho on the same broker.

usage: python bench/fleet.py [--quick]      (needs mosquitto: apt-get install -y mosquitto)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "host")]

import paho.mqtt.client as mqtt  # noqa: E402
from mqtt_apps.broker import Mosquitto, micropython_node, python_app  # noqa: E402

from host_tools.fleet import Fleet  # noqa: E402

# (nodes, events per second per node, runner)
SCENARIOS = [
    (1, 200, "thread"),
    (1, 200, "loop"),
    (5, 100, "thread"),
    (20, 25, "thread"),
    (20, 25, "loop"),
    (20, 100, "thread"),
]
SECONDS = 4.0


def emit(figure: str, value: float, unit: str, **extra: object) -> None:
    row = {"bench": "fleet", "figure": figure, "value": value, "unit": unit}
    row.update(extra)
    print(json.dumps(row), flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def baseline(broker: Mosquitto, n: int = 2000, rate: float = 1000) -> None:
    """paho QoS 1 publisher -> paho subscriber on the same broker: the floor under every figure."""
    lat: list[float] = []
    done = threading.Event()

    def on_message(c, u, msg):
        lat.append(time.time_ns() // 1000 - int(msg.payload))
        if len(lat) >= n:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("bench/x", 1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    time.sleep(0.3)
    t0 = time.monotonic()
    for i in range(n):
        pub.publish("bench/x", str(time.time_ns() // 1000), qos=1)
        time.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
    done.wait(20)
    pub.loop_stop()
    sub.loop_stop()
    emit("baseline_paho_latency_p50", round(pct(lat, 50) / 1000, 3), "ms", rate=rate)
    emit("baseline_paho_latency_p99", round(pct(lat, 99) / 1000, 3), "ms", rate=rate)


def scenario(work: Path, nodes: int, rate: int, runner: str, seconds: float) -> None:
    count = int(rate * seconds)
    broker = Mosquitto(work / "broker").start()
    out = work / "received.jsonl"
    (work / "host").mkdir()
    host = python_app("framework_app.py", [broker.url, str(out)], cwd=work / "host")
    procs = [host]
    try:
        assert host.stdout.readline().strip() == "host ready"
        with Fleet(broker.url) as fleet:
            names = [f"b{i:02d}" for i in range(nodes)]
            for name in names:
                procs.append(
                    micropython_node([name, str(broker.port), str(count), str(rate), runner], cwd=work)
                )
            deadline = time.monotonic() + seconds * 4 + 30
            total = nodes * count
            records: list[dict] = []
            while time.monotonic() < deadline:
                records = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
                if sum("i" in r for r in records) >= total:
                    break
                time.sleep(0.1)
            ticks = [r for r in records if "i" in r]
            lags = [(v.vitals.get("loop_lag_ms") or 0) for v in fleet.nodes() if v.health]
        lat = [r["lat_us"] / 1000 for r in ticks]
        src = [r["src_lat_us"] / 1000 for r in records if "src_lat_us" in r]
        sent = [r["at_us"] - r["lat_us"] for r in ticks]
        span = (max(r["at_us"] for r in ticks) - min(sent)) / 1e6 if ticks else float("nan")
        tag = {
            "nodes": nodes,
            "rate_per_node": rate,
            "runner": runner,
            "events": len(ticks),
            "expected": total,
        }
        # From the first publish to the last reactor call: what the whole chain sustained.
        emit("delivered_events_per_s", round(len(ticks) / span, 1), "events/s", offered=nodes * rate, **tag)
        emit("latency_p50", round(statistics.median(lat), 3), "ms", to="framework reactor", **tag)
        emit("latency_p99", round(pct(lat, 99), 3), "ms", to="framework reactor", **tag)
        emit("mqtt_latency_p50", round(statistics.median(src), 3), "ms", to="source", **tag)
        emit("mqtt_latency_p99", round(pct(src, 99), 3), "ms", to="source", **tag)
        emit("node_loop_lag_max", max(lags) if lags else None, "ms", **tag)
    finally:
        for p in procs[1:]:
            if p.poll() is None:
                p.kill()
                p.wait()
        host.terminate()
        host.wait(10)
        broker.stop()


def main() -> None:
    quick = "--quick" in sys.argv
    seconds = 2.0 if quick else SECONDS
    with tempfile.TemporaryDirectory(prefix="zoo-bench-fleet-") as tmp:
        b = Mosquitto(Path(tmp) / "base").start()
        try:
            baseline(b)
        finally:
            b.stop()
        for i, (nodes, rate, runner) in enumerate(SCENARIOS[:3] if quick else SCENARIOS):
            work = Path(tmp) / f"s{i}"
            work.mkdir()
            scenario(work, nodes, rate, runner, seconds)


if __name__ == "__main__":
    main()
