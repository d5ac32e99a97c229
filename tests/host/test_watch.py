"""zoo-micro watch: saved changes reach the virtual board and the app restarts with them."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from host_tools.deploy import DeployResult
from host_tools.errors import UserError
from host_tools.watch import snapshot, watch

VERSION = re.compile(r"^version \w$")
LOOP = "import time\nprint('version', {v!r})\nwhile True:\n    time.sleep(0.05)\n"


def make_app(folder: Path, version: str) -> Path:
    folder.mkdir()
    (folder / "main.py").write_text(LOOP.format(v=version))
    (folder / "util.py").write_text("X = 1\n")
    return folder


class Watcher:
    def __init__(self, app: Path, port: str) -> None:
        self.stop = threading.Event()
        self.syncs: list[DeployResult] = []
        self.errors: list[UserError] = []
        self.synced = threading.Semaphore(0)
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(app, port), daemon=True)
        self.thread.start()

    def _run(self, app: Path, port: str) -> None:
        def on_sync(result: DeployResult) -> None:
            self.syncs.append(result)
            self.synced.release()

        def on_error(e: UserError) -> None:
            self.errors.append(e)
            self.synced.release()

        try:
            watch(app, port, stop=self.stop, on_sync=on_sync, on_error=on_error, timeout=5)
        except BaseException as e:
            self.failed = e
            self.synced.release()

    def wait(self) -> None:
        assert self.synced.acquire(timeout=30), "watch did not sync"
        assert self.failed is None, self.failed

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def watcher():
    made: list[Watcher] = []

    def start(app: Path, port: str) -> Watcher:
        made.append(Watcher(app, port))
        return made[-1]

    yield start
    for w in made:
        w.close()


def test_each_saved_change_is_copied_alone_and_the_app_restarts_with_it(zoo_board, watcher, tmp_path):
    board = zoo_board(None, install_lib=False, link=tmp_path / "port")
    app = make_app(tmp_path / "app", "A")
    w = watcher(app, board.port)
    w.wait()  # the first sync copies everything
    board.wait_for_event("version A")
    assert "main.py" in w.syncs[0].copied and len(w.syncs[0].copied) > 10
    for version in ("B", "C"):
        (app / "main.py").write_text(LOOP.format(v=version))
        w.wait()
        assert board.wait_for_event(VERSION) == f"version {version}"
        assert w.syncs[-1].copied == ["main.py"]
    (app / "util.py").unlink()
    w.wait()
    assert w.syncs[-1].removed == ["util.mpy"] and w.syncs[-1].copied == []  # .mpy by default
    assert not (board.flash / "util.mpy").exists()


def test_a_broken_save_keeps_the_previous_app_running_until_it_is_fixed(zoo_board, watcher, tmp_path):
    board = zoo_board(None, install_lib=False, link=tmp_path / "port")
    app = make_app(tmp_path / "app", "A")
    w = watcher(app, board.port)
    w.wait()
    board.wait_for_event("version A")
    (app / "main.py").write_text("print('version B'\n")
    w.wait()
    assert "main.py line" in str(w.errors[-1]) and "SyntaxError" in str(w.errors[-1])
    assert board.wait_for_event(VERSION) == "version A"  # restarted, still the old code
    (app / "main.py").write_text(LOOP.format(v="B"))
    w.wait()
    assert board.wait_for_event(VERSION) == "version B"


def test_snapshot_changes_when_a_file_is_saved_added_or_removed(tmp_path):
    app = make_app(tmp_path / "app", "A")
    before = snapshot(app)
    (app / "main.py").write_text(LOOP.format(v="AB"))
    saved = snapshot(app)
    assert saved != before
    (app / "new.py").write_text("\n")
    assert snapshot(app) != saved
    (app / "new.py").unlink()
    assert snapshot(app) == saved


def test_watch_command_says_what_is_wrong_in_one_line(tmp_path):
    (tmp_path / "app").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.cli.main", "watch", str(tmp_path / "app"), "--port", "/dev/null"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines()[-1].startswith(f"zoo-micro watch: {tmp_path / 'app'} has no main.py")
    )
