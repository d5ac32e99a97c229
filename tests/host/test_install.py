"""zoo-micro as a user installs it: the wheel built from this checkout, alone in a fresh virtualenv
(with its dependencies, not the developer's extras), run from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tools.interpreter import PROJECT_ROOT


def clean_env() -> dict[str, str]:
    """This environment without what would let the checkout leak into the install."""
    drop = ("PYTHONPATH", "ZOO_MICROPYTHON", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A folder of this module's own: pytest's numbered temporary folders of other sessions running
    at the same time may be pruned while the venv is still in use."""
    folder = Path(tempfile.mkdtemp(prefix="zoo-install-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def source_copy(scratch: Path) -> Path:
    """The checkout's files (tracked, and new ones git does not ignore) copied for the build, which
    would otherwise leave build/ and an egg-info in the checkout and pack whatever stale files lie there."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    src = scratch / "src"
    for name in filter(None, listed.split("\0")):
        path, dest = PROJECT_ROOT / name, src / name
        if not path.is_symlink() and not path.is_file():
            continue  # deleted in the working tree
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            dest.symlink_to(os.readlink(path))  # host_tools/data/* point at boards/ and firmware/
        else:
            shutil.copy2(path, dest)
    return src


@pytest.fixture(scope="module")
def wheel(scratch) -> tuple[Path, str]:
    """The wheel, and what the build printed (pip -v shows the backend's warnings)."""
    out = scratch / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(out), str(source_copy(scratch))],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
        cwd=scratch,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return next(out.glob("zoo_micro-*.whl")), proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def installed(wheel, scratch):
    """A function running the installed zoo-micro in a fresh venv, in a folder outside the checkout."""
    root = scratch
    venv = root / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    proc = subprocess.run(  # pip of this venv installs into the new one, which needs no pip of its own
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            str(wheel[0]),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
        cwd=scratch,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    work = root / "work"
    work.mkdir()
    env = clean_env()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def zoo_micro(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(venv / "bin" / "zoo-micro"), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    zoo_micro.venv = venv
    zoo_micro.work = work
    return zoo_micro


def test_the_wheel_carries_board_data_firmware_and_app_templates(wheel):
    names = set(zipfile.ZipFile(wheel[0]).namelist())
    for board in sorted((PROJECT_ROOT / "boards").glob("*.json")):
        assert f"host_tools/data/boards/{board.name}" in names
    for name in ("boot.py", "main.py"):
        assert f"host_tools/data/firmware/{name}" in names
    assert "host_tools/templates/app/main.py.tmpl" in names
    assert "host_tools/templates/app/.zooignore.tmpl" in names
    assert "zoo_micro/__init__.py" in names


def test_the_build_prints_no_license_deprecation(wheel):
    assert "project.license" not in wheel[1]
    assert "License classifiers are deprecated" not in wheel[1]


def test_installed_cli_has_its_data_and_runs_an_app_without_the_checkout(installed):
    r = installed("--version")
    assert r.returncode == 0 and r.stdout.strip() == "zoo-micro 0.1.0", r.stdout + r.stderr
    r = installed("--help")
    assert r.returncode == 0 and "fleet" in r.stdout, r.stderr  # listed, though paho is not installed
    r = installed("boards", "--json")
    assert r.returncode == 0, r.stderr
    ids = [b["id"] for b in json.loads(r.stdout)]
    assert ids == sorted(p.stem for p in (PROJECT_ROOT / "boards").glob("*.json"))
    # the installed package, not this checkout, answers
    where = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import host_tools; print(host_tools.__file__)"],
        capture_output=True, text=True, cwd=installed.work, env=clean_env(),
    ).stdout  # fmt: skip
    assert str(installed.venv) in where and str(PROJECT_ROOT) not in where
    r = installed("new", "blinky", "--board", "pico")
    assert r.returncode == 0, r.stderr
    assert (installed.work / "blinky" / "main.py").is_file()
    assert (installed.work / "blinky" / ".zooignore").is_file()
    r = installed("build", "blinky", "--json")  # boot.py and main.py come from the firmware templates
    assert r.returncode == 0, r.stderr
    bundle = json.loads(r.stdout)
    assert bundle["board"] == "pico" and {"boot.py", "main.py", "lib/zoo_micro/__init__.mpy"} <= set(
        bundle["files"]
    )
    r = installed("sim", "blinky", "--seconds", "4")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "beat 1" in r.stdout


def test_a_command_needing_an_extra_says_which_in_one_line(installed):
    r = installed("fleet", "--mqtt", "mqtt://127.0.0.1:1", "--once")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        'zoo-micro fleet: needs the mqtt extra (paho is not installed): pip install "zoo-micro[mqtt]"'
    ]
