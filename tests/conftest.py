"""Runs every test in tests/runtime on each interpreter: CPython, MicroPython, and MicroPython
loading zoo_micro from .mpy files. Each (test, interpreter) pair is its own pytest item."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from host_tools.interpreter import micropython_env, micropython_path
from host_tools.mpy import compile_file

# CI replays the same examples every run (a landing must not hinge on a lucky draw); local runs
# keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIR = ROOT / "tests" / "runtime"
RUNNER = RUNTIME_DIR / "runner.py"
DEFAULT_HEAP = "64K"  # below any board's: a runtime that outgrows its budget fails here (files may ask more)
# Importing .py compiles on the device, and the compiler's peak needs headroom that .mpy and
# frozen code (how apps are deployed) do not: source runs get this much more.
SOURCE_HEAP_EXTRA_KB = 32
DEFAULT_TIMEOUT = 60
INTERPRETERS = ("cpython", "micropython", "mpy")

_compiled: dict[str, Path] = {}


def compiled(what: str) -> Path:
    """`zoo_micro` or the runtime tests compiled with mpy-cross into a temporary folder, once
    per test process. Tests load from .mpy on MicroPython so that compiling a long test file
    does not eat the board-sized heap that the code under test is measured against."""
    if what not in _compiled:
        out = Path(tempfile.mkdtemp(prefix=f"zoo-mpy-{what}-"))
        base = ROOT if what == "zoo_micro" else RUNTIME_DIR
        sources = (ROOT / "zoo_micro").rglob("*.py") if what == "zoo_micro" else RUNTIME_DIR.glob("*.py")
        for src in sorted(sources):
            if src.name in ("conftest.py", "runner.py"):
                continue
            rel = src.relative_to(base)
            # As deploy compiles them (host_tools.mpy), so the heap figures are a board's.
            compile_file(src, out / rel.with_suffix(".mpy"), None, rel.as_posix())
        _compiled[what] = out
    return _compiled[what]


def _module_setting(tree: ast.Module, name: str, default):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    return default


def pytest_pycollect_makemodule(module_path, parent):
    path = Path(module_path)
    if path.parent == RUNTIME_DIR and path.name.startswith("test_"):
        return RuntimeFile.from_parent(parent, path=path)
    return None


class RuntimeFile(pytest.File):
    def collect(self):
        tree = ast.parse(self.path.read_text())
        heap = _module_setting(tree, "HEAPSIZE", DEFAULT_HEAP)
        timeout = _module_setting(tree, "TIMEOUT", DEFAULT_TIMEOUT)
        names = [
            n.name
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")
        ]
        if not names:
            raise pytest.UsageError(f"{self.path} defines no test_ functions")
        for name in names:
            for interp in INTERPRETERS:
                yield RuntimeTest.from_parent(
                    self, name=f"{name}[{interp}]", test=name, interp=interp, heap=heap, timeout=timeout
                )


class RuntimeFailure(Exception):
    pass


class RuntimeTest(pytest.Item):
    def __init__(self, *, test: str, interp: str, heap: str, timeout: float, **kwargs):
        super().__init__(**kwargs)
        self.test = test
        self.interp = interp
        self.heap = heap
        self.timeout = timeout
        self.add_marker(getattr(pytest.mark, interp))

    def command(self) -> tuple[list[str], dict]:
        module = self.path.stem
        if self.interp == "cpython":
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(RUNTIME_DIR)])
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            return [sys.executable, str(RUNNER), module, self.test], env
        code_dir = compiled("zoo_micro") if self.interp == "mpy" else ROOT
        env = micropython_env([code_dir, compiled("tests")])
        heap = self.heap
        if self.interp == "micropython":
            heap = f"{int(heap.rstrip('K')) + SOURCE_HEAP_EXTRA_KB}K"
        cmd = [micropython_path(), "-X", f"heapsize={heap}", str(RUNNER), module, self.test]
        return cmd, env

    def runtest(self):
        cmd, env = self.command()
        # A fresh working folder per run: it is the board's flash for files a test writes.
        with tempfile.TemporaryDirectory(prefix="zoo-rt-") as cwd:
            self._run(cmd, env, cwd)

    def _run(self, cmd, env, cwd):
        try:
            proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired as e:
            raise RuntimeFailure(
                f"timed out after {self.timeout}s\n{e.stdout or ''}{e.stderr or ''}"
            ) from None
        out = proc.stdout + proc.stderr
        if proc.returncode != 0 or "ZOO-TEST-PASSED" not in proc.stdout:
            raise RuntimeFailure(f"exit code {proc.returncode}\n{out}")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, RuntimeFailure):
            return f"{self.test} on {self.interp}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.test} [{self.interp}]"
