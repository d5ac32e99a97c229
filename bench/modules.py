# What each zoo_micro module costs on a board's heap, and when a node loads it: JSON lines.
#   python bench/modules.py
# zoo_micro is compiled as deploy installs it (.mpy, host_tools.mpy); each module is imported
# after the ones it needs, on the MicroPython unix port with asyncio loaded, and its figure is
# the heap that import added (gc.mem_alloc after gc.collect). The qstr column is how many names
# the board interned for it; every few hundred names the interpreter allocates its next, twice
# as large, block of them, which lands on whichever module crosses the line.
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_tools.interpreter import micropython_env, micropython_path  # noqa: E402
from host_tools.mpy import compile_file  # noqa: E402

# (module, when a node loads it), in an order where each module's imports come first.
MODULES = [
    ("zoo_micro", "import"),
    ("zoo_micro.port", "import"),
    ("zoo_micro.log", "import"),
    ("zoo_micro.workers", "import"),
    ("zoo_micro.bus", "import"),
    ("zoo_micro.master", "import"),
    ("zoo_micro.lazy", "a rarely used method's lookup (then forgotten)"),
    ("zoo_micro.config", "while a Master reads its config (then forgotten)"),
    ("zoo_micro.assemble", "from Master() until it starts (then forgotten)"),
    ("zoo_micro.svm", "Master() (health checks on)"),
    ("zoo_micro.decorators", "@worker, @event"),
    ("zoo_micro.shutdown", "while a node stops (then forgotten)"),
    ("zoo_micro.stats", "stats()"),
    ("zoo_micro.worker_stats", "get_worker_stats()"),
    ("zoo_micro.validate", "while a config is checked (then forgotten)"),
    ("zoo_micro.reactors", "handler options, failures, response mechanisms"),
    ("zoo_micro.fifo", "FIFO, or thread workers"),
    ("zoo_micro.waker", "thread workers, interrupts"),
    ("zoo_micro.threads", "thread workers, threads: true, publish_isr"),
    ("zoo_micro.cages", "Cage, @cage"),
    ("zoo_micro.delay_fifo", "DelayFIFO"),
    ("zoo_micro.single_fifo", "SingleFIFO"),
    ("zoo_micro.plugins", "plugins (config keys or master.plugins)"),
    ("zoo_micro.plugins_load", "while plugins load or unload (then forgotten)"),
    ("zoo_micro.channels", "EventChannelManager"),
    ("zoo_micro.results", "a handler on the 'waiter' topic"),
    ("zoo_micro.watchdog", "config watchdog"),
    ("zoo_micro.scheduler", "config schedule"),
    ("zoo_micro.flashfile", "the state store"),
    ("zoo_micro.state", "StateMachineManager"),
    ("zoo_micro.state_load", "while the state file is read (then forgotten)"),
    ("zoo_micro.state_recover", "while a missing or damaged state file is handled (then forgotten)"),
    ("zoo_micro.state_view", "get_state_machines()"),
    ("zoo_micro.fsm", "StateMachine"),
    ("zoo_micro.clock", "a link"),
    ("zoo_micro.link.plugin", "config bridge (with the session, outbox and frame it imports)"),
    ("zoo_micro.link.journal", "bridge journal"),
    ("zoo_micro.mqtt.plugin", "config mqtt (with the modules it imports)"),
]

PROBE = """
import gc, micropython, sys
import asyncio
gc.collect()
last = gc.mem_alloc()
for mod in sys.argv[1:]:
    try:
        __import__(mod)
    except ImportError as e:
        print("skip", mod, repr(e))
        continue
    gc.collect()
    now = gc.mem_alloc()
    print("cost", mod, now - last)
    micropython.qstr_info()  # prints the interned names' count and the bytes their pools take
    last = now
"""


def main():
    out = Path(tempfile.mkdtemp(prefix="zoo-bench-modules-"))
    for src in sorted((ROOT / "zoo_micro").rglob("*.py")):
        rel = src.relative_to(ROOT)
        compile_file(src, out / rel.with_suffix(".mpy"), None, rel.as_posix())
    probe = out / "probe.py"
    probe.write_text(PROBE)
    r = subprocess.run(
        [micropython_path(), "-X", "heapsize=1M", str(probe)] + [m for m, _ in MODULES],
        env=micropython_env([out]),
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if r.returncode:
        sys.exit("bench/modules.py: the probe failed: " + (r.stdout + r.stderr).strip()[-300:])
    when = dict(MODULES)
    row = None
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts[0] == "cost":
            row = {"bench": "modules", "module": parts[1], "bytes": int(parts[2]), "loaded": when[parts[1]]}
        elif line.startswith("qstr pool:") and row is not None:
            fields = dict(f.split("=") for f in line[len("qstr pool:") :].replace(",", " ").split())
            row["qstrs_total"] = int(fields["n_qstr"])
            row["qstr_pools_bytes"] = int(fields["n_total_bytes"])
            print(json.dumps(row))
            row = None
    for p in sorted(out.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    out.rmdir()


if __name__ == "__main__":
    main()
