"""zoo-micro deploy: copy an app and zoo_micro to a board, only what changed, then soft-reset it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from host_tools import deploy
from host_tools.build import app_board
from host_tools.cli.ports import PORT_HELP, check_positive, choose_port
from host_tools.deploy.plan import check_sources
from host_tools.errors import UserError


def add_install_arguments(p: argparse.ArgumentParser, romfs: bool = True) -> None:
    """How the code goes to the board: .mpy by default (as mip installs), --py for source."""
    p.add_argument(
        "--py",
        action="store_true",
        help="copy .py source instead of .mpy compiled for the board (main.py and boot.py are always .py)",
    )
    p.add_argument("--mpy", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old scripts
    if romfs:
        p.add_argument(
            "--romfs",
            action="store_true",
            help="put zoo_micro and the app's modules in the board's ROMFS partition (MicroPython 1.25+)",
        )


def install_mode(args: argparse.Namespace) -> tuple[bool, bool]:
    """(mpy, romfs) from the switches, or a UserError for a pair that contradicts itself."""
    romfs = getattr(args, "romfs", False)
    if args.py and (args.mpy or romfs):
        other = "--romfs" if romfs else "--mpy"
        raise UserError(f"--py and {other} contradict each other; give one")
    return not args.py, romfs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", help="the app folder (with main.py)")
    p.add_argument("--port", help=PORT_HELP)
    add_install_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the board's raw REPL")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def prepare(args: argparse.Namespace) -> tuple[Path, str]:
    """The app checked (its folder, every .py compiling) and the port: all that fails before the
    board is touched, so a bad app or option never leaves a board half-way."""
    check_positive(args, "timeout")
    app = deploy.check_app(args.app)
    check_sources(app)
    return app, choose_port(args.port, app_board(app))


def as_json(result: deploy.DeployResult, port: str, app: Path) -> str:
    return json.dumps(
        {
            "app": str(app),
            "port": port,
            "dry_run": result.dry_run,
            "copied": result.copied,
            "removed": result.removed,
            "skipped": len(result.skipped),
            "bytes_copied": result.bytes_copied,
            "romfs_bytes": result.romfs_bytes,
            "seconds": round(result.seconds, 3),
        }
    )


class RichProgress(deploy.Progress):
    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
        )
        self.task = None

    def planned(self, to_copy: list[deploy.FileToCopy], total_bytes: int) -> None:
        if to_copy:
            self.bar.start()
            self.task = self.bar.add_task("copying", total=total_bytes)

    def copying(self, path: str) -> None:
        if self.task is not None:
            self.bar.update(self.task, description=path)

    def advanced(self, nbytes: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, nbytes)

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()


def summary(result: deploy.DeployResult) -> str:
    verb = "would copy" if result.dry_run else "copied"
    gone = "would remove" if result.dry_run else "removed"
    rom = ""
    if result.romfs_bytes:
        rom = f"{'would write' if result.dry_run else 'wrote'} a {result.romfs_bytes}-byte ROMFS image, "
    return (
        f"{rom}{verb} {len(result.copied)} files ({result.bytes_copied} bytes), "
        f"skipped {len(result.skipped)} unchanged, {gone} {len(result.removed)} in {result.seconds:.2f}s"
    )


def run(args: argparse.Namespace) -> int:
    mpy, romfs = install_mode(args)
    app, port = prepare(args)
    console = Console(stderr=True)
    progress = RichProgress(console)
    try:
        result = deploy.deploy(app, port, mpy=mpy, dry_run=args.dry_run, progress=progress,
                               timeout=args.timeout, romfs=romfs)  # fmt: skip
    finally:
        progress.close()
    if args.json:
        print(as_json(result, port, app))
        return 0
    if args.dry_run:
        for path in result.copied:
            print(f"  copy    {path}")
        for path in result.removed:
            print(f"  remove  {path}")
    print(summary(result))
    return 0
