"""What a sink is: where the bridge puts each node's events, state, log lines and text."""

from __future__ import annotations

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
