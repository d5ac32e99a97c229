"""What `zoo-micro sim` installs on a kept flash folder: the app as it is now, and nothing of an
earlier version of it — files gone from the app are gone from the board, as after a deploy."""

from __future__ import annotations

from pathlib import Path

from host_tools.sim.virtual_board import VirtualBoard

LISTS = "import os\nprint('files', sorted(os.listdir('/')))\n"


def make_app(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_a_file_gone_from_the_app_is_gone_from_the_flash_at_the_next_start(tmp_path):
    app = make_app(tmp_path / "app", {"main.py": LISTS, "old.py": "X = 1\n", "kept.py": "Y = 2\n"})
    flash = tmp_path / "flash"
    with VirtualBoard(app, flash_dir=flash, install_lib=False) as board:
        first = board.wait_for_event("files")
    assert "'old.mpy'" in first and "'kept.mpy'" in first
    (flash / "made_by_the_app.txt").write_text("data the app wrote")  # not the deploy's: it stays
    (app / "old.py").unlink()
    with VirtualBoard(app, flash_dir=flash, install_lib=False) as board:
        second = board.wait_for_event("files")
    assert "'old.mpy'" not in second and "'kept.mpy'" in second, second
    assert not (flash / "old.mpy").exists()
    assert (flash / "made_by_the_app.txt").read_text() == "data the app wrote"


def test_a_file_switched_from_mpy_to_source_leaves_no_stale_copy(tmp_path):
    app = make_app(tmp_path / "app", {"main.py": LISTS, "util.py": "Z = 3\n"})
    flash = tmp_path / "flash"
    with VirtualBoard(app, flash_dir=flash, install_lib=False) as board:
        board.wait_for_event("files")
    assert (flash / "util.mpy").is_file()
    with VirtualBoard(app, flash_dir=flash, install_lib=False, mpy=False) as board:
        files = board.wait_for_event("files")
    # util.mpy would shadow the new util.py on the board's import path
    assert "'util.py'" in files and "'util.mpy'" not in files, files
