"""zoo-micro run and monitor against a virtual board: deploy, reset, then the node's live view
through the bridge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

APP = """
from zoo_micro import BaseWorker, Master


class Beat(BaseWorker):
    def _execute(self):
        return 1


master = Master({"name": "beater", "svm_check_interval": 0.5, "state_path": None,
                 "bridge": {"stream": "stdio", "up": ["beat_result"]}})
master.register_worker("beat", Beat, props={"delay_time": 0.1})
print("beater up")
master.run()
"""


def zoo_micro(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "host_tools.cli.main", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("form", [["--py"], []], ids=["py", "mpy"])
def test_run_deploys_then_shows_the_node_live(zoo_board, tmp_path: Path, form: list[str]):
    app = tmp_path / "beater"
    app.mkdir()
    (app / "main.py").write_text(APP)
    board = zoo_board(None, board="pico", link=str(tmp_path / "board"))
    # .mpy by default; with --py the board compiles zoo_micro and its link itself, within the Pico's heap.
    r = zoo_micro("run", str(app), "--port", board.port, *form, "--seconds", "6", "--once")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "copied" in out  # the deploy summary
    assert "beater" in out and "online" in out  # the node said hello through the bridge
    row = next(line for line in out.splitlines() if line.lstrip("│┃ ").startswith("beat "))
    assert "running" in row  # its worker's health arrived
    r = zoo_micro("monitor", "--port", board.port, "--seconds", "3", "--once")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "beater" in r.stdout and "running" in r.stdout


def test_monitor_on_a_missing_port_is_one_line():
    r = zoo_micro("monitor", "--port", "/dev/no-such-port", "--seconds", "1", "--once")
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no such port /dev/no-such-port" in r.stderr
