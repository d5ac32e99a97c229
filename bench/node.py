"""The sensor node with the bridge on: the smallest heap that delivers every event to the host.

  python bench/node.py [--events 10000] [--code DIR] [--baud N] [--heap KB]   (bench/core.py runs it)

examples/sensor_node runs on the MicroPython unix port as `main.py --bridge --events N`, its stdin
and stdout on a pty wired through a relay (paced to 115,200 baud, as a board's USB serial line) to
the host bridge library that `zoo-micro bridge` runs. A run passes when the host received one
sampler_result event per reading the node took (at least N), the node reported no dropped events
and exited cleanly. The heap is bisected in 4K steps with zoo_micro from .mpy, from .py and from a
ROMFS image (the unix port reads the image into the heap, so its size is added to the cap: the
figure is the heap the app had).
One JSON line per figure.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tty
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sensor_node"
# The host end must speak the node's protocol: with --code, that checkout's host_tools too.
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv else ROOT
sys.path.insert(0, str(CODE))
sys.path.insert(0, str(ROOT / "tests" / "host"))  # the fault-injecting relay is test code, not shipped

from bridge_apps.relay import Relay  # noqa: E402
from heapsearch import smallest_heap  # noqa: E402 - bench/ is the script's folder

from host_tools.bridge import Bridge, Sink  # noqa: E402
from host_tools.interpreter import micropython_env, micropython_path  # noqa: E402

TARGETS = {"mpy": "<= 96", "py": "<= 110"}
STALL_S = 15.0  # no event reached the host for this long: the node is stuck (or out of memory)


class Counter(Sink):
    def __init__(self) -> None:
        self.topics: dict[str, int] = {}
        self.lines: list[str] = []
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def event(self, node, topic, content, channel, priority, seq):
        with self.lock:
            self.topics[topic] = self.topics.get(topic, 0) + 1
            self.last = time.monotonic()
        return True

    def text(self, port, line):
        with self.lock:
            self.lines.append(line)
            self.last = time.monotonic()


def run_node(heap_kb: int, paths: list[Path], events: int, boot: str | None = None, baud: int | None = None):
    """One run of the example at heap_kb; (passed, what happened)."""
    flash = Path(tempfile.mkdtemp(prefix="zoo-bench-node-"))  # the node's flash: a fresh state.json
    try:
        for f in EXAMPLE.glob("*.py"):
            shutil.copy(f, flash / f.name)
        for p in paths:  # zoo_micro in lib/, as deploy installs it: its files' names as on a board
            shutil.copytree(Path(p) / "zoo_micro", flash / "lib" / "zoo_micro")
        script = "main.py"
        if boot is not None:  # code that mounts the ROMFS image, then runs the app
            (flash / "boot_romfs.py").write_text(boot + "import main\n")
            script = "boot_romfs.py"
        master, slave = os.openpty()
        tty.setraw(slave)
        proc = subprocess.Popen(
            [micropython_path(), "-X", f"heapsize={heap_kb}K", script, "--bridge", "--events", str(events)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=flash,
            env=micropython_env(["lib"] if paths else []),
        )
        os.close(slave)
        relay = Relay(master, baud=baud or None).start()
        sink = Counter()
        bridge = Bridge(relay.url, [sink]).start()
        try:
            while proc.poll() is None and time.monotonic() - sink.last < STALL_S:
                time.sleep(0.05)
            stalled = proc.poll() is None
            if stalled:
                proc.kill()
            proc.wait(5)
            time.sleep(0.3)  # the last lines on their way through the relay
        finally:
            bridge.stop()
            relay.stop()
            os.close(master)
    finally:
        shutil.rmtree(flash, ignore_errors=True)
    got = sink.topics.get("sampler_result", 0)
    text = "\n".join(sink.lines)
    taken = None
    for line in sink.lines:  # readings {'count': N, ...}; mode ...
        if line.startswith("readings {"):
            taken = int(line.split("'count': ")[1].split(",")[0])
    if stalled:
        return False, f"stalled after {got} events: {text[-200:]}"
    if proc.returncode != 0:
        return False, f"exit {proc.returncode} after {got} events: {text[-200:]}"
    if "dropped=0" not in text or taken is None or taken < events or got != taken:
        return False, f"host got {got} of {taken} readings: {text[-200:]}"
    return True, f"host got all {got} readings"


def figures(
    code: Path,
    mpy: Path,
    events: int = 10000,
    baud: int | None = 115200,
    hi_kb: int = 256,
    romfs_boot: str | None = None,
    romfs_kb: int = 0,
    romfs_skipped: str = "",
) -> None:
    """Rows for zoo_micro from code/ (.py), mpy/ (.mpy) and, given its mount code, a ROMFS image."""
    variants = [("mpy", [mpy], None, 0), ("py", [code], None, 0)]
    if romfs_boot is not None:
        variants.append(("romfs", [], romfs_boot, romfs_kb))
    else:
        print(json.dumps({"bench": "node", "figure": "sensor_node_bridge_min_heap_romfs",
                          "skipped": romfs_skipped or "no ROMFS image given"}), flush=True)  # fmt: skip

    def one(name, paths, boot, extra_kb):
        last = {}

        def ok(kb):
            passed, what = run_node(kb + extra_kb, paths, events, boot, baud)
            last[kb] = what
            return passed

        kb = smallest_heap(ok, 16, hi_kb)
        row = {"bench": "node", "interpreter": "micropython", "figure": "sensor_node_bridge_min_heap_" + name}
        row.update(value=kb, unit="KB", code=name, events=events)
        if name in TARGETS:
            row["target"] = TARGETS[name]
        if name == "romfs":
            row["note"] = "heap the app had; the %d KB image read into the heap is not counted" % extra_kb
        if kb is None:
            row["error"] = last.get(hi_kb, "")
        else:
            fails = [k for k in last if k < kb]
            if fails:
                row["below"] = last[max(fails)]  # why the next step down failed
        return row

    # The runs wait on the serial line's pace far more than they compute: the variants run side by side.
    with ThreadPoolExecutor(len(variants)) as pool:
        for row in pool.map(lambda v: one(*v), variants):
            print(json.dumps(row), flush=True)


def compile_zoo_micro(code: Path) -> Path:
    """That checkout's zoo_micro compiled as its deploy compiles it (bench/core.py does the work)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_core", ROOT / "bench" / "core.py")
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    out = tempfile.mkdtemp(prefix="zoo-bench-mpy-")
    atexit.register(shutil.rmtree, out, True)
    return Path(core.compile_tree(str(code), out))


