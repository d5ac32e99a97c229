"""The fleet as the broker's retained topics tell it: who is online, when each node was last heard,
its health, events per second and heap. `zoo-micro fleet` shows it; tests and scripts read it.

A serial bridge that puts its nodes on the broker (`bridge --sink mqtt://`) says `{"role": "bridge"}`
in its info: it is not listed as a node, and the nodes it carries (info `"via": <bridge>`) show
offline while its status is offline (its last will when it dies)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from rich import box
from rich.markup import escape
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
                info = _json(msg.payload)
                view.info = info if isinstance(info, dict) else {}
            elif kind == layout.HEALTH:
                health = _json(msg.payload)
                if isinstance(health, dict):
                    view.heard_health(health)
            self._cond.notify_all()

    # Looking in

    def nodes(self) -> list[NodeView]:
        with self._cond:
            return [self._seen(v) for _, v in sorted(self._nodes.items()) if not _is_bridge(v)]

    def node(self, name: str) -> NodeView | None:
        with self._cond:
            v = self._nodes.get(name)
            return self._seen(v) if v is not None and not _is_bridge(v) else None

    def bridges(self) -> list[NodeView]:
        """The serial bridges that carry nodes onto the broker, and whether each is online."""
        with self._cond:
            return [v.copy() for _, v in sorted(self._nodes.items()) if _is_bridge(v)]

    def _seen(self, view: NodeView) -> NodeView:
        # A node is only as online as the bridge that carries it: a killed bridge leaves the
        # node's own retained status at online, but its last will says the bridge is not.
        v = view.copy()
        bridge = self._nodes.get(v.info.get("via")) if isinstance(v.info.get("via"), str) else None
        if v.online and bridge is not None and _is_bridge(bridge) and bridge.online is False:
            v.online = False
        return v

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


def _is_bridge(view: NodeView) -> bool:
    return view.info.get("role") == "bridge"


def _json(payload: bytes) -> Any:
    import json

    try:
        return json.loads(payload)
    except ValueError:
        return None


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "retained"  # known only from the broker's retained topics, not heard live yet
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _kb(n: Any) -> str:
    return f"{n / 1024:.1f}K" if isinstance(n, int) and n >= 0 else "-"


def table(views: list[NodeView], title: str = "", now: float | None = None) -> Table:
    """A rich table with one row of two lines per node, laid out for an 80-column terminal: a
    node's name is never cut; its board goes under it, its last-seen under its state."""
    now = time.monotonic() if now is None else now
    t = Table(
        title=title or None,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )
    width = max([len(v.node) for v in views] + [4])
    t.add_column("node", min_width=min(width, 20), overflow="fold")
    t.add_column("state\nseen", no_wrap=True)
    t.add_column("health\nscore", no_wrap=True)
    t.add_column("ev/s", justify="right", no_wrap=True)
    t.add_column("heap\nfree/used", justify="right", no_wrap=True)
    t.add_column("outbox\ndropped", justify="right", no_wrap=True)
    t.add_column("outages", justify="right", no_wrap=True)
    for v in views:
        d = v.as_dict(now)
        online = {True: "[green]online[/]", False: "[red]offline[/]", None: "?"}[v.online]
        score = "" if d["health_score"] is None else str(d["health_score"])
        rate = "-" if d["events_per_s"] is None else f"{d['events_per_s']:.1f}"
        outbox = "-" if d["outbox"] is None else f"{d['outbox']}/{v.mqtt.get('outbox_max', '?')}"
        dropped = "-" if d["dropped"] is None else str(d["dropped"])
        board = (d["board"] or "") + (f" via {d['via']}" if d["via"] else "")
        t.add_row(
            escape(v.node) + (f"\n[dim]{escape(str(board))}[/]" if board else ""),
            f"{online}\n[dim]{_ago(d['last_seen_s'])}[/]",
            f"{d['status']}\n{score}",
            rate,
            f"{_kb(d['mem_free'])}\n{_kb(d['mem_alloc'])}",
            f"{outbox}\n{dropped}",
            str(d["outages"] if d["outages"] is not None else "-"),
        )
    return t
