"""The host's end of a link session (the node's is zoo_micro/link/session.py; both speak the frames
of zoo_micro/link/frame.py and send with the node's Outbox). Besides what the node does, the host
answers hellos, holds frames that arrive out of order and says which it holds, so one lost frame
costs one resend, and joins large events that the node sends in pieces."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from zoo_micro import port as zport
from zoo_micro.link.frame import DEFAULT_MAX, PROTO, WINDOW, Decoder, encode, events
from zoo_micro.link.outbox import Outbox


def wall_ms() -> int:
    return int(time.time() * 1000)


class TooLarge(ValueError):
    """An event too large for the frames the node reads."""


class HostDecoder(Decoder):
    """The decoder, plus forgetting a partial line when the port was reopened."""

    def reset(self) -> None:
        self.n = -1
        self.line = False
        if self.text:
            self.text(None, 0, 0)


class TextLines:
    """Collects the text between frames (print() output, tracebacks) into lines for `on_line`;
    a Decoder's `text` hook."""

    def __init__(self, on_line: Callable[[bytes], None], max_len: int = 256) -> None:
        self.on_line = on_line
        self.max_len = max_len
        self.buf = bytearray()
        self.bytes = 0

    def __call__(self, data: bytes | None, i: int, j: int) -> None:
        if data is not None:
            self.bytes += j - i
            room = self.max_len - len(self.buf)
            if room > 0:
                self.buf += data[i : min(j, i + room)]
            return
        line = bytes(self.buf[:-1] if self.buf.endswith(b"\r") else self.buf)
        self.buf = bytearray()
        if line:
            self.on_line(line)


class _More:
    """A piece of a large event was taken; the event is not complete yet."""


MORE = _More()


class HoldingReceiver:
    """The node's stream: frames past a gap are held (up to `slots`), so the ack jumps over them
    once the gap is filled; large events sent in pieces are joined."""

    def __init__(self, deliver: Callable[..., bool], slots: int, rx_max: int) -> None:
        self.deliver = deliver  # (topic, content, channel, priority, seq) -> False: no room, offer it again
        self.slots = slots
        self.rx_max = rx_max
        self.stream: int | None = None
        self.next = 0
        self.ack_at: int | None = None
        self.echo: int | None = None  # the token of the last data frame, for the next ack
        self.full = False
        self.delivered = self.lost = self.bad = self.dup = 0
        self.held: dict[int, list[tuple]] = {}  # first seq -> its events
        self.pieces: list[str] = []  # of a large event being joined
        self.piece_seq: int | None = None  # seq of the last piece taken

    def start(self, stream: int, first: int) -> bool:
        """The node's hello: True when it began a new stream (it restarted)."""
        new = stream != self.stream
        if new:
            self.held = {}
        if new or first > self.next:
            if not new:
                self.lost += first - self.next
            restarted = new and self.stream is not None
            self.stream = stream
            self.skip(first)
            return restarted
        return False

    def skip(self, first: int) -> None:
        self.next = first
        self.pieces = []
        for s in [s for s, evs in self.held.items() if s + len(evs) <= first]:
            del self.held[s]

    def on_data(self, fields: list, payload: bytes | None, now: int) -> None:
        # Seq, count and low mark move `next` and `lost`: each must be one a sender can write, or one
        # forged frame would end the stream (next jumping by 2**48, every later frame a duplicate).
        seq, count = fields[0], fields[2]
        low = fields[4] if len(fields) > 4 else None
        if type(seq) is not int or type(count) is not int or not 0 < count <= WINDOW:
            raise ValueError("seq or event count outside the window")
        if low is not None and (type(low) is not int or low > seq or low > self.next + WINDOW):
            raise ValueError("low mark outside the window")
        self.ack_at = now
        self.echo = fields[3]
        if low is not None and low > self.next:
            self.lost += low - self.next  # the node's outbox dropped them
            self.skip(low)
        try:
            evs = events(payload, count)
        except ValueError:
            # A sound frame with unreadable events: skip them rather than stall the stream on them.
            self.bad += 1
            if seq <= self.next < seq + count:
                self.lost += seq + count - self.next
                self.skip(seq + count)
            return
        self.take(seq, evs)

    def take(self, seq: int, evs: list) -> None:
        if seq + len(evs) <= self.next:
            self.dup += 1  # my ack was lost: it goes again at once
        elif seq > self.next + WINDOW:
            return  # from an earlier stream, or forged
        elif seq not in self.held and (seq <= self.next or len(self.held) < self.slots):
            self.held[seq] = evs
            self.drain()

    def drain(self) -> None:
        held = self.held
        self.full = False
        while held:
            hit = next((s for s in held if s <= self.next < s + len(held[s])), None)
            if hit is None:
                return
            evs = held[hit]
            for k in range(self.next - hit, len(evs)):
                e = evs[k]
                content = self._piece(e) if len(e) > 4 else e[1]
                if content is not MORE:
                    if not self.deliver(e[0], content, e[2], e[3], hit + k):
                        self.full = True  # stays held and unacknowledged until the sinks take it
                        return
                    self.pieces = []
                    self.delivered += 1
                self.next += 1
            for s in [s for s, evs in held.items() if s + len(evs) <= self.next]:
                del held[s]

    def _piece(self, e: tuple) -> Any:
        if self.piece_seq != self.next:  # a new piece, not a second offer of the last one
            self.piece_seq = self.next
            self.pieces.append(e[1])
        if e[4] != 2:
            if len(self.pieces) * 64 > 4 * self.rx_max:
                raise ValueError("large event over the limit")
            return MORE
        try:
            return json.loads("".join(self.pieces))
        except ValueError:
            self.pieces = []
            self.bad += 1  # pieces without their start (the outbox dropped it): skipped
            return MORE

    def ack(self) -> list:
        # The frames held past a gap, as offsets from `next`: the node resends only what is missing.
        f: list = [self.next, 0 if self.full else 1, self.echo]
        self.ack_at = self.echo = None
        for first in sorted(self.held)[:3]:
            if first > self.next:
                f.append((first - self.next, len(self.held[first])))
        return f

    def retry(self, now: int) -> None:
        if self.full:
            self.drain()
            self.ack_at = now


