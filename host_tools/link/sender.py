"""The sending part of the host's link session: the outbox of events not yet acknowledged by the
node, framing, round-trip timing and resending (selectively, by the ranges the peer says it
holds). The node's end does the same in less code: zoo_micro/link/session.py."""

from binascii import crc32

from zoo_micro import port
from zoo_micro.link.frame import MIN_MAX
from zoo_micro.link.uplink import rand24

age = port.ticks_diff  # age(now, then)


class Sender:
    """My stream: events kept in a preallocated ring until acknowledged and framed; the oldest
    frame goes again when it times out or the peer's ack repeats.
    Events are seq-contiguous, so event `seq` sits in slot seq % outbox: no per-event objects."""

    def __init__(self, kind, outbox, frame_max, event_max, piece, dumps, journal, extra=0):
        if outbox < 1:
            raise ValueError("outbox must hold at least 1 event")
        self.kind = kind  # the data frame letter this end writes
        self.box = outbox  # slots for events (one per piece of a large one)
        self.extra = extra  # slots of their own for side traffic (health, state, log lines)
        self.side = []  # seqs of the side events in the ring, oldest first
        self.cap = outbox + extra
        self.t = [None] * self.cap  # topic JSON (bytes), one object per topic
        self.c = [None] * self.cap  # content JSON (bytes)
        self.x = [None] * self.cap  # b'"channel",priority[,piece]' or None
        self.topics = {}
        self.stream = rand24()
        self.low = self.next = self.tx = self.acked = self.hi = rand24() >> 4  # hi: below it, sent once
        self.frames = []  # [first, end, sent_ms, held by the peer] in flight, oldest first
        self.frame_max = frame_max
        self.event_max = event_max
        self.peer_max = self.limit = frame_max  # the limit shrinks with loss: noise hits long lines hardest
        self.pause = False  # the peer's receiver is full
        self.srtt = self.rttvar = self.lost_at = 0
        self.piece = piece
        self.dumps = dumps
        self.journal = journal
        self.buf = bytearray(frame_max)  # where data frames are built
        self.out = []  # lines to write; the session hands them out
        self.write = None  # a stream's write(): data frames go to it straight from `buf`, not to `out`
        self.burst = 16  # frames one poll() makes
        self.more = False  # poll() stopped at `burst`: call it again once these are written
        self.ack = None  # my place in the peer's stream, carried by each data frame
        self.sent = self.dropped = self.resent = self.side_lost = 0

    def text(self, content):
        """The content's JSON as the outbox keeps it; ValueError or TypeError if it is not JSON."""
        if content is not None and type(content) not in (int, str, bool):
            check(content, 0)  # json.dumps on a node writes something for any object; refuse those
        return self.dumps(content).replace("\x7f", "\\u007f")  # DEL erases on a terminal that is not raw

    def send(self, topic, content=None, channel="default", priority=0, side=False, text=None):
        """Queue an event for the peer; False if it did not go in: the outbox was full with its
        oldest events possibly on the wire (counted in `dropped`), or, `side`, its slots are taken.
        text: the content's text() made earlier, in the content's place."""
        d = self.dumps
        cj = self.text(content) if text is None else text
        tj = self.topics.get(topic)
        if tj is None:
            tj = d(topic).encode()
            if len(self.topics) < 32:
                self.topics[topic] = tj  # one bytes object per topic, not one per event
        n = len(cj)
        if len(tj) + n + 48 > self.event_max:
            raise ValueError("event on %s: %d bytes, over %d (send_max)" % (topic, n, self.event_max))
        p = self.piece
        k = 1 if n <= p else (n + p - 1) // p  # the slots it takes
        if side and len(self.side) + k > self.extra:
            return False  # its slots are taken: the owner keeps it for later
        if n <= p:
            if not side and not self.fit(1):
                self.dropped += 1
                return False
            x = None if channel == "default" and not priority else ("%s,%d" % (d(channel), priority)).encode()
            self.put(tj, cj.encode(), x, side)
            return True
        # A large event travels as pieces of its JSON text, each small enough for a noisy line.
        # All are made before one goes in: a heap that runs out halfway leaves no event cut short.
        pcs = []
        for i in range(0, n, p):
            pcs.append(d(cj[i : i + p]).encode())
        x = "%s,%d," % (d(channel), priority)
        more, last = (x + "1").encode(), (x + "2").encode()  # one object each, shared by the pieces
        if not side and not self.fit(k):
            self.dropped += 1
            return False
        for i in range(k):
            self.put(tj, pcs[i], more if i < k - 1 else last, side)
        return True

    def fit(self, k):
        """Make room for k event slots: the oldest events go, unless they may be on the wire
        already (then the peer may have them, and dropping them would count what arrives)."""
        more = False  # inside a large event: its other pieces go too
        while more or self.next - self.low - len(self.side) + k > self.box:
            low = self.low
            if not more and (low == self.next or low < max(self.hi, self.tx)):
                return False
            x = self.x[low % self.cap]
            more = x is not None and x[-2:] == b",1" and x.count(b",", x.rfind(b'"')) == 2
            was = self.side and self.side[0] == low
            self.drop(low + 1)
            self.tx = max(self.tx, self.low)
            if not more:
                if was:
                    self.side_lost += 1
                else:
                    self.dropped += 1
        return True

    def put(self, tj, cj, x, side=False):
        seq = self.next
        if side:
            self.side.append(seq)
        i = seq % self.cap
        self.t[i] = tj
        self.c[i] = cj
        self.x[i] = x
        self.next = seq + 1
        if self.journal:
            self.journal.event(seq, tj, cj, x)

    def drop(self, upto):
        while self.low < upto:
            i = self.low % self.cap
            self.t[i] = self.c[i] = self.x[i] = None
            self.low += 1
        s = self.side
        while s and s[0] < self.low:
            s.pop(0)
        fr = self.frames
        while fr and fr[0][1] <= upto:
            fr.pop(0)
        if fr and fr[0][0] < upto:
            fr[0][0] = upto

    def resume(self, stream, first):
        """Continue a stream a previous run left (the journal puts its events back after this)."""
        self.stream = stream
        self.low = self.next = self.tx = self.acked = self.hi = first

    def restart(self, cursor, peer_max):
        """A session (re)starts: cursor is the peer's place in my stream, or None if it has none."""
        self.hi = max(self.hi, self.tx)
        self.frames = []
        ok = cursor is not None and cursor <= self.next
        if ok:
            self.on_ack(cursor, 1, 0, None)
        self.acked = cursor if ok else self.low
        self.tx = self.low
        self.pause = False
        self.peer_max = max(MIN_MAX, peer_max)
        self.limit = min(self.frame_max, self.peer_max)

    def on_ack(self, ack, win, now, echo):
        """The peer has everything before `ack`; win 0: its receiver is full; echo: the token of
        the data frame the ack answers. False when the ack brings no news."""
        if win is not None:
            self.pause = not win
        if echo is not None and (now - echo) & 0xFFFF < 10000:  # a longer one is a stale or forged token
            # The round trip, smoothed as TCP does.
            d = ((now - echo) & 0xFFFF) - self.srtt
            self.rttvar += (abs(d) - self.rttvar) >> 2
            self.srtt += d >> 3 if self.srtt else d
        if ack is None or ack > self.next or ack <= self.acked:
            return False
        self.acked = ack
        self.drop(ack)
        self.tx = max(self.tx, ack)
        self.limit = min(self.frame_max, self.limit + 16)
        if self.journal:
            self.journal.acked(ack)
        return True

    def resend(self, f, now):
        """Frame `f` was lost: send its events again, split when frames have shrunk since (at
        most once a round trip they shrink by a quarter, as noise hits long lines hardest)."""
        if age(now, self.lost_at) > self.srtt:
            self.lost_at = now
            self.limit = max(96, (self.limit * 3) >> 2)
        e = self.frame(f[0], f[1], now)
        self.resent += e - f[0]
        if e < f[1]:
            self.frames.insert(self.frames.index(f), [f[0], e, now, False])
            f[0] = e
        else:
            f[2] = now

    def held(self, now, ack, advanced):
        """After an ack: frames below one the peer holds were lost, and so was the first one
        when the ack repeats while it waits. ack: its fields; from the fourth on, the ranges the
        peer holds, (offset from the ack, count) so they stay short."""
        top = 0
        a = ack[0]
        ranges = ack[3:]
        for f in self.frames:
            f[3] = False  # as this ack says: a forged or stale range must not hold a frame for good
            for r in ranges:
                if type(r) is tuple and a + r[0] <= f[0] and f[1] <= a + r[0] + r[1]:
                    f[3] = True
                    top = max(top, f[1])
        late = self.srtt + (self.srtt >> 2) + 2
        for f in list(self.frames):
            if not f[3]:
                if top > f[0]:
                    if age(now, f[2]) > late:
                        self.resend(f, now)
                else:
                    if not advanced and not top and age(now, f[2]) > 2 * late:
                        self.resend(f, now)
                    break

    def poll(self, now, ack):
        """Resend what timed out, then frame new events; `ack` rides along. True if any went.
        At most `burst` frames a call: `more` then says the owner should write them and call again."""
        self.ack = ack
        fr = self.frames
        left = self.burst
        rto = min(4000, max(30, self.srtt + 4 * self.rttvar if self.srtt else 250))
        for f in list(fr):
            if not f[3] and age(now, f[2]) >= rto and left:
                self.resend(f, now)
                left -= 1
        # At most 16 frames and four full frames' bytes unacknowledged: enough to keep a line
        # busy, little enough that a deep buffer on the way does not swell the round trip. One
        # frame probes a full receiver.
        k = 1 if self.pause else min(16, 4 * self.peer_max // min(self.limit, self.peer_max))
        sent = False
        while self.tx < self.next and len(fr) < k and left:
            s = self.tx
            # A part-filled frame waits while another is unacknowledged: under load, batches grow.
            e = self.frame(s, self.next, now, len(fr))
            if e is None:
                break
            self.tx = e
            fr.append([s, e, now, False])
            self.sent += e - s
            sent = True
            left -= 1
        self.more = not left  # frames (or a resend) may wait for the next call
        return sent

    def frame(self, s, stop, now, full=False):
        """Write one data frame with as many events from `s` (up to `stop`) as fit; returns its end,
        or None when `full` asks for a full frame and they all fit. The line is built in a buffer
        kept between frames and goes to `write` from there, or as one bytes object to `out`."""
        cap = self.cap
        budget = (
            min(self.limit, self.peer_max) - 32 - 3 * len("%x" % s)
        )  # mark, CRC, letter, fields, brackets
        e = s
        size = 0
        topics = []
        while e < stop:
            i = e % cap
            t = self.t[i]
            x = self.x[i]
            add = len(self.c[i]) + 5 + (len(x) + 3 if x else 0) + (0 if t in topics else len(t) + 1)
            if size + add > budget and e > s:
                break
            if t not in topics:
                topics.append(t)
            size += add
            e += 1
        if full and e == stop:
            return None
        fields = [s, self.ack, e - s, now & 0xFFFF]  # the ack echoes the token: it times the round trip
        if self.low > self.acked:
            fields.append(self.low)  # the outbox dropped events the peer waits for: skip them
        head = self.kind
        for f in fields:
            head += ("" if f is None else "%x" % f) + ","
        head = (head[:-1] + " [").encode()
        if len(self.buf) < size + len(head) + 16:
            self.buf = bytearray(size + len(head) + 16)  # one event larger than any frame before
        buf = self.buf
        n = 9 + len(head)
        buf[9:n] = head
        sep = 91  # [
        for t in topics:
            buf[n] = sep
            buf[n + 1 : n + 1 + len(t)] = t
            n += 1 + len(t)
            sep = 44  # ,
        buf[n] = 93  # ]
        n += 1
        for q in range(s, e):
            i = q % cap
            ti = topics.index(self.t[i])
            r = b",%d," % ti if self.x[i] is None else b",[%d,%s]," % (ti, self.x[i])
            buf[n : n + len(r)] = r
            n += len(r)
            buf[n : n + len(self.c[i])] = self.c[i]
            n += len(self.c[i])
        buf[n] = 93  # ]
        mv = memoryview(buf)
        buf[0] = 0x1E
        buf[1:9] = b"%08x" % (crc32(mv[9 : n + 1]) & 0xFFFFFFFF)
        buf[n + 1] = 10
        if self.write is None:
            self.out.append(bytes(mv[: n + 2]))
        else:
            self.write(mv[: n + 2])
        return e


def check(v, depth):
    # What the other end can read back: JSON types only, finite floats, not nested too deep.
    t = type(v)
    if t is float:
        if v - v != 0:
            raise ValueError("event content must be JSON: NaN and infinity are not")
    elif t is dict or t is list or t is tuple:
        if depth > 16:
            raise ValueError("event content is nested too deep")
        for k in v:
            if t is dict:
                if type(k) is not str:
                    raise TypeError("event content must be JSON: a dict key must be a str")
                k = v[k]
            check(k, depth + 1)
    elif t not in (int, str, bool) and v is not None:
        raise TypeError("event content must be JSON: a %s is not" % t.__name__)
