"""The monitor's picture of the nodes: identity, health per worker, events/s, heap, log lines."""

from __future__ import annotations

import io

from rich.console import Console

from host_tools.monitor import MonitorSink

HEALTH = {
    "node": {
        "name": "n1",
        "mem_free": 40960,
        "mem_alloc": 50000,
        "queue_depth": 2,
        "dropped": 0,
        "loop_lag_ms": 3,
        "uptime_ms": 12000,
    },
    "workers": {
        "sampler": {
            "status": "running",
            "health_score": 100,
            "execute_count": 42,
            "error_count": 0,
            "error_rate": 0.0,
            "avg_execute_time": 0.0015,
            "max_execute_time": 0.004,
            "last_execute_time": 0.001,
            "restarts": 0,
        },
        "uploader": {
            "status": "stuck",
            "health_score": 10,
            "execute_count": 3,
            "error_count": 1,
            "error_rate": 0.3,
            "avg_execute_time": 1.2,
            "max_execute_time": 2.5,
            "last_execute_time": 2.5,
            "restarts": 1,
        },
    },
}


def screen(sink: MonitorSink) -> str:
    out = io.StringIO()
    Console(file=out, width=140, color_system=None).print(sink.render())
    return out.getvalue()


def test_dashboard_shows_identity_health_rates_heap_and_logs():
    m = MonitorSink()
    m.node_up("n1", {"board": "esp32", "version": "0.1.0", "caps": []})
    for i in range(20):
        m.event("n1", "sensor.t", i, "default", 0, i)
    m.event("n1", "zoo.svm.health", HEALTH, "default", 0, 21)
    m.log("n1", "error", "worker uploader: stuck, run exceeded run_timeout 1s")
    m.text("sim0", "hello from print()")
    text = screen(m)
    assert "n1" in text and "esp32" in text and "0.1.0" in text and "online" in text
    assert "40,960 B" in text and "3 ms" in text
    row = next(line for line in text.splitlines() if "sampler" in line)
    assert "running" in row and "42" in row and "1.50" in row
    row = next(line for line in text.splitlines() if "uploader" in line and "stuck" in line)
    assert "10" in row and "2500.00" in row
    assert "n1 error: worker uploader: stuck" in text and "[sim0] hello from print()" in text
    assert m.nodes["n1"].events == 20  # the health report is not counted as traffic


def test_events_per_second_counts_the_recent_window(monkeypatch):
    import host_tools.monitor as mon

    clock = [100.0]
    monkeypatch.setattr(mon.time, "monotonic", lambda: clock[0])
    m = MonitorSink()
    for _ in range(10):
        m.event("n1", "t", None, "default", 0, 0)
        clock[0] += 0.1
    assert abs(m.nodes["n1"].events_per_second(clock[0]) - 10.0) < 0.5
    clock[0] += 10  # quiet for longer than the window
    assert m.nodes["n1"].events_per_second(clock[0]) == 0.0


def test_node_down_shows_offline():
    m = MonitorSink()
    m.node_up("n2", {"board": "pico"})
    m.node_down("n2")
    assert "offline" in screen(m)
