"""Runs a conformance app on zoo-framework 0.14 and on zoo_micro, and compares what they print.

An app is written for zoo-framework. Between the lines `# --- imports: ...` and `# ---` it imports
from zoo_framework's modules; `to_zoo_micro()` turns each of those lines into the same names
imported from `zoo_micro` (the rule docs/zoo-framework.md states), and nothing else changes.
Outputs are compared line by line; a differing pair of lines passes only when the table
"Differences the conformance suite accepts" in docs/zoo-framework.md lists it for that app.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.interpreter import micropython_env, micropython_path
from host_tools.mpy import compile_file

ROOT = Path(__file__).resolve().parents[2]
APPS_DIR = Path(__file__).resolve().parent / "apps"
DOC = ROOT / "docs" / "zoo-framework.md"
APPS = sorted(p.stem for p in APPS_DIR.glob("*.py") if p.stem != "keeper")
INTERPRETERS = ("cpython", "micropython", "mpy")
HEAP = "256K"  # behaviour, not the heap budget, is under test here (bench/ and tests/runtime hold that)
TIMEOUT = 60

_BLOCK = re.compile(r"^# --- imports:[^\n]*\n(.*?)^# ---$", re.S | re.M)
_FROM = re.compile(r"^from zoo_framework(\.\w+)* import (.+)$")
_LOG = re.compile(r"^zoo (info|warn|error): ")  # zoo_micro's own log lines (zoo-framework logs to stderr)
NO_LINE = "—"  # in the doc's table: the app prints no line there


def to_zoo_micro(text: str) -> str:
    """The app as it runs on zoo_micro: every `from zoo_framework... import names` line of its
    import block becomes `from zoo_micro import names`."""
    block = _BLOCK.search(text)
    if block is None:
        raise ValueError("the app has no '# --- imports:' block")
    lines = []
    for line in block.group(1).splitlines():
        m = _FROM.match(line)
        lines.append(f"from zoo_micro import {m.group(2)}" if m else line)
    new = text[: block.start(1)] + "\n".join(lines) + "\n" + text[block.end(1) :]
    if "zoo_framework" in new:
        raise ValueError("zoo_framework is named outside the import block")
    return new


def _stage(translate: bool) -> Path:
    """A fresh folder holding the apps (translated for zoo_micro or not) and zoo-framework's config."""
    out = Path(tempfile.mkdtemp(prefix="zoo-conform-"))
    for src in APPS_DIR.glob("*.py"):
        text = src.read_text()
        (out / src.name).write_text(to_zoo_micro(text) if translate else text)
    shutil.copy(APPS_DIR / "config.json", out / "config.json")
    return out


_compiled: list[Path] = []


def _zoo_micro_mpy() -> Path:
    if not _compiled:
        out = Path(tempfile.mkdtemp(prefix="zoo-conform-mpy-"))
        for src in sorted((ROOT / "zoo_micro").rglob("*.py")):
            rel = src.relative_to(ROOT)
            compile_file(src, out / rel.with_suffix(".mpy"), None, rel.as_posix())
        _compiled.append(out)
    return _compiled[0]


def runs(app: str) -> int:
    """How many times the app runs in one folder (a line `# conformance: runs=N`; 1 otherwise).
    Run k gets k as its argument: a second run sees what the first left on disk."""
    m = re.search(r"^# conformance: runs=(\d+)$", (APPS_DIR / f"{app}.py").read_text(), re.M)
    return int(m.group(1)) if m else 1


def run(app: str, on: str) -> tuple[list[str], str]:
    """(lines the app printed, the raw output for a failure message) of `app` on `on`:
    "zoo-framework", or zoo_micro on "cpython", "micropython" or "mpy"."""
    where = _stage(translate=on != "zoo-framework")
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if on in ("zoo-framework", "cpython"):
        env["PYTHONPATH"] = str(ROOT)
        cmd = [sys.executable, f"{app}.py"]
    else:
        code = _zoo_micro_mpy() if on == "mpy" else ROOT
        env = micropython_env([where, code], env)
        cmd = [micropython_path(), "-X", f"heapsize={HEAP}", f"{app}.py"]
    lines: list[str] = []
    raw = ""
    try:
        for k in range(1, runs(app) + 1):
            try:
                proc = subprocess.run(
                    cmd + [str(k)], cwd=where, env=env, capture_output=True, text=True, timeout=TIMEOUT
                )
                out, err, code = proc.stdout, proc.stderr, proc.returncode
            except subprocess.TimeoutExpired as e:
                out, err, code = _text(e.stdout), _text(e.stderr) + f"\ntimed out after {TIMEOUT}s", "timeout"
            if k > 1:
                lines.append(f"--- run {k}")
            lines += [ln for ln in out.splitlines() if not (on != "zoo-framework" and _LOG.match(ln))]
            raw += out + err
            if code != 0:
                lines.append(f"exit {code}")
                break
    finally:
        shutil.rmtree(where, ignore_errors=True)
    return lines, raw


def _text(b: bytes | str | None) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def documented() -> dict[str, set[tuple[str, str]]]:
    """{app: {(zoo-framework line, zoo_micro line)}} from the doc's table of accepted differences
    (NO_LINE where one side prints nothing)."""
    text = DOC.read_text()
    start = text.index("## Differences the conformance suite accepts")
    end = text.find("\n## ", start + 1)
    rows: dict[str, set[tuple[str, str]]] = {}
    for line in text[start : end if end > 0 else None].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not line.startswith("| `") or len(cells) < 4:
            continue
        app, zf, zm = (_cell(c) for c in cells[:3])
        rows.setdefault(app, set()).add((zf, zm))
    return rows


def _cell(c: str) -> str:
    c = c.strip()
    return c[1:-1] if len(c) >= 2 and c[0] == c[-1] == "`" else c


def undocumented(app: str, reference: list[str], got: list[str], allowed: dict) -> list[tuple[str, str]]:
    """The (zoo-framework line, zoo_micro line) pairs where the outputs differ and the doc does
    not list the pair for `app`."""
    ok = allowed.get(app, set())
    bad = []
    sm = difflib.SequenceMatcher(None, reference, got, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        a, b = reference[i1:i2], got[j1:j2]
        for k in range(max(len(a), len(b))):
            pair = (a[k] if k < len(a) else NO_LINE, b[k] if k < len(b) else NO_LINE)
            if pair not in ok:
                bad.append(pair)
    return bad
