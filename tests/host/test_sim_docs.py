"""The worked example in docs/simulation.md runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulation.md"


def code_blocks() -> dict[str, str]:
    """Python blocks of the doc whose first line names a file: {"greenhouse/main.py": source}."""
    blocks = re.findall(r"```python\n# (\S+\.py)\n(.*?)```", DOC.read_text(), re.S)
    return dict(blocks)


def test_greenhouse_example_passes_its_test_on_the_virtual_board(tmp_path):
    blocks = code_blocks()
    assert {"greenhouse/main.py", "greenhouse/tests/test_alarm.py"} <= set(blocks)
    for name, source in blocks.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "greenhouse/tests", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
