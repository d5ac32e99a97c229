"""The virtual board itself: boot, heap, flash, resets, Ctrl-C, several boards at once."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from host_tools.errors import UserError
from host_tools.sim import VirtualBoard


def make_app(folder: Path, main: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(main))
    for name, text in (files or {}).items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_main_runs_at_boot_after_boot_py_with_zoo_micro_in_lib(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import sys
        import zoo_micro
        print("main after", BOOTED, "lib", zoo_micro.__file__, sys.path)
        """,
        {"boot.py": "BOOTED = 'boot.py'\n"},
    )
    board = zoo_board(app)
    line = board.wait_for_event("main after")
    assert "main after boot.py" in line
    assert "lib /lib/zoo_micro/__init__.mpy" in line  # installed as zoo-micro deploy does: .mpy
    assert board.resets == ["power"]
    assert (board.flash / "lib" / "zoo_micro" / "master.mpy").is_file()
    assert (board.flash / "boot.py").is_file() and (board.flash / "main.py").is_file()


def test_app_starts_with_the_boards_heap_free(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import gc
        gc.collect()
        print("free", gc.mem_free())
        """,
    )
    esp = zoo_board(app, board="esp32")
    small = zoo_board(app, board="esp32", heap_kb=48)
    esp_free = int(esp.wait_for_event("free").split()[1])
    small_free = int(small.wait_for_event("free").split()[1])
    # the heap the board file names, less what main.py itself took
    assert 110 * 1024 - 4096 < esp_free <= 110 * 1024
    assert 48 * 1024 - 4096 < small_free <= 48 * 1024


def test_romfs_image_is_loaded_at_boot_and_the_app_still_has_the_boards_heap(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import gc, sys
        gc.collect()
        free = gc.mem_free()
        import helper, zoo_micro
        print("free", free, helper.__file__, zoo_micro.__file__, sys.path)
        """,
        {"helper.py": "X = 1\n"},
    )
    board = zoo_board(app, board="esp32", romfs=True)
    line = board.wait_for_event("free").split(" ", 2)
    assert (
        line[2]
        == "/rom/helper.mpy /rom/lib/zoo_micro/__init__.mpy ['', '/rom', '/rom/lib', '.frozen', '/lib']"
    )
    # the image (tens of KB) sits in the interpreter's heap, which was grown by as much
    assert board.rom_bytes > 40_000
    assert 110 * 1024 - 4096 < int(line[1]) <= 110 * 1024
    files = {p.relative_to(board.flash).as_posix() for p in board.flash.rglob("*") if p.is_file()}
    assert "helper.mpy" not in files and not any(f.startswith("lib/") for f in files)
    assert "main.py" in files


def test_romfs_partition_survives_a_restart_with_a_kept_flash_folder(tmp_path):
    app = make_app(tmp_path / "app", "import helper\nprint('from', helper.__file__)\n", {"helper.py": "\n"})
    flash = tmp_path / "flash"
    with VirtualBoard(app, flash_dir=flash, romfs=True) as board:
        assert board.wait_for_event("from") == "from /rom/helper.mpy"
    with VirtualBoard(None, flash_dir=flash, install_lib=False) as board:
        board.reset()
        assert board.wait_for_event("from") == "from /rom/helper.mpy"


def test_an_image_larger_than_the_romfs_partition_is_refused(tmp_path):
    app = make_app(tmp_path / "app", "print(1)\n")
    with pytest.raises(
        UserError, match=r"the ROMFS image is \d+ KB and the virtual esp32's ROMFS partition 8 KB"
    ):
        VirtualBoard(app, romfs=True, romfs_kb=8).start()


def test_memory_error_in_main_is_reported_with_its_line(zoo_board, tmp_path):
    app = make_app(tmp_path / "app", "print('start')\nbig = bytearray(200 * 1024)\nprint('never')\n")
    board = zoo_board(app)
    error = board.wait_for_app_error()
    assert error["script"] == "main.py"
    assert error["error"].startswith("MemoryError")
    assert 'File "main.py", line 2' in error["at"]
    assert "never" not in board.output


