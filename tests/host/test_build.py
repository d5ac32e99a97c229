"""zoo-micro build: per-board mpy-cross output, bundle layout, the bundle running on MicroPython,
--freeze manifests, build errors, and package.json installed by the real `mpremote mip`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.boards import all_boards, get_board
from host_tools.build import (
    ENTRY_MODULE,
    PACKAGE_JSON,
    PROJECT_ROOT,
    build,
    mpy_cross,
    package_json_data,
    published_runtime_files,
    runtime_files,
    runtime_version,
)
from host_tools.cli.main import main
from host_tools.errors import UserError
from host_tools.interpreter import micropython_env, micropython_path, run_micropython
from host_tools.romfs import mount_source

# MP_NATIVE_ARCH_* from MicroPython's py/persistentcode.h; the .mpy header stores it in byte 2, bits 2..7.
NATIVE_ARCH = {"x64": 2, "armv6m": 4, "armv7emsp": 7, "xtensawin": 10, "rv32imc": 11}

NATIVE_MODULE = """\
import micropython


@micropython.native
def add(a, b):
    return a + b
"""

APP_MAIN = """\
import asyncio
import json

import sensors
import units
from extra.scale import twice
from zoo_micro import BaseWorker, Master


class Reader(BaseWorker):
    def _execute(self):
        return twice(sensors.read()) * units.SCALE


async def main():
    with open("board.json") as f:
        board = json.load(f)
    m = Master({"name": board["id"], "max_threads": board["max_threads"]})
    got = []
    m.subscribe("reader_result", lambda req: got.append(req.content))
    m.register_worker("reader", Reader, props={"is_loop": False, "delay_time": 0})
    await m.start()
    for _ in range(500):
        if got:
            break
        await asyncio.sleep(0.01)
    await m.stop()
    print("zoo-app", board["id"], board["max_threads"], got)


if __name__ == "__main__":
    asyncio.run(main())
