"""What a sink is: where the bridge puts each node's events, state, log lines and text."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host_tools.bridge.bridge import Bridge


class Sink:
    """Override what you need. Methods run on the bridge's I/O thread, in the node's order.

    `event` may return False for "no room now": the bridge offers the same event again later and
    the node keeps it unacknowledged meanwhile. Anything else counts as taken.
    """

    bridge: Bridge | None = None

    def attach(self, bridge: Bridge) -> None:
        """Called once when the bridge starts; a sink that forwards app events down keeps `bridge`."""
        self.bridge = bridge

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
        """The bridge stopped."""


class SinkFeeder:
    """What a source of node events (a serial Bridge, an MQTT source) shares: its sinks and a
    life cycle of start/stop, run(seconds) and `with`. Subclasses set `sinks` and `_stop`."""

    sinks: list[Sink]
    _stop: threading.Event

    def start(self) -> SinkFeeder:
        raise NotImplementedError

    def stop(self, timeout: float = 2.0) -> None:
        raise NotImplementedError

    def run(self, seconds: float | None = None) -> None:
        """Feed the sinks until `seconds` pass (or forever); Ctrl-C ends it cleanly."""
        self.start()
        try:
            self._stop.wait(seconds)
        finally:
            self.stop()

    def __enter__(self) -> SinkFeeder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_sinks(self) -> None:
        for s in self.sinks:
            try:
                s.close()
            except Exception:
                logging.getLogger("zoo_micro.bridge").exception("sink %s failed to close", type(s).__name__)