def test_flash_folder_is_the_boards_root_and_survives_resets_and_restarts(tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import os
        try:
            n = int(open("boots.txt").read())
        except OSError:
            n = 0
        open("boots.txt", "w").write(str(n + 1))
        print("boot", n + 1, sorted(os.listdir("/")))
        """,
    )
    flash = tmp_path / "flash"
    with VirtualBoard(app, flash_dir=flash) as board:
        first = board.wait_for_event("boot 1")
        board.reset()
        board.wait_for_event("boot 2")
        board.soft_reset()
        board.wait_for_event("boot 3")
    assert first == "boot 1 ['.zoo_deploy.json', 'board.json', 'boots.txt', 'lib', 'main.py']"
    assert (flash / "boots.txt").read_text() == "3"
    with VirtualBoard(app, flash_dir=flash) as board:
        board.wait_for_event("boot 4")


def test_a_write_past_the_flash_size_fails_with_enospc(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import os
        s = os.statvfs("/")
        print("size", s[0] * s[2])
        f = open("fill.bin", "wb")
        written = 0
        try:
            while True:
                f.write(bytes(1024))
                written += 1024
        except OSError as e:
            print("full after", written, "errno", e.errno)
        f.close()
        """,
    )
    board = zoo_board(app, flash_kb=512)  # room for zoo_micro in /lib, and then some
    assert board.wait_for_event("size") == f"size {512 * 1024}"
    line = board.wait_for_event("full after")
    written = int(line.split()[2])
    assert line.endswith("errno 28")
    files = [f for f in board.flash.rglob("*") if f.is_file() and f.name != "fill.bin"]
    others = sum(-(-f.stat().st_size // 4096) * 4096 for f in files)  # each file takes whole 4 KB blocks
    assert 512 * 1024 - others - 4096 < written <= 512 * 1024 - others


def test_ctrl_c_stops_the_app_and_leaves_the_repl(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import time
        print("looping")
        while True:
            time.sleep(0.05)
        """,
    )
    board = zoo_board(app)
    board.wait_for_output("looping")
    board.interrupt()
    board.wait_for_output("KeyboardInterrupt")
    board.wait_for_output(">>> ")
    board.write(b"print(6 * 7)\r")
    board.wait_for_output("42")
    assert board.wait_for_app_error()["error"].startswith("KeyboardInterrupt")


def test_app_that_disables_ctrl_c_reads_it_as_a_byte(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import micropython, sys
        micropython.kbd_intr(-1)
        print("ready")
        print("got", repr(sys.stdin.buffer.read(2)))
        """,
    )
    board = zoo_board(app)
    board.wait_for_output("ready")
    board.write(b"\x03x")
    assert board.wait_for_event("got") == "got b'\\x03x'"


def test_sys_exit_in_main_soft_reboots_and_runs_main_again(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import sys
        try:
            n = int(open("n").read())
        except OSError:
            n = 0
        open("n", "w").write(str(n + 1))
        print("run", n + 1)
        if n == 0:
            sys.exit()
        """,
    )
    board = zoo_board(app)
    board.wait_for_event("run 2")
    assert "run 1\r\nMPY: soft reboot\r\nrun 2" in board.output
    assert board.resets == ["power", "soft"]


def test_several_boards_run_at_once_each_with_its_own_port(zoo_board, tmp_path):
    app = make_app(tmp_path / "app", "import machine\nprint('uid', machine.unique_id().hex())\n")
    boards = [zoo_board(app) for _ in range(3)]
    uids = {b.wait_for_event("uid").split()[1] for b in boards}
    assert len(uids) == 3
    assert len({b.port for b in boards}) == 3


def test_unique_id_belongs_to_the_flash_folder(tmp_path):
    app = make_app(tmp_path / "app", "import machine\nprint('uid', machine.unique_id().hex())\n")
    seen = []
    for _ in range(2):
        with VirtualBoard(app, flash_dir=tmp_path / "flash") as board:
            seen.append(board.wait_for_event("uid"))
    assert seen[0] == seen[1]
    assert re.fullmatch(r"uid [0-9a-f]{12}", seen[0])


def test_app_folder_without_main_py_is_refused(tmp_path):
    (tmp_path / "app").mkdir()
    with pytest.raises(UserError, match="has no main.py"):
        VirtualBoard(tmp_path / "app")


def test_unknown_board_is_refused(tmp_path):
    with pytest.raises(UserError, match="unknown board 'esp8266'"):
        VirtualBoard(None, board="esp8266")


def test_link_points_at_the_port_and_goes_away_on_stop(tmp_path):
    link = tmp_path / "board"
    with VirtualBoard(None, link=link) as board:
        assert link.is_symlink()
        assert Path(board.port) == link
        assert Path(board.pty).exists()
        assert link.resolve() == Path(board.pty).resolve()
    assert not link.exists() and not link.is_symlink()


def test_the_board_runs_no_more_threads_than_it_has(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import _thread, time
        lock = _thread.allocate_lock()
        lock.acquire()
        started = 0
        try:
            for _ in range(6):
                _thread.start_new_thread(lock.acquire, ())
                started += 1
        except OSError as e:
            print("refused after", started, e)
        lock.release()
        time.sleep(0.1)
        _thread.start_new_thread(print, ("a finished thread frees its place",))
        """,
    )
    pico = zoo_board(app, board="pico")
    esp32 = zoo_board(app, board="esp32")
    assert pico.wait_for_event("refused") == "refused after 1 can't create thread: this board runs at most 1"
    assert esp32.wait_for_event("refused") == "refused after 4 can't create thread: this board runs at most 4"
    pico.wait_for_event("a finished thread frees its place")
