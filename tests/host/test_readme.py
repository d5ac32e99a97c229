"""The README's tour runs as written, on MicroPython and on CPython."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from host_tools.interpreter import PROJECT_ROOT, micropython_env, micropython_path


def tour() -> str:
    text = (PROJECT_ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    assert "master.run(10)" in code
    # A shorter run, and the counters to check it did something.
    return code.replace("master.run(10)", "master.run(1.2)\nprint('STATS', master.stats())")


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_readme_tour_runs(interp, tmp_path):
    (tmp_path / "tour.py").write_text(tour())
    if interp == "micropython":
        cmd = [micropython_path(), "-X", "heapsize=128K", "tour.py"]
        env = micropython_env([PROJECT_ROOT])
    else:
        cmd = [sys.executable, "tour.py"]
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    stats = r.stdout.split("STATS", 1)[1]
    assert "'Sampler': {" in stats and "'uploader': {" in stats
    assert "'dropped': 0" in stats and "'handler_errors': 0" in stats
