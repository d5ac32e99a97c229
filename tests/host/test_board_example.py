"""examples/sensor_node with the bridge on, on each board in boards/: deployed to that board's
virtual board the way `zoo-micro deploy` does by default (.mpy), at the board's heap, it runs and its
health reports reach the host through the bridge, with no MemoryError."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from host_tools.boards import all_boards
from host_tools.bridge import Bridge, Sink
from host_tools.deploy import deploy
from host_tools.interpreter import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "sensor_node"
HEALTH = "zoo.svm.health"
REPORTS = 2  # health reports to see (every 2 s): the node kept running past its first one
TIMEOUT = 60


class Heard(Sink):
    """What the host side of the bridge hears from the node."""

    def __init__(self) -> None:
        self.health: list[dict] = []
        self.topics: set[str] = set()
        self.lines: list[str] = []
        self.cond = threading.Condition()

    def event(self, node, topic, content, channel, priority, seq):
        with self.cond:
            self.topics.add(topic)
            if topic == HEALTH and isinstance(content, dict):
                self.health.append(content)
            self.cond.notify_all()
        return True

    def text(self, port, line):
        with self.cond:
            self.lines.append(line)
            self.cond.notify_all()


def bridged_example(folder: Path) -> Path:
    """The example as a user turns its bridge on: BRIDGE = True at the top of main.py."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "state.json"))
    main = folder / "main.py"
    text = main.read_text()
    assert text.count("\nBRIDGE = False") == 1, "examples/sensor_node/main.py has no `BRIDGE = False` switch"
    main.write_text(text.replace("\nBRIDGE = False", "\nBRIDGE = True", 1))
    return folder


# Every board, the ESP32 (110 KB) at its edge: `python bench/board.py` says how much room each has.
@pytest.mark.parametrize("board_id", sorted(b.id for b in all_boards()))
def test_sensor_node_with_the_bridge_runs_on_the_board(zoo_board, tmp_path, board_id):
    app = bridged_example(tmp_path / "sensor_node")
    board = zoo_board(None, board=board_id, install_lib=False, link=tmp_path / "port")
    result = deploy(app, board.port)
    assert "lib/zoo_micro/master.mpy" in result.copied and "node.mpy" in result.copied
    heard = Heard()
    with Bridge(board.port, sinks=[heard]):
        deadline = time.monotonic() + TIMEOUT
        with heard.cond:
            while len(heard.health) < REPORTS and not board.errors and time.monotonic() < deadline:
                heard.cond.wait(0.2)
    assert "MemoryError" not in board.output, board.output[-3000:]
    assert board.errors == [], board.errors
    assert len(heard.health) >= REPORTS, (
        f"{len(heard.health)} health reports; the board printed:\n" + (board.output[-3000:])
    )
    workers = heard.health[-1]["workers"]
    assert {"sampler", "logger"} <= set(workers), workers
    # its print() output reached the host as text beside the frames (lines printed before the
    # bridge opened the port are gone, as on a board's USB port nobody has open)
    assert any(line.startswith("health: ") for line in heard.lines), heard.lines[-20:]
    assert board.profile.heap_kb == next(b.heap_kb for b in all_boards() if b.id == board_id)
