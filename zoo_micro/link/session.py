# The reliable session: each direction delivers every event once and in order, across lost,
# corrupted and repeated frames, reconnects and restarts of either end. Sans-IO: the owner feeds
# frames to on_frame(), writes what poll() returns and gets events through deliver().
# Three parts own their state: Sender (my stream), Receiver (the peer's), Session (hello,
# liveness). This is the node's end; the host's (host_tools/link/session.py) extends it.
import json

from zoo_micro import port
from zoo_micro.link.frame import DEFAULT_MAX, MIN_MAX, encode
from zoo_micro.link.sender import Sender, age
from zoo_micro.link.uplink import rand24

PROTO = 2


def compact(value):
    # JSON without the spaces after "," and ":": fewer bytes in the outbox and on the line.
    return json.dumps(value, separators=(",", ":"))


class Receiver:
    """The peer's stream, in order only: a frame past a gap is dropped, and the go-back after it
    brings it again. Holding frames out of order is the host's (it has the memory)."""

    def __init__(self, deliver, journal):
        self.deliver = deliver  # (topic, content, channel, priority, seq) -> False: no room, offer it again
        self.journal = journal
        self.stream = None
        self.next = 0
        self.ack_at = None
        self.echo = None  # the token of the last data frame, for the next ack
        self.full = False
        self.delivered = self.lost = self.bad = self.dup = 0

    def start(self, stream, first):
        """The peer's hello: True when it began a new stream (it restarted)."""
        new = stream != self.stream
        if new or first > self.next:
            if not new:
                self.lost += first - self.next
            restarted = new and self.stream is not None
            self.stream = stream
            self.skip(first)
            return restarted

    def skip(self, first):
        self.next = first
        if self.journal:
            self.journal.cursor(self.stream, first)

    def on_data(self, fields, payload, now):
        seq = fields[0]
        count = fields[2]
        self.ack_at = now
        self.echo = fields[3]
        if not 0 < count <= 4096:
            raise ValueError("count")  # forged: skipping it would end the downlink
        if len(fields) > 4 and fields[4] is not None and fields[4] > self.next:
            if fields[4] > self.next + 4096:
                raise ValueError("low mark outside the window")  # forged: it would end the downlink
            self.lost += fields[4] - self.next  # the sender's outbox dropped them
            self.skip(fields[4])
        try:
            # [topics, ref, content, ...]; a ref is a topic index or [index, channel, priority(, piece)]
            data = json.loads(payload)
            evs = []
            for i in range(1, len(data), 2):
                r = data[i]
                if type(r) is not list:
                    r = [r, "default", 0]
                e = (data[0][r[0]], data[i + 1], r[1], r[2]) + tuple(r[3:4])
                if type(e[0]) is not str or type(e[2]) is not str or type(e[3]) is not int:
                    raise ValueError
                evs.append(e)
            if len(evs) != count or len(data) != 2 * count + 1:
                raise ValueError
        except (ValueError, TypeError, IndexError, KeyError, UnicodeError):
            # A sound frame with unreadable events: skip them rather than stall the stream on them.
            self.bad += 1
            if seq <= self.next < seq + count:
                self.lost += seq + count - self.next
                self.skip(seq + count)
            return
        self.take(seq, evs)

    def take(self, seq, evs):
        if seq + len(evs) <= self.next:
            self.dup += 1  # my ack was lost: it goes again at once
        elif seq <= self.next:
            for k in range(self.next - seq, len(evs)):
                e = evs[k]
                self.full = not self.deliver(e[0], e[1], e[2], e[3], seq + k)
                if self.full:
                    break  # no room: the rest stays unacknowledged and comes again
                self.delivered += 1
                self.next += 1
            self.skip(self.next)

    def ack(self):
        f = [self.next, 0 if self.full else 1, self.echo]
        self.ack_at = self.echo = None
        return f

    def retry(self, now):
        """The receiver made room: say so, and the sender sends what was refused again."""
        self.full = False
        self.ack_at = now


