"""zoo-micro: one command per module in host_tools/cli, imported only when it is the command run, so a
command whose extra is not installed (paho-mqtt for fleet) never stops the others."""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from host_tools.errors import UserError

# name -> one-line help; each is host_tools/cli/<name>_cmd.py with add_arguments(p) and run(args) -> int
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
    "repl": "the board's REPL in this terminal (mpremote)",
    "bridge": "connect boards to the host framework",
    "fleet": "live table of nodes on an MQTT broker",
    "completion": "print a shell completion script (bash, zsh or fish)",
}
# top-level module a command may need -> the zoo-micro extra that installs it
EXTRAS = {"paho": "mqtt", "zoo_framework": "framework"}
DIST = "zoo-micro"


class MissingExtra(UserError):
    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f'needs the {extra} extra ({module} is not installed): pip install "{DIST}[{extra}]"'
        )


def version() -> str:
    """The installed distribution's version; the runtime's own in a checkout that was never installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(DIST)
    except PackageNotFoundError:
        from host_tools.build import runtime_version

        return runtime_version()


class _Version(argparse.Action):
    """--version, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def extra_for(error: ModuleNotFoundError) -> MissingExtra | None:
    """The one-line error for a module an optional extra installs; None for any other missing module."""
    top = (error.name or "").split(".")[0]
    return MissingExtra(top, EXTRAS[top]) if top in EXTRAS else None


def load(name: str) -> ModuleType:
    """The command's module; a MissingExtra when it needs an extra that is not installed."""
    try:
        return importlib.import_module(f"host_tools.cli.{name}_cmd")
    except ModuleNotFoundError as e:
        missing = extra_for(e)
        if missing is None:
            raise
        raise missing from None


def build_parser(
    argv: list[str] | None = None, load_all: bool = False
) -> tuple[argparse.ArgumentParser, dict]:
    """The parser with every command listed, and the arguments of the command argv names (of every
    command that imports, with load_all); returns it and {command: module} for those loaded."""
    parser = argparse.ArgumentParser(prog="zoo-micro", description="Zoo Framework for microcontrollers")
    parser.add_argument("--version", action=_Version, help="print zoo-micro's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    words = [a for a in (argv or []) if not a.startswith("-")]
    chosen = words[0] if words else None
    modules = {}
    for name, text in COMMANDS.items():
        p = sub.add_parser(name, help=text, description=text)
        if name != chosen and not load_all:
            continue
        try:
            modules[name] = load(name)
        except MissingExtra:
            if load_all:
                continue  # completion lists the command, without its options
            raise
        modules[name].add_arguments(p)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser, modules = build_parser(argv)
    except UserError as e:
        print(f"zoo-micro {command}: {e}", file=sys.stderr)
        return e.exit_code
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return modules[args.command].run(args) or 0
    except UserError as e:
        print(f"zoo-micro {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        missing = extra_for(e)
        if missing is None:
            raise
        print(f"zoo-micro {args.command}: {missing}", file=sys.stderr)
        return missing.exit_code
    except KeyboardInterrupt:
        print(f"zoo-micro {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