def _dumps(obj: Any) -> str:
    # UTF-8 rather than \u escapes: MicroPython's json does not join surrogate pairs.
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


class Sender(Outbox):
    """The host's stream to one node: the node's own outbox, writing upper-case frames and whole
    events, as the node does not join pieces. Each data frame acknowledges the node's stream
    where `rx` (the session's receiver) stands in it."""

    kind = "D"
    piece = 1 << 30  # whole events only
    dumps = staticmethod(_dumps)

    def __init__(self, rx: Any, outbox: int, frame_max: int) -> None:
        super().__init__(outbox, frame_max, frame_max, None, 0)
        self.rx = rx

    @property
    def peer(self) -> int | None:
        return self.rx.stream

    @property
    def expect(self) -> int:
        return self.rx.next


class HostSession:
    """One node's session on the host: answers its hellos and pongs its pings; never says hello.
    Sans-IO: the owner feeds frames to on_frame(), writes what poll() returns and gets events
    through deliver()."""

    def __init__(
        self,
        deliver: Callable[..., bool],
        *,
        outbox: int = 1024,
        frame_max: int = 4096,
        slots: int = 32,
        clock: Callable[[], int] | None = None,
        wall: Callable[[], int] | None = wall_ms,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.rx = HoldingReceiver(deliver, slots, frame_max)
        self.tx = Sender(self.rx, outbox, frame_max)
        self.frame_max = frame_max
        self.clock = clock or zport.ticks_ms
        self.on_state = on_state
        self.wall = wall
        self.hello: list | None = None  # the fields of the node's last hello
        self.info: Any = None  # what the node said about itself
        self.last_rx = self.last_tx = self.clock()
        self.sessions = self.restarts = self.bad = 0
        self.echoes = 0  # my own frames, echoed back by a terminal not in raw mode

    def cursor(self) -> tuple[int, int] | None:
        """(node stream, next seq to deliver), or None before the node was seen."""
        return None if self.rx.stream is None else (self.rx.stream, self.rx.next)

    def resume(self, cursor: tuple[int, int]) -> None:
        """Continue from a saved place in the node's stream (a restarted bridge that saved it)."""
        self.rx.stream, self.rx.next = cursor

    def line(self, k: str, fields: Any = (), payload: str | None = None) -> bytes:
        return encode(k.upper(), fields, payload)

    def peer_max(self) -> int:
        """The longest line the node reads (what it said in its hello)."""
        return self.tx.peer_max

    def adopt(self, f: list, now: int) -> None:
        """The node's hello [proto, stream, first, cursor stream, cursor next, max, nonce, ...]."""
        if f[0] != PROTO or f[1] is None or f[2] is None:
            raise ValueError("hello")
        if self.rx.start(f[1], f[2]):
            self.restarts += 1
        self.tx.restart(f[4] if f[3] == self.tx.stream else None, f[5] or DEFAULT_MAX)
        self.last_rx = now
        self.sessions += 1

    def hello_line(self, nonce: int, wall: int | None) -> bytes:
        # Numbers ride in hex fields: a small hello survives noise.
        cur = self.cursor() or (None, None)
        f = [PROTO, self.tx.stream, self.tx.low, cur[0], cur[1], self.frame_max, nonce, wall]
        return self.line("h", f)

    def on_frame(self, kind: str, fields: list, payload: bytes | None) -> None:
        """Process one frame from the decoder. The node writes lower case: anything else is an echo."""
        if not kind.islower():
            self.echoes += 1
            return
        now = self.clock()
        tx = self.tx
        try:
            if kind == "h":
                info = json.loads(payload) if payload else None
                # Repeats of the same hello get the same answer without disturbing the session.
                if self.hello is None or fields[6] != self.hello[6]:
                    self.adopt(fields, now)
                if self.on_state is not None:
                    self.on_state(True)
                self.last_rx = now
                self.hello = fields
                self.info = info
                tx.out.append(self.hello_line(fields[6], self.wall() if self.wall else None))
            elif kind == "p":
                self.last_rx = now
                tx.on_ack(fields[1], None, now, None)
                tx.out.append(self.line("q", [fields[0], self.wall() if self.wall else None]))
            elif kind == "b":
                if self.on_state is not None:
                    self.on_state(False)
            elif self.rx.stream is None:
                pass  # before a hello, and with no saved place in the node's stream
            elif kind == "d":
                self.last_rx = now
                tx.on_ack(fields[1], None, now, None)
                self.rx.on_data(fields, payload, now)
            elif kind == "a":
                self.last_rx = now
                tx.held(now, fields, tx.on_ack(fields[0], fields[1], now, fields[2]))
        except Exception:  # whatever a frame holds, the session outlives it; counted as malformed
            self.bad += 1

    def retry_delivery(self) -> None:
        """Offer held events again (a sink made room)."""
        self.rx.retry(self.clock())

    def poll(self) -> list[bytes]:
        """The lines to write now; call after frames arrive and on timers."""
        now = self.clock()
        rx = self.rx
        if self.tx.flush(now) and not rx.full:
            rx.ack_at = None  # the data frames carry the ack
        if rx.ack_at is not None:
            self.tx.out.append(self.line("a", rx.ack()))
        out = self.tx.out
        if out:
            self.tx.out = []
            self.last_tx = now
        return out

    def busy(self) -> bool:
        """True while events wait to be sent to the node or acknowledged by it."""
        return self.tx.next > self.tx.low

    def ack_now(self) -> None:
        """Acknowledge at the next poll (after the port came back: the node resends what it lost)."""
        self.rx.ack_at = self.clock()

    def send(self, topic: str, content: Any = None, channel: str = "default", priority: int = 0) -> None:
        self.tx.send(topic, content, channel, priority)

    def stats(self) -> dict[str, Any]:
        tx, rx = self.tx, self.rx
        return {
            "state": "up" if self.hello is not None else "hello",
            "sent": tx.sent,
            "resent": tx.resent,
            "outbox": tx.next - tx.low,
            "dropped": tx.dropped,
            "delivered": rx.delivered,
            "duplicates": rx.dup,
            "lost": rx.lost,
            "malformed": self.bad + rx.bad,
            "sessions": self.sessions,
            "peer_restarts": self.restarts,
            "echoes": self.echoes,
            "rtt_ms": tx.srtt,
        }


__all__ = ["HostDecoder", "HoldingReceiver", "HostSession", "TextLines", "TooLarge", "WINDOW", "wall_ms"]
