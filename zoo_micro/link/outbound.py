# The sending half of a link session: the outbox, frames on the wire, acknowledgements,
# round-trip timing and retransmission. Session (session.py) holds the state and the handshake;
# the halves live in their own modules so a board compiles each from .py in a small heap.
import json

from zoo_micro import port
from zoo_micro.link import frame

_HEAD = 48  # bytes a data line may need besides its records
_MIN_LIMIT = 96  # loss never shrinks frames below this
DEFAULT = "default"
FRAGMENT = 64  # characters of content JSON per piece of a large event


def age(now, t):
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


class Outbound:
    """What a session sends: events out, frames kept until acknowledged, resent when lost.

    A layer of Session, not used alone: its attributes are set in Session.__init__."""

    def send(self, topic, content=None, channel=DEFAULT, priority=0):
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
            self._queue(tj, cj, head if channel != DEFAULT or priority else None)
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
                if age(now, f[2]) > late:
                    self._resend(f, now)
            elif not advanced and not top:
                if age(now, f[2]) > 2 * late:
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

    def _retransmit(self, now):
        rto = self.rto()
        hit = False
        for f in self.frames:
            if not f[4] and age(now, f[2]) >= rto:
                self._resend(f, now)
                hit = True
        if hit:
            # Loss on a serial line is noise, not congestion: back off a little.
            self.backoff = min(self.backoff * 2, 2)

    def _resend(self, f, now):
        # A loss: frames get smaller (at most once a round trip), as noise hits long lines hardest.
        if age(now, self._shrunk) > self.srtt:
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

    def _emit(self, kind, fields=None, payload=None):
        self.out.append(frame.encode(kind, fields, payload))

    def busy(self):
        """True while events wait to be sent or acknowledged."""
        return bool(self.events)


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
