"""32-bit figures: MicroPython built for WebAssembly (npm @micropython/micropython-webassembly-pyscript)
under node, importing zoo_micro from .py and .mpy files written into its in-memory filesystem.

  python bench/wasm.py [--code DIR]     (bench/core.py runs it too)

Needs `node` and `npm` on PATH; the package is installed once into ~/.cache/zoo-micro-bench (or
$ZOO_BENCH_CACHE). Without them it prints one line saying the figures were skipped and why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "@micropython/micropython-webassembly-pyscript"
CACHE = Path(os.environ.get("ZOO_BENCH_CACHE", Path.home() / ".cache" / "zoo-micro-bench"))

# Loads the interpreter, copies the files named on stdin (JSON: [[wasm path, host path], ...]) into
# its filesystem, then runs the probe's steps; the probe's stdout is ours. Each step is its own
# runPython call: garbage a step leaves on the C stack is then not held by the next collection
# (measured in one call, this build keeps ~14 KB of import garbage alive and the figure means little).
RUNNER = """
import { loadMicroPython } from %(module)s;
import { readFileSync } from "node:fs";
const job = JSON.parse(readFileSync(0, "utf8"));
const out = { stdout: (l) => console.log(l), stderr: (l) => console.error(l) };
const mp = await loadMicroPython({ heapsize: job.heapsize, ...out });
for (const [dest, src] of job.files) {
  const dir = dest.substring(0, dest.lastIndexOf("/"));
  mp.FS.mkdirTree(dir);
  mp.FS.writeFile(dest, readFileSync(src));
}
for (const step of job.probe) {
  mp.runPython(step);
}
"""

PROBE = [
    "import gc\nimport sys\nimport asyncio\ngc.collect()\nb = gc.mem_alloc()",
    "from zoo_micro import Master",
    "gc.collect()\na = gc.mem_alloc()\nprint('master', a - b)\n"
    "print('platform', '%d.%d.%d' % sys.implementation.version[:3], 'maxsize=%d' % sys.maxsize)",
    # the plugin and the link session it imports (with outbox and frame)
    "try:\n    __import__(BRIDGE)\n    if BRIDGE == 'zoo_micro.link.plugin':\n"
    "        __import__('zoo_micro.link.session')\n    ok = True\nexcept ImportError as e:\n"
    "    print('bridge_error', repr(e))\n    ok = False",
    "gc.collect()\nif ok:\n    print('bridge', gc.mem_alloc() - a)",
]


def skipped(why: str) -> None:
    print(json.dumps({"bench": "core", "interpreter": "micropython-wasm", "skipped": why}), flush=True)


def installed_module() -> tuple[Path | None, str]:
    """The package's micropython.mjs, installing it into the cache on first use; (None, why) if not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if not p)
        return None, f"32-bit WebAssembly figures skipped: {missing} not on PATH"
    module = CACHE / "node_modules" / PACKAGE / "micropython.mjs"
    if not module.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), PACKAGE],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if r.returncode or not module.exists():
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"32-bit WebAssembly figures skipped: npm install {PACKAGE} failed: {last}"
    return module, ""


def files_of(tree: Path, suffix: str) -> list[list[str]]:
    return [
        ["/lib/" + p.relative_to(tree).as_posix(), str(p)]
        for p in sorted((tree / "zoo_micro").rglob("*" + suffix))
        if "__pycache__" not in p.parts
    ]


def run_probe(module: Path, files: list[list[str]], bridge: str, heapsize: int = 1024 * 1024) -> dict:
    runner = CACHE / "zoo_bench_runner.mjs"
    runner.write_text(RUNNER % {"module": json.dumps(module.as_uri())})
    job = {"files": files, "probe": ["BRIDGE = %r" % bridge] + PROBE, "heapsize": heapsize}
    r = subprocess.run(
        ["node", str(runner)], input=json.dumps(job), capture_output=True, text=True, timeout=120
    )
    got = {}
    for line in r.stdout.splitlines():
        key, _, value = line.partition(" ")
        got[key] = value
    if r.returncode or "master" not in got:
        raise RuntimeError((r.stdout + r.stderr).strip()[-300:])
    return got


def figures(host) -> None:
    """Rows for the checkout a bench/core.py Host measures (its .code and .mpy folders)."""
    module, why = installed_module()
    if module is None:
        skipped(why)
        return
    for code, tree, suffix in (("py", Path(host.code), ".py"), ("mpy", Path(host.mpy), ".mpy")):
        base = {"bench": "core", "interpreter": "micropython-wasm", "code": code}
        try:
            got = run_probe(module, files_of(tree, suffix), host.bridge or "zoo_micro.link.plugin")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(json.dumps(dict(base, figure="import_ram_" + code, error=str(e))), flush=True)
            continue
        base.update(unit="bytes", platform=got.get("platform", ""))
        row = dict(base, figure="import_ram_" + code, value=int(got["master"]))
        row["note"] = "32-bit WebAssembly; from zoo_micro import Master, asyncio already loaded"
        print(json.dumps(row), flush=True)
        row = dict(
            base, figure="import_ram_bridge_" + code, value=int(got["bridge"]) if "bridge" in got else None
        )
        row["note"] = "32-bit WebAssembly; import %s (and the link session) after Master" % host.bridge
        if "bridge_error" in got:
            row["error"] = got["bridge_error"]
        print(json.dumps(row), flush=True)


def main() -> int:
    import argparse
    import importlib.util

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--code", default=None, help="checkout whose zoo_micro to measure (default: this one)")
    args = p.parse_args()
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location("bench_core", here / "core.py")
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    figures(core.Host(args.code or str(here.parent)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
