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
    assert "10" in row and "2500" in row
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


def test_tables_fit_80_columns_without_cutting_or_wrapping(tmp_path):
    m = MonitorSink()
    m.node_up("greenhouse-north", {"board": "Raspberry Pi Pico W", "version": "0.1.0"})
    health = {
        "node": {"mem_free": 123456, "queue_depth": 12, "loop_lag_ms": 123},
        "workers": {
            "moisture_sampler": {
                "status": "unhealthy",
                "health_score": 100,
                "execute_count": 123456,
                "error_count": 12345,
                "restarts": 123,
                "avg_execute_time": 1.5,
                "max_execute_time": 12.5,
            },  # fmt: skip
        },
    }
    m.event("greenhouse-north", "zoo.svm.health", health, "default", 0, 1)
    m.node_up("n2", {"board": "esp32"})
    m.node_down("n2")
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(m.render())
    text = out.getvalue()
    assert "…" not in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("node"))
    assert header.split() == ["node", "link", "ev/s", "events", "heap", "free", "queue", "lag"]
    row = next(line for line in lines if line.startswith("greenhouse-north"))
    assert row.split() == ["greenhouse-north", "online", "0.0", "0", "123,456", "B", "12", "123", "ms"]
    assert any(
        line.strip() == "greenhouse-north: workers (Raspberry Pi Pico W, zoo_micro 0.1.0)" for line in lines
    )
    header = next(line for line in lines if line.startswith("worker"))
    assert header.split() == [
        "worker",
        "status",
        "score",
        "runs",
        "errors",
        "restarts",
        "avg",
        "ms",
        "max",
        "ms",
    ]
    row = next(line for line in lines if line.startswith("moisture_sampler"))
    assert row.split() == ["moisture_sampler", "unhealthy", "100", "123456", "12345", "123", "1500", "12500"]
    assert next(line for line in lines if line.startswith("n2 ")).split()[1] == "offline"


def test_a_node_without_the_bridge_shows_its_output_and_says_health_needs_the_bridge():
    m = MonitorSink()
    m.text("/dev/ttyACM0", "beat 1")
    m.no_bridge = True  # what show() decides after NO_BRIDGE_AFTER seconds of text without a frame
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(m.render())
    text = out.getvalue()
    assert "waiting for a node" not in text
    assert "health needs it" in text and "[/dev/ttyACM0] beat 1" in text and "recent output" in text
