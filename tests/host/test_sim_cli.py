"""zoo-micro sim from the command line."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ZOO = [sys.executable, "-m", "host_tools.cli.main"]


def app_with(folder: Path, main: str) -> Path:
    folder.mkdir()
    (folder / "main.py").write_text(main)
    return folder


def sim(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(ZOO + ["sim", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)  # fmt: skip


def test_sim_runs_the_app_for_the_given_seconds(tmp_path):
    app = app_with(
        tmp_path / "app", "import time\nfor i in range(100):\n    print('n', i)\n    time.sleep(0.1)\n"
    )
    proc = sim(str(app), "--seconds", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("n 0\nn 1\n")
    assert "n 30" not in proc.stdout


def test_memory_error_on_the_board_is_one_line_and_a_nonzero_exit(tmp_path):
    app = app_with(tmp_path / "app", "print('start')\nbig = bytearray(300 * 1024)\n")
    proc = sim(str(app), "--board", "pico", "--seconds", "20")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("zoo-micro sim: the app ran out of memory on the virtual pico (190 KB heap)")
    assert "(main.py line 2)" in lines[0]


def test_app_folder_without_main_py_is_one_line_and_a_nonzero_exit(tmp_path):
    (tmp_path / "app").mkdir()
    proc = sim(str(tmp_path / "app"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"zoo-micro sim: {tmp_path / 'app'} has no main.py: a board runs main.py at boot; "
        "add one, or start from zoo-micro new NAME"
    )


@pytest.mark.parametrize("form", [[], ["--py"]], ids=["mpy", "py"])
def test_flash_folder_keeps_files_between_runs(tmp_path, form):
    app = app_with(
        tmp_path / "app",
        "try:\n    n = int(open('n').read())\nexcept OSError:\n    n = 0\nopen('n', 'w').write(str(n + 1))\n"
        "print('run', n + 1)\n",
    )
    flash = tmp_path / "flash"
    assert "run 1" in sim(str(app), "--flash", str(flash), "--seconds", "0.5", *form).stdout
    assert "run 2" in sim(str(app), "--flash", str(flash), "--seconds", "0.5", *form).stdout
    runtime = "master.py" if form else "master.mpy"  # .mpy by default, as zoo-micro deploy installs
    assert (flash / "main.py").is_file() and (flash / "lib" / "zoo_micro" / runtime).is_file()


def test_link_serves_mpremote_until_ctrl_c(tmp_path):
    app = app_with(tmp_path / "app", "import time\nwhile True:\n    time.sleep(1)\n")
    link = tmp_path / "board"
    proc = subprocess.Popen(ZOO + ["sim", str(app), "--link", str(link)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        banner = proc.stdout.readline()
        assert f"serial port {link} -> /dev/pts/" in banner
        out = subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", str(link), "exec", "print(sum(range(10)))"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.stdout.strip() == "45", out.stderr
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(20)
    assert proc.returncode == 130
    deadline = time.monotonic() + 5
    while link.is_symlink() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not link.is_symlink()


def test_terminal_is_the_boards_console_with_ctrl_c_and_ctrl_bracket_quits(tmp_path):
    app = app_with(tmp_path / "app", "import time\nprint('running')\nwhile True:\n    time.sleep(0.05)\n")
    master, slave = os.openpty()
    proc = subprocess.Popen(ZOO + ["sim", str(app)], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""

    def read_until(token: bytes, timeout: float = 20) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while token not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                seen += os.read(master, 4096)

    try:
        read_until(b"running")
        os.write(master, b"\x03")  # Ctrl-C goes to the board, not to zoo-micro
        read_until(b"KeyboardInterrupt")
        read_until(b">>> ")
        os.write(master, b"print(40 + 2)\r")
        read_until(b"42")
        os.write(master, b"\x1d")  # Ctrl-] quits
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_another_program_scripts_the_peripherals_over_the_control_socket(tmp_path):
    from host_tools.sim.control import ControlClient

    app = app_with(
        tmp_path / "app",
        "import time\nfrom machine import I2C, Pin\nb = Pin(4, Pin.IN)\n"
        "b.irq(lambda p: print('edge', p.value()))\nprint('ready')\n"
        "while True:\n    time.sleep(0.05)\n",
    )
    ctl = tmp_path / "board.ctl"
    link = tmp_path / "board"
    cmd = ZOO + ["sim", str(app), "--link", str(link), "--control", str(ctl), "--seconds", "60"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        proc.stdout.readline()
        client = ControlClient(ctl)
        deadline = time.monotonic() + 20
        seen = ""
        while "ready" not in seen and time.monotonic() < deadline:
            seen += client.call("output")
        client.call("set_pin", pin=4, value=1)
        while "edge 1" not in seen and time.monotonic() < deadline:
            seen += client.call("output")
        assert "edge 1" in seen
        client.call("i2c_device", address=0x48, kind="tmp102", temperature=19.5)
        client.call("i2c_set", address=0x48, name="temperature", value=22.0)
        read = (
            "import machine\nr = machine.I2C(0).readfrom_mem(72, 0, 2)\nprint((r[0] << 4 | r[1] >> 4) / 16)"
        )
        out = subprocess.run([sys.executable, "-m", "mpremote", "connect", str(link), "exec", read],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert out.stdout.strip() == "22.0", out.stderr
        client.call("reset")
        assert client.call("resets") == ["power", "soft", "hard"]
        try:
            client.call("fly")
        except RuntimeError as e:
            assert "unknown op 'fly'" in str(e)
        else:
            raise AssertionError("an unknown op was accepted")
        client.close()
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(20)
    assert not ctl.exists()


def test_romfs_installs_the_modules_in_the_boards_romfs_partition(tmp_path):
    app = app_with(tmp_path / "app", "import helper, zoo_micro\nprint(helper.__file__, zoo_micro.__file__)\n")
    (app / "helper.py").write_text("\n")
    proc = sim(str(app), "--romfs", "--seconds", "1")
    assert proc.returncode == 0, proc.stderr
    assert "/rom/helper.mpy /rom/lib/zoo_micro/__init__.mpy" in proc.stdout


@pytest.mark.parametrize(
    "args, line",
    [
        (["--py", "--romfs"], "zoo-micro sim: --py and --romfs contradict each other; give one"),
        (["--heap-kb", "0"], "zoo-micro sim: --heap-kb must be a positive number of KB"),
        (["--romfs", "--romfs-kb", "8"], "zoo-micro sim: the ROMFS image is "),
    ],
    ids=["py-and-romfs", "no-heap", "small-partition"],
)
def test_bad_install_options_are_one_line(tmp_path, args, line):
    app = app_with(tmp_path / "app", "print(1)\n")
    proc = sim(str(app), *args, "--seconds", "1")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.strip().startswith(line)
