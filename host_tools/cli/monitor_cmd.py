"""zoo-micro monitor: a live dashboard of the node on a port, through the bridge."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.live import Live

from host_tools.bridge import Bridge
from host_tools.monitor import MonitorSink


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help="serial port or pyserial URL of the node")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument(
        "--once", action="store_true", help="print one snapshot at the end instead of a live view"
    )


def run(args: argparse.Namespace) -> int:
    monitor = MonitorSink()
    console = Console()
    end = time.monotonic() + args.seconds if args.seconds else None
    with Bridge(args.port, sinks=[monitor], baudrate=args.baud):
        if args.once or not sys.stdout.isatty():
            _sleep_until(end)
        else:
            with Live(monitor.render(), console=console, refresh_per_second=4) as live:
                while end is None or time.monotonic() < end:
                    time.sleep(0.25)
                    live.update(monitor.render())
    if args.once or not sys.stdout.isatty():
        console.print(monitor.render())
    return 0


def _sleep_until(end: float | None) -> None:
    while end is None or time.monotonic() < end:
        time.sleep(0.1)
