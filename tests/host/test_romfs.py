"""ROMFS images: zoo_micro packed as .mpy by host_tools.romfs, mounted on the unix port with
vfs.VfsRom and imported from there; what goes in as .mpy and what stays a file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from host_tools.errors import UserError
from host_tools.interpreter import PROJECT_ROOT, run_micropython
from host_tools.romfs import HEADER, image_size, make_image, mount_source


def run_with_image(tmp_path: Path, image: Path, body: str, heap: str = "256K"):
    """Run body on the unix port after mounting image at /rom; nothing else of the project is on
    sys.path (MICROPYPATH holds only .frozen), so imports can only come from the image."""
    script = tmp_path / "run" / "script.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(mount_source(image) + body)
    return run_micropython([str(script)], paths=[], heapsize=heap, timeout=60, cwd=script.parent)


@pytest.fixture(scope="module")
def runtime_image(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(PROJECT_ROOT / "zoo_micro", src / "zoo_micro")
    image = tmp_path_factory.mktemp("img") / "zoo.img"
    make_image(src, image)
    return image


def test_master_imports_from_a_romfs_image_of_zoo_micro(tmp_path, runtime_image):
    proc = run_with_image(
        tmp_path,
        runtime_image,
        "import asyncio, gc\n"
        "gc.collect()\n"
        "before = gc.mem_alloc()\n"
        "from zoo_micro import Master\n"
        "import zoo_micro\n"
        "gc.collect()\n"
        "print('from', zoo_micro.__file__)\n"
        "print('heap', gc.mem_alloc() - before)\n"
        "print('master', Master.__name__)\n",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "from /rom/zoo_micro/__init__.mpy" in proc.stdout
    assert "master Master" in proc.stdout


def test_the_image_holds_mpy_for_every_py_and_its_size_is_returned(tmp_path, runtime_image):
    data = runtime_image.read_bytes()
    assert data.startswith(HEADER)
    assert image_size(data) == len(data)
    proc = run_with_image(tmp_path, runtime_image, "print(sorted(os.listdir('/rom/zoo_micro')))\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = eval(proc.stdout.strip().splitlines()[-1])
    expected = sorted(p.with_suffix(".mpy").name for p in (PROJECT_ROOT / "zoo_micro").glob("*.py"))
    assert [n for n in names if n.endswith(".mpy")] == expected
    assert not [n for n in names if n.endswith(".py")]


def test_data_files_go_in_verbatim_and_lib_joins_sys_path(tmp_path):
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "helper.py").write_text("VALUE = 42\n")
    (src / "table.csv").write_bytes(b"a,b\n1,2\n")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    size = make_image(src, tmp_path / "app.img")
    assert size == (tmp_path / "app.img").stat().st_size
    proc = run_with_image(
        tmp_path,
        tmp_path / "app.img",
        "import helper\n"
        "print(helper.VALUE, helper.__file__)\n"
        "print(open('/rom/table.csv').read().split())\n"
        "print(sys.path[1:3], sorted(os.listdir('/rom')))\n",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "42 /rom/lib/helper.mpy"
    assert lines[1] == "['a,b', '1,2']"
    assert lines[2] == "['/rom', '/rom/lib'] ['lib', 'table.csv']"


def test_without_lib_only_rom_joins_sys_path(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "mod.py").write_text("X = 1\n")
    make_image(src, tmp_path / "a.img")
    proc = run_with_image(tmp_path, tmp_path / "a.img", "import mod\nprint('/rom/lib' in sys.path, mod.X)\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False 1"


def test_source_stays_source_without_mpy(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "mod.py").write_text("X = 'source'\n")
    make_image(src, tmp_path / "a.img", mpy=False)
    proc = run_with_image(tmp_path, tmp_path / "a.img", "import mod\nprint(mod.X, os.listdir('/rom'))\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "source ['mod.py']"


def test_a_syntax_error_is_one_line_naming_file_and_line(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "bad.py").write_text("x = 1\ndef f(:\n")
    with pytest.raises(UserError) as info:
        make_image(src, tmp_path / "a.img")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("pkg/bad.py line 2: SyntaxError")
    assert not (tmp_path / "a.img").exists()


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(UserError, match="is not a folder"):
        make_image(tmp_path / "nope", tmp_path / "a.img")


def test_the_arch_reaches_mpy_cross(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text("import micropython\n@micropython.native\ndef f():\n    return 1\n")
    make_image(src, tmp_path / "x64.img", arch="x64")
    proc = run_with_image(tmp_path, tmp_path / "x64.img", "import m\nprint(m.f())\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1"
    make_image(src, tmp_path / "arm.img", arch="armv6m")
    proc = run_with_image(tmp_path, tmp_path / "arm.img", "import m\n")
    assert proc.returncode == 1
    assert "ValueError: incompatible .mpy arch" in proc.stdout
