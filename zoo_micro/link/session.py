# The reliable session: each direction delivers every event once and in order, across lost,
# corrupted and repeated frames, reconnects and restarts of either end.
# Sans-IO: the owner passes frames to on_frame(), writes the lines poll() returns and receives
# events through deliver(). The node plugin and the host bridge run this same code.
import json
import os

from zoo_micro import port
from zoo_micro.link import frame

PROTO = 1
CAPS = ["batch", "sack", "state", "log", "time"]

HELLO = "hello"  # the device is asking for a session
UP = "up"

_HEAD = 48  # bytes a data line may need besides its records
_MIN_LIMIT = 96  # loss never shrinks frames below this
_SACKS = 3  # held ranges in one ack
_DEFAULT = "default"
FRAGMENT = 64  # characters of content JSON per piece of a large event


def rand24():
    try:
        b = os.urandom(3)
        return (b[0] << 16) | (b[1] << 8) | b[2]
    except (AttributeError, OSError):
        return (port.ticks_us() * 2654435761) & 0xFFFFFF


def _age(now, t):
    return port.ticks_diff(now, t)


class Ring:
    """The outbox: a preallocated ring, so a full heap cannot stop it growing mid-run."""

    def __init__(self, cap):
        self._buf = [None] * cap
        self._cap = cap
        self._head = 0
        self._n = 0

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        return self._buf[(self._head + i) % self._cap]

    def __setitem__(self, i, v):
        self._buf[(self._head + i) % self._cap] = v

    def __iter__(self):
        for i in range(self._n):
            yield self._buf[(self._head + i) % self._cap]

    def append(self, v):
        self._buf[(self._head + self._n) % self._cap] = v
        self._n += 1

    def drop(self, k):
        """Forget the k oldest."""
        buf = self._buf
        for _ in range(k if k < self._n else self._n):
            buf[self._head] = None
            self._head = (self._head + 1) % self._cap
            self._n -= 1


