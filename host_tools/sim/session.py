"""Running a virtual board from the command line: until a time is up, Ctrl-] or Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import select
import termios
import time
import tty
from collections.abc import Callable, Iterator

from host_tools.errors import UserError
from host_tools.sim.virtual_board import VirtualBoard

QUIT = b"\x1d"  # Ctrl-], as in telnet and miniterm


def app_error_line(board: VirtualBoard, error: dict) -> str:
    """One line for an uncaught error of boot.py or main.py, with what to do about it."""
    m = re.search(r'File "([^"]+)", line (\d+)', error["at"])
    at = f" ({m.group(1)} line {m.group(2)})" if m else ""
    if error["error"].startswith("MemoryError"):
        return (
            f"the app ran out of memory on the virtual {board.profile.id} ({board.profile.heap_kb} KB heap): "
            f"{error['error']}{at}; allocate less or in smaller pieces"
        )
    return f"{error['script']} stopped with {error['error']}{at}; fix it and run again"


def _fatal_error(board: VirtualBoard, seen: int) -> dict | None:
    for error in board.errors[seen:]:
        if not error["error"].startswith("KeyboardInterrupt"):
            return error
    return None


def run_until_done(board: VirtualBoard, seconds: float | None, stop_on_error: bool) -> None:
    """Wait while the board runs; with stop_on_error an uncaught app error ends it as a UserError."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while deadline is None or time.monotonic() < deadline:
        time.sleep(0.05)
        error = _fatal_error(board, 0) if stop_on_error else None
        if error is not None:
            raise UserError(app_error_line(board, error))


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Keys reach the board as typed (Ctrl-C included) while output still starts new lines."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        mode = termios.tcgetattr(fd)
        mode[1] = saved[1]  # keep output processing, so the board's "\n" starts a new line
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def console(board: VirtualBoard, seconds: float | None, on_error: Callable[[str], None], fd: int) -> None:
    """The terminal (in raw_terminal) is the board's serial console; Ctrl-] quits."""
    deadline = None if seconds is None else time.monotonic() + seconds
    reported = 0
    while deadline is None or time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            data = os.read(fd, 1024)
            if not data or QUIT in data:
                break
            board.write(data)
        while reported < len(board.errors):
            error = board.errors[reported]
            reported += 1
            if not error["error"].startswith("KeyboardInterrupt"):
                on_error(app_error_line(board, error))
