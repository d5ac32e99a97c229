"""Every command and code block in README.md and docs/*.md runs as written, or says in the doc why it
cannot (an HTML comment `<!-- not run: REASON -->` on the line before its fence: it needs a real board,
a network, a toolchain).

Blocks are told apart by what they hold: `python` blocks are code; a block with a command line
(zoo-micro, mpremote, micropython, python, ...) holds commands; anything else (diagrams, listings,
output, usage synopses) is text and is not run. Each code and command block has a runner here, keyed by
its doc and its first line, or a strict expected failure naming what is wrong with it. The commands run
in a scratch copy of the project's layout (the venv, zoo_micro, host_tools and boards linked, the
examples copied, so an app run there writes nothing into the checkout); `/tmp/` paths in them move
into the scratch folder, and `--seconds N` becomes `--seconds 3`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from host_tools.interpreter import PROJECT_ROOT

DOCS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
COMMAND_WORDS = (
    "zoo-micro", ".venv/bin/", "../../.venv/bin/", "./setup.sh", "mpremote", "micropython", "python", "pip ",
    "cd ", "git ", "make ", "echo ", "socat ", "MICROPYPATH=", "PYTHONPATH=",
)  # fmt: skip
NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")
SECONDS = 3  # how long a command given --seconds runs here
VENV_BIN = Path(sys.executable).parent


@dataclass
class Block:
    doc: str  # "README.md", "docs/simulation.md"
    line: int  # of the opening fence
    lang: str
    text: str
    not_run: str | None  # the doc's reason, when it marks the block

    @property
    def key(self) -> tuple[str, str]:
        return self.doc, next(ln.strip() for ln in self.text.splitlines() if ln.strip())

    @property
    def kind(self) -> str:
        if self.lang == "python":
            return "code"
        return "commands" if any(is_command(ln) for ln in self.text.splitlines()) else "text"

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def is_command(line: str) -> bool:
    s = line.strip().removeprefix("$ ")
    # not a usage synopsis, nor output such as "zoo-micro sim: the app ran out of memory"
    return s.startswith(COMMAND_WORDS) and "[--" not in s and not re.match(r"^[\w.-]+( \w+)?:\s", s)


def blocks() -> list[Block]:
    found = []
    for path in DOCS:
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
            if not m:
                i += 1
                continue
            indent = len(m.group(1))
            j = i + 1
            while not re.match(r"^\s*```\s*$", lines[j]):
                j += 1
            body = "\n".join(ln[indent:] for ln in lines[i + 1 : j]) + "\n"
            before = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
            mark = NOT_RUN.search(before)
            found.append(Block(path.relative_to(PROJECT_ROOT).as_posix(), i + 1, m.group(2), body,
                               mark.group(1) if mark else None))  # fmt: skip
            i = j + 1
    return found


def block(doc: str, first: str) -> Block:
    """The block of doc whose first line starts with first."""
    return next(b for b in blocks() if b.doc == doc and b.key[1].startswith(first))


def entry(table: dict, b: Block):
    """The table's entry for the block: its doc, and the start of its first line."""
    found = [k for k in table if k[0] == b.doc and b.key[1].startswith(k[1])]
    assert len(found) <= 1, f"{b.id} matches {found}"
    return found[0] if found else None


# The scratch project and the commands


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name in (".venv", "zoo_micro", "host_tools", "boards", "firmware"):
        if (PROJECT_ROOT / name).exists():
            (root / name).symlink_to(PROJECT_ROOT / name)
    shutil.copytree(PROJECT_ROOT / "examples", root / "examples",
                    ignore=shutil.ignore_patterns("state.json*", "__pycache__"))  # fmt: skip
    (root / "tmp").mkdir()
    return root


