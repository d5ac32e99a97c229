"""zoo-micro new: scaffold an app that runs at once on a virtual board and passes its own test."""

from __future__ import annotations

import argparse
from pathlib import Path

from host_tools.scaffold import new_app


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the app's name, also its folder")
    p.add_argument("--board", default="esp32", help="board id from boards/ (default esp32)")
    p.add_argument("--dir", default=".", help="folder to create the app in (default: here)")


def run(args: argparse.Namespace) -> int:
    made = new_app(args.name, args.board, args.dir)
    app = Path(args.dir) / args.name
    for path in made:
        print(f"  created {path}")
    # config.json names the board, so sim, build and deploy need no --board for this app
    print(f"next: zoo-micro sim {app}   (or: pytest {app}/tests)")
    return 0
