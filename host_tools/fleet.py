"""The fleet as the broker's retained topics tell it: who is online, when each node was last heard,
its health, events per second and heap. `zoo-micro fleet` shows it; tests and scripts read it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from rich.table import Table

from host_tools.link.broker import BrokerUrl, connect, make_client, parse_url
from host_tools.node_view import NodeView
from zoo_micro.mqtt import layout


class Fleet:
    """Subscribes to every node's status, info and health under `root` on the broker at `url`."""

    def __init__(self, url: str | BrokerUrl, root: str = layout.ROOT) -> None:
        self.url = parse_url(url) if isinstance(url, str) else url
        self.root = layout.check_name("root", root)
        self._nodes: dict[str, NodeView] = {}
        self._cond = threading.Condition()
        self._last_msg = time.monotonic()
        self._subscribed = threading.Event()
        self._client = make_client(self.url, f"zoo-fleet-{os.getpid()}-{id(self) & 0xFFFF:x}")
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_message = self._on_message

    def start(self) -> Fleet:
        connect(self._client, self.url)
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not reason.is_failure:
            subs = [f"{self.root}/+/{kind}" for kind in (layout.STATUS, layout.INFO, layout.HEALTH)]
            client.subscribe([(s, 1) for s in subs])

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        parts = layout.split(msg.topic)
        if parts is None or parts[3]:
            return
        _, node, kind, _ = parts
        now = time.monotonic()
        with self._cond:
            self._last_msg = now
            view = self._nodes.get(node)
            if view is None:
                view = self._nodes[node] = NodeView(node)
            if not msg.retain:
                view.last_seen = now
            if kind == layout.STATUS:
                view.online = msg.payload == layout.ONLINE
            elif kind == layout.INFO:
                view.info = _json(msg.payload) or {}
            elif kind == layout.HEALTH:
                health = _json(msg.payload)
                if isinstance(health, dict):
                    view.heard_health(health)
            self._cond.notify_all()

    # Looking in

    def nodes(self) -> list[NodeView]:
        with self._cond:
            return [v.copy() for _, v in sorted(self._nodes.items())]

    def node(self, name: str) -> NodeView | None:
        with self._cond:
            v = self._nodes.get(name)
            return v.copy() if v is not None else None

    def wait(self, predicate: Callable[[Fleet], bool], timeout: float = 10.0) -> bool:
        """Block until predicate(fleet) holds; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate(self):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))

    def settle(self, quiet: float = 0.3, timeout: float = 3.0) -> None:
        """Wait for the retained messages that follow a subscription to stop arriving."""
        deadline = time.monotonic() + timeout
        self._subscribed.wait(timeout)
        while time.monotonic() < deadline:
            with self._cond:
                idle = time.monotonic() - self._last_msg
            if idle >= quiet:
                return
            time.sleep(min(quiet - idle, max(0.0, deadline - time.monotonic())) + 0.01)


def _json(payload: bytes) -> Any:
    import json

    try:
        return json.loads(payload)
    except ValueError:
        return None


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "retained"
    if seconds < 60:
        return f"{seconds:.1f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _kb(n: Any) -> str:
    return f"{n / 1024:.1f}K" if isinstance(n, int) and n >= 0 else "-"


def table(views: list[NodeView], title: str = "", now: float | None = None) -> Table:
    """A rich table with one row per node."""
    now = time.monotonic() if now is None else now
    t = Table(title=title or None)
    for name, justify in (
        ("node", "left"),
        ("online", "left"),
        ("last seen", "right"),
        ("health", "left"),
        ("ev/s", "right"),
        ("heap free", "right"),
        ("heap used", "right"),
        ("outbox", "right"),
        ("dropped", "right"),
        ("outages", "right"),
        ("board", "left"),
    ):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for v in views:
        d = v.as_dict(now)
        online = {True: "[green]online[/]", False: "[red]offline[/]", None: "?"}[v.online]
        score = d["health_score"]
        health = d["status"] + (f" {score}" if score is not None else "")
        rate = "-" if d["events_per_s"] is None else f"{d['events_per_s']:.1f}"
        outbox = "-" if d["outbox"] is None else f"{d['outbox']}/{v.mqtt.get('outbox_max', '?')}"
        board = (d["board"] or "-") + (f" via {d['via']}" if d["via"] else "")
        t.add_row(
            v.node,
            online,
            _ago(d["last_seen_s"]),
            health,
            rate,
            _kb(d["mem_free"]),
            _kb(d["mem_alloc"]),
            outbox,
            str(d["dropped"] if d["dropped"] is not None else "-"),
            str(d["outages"] if d["outages"] is not None else "-"),
            board,
        )
    return t
