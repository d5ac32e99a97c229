"""zoo-micro: one command per module in host_tools/cli, loaded when it is used."""

from __future__ import annotations

import argparse
import importlib
import sys

from host_tools.errors import UserError

# name -> one-line help; each is host_tools/cli/<name>.py with add_arguments(p) and run(args) -> int
COMMANDS = {
    "boards": "list the boards zoo-micro knows",
    "detect": "list connected boards",
    "build": "compile an app and zoo_micro into a deployable bundle",
    "flash": "write MicroPython firmware to a board",
    "new": "scaffold a new app",
    "sim": "run an app on a virtual board",
    "deploy": "copy an app and zoo_micro to a board",
    "run": "deploy, reset and show the node live",
    "watch": "redeploy on every saved change",
    "monitor": "live dashboard of a node",
    "bridge": "connect boards to the host framework",
    "fleet": "live table of nodes on an MQTT broker",
}


def _available() -> dict[str, object]:
    found = {}
    for name in COMMANDS:
        try:
            found[name] = importlib.import_module(f"host_tools.cli.{name}_cmd")
        except ModuleNotFoundError as e:
            if e.name != f"host_tools.cli.{name}_cmd":
                raise
    return found


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="zoo-micro", description="Zoo Framework for microcontrollers")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = _available()
    for name, module in modules.items():
        p = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
        module.add_arguments(p)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return modules[args.command].run(args) or 0
    except UserError as e:
        print(f"zoo-micro {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"zoo-micro {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
