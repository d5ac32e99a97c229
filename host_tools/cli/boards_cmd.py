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

    # Laid out for 80 columns: one blank between columns, and a long name wraps between its words.
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        caption="flash: esptool offset or UF2 drive; every USB id and note: --json",
    )
    for column in ("id", "chip", "arch", "flash", "heap", "thr", "USB"):
        table.add_column(column, no_wrap=True)
    table.add_column("name", ratio=1, overflow="fold", min_width=12)
    for b in boards:
        flash = b.flash["offset"] if b.flash_method == "esptool" else "UF2"
        ids = b.usb_ids()
        usb = ids[0] + (f"+{len(ids) - 1}" if len(ids) > 1 else "")  # and so many more (--json)
        table.add_row(b.id, b.chip, b.mpy_arch, flash, f"{b.heap_kb}K", str(b.max_threads), usb, b.name)
    Console().print(table)
    return 0
