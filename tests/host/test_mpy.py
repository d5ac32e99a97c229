"""Compiling with mpy-cross: what a .mpy carries as its file name for tracebacks."""

from __future__ import annotations

import subprocess

from host_tools.interpreter import micropython_env, micropython_path
from host_tools.mpy import compile_file, source_name


def test_zoo_micro_modules_carry_their_module_name_and_app_files_their_path():
    assert source_name("lib/zoo_micro/state.py") == "zoo_micro.state"
    assert source_name("zoo_micro/link/plugin.py") == "zoo_micro.link.plugin"
    assert source_name("lib/zoo_micro/__init__.py") == "zoo_micro"
    assert source_name("main.py") == "main.py"
    assert source_name("lib/sensors/tmp102.py") == "lib/sensors/tmp102.py"


def test_a_traceback_from_a_compiled_library_module_names_the_module(tmp_path):
    src = tmp_path / "src" / "zoo_micro" / "boom.py"
    src.parent.mkdir(parents=True)
    src.write_text("def go():\n    raise ValueError('boom')\n")
    out = tmp_path / "board"
    compile_file(src, out / "zoo_micro" / "boom.mpy", None, "lib/zoo_micro/boom.py")
    (out / "zoo_micro" / "__init__.py").write_text("")
    r = subprocess.run(
        [micropython_path(), "-c", "import zoo_micro.boom\nzoo_micro.boom.go()"],
        env=micropython_env([out]),
        cwd=tmp_path,  # not the project's folder, whose own zoo_micro would be found first
        capture_output=True,
        text=True,
        timeout=30,
    )
    text = r.stdout + r.stderr
    assert r.returncode == 1 and 'File "zoo_micro.boom", line 2, in go' in text, text
