# The reliable session: each direction delivers every event once and in order, across lost,
# corrupted and repeated frames, reconnects and restarts of either end.
# Sans-IO: the owner passes frames to on_frame(), writes the lines poll() returns and receives
# events through deliver(). The node plugin and the host bridge run this same code.
import json
import os

from zoo_micro import port
from zoo_micro.link import frame
from zoo_micro.link.inbound import Inbound
from zoo_micro.link.outbound import Ring, age

PROTO = 1
CAPS = ["batch", "sack", "state", "log", "time"]

HELLO = "hello"  # the device is asking for a session
UP = "up"


def rand24():
    try:
        b = os.urandom(3)
        return (b[0] << 16) | (b[1] << 8) | b[2]
    except (AttributeError, OSError):
        return (port.ticks_us() * 2654435761) & 0xFFFFFF


class Session(Inbound):
    """One end of a link. role: "device" (says hello, sends heartbeats) or "host" (answers).

    deliver(topic, content, channel, priority, seq) -> bool: False means "no room now, offer it
    again later"; the event stays unacknowledged meanwhile.

    All the session's state is set here; sending lives in Outbound, receiving in Inbound, and
    the handshake, liveness and timers below.
    """

    def __init__(
        self,
        role,
        deliver,
        info=None,
        outbox=64,
        frame_max=frame.DEFAULT_MAX,
        rx_max=None,
        event_max=None,
        window=16,
        rx_slots=4,
        heartbeat_ms=1000,
        dead_ms=3500,
        ack_delay_ms=0,
        wall_ms=None,
        on_time=None,
        on_state=None,
        journal=None,
        clock=None,
        dumps=None,
    ):
        if frame_max < frame.MIN_MAX or (rx_max is not None and rx_max < frame.MIN_MAX):
            raise ValueError("frame sizes must be at least %d bytes" % frame.MIN_MAX)
        if outbox < 1:
            raise ValueError("outbox must hold at least 1 event")
        self.host = role == "host"
        self.kind_ok = "a" if self.host else "A"  # peers write the other case: an echo is not a frame
        self.deliver = deliver
        self.info = info
        self.outbox_max = outbox
        self.frame_max = frame_max  # the longest line this end writes (the peer may accept less)
        self.rx_max = rx_max or frame_max  # the longest line this end reads, told to the peer
        self.event_max = event_max or frame_max  # the largest event it sends; large ones go in pieces
        self.window = window
        self.rx_slots = rx_slots
        self.heartbeat_ms = heartbeat_ms
        self.dead_ms = dead_ms
        self.ack_delay_ms = ack_delay_ms
        self.wall_ms = wall_ms
        self.on_time = on_time
        self.on_state = on_state
        self.journal = journal
        self.clock = clock or port.ticks_ms
        self.dumps = dumps or json.dumps  # a host passes one that writes UTF-8, not \u escapes
        self.state = UP if self.host else HELLO
        # Sending: my stream, my events not yet acknowledged (seq-contiguous), frames on the wire.
        self.stream = rand24()
        self.next_seq = rand24() >> 4  # a fresh stream starts at a random seq, so stale frames miss
        self.events = Ring(outbox + 1)  # (seq, topic_json, content_json, extra_json or None)
        self._topics = {}
        self.frames = []  # [first_seq, count, last_sent_ms, sends, sacked, line bytes]
        self.tx_next = self.next_seq  # first seq not yet put in a frame
        self.peer_ack = self.next_seq
        self.peer_max = frame.DEFAULT_MAX
        self.peer_win = window
        self.limit = frame_max
        self.srtt = 0
        self.rttvar = 0
        self.backoff = 1
        self._shrunk = 0
        # Receiving: the peer's stream and the next seq to deliver; frames waiting for a gap.
        self.peer_stream = None
        self.rcv_next = 0
        self.rx = {}  # first_seq -> list of (topic, content, channel, priority[, piece flag])
        self._frag = None  # [seq of the last piece taken, pieces] of a large event being joined
        self.ack_at = None
        self.echo = None  # the send-time token of the data frame the next ack answers
        self.adv_win = rx_slots
        # Handshake and liveness.
        self.peer = None  # the peer's hello
        self.nonce = 0
        now = self.clock()
        self.hello_at = now
        self.hello_tries = 0
        self.hello_sent = now
        self.last_rx = now
        self.last_tx = now
        self.last_ping = now
        self.out = []
        self.n_sent = 0
        self.n_delivered = 0
        self.n_dropped = 0
        self.n_too_large = 0
        self.n_retransmits = 0
        self.n_lost = 0
        self.n_malformed = 0
        self.n_unknown = 0
        self.n_echo = 0
        self.n_stale = 0
        self.n_dup = 0
        self.n_restarts = 0
        self.n_sessions = 0

    # Sending events

    def on_frame(self, kind, fields, payload):
        """Process one frame from the decoder."""
        now = self.clock()
        if kind.isupper() != (self.kind_ok == "A"):
            self.n_echo += 1
            return
        k = kind.upper()
        try:
            if k == "H":
                self._on_hello(fields, payload, now)
                return
            if k == "R":
                if not self.host:
                    self._go_hello(now)
                return
            if self.state != UP:
                self.n_stale += 1
                return
            self.last_rx = now
            if k == "D":
                self._on_data(fields, payload, now)
            elif k == "A":
                # Held ranges come as offsets from the ack, so they stay short.
                ack = fields[0]
                sacks = [(ack + r[0], ack + r[0] + r[1]) for r in fields[3:] if type(r) is tuple]
                self._on_ack(ack, fields[1], sacks, now, True, fields[2])
            elif k == "P":
                if len(fields) > 1 and fields[1] is not None:
                    self._on_ack(fields[1], None, (), now)
                self._emit("Q" if self.host else "q", [fields[0], self.wall_ms() if self.wall_ms else None])
            elif k == "Q":
                self._on_pong(fields, now)
            elif k == "B":
                if not self.host:
                    self._go_hello(now)
                self._set_state_event(False)
            else:
                self.n_unknown += 1
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, UnicodeError):
            self.n_malformed += 1

    def _on_pong(self, fields, now):
        token = fields[0]
        rtt = (now - token) & 0xFFFFFF
        if rtt < 10000:
            self._rtt(rtt)
        if len(fields) > 1 and fields[1] is not None and self.on_time is not None and rtt < 10000:
            self.on_time(fields[1] + rtt // 2)

    def _hello_line(self, nonce):
        # Numbers ride in hex fields and names in a short JSON list: a small hello survives noise.
        cur = self.peer_stream is not None
        fields = [
            PROTO,
            self.stream,
            self.events[0][0] if self.events else self.next_seq,
            self.peer_stream if cur else None,
            self.rcv_next if cur else None,
            self.rx_max,
            self.rx_slots,
            nonce,
        ]
        if self.host and self.wall_ms is not None:
            fields.append(self.wall_ms())
        return frame.encode("H" if self.host else "h", fields, json.dumps(self.info) if self.info else None)

    def _on_hello(self, fields, payload, now):
        if fields[0] != PROTO:
            self.n_unknown += 1
            return
        if len(fields) < 8 or fields[1] is None or fields[2] is None or fields[7] is None:
            raise ValueError("short hello")
        h = {
            "stream": fields[1],
            "first": fields[2],
            "cursor": (fields[3], fields[4]) if fields[3] is not None else None,
            "max": fields[5] or frame.DEFAULT_MAX,
            "win": fields[6] or 1,
            "nonce": fields[7],
            "info": json.loads(payload) if payload else None,
        }
        if self.host:
            # Repeats of the same hello get the same answer without disturbing the session.
            if self.peer is None or h["nonce"] != self.peer["nonce"]:
                self._adopt(h)
            self.peer = h
            self.last_rx = now
            self.out.append(self._hello_line(h["nonce"]))
            self._set_state_event(True)
            return
        if self.state == UP or h["nonce"] != self.nonce:
            self.n_stale += 1
            return
        self._adopt(h)
        self.peer = h
        self.state = UP
        self.last_rx = now
        if self.hello_tries == 1:
            self._rtt(age(now, self.hello_sent))
        self.hello_tries = 0
        if self.on_time is not None and len(fields) > 8 and fields[8] is not None:
            self.on_time(fields[8] + (age(now, self.hello_sent) >> 1))
        self._set_state_event(True)

    def _adopt(self, h):
        ps = h["stream"]
        first = h["first"]
        if ps != self.peer_stream:
            if self.peer_stream is not None:
                self.n_restarts += 1
            self.peer_stream = ps
            self.rcv_next = first
            self.rx = {}
            self._frag = None
            if self.journal is not None:
                self.journal.cursor(ps, first)
        elif first > self.rcv_next:
            self.n_lost += first - self.rcv_next
            self.rcv_next = first
            self.rx = {}
            if self.journal is not None:
                self.journal.cursor(ps, first)
        self.frames = []
        cur = h["cursor"]
        if cur and cur[0] == self.stream and cur[1] <= self.next_seq:
            if cur[1] > self.peer_ack:
                self._on_ack(cur[1], None, (), self.clock())
            self.peer_ack = cur[1]
        else:
            # The peer does not know my stream: it starts where my hello said.
            self.peer_ack = self.events[0][0] if self.events else self.next_seq
        self.tx_next = self.events[0][0] if self.events else self.next_seq
        self.peer_max = max(frame.MIN_MAX, h["max"])
        self.peer_win = h["win"]
        self.limit = min(self.frame_max, self.peer_max)
        self.backoff = 1
        self.ack_at = None
        self.n_sessions += 1

    def _go_hello(self, now):
        if self.state == HELLO:
            return
        self.state = HELLO
        self.hello_at = now
        self.hello_tries = 0
        self._set_state_event(False)

    def _set_state_event(self, up):
        if self.on_state is not None:
            self.on_state(up)

    def poll(self):
        """The lines to write now (a list of bytes); call after frames arrive and on timers."""
        now = self.clock()
        if self.state == HELLO:
            if age(now, self.hello_at) >= 0:
                if self.hello_tries == 0:
                    self.nonce = rand24()
                self.out.append(self._hello_line(self.nonce))
                self.hello_sent = now
                self.hello_tries += 1
                # Quick tries ride out noise; then a slower pace while nobody answers.
                self.hello_at = port.ticks_add(now, 100 if self.hello_tries < 20 else 1000)
            return self._take_out()
        if not self.host and age(now, self.last_rx) > self.dead_ms:
            self._go_hello(now)
            return self._take_out()
        self._retransmit(now)
        self._send_new(now)
        if self.ack_at is not None and age(now, self.ack_at) >= 0:
            self._emit_ack()
        elif self.ack_at is None and self.adv_win == 0 and self._win() > 0:
            self._emit_ack()  # the window reopened: tell the sender
        if not self.host:
            quiet = age(now, self.last_rx) > self.heartbeat_ms
            if age(now, self.last_tx) >= self.heartbeat_ms or (
                quiet and age(now, self.last_ping) >= self.heartbeat_ms >> 2
            ):
                # Pings come faster while the host is silent, so one lost pong does not end the session.
                self.last_ping = now
                self._emit("p", [now & 0xFFFFFF, self.rcv_next if self.peer_stream is not None else None])
        return self._take_out()

    def _take_out(self):
        out = self.out
        if out:
            self.out = []
            self.last_tx = self.clock()
        return out

    def bye(self):
        """A last line telling the peer this end is going away."""
        return frame.encode("B" if self.host else "b")

    def wake_in(self):
        """Milliseconds until poll() has timed work to do (at most one heartbeat)."""
        now = self.clock()
        if self.state == HELLO:
            return max(0, -age(now, self.hello_at))
        t = self.heartbeat_ms - age(now, self.last_tx)
        if self.ack_at is not None:
            t = min(t, -age(now, self.ack_at))
        if self.frames:
            t = min(t, self.rto() - age(now, self.frames[0][2]))
        return t if t > 0 else 0

    def stats(self):
        return {
            "state": self.state,
            "sent": self.n_sent,
            "delivered": self.n_delivered,
            "outbox": len(self.events),
            "dropped": self.n_dropped,
            "too_large": self.n_too_large,
            "retransmits": self.n_retransmits,
            "lost": self.n_lost,
            "malformed": self.n_malformed,
            "unknown": self.n_unknown,
            "duplicates": self.n_dup,
            "peer_restarts": self.n_restarts,
            "sessions": self.n_sessions,
            "rtt_ms": self.srtt,
        }
