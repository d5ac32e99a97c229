"""zoo-micro build: compile an app and zoo_micro into a bundle folder ready to copy to a board."""

from __future__ import annotations

import argparse
import json

from host_tools.build import FS_DIR, ROMFS_IMAGE, app_board, build
from host_tools.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", help="the app folder (holds main.py)")
    parser.add_argument(
        "--board", help='board id (see `zoo-micro boards`; default: the "board" in the app\'s config.json)'
    )
    parser.add_argument("--out", help="bundle folder (default build/<app>-<board>)")
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="write sources and a manifest.py for a custom firmware instead of .mpy",
    )
    parser.add_argument(
        "--romfs",
        action="store_true",
        help="pack the .mpy files into romfs.img for the board's ROMFS partition (MicroPython 1.25+)",
    )
    parser.add_argument(
        "--arch",
        help="mpy-cross -march instead of the board's (`host` builds for this computer's MicroPython)",
    )
    parser.add_argument("--json", action="store_true", help="print the bundle as one JSON object")


def run(args: argparse.Namespace) -> int:
    board = args.board or app_board(args.app)
    if board is None:
        raise UserError(f'give --board (see zoo-micro boards), or put "board" in {args.app}/config.json')
    bundle = build(args.app, board, out=args.out, freeze=args.freeze, arch=args.arch, romfs=args.romfs)
    if args.json:
        print(json.dumps({
            "path": str(bundle.path), "board": bundle.board.id, "arch": bundle.arch, "frozen": bundle.frozen,
            "romfs_bytes": bundle.romfs_bytes, "files": bundle.files,
        }))  # fmt: skip
        return 0
    kind = "frozen-firmware sources" if bundle.frozen else f"{bundle.arch} .mpy"
    if bundle.romfs_bytes:
        kind += f" in a {bundle.romfs_bytes}-byte ROMFS image"
    print(f"built {bundle.path} for {bundle.board.id} ({kind}, {len(bundle.files)} files)")
    if bundle.frozen:
        manifest = bundle.path.resolve() / "manifest.py"
        print(f"next, in a micropython checkout: {bundle.board.make_command(manifest)}")
        print(
            "flash that firmware, then copy the bundle but manifest.py and freeze/ (docs/build-and-flash.md)"
        )
    elif bundle.romfs_bytes:
        image = bundle.path / ROMFS_IMAGE
        print(f"write the image to the board's ROMFS partition: mpremote romfs deploy {image}")
        print(f"then copy the rest: cd {bundle.path / FS_DIR} && mpremote cp -r . :")
    else:
        print(f"copy it to the board: cd {bundle.path} && mpremote cp -r . :")
    return 0
