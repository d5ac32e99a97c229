"""zoo-micro boards: the boards zoo-micro knows, as a table or as JSON."""

from __future__ import annotations

import argparse
import json

from host_tools.boards import all_boards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the board data as JSON")


def run(args: argparse.Namespace) -> int:
    boards = all_boards()
    if args.json:
        print(json.dumps([b.data for b in boards], indent=2))
        return 0
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD, caption="flash: esptool offset or UF2 drive; every USB id and note: --json"
    )
    for column in ("id", "chip", "arch", "flash", "heap", "thr", "USB"):
        table.add_column(column, no_wrap=True)
    table.add_column("name", ratio=1, overflow="fold")
    for b in boards:
        flash = b.flash["offset"] if b.flash_method == "esptool" else "UF2"
        ids = b.usb_ids()
        usb = ids[0] + (f" +{len(ids) - 1}" if len(ids) > 1 else "")
        table.add_row(b.id, b.chip, b.mpy_arch, flash, f"{b.heap_kb}K", str(b.max_threads), usb, b.name)
    Console().print(table)
    return 0
