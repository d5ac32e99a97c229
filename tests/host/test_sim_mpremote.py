"""The unmodified mpremote command line against a virtual board's serial port."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

MPREMOTE = [sys.executable, "-m", "mpremote"]


def mpremote(port: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        MPREMOTE + ["connect", port, *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def running_app(folder: Path) -> Path:
    folder.mkdir()
    (folder / "main.py").write_text(
        textwrap.dedent(
            """
            import time
            n = 0
            while True:
                n += 1
                print("tick", n)
                time.sleep(0.05)
            """
        )
    )
    return folder


def test_exec_interrupts_the_running_app_and_runs_after_a_soft_reset(zoo_board, tmp_path):
    board = zoo_board(running_app(tmp_path / "app"), link=tmp_path / "board")
    board.wait_for_event("tick 2")
    out = mpremote(board.port, "exec", "import machine; print('cause', machine.reset_cause())").stdout
    assert out.strip() == "cause 5"  # mpremote soft-resets first: SOFT_RESET
    assert board.resets[-1] == "soft"
    assert "MPY: soft reboot" in board.output


def test_fs_cp_then_ls_and_cat_see_the_file_on_the_flash(zoo_board, tmp_path):
    board = zoo_board(running_app(tmp_path / "app"), link=tmp_path / "board")
    local = tmp_path / "notes.txt"
    local.write_text("kept on flash\n")
    mpremote(board.port, "fs", "cp", str(local), ":notes.txt")
    assert (board.flash / "notes.txt").read_text() == "kept on flash\n"
    listing = mpremote(board.port, "fs", "ls", ":").stdout
    assert "14 notes.txt" in listing
    assert "main.py" in listing and "lib/" in listing
    assert mpremote(board.port, "fs", "cat", ":notes.txt").stdout == "kept on flash\n"
    copied = mpremote(board.port, "fs", "cp", ":notes.txt", str(tmp_path / "back.txt"))
    assert copied.returncode == 0
    assert (tmp_path / "back.txt").read_text() == "kept on flash\n"


def test_soft_reset_command_leaves_the_board_in_its_repl(zoo_board, tmp_path):
    board = zoo_board(running_app(tmp_path / "app"), link=tmp_path / "board")
    board.wait_for_event("tick 1")
    mpremote(board.port, "soft-reset")
    assert board.resets == ["power", "soft"]
    board.wait_for_output("MPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
    ticks_after_reset = board.output.split("MPY: soft reboot")[-1].count("tick")
    assert ticks_after_reset == 0  # a soft reset from the raw REPL does not run main.py


def test_run_and_resume_exec_and_mount(zoo_board, tmp_path):
    board = zoo_board(None, link=tmp_path / "board")
    script = tmp_path / "script.py"
    script.write_text("print('ran', 6 * 7)\n")
    assert mpremote(board.port, "run", str(script)).stdout.strip() == "ran 42"
    assert mpremote(board.port, "resume", "exec", "print('no reset')").stdout.strip() == "no reset"
    assert board.resets == ["power", "soft"]
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "helper.py").write_text("VALUE = 'from the host folder'\n")
    out = mpremote(board.port, "mount", str(shared), "exec", "import helper; print(helper.VALUE)").stdout
    assert "from the host folder" in out


def test_reset_command_hard_resets_and_main_runs_again(zoo_board, tmp_path):
    board = zoo_board(running_app(tmp_path / "app"), link=tmp_path / "board")
    board.wait_for_event("tick 1")
    mpremote(board.port, "reset")
    assert board.wait_for_reset("hard") == "hard"
    board.wait_for_event("tick 1")
