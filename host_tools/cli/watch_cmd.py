"""zoo-micro watch: redeploy on every saved change and show what the board prints."""

from __future__ import annotations

import argparse
import sys
import time

from host_tools.build import app_board
from host_tools.cli.deploy_cmd import add_install_arguments, install_mode, summary
from host_tools.cli.ports import PORT_HELP, check_positive, choose_port
from host_tools.deploy import DeployResult, check_app
from host_tools.errors import UserError
from host_tools.watch import watch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", help="the app folder (with main.py)")
    p.add_argument("--port", help=PORT_HELP)
    add_install_arguments(p, romfs=False)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the board's raw REPL")


def run(args: argparse.Namespace) -> int:
    def on_sync(result: DeployResult) -> None:
        stamp = time.strftime("%H:%M:%S")
        sys.stderr.write(f"[{stamp}] {summary(result)}; app restarted\n")
        sys.stderr.flush()

    def on_error(e: UserError) -> None:
        sys.stderr.write(f"zoo-micro watch: {e} (watching for the next change)\n")
        sys.stderr.flush()

    def on_output(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    mpy, _ = install_mode(args)
    check_positive(args, "timeout")
    port = choose_port(args.port, app_board(check_app(args.app)))
    sys.stderr.write(f"watching {args.app} for changes; Ctrl-C stops\n")
    watch(args.app, port, mpy=mpy, on_sync=on_sync, on_output=on_output, on_error=on_error,
          timeout=args.timeout)  # fmt: skip
    return 0
