"""A live picture of the nodes behind a bridge: identity, worker health, events/s, heap, logs."""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Any

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


class MonitorSink(Sink):
    """Collects what the bridge hears; `render()` turns it into a rich renderable."""

    def __init__(self, log_lines: int = 8) -> None:
        self.nodes: dict[str, NodeView] = {}
        self.logs: deque[str] = deque(maxlen=log_lines)
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
        with self._lock:
            self.logs.append(f"{node} {level}: {msg}")

    def text(self, port: str, line: str) -> None:
        with self._lock:
            self.logs.append(f"[{port}] {line}")

    def render(self) -> Group:
        with self._lock:
            now = time.monotonic()
            parts: list[Any] = [self._nodes_table(now)]
            for view in self.nodes.values():
                parts.append(self._workers_table(view))
            parts.append(Panel(Text("\n".join(self.logs) or "(no log lines yet)"), title="recent log lines"))
        return Group(*parts)

    def _nodes_table(self, now: float) -> Table:
        t = Table(title="nodes", expand=True)
        for col in (
            "node",
            "board",
            "zoo_micro",
            "link",
            "events/s",
            "events",
            "heap free",
            "queue",
            "loop lag",
        ):
            t.add_column(col)
        if not self.nodes:
            t.add_row("(waiting for a node)", *[""] * 8)
        for view in self.nodes.values():
            node = (view.health or {}).get("node", {})
            heap = node.get("mem_free")
            t.add_row(
                view.node,
                str(view.info.get("board") or "?"),
                str(view.info.get("version") or "?"),
                Text("online", "green") if view.online else Text("offline", "red"),
                f"{view.events_per_second(now):.1f}",
                str(view.events),
                f"{heap:,} B" if isinstance(heap, int) else "-",
                str(node.get("queue_depth", "-")),
                f"{node['loop_lag_ms']} ms" if "loop_lag_ms" in node else "-",
            )
        return t

    def _workers_table(self, view: NodeView) -> Table:
        t = Table(title=f"{view.node}: workers", expand=True)
        for col in ("worker", "status", "score", "runs", "errors", "restarts", "avg ms", "max ms"):
            t.add_column(col)
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
                f"{w.get('avg_execute_time', 0) * 1000:.2f}",
                f"{w.get('max_execute_time', 0) * 1000:.2f}",
            )
        return t


def show(port: str, seconds: float | None = None, once: bool = False, baudrate: int = 115200) -> MonitorSink:
    """Bridge the node on `port` and show it live (or one snapshot at the end) until Ctrl-C or
    `seconds` pass."""
    import os

    from host_tools.errors import UserError
    from host_tools.sources.serial_source import Bridge

    if "://" not in port and not os.path.exists(port):
        raise UserError(
            f"no such port {port}: plug the board in (zoo-micro detect lists boards), "
            f"or start a virtual one with zoo-micro sim APP --link {port}"
        )
    monitor = MonitorSink()
    console = Console()
    live = not once and sys.stdout.isatty()
    end = time.monotonic() + seconds if seconds else None
    with Bridge(port, sinks=[monitor], baudrate=baudrate):
        if live:
            with Live(monitor.render(), console=console, refresh_per_second=4) as view:
                while end is None or time.monotonic() < end:
                    time.sleep(0.25)
                    view.update(monitor.render())
        else:
            while end is None or time.monotonic() < end:
                time.sleep(0.1)
    if not live:
        console.print(monitor.render())
    return monitor
