"""zoo-micro monitor: a live dashboard of the node on a port, through the bridge."""

from __future__ import annotations

import argparse

from host_tools import monitor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help="serial port or pyserial URL of the node")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--once", action="store_true", help="print one snapshot at the end, not a live view")


def run(args: argparse.Namespace) -> int:
    monitor.show(args.port, args.seconds, args.once, args.baud)
    return 0
