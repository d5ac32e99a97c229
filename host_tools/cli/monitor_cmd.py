"""zoo-micro monitor: a live dashboard of the node on a port through the bridge, or its plain output."""

from __future__ import annotations

import argparse

from host_tools import monitor
from host_tools.cli.ports import PORT_HELP, check_positive, choose_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", help=PORT_HELP)
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument(
        "--once",
        action="store_true",
        help=f"print one snapshot at the end, not a live view (without --seconds: once every node "
        f"reported its health, {monitor.ONCE_WAIT:g} s at most)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the snapshot as one JSON object (implies --once)"
    )


def run(args: argparse.Namespace) -> int:
    check_positive(args, "seconds", "baud")
    port = choose_port(args.port)
    monitor.show(port, args.seconds, args.once, args.baud, as_json=args.json)
    return 0
