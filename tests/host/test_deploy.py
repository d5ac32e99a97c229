"""zoo-micro deploy against virtual boards: what it copies, what it keeps, and how it fails."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from host_tools.cli.main import main as cli
from host_tools.deploy import MANIFEST, STAGE, deploy, plan_files
from host_tools.errors import UserError
from host_tools.mpy import unix_port_arch

ZOO = [sys.executable, "-m", "host_tools.cli.main"]
LIB_FILES = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "zoo_micro").rglob("*.py"))
LIB_MPY = sorted(name[:-3] + ".mpy" for name in LIB_FILES)


def make_app(folder: Path, version: str, extra: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(f"import helper\nprint('app', {version!r}, helper.NAME)\n")
    (folder / "helper.py").write_text("NAME = 'helper'\n")
    for name, text in (extra or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def blank_board(zoo_board, tmp_path: Path, **options):
    """A freshly flashed board: MicroPython and an empty filesystem."""
    return zoo_board(None, install_lib=False, link=tmp_path / "port", **options)


def on_board(board) -> set[str]:
    files = {p.relative_to(board.flash).as_posix() for p in board.flash.rglob("*") if p.is_file()}
    return files - {board.romfs_partition.name}  # the ROMFS partition is no file on the board


def test_first_deploy_copies_zoo_micro_and_the_app_then_runs_it(zoo_board, tmp_path):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(
        tmp_path / "blink", "v1", {"tests/test_app.py": "def test(): pass\n", "data/cal.json": "{}"}
    )
    result = deploy(app, board.port)
    assert board.wait_for_event("app") == "app v1 helper"
    files = on_board(board)
    # .mpy for the board by default, as mip installs; main.py stays source, as a board runs it
    assert {"main.py", "helper.mpy", "data/cal.json", MANIFEST.lstrip("/")} <= files
    assert "helper.py" not in files
    assert (board.flash / "helper.mpy").read_bytes()[:2] == b"M\x06"  # the .mpy version the board loads
    assert not any(f.startswith("tests/") for f in files)  # an app's tests stay on the host
    assert sorted(Path(f).name for f in files if f.startswith("lib/zoo_micro/")) == LIB_MPY
    # Everything but the manifest and the board's own data file (the virtual board writes it).
    assert sorted(result.copied) == sorted(f for f in files if f not in (MANIFEST.lstrip("/"), "board.json"))
    assert result.skipped == [] and result.removed == []
    assert result.bytes_copied == sum((board.flash / f).stat().st_size for f in result.copied)


def test_unchanged_redeploy_copies_nothing_and_restarts_the_app(zoo_board, tmp_path):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1")
    first = deploy(app, board.port)
    board.wait_for_event("app v1")
    again = deploy(app, board.port)
    assert again.copied == [] and again.removed == [] and again.bytes_copied == 0
    assert sorted(again.skipped) == sorted(first.copied)
    board.wait_for_event("app v1")  # soft-reset: the app runs again


def test_only_changed_files_are_copied_and_files_gone_from_the_app_are_removed(zoo_board, tmp_path):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1", {"extras/old.py": "X = 1\n"})
    deploy(app, board.port)
    (app / "main.py").write_text("import helper\nprint('app', 'v2', helper.NAME)\n")
    (app / "extras" / "old.py").unlink()
    (app / "extras").rmdir()
    result = deploy(app, board.port)
    assert result.copied == ["main.py"]
    assert result.removed == ["extras/old.mpy"]
    assert board.wait_for_event("app v2") == "app v2 helper"
    assert not (board.flash / "extras").exists()
    assert not (board.flash / STAGE.lstrip("/")).exists()


def test_files_of_another_app_are_kept(zoo_board, tmp_path):
    board = blank_board(zoo_board, tmp_path)
    deploy(make_app(tmp_path / "one", "one", {"one_only.py": "\n"}), board.port)
    result = deploy(make_app(tmp_path / "two", "two"), board.port)
    assert result.removed == []
    assert (board.flash / "one_only.mpy").is_file()
    assert board.wait_for_event("app two") == "app two helper"


def test_a_deploy_killed_half_way_leaves_the_previous_app_running(zoo_board, tmp_path):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1")
    deploy(app, board.port)
    board.wait_for_event("app v1")
    # v2: a new main.py and enough data that copying takes a while
    big = {f"assets/blob{i}.py": "DATA = %r\n" % ("x" * 30000) for i in range(4)}
    make_app(app, "v2", big)
    proc = subprocess.Popen(ZOO + ["deploy", str(app), "--port", board.port], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    stage = board.flash / STAGE.lstrip("/")
    deadline = time.monotonic() + 30
    while not any(stage.rglob("blob*")) and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(stage.rglob("blob*")), "the deploy never started copying"
    assert "'v1'" in (board.flash / "main.py").read_text()
    assert not (board.flash / "assets").exists()
    board.reset()  # what a person does next: press reset
    assert board.wait_for_event("app ") == "app v1 helper"
    result = deploy(app, board.port)  # and deploying again finishes the job
    assert "main.py" in result.copied and len([p for p in result.copied if "blob" in p]) == 4
    assert board.wait_for_event("app ") == "app v2 helper"
    assert not stage.exists()


def test_py_deploy_sends_source_and_switching_back_replaces_it_with_mpy(zoo_board, tmp_path):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1")
    deploy(app, board.port)
    result = deploy(app, board.port, mpy=False)
    files = on_board(board)
    assert "main.py" in files and "helper.py" in files and "helper.mpy" not in files
    assert not any(f.startswith("lib/zoo_micro/") and f.endswith(".mpy") for f in files)
    assert "lib/zoo_micro/master.mpy" in result.removed and "lib/zoo_micro/master.py" in result.copied
    assert board.wait_for_event("app ") == "app v1 helper"
    assert deploy(app, board.port, mpy=False).copied == []
    back = deploy(app, board.port)
    assert "helper.py" in back.removed and "helper.mpy" in back.copied
    assert "helper.py" not in on_board(board)  # a leftover .py would shadow its .mpy
    assert board.wait_for_event("app ") == "app v1 helper"


def test_dry_run_lists_the_changes_and_makes_none(zoo_board, tmp_path, capsys):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1")
    deploy(app, board.port)
    before = (board.flash / "helper.mpy").read_bytes()
    (app / "helper.py").write_text("NAME = 'changed'\n")
    assert cli(["deploy", str(app), "--port", board.port, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  copy    helper.mpy" in out
    assert "would copy 1 files" in out
    assert (board.flash / "helper.mpy").read_bytes() == before


def test_deploy_summary_counts_copied_skipped_removed_and_bytes(zoo_board, tmp_path, capsys):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1")
    assert cli(["deploy", str(app), "--port", board.port]) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert first.startswith(f"copied {len(LIB_FILES) + 2} files (")
    assert cli(["deploy", str(app), "--port", board.port]) == 0
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert second.startswith(
        f"copied 0 files (0 bytes), skipped {len(LIB_FILES) + 2} unchanged, removed 0 in "
    )


def error_line(argv: list[str], capsys) -> str:
    code = cli(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    return err[0]


def test_no_such_port(tmp_path, capsys):
    app = make_app(tmp_path / "blink", "v1")
    line = error_line(["deploy", str(app), "--port", str(tmp_path / "ttyUSB9")], capsys)
    assert line.startswith(f"zoo-micro deploy: no such port {tmp_path / 'ttyUSB9'}: plug the board in")


def test_port_busy(zoo_board, tmp_path, capsys):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1")
    with serial.Serial(board.port, exclusive=True):
        line = error_line(["deploy", str(app), "--port", board.port], capsys)
    assert line.startswith(f"zoo-micro deploy: port {board.port} is busy: another program")


def test_a_port_where_nothing_answers_the_raw_repl(tmp_path, capsys):
    master, slave = os.openpty()  # a serial port with no MicroPython behind it
    port = os.ttyname(slave)
    try:
        app = make_app(tmp_path / "blink", "v1")
        line = error_line(["deploy", str(app), "--port", port, "--timeout", "1"], capsys)
    finally:
        os.close(master)
        os.close(slave)
    assert line.startswith(f"zoo-micro deploy: the board on {port} does not answer the raw REPL")


def test_app_folder_without_main_py(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    line = error_line(["deploy", str(tmp_path / "empty"), "--port", "/dev/null"], capsys)
    assert line == (
        f"zoo-micro deploy: {tmp_path / 'empty'} has no main.py: a board runs main.py at boot; "
        "add one, or start from zoo-micro new NAME"
    )


def test_full_filesystem_is_refused_before_anything_changes(zoo_board, tmp_path, capsys):
    app = make_app(tmp_path / "blink", "v1")
    files = plan_files(app, True, unix_port_arch())
    need = sum(-(-len(f.data) // 4096) * 4096 for f in files)  # in the sim's 4 KB blocks
    board = blank_board(zoo_board, tmp_path, flash_kb=need // 1024 + 64)
    deploy(app, board.port)
    board.wait_for_event("app v1")
    make_app(app, "v2", {"big.py": "DATA = %r\n" % ("x" * 100_000)})
    line = error_line(["deploy", str(app), "--port", board.port], capsys)
    assert line.startswith("zoo-micro deploy: the board's filesystem is full: the changed files need ")
    assert "'v1'" in (board.flash / "main.py").read_text()
    assert not (board.flash / "big.py").exists()
    assert board.wait_for_event("app ") == "app v1 helper"  # the failed deploy restarted nothing new


@pytest.mark.parametrize("form", [[], ["--py"], ["--romfs"]], ids=["mpy", "py", "romfs"])
def test_syntax_error_is_refused_before_anything_changes(zoo_board, tmp_path, capsys, form):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1")
    deploy(app, board.port)
    before = on_board(board)
    (app / "helper.py").write_text("NAME = (\n")
    line = error_line(["deploy", str(app), "--port", board.port, *form], capsys)
    assert re.fullmatch(
        r"zoo-micro deploy: helper.py line \d+: SyntaxError: .*; nothing on the board changed: .*", line
    )
    assert on_board(board) == before and not board.romfs_partition.exists()


def test_memory_error_on_the_board(zoo_board, tmp_path, capsys):
    # boot.py runs before every REPL session, deploy's included: here it leaves almost no heap
    eat = "import gc\nHOG = []\ngc.collect()\nwhile gc.mem_free() > 3000:\n    HOG.append(bytearray(256))\n"
    hog = make_app(tmp_path / "hog", "hog", {"boot.py": eat})
    board = zoo_board(hog, link=tmp_path / "port")
    line = error_line(["deploy", str(make_app(tmp_path / "blink", "v1")), "--port", board.port], capsys)
    assert line.startswith("zoo-micro deploy: the board ran out of memory while ")
    assert "MemoryError" in line


def test_deploy_refuses_mpy_for_a_board_of_another_mpy_version():
    from host_tools.mpy import device_arch

    with pytest.raises(UserError, match="loads .mpy version 5"):
        device_arch(5 | (10 << 10))
    assert device_arch(6 | (10 << 10)) == "xtensawin"


def test_romfs_deploy_puts_zoo_micro_and_the_modules_in_the_partition_and_the_rest_in_files(
    zoo_board, tmp_path, capsys
):
    board = blank_board(zoo_board, tmp_path)
    app = make_app(tmp_path / "blink", "v1", {"data/cal.json": "{}"})
    (app / "main.py").write_text(
        "import helper, zoo_micro\nprint('app', helper.__file__, zoo_micro.__file__)\n"
    )
    assert cli(["deploy", str(app), "--port", board.port, "--romfs", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("would write a ")
    assert not board.romfs_partition.exists()
    result = deploy(app, board.port, romfs=True)
    assert board.wait_for_event("app ") == "app /rom/helper.mpy /rom/lib/zoo_micro/__init__.mpy"
    assert result.romfs_bytes > 0
    assert board.romfs_partition.read_bytes()[:3] == b"\xd2\xcd\x31"  # a ROMFS image, written by mpremote
    assert on_board(board) == {"main.py", "data/cal.json", "board.json", MANIFEST.lstrip("/")}
    again = deploy(app, board.port, romfs=True)
    assert again.romfs_bytes == 0 and again.copied == []  # the partition holds that image already
    board.wait_for_event("app ")
    # Back to files: the image is cleared, or zoo_micro in /rom would shadow the one in /lib.
    back = deploy(app, board.port)
    assert back.romfs_bytes > 0 and "helper.mpy" in back.copied
    assert board.wait_for_event("app ") == "app helper.mpy /lib/zoo_micro/__init__.mpy"
    assert deploy(app, board.port).romfs_bytes == 0


def test_romfs_on_a_board_without_a_romfs_partition_is_one_line(zoo_board, tmp_path, capsys):
    board = blank_board(zoo_board, tmp_path, romfs_kb=0)
    app = make_app(tmp_path / "blink", "v1")
    line = error_line(["deploy", str(app), "--port", board.port, "--romfs"], capsys)
    assert line.startswith("zoo-micro deploy: the board's firmware has no ROMFS partition: deploy without")
    assert on_board(board) == {"board.json"}  # nothing changed


def test_romfs_image_larger_than_the_partition_is_one_line(zoo_board, tmp_path, capsys):
    board = blank_board(zoo_board, tmp_path, romfs_kb=16)
    app = make_app(tmp_path / "blink", "v1")
    line = error_line(["deploy", str(app), "--port", board.port, "--romfs"], capsys)
    assert re.fullmatch(
        r"zoo-micro deploy: the ROMFS image is \d+ KB and the board's ROMFS partition 16 KB; deploy "
        r"without --romfs, or flash a firmware with a larger partition",
        line,
    )
    assert not board.romfs_partition.exists()


@pytest.mark.parametrize("other", ["--romfs", "--mpy"])
def test_py_with_another_install_switch_is_one_line(tmp_path, capsys, other):
    app = make_app(tmp_path / "blink", "v1")
    line = error_line(["deploy", str(app), "--port", "/dev/null", "--py", other], capsys)
    assert line == f"zoo-micro deploy: --py and {other} contradict each other; give one"
