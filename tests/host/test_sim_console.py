"""The console filter that makes the unix port's REPL look like a board's across reboots."""

from __future__ import annotations

from host_tools.sim.console import MARKER, ConsoleFilter

BANNER = b'MicroPython 1.x on 2026; linux\r\nType "help()" for more information.\r\n>>> '


def feed_in_pieces(f: ConsoleFilter, data: bytes, size: int) -> tuple[bytes, int, int]:
    shown, enter_raw, at_repl = b"", 0, 0
    for i in range(0, len(data), size):
        out, raw, repl = f.feed(data[i : i + size])
        shown, enter_raw, at_repl = shown + out, enter_raw + raw, at_repl + repl
    return shown, enter_raw, at_repl


def test_marker_is_removed_however_the_output_is_split():
    for size in range(1, len(MARKER) + 3):
        f = ConsoleFilter()
        f.boot("friendly")
        shown, enter_raw, at_repl = feed_in_pieces(f, b"app output\n" + MARKER + BANNER, size)
        assert shown == b"app output\r\n" + BANNER
        assert (enter_raw, at_repl) == (0, 1)
        assert f.mode == "friendly"


def test_after_a_raw_soft_reset_the_banner_is_swallowed_and_ctrl_a_requested():
    for size in (1, 3, 1000):
        f = ConsoleFilter()
        f.boot("raw")
        boot_py = b"printed by boot.py\n"
        shown, enter_raw, at_repl = feed_in_pieces(f, boot_py + MARKER + BANNER, size)
        assert shown == b"printed by boot.py\r\n"
        assert (enter_raw, at_repl) == (1, 1)
        shown, _, _ = feed_in_pieces(f, b"\r\nraw REPL; CTRL-B to exit\r\n>", size)
        assert shown == b"raw REPL; CTRL-B to exit\r\n>"
        assert f.mode == "raw"


def test_mode_follows_the_banners_the_repl_prints():
    f = ConsoleFilter()
    f.feed(b">>> \r\nraw REPL; CTRL-B to exit\r\n>")
    assert f.mode == "raw"
    f.feed(b"OK\x04\x04>\r\n" + BANNER)
    assert f.mode == "friendly"
