"""zoo-micro sim: run an app on a virtual board (the MicroPython unix port with a board's heap)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from host_tools.errors import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", nargs="?", help="the app folder (with main.py); leave out for a blank board")
    p.add_argument(
        "--board", help='board id from boards/ (default: the "board" in the app\'s config.json, else esp32)'
    )
    p.add_argument(
        "--link",
        metavar="PATH",
        help="make PATH a link to the board's serial port, for mpremote, zoo-micro deploy and watch",
    )
    p.add_argument("--flash", metavar="DIR", help="keep the board's filesystem in DIR (default: a temporary)")
    p.add_argument(
        "--control", metavar="PATH", help="script the peripherals from other programs over this unix socket"
    )
    p.add_argument("--seconds", type=float, metavar="N", help="stop after N seconds")
    p.add_argument("--heap-kb", type=int, metavar="KB", help="heap size instead of the board's")
    p.add_argument("--flash-kb", type=int, metavar="KB", help="filesystem size instead of the board's")
    p.add_argument(
        "--py",
        action="store_true",
        help="install zoo_micro and the app as .py source instead of .mpy (as `zoo-micro deploy --py`)",
    )
    p.add_argument("--mpy", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old scripts
    p.add_argument(
        "--romfs",
        action="store_true",
        help="install zoo_micro and the app's modules in the board's ROMFS partition (as deploy --romfs)",
    )
    p.add_argument("--romfs-kb", type=int, metavar="KB", help="ROMFS partition size instead of 256 KB")


def _err(line: str) -> None:
    sys.stderr.write(f"\r\nzoo-micro sim: {line}\r\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    # imported here: every zoo-micro command pays for what its neighbours import at the top
    from host_tools.boards import register_virtual
    from host_tools.build import app_board
    from host_tools.cli.deploy_cmd import install_mode
    from host_tools.sim.control import ControlServer
    from host_tools.sim.session import app_error_line, console, raw_terminal, run_until_done
    from host_tools.sim.virtual_board import VirtualBoard

    mpy, romfs = install_mode(args)
    for name in ("heap_kb", "flash_kb", "romfs_kb"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be a positive number of KB")

    board_id = args.board or app_board(args.app) or "esp32"
    interactive = args.link is None and sys.stdin.isatty()
    show = args.link is None

    def echo(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    board = VirtualBoard(
        args.app,
        board=board_id,
        flash_dir=args.flash,
        link=args.link,
        heap_kb=args.heap_kb,
        flash_kb=args.flash_kb,
        mpy=mpy,
        romfs=romfs,
        romfs_kb=args.romfs_kb,
        echo=echo if show else None,
        on_status=None if show else _err,
    )
    # The terminal goes raw before the board starts: a Ctrl-C typed early must reach the board.
    terminal = raw_terminal(sys.stdin.fileno()) if interactive else contextlib.nullcontext()
    with terminal, board:
        control = ControlServer(board, args.control) if args.control else None
        # While it runs, commands given no --port find it (host_tools.boards.running_virtual).
        unregister = register_virtual(args.link, board.profile.id, args.app) if args.link else None
        try:
            what = args.app or "a blank board"
            if args.link:
                print(
                    f"virtual {board.profile.id} running {what}; serial port {args.link} -> {board.pty}; "
                    "Ctrl-C stops it",
                    flush=True,
                )
                run_until_done(board, args.seconds, stop_on_error=False)
            elif interactive:
                _err(f"virtual {board.profile.id} running {what}; this terminal is its console; Ctrl-] quits")
                console(board, args.seconds, _err, sys.stdin.fileno())
            else:
                run_until_done(board, args.seconds, stop_on_error=True)
        finally:
            if unregister is not None:
                unregister()
            if control is not None:
                control.close()
    errors = [e for e in board.errors if not e["error"].startswith("KeyboardInterrupt")]
    if errors and args.link:
        _err(app_error_line(board, errors[-1]))
    return 0
