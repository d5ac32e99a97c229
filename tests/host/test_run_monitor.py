"""zoo-micro run and monitor against a virtual board: deploy, reset, then the node's live view
through the bridge."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools import monitor

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
    r = zoo_micro("run", str(app), "--port", board.port, *form, "--once")  # ends once the health is in
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "copied" in out  # the deploy summary
    assert "beater" in out and "online" in out  # the node said hello through the bridge
    row = next(line for line in out.splitlines() if line.lstrip("│┃ ").startswith("beat "))
    assert "running" in row  # its worker's health arrived
    r = zoo_micro("monitor", "--port", board.port, "--once")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "beater" in r.stdout and "running" in r.stdout


def test_monitor_on_a_missing_port_is_one_line():
    r = zoo_micro("monitor", "--port", "/dev/no-such-port", "--seconds", "1", "--once")
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no such port /dev/no-such-port" in r.stderr


PLAIN_APP = """
import time

n = 0
while True:
    n += 1
    print("tick", n)
    time.sleep(0.2)
"""


def test_monitor_once_stops_by_itself_when_the_health_is_in_and_answers_in_json(zoo_board, tmp_path: Path):
    app = tmp_path / "beater"
    app.mkdir()
    (app / "main.py").write_text(APP)
    board = zoo_board(app, board="pico", link=str(tmp_path / "board"))
    board.wait_for_event("beater up")
    r = zoo_micro("monitor", "--port", board.port, "--json", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    snap = json.loads(r.stdout)
    assert snap["bridge"] is True and snap["seconds"] < monitor.ONCE_WAIT
    (node,) = snap["nodes"]
    assert node["node"] == "beater" and node["online"] is True
    assert node["workers"]["beat"]["status"] == "running"


def ticker_board(zoo_board, tmp_path: Path, start_app: bool):
    app = tmp_path / "ticker"
    app.mkdir()
    (app / "main.py").write_text(PLAIN_APP)
    return app, zoo_board(app if start_app else None, board="pico", link=str(tmp_path / "board"))


def test_run_of_an_app_without_the_bridge_shows_its_output_and_says_health_needs_the_bridge(
    zoo_board, tmp_path: Path
):
    app, board = ticker_board(zoo_board, tmp_path, start_app=False)
    r = zoo_micro("run", str(app), "--port", board.port, "--seconds", str(monitor.NO_BRIDGE_AFTER + 0.5))
    assert r.returncode == 0, r.stdout + r.stderr
    ticks = [line for line in r.stdout.splitlines() if line.startswith("tick ")]
    assert len(ticks) >= 5, r.stdout  # streamed as they came, not only the last few
    assert r.stderr.count("health needs it") == 1, r.stderr
    assert "waiting for a node" not in r.stdout


def test_monitor_once_of_an_app_without_the_bridge_ends_by_itself_with_its_output(zoo_board, tmp_path: Path):
    _, board = ticker_board(zoo_board, tmp_path, start_app=True)
    once = zoo_micro("monitor", "--port", board.port, "--once", timeout=60)  # no --seconds: it ends
    assert once.returncode == 0, once.stderr
    assert "plain output only" in once.stdout and "tick " in once.stdout


def test_monitor_on_a_silent_port_says_what_it_waits_for_and_ctrl_c_sums_up(tmp_path: Path):
    controller, device = os.openpty()  # a port with nothing behind it
    try:
        port = os.ttyname(device)
        proc = subprocess.Popen(
            [sys.executable, "-m", "host_tools.cli.main", "monitor", "--port", port],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        first = proc.stderr.readline()
        assert first.startswith(f"zoo-micro monitor: waiting for {port}: nothing heard yet"), first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(controller)
        os.close(device)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    summary = rf"zoo-micro monitor: stopped after \d+ s on {re.escape(port)}: "
    assert re.fullmatch(summary + r"0 node\(s\), 0 events, 0 lines of output", err.strip()), err
