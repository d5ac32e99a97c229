"""zoo-micro bridge: carry nodes' events to a zoo-framework app, a twin, JSON lines or a broker."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from host_tools.bridge.launch import SINKS, launch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--port", help="the node's serial port: a device path or pyserial URL (socket://HOST:PORT)"
    )
    where.add_argument(
        "--from", dest="source", metavar="URL", help="nodes on an MQTT broker: mqtt://HOST:PORT"
    )
    parser.add_argument(
        "--sink",
        default="json",
        metavar="SINK",
        help=f"where node events go: {', '.join(SINKS)} (default: json), or a broker mqtt://HOST:PORT",
    )
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument(
        "--baud", type=int, default=115200, help="baud rate of a serial port (default: 115200)"
    )
    parser.add_argument(
        "--down",
        action="append",
        default=[],
        metavar="TOPIC",
        help="app topic sent down to the nodes (repeat it)",
    )
    parser.add_argument(
        "--state-file", help="keep each node's place in its stream here, to resume after a restart"
    )
    parser.add_argument("--app", help="with --sink framework: the Python file with your @event reactors")
    parser.add_argument("--quiet", action="store_true", help="hide node text and log lines")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stderr
    )
    stats = launch(
        args.port,
        args.sink,
        seconds=args.seconds,
        baudrate=args.baud,
        down=args.down,
        state_file=args.state_file,
        app=args.app,
        commands=sys.stdin if args.sink == "json" and not sys.stdin.isatty() else None,
        source=args.source,
    )
    nodes = stats.get("nodes", {})
    summary = {n: {k: s[k] for k in ("delivered", "sent", "online") if k in s} for n, s in nodes.items()}
    print(f"bridge {args.port or args.source}: {len(nodes)} node(s) {json.dumps(summary)}", file=sys.stderr)
    return 0
