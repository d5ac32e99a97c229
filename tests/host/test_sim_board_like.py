"""The virtual board looks like a board to the tools that talk to one: CRLF line ends (with raw bytes
untouched), an RTC that moves the clock, a LittleFS in `mpremote df`, tracebacks without the
simulator's frames, and the board's own platform and name."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import sys
import time

from host_tools.sim.console import BINARY, ConsoleFilter

MPREMOTE = [sys.executable, "-m", "mpremote"]


def mpremote(port: str, *args: str, ok: bool = True) -> bytes:
    proc = subprocess.run(MPREMOTE + ["connect", port, "resume", *args], capture_output=True, timeout=30)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def board_eval(port: str, expr: str):
    return eval(mpremote(port, "exec", f"print(repr({expr}))").decode())  # noqa: S307  the board's own repr


def test_printed_lines_end_with_crlf_as_on_a_board(zoo_board):
    board = zoo_board(None)
    assert mpremote(board.port, "exec", "print('one'); print('two')") == b"one\r\ntwo\r\n"
    board.write(b"print('three')\r")  # the friendly REPL: the echo and the output, each line ends CRLF
    board.wait_for_output("three\r\n>>> ")
    assert "\n" not in board.output.replace("\r\n", "")


def test_mount_keeps_raw_bytes_untouched_both_ways(zoo_board, tmp_path):
    board = zoo_board(None)
    shared = tmp_path / "shared"
    shared.mkdir()
    payload = bytes(range(256)) * 8  # every byte, LF and CR among them
    (shared / "in.bin").write_bytes(payload)
    code = (
        "import hashlib, binascii\n"
        "d = open('in.bin', 'rb').read()\n"
        "print('READ', binascii.hexlify(hashlib.sha256(d).digest()).decode(), len(d))\n"
        "f = open('out.bin', 'wb'); f.write(d); f.close()\n"
        "print('WROTE')\n"
    )
    out = subprocess.run(
        MPREMOTE + ["connect", board.port, "resume", "mount", str(shared), "exec", code],
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"READ {hashlib.sha256(payload).hexdigest()} {len(payload)}\r\n".encode() in out.stdout
    assert b"WROTE\r\n" in out.stdout
    assert (shared / "out.bin").read_bytes() == payload  # board to host: the mount protocol's writes


def test_setting_the_rtc_moves_time_localtime_and_gmtime(zoo_board):
    board = zoo_board(None)
    mpremote(board.port, "exec", "import machine; machine.RTC().datetime((2030, 1, 2, 2, 3, 4, 5, 0))")
    got = board_eval(board.port, "(__import__('time').localtime()[:5], __import__('time').gmtime()[:5])")
    assert got == ((2030, 1, 2, 3, 4), (2030, 1, 2, 3, 4))
    t = board_eval(board.port, "__import__('time').time()")
    assert abs(t - datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc).timestamp()) < 60

    board.set_rtc(datetime.datetime(2031, 6, 7, 8, 9, 10))
    assert board_eval(board.port, "__import__('time').localtime()[:4]") == (2031, 6, 7, 8)
    assert board_eval(board.port, "__import__('machine').RTC().datetime()[:3]") == (2031, 6, 7)

    mpremote(board.port, "rtc", "--set")  # the host's clock again
    now = time.time()
    assert abs(board_eval(board.port, "__import__('time').time()") - now) < 60
    assert board_eval(board.port, "__import__('time').gmtime()[0]") == time.gmtime(now).tm_year


def test_rtc_subseconds_tick(zoo_board):
    board = zoo_board(None)
    subs = board_eval(board.port, "[__import__('machine').RTC().datetime()[7] for _ in range(20)]")
    assert all(0 <= s < 1_000_000 for s in subs)
    assert len(set(subs)) > 1  # microseconds, as an ESP32's RTC gives them


def test_df_shows_the_filesystem_and_its_figures(zoo_board):
    board = zoo_board(None, board="pico")
    out = mpremote(board.port, "df").decode()
    line = next(ln for ln in out.splitlines() if ln.endswith(" /"))
    name, size, used, avail = line.split()[:4]
    assert name == "<VfsLfs2>"
    assert int(size) == board.profile.flash_kb * 1024 and int(used) + int(avail) == int(size)
    assert int(used) > 0  # zoo_micro is on it


def test_tracebacks_hide_the_simulators_frames(zoo_board):
    board = zoo_board(None)
    # time.sleep and machine.RTC are the simulator's Python on the unix port, C on a board
    out = mpremote(board.port, "exec", "import time; time.sleep('x')", ok=False).decode()
    assert "TypeError" in out and 'File "<stdin>", line 1' in out
    assert "zoo-sim-board" not in out and "time.py" not in out
    board.write(b"import machine; machine.RTC().datetime((1,))\r")
    board.wait_for_output("IndexError")
    board.wait_for_output(">>> ")
    assert 'File "<stdin>", line 1, in <module>' in board.output
    assert "zoo-sim-board" not in board.output and "machine.py" not in board.output


def test_platform_uname_and_banner_name_the_board(zoo_board):
    pico = zoo_board(None, board="pico")
    assert board_eval(pico.port, "__import__('sys').platform") == "rp2"
    uname = board_eval(pico.port, "tuple(__import__('os').uname())")
    assert uname[0] == "rp2" and uname[4] == "Raspberry Pi Pico with RP2040"
    assert board_eval(pico.port, "__import__('os').uname().machine") == uname[4]
    assert "; Raspberry Pi Pico with RP2040\r\n" in pico.output  # the banner at power-on
    assert "linux" not in pico.output
    esp = zoo_board(None, board="esp32")
    assert board_eval(esp.port, "(__import__('sys').platform, __import__('os').uname().sysname)") == (
        "esp32",
        "esp32",
    )
    assert "; Generic ESP32 module with ESP32\r\n" in esp.output


def test_console_cooks_text_and_passes_marked_bytes_however_split():
    raw = b"line\n\x1b_zb0004a\nb\rtail\nFile?\n"
    data = b"hi\n" + BINARY + b"0005" + b"\n\n\r\x00\n" + b"MicroPython 1.x on 2026; linux [GCC 1] version\n"
    data += b'  File "/sim/time.py", line 3, in sleep\n  File "<stdin>", line 1\n'
    for size in range(1, 12):
        f = ConsoleFilter()
        f.boot("friendly", "Board with CHIP", "/sim")
        shown = b"".join(f.feed(data[i : i + size])[0] for i in range(0, len(data), size))
        shown += f.flush()[0]
        assert shown == (
            b"hi\r\n\n\n\r\x00\nMicroPython 1.x on 2026; Board with CHIP\r\n"
            + b'  File "<stdin>", line 1\r\n'
        ), size
    f = ConsoleFilter()
    f.boot("friendly")
    assert f.feed(raw)[0] == b"line\r\na\nb\rtail\r\nFile?\r\n"
