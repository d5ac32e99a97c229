"""Deploy benchmark, one JSON line per figure, all against virtual boards (zoo-micro sim):

zoo-micro deploy of examples/sensor_node and zoo_micro to a blank board, full and unchanged;
mpremote fs cp -r of the same files, full and unchanged, in the same run (the baseline);
zoo-micro watch: time from saving main.py to the new code printing on the board.

python bench/deploy.py [--runs N] [--board esp32]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_tools.deploy import deploy, plan_files  # noqa: E402
from host_tools.sim import VirtualBoard  # noqa: E402
from host_tools.watch import watch  # noqa: E402


def emit(figure: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": "deploy", "figure": figure, "value": round(value, 4), "unit": unit, **extra}),
          flush=True)  # fmt: skip


def the_app(tmp: Path) -> Path:
    """A copy of examples/sensor_node, or a generated app of about its size if it is missing."""
    app = tmp / "sensor_node"
    source = ROOT / "examples" / "sensor_node"
    if (source / "main.py").is_file():
        shutil.copytree(source, app, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        return app
    app.mkdir()
    (app / "main.py").write_text("import node\nprint('node', node.N)\n")
    (app / "node.py").write_text(
        "N = 1\n" + "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(300))
    )
    return app


def blank(tmp: Path, name: str, board: str) -> VirtualBoard:
    return VirtualBoard(None, board=board, install_lib=False, link=tmp / name).start()


def bench_deploy(app: Path, tmp: Path, board: str, runs: int) -> None:
    files = plan_files(app)
    total = sum(len(f.data) for f in files)
    full, again, inner = [], [], []
    for i in range(runs):
        with blank(tmp, f"zoo{i}", board) as vb:
            # the command, as a person runs it; it ends by soft-resetting the board into the app
            cmd = [sys.executable, "-m", "host_tools.cli.main", "deploy", str(app), "--port", vb.port]
            for times in (full, again):
                t0 = time.monotonic()
                out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
                times.append(time.monotonic() - t0)
            assert out.startswith("copied 0 files"), out
            inner.append(deploy(app, vb.port).seconds)  # the library call, without a Python start
    emit("zoo-micro deploy, full", statistics.median(full), "s", files=len(files), bytes=total, runs=runs)
    emit("zoo-micro deploy, unchanged", statistics.median(again), "s", files=len(files), copied=0, runs=runs)
    emit("zoo-micro deploy, unchanged, library call", statistics.median(inner), "s", runs=runs)

    # The same files laid out as on the board, for mpremote to copy with cp -r.
    tree = tmp / "tree"
    for f in files:
        (tree / f.remote).parent.mkdir(parents=True, exist_ok=True)
        (tree / f.remote).write_bytes(f.data)
    tops = sorted(str(p) for p in tree.iterdir())
    full, again = [], []
    for i in range(runs):
        with blank(tmp, f"mpr{i}", board) as vb:
            # the pty's own name: given a link, mpremote polls the port every 10 ms and is far slower
            cmd = [sys.executable, "-m", "mpremote", "connect", vb.pty, "fs", "cp", "-r", *tops, ":"]
            for times in (full, again):
                t0 = time.monotonic()
                subprocess.run(cmd, check=True, capture_output=True)
                times.append(time.monotonic() - t0)
    emit("mpremote fs cp -r, full", statistics.median(full), "s", files=len(files), bytes=total, runs=runs)
    emit("mpremote fs cp -r, unchanged", statistics.median(again), "s", files=len(files), runs=runs)


def bench_watch(app: Path, tmp: Path, board: str, saves: int) -> None:
    main = app / "main.py"
    original = main.read_text()
    with blank(tmp, "watch", board) as vb:
        stop = threading.Event()
        synced = threading.Semaphore(0)
        t = threading.Thread(target=watch, args=(app, vb.port), daemon=True,
                             kwargs={"stop": stop, "on_sync": lambda r: synced.release()})  # fmt: skip
        t.start()
        synced.acquire(timeout=60)
        times = []
        for i in range(saves):
            time.sleep(0.3)
            token = f"bench save {i}"
            t0 = time.monotonic()
            main.write_text(f"print({token!r})\n" + original)
            vb.wait_for_output(token, timeout=30)
            times.append(time.monotonic() - t0)
        stop.set()
        t.join(10)
    emit("zoo-micro watch, save to running (median)", statistics.median(times), "s", saves=saves)
    emit("zoo-micro watch, save to running (worst)", max(times), "s", saves=saves)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--board", default="esp32")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoo-bench-deploy-") as tmp:
        app = the_app(Path(tmp))
        bench_deploy(app, Path(tmp), args.board, args.runs)
        bench_watch(app, Path(tmp), args.board, saves=5)


if __name__ == "__main__":
    main()
