"""deploy, run and watch take over a board whatever its app does: one that runs the bridge (Ctrl-C off,
the link pinging), one that ignores Ctrl-C for good (they give up in one line, on time), one that
holds nearly all the heap (a dry run still works); and Ctrl-C during a deploy leaves the board running
the app it had."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from host_tools.deploy import STAGE, deploy
from host_tools.errors import UserError
from host_tools.watch import watch

ZOO = [sys.executable, "-m", "host_tools.cli.main"]

BRIDGE_APP = """
from zoo_micro import BaseWorker, Master


class Beat(BaseWorker):
    delay_time = 0.1

    def _execute(self):
        return 1


master = Master({"name": "pinger", "bridge": {"stream": "stdio", "heartbeat": 0.2}})
master.register_worker("beat", Beat)
master.run()
"""


def make_app(folder: Path, main: str, extra: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(main))
    for name, text in (extra or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def bridged_pico(zoo_board, tmp_path: Path):
    """A virtual Pico whose app runs the bridge: Ctrl-C is off and frames keep coming."""
    board = zoo_board(make_app(tmp_path / "bridged", BRIDGE_APP), board="pico", link=tmp_path / "port")
    board.wait_for_output('["pinger", "rp2"')  # its link says hello, again and again
    return board


def zoo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(ZOO + list(args), capture_output=True, text=True, timeout=timeout)


def test_deploy_takes_over_a_board_running_the_bridge(zoo_board, tmp_path):
    board = bridged_pico(zoo_board, tmp_path)
    other = make_app(tmp_path / "other", "print('other app runs')\n")
    proc = zoo("deploy", str(other), "--port", board.port, "--timeout", "10")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert board.wait_for_event("other app runs") == "other app runs"


def test_deploy_sends_ctrl_c_until_the_app_stops(zoo_board, tmp_path):
    restarting = """
    import time
    for attempt in range(3):  # a supervisor loop: an interrupt restarts the work, three times
        try:
            while True:
                print("working")
                time.sleep(0.02)
        except KeyboardInterrupt:
            print("restarting")
    """
    board = zoo_board(make_app(tmp_path / "looper", restarting), link=tmp_path / "port")
    board.wait_for_event("working")
    other = make_app(tmp_path / "other", "print('other app runs')\n")
    proc = zoo("deploy", str(other), "--port", board.port, "--timeout", "10")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert board.output.count("restarting") == 3  # one Ctrl-C would have left it working, and talking
    assert board.wait_for_event("other app runs") == "other app runs"


def test_run_takes_over_a_board_running_the_bridge(zoo_board, tmp_path):
    board = bridged_pico(zoo_board, tmp_path)
    other = make_app(tmp_path / "other", "print('run took it')\n")
    proc = subprocess.Popen(ZOO + ["run", str(other), "--port", board.port, "--timeout", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert board.wait_for_event("run took it", timeout=30) == "run took it"
    finally:
        proc.send_signal(signal.SIGINT)  # run goes on showing the node: stop it as a person would
        out, err = proc.communicate(timeout=20)
    assert "does not answer" not in err and "kept running" not in err


def test_watch_takes_over_a_board_running_the_bridge(zoo_board, tmp_path):
    board = bridged_pico(zoo_board, tmp_path)
    other = make_app(tmp_path / "other", "print('watched app runs')\n")
    stop = threading.Event()
    synced = []
    errors = []

    def synced_once(result):
        synced.append(result)
        stop.set()

    t = threading.Thread(target=lambda: watch(other, board.port, stop=stop, on_sync=synced_once,
                                              on_error=errors.append, timeout=10))  # fmt: skip
    t.start()
    t.join(40)
    stop.set()
    assert not t.is_alive() and synced and not errors
    assert board.wait_for_event("watched app runs") == "watched app runs"


def test_an_app_that_ignores_ctrl_c_makes_deploy_give_up_in_one_line(zoo_board, tmp_path):
    stubborn = """
    import micropython, time
    micropython.kbd_intr(-1)
    while True:
        print("still here")  # it talks all the time, so no wait for silence ever ends
        time.sleep(0.01)
    """
    board = zoo_board(make_app(tmp_path / "stubborn", stubborn), link=tmp_path / "port")
    board.wait_for_event("still here")
    other = make_app(tmp_path / "other", "print('other')\n")
    proc = zoo(
        "deploy", str(other), "--port", board.port, "--timeout", "2"
    )  # a hang fails on zoo's own timeout
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        f"zoo-micro deploy: the app on {board.port} kept running through Ctrl-C for 2s"
    )
    assert "other" not in (board.flash / "main.py").read_text()


def test_watch_gives_up_on_an_app_that_ignores_ctrl_c(zoo_board, tmp_path):
    stubborn = """
    import micropython, time
    micropython.kbd_intr(-1)
    while True:
        print("still here")
        time.sleep(0.01)
    """
    board = zoo_board(make_app(tmp_path / "stubborn", stubborn), link=tmp_path / "port")
    board.wait_for_event("still here")
    other = make_app(tmp_path / "other", "print('other')\n")
    errors = []
    with pytest.raises(UserError, match="kept running through Ctrl-C for 1s"):
        watch(other, board.port, on_error=errors.append, timeout=1)
    assert errors == []  # not a passing error of the app: watching ends


def test_dry_run_against_an_app_that_holds_the_heap(zoo_board, tmp_path):
    hog = """
    import gc, time
    hog = []
    gc.collect()
    while gc.mem_free() > 3000:
        hog.append(bytearray(512))
    while True:
        print("holding", gc.mem_free())
        time.sleep(0.1)
    """
    app = make_app(tmp_path / "hog", hog)
    board = zoo_board(None, link=tmp_path / "port")  # the default board, its default heap
    deploy(app, board.port)
    board.wait_for_event("holding")
    (app / "new.py").write_text("X = 1\n")
    proc = zoo("deploy", str(app), "--port", board.port, "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "new.mpy" in proc.stdout and "MemoryError" not in proc.stdout + proc.stderr
    assert not (board.flash / "new.mpy").exists()
    board.read_output()
    board.wait_for_event("holding")  # the app runs again


def test_ctrl_c_during_deploy_leaves_the_previous_app_running(zoo_board, tmp_path):
    board = zoo_board(None, install_lib=False, link=tmp_path / "port")
    app = make_app(tmp_path / "blink", "print('app v1')\n")
    deploy(app, board.port)
    board.wait_for_event("app v1")
    big = {f"assets/blob{i}.py": "DATA = %r\n" % ("x" * 30000) for i in range(4)}
    make_app(app, "print('app v2')\n", big)
    proc = subprocess.Popen(ZOO + ["deploy", str(app), "--port", board.port], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    stage = board.flash / STAGE.lstrip("/")
    deadline = time.monotonic() + 30
    while not any(stage.rglob("blob*")) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert any(stage.rglob("blob*")), "the deploy never started copying"
    board.read_output()
    os.kill(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.strip() == "zoo-micro deploy: interrupted"
    assert board.wait_for_event("app v", timeout=15) == "app v1"  # the previous app runs again
    assert "v1" in (board.flash / "main.py").read_text()
    assert not (board.flash / "assets").exists()
    assert not stage.exists()  # nothing half-copied is left behind