def main() -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10000)
    p.add_argument("--code", default=None, help="checkout whose zoo_micro to measure (default: this one)")
    p.add_argument("--mpy", default=None, help="that zoo_micro compiled (a folder holding zoo_micro/)")
    p.add_argument("--baud", type=int, default=115200, help="the line's rate (0: unpaced)")
    p.add_argument("--heap", type=int, default=None, help="one run at this heap (KB, .mpy); no bisection")
    p.add_argument("--romfs-boot", default=None, help="MicroPython code (a file) mounting the ROMFS image")
    p.add_argument("--romfs-kb", type=int, default=0, help="the image's size, added to the heap cap")
    p.add_argument("--romfs-skipped", default="", help="why there is no image, for the report")
    args = p.parse_args()
    mpy = Path(args.mpy) if args.mpy else compile_zoo_micro(CODE)
    if args.heap:
        passed, what = run_node(args.heap, [mpy], args.events, None, args.baud)
        print(json.dumps({"bench": "node", "heap_kb": args.heap, "passed": passed, "detail": what}))
        return 0 if passed else 1
    boot = Path(args.romfs_boot).read_text() if args.romfs_boot else None
    figures(CODE, mpy, args.events, args.baud, romfs_boot=boot, romfs_kb=args.romfs_kb,
            romfs_skipped=args.romfs_skipped)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
