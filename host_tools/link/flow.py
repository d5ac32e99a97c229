"""The interface node events flow through: a `Source` (a serial port's bridge, an MQTT broker) feeds
each node's events, state, log lines and text to its `Sink`s, and a sink sends events back down
through its source. Neither side knows the other's concrete class."""

from __future__ import annotations

import logging
import threading
from typing import Any


class Sink:
    """Override what you need. Methods run on the source's I/O thread, in the node's order.

    `event` may return False for "no room now": the source offers the same event again later and
    the node keeps it unacknowledged meanwhile. Anything else counts as taken.
    """

    source: Source | None = None

    def attach(self, source: Source) -> None:
        """Called once when the source starts; a sink that forwards app events down keeps `source`."""
        self.source = source

    def event(
        self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int
    ) -> bool | None:
        return True

    def state(self, node: str, scope: str, key: str, payload: dict | None) -> None:
        """One state key changed on the node; payload {"value", "version"}, or None when removed."""

    def state_reset(self, node: str) -> None:
        """The node is about to send its whole state again: forget its mirror."""

    def log(self, node: str, level: str, msg: str) -> None:
        """A zoo log line from the node."""

    def node_up(self, node: str, info: dict) -> None:
        """A session with the node started or resumed; info: board, version, caps, port."""

    def node_down(self, node: str) -> None:
        """The node went quiet or said goodbye."""

    def text(self, port: str, line: str) -> None:
        """A line of plain text from the port (print() output, tracebacks)."""

    def close(self) -> None:
        """The source stopped."""


class Source:
    """What a source of node events shares: its sinks, `send()` down to the nodes, and a life cycle
    of start/stop, run(seconds) and `with`. Subclasses set `sinks` and `_stop`."""

    sinks: list[Sink]
    _stop: threading.Event

    def start(self) -> Source:
        raise NotImplementedError

    def stop(self, timeout: float = 2.0) -> None:
        raise NotImplementedError

    def send(
        self,
        topic: str,
        content: Any = None,
        node: str | None = None,
        channel: str = "default",
        priority: int = 0,
    ) -> None:
        """Send an event to `node` (every node seen when None); ValueError when it cannot go."""
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        """Counters for people and tests: what arrived, what was delivered, each node."""
        raise NotImplementedError

    def node_stream(self, node: str) -> int | None:
        """The stream id of the node's link session, where this source keeps one (seqs restart with it)."""
        return None

    def run(self, seconds: float | None = None) -> None:
        """Feed the sinks until `seconds` pass (or forever); Ctrl-C ends it cleanly."""
        self.start()
        try:
            self._stop.wait(seconds)
        finally:
            self.stop()

    def __enter__(self) -> Source:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_sinks(self) -> None:
        for s in self.sinks:
            try:
                s.close()
            except Exception:
                logging.getLogger("zoo_micro.bridge").exception("sink %s failed to close", type(s).__name__)