class Session:
    """One end of a link. role: "device" (says hello, sends heartbeats) or "host" (answers).

    deliver(topic, content, channel, priority, seq) -> bool: False means "no room now, offer it
    again later"; the event stays unacknowledged meanwhile.
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

    def send(self, topic, content=None, channel=_DEFAULT, priority=0):
        """Queue an event for the peer; returns its seq. The oldest waiting event makes room."""
        t = type(content)
        if t is not int and t is not str and t is not bool and content is not None:
            _check(content, 0)  # json.dumps on a node writes something for any object; refuse those
        dumps = self.dumps
        cj = dumps(content)
        if "\x7f" in cj:
            cj = cj.replace("\x7f", "\\u007f")  # DEL erases on a terminal that is not raw
        tj = self._topics.get(topic)
        if tj is None:
            tj = dumps(topic)
            if len(self._topics) < 32:
                self._topics[topic] = tj  # one string per topic, not one per event
        need = len(tj) + len(cj) + _HEAD
        if need > self.event_max:
            self.n_too_large += 1
            raise frame.TooLarge(
                "event on %s needs %d bytes but the link carries events up to %d: make it smaller or raise %s"
                % (topic, need, self.event_max, "send_max" if not self.host else "event_max")
            )
        head = dumps(channel) + "," + str(int(priority))
        if len(cj) <= FRAGMENT:
            self._queue(tj, cj, head if channel != _DEFAULT or priority else None)
        else:
            # A large event travels as pieces of its JSON text, each small enough to get through
            # a noisy line; the receiver joins them and delivers one event.
            n = len(cj)
            for i in range(0, n, FRAGMENT):
                last = i + FRAGMENT >= n
                self._queue(tj, dumps(cj[i : i + FRAGMENT]), head + (",2" if last else ",1"))
        return self.next_seq - 1

    def _queue(self, tj, cj, extra):
        seq = self.next_seq
        self.next_seq = seq + 1
        ev = self.events
        e = (seq, tj, cj, extra)
        ev.append(e)
        if self.journal is not None:
            self.journal.event(e)
        if len(ev) > self.outbox_max:
            self._drop_oldest()

    def _drop_oldest(self):
        self.events.drop(1)
        self.n_dropped += 1
        low = self.events[0][0]
        if self.tx_next < low:
            self.tx_next = low
        frames = self.frames
        while frames and frames[0][0] < low:
            f = frames[0]
            f[1] -= low - f[0]
            f[0] = low
            if f[1] > 0:
                break
            frames.pop(0)

    def _records(self, first, count):
        """The JSON payload of a data frame: [topics, index, content, index, content, ...]."""
        ev = self.events
        base = first - ev[0][0]
        topics = []
        index = {}
        parts = []
        for k in range(base, base + count):
            e = ev[k]
            ti = index.get(e[1])
            if ti is None:
                ti = index[e[1]] = len(topics)
                topics.append(e[1])
            if e[3] is None:
                parts.append(str(ti))
            else:
                parts.append("[%d,%s]" % (ti, e[3]))
            parts.append(e[2])
        return "[[" + ",".join(topics) + "]," + ",".join(parts) + "]"

    def _fit(self, start):
        """How many unsent events from index `start` fit in one frame of the current limit."""
        ev = self.events
        # Mark, CRC, type, seq, ack, count, token and a possible low field, brackets, LF.
        head = 32 + 3 * len("%x" % self.next_seq)
        budget = min(self.limit, self.peer_max) - head
        e = ev[start]
        if len(e[1]) + len(e[2]) + (len(e[3]) + 3 if e[3] is not None else 0) + 8 > self.peer_max - head:
            # Queued before the peer said it reads less: the peer learns what was dropped instead.
            self.n_too_large += 1
            ev[start] = (e[0], '"zoo.link.dropped"', json.dumps({"topic": json.loads(e[1])}), None)
        seen = {}
        size = 0
        j = start
        while j < len(ev):
            e = ev[j]
            add = len(e[2]) + 5 + (len(e[3]) + 3 if e[3] is not None else 0)
            if e[1] not in seen:
                add += len(e[1]) + 1
            if size + add > budget and j > start:
                break
            seen[e[1]] = 1
            size += add
            j += 1
        return j - start

    def _data_line(self, f):
        # seq, my ack, count, a send-time token the ack echoes (times the round trip even for
        # retransmissions), and the low mark when the outbox dropped events the peer still waits for.
        ack = self.rcv_next if self.peer_stream is not None else None
        fields = [f[0], ack, f[1], self.clock() & 0xFFFF]
        low = self.events[0][0]
        if low > self.peer_ack:
            fields.append(low)  # events below were dropped from the outbox: the peer must skip them
        return frame.encode("d" if not self.host else "D", fields, self._records(f[0], f[1]))

    # Receiving frames

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

    def _on_data(self, fields, payload, now):
        seq = fields[0]
        if len(fields) > 1 and fields[1] is not None:
            self._on_ack(fields[1], None, (), now)
        self.echo = fields[3]
        if len(fields) > 4 and fields[4] is not None and fields[4] > self.rcv_next:
            low = fields[4]
            self.n_lost += low - self.rcv_next
            self.rcv_next = low
            self._frag = None
            for first in list(self.rx):
                if first + len(self.rx[first]) <= low:
                    del self.rx[first]
        count = fields[2]
        try:
            evs = _parse_records(payload)
            if len(evs) != count or not count:
                raise ValueError("record count")
        except (ValueError, TypeError, IndexError, KeyError, UnicodeError):
            # A sound frame with unreadable events: skip them rather than stall the stream on them.
            self.n_malformed += 1
            if seq <= self.rcv_next < seq + count:
                self.n_lost += seq + count - self.rcv_next
                self.rcv_next = seq + count
                self._drain()
                self.ack_at = now
            return
        end = seq + len(evs)
        if end <= self.rcv_next:
            self.n_dup += 1
            self.ack_at = now  # our ack was lost: repeat it at once
            return
        if seq > self.rcv_next + 4096:
            self.n_stale += 1
            return
        if seq not in self.rx:
            if seq > self.rcv_next and len(self.rx) >= self.rx_slots:
                self.ack_at = now
                return  # no room to hold it; it comes again
            self.rx[seq] = evs
        self._drain()
        if self.rx:
            self.ack_at = now  # a gap or a full receiver: say so at once
        elif self.ack_at is None:
            self.ack_at = port.ticks_add(now, self.ack_delay_ms)

    def _drain(self):
        rx = self.rx
        while rx:
            nxt = self.rcv_next
            hit = None
            for first in rx:
                if first <= nxt < first + len(rx[first]):
                    hit = first
                    break
            if hit is None:
                return
            evs = rx[hit]
            k = nxt - hit
            while k < len(evs):
                e = evs[k]
                content = e[1]
                if len(e) > 4:
                    content = self._piece(e)
                if content is not _MORE:
                    if not self.deliver(e[0], content, e[2], e[3], hit + k):
                        if self.journal is not None:
                            self.journal.cursor(self.peer_stream, self.rcv_next)
                        return  # stays buffered and unacknowledged until the receiver has room
                    self._frag = None
                    self.n_delivered += 1
                k += 1
                self.rcv_next += 1
            del rx[hit]
            for first in list(rx):
                if first + len(rx[first]) <= self.rcv_next:
                    del rx[first]
            if self.journal is not None:
                self.journal.cursor(self.peer_stream, self.rcv_next)

    def _piece(self, e):
        # One piece of a large event: _MORE until the last, then the whole content.
        frag = self._frag
        if frag is None:
            frag = self._frag = [0, []]
        if frag[0] != self.rcv_next:  # a new piece, not a second offer of the last one
            frag[0] = self.rcv_next
            frag[1].append(e[1])
        if e[4] != 2:
            if len(frag[1]) * FRAGMENT > 4 * self.rx_max:
                raise ValueError("large event over the limit")
            return _MORE
        try:
            return json.loads("".join(frag[1]))
        except ValueError:
            self._frag = None
            self.n_malformed += 1  # pieces without their start (the outbox dropped it): skipped
            return _MORE

    def retry_delivery(self):
        """Offer held events again (the receiver made room)."""
        before = self.rcv_next
        self._drain()
        if self.rcv_next != before:
            self.ack_at = self.clock()

    def _on_ack(self, ack, win, sacks, now, plain=False, echo=None):
        if win is not None:
            self.peer_win = win
        if echo is not None:
            self._rtt((now - echo) & 0xFFFF)
        if ack is None or ack > self.next_seq:
            return
        advanced = ack > self.peer_ack
        if advanced:
            self.peer_ack = ack
            self.backoff = 1
            ev = self.events
            if ev and ack > ev[0][0]:
                ev.drop(ack - ev[0][0])
            frames = self.frames
            clean = True  # nothing this ack covers was sent twice: frames may grow
            last = None
            while frames and frames[0][0] + frames[0][1] <= ack:
                last = frames.pop(0)
                if last[3] != 1:
                    clean = False
            if last is not None and clean and self.limit < self.frame_max:
                self.limit = min(self.frame_max, self.limit + 32)
            if frames and frames[0][0] < ack:
                f = frames[0]
                f[1] -= ack - f[0]
                f[0] = ack
            if self.tx_next < ack:
                self.tx_next = ack
            if self.journal is not None:
                self.journal.acked(ack)
        if not plain:
            return
        top = 0
        for f in self.frames:
            end = f[0] + f[1]
            for r in sacks:
                if r is not None and r[0] <= f[0] and end <= r[1]:
                    f[4] = True
                    if end > top:
                        top = end
        # A frame below one the peer holds, or a repeated ack while frames wait, was lost.
        late = self.srtt + (self.srtt >> 2) + 2 if self.srtt else 100
        for f in self.frames:
            if f[4]:
                continue
            if top and f[0] < top:
                if _age(now, f[2]) > late:
                    self._resend(f, now)
            elif not advanced and not top:
                if _age(now, f[2]) > 2 * late:
                    self._resend(f, now)
                break
            else:
                break

    def _rtt(self, sample):
        if self.srtt == 0:
            self.srtt = sample
            self.rttvar = sample // 2
        else:
            d = sample - self.srtt
            self.rttvar += ((d if d > 0 else -d) - self.rttvar) >> 2
            self.srtt += d >> 3

    def rto(self):
        base = self.srtt + 4 * self.rttvar if self.srtt else 250
        base = 30 if base < 30 else base
        base *= self.backoff
        return 4000 if base > 4000 else base

    def _on_pong(self, fields, now):
        token = fields[0]
        rtt = (now - token) & 0xFFFFFF
        if rtt < 10000:
            self._rtt(rtt)
        if len(fields) > 1 and fields[1] is not None and self.on_time is not None and rtt < 10000:
            self.on_time(fields[1] + rtt // 2)

    # Handshake

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
            self._rtt(_age(now, self.hello_sent))
        self.hello_tries = 0
        if self.on_time is not None and len(fields) > 8 and fields[8] is not None:
            self.on_time(fields[8] + (_age(now, self.hello_sent) >> 1))
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

    # Timers and output

    def _emit(self, kind, fields=None, payload=None):
        self.out.append(frame.encode(kind, fields, payload))

    def poll(self):
        """The lines to write now (a list of bytes); call after frames arrive and on timers."""
        now = self.clock()
        if self.state == HELLO:
            if _age(now, self.hello_at) >= 0:
                if self.hello_tries == 0:
                    self.nonce = rand24()
                self.out.append(self._hello_line(self.nonce))
                self.hello_sent = now
                self.hello_tries += 1
                # Quick tries ride out noise; then a slower pace while nobody answers.
                self.hello_at = port.ticks_add(now, 100 if self.hello_tries < 20 else 1000)
            return self._take_out()
        if not self.host and _age(now, self.last_rx) > self.dead_ms:
            self._go_hello(now)
            return self._take_out()
        self._retransmit(now)
        self._send_new(now)
        if self.ack_at is not None and _age(now, self.ack_at) >= 0:
            self._emit_ack()
        elif self.ack_at is None and self.adv_win == 0 and self._win() > 0:
            self._emit_ack()  # the window reopened: tell the sender
        if not self.host:
            quiet = _age(now, self.last_rx) > self.heartbeat_ms
            if _age(now, self.last_tx) >= self.heartbeat_ms or (
                quiet and _age(now, self.last_ping) >= self.heartbeat_ms >> 2
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

    def _win(self):
        w = self.rx_slots - len(self.rx)
        return w if w > 0 else 0

    def _emit_ack(self):
        fields = [self.rcv_next, self._win(), self.echo]
        self.echo = None
        base = self.rcv_next
        for first in sorted(self.rx)[:_SACKS]:
            if first >= base:
                fields.append((first - base, len(self.rx[first])))
        self.adv_win = fields[1]
        self._emit("A" if self.host else "a", fields)
        self.ack_at = None

    def _retransmit(self, now):
        rto = self.rto()
        hit = False
        for f in self.frames:
            if not f[4] and _age(now, f[2]) >= rto:
                self._resend(f, now)
                hit = True
        if hit:
            # Loss on a serial line is noise, not congestion: back off a little.
            self.backoff = min(self.backoff * 2, 2)

    def _resend(self, f, now):
        # A loss: frames get smaller (at most once a round trip), as noise hits long lines hardest.
        if _age(now, self._shrunk) > self.srtt:
            self._shrunk = now
            self.limit = max(_MIN_LIMIT, (self.limit * 3) >> 2)
        n = self._fit(f[0] - self.events[0][0])
        if n < f[1]:
            # The frame limit shrank since it was built: send it as two smaller frames.
            rest = [f[0] + n, f[1] - n, now, f[3] + 1, False, 0]
            self.frames.insert(self.frames.index(f) + 1, rest)
            f[1] = n
            self._put(rest)
        f[2] = now
        f[3] += 1
        self.n_retransmits += 1
        self._put(f)
        self.ack_at = None

    def _put(self, f):
        line = self._data_line(f)
        f[5] = len(line)
        self.out.append(line)

    def _send_new(self, now):
        ev = self.events
        if not ev:
            return
        # At most `window` frames and four full frames' bytes unacknowledged: enough to keep a
        # line busy, little enough that a deep buffer on the way does not swell the round trip.
        cap = 4 * min(self.frame_max, self.peer_max)
        while len(self.frames) < max(self.peer_win, 1):
            frames, size = self._unsacked()
            if frames >= self.window or size >= cap:
                return
            start = self.tx_next - ev[0][0]
            waiting = len(ev) - start
            if waiting <= 0:
                return
            n = self._fit(start)
            # A part-filled frame waits while another is unacknowledged: under load, batches grow.
            if n == waiting and frames:
                return
            f = [self.tx_next, n, now, 1, False, 0]
            self.frames.append(f)
            self.tx_next += n
            self.n_sent += n
            self._put(f)
            self.ack_at = None if not self.rx else self.ack_at

    def _unsacked(self):
        n = 0
        size = 0
        for f in self.frames:
            if not f[4]:
                n += 1
                size += f[5]
        return n, size

    def bye(self):
        """A last line telling the peer this end is going away."""
        return frame.encode("B" if self.host else "b")

    def wake_in(self):
        """Milliseconds until poll() has timed work to do (at most one heartbeat)."""
        now = self.clock()
        if self.state == HELLO:
            return max(0, -_age(now, self.hello_at))
        t = self.heartbeat_ms - _age(now, self.last_tx)
        if self.ack_at is not None:
            t = min(t, -_age(now, self.ack_at))
        if self.frames:
            t = min(t, self.rto() - _age(now, self.frames[0][2]))
        return t if t > 0 else 0

    def busy(self):
        """True while events wait to be sent or acknowledged."""
        return bool(self.events)

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


_SCALARS = (int, float, str, bool)


def _check(v, depth):
    # What the other end can read back: JSON types only, finite floats, not nested too deep.
    t = type(v)
    if t is float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("event content must be JSON: NaN and infinity are not")
    elif t is dict:
        if depth > 16:
            raise ValueError("event content is nested too deep")
        for k in v:
            if type(k) not in _SCALARS and k is not None:
                raise TypeError("event content must be JSON: a dict key of type %s is not" % type(k).__name__)
            _check(v[k], depth + 1)
    elif t is list or t is tuple:
        if depth > 16:
            raise ValueError("event content is nested too deep")
        for x in v:
            _check(x, depth + 1)
    elif t not in _SCALARS and v is not None:
        raise TypeError("event content must be JSON: a %s is not" % t.__name__)


_MORE = object()  # a piece of a large event was taken; the event is not complete yet


def _parse_records(payload):
    """[topics, index, content, ...] -> list of (topic, content, channel, priority[, piece])."""
    data = json.loads(payload)
    topics = data[0]
    out = []
    i = 1
    n = len(data)
    if n % 2 != 1:
        raise ValueError("odd record list")
    while i < n:
        ti = data[i]
        if isinstance(ti, list):
            if len(ti) > 3:
                if ti[3] not in (1, 2) or not isinstance(data[i + 1], str):
                    raise ValueError("bad piece")
                out.append((topics[ti[0]], data[i + 1], ti[1], ti[2], ti[3]))
            else:
                out.append((topics[ti[0]], data[i + 1], ti[1], ti[2]))
        else:
            out.append((topics[ti], data[i + 1], _DEFAULT, 0))
        i += 2
    for e in out:
        if not isinstance(e[0], str) or not isinstance(e[2], str) or not isinstance(e[3], int):
            raise ValueError("bad record")
    return out