"""


FIX_IT = "fix it and build again"


def make_app(root: Path, main_py: str = APP_MAIN) -> Path:
    app = root / "sensor_app"
    (app / "extra").mkdir(parents=True)
    (app / "lib" / "units").mkdir(parents=True)  # a vendored library: /lib is on the board's sys.path
    (app / "lib" / "units" / "__init__.py").write_text("SCALE = 1\n")
    (app / "main.py").write_text(main_py)
    (app / "sensors.py").write_text("def read():\n    return 21\n")
    (app / "extra" / "__init__.py").write_text("")
    (app / "extra" / "scale.py").write_text("def twice(x):\n    return 2 * x\n")
    (app / "settings.json").write_text('{"period": 5}\n')
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "sensors.cpython-311.pyc").write_bytes(b"junk")
    return app


def run_bundle(bundle: Path, *args: str, heapsize: str | None = None) -> subprocess.CompletedProcess:
    """Run the bundle's main.py on the unix port with the board's search path (root, then lib/)."""
    return run_micropython(
        ["main.py", *args], [bundle, bundle / "lib"], heapsize=heapsize, timeout=60, cwd=bundle
    )


def mpy_arch_code(path: Path) -> int:
    header = path.read_bytes()[:4]
    assert header[:2] == b"M\x06", header
    return header[2] >> 2


@pytest.mark.parametrize("board", all_boards(), ids=lambda b: b.id)
def test_each_board_arch_compiles_native_code_for_that_arch(tmp_path, board):
    src = tmp_path / "fast.py"
    src.write_text(NATIVE_MODULE)
    mpy_cross(src, tmp_path / "fast.mpy", board.mpy_arch, "fast.py")
    assert mpy_arch_code(tmp_path / "fast.mpy") == NATIVE_ARCH[board.mpy_arch]


def test_board_native_code_is_refused_by_the_host_and_host_native_code_runs(tmp_path):
    src = tmp_path / "fast.py"
    src.write_text(NATIVE_MODULE)
    mpy_cross(src, tmp_path / "board" / "fast.mpy", get_board("esp32").mpy_arch, "fast.py")
    mpy_cross(src, tmp_path / "host" / "fast.mpy", "host", "fast.py")
    wrong = run_micropython(["-c", "import fast; print(fast.add(2, 3))"], [tmp_path / "board"], timeout=30)
    right = run_micropython(["-c", "import fast; print(fast.add(2, 3))"], [tmp_path / "host"], timeout=30)
    assert "incompatible .mpy arch" in wrong.stdout + wrong.stderr
    assert right.returncode == 0 and right.stdout.strip() == "5"


@pytest.mark.parametrize("board_id", ["pico", "esp32c3"])
def test_bytecode_built_for_a_board_loads_on_the_unix_port(tmp_path, board_id):
    bundle = build(make_app(tmp_path), board_id, out=tmp_path / "out")
    probe = "from zoo_micro import FIFO; f = FIFO(4); f.push_value(7); print('ok', f.pop_value())"
    proc = run_micropython(["-c", probe], [bundle.path / "lib"], timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["ok", "7"]
    assert (
        mpy_arch_code(bundle.path / "lib" / "zoo_micro" / "master.mpy") == 0
    )  # plain bytecode carries no arch


def test_bundle_layout(tmp_path):
    app = make_app(tmp_path)
    bundle = build(app, "pico", out=tmp_path / "out")
    runtime = {f"lib/{p.with_suffix('.mpy').as_posix()}" for p in runtime_files()}
    expected = runtime | {
        "boot.py",
        "main.py",
        "board.json",
        f"{ENTRY_MODULE}.mpy",
        "sensors.mpy",
        "extra/__init__.mpy",
        "extra/scale.mpy",
        "lib/units/__init__.mpy",
        "settings.json",
    }
    assert set(bundle.files) == expected
    assert bundle.arch == "armv6m" and not bundle.frozen
    assert json.loads((bundle.path / "board.json").read_text()) == get_board("pico").data
    assert (bundle.path / "boot.py").read_text() == (PROJECT_ROOT / "firmware" / "boot.py").read_text()
    assert (bundle.path / "settings.json").read_text() == '{"period": 5}\n'
    assert "CALL_MAIN = True" in (bundle.path / "main.py").read_text()


def test_built_app_runs_on_micropython_from_the_bundle(tmp_path):
    bundle = build(make_app(tmp_path), "pico", out=tmp_path / "out", arch="host")
    proc = run_bundle(bundle.path, heapsize=get_board("pico").heapsize)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "zoo-app pico 1 [42]"


def test_app_with_top_level_code_runs_on_import(tmp_path):
    app = make_app(tmp_path, "import sensors\nprint('top level', sensors.read())\n")
    bundle = build(app, "esp32", out=tmp_path / "out", arch="host")
    assert "CALL_MAIN = False" in (bundle.path / "main.py").read_text()
    proc = run_bundle(bundle.path)
    assert proc.returncode == 0 and proc.stdout.strip() == "top level 21"


def test_a_crashing_app_prints_one_line_with_file_and_line_and_returns_to_the_repl(tmp_path):
    app = make_app(
        tmp_path, "import sensors\n\nx = sensors.read()\nraise ValueError('sensor %d is stuck' % x)\n"
    )
    bundle = build(app, "pico", out=tmp_path / "out", arch="host")
    proc = run_micropython(
        ["-c", "exec(open('main.py').read()); print('repl alive', type(last_error).__name__)"],
        [bundle.path, bundle.path / "lib"],
        timeout=30,
        cwd=bundle.path,
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines == [
        'zoo: app stopped: ValueError: sensor 21 is stuck (File "sensor_app/main.py", line 4)',
        "repl alive ValueError",
    ]


def test_guard_that_does_more_than_call_main_is_refused_with_its_line(tmp_path):
    app = make_app(
        tmp_path, "def main():\n    pass\n\n\nif __name__ == '__main__':\n    print('hi')\n    main()\n"
    )
    with pytest.raises(UserError) as e:
        build(app, "pico", out=tmp_path / "out")
    assert str(e.value).startswith("sensor_app/main.py line 5:") and "\n" not in str(e.value)


def test_app_without_main_py_is_one_clear_error(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "sensors.py").write_text("x = 1\n")
    with pytest.raises(UserError, match=r"has no main\.py"):
        build(tmp_path / "app", "pico", out=tmp_path / "out")
    with pytest.raises(UserError, match="not found"):
        build(tmp_path / "missing", "pico", out=tmp_path / "out")


@pytest.mark.parametrize("freeze", [False, True])
def test_syntax_error_names_the_file_and_line(tmp_path, freeze):
    app = make_app(tmp_path)
    (app / "extra" / "scale.py").write_text("def twice(x):\n    return 2 * x\n\nmatch x:\n    case 1: pass\n")
    with pytest.raises(UserError) as e:
        build(app, "esp32s3", out=tmp_path / "out", freeze=freeze)
    assert str(e.value).startswith("sensor_app/extra/scale.py line 4: SyntaxError")
    assert not (tmp_path / "out").exists()  # nothing half-built is left behind


def test_cli_build_errors_are_one_line_and_exit_2(tmp_path, capsys):
    app = make_app(tmp_path)
    (app / "sensors.py").write_text("def read(:\n")
    assert main(["build", str(app), "--board", "pico", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "zoo-micro build: sensor_app/sensors.py line 1: SyntaxError: invalid syntax; " + FIX_IT


def test_cli_build_reports_the_bundle(tmp_path, capsys):
    app = make_app(tmp_path)
    assert main(["build", str(app), "--board", "pico_w", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f"built {tmp_path / 'out'} for pico_w (armv6m .mpy" in out
    assert (tmp_path / "out" / "board.json").is_file()


def test_app_files_that_clash_with_the_bundle_are_refused(tmp_path):
    app = make_app(tmp_path)
    (app / "boot.py").write_text("import gc\n")
    with pytest.raises(UserError, match="boot.py, a name the bundle uses itself"):
        build(app, "pico", out=tmp_path / "out")


def test_rebuild_replaces_an_earlier_bundle_but_never_a_foreign_folder(tmp_path):
    app = make_app(tmp_path)
    out = tmp_path / "out"
    build(app, "pico", out=out)
    (app / "sensors.py").unlink()
    (app / "main.py").write_text("print('smaller')\n")
    second = build(app, "pico", out=out)
    assert "sensors.mpy" not in second.files and not (out / "sensors.mpy").exists()
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not empty"):
        build(app, "pico", out=foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_default_out_folder_is_build_app_board(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    monkeypatch.chdir(tmp_path)
    bundle = build(app, "esp32c3")
    assert bundle.path == Path("build") / "sensor_app-esp32c3"
    assert (tmp_path / "build" / "sensor_app-esp32c3" / "lib" / "zoo_micro" / "__init__.mpy").is_file()


def run_manifest(manifest: Path) -> list[tuple]:
    """Execute a manifest.py the way MicroPython's tools/manifestfile.py does: relative to its folder."""
    calls = []
    api = {
        "include": lambda path, **kw: calls.append(("include", path)),
        "package": lambda name, base_path=".", **kw: calls.append(("package", name, base_path)),
        "module": lambda name, base_path=".", **kw: calls.append(("module", name, base_path)),
    }
    exec(compile(manifest.read_text(), str(manifest), "exec"), api)
    return calls