class Session:
    """The node's end: says hello until the host answers, pings while idle, hellos again after
    `dead_ms` of silence. on_time(wall_ms) sets the clock."""

    kind = "d"  # the host's end writes upper case
    piece = 64  # characters of content JSON per piece of a large event
    dumps = staticmethod(compact)

    def __init__(
        self,
        deliver,
        info=None,
        outbox=64,
        frame_max=DEFAULT_MAX,
        event_max=0,
        heartbeat_ms=1000,
        dead_ms=3500,
        on_time=None,
        journal=None,
        clock=port.ticks_ms,
        extra=0,
    ):
        if frame_max < MIN_MAX:
            raise ValueError("frame_max must be at least %d" % MIN_MAX)
        self.tx = Sender(
            self.kind, outbox, frame_max, event_max or frame_max, self.piece, self.dumps, journal, extra
        )
        self.rx = Receiver(deliver, journal)
        self.info = info
        self.frame_max = frame_max
        self.clock = clock
        self.heartbeat_ms = heartbeat_ms
        self.dead_ms = dead_ms
        self.on_time = on_time
        self.up = False
        self.nonce = self.tries = 0
        self.hello_at = self.last_rx = self.last_tx = self.last_ping = clock()
        self.sessions = self.restarts = self.bad = 0

    def cursor(self):
        """(peer stream, next seq to deliver), or None before a peer was seen."""
        return None if self.rx.stream is None else (self.rx.stream, self.rx.next)

    def resume(self, cursor):
        """Continue from a saved place in the peer's stream (a restarted end that saved it)."""
        self.rx.stream, self.rx.next = cursor

    def on_frame(self, kind, fields, payload):
        """Process one frame from the decoder. The host writes upper case: anything else is an echo."""
        now = self.clock()
        tx = self.tx
        try:
            if kind == "H":
                if not self.up and fields[6] == self.nonce:  # not an answer to an earlier try
                    self.adopt(fields, now)
                    self.up = True
                    self.tries = 0  # the next hello starts a new series
                    if self.on_time and fields[7] is not None:
                        self.on_time(fields[7] + (age(now, self.last_tx) >> 1))
            elif kind in "RB":
                self.up = False  # the host lost the session or is going away: say hello again
            elif not self.up:
                pass
            elif kind == "D":
                self.last_rx = now
                tx.on_ack(fields[1], None, now, None)
                self.rx.on_data(fields, payload, now)
            elif kind == "A":
                self.last_rx = now
                tx.held(now, fields, tx.on_ack(fields[0], fields[1], now, fields[2]))
            elif kind == "Q":
                self.last_rx = now
                rtt = (now - fields[0]) & 0xFFFFFF
                if rtt < 10000 and self.on_time and fields[1] is not None:
                    self.on_time(fields[1] + rtt // 2)
        except Exception:  # anything a forged frame provokes (deep JSON too) stays with that frame
            self.bad += 1

    line = staticmethod(encode)  # line(letter, fields, payload): a frame this end writes

    def hello_line(self, nonce, extra=None):
        # Numbers ride in hex fields and names in a short JSON list: a small hello survives noise.
        cur = self.cursor() or (None, None)
        f = [PROTO, self.tx.stream, self.tx.low, cur[0], cur[1], self.frame_max, nonce, extra]
        return self.line("h", f, json.dumps(self.info) if self.info else None)

    def adopt(self, f, now):
        """The peer's hello [proto, stream, first, cursor stream, cursor next, max, nonce, ...]."""
        if f[0] != PROTO or f[1] is None or f[2] is None:
            raise ValueError("hello")
        if self.rx.start(f[1], f[2]):
            self.restarts += 1
        self.tx.restart(f[4] if f[3] == self.tx.stream else None, f[5] or DEFAULT_MAX)
        self.last_rx = now
        self.sessions += 1

    def poll(self):
        """The lines to write now (a list of bytes); call after frames arrive and on timers."""
        now = self.clock()
        out = self.tx.out
        if not self.up:
            if age(now, self.hello_at) >= 0:
                if not self.tries:
                    self.nonce = rand24()
                out.append(self.hello_line(self.nonce))
                self.tries += 1
                # Quick tries ride out noise; then a slower pace while nobody answers.
                self.hello_at = port.ticks_add(now, 100 if self.tries < 20 else 1000)
        elif age(now, self.last_rx) > self.dead_ms or self.tx.low - self.tx.acked > 4096:
            # Silence; or the outbox dropped more than a receiver's window: a hello skips the gap.
            self.up = False
        else:
            self.work(now)
            hb = self.heartbeat_ms
            if age(now, self.last_tx) >= hb or (
                age(now, self.last_rx) > hb and age(now, self.last_ping) >= hb >> 2
            ):
                # Pings come faster while the host is silent, so one lost pong does not end the session.
                self.last_ping = now
                out.append(
                    encode("p", [now & 0xFFFFFF, self.rx.next if self.rx.stream is not None else None])
                )
        if out:
            self.tx.out = []
            self.last_tx = now
        return out

    def work(self, now):
        rx = self.rx
        if self.tx.poll(now, rx.next if rx.stream is not None else None) and not rx.full:
            rx.ack_at = None  # the data frames carry the ack
        if rx.ack_at is not None:
            self.tx.out.append(self.line("a", rx.ack()))
