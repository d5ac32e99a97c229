"""zoo-micro run: deploy the app, reset the board, then show the node live until Ctrl-C."""

from __future__ import annotations

import argparse

from rich.console import Console

from host_tools import deploy, monitor
from host_tools.cli.deploy_cmd import RichProgress, add_install_arguments, install_mode, prepare, summary
from host_tools.cli.ports import PORT_HELP, check_positive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", help="the app folder (with main.py)")
    parser.add_argument("--port", help=PORT_HELP)
    add_install_arguments(parser)
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--once", action="store_true", help="print one snapshot at the end, not a live view")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the board's raw REPL"
    )


def run(args: argparse.Namespace) -> int:
    mpy, romfs = install_mode(args)
    check_positive(args, "seconds", "baud")
    app, port = prepare(args)
    progress = RichProgress(Console(stderr=True))
    try:
        result = deploy.deploy(app, port, mpy=mpy, progress=progress, romfs=romfs, timeout=args.timeout)
    finally:
        progress.close()
    print(summary(result), flush=True)
    monitor.show(port, args.seconds, args.once, args.baud, command="run")
    return 0