def env_for(root: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(PROJECT_ROOT)  # the checkout's host_tools, as the venv's editable install
    return env


def adapt(line: str, root: Path) -> str:
    line = line.replace("/tmp/", f"{root}/tmp/")
    return re.sub(r"--seconds \d+", f"--seconds {SECONDS}", line)


def run_commands(text: str, root: Path, skip: tuple[str, ...] = ()) -> list[subprocess.CompletedProcess]:
    """Each command line of the block in turn (a `cd` moves the rest), in the scratch project. A command
    that ends with `&` runs in the background until the block is done; the next one waits for the
    port it makes (--link). The lines that are not commands are output and are not run."""
    cwd = root
    env = env_for(root)
    done = []
    background: list[subprocess.Popen] = []
    try:
        for raw in text.splitlines():
            if not is_command(raw) or raw.strip().startswith(skip):
                continue
            line = adapt(raw.split("  #")[0].strip().removeprefix("$ "), root)
            for part in line.split(" && "):
                if part.startswith("cd "):
                    cwd = (cwd / part[3:].strip()).resolve()
                    continue
                if part.endswith("&"):
                    p = subprocess.Popen(part[:-1], shell=True, cwd=cwd, env=env, start_new_session=True,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
                    background.append(p)
                    link = re.search(r"--link (\S+)", part)
                    ctl = re.search(r"--control (\S+)", part)
                    wait_for_path(Path(link.group(1)) if link else None, p)
                    wait_for_path(Path(ctl.group(1)) if ctl else None, p)
                    continue
                proc = subprocess.run(part, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                                      timeout=120)  # fmt: skip
                assert proc.returncode == 0, f"{part}\n{proc.stdout}{proc.stderr}"
                done.append(proc)
    finally:
        for p in background:
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    return done


def wait_for_path(path: Path | None, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while path is not None and not path.exists():
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "it ended"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def run_python(code: str, cwd: Path, interp: str = "cpython") -> subprocess.CompletedProcess:
    (cwd / "_block.py").write_text(code)
    proc = subprocess.run([sys.executable, "_block.py"], cwd=cwd, env=env_for(cwd), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def files_of(doc: str) -> dict[str, str]:
    """The doc's python blocks whose first line names a file: {"greenhouse/main.py": source}."""
    return {b.key[1][2:]: b.text for b in blocks() if b.doc == doc and b.kind == "code"
            and re.match(r"# \S+\.py$", b.key[1])}  # fmt: skip


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def run_pytest(root: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=root,
                          env=env_for(root), capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Runners, one per code or command block: (doc, first line) -> fn(block, scratch)


def suite_collects(line: str) -> None:
    """A command that runs this project's own tests: CI runs them, so here they are only collected (in the
    checkout itself: collecting writes nothing)."""
    cmd = re.sub(
        r" -n \d+", "", line.split("  #")[0].strip().removeprefix("$ ").replace("./setup.sh && ", "")
    )
    cmd = cmd.replace("-m pytest", "-m pytest --collect-only -p no:cacheprovider")
    proc = subprocess.run(cmd, shell=True, cwd=PROJECT_ROOT, env=env_for(PROJECT_ROOT), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0 and " collected" in proc.stdout, proc.stdout[-2000:] + proc.stderr


def readme_quick_start(b: Block, root: Path) -> None:
    # The scratch project is what ./setup.sh made; the second line runs this test suite.
    first, suite = b.text.splitlines()[:2]
    run_commands(first.replace("./setup.sh && ", ""), root)
    suite_collects(suite)


def conformance_suite(b: Block, root: Path) -> None:
    suite_collects(b.text.strip())


def readme_tour(b: Block, root: Path) -> None:
    assert "master.run(10)" in b.text
    out = run_python(
        b.text.replace("master.run(10)", "master.run(1.2)\nprint('STATS', master.stats())"), root
    )
    assert "'Sampler': {" in out.stdout.split("STATS", 1)[1]


def readme_greenhouse_test(b: Block, root: Path) -> None:
    write_files(root, files_of("docs/simulation.md"))
    (root / "greenhouse" / "tests" / "test_alarm.py").write_text(b.text)
    run_pytest(root, "greenhouse/tests")


def readme_run_the_example(b: Block, root: Path) -> None:
    run_commands(b.text, root)


def bridge_node_and_library(b: Block, root: Path) -> None:
    from host_tools.sim import VirtualBoard

    app = root / "n1"
    app.mkdir()
    (app / "main.py").write_text(block("docs/bridge.md", "from zoo_micro import Master").text)
    with VirtualBoard(app, board="esp32") as board:
        code = b.text.replace('"/dev/ttyACM0"', repr(board.port)).replace("    ...\n", "")
        run_python(code, root)
        assert board.app_error is None


def bridge_node(b: Block, root: Path) -> None:
    bridge_node_and_library(block("docs/bridge.md", "from host_tools.bridge import Bridge, JsonSink"), root)


def state_calls(b: Block, root: Path) -> None:
    run_python(b.text, root)


def framework_app_loads(b: Block, root: Path) -> None:
    # as `zoo-micro bridge --app greenhouse.py` loads it: imported, so its __main__ block stays out
    pytest.importorskip("zoo_framework")
    (root / "greenhouse.py").write_text(b.text)
    run_python("import greenhouse\nassert greenhouse.sink.down == {'fan.set'} or greenhouse.sink\n", root)


def zoo_framework_names(b: Block, root: Path) -> None:
    pytest.importorskip("zoo_framework")
    run_python(b.text, root)


def sim_with_mpremote(b: Block, root: Path) -> None:
    write_files(root, files_of("docs/simulation.md"))
    (root / "notes.txt").write_text("a note\n")  # the files the commands name
    (root / "mymodule.py").write_text("print('mymodule imported')\n")
    out = run_commands(b.text, root)
    assert "main.py" in out[0].stdout  # os.listdir() of the board's flash
    assert "notes.txt" in out[2].stdout  # fs ls
    assert "mymodule imported" in out[4].stdout


def sim_scripting(b: Block, root: Path) -> None:
    write_files(root, files_of("docs/simulation.md"))
    run_python(b.text.replace("/tmp/board", str(root / "tmp" / "board")), root)


def sim_control_socket(b: Block, root: Path) -> None:
    write_files(root, files_of("docs/simulation.md"))
    out = run_commands(b.text, root)
    answers = [ln for ln in b.text.splitlines() if ln.startswith("{")]
    assert [p.stdout.strip() for p in out[: len(answers)]] == answers


def sim_new_app_test(b: Block, root: Path) -> None:
    run_commands("zoo-micro new greenhouse --board pico", root)
    written = sorted((root / "greenhouse" / "tests").glob("test_*.py"))
    assert [p.read_text() for p in written] == [b.text]  # what `new` writes
    run_pytest(root, "greenhouse/tests")


def sim_greenhouse(b: Block, root: Path) -> None:
    write_files(root, files_of("docs/simulation.md"))
    run_pytest(root, "greenhouse/tests")


RUNNERS = {
    ("README.md", "./setup.sh && .venv/bin/zoo-micro sim examples/sensor_node"): readme_quick_start,
    ("README.md", "from zoo_micro import Master, BaseWorker, event, cage, worker"): readme_tour,
    ("README.md", "from host_tools.sim import TMP102"): readme_greenhouse_test,
    ("README.md", ".venv/bin/zoo-micro sim examples/sensor_node --board pico"): readme_run_the_example,
    ("docs/bridge.md", "from zoo_micro import Master"): bridge_node,
    ("docs/bridge.md", "from host_tools.bridge import Bridge, JsonSink"): bridge_node_and_library,
    ("docs/state.md", "from zoo_micro import StateMachineManager"): state_calls,
    ("docs/framework-bridge.md", "import sys"): framework_app_loads,
    ("docs/zoo-framework.md", "from zoo_framework.core import Master"): zoo_framework_names,
    ("docs/zoo-framework.md", "$ .venv/bin/python -m pytest -q tests/conformance"): conformance_suite,
    ("docs/simulation.md", "zoo-micro sim examples/sensor_node --link /tmp/board &"): sim_with_mpremote,
    ("docs/simulation.md", "# myapp/main.py"): lambda b, root: sim_scripting(
        block("docs/simulation.md", "import datetime"), root),
    ("docs/simulation.md", "import datetime"): sim_scripting,
    ("docs/simulation.md", "zoo-micro sim myapp --link /tmp/board --control"): sim_control_socket,
    ("docs/simulation.md", "# greenhouse's tests: on a virtual pico"): sim_new_app_test,
    ("docs/simulation.md", "# greenhouse/main.py"): sim_greenhouse,
    ("docs/simulation.md", "# greenhouse/tests/test_alarm.py"): sim_greenhouse,
}  # fmt: skip

# Blocks that neither run here nor say in their doc why not: each fails until its doc is fixed.
UNMARKED = (
    "needs a board, a broker or a toolchain and does not say so: put `<!-- not run: REASON -->` before it"
)
BROKEN: dict[tuple[str, str], str] = {
}  # fmt: skip


def runnable() -> list[Block]:
    return [b for b in blocks() if b.kind != "text"]


def test_every_command_and_code_block_has_a_runner_or_a_reason():
    missing = [
        b.id for b in runnable() if b.not_run is None and not entry(RUNNERS, b) and not entry(BROKEN, b)
    ]
    assert not missing, (
        f"blocks with no runner in {__name__} and no `<!-- not run: -->` in their doc: {missing}"
    )
    used = [entry(RUNNERS, b) or entry(BROKEN, b) for b in runnable()]
    stale = [k for k in list(RUNNERS) + list(BROKEN) if used.count(k) != 1]
    assert not stale, f"entries that match no block, or several: {stale}"
    marked_now = [b.id for b in runnable() if b.not_run and entry(BROKEN, b)]
    assert not marked_now, f"blocks now marked in their doc: take them out of BROKEN: {marked_now}"


def test_text_blocks_hold_no_commands():
    # what the classification calls text really is: the doc's listings, diagrams and output
    for b in blocks():
        if b.kind == "text":
            assert not any(is_command(ln) for ln in b.text.splitlines()), b.id


def params():
    out = []
    for b in runnable():
        marks = []
        if entry(BROKEN, b):
            marks.append(pytest.mark.xfail(strict=True, reason=BROKEN[entry(BROKEN, b)]))
        out.append(pytest.param(b, id=b.id, marks=marks))
    return out


@pytest.mark.parametrize("b", params())
def test_block_runs(b: Block, scratch: Path):
    if b.not_run is not None:
        pytest.skip(f"the doc says: {b.not_run}")
    if entry(BROKEN, b):
        assert b.not_run is not None, BROKEN[entry(BROKEN, b)]
    runner = entry(RUNNERS, b)
    if runner is None:
        pytest.fail(f"no runner for {b.id}: add one to {__name__}, or mark the block in its doc")
    RUNNERS[runner](b, scratch)
