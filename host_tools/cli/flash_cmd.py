"""zoo-micro flash: write MicroPython firmware to a board (esptool for ESP, the BOOTSEL drive for RP2)."""

from __future__ import annotations

import argparse

from host_tools.boards import get_board
from host_tools.cli.ports import choose_port
from host_tools.flash import flash


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", required=True, help="board id (see `zoo-micro boards`)")
    parser.add_argument(
        "--firmware", required=True, metavar="FILE", help="MicroPython .bin (ESP) or .uf2 (RP2)"
    )
    parser.add_argument(
        "--port",
        help="serial port of an ESP board in its bootloader (default: the one such board on USB)",
    )
    parser.add_argument(
        "--drive", help="the BOOTSEL drive of an RP2 board (default: found by its INFO_UF2.TXT)"
    )
    parser.add_argument("--erase", action="store_true", help="erase the whole flash first (ESP; wipes files)")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for an RP2 board's port")


def run(args: argparse.Namespace) -> int:
    port = args.port
    if port is None and get_board(args.board).flash_method == "esptool":
        port = choose_port(None, args.board, usb_only=True)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(done: int, total: int, what: str) -> None:
            key = what.split(" at ")[0]  # esptool's "Writing at 0x..." is one task, not one per address
            if key not in tasks:
                tasks[key] = bar.add_task(key, total=total)
            bar.update(tasks[key], completed=done, total=total, description=what)

        result = flash(
            args.board,
            args.firmware,
            port=port,
            drive=args.drive,
            erase=args.erase,
            progress=progress,
            wait_timeout=args.wait,
            say=bar.console.print,
        )
    for warning in result.warnings:
        print(f"warning: {warning}")
    where = f"; its port is {result.port_after}" if result.port_after else ""
    print(f"flashed {args.firmware} to {result.board.id} via {result.target}{where}")
    return 0
