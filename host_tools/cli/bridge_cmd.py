"""zoo-micro bridge: carry nodes' events to a zoo-framework app, a twin, JSON lines or a broker."""

from __future__ import annotations

import _thread
import argparse
import json
import logging
import sys
import threading

from host_tools.bridge.launch import SINKS, launch
from host_tools.errors import UserError
from host_tools.link.flow import LinkFailed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--port",
        help="the node's serial port: a device path or pyserial URL (socket://HOST:PORT); default: the "
        "one board on USB or the one running virtual board",
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
    parser.add_argument(
        "--max-links", type=int, default=8, metavar="N",
        help="node names one serial port keeps sessions for (default 8); a hello from a new name past "
        "that is refused and counted",
    )  # fmt: skip
    parser.add_argument(
        "--link-idle", type=float, default=60.0, metavar="S",
        help="seconds an offline node's session is kept when a new name needs its place (default 60)",
    )  # fmt: skip
    parser.add_argument(
        "--app",
        help="with --sink framework: the zoo-framework app to run (@event reactors, and optionally its "
        "workers, one Master and one FrameworkSink; see docs/framework-bridge.md)",
    )
    parser.add_argument("--quiet", action="store_true", help="hide node text and log lines")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stderr
    )
    if args.max_links < 1 or args.link_idle <= 0:
        raise UserError(f"--max-links must be 1 or more and --link-idle above 0; got {args.max_links}, "
                        f"{args.link_idle:g}")  # fmt: skip
    if args.port is None and args.source is None:
        from host_tools.cli.ports import choose_port

        args.port = choose_port(None)  # the one board there is, or one line listing them
    before = threading.excepthook
    failed: list[str] = []
    threading.excepthook = _io_thread_ended(before, failed, args.sink == "framework")
    try:
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
            max_links=args.max_links,
            link_idle=args.link_idle,
        )
    except KeyboardInterrupt:
        if failed:  # the interrupt that woke us from the framework's loop
            raise LinkFailed(failed[0]) from None
        raise
    finally:
        threading.excepthook = before
    nodes = stats.get("nodes", {})
    summary = {n: {k: s[k] for k in ("delivered", "sent", "online") if k in s} for n, s in nodes.items()}
    trouble = {k: stats[k] for k in ("malformed", "links_refused", "sink_errors") if stats.get(k)}
    extra = f" counted {json.dumps(trouble)}" if trouble else ""
    where = args.port or args.source
    print(f"bridge {where}: {len(nodes)} node(s) {json.dumps(summary)}{extra}", file=sys.stderr)
    return 0


def _io_thread_ended(before, failed: list[str], interrupt: bool):  # type: ignore[no-untyped-def]
    """The source's I/O thread ended on an error: the source holds the one line that says so, and
    its stop() raises it. Wake the main thread when it sits in a framework's loop instead of the
    source's run()."""

    def hook(args: threading.ExceptHookArgs) -> None:
        why = getattr(args.exc_value, "link_failure", None)
        if why is None:
            before(args)
            return
        failed.append(why)
        if interrupt:
            _thread.interrupt_main()

    return hook
