"""Deploy's planning without a board: what changes, what is stale, the swap order, the board-side helper."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from host_tools.deploy.plan import (
    LIB,
    STAGE,
    FileToCopy,
    changes,
    check_space,
    check_syntax,
    manifest_text,
    parents,
    plan_files,
    stale_files,
    swap,
)
from host_tools.deploy.session import HELPER, helper_cleanup, helper_code
from host_tools.errors import UserError
from host_tools.interpreter import run_micropython
from host_tools.mpy import unix_port_arch


def file(remote: str, data: bytes = b"x", source: Path = Path("unused.py")) -> FileToCopy:
    return FileToCopy(remote, data, source, hashlib.sha256(data).hexdigest())


def make_app(folder: Path) -> Path:
    folder.mkdir()
    (folder / "main.py").write_text("import helper\n")
    (folder / "helper.py").write_text("NAME = 'helper'\n")
    (folder / "tests").mkdir()
    (folder / "tests" / "test_helper.py").write_text("def test():\n    pass\n")
    return folder


def test_only_files_whose_hash_differs_or_are_missing_are_copied():
    same, changed, new = file("main.py", b"a"), file("helper.mpy", b"b"), file("data/cal.json", b"c")
    on_board = {"main.py": same.sha256, "helper.mpy": "0" * 64, "data/cal.json": None}
    plan = changes([same, changed, new], on_board, None, "blink")
    assert [f.remote for f in plan.to_copy] == ["helper.mpy", "data/cal.json"]
    assert plan.skipped == ["main.py"] and plan.removed == []


def test_the_same_apps_leftovers_are_removed_but_only_zoo_micros_of_another_app():
    files = [file("main.py"), file(f"{LIB}/__init__.mpy")]
    old = manifest_text("blink", [file("main.py"), file("old.mpy"), file(f"{LIB}/gone.mpy")])
    assert stale_files(old, "blink", files) == [f"{LIB}/gone.mpy", "old.mpy"]
    assert stale_files(old, "other", files) == [f"{LIB}/gone.mpy"]
    assert changes(files, {}, old, "blink").removed == [f"{LIB}/gone.mpy", "old.mpy"]


@pytest.mark.parametrize("manifest", [None, "", "not json", '{"app": "blink"}', "[1, 2]"])
def test_a_missing_or_damaged_manifest_removes_nothing(manifest):
    assert stale_files(manifest, "blink", [file("main.py")]) == []


def test_folders_are_made_shallowest_first():
    assert parents(["/a/b/c.py", "/a/d.py", "/e.py", "/a/b/f/g.py"]) == ["/a", "/a/b", "/a/b/f"]


def test_the_swap_stages_every_file_then_moves_it_and_keeps_lib():
    steps = swap(["main.py", f"{LIB}/link/frame.mpy"], ["lib/old/x.mpy"])
    assert steps.staged == [f"{STAGE}/main.py", f"{STAGE}/{LIB}/link/frame.mpy"]
    assert steps.stage_dirs == [STAGE, f"{STAGE}/lib", f"{STAGE}/{LIB}", f"{STAGE}/{LIB}/link"]
    assert steps.moves == [
        (f"{STAGE}/main.py", "/main.py"),
        (f"{STAGE}/{LIB}/link/frame.mpy", f"/{LIB}/link/frame.mpy"),
    ]
    assert steps.final_dirs == ["/lib", f"/{LIB}", f"/{LIB}/link"]
    assert steps.removes == ["/lib/old/x.mpy"]
    depth = [d.count("/") for d in steps.emptied[:-1]]
    assert depth == sorted(depth, reverse=True)  # a folder is tried only after the ones inside it
    assert steps.emptied[-1] == STAGE and "/lib" not in steps.emptied and "/lib/old" in steps.emptied


def test_a_swap_with_nothing_to_copy_leaves_the_stage_alone():
    steps = swap([], ["old.mpy"])
    assert steps.staged == steps.moves == steps.final_dirs == [] and steps.emptied == []
    assert steps.removes == ["/old.mpy"]


def test_space_is_counted_in_whole_blocks():
    files = [file("a.py", b"x" * 10), file("b.py", b"x" * 4097)]
    check_space(3 * 4096, 4096, files, "/dev/ttyUSB0")
    with pytest.raises(UserError, match=r"need 12 KB and /dev/ttyUSB0 has 11 KB free"):
        check_space(3 * 4096 - 1, 4096, files, "/dev/ttyUSB0")


def test_planned_files_are_mpy_but_main_and_the_apps_tests_stay_home(tmp_path):
    app = make_app(tmp_path / "blink")
    remotes = {f.remote for f in plan_files(app, lib=False, mpy_arch=unix_port_arch())}
    assert remotes == {"main.py", "helper.mpy"}
    with_lib = {f.remote for f in plan_files(app, lib=True, mpy_arch=None)}
    assert f"{LIB}/__init__.py" in with_lib and "helper.py" in with_lib


def test_a_syntax_error_in_an_app_file_is_one_line(tmp_path):
    (tmp_path / "helper.py").write_text("NAME = (\n")
    with pytest.raises(UserError, match=r"^helper.py line \d+: SyntaxError: .*nothing on the board changed"):
        check_syntax([file("helper.py", source=tmp_path / "helper.py")])


def test_the_board_helper_hashes_files_as_the_host_does_and_cleans_up(tmp_path):
    (tmp_path / "f.bin").write_bytes(bytes(range(256)) * 5)
    script = (
        helper_code()
        + f"print(_zd_hash({str(tmp_path / 'f.bin')!r}), _zd_hash({str(tmp_path / 'none')!r}))\n"
        + f"_zd_mkdirs([{str(tmp_path / 'd')!r}, {str(tmp_path / 'd' / 'e')!r}])\n"
        + helper_cleanup()
        + "\nprint(sorted(n for n in globals() if n.startswith('_zd')))\n"
    )
    proc = run_micropython(["-c", script], [], heapsize="64K", timeout=30)
    assert proc.stdout.splitlines() == [f"{hashlib.sha256(bytes(range(256)) * 5).hexdigest()} None", "[]"]
    assert (tmp_path / "d" / "e").is_dir()
    assert HELPER.suffix == ".py"


def host_littered_app(folder: Path) -> Path:
    """An app after a run of main.py and pytest on the host, with its own .zooignore."""
    app = make_app(folder)
    (app / "config.json").write_text('{"name": "n", "state_path": "data/kv.json"}')
    for name in ("state.json", "state.json.bak", "state.json.tmp", "state.json.bad"):
        (app / name).write_text("{}")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"junk")
    (app / "helper.pyc").write_bytes(b"junk")
    (app / ".pytest_cache").mkdir()
    (app / ".pytest_cache" / "README.md").write_text("cache")
    (app / "data").mkdir()
    (app / "data" / "kv.json").write_text("{}")
    (app / "data" / "kv.json.bak").write_text("{}")
    (app / "data" / "table.csv").write_text("1,2\n")
    (app / "data" / "debug.log").write_text("noise\n")
    (app / "notes").mkdir()
    (app / "notes" / "todo.txt").write_text("later\n")
    (app / "drivers" / "tests").mkdir(parents=True)  # a package's own folder named tests is the app's
    (app / "drivers" / "tests" / "probe.py").write_text("X = 1\n")
    (app / "secret.txt").write_text("key\n")
    (app / ".zooignore").write_text("# not for the board\n*.log\nnotes/\n\n/secret.txt\n")
    return app


def test_host_artefacts_tests_and_what_zooignore_names_never_go_to_the_board(tmp_path):
    app = host_littered_app(tmp_path / "blink")
    remotes = {f.remote for f in plan_files(app, lib=False, mpy_arch=None)}
    assert remotes == {"main.py", "helper.py", "config.json", "data/table.csv", "drivers/tests/probe.py"}
