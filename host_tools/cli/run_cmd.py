"""zoo-micro run: deploy the app, reset the board, then show the node live until Ctrl-C."""

from __future__ import annotations

import argparse

from rich.console import Console

from host_tools import deploy, monitor
from host_tools.cli.deploy_cmd import RichProgress, add_install_arguments, install_mode, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", help="the app folder (with main.py)")
    parser.add_argument(
        "--port", required=True, help="serial port of the board (or a zoo-micro sim --link path)"
    )
    add_install_arguments(parser)
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--once", action="store_true", help="print one snapshot at the end, not a live view")


def run(args: argparse.Namespace) -> int:
    mpy, romfs = install_mode(args)
    progress = RichProgress(Console(stderr=True))
    try:
        result = deploy.deploy(args.app, args.port, mpy=mpy, progress=progress, romfs=romfs)
    finally:
        progress.close()
    print(summary(result))
    monitor.show(args.port, args.seconds, args.once, args.baud)
    return 0
