"""A live picture of the nodes behind a bridge: identity, worker health, events/s, heap, logs."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from host_tools.link.flow import Sink
from host_tools.node_view import NodeView

HEALTH_TOPIC = "zoo.svm.health"
STATUS_STYLE = {
    "running": "green",
    "warning": "yellow",
    "unhealthy": "red",
    "stuck": "bold red",
    "failed": "bold white on red",
}


ONCE_WAIT = 8.0  # --once without --seconds: the longest wait (a node reports health every 5 s by default)
NO_BRIDGE_AFTER = 4.0  # seconds of plain text without a frame before saying health needs the bridge
QUIET_AFTER = 3.0  # seconds of silence before saying what the monitor waits for
NO_BRIDGE = 'plain output only: the app has no "bridge" config, and health needs it (docs/bridge.md)'


class MonitorSink(Sink):
    """Collects what the bridge hears; `render()` turns it into a rich renderable laid out for 80
    columns, `as_dict()` into JSON."""

    def __init__(self, log_lines: int = 8) -> None:
        self.nodes: dict[str, NodeView] = {}
        self.logs: deque[str] = deque(maxlen=log_lines)
        self.fresh: list[str] = []  # lines not yet printed by a monitor that streams them
        self.text_lines = 0  # plain text lines heard (print() output, tracebacks)
        self.first_text: float | None = None  # time.monotonic() of the first
        self.no_bridge = False  # set by show() once plain text kept coming without any frame
        self._lock = threading.Lock()

    def _node(self, name: str) -> NodeView:
        view = self.nodes.get(name)
        if view is None:
            view = self.nodes[name] = NodeView(name)
        view.last_seen = time.monotonic()
        return view

    def node_up(self, node: str, info: dict) -> None:
        with self._lock:
            view = self._node(node)
            view.info = dict(info)
            view.online = True
            self.no_bridge = False

    def node_down(self, node: str) -> None:
        with self._lock:
            self._node(node).online = False

    def event(self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int) -> bool:
        with self._lock:
            view = self._node(node)
            view.online = True
            if topic == HEALTH_TOPIC and isinstance(content, dict):
                view.heard_health(content)
            else:
                view.heard_event(time.monotonic())
        return True

    def log(self, node: str, level: str, msg: str) -> None:
        self._line(f"{node} {level}: {msg}")

    def text(self, port: str, line: str) -> None:
        with self._lock:
            self.text_lines += 1
            if self.first_text is None:
                self.first_text = time.monotonic()
        self._line(f"[{port}] {line}", line)

    def _line(self, line: str, plain: str | None = None) -> None:
        with self._lock:
            self.logs.append(line)
            self.fresh.append(line if plain is None else plain)
            del self.fresh[: -self.logs.maxlen * 8]  # bounded when nobody takes them

    def take_fresh(self) -> list[str]:
        with self._lock:
            lines, self.fresh = self.fresh, []
        return lines

    def all_reported(self) -> bool:
        """Every node heard has sent a health report (and at least one node was heard)."""
        with self._lock:
            return bool(self.nodes) and all(v.health is not None for v in self.nodes.values())

    def render(self, lines: bool = True) -> Group:
        """The nodes, each one's workers, and (with lines) the recent output and log lines."""
        with self._lock:
            now = time.monotonic()
            if self.nodes:
                parts: list[Any] = [self._nodes_table(now)]
            elif self.no_bridge:
                parts = [Text(f"{NO_BRIDGE}.", "yellow")]
            else:
                parts = [Text("(waiting for a node)")]
            for view in self.nodes.values():
                parts.append(self._workers_table(view))
            if lines:
                title = "recent output" if self.no_bridge else "recent log lines"
                parts.append(Panel(Text("\n".join(self.logs) or "(no log lines yet)"), title=title))
        return Group(*parts)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            nodes = []
            for view in self.nodes.values():
                row = view.as_dict(now)
                row.update(
                    version=view.info.get("version"),
                    events=view.events,
                    node_health=view.vitals,
                    workers=(view.health or {}).get("workers", {}),
                )
                nodes.append(row)
            return {"nodes": nodes, "bridge": bool(self.nodes), "lines": list(self.logs)}

    def _nodes_table(self, now: float) -> Table:
        t = _table("nodes")
        t.add_column("node", ratio=1, no_wrap=True, overflow="ellipsis", min_width=12)
        t.add_column("link", no_wrap=True)
        for col in ("ev/s", "events", "heap free", "queue", "lag"):
            t.add_column(col, justify="right", no_wrap=True)
        for view in self.nodes.values():
            node = view.vitals
            heap = node.get("mem_free")
            t.add_row(
                view.node,
                Text("online", "green") if view.online else Text("offline", "red"),
                f"{view.events_per_second(now):.1f}",
                str(view.events),
                f"{heap:,} B" if isinstance(heap, int) else "-",
                str(node.get("queue_depth", "-")),
                f"{node['loop_lag_ms']} ms" if "loop_lag_ms" in node else "-",
            )
        return t

    def _workers_table(self, view: NodeView) -> Table:
        about = [str(view.info[k]) for k in ("board", "version") if view.info.get(k)]
        if len(about) == 2:
            about[1] = f"zoo_micro {about[1]}"
        t = _table(f"{view.node}: workers" + (f" ({', '.join(about)})" if about else ""))
        t.add_column("worker", ratio=1, no_wrap=True, overflow="ellipsis", min_width=12)
        for col in ("status", "score", "runs", "errors", "restarts", "avg ms", "max ms"):
            t.add_column(col, no_wrap=True, justify="left" if col == "status" else "right")
        workers = (view.health or {}).get("workers", {})
        if not workers:
            t.add_row("(no health report yet)", *[""] * 7)
        for name in sorted(workers):
            w = workers[name]
            status = w.get("status", "?")
            t.add_row(
                name,
                Text(status, STATUS_STYLE.get(status, "")),
                str(w.get("health_score", "-")),
                str(w.get("execute_count", "-")),
                str(w.get("error_count", "-")),
                str(w.get("restarts", "-")),
                _ms(w.get("avg_execute_time")),
                _ms(w.get("max_execute_time")),
            )
        return t