def test_freeze_writes_a_manifest_and_the_sources_it_names(tmp_path):
    app = make_app(tmp_path)
    bundle = build(app, "esp32s3", out=tmp_path / "out", freeze=True)
    assert bundle.frozen
    calls = run_manifest(bundle.path / "manifest.py")
    assert calls[0] == ("include", "$(PORT_DIR)/boards/manifest.py")
    assert (
        "make -C ports/esp32 BOARD=ESP32_GENERIC_S3 FROZEN_MANIFEST="
        in (bundle.path / "manifest.py").read_text()
    )
    assert calls[1:] == [
        ("package", "zoo_micro", "freeze"),
        ("package", "extra", "freeze"),
        ("package", "units", "freeze"),
        ("module", f"{ENTRY_MODULE}.py", "freeze"),
        ("module", "sensors.py", "freeze"),
    ]
    base = bundle.path / "freeze"
    for src in runtime_files():
        assert (base / src).read_bytes() == (PROJECT_ROOT / src).read_bytes()
    assert (base / f"{ENTRY_MODULE}.py").read_text() == APP_MAIN
    assert (base / "extra" / "scale.py").is_file() and (base / "sensors.py").is_file()
    assert not [f for f in bundle.files if f.endswith(".mpy")]
    on_board = {f for f in bundle.files if not f.startswith("freeze/")}
    assert on_board == {"boot.py", "main.py", "board.json", "manifest.py", "settings.json"}


