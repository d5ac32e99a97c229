"""zoo-micro fleet: a live table of every node on an MQTT broker."""

from __future__ import annotations

import argparse
import json
import os
import time

from rich.console import Console
from rich.live import Live

from host_tools.fleet import Fleet, table
from zoo_micro.mqtt import layout


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mqtt", required=True, metavar="URL", help="broker: mqtt://[user:pass@]host[:port], mqtts://..."
    )
    p.add_argument(
        "--root", default=layout.ROOT, help="first topic level of the fleet (default: %(default)s)"
    )
    p.add_argument(
        "--once", action="store_true", help="print the table once the retained state is in, and exit"
    )
    p.add_argument("--seconds", type=float, metavar="N", help="show the live table for N seconds, then exit")
    p.add_argument("--json", action="store_true", help="print one JSON object per node instead of a table")
    p.add_argument("--refresh", type=float, default=1.0, metavar="S", help="seconds between redraws")


def run(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)  # a pipe or a log file: no need to squeeze the columns
    with Fleet(args.mqtt, args.root) as fleet:
        fleet.settle()
        if args.once:
            _print(console, fleet, args)
            return 0
        end = None if args.seconds is None else time.monotonic() + args.seconds
        if args.json:
            while end is None or time.monotonic() < end:
                time.sleep(min(args.refresh, max(0.0, end - time.monotonic())) if end else args.refresh)
            _print(console, fleet, args)
            return 0
        title = f"zoo fleet on {fleet.url}"
        with Live(table(fleet.nodes(), title), console=console, refresh_per_second=4) as live:
            while end is None or time.monotonic() < end:
                time.sleep(min(args.refresh, max(0.0, end - time.monotonic())) if end else args.refresh)
                live.update(table(fleet.nodes(), title))
    return 0


def _print(console: Console, fleet: Fleet, args: argparse.Namespace) -> None:
    views = fleet.nodes()
    if args.json:
        now = time.monotonic()
        for v in views:
            print(json.dumps(v.as_dict(now)))
    else:
        console.print(table(views, f"zoo fleet on {fleet.url}"))
