"""zoo-micro repl: the board's REPL in the terminal, on the one running virtual board when no
--port is given; Enter then Ctrl-C takes over even an app that carries the serial bridge."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

from host_tools.boards import REGISTRY_ENV, register_virtual

APP = "import time\nprint('app running')\nwhile True:\n    time.sleep_ms(20)\n"


def read_until(fd: int, text: bytes, timeout: float = 15.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} within {timeout}s; saw {seen[-500:]!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def raw_mode(fd: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while termios.tcgetattr(fd)[3] & (termios.ICANON | termios.ISIG):
        assert time.monotonic() < deadline, "mpremote never put the terminal in raw mode"
        time.sleep(0.02)


def test_repl_takes_the_running_board_and_leaves_on_ctrl_bracket(zoo_board, tmp_path, monkeypatch):
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "registry"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.py").write_text(APP)
    board = zoo_board(app, board="pico", install_lib=False, link=tmp_path / "port")
    board.wait_for_event("app running")
    unregister = register_virtual(str(board.link), "pico", "app")  # as sim --link does while it runs
    main, child = pty.openpty()
    env = dict(os.environ, **{REGISTRY_ENV: str(tmp_path / "registry")})
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli.main", "repl"],
        stdin=child, stdout=child, stderr=subprocess.PIPE, env=env, cwd=Path(__file__).parent,
    )  # fmt: skip
    os.close(child)
    try:
        read_until(main, b"to exit this shell")
        raw_mode(main)  # mpremote has put the terminal in raw mode: Ctrl-C is a byte, not SIGINT
        os.write(main, b"\r\x03")
        read_until(main, b">>>")
        os.write(main, b"print(6 * 7)\r")
        assert b"42" in read_until(main, b"42")
        os.write(main, b"\x1d")  # Ctrl-]
        assert proc.wait(10) == 0
        assert f"connected to {board.link}" in proc.stderr.read().decode()
    finally:
        unregister()
        if proc.poll() is None:
            proc.kill()
        os.close(main)
