"""zoo-micro detect: which known boards are plugged in, by the USB ids of their serial ports."""

from __future__ import annotations

import argparse
import json

from host_tools.boards import connected_boards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the ports found as JSON")


def run(args: argparse.Namespace) -> int:
    found = connected_boards()
    if args.json:
        rows = [
            {
                "port": c.port,
                "usb": c.usb_id,
                "description": c.description,
                "boards": [b.id for b in c.boards],
            }
            for c in found
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not found:
        print("no boards found (plug one in; `zoo-micro boards` lists the USB ids looked for)")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Connected boards")
    for column in ("port", "USB id", "description", "could be"):
        table.add_column(column)
    for c in found:
        table.add_row(c.port, c.usb_id, c.description, ", ".join(b.id for b in c.boards))
    Console().print(table)
    return 0