def test_frozen_sources_run_as_the_firmware_would_import_them(tmp_path):
    # Frozen modules sit on sys.path as `.frozen`; the freeze/ folder on MICROPYPATH stands in for it.
    bundle = build(make_app(tmp_path), "pico", out=tmp_path / "out", freeze=True)
    proc = run_micropython(["main.py"], [bundle.path, bundle.path / "freeze"], timeout=60, cwd=bundle.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "zoo-app pico 1 [42]"


def test_package_json_lists_exactly_the_zoo_micro_files():
    # Files git tracks: a new module counts once it is added, as a clone (and mip) would see it.
    data = json.loads(PACKAGE_JSON.read_text())
    files = [p.as_posix() for p in published_runtime_files()]
    assert set(files) <= {p.as_posix() for p in runtime_files()} and "zoo_micro/__init__.py" in files
    assert data["version"] == runtime_version()
    assert [dest for dest, _ in data["urls"]] == files, (
        "package.json is stale: run `python -m host_tools.build package-json`"
    )
    assert [src for _, src in data["urls"]] == files
    assert data == package_json_data()


@pytest.fixture
def unix_board(tmp_path):
    """The MicroPython unix port on a pty, as a board for mpremote (socat wires it)."""
    socat = shutil.which("socat")
    if not socat:
        if os.environ.get("CI"):  # setup.sh installs it: on CI a missing socat is a failure, not a skip
            pytest.fail("socat is not installed: apt-get install -y socat")
        pytest.skip("socat is not installed (apt-get install socat)")
    link = tmp_path / "board"
    proc = subprocess.Popen(
        [
            socat,
            f"PTY,link={link},raw,echo=0",
            f"EXEC:{micropython_path()},pty,raw,echo=0,stderr,setsid,ctty",
        ],
        env=micropython_env([tmp_path / "lib"]),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not link.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    yield link
    proc.terminate()
    proc.wait(timeout=10)


def test_mpremote_mip_installs_zoo_micro_from_package_json(tmp_path, unix_board):
    target = tmp_path / "lib"
    target.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", str(unix_board), "resume", "mip", "install", "--target",
         str(target), str(PACKAGE_JSON)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    urls = json.loads(PACKAGE_JSON.read_text())["urls"]
    for dest, src in urls:
        assert (target / dest).read_bytes() == (PROJECT_ROOT / src).read_bytes(), dest
    assert len(list(target.rglob("*.py"))) == len(urls)
    probe = "import zoo_micro; from zoo_micro import Master; print(zoo_micro.__version__, Master().name)"
    ran = run_micropython(["-c", probe], [target], timeout=30)
    assert ran.stdout.split() == [runtime_version(), "node"], ran.stdout + ran.stderr


def test_freeze_for_pico_w_keeps_its_board_manifest_with_the_wifi_modules(tmp_path, capsys):
    app = make_app(tmp_path)
    assert main(["build", str(app), "--board", "pico_w", "--out", str(tmp_path / "out"), "--freeze"]) == 0
    calls = run_manifest(tmp_path / "out" / "manifest.py")
    assert calls[0] == ("include", "$(BOARD_DIR)/manifest.py")
    manifest = (tmp_path / "out" / "manifest.py").resolve()
    assert f"make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST={manifest}" in capsys.readouterr().out


def test_romfs_bundle_packs_every_mpy_into_the_image_and_the_rest_into_fs(tmp_path):
    bundle = build(make_app(tmp_path), "pico", out=tmp_path / "out", romfs=True)
    assert set(bundle.files) == {
        "romfs.img",
        "fs/boot.py",
        "fs/main.py",
        "fs/board.json",
        "fs/settings.json",
    }
    image = bundle.path / "romfs.img"
    assert bundle.romfs_bytes == image.stat().st_size
    probe = tmp_path / "probe" / "list.py"
    probe.parent.mkdir()
    probe.write_text(
        mount_source(image) + "def walk(d):\n"
        "    for n in sorted(os.listdir(d)):\n"
        "        p = d + '/' + n\n"
        "        if os.stat(p)[0] & 0x4000:\n"
        "            walk(p)\n"
        "        else:\n"
        "            print(p[5:])\n"
        "walk('/rom')\n"
    )
    proc = run_micropython([str(probe)], [], timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runtime = {f"lib/{p.with_suffix('.mpy').as_posix()}" for p in runtime_files()}
    expected = runtime | {
        f"{ENTRY_MODULE}.mpy",
        "sensors.mpy",
        "extra/__init__.mpy",
        "extra/scale.mpy",
        "lib/units/__init__.mpy",
    }
    assert set(proc.stdout.split()) == expected


def test_romfs_bundle_runs_with_its_image_mounted_as_a_board_mounts_it(tmp_path):
    bundle = build(make_app(tmp_path), "pico", out=tmp_path / "out", arch="host", romfs=True)
    boot = tmp_path / "probe" / "power_on.py"
    boot.parent.mkdir()
    boot.write_text(mount_source(bundle.path / "romfs.img") + "exec(open('main.py').read())\n")
    proc = run_micropython(
        [str(boot)], [], heapsize=get_board("pico").heapsize, timeout=60, cwd=bundle.path / "fs"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "zoo-app pico 1 [42]"


def test_cli_build_romfs_says_how_to_write_the_image(tmp_path, capsys):
    app = make_app(tmp_path)
    assert main(["build", str(app), "--board", "esp32", "--out", str(tmp_path / "out"), "--romfs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"built {tmp_path / 'out'} for esp32 (xtensawin .mpy in a ")
    image = tmp_path / "out" / "romfs.img"
    assert out[1] == f"write the image to the board's ROMFS partition: mpremote romfs deploy {image}"
    assert out[2] == f"then copy the rest: cd {tmp_path / 'out' / 'fs'} && mpremote cp -r . :"
    # a second build into the same folder replaces the first
    assert main(["build", str(app), "--board", "esp32", "--out", str(tmp_path / "out"), "--romfs"]) == 0


def test_freeze_and_romfs_together_is_one_line(tmp_path, capsys):
    app = make_app(tmp_path)
    argv = ["build", str(app), "--board", "esp32", "--out", str(tmp_path / "out"), "--romfs", "--freeze"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "zoo-micro build: --freeze and --romfs contradict each other (code goes in the firmware or in ROMFS)"
    ]
    assert not (tmp_path / "out").exists()


def test_build_and_freeze_leave_out_tests_state_files_and_zooignored_files(tmp_path):
    app = make_app(tmp_path)
    (app / "tests").mkdir()
    (app / "tests" / "test_sensor_app.py").write_text("def test():\n    pass\n")
    for name in ("state.json", "state.json.bak"):
        (app / name).write_text("{}")
    (app / "draft.py").write_text("x = (\n")  # would not even compile
    (app / ".zooignore").write_text("draft.py\n")
    bundle = build(app, "pico", out=tmp_path / "mpy")
    assert not [f for f in bundle.files if f.startswith(("tests", "state.json", "draft"))]
    frozen = build(app, "pico", out=tmp_path / "frozen", freeze=True)
    assert not [f for f in frozen.files if "tests" in f or "state.json" in f or "draft" in f]
    manifest = (frozen.path / "manifest.py").read_text()
    assert "tests" not in manifest and "draft" not in manifest
