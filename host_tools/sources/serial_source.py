"""The serial source: one port, the sessions with the nodes behind it, and the sinks their traffic goes to."""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from host_tools.link.cursor_store import CursorStore
from host_tools.link.flow import Quiet, Sink, Source, printable
from host_tools.link.serial_port import SerialPort
from host_tools.link.session import HostDecoder, HostSession, TextLines, TooLarge
from zoo_micro import port as zport
from zoo_micro.link import frame

NAME_MAX = 64  # characters of a node name; a longer one is a forged or broken hello
STATE = "zoo.state"
STATE_SYNC = "zoo.state.sync"
LOG = "zoo.log"

log = logging.getLogger("zoo_micro.bridge")


class NodeLink:
    """The host's side of one node: its session, what it said in its hello, and whether it is online."""

    def __init__(self, node: str, session: HostSession) -> None:
        self.node = node
        self.session = session
        self.info: dict[str, Any] = {}
        self.online = False
        self.partial: tuple[int, set[int]] | None = None  # an event some sinks took and one refused


class Bridge(Source):
    """Carries events between the node on `port` and `sinks`, across unplugs, resets and restarts.

    port: a device path or a pyserial URL (`/dev/ttyACM0`, `socket://127.0.0.1:7000`, `loop://`).
    state_path: a file that keeps each node's place in its stream, so a restarted host neither
    loses nor repeats what it had delivered before a clean stop.
    max_links: node names this port keeps a session for. A hello from a new name when all are
    taken first expires the links that have been offline for `link_idle` seconds; when none has,
    the hello is refused and counted (`links_refused`), so forged hellos cannot grow the host.
    """

    def __init__(
        self,
        port: str,
        sinks: Iterable[Sink] = (),
        *,
        baudrate: int = 115200,
        frame_max: int = 4096,
        outbox: int = 1024,
        timeout: float = 3.5,
        state_path: str | Path | None = None,
        name: str = "zoo-micro bridge",
        max_links: int = 8,
        link_idle: float = 60.0,
    ) -> None:
        if max_links < 1:
            raise ValueError(f"max_links must be at least 1, got {max_links}")
        self.port = SerialPort(port, baudrate)
        self.sinks = list(sinks)
        self.frame_max = frame_max
        self.outbox = outbox
        self.timeout_ms = int(timeout * 1000)
        self.name = name
        self.max_links = max_links
        self.link_idle_ms = int(link_idle * 1000)
        self.cursors = CursorStore(state_path) if state_path else None
        self.links: dict[str, NodeLink] = {}
        self.current: NodeLink | None = None  # the node that said hello on this port last
        self.text = TextLines(self._on_text)
        self.decoder = HostDecoder(frame_max, self._on_frame, self.text)
        self.unsendable = 0
        self.sink_errors = 0
        self.resets_sent = 0
        self.echoes = 0
        self.malformed = 0  # sound frames (CRC right) that could not be read or handled
        self.links_refused = 0
        self.links_expired = 0
        self._quiet = Quiet(log)
        self._sends: collections.deque = collections.deque()
        self._pending: list[tuple] = []  # sends waiting for their node's first hello
        self._replies: list[bytes] = []
        self._held = False
        self._last_reset = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._node_seen = threading.Condition()

    # Life cycle

    def start(self) -> Bridge:
        if self._thread is not None:
            return self
        for s in self.sinks:
            s.attach(self)
        if not self.port.open():
            log.warning("port %s is not there yet (%s); waiting for it", self.port.url, self.port.last_error)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="zoo-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Say goodbye to the node, stop the I/O thread, save cursors and close the sinks."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout)
        self._thread = None
        with self._lock:
            if self.current is not None:
                self.port.write(self.current.session.line("b"))
            self._save_cursors(force=True)
        self.port.close()
        self._close_sinks()
        self._raise_failure()

    # Host -> node

    def send(
        self,
        topic: str,
        content: Any = None,
        node: str | None = None,
        channel: str = "default",
        priority: int = 0,
    ) -> None:
        """Queue an event for `node` (every node this bridge has seen when None); thread-safe.

        Raises ValueError when the content is not JSON (or NaN/infinity) and when it cannot fit a
        frame the node accepts.
        """
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"event topic must be a non-empty string, got {topic!r}")
        try:
            size = len(json.dumps(content, allow_nan=False, ensure_ascii=False).encode())
        except (TypeError, ValueError) as e:
            raise ValueError(f"event on {topic}: content must be JSON: {e}") from None
        limit = self._node_max(node)
        if size + len(topic) + 64 > limit:
            raise TooLarge(
                f"event on {topic} needs about {size + len(topic) + 64} bytes but node frames hold {limit}: "
                "make it smaller or raise the node's frame_max"
            )
        self._sends.append((node, topic, content, channel, priority))

    def node_stream(self, node: str) -> int | None:
        link = self.links.get(node)
        return None if link is None else link.session.rx.stream

    def _node_max(self, node: str | None) -> int:
        links = [self.links[node]] if node in self.links else list(self.links.values())
        maxes = [lk.session.peer_max() for lk in links if lk.session.hello is not None]
        return min(maxes) if maxes else frame.DEFAULT_MAX

    def _drain_sends(self) -> None:
        while self._sends:
            item = self._sends.popleft()
            node = item[0]
            targets = [self.links[node]] if node in self.links else []
            if node is None:
                targets = list(self.links.values())
            if not targets:
                self._pending.append(item)
                continue
            for link in targets:
                self._session_send(link, item)

    def _session_send(self, link: NodeLink, item: tuple) -> None:
        _, topic, content, channel, priority = item
        try:
            link.session.send(topic, content, channel, priority)
        except (ValueError, TypeError, RecursionError) as e:
            self.unsendable += 1
            log.error("event on %s not sent to %s: %s", topic, link.node, e)

    # Node -> host

    def _on_frame(self, kind: str, fields: list, payload: bytes | None) -> None:
        # Whatever a frame holds, the trouble stays with that frame: counted, logged once, dropped.
        link = self.current
        bad = link.session.bad + link.session.rx.bad if link is not None else 0
        try:
            self._route(kind, fields, payload)
        except Exception as e:
            self.malformed += 1
            why = type(e).__name__
            self._quiet("malformed", "a malformed frame on %s dropped (%s: %.80s)", self.port.url, why, e)
            return
        if link is not None and link.session.bad + link.session.rx.bad > bad:
            self._quiet("malformed-node", "a malformed frame from %s was dropped", printable(link.node))

    def _route(self, kind: str, fields: list, payload: bytes | None) -> None:
        if kind == "h":
            info = json.loads(payload) if payload else None
            if not isinstance(info, list) or not isinstance(info[0], (str, int)) or isinstance(info[0], bool):
                raise ValueError("a hello without a node name")
            node = str(info[0])
            if not node or len(node) > NAME_MAX:
                raise ValueError(f"a hello with a node name of {len(node)} characters")
            link = self.links.get(node)
            if link is None:
                link = self._new_link(node)
                if link is None:
                    return
            self.current = link
            link.info = {"board": _short(info, 1), "version": _short(info, 2), "port": self.port.url}
            link.session.on_frame(kind, fields, payload)
            return
        if kind.isupper():
            self.echoes += 1  # our own frames, echoed back by a tty that is not in raw mode
            return
        if self.current is None:
            # A node that was talking to a host before this one started: ask it to say hello.
            now = time.monotonic()
            if now - self._last_reset > 0.2:
                self._last_reset = now
                self.resets_sent += 1
                self._replies.append(frame.encode("R"))
            return
        self.current.session.on_frame(kind, fields, payload)

    def _new_link(self, node: str) -> NodeLink | None:
        if len(self.links) >= self.max_links and not self._expire():
            self.links_refused += 1
            self._quiet(
                "refused",
                "a hello from new node %s on %s was refused: this port has sessions with %d nodes "
                "already (max_links)",
                printable(node),
                self.port.url,
                len(self.links),
            )
            return None
        holder: list[NodeLink] = []
        session = HostSession(
            lambda topic, content, channel, priority, seq: self._deliver(
                holder[0], topic, content, channel, priority, seq
            ),
            outbox=self.outbox,
            frame_max=self.frame_max,
            on_state=lambda up: self._on_state(holder[0], up),
        )
        if self.cursors is not None:
            saved = self.cursors.get(node)
            if saved is not None:
                session.resume(tuple(saved))
        link = NodeLink(node, session)
        holder.append(link)
        self.links[node] = link
        keep = []
        for item in self._pending:
            if item[0] in (None, node):
                self._session_send(link, item)
            if item[0] not in (None, node):
                keep.append(item)
        self._pending = keep
        return link

    def _expire(self) -> int:
        """Forget the links offline and silent for link_idle (their cursors stay saved); how many."""
        gone = [
            n
            for n, lk in self.links.items()
            if not lk.online
            and lk is not self.current
            and zport.ticks_diff(lk.session.clock(), lk.session.last_rx) > self.link_idle_ms
        ]
        for n in gone:
            del self.links[n]
        self.links_expired += len(gone)
        return len(gone)

    def _on_state(self, link: NodeLink, up: bool) -> None:
        if up:
            link.online = True
            self._each_sink("node_up", link.node, dict(link.info))
            with self._node_seen:
                self._node_seen.notify_all()
        elif link.online:
            link.online = False
            self._each_sink("node_down", link.node)

    def _deliver(
        self, link: NodeLink, topic: str, content: Any, channel: str, priority: int, seq: int
    ) -> bool:
        node = link.node
        if topic == STATE and isinstance(content, list) and len(content) == 3:
            call = ("state", node, content[0], content[1], content[2])
        elif topic == STATE_SYNC:
            call = ("state_reset", node)
        elif topic == LOG and isinstance(content, list) and len(content) == 2:
            call = ("log", node, content[0], content[1])
        else:
            call = ("event", node, topic, content, channel, priority, seq)
        done = link.partial[1] if link.partial is not None and link.partial[0] == seq else set()
        for i, sink in enumerate(self.sinks):
            if i in done:
                continue
            try:
                taken = getattr(sink, call[0])(*call[1:])
            except Exception:
                self.sink_errors += 1
                name = type(sink).__name__
                self._quiet("sink-" + name, "sink %s failed on %s from %s", name, topic, node, exc=True)
                taken = True  # a broken sink must not stall the node's stream
            if taken is False:
                link.partial = (seq, done)
                self._held = True
                return False
            done.add(i)
        link.partial = None
        return True

    def _each_sink(self, method: str, *args: Any) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, method)(*args)
            except Exception:
                self.sink_errors += 1
                name = type(sink).__name__
                self._quiet("sink-" + name, "sink %s failed in %s", name, method, exc=True)

    def _on_text(self, line: bytes) -> None:
        # Escaped, so a node cannot move the cursor or clear the screen of whoever reads it.
        text = printable(line.decode("utf-8", "replace"))
        who = printable(self.current.node) if self.current is not None else self.port.url
        log.info("[%s] %s", who, text)
        self._each_sink("text", self.port.url, text)

    # The I/O thread

    def _loop(self) -> None:
        port = self.port
        try:
            while not self._stop.is_set():
                was_open = port.is_open
                data = port.read()
                if port.is_open != was_open:
                    self._port_changed(port.is_open)
                for line in self.turn(data):
                    if not port.write(line):
                        break
        except BaseException as e:
            # Not contained anywhere below: a bug. The process must not go on looking alive.
            self._failed(e, f"the bridge on {port.url}")
            raise

    def turn(self, data: bytes = b"") -> list[bytes]:
        """One turn of the I/O thread: take `data` read from the port; the lines to write to it.
        Tests drive a bridge that was not started through this."""
        with self._lock:
            if data:
                self.decoder.feed(data)
            self._drain_sends()
            if self._held:
                self._held = False
                if self.current is not None:
                    self.current.session.retry_delivery()
            self._check_liveness()
            self._save_cursors()
            lines = self._replies
            self._replies = []
            if self.current is not None:
                lines += self.current.session.poll()
            return lines

    def _port_changed(self, opened: bool) -> None:
        with self._lock:
            self.decoder.reset()
            if opened:
                log.info("port %s open", self.port.url)
                if self.current is not None:
                    # Tell the node where we are at once, so it resends what the outage swallowed.
                    self.current.session.ack_now()
            else:
                log.warning(
                    "port %s lost (%s); reopening when it returns", self.port.url, self.port.last_error
                )

    def _check_liveness(self) -> None:
        for link in self.links.values():
            s = link.session
            if link.online and zport.ticks_diff(s.clock(), s.last_rx) > self.timeout_ms:
                self._on_state(link, False)

    def _save_cursors(self, force: bool = False) -> None:
        if self.cursors is None:
            return
        for link in self.links.values():
            cur = link.session.cursor()
            if cur is not None:
                self.cursors.set(link.node, *cur)
        self.cursors.save(force)

    # Looking in

    def wait_for_node(self, node: str | None = None, timeout: float = 10.0) -> str | None:
        """Block until `node` (any node when None) is online; its name, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self._node_seen:
            while True:
                for link in list(self.links.values()):
                    if link.online and (node is None or link.node == node):
                        return link.node
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._node_seen.wait(min(left, 0.1))

    def idle(self, node: str | None = None) -> bool:
        """True when nothing waits to be sent to `node` (every node when None) or acknowledged."""
        with self._lock:
            if self._sends or any(item[0] in (None, node) for item in self._pending):
                return False
            links = [self.links[node]] if node in self.links else list(self.links.values())
            return all(not lk.session.busy() for lk in links)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            d = self.decoder
            return {
                "port": self.port.url,
                "open": self.port.is_open,
                "opens": self.port.opens,
                "losses": self.port.losses,
                "frames": d.frames,
                "bad_frames": d.bad,
                "malformed": self.malformed,
                "links_refused": self.links_refused,
                "links_expired": self.links_expired,
                "max_links": self.max_links,
                "failure": self.failure,
                "text_bytes": self.text.bytes,
                "resets_sent": self.resets_sent,
                "echoes": self.echoes,
                "unsendable": self.unsendable,
                "sink_errors": self.sink_errors,
                "nodes": {
                    n: dict(lk.info, online=lk.online, **lk.session.stats()) for n, lk in self.links.items()
                },
            }


def _short(info: list, i: int) -> str | int | None:
    # What a hello says about the board and version, as plain short values: sinks publish them.
    v = info[i] if len(info) > i else None
    if isinstance(v, str):
        return v[:NAME_MAX]
    return v if isinstance(v, int) and not isinstance(v, bool) else None
