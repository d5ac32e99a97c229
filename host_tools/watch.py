"""zoo-micro watch: on every saved change, copy what changed to the board and restart the app.

The port stays open between changes, so the board's output can be shown; a change is seen by polling
modification times (no extra dependency), then deploy's sync copies only the files whose hash differs
and a soft reset starts main.py again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from host_tools.build import app_files, runtime_files
from host_tools.deploy import BoardLost, BoardSession, DeployResult, check_app
from host_tools.deploy.session import NotTakenOver
from host_tools.errors import UserError
from host_tools.interpreter import PROJECT_ROOT

POLL = 0.1  # seconds between looks at the files
SETTLE = 0.05  # seconds to let an editor finish writing before copying


def snapshot(app: Path) -> dict[Path, tuple[int, int, int]]:
    """(mtime, size, inode) of every file deploy would copy; an editor's save changes one of them."""
    paths = [app / p for p in app_files(app)] + [PROJECT_ROOT / p for p in runtime_files()]
    found = {}
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            continue
        found[p] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return found


def watch(
    app: str | Path,
    port: str,
    mpy: bool = True,
    stop: threading.Event | None = None,
    on_sync: Callable[[DeployResult], None] | None = None,
    on_output: Callable[[bytes], None] | None = None,
    on_error: Callable[[UserError], None] | None = None,
    timeout: float = 10.0,
) -> None:
    """Deploy once, then again after every change, until stop is set (or Ctrl-C).

    A deploy that fails because of the app (a syntax error, a full filesystem) is reported through
    on_error and watching goes on; losing the port, or a board that cannot be taken over, ends it.
    """
    path = check_app(app)
    stop = stop or threading.Event()
    with BoardSession(port, timeout) as session:
        seen = snapshot(path)
        _sync(session, path, mpy, on_sync, on_error)
        while not stop.is_set():
            if on_output is not None:
                data = session.read_output()
                if data:
                    on_output(data)
            now = snapshot(path)
            if now != seen:
                time.sleep(SETTLE)
                seen = snapshot(path)
                _sync(session, path, mpy, on_sync, on_error)
            else:
                stop.wait(POLL)


def _sync(
    session: BoardSession,
    app: Path,
    mpy: bool,
    on_sync: Callable[[DeployResult], None] | None,
    on_error: Callable[[UserError], None] | None,
) -> None:
    try:
        result = session.sync(app, mpy=mpy)
    except (BoardLost, NotTakenOver):
        raise  # the board is gone, or its app will not let go of it: nothing to watch
    except KeyboardInterrupt:
        session.recover()  # stopped while copying: the app in place runs again
        raise
    except UserError as e:
        if on_error is None:
            raise
        on_error(e)
        session.run_app()  # the previous app is still in place: keep it running
        return
    session.run_app()
    if on_sync is not None:
        on_sync(result)
