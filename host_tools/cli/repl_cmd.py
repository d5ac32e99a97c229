"""zoo-micro repl: the board's REPL in this terminal, through mpremote, found as every command finds it."""

from __future__ import annotations

import argparse
import subprocess
import sys

from host_tools.cli.ports import PORT_HELP, choose_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", help=PORT_HELP)


def run(args: argparse.Namespace) -> int:
    port = choose_port(args.port)
    # mpremote's own terminal: Ctrl-C interrupts the app (after Enter, an app that carries the serial
    # bridge takes CR then Ctrl-C as the take-over), Ctrl-D soft-resets, Ctrl-] leaves.
    print(f"connected to {port}: Enter then Ctrl-C stops the app, Ctrl-] leaves", file=sys.stderr)
    return subprocess.call([sys.executable, "-m", "mpremote", "connect", port, "repl"])
