"""zoo-micro new: an app that runs at once on the virtual board and passes its own tests."""

from __future__ import annotations

import subprocess
import sys

import pytest

from host_tools.errors import UserError
from host_tools.scaffold import new_app

ZOO = [sys.executable, "-m", "host_tools.cli.main"]


def run(args: list[str], cwd, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def test_new_app_runs_in_sim_and_passes_its_own_tests(tmp_path):
    made = run(ZOO + ["new", "greenhouse", "--board", "pico"], tmp_path)
    assert made.returncode == 0, made.stderr
    app = tmp_path / "greenhouse"
    assert sorted(p.relative_to(app).as_posix() for p in app.rglob("*") if p.is_file()) == [
        ".zooignore", "config.json", "heartbeat.py", "main.py", "tests/test_greenhouse.py",
    ]  # fmt: skip
    assert '"board": "pico"' in (app / "config.json").read_text()
    sim = run(ZOO + ["sim", "greenhouse", "--board", "pico", "--seconds", "4"], tmp_path)
    assert sim.returncode == 0, sim.stderr
    assert sim.stdout.startswith("beat 1\nbeat 2\n")
    tests = run(
        [sys.executable, "-m", "pytest", "greenhouse/tests", "-q", "-p", "no:cacheprovider"], tmp_path
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


def test_new_refuses_an_existing_folder_a_bad_name_and_an_unknown_board(tmp_path):
    new_app("plant", "esp32", tmp_path)
    with pytest.raises(UserError, match="already exists"):
        new_app("plant", "esp32", tmp_path)
    with pytest.raises(UserError, match="is not an app name"):
        new_app("9 lives", "esp32", tmp_path)
    with pytest.raises(UserError, match="unknown board 'arduino'"):
        new_app("other", "arduino", tmp_path)
    assert not (tmp_path / "other").exists()


def test_two_new_apps_tests_run_in_one_pytest_session(tmp_path):
    for name in ("greenhouse", "hen-house"):
        assert run(ZOO + ["new", name, "--board", "esp32"], tmp_path).returncode == 0
    assert (tmp_path / "hen-house" / "tests" / "test_hen_house.py").is_file()
    tests = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "greenhouse/tests",
            "hen-house/tests",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        tmp_path,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout
