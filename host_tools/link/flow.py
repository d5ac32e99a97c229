"""The interface node events flow through: a `Source` (a serial port's bridge, an MQTT broker) feeds
each node's events, state, log lines and text to its `Sink`s, and a sink sends events back down
through its source. Neither side knows the other's concrete class."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from host_tools.errors import UserError

# C0 controls but tab, DEL and C1 controls: what lets text move a terminal's cursor or recolour it.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters written as escapes (`\x1b`), so node text cannot rewrite a
    terminal's screen."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class LinkFailed(UserError):
    """A source's I/O thread ended on an error it could not contain; the process exits 1."""

    exit_code = 1


class Quiet:
    """Logs a kind of trouble once, then at most one line a `every` seconds with the count since, so
    a flood of bad input costs counters and not a flood of log lines."""

    def __init__(self, log: logging.Logger, every: float = 60.0) -> None:
        self.log = log
        self.every = every
        self._seen: dict[str, list] = {}  # kind -> [last logged (monotonic), not logged since]

    def __call__(self, kind: str, msg: str, *args: Any, exc: bool = False) -> None:
        now = time.monotonic()
        seen = self._seen.get(kind)
        if seen is None:
            self._seen[kind] = [now, 0]
            self.log.warning(msg + " (more like it are only counted, see the stats)", *args, exc_info=exc)
        elif now - seen[0] >= self.every:
            self.log.warning(msg + " (%d more since the last report)", *args, seen[1] + 1)
            seen[0], seen[1] = now, 0
        else:
            seen[1] += 1


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
    failure: str | None = None  # why the I/O thread ended, when it ended on its own

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
        """Feed the sinks until `seconds` pass (or forever); Ctrl-C ends it cleanly. Raises
        LinkFailed when the I/O thread ended on an error before that."""
        self.start()
        try:
            self._stop.wait(seconds)
        finally:
            self.stop()

    def __enter__(self) -> Source:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _failed(self, e: BaseException, what: str) -> None:
        """The I/O thread is ending on `e`: say why once, and wake run() so the process ends."""
        self.failure = (
            f"{what} stopped on an internal error ({type(e).__name__}: {e}); its nodes get no more events"
        )
        e.link_failure = self.failure  # type: ignore[attr-defined]  # for a process-wide excepthook
        logging.getLogger("zoo_micro.bridge").debug("the I/O thread ended", exc_info=e)
        self._stop.set()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise LinkFailed(self.failure)

    def _close_sinks(self) -> None:
        for s in self.sinks:
            try:
                s.close()
            except Exception:
                logging.getLogger("zoo_micro.bridge").exception("sink %s failed to close", type(s).__name__)