def _table(title: str) -> Table:
    """A table that fits 80 columns: a rule under the header, one space and a blank between columns."""
    return Table(
        title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), pad_edge=False, expand=True
    )


def _ms(seconds: object) -> str:
    """Seconds as milliseconds in at most 6 characters: 1.50, 12.5, 2500."""
    if not isinstance(seconds, (int, float)):
        return "-"
    ms = seconds * 1000
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def show(
    port: str,
    seconds: float | None = None,
    once: bool = False,
    baudrate: int = 115200,
    as_json: bool = False,
    command: str = "monitor",
) -> MonitorSink:
    """Bridge the node on `port` and show it until Ctrl-C or `seconds` pass: live on a terminal,
    else its lines as they come and a snapshot at the end; once (or as_json): only the snapshot, after
    `seconds` or, without them, as soon as every node reported its health (ONCE_WAIT at most).
    What it waits for, and that a plain app's health needs the bridge, it says once on stderr."""
    import os

    from host_tools.errors import UserError
    from host_tools.sources.serial_source import Bridge

    if "://" not in port and not os.path.exists(port):
        raise UserError(
            f"no such port {port}: plug the board in (zoo-micro detect lists boards), "
            f"or start a virtual one with zoo-micro sim APP --link {port}"
        )
    once = once or as_json
    monitor = MonitorSink()
    console = Console()
    live = not once and sys.stdout.isatty()
    stream = not once and not live
    early = once and seconds is None
    t0 = time.monotonic()
    end = t0 + (ONCE_WAIT if early else seconds) if (seconds or early) else None
    said: set[str] = set()

    def say(key: str, line: str) -> None:
        if key not in said:
            said.add(key)
            print(f"zoo-micro {command}: {line}", file=sys.stderr, flush=True)

    def tick() -> bool:
        """One look at what arrived; False when it is time to stop."""
        now = time.monotonic()
        heard = monitor.text_lines or monitor.nodes
        if not heard and now - t0 >= QUIET_AFTER:
            say(
                "quiet",
                f'waiting for {port}: nothing heard yet (a node with a "bridge" config says hello, '
                "a plain app prints lines); is its app running? Ctrl-C stops",
            )
        first = monitor.first_text
        if not monitor.nodes and first is not None and now - first >= NO_BRIDGE_AFTER:
            monitor.no_bridge = True
            if not live:  # a live view says it at its top
                say("plain", f"{port}: {NO_BRIDGE}")
        if stream:
            for line in monitor.take_fresh():
                print(line, flush=True)
        if early and (monitor.all_reported() or monitor.no_bridge):
            return False
        return end is None or now < end

    interrupted = False
    try:
        with Bridge(port, sinks=[monitor], baudrate=baudrate):
            if live:
                with Live(monitor.render(), console=console, refresh_per_second=4) as view:
                    while tick():
                        time.sleep(0.25)
                        view.update(monitor.render())
            else:
                while tick():
                    time.sleep(0.1)
    except KeyboardInterrupt:
        interrupted = True
    if stream:
        for line in monitor.take_fresh():  # what came in after the last look
            print(line, flush=True)
    if as_json:
        data = monitor.as_dict()
        data.update(port=port, seconds=round(time.monotonic() - t0, 1))
        print(json.dumps(data))
    elif once:
        console.print(monitor.render())
    elif stream and monitor.nodes:
        console.print(monitor.render(lines=False))  # the lines are already out
    if interrupted:
        events = sum(v.events for v in monitor.nodes.values())
        print(
            f"zoo-micro {command}: stopped after {time.monotonic() - t0:.0f} s on {port}: "
            f"{len(monitor.nodes)} node(s), {events} events, {monitor.text_lines} lines of output",
            file=sys.stderr,
        )
    return monitor
