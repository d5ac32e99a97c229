"""The smallest heap at which examples/sensor_node runs on a virtual board, with its bridge and without.

  python bench/board.py [--board esp32|all] [--step 2] [--tries 2]

The example is deployed the way `zoo-micro deploy` does by default (.mpy) to the board's virtual
board (tests/host/test_board_example.py runs the same at the board's own heap), with the heap
overridden; a run passes when the board printed no MemoryError and no uncaught error and, for the
bridged example, the host heard two health reports through `Bridge` (without the bridge: two
"health:" lines on the console). The heap is bisected in `--step` KB; a heap passes only when
`--tries` runs in a row pass, as the collector's timing moves the edge by a few KB. The example
without its bridge is the baseline: the difference is what the bridge costs the node. One JSON line
per figure, with the board's own heap and the margin left.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "host"))  # the example's bridged variant is test code

from heapsearch import smallest_heap  # noqa: E402 - bench/ is the script's folder
from test_board_example import EXAMPLE, Heard, bridged_example  # noqa: E402

from host_tools.boards import all_boards  # noqa: E402
from host_tools.bridge import Bridge  # noqa: E402
from host_tools.deploy import deploy  # noqa: E402
from host_tools.sim.virtual_board import VirtualBoard  # noqa: E402

REPORTS = 2  # health reports to see (every 2 s): the node kept running past its first one
TIMEOUT = 30.0


def run(board_id: str, heap_kb: int, bridge: bool) -> tuple[bool, str]:
    """One run of the example at heap_kb on the board's virtual board; (passed, what happened)."""
    tmp = Path(tempfile.mkdtemp(prefix="zoo-bench-board-"))
    try:
        app = tmp / "sensor_node"
        if bridge:
            bridged_example(app)
        else:
            shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns("__pycache__", "state.json"))
        vb = VirtualBoard(None, board=board_id, install_lib=False, link=tmp / "port", heap_kb=heap_kb).start()
        try:
            deploy(app, vb.port)
            deadline = time.monotonic() + TIMEOUT
            if bridge:
                heard = Heard()
                with Bridge(vb.port, sinks=[heard]), heard.cond:
                    while len(heard.health) < REPORTS and not vb.errors and time.monotonic() < deadline:
                        heard.cond.wait(0.2)
                seen = len(heard.health)
            else:
                while vb.output.count("health:") < REPORTS and not vb.errors and time.monotonic() < deadline:
                    time.sleep(0.2)
                seen = vb.output.count("health:")
            out = vb.output
        finally:
            vb.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if "MemoryError" in out:
        return False, "MemoryError: " + out[out.index("MemoryError") :][:120]
    if seen < REPORTS:
        return False, f"{seen} health reports in {TIMEOUT:.0f} s"
    return True, f"{seen} health reports"


def main() -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="esp32", help="a board id, or 'all'")
    p.add_argument("--step", type=int, default=2, help="bisection step, KB")
    p.add_argument("--tries", type=int, default=2, help="runs in a row a heap must pass")
    args = p.parse_args()
    boards = [b for b in all_boards() if args.board in ("all", b.id)]
    if not boards:
        p.error(f"no board {args.board!r}; known: {', '.join(b.id for b in all_boards())}")
    for b in boards:
        for bridge in (False, True):
            last: dict[int, str] = {}

            def ok(kb: int, b=b, bridge=bridge, last=last) -> bool:
                for _ in range(args.tries):
                    passed, what = run(b.id, kb, bridge)
                    last[kb] = what
                    if not passed:
                        return False
                return True

            kb = smallest_heap(ok, 32, 256, args.step)
            row = {"bench": "board", "board": b.id, "board_heap_kb": b.heap_kb, "unit": "KB", "code": "mpy"}
            row["figure"] = "sensor_node_bridge_min_heap" if bridge else "sensor_node_min_heap"
            row["value"] = kb
            if kb is not None:
                row["margin_kb"] = b.heap_kb - kb
            fails = [k for k in last if kb is None or k < kb]
            if fails:
                row["below"] = last[max(fails)]  # why the next step down failed
            if not bridge:
                row["note"] = "baseline: the same example without its bridge"
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
