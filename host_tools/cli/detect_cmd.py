"""zoo-micro detect: which known boards are plugged in, by the USB ids of their serial ports, and which
virtual boards (zoo-micro sim --link) are running."""

from __future__ import annotations

import argparse
import json

from host_tools.boards import connected_boards, running_virtual


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the ports found as JSON")


def run(args: argparse.Namespace) -> int:
    found = connected_boards()
    virtual = running_virtual()
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
        rows += [
            {"port": v.port, "usb": None, "description": f"zoo-micro sim (pid {v.pid})",
             "boards": [v.board] if v.board else [], "virtual": True, "app": v.app}
            for v in virtual
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return 0
    if not found and not virtual:
        print("no boards found (plug one in; `zoo-micro boards` lists the USB ids looked for)")
        return 0
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # Laid out for 80 columns, as `boards`: ports and ids whole, the description wraps between words.
    table = Table(title="Connected boards", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("port", no_wrap=True)
    table.add_column("USB id", no_wrap=True)
    table.add_column("description", ratio=1)
    table.add_column("could be", ratio=1)
    for c in found:
        table.add_row(c.port, c.usb_id, c.description, ", ".join(b.id for b in c.boards))
    for v in virtual:
        what = "zoo-micro sim" + (f" running {v.app}" if v.app else "")
        table.add_row(v.port, "virtual", what, v.board or "?")
    Console().print(table)
    return 0
