# My stream, the sending half of a link session: events wait in a ring until the peer
# acknowledges them, go out in frames of as many as fit, and go again when they time out or the
# peer's ack says they were lost. The node's Session (session.py) is built on it, and the host sends
# with it too (upper-case frames, whole events). Its own module so a board that compiles from .py
# does the session in two smaller pieces.

import json
from binascii import crc32

from zoo_micro import port
from zoo_micro.link.frame import MIN_MAX, check
from zoo_micro.link.uplink import rand24
from zoo_micro.port import const

SIDE = const(1)  # a slot's mark: it holds side traffic
MORE = const(2)  # a slot's mark: a piece of a large event, more follow
LAST = const(4)  # a slot's mark: the last piece
# A piece's number in its event is kept in the mark's upper bits: 32 pieces at most.
PIECE = 64  # characters of content JSON per piece of a large event (more when it is over 2 KB)
age = port.ticks_diff  # age(now, then)


def compact(value):
    # JSON without the spaces after "," and ":": fewer bytes in the outbox and on the line.
    return json.dumps(value, separators=(",", ":"))


class Outbox:
    """Event seq sits in slot seq % cap of a ring allocated once: no per-event objects. Each data
    frame carries the owner's place in the peer's stream (its `peer` and `expect`)."""

    kind = "d"  # the data frame letter this end writes (the host's, upper case)
    piece = PIECE
    dumps = staticmethod(compact)

    def __init__(self, outbox, frame_max, event_max, journal, extra):
        if frame_max < MIN_MAX:
            raise ValueError("frame_max must be at least %d" % MIN_MAX)
        if outbox < 1:
            raise ValueError("outbox must hold at least 1 event")
        self.journal = journal
        self.frame_max = self.peer_max = self.limit = frame_max  # the limit shrinks with loss
        self.event_max = event_max or frame_max
        self.box = outbox  # slots for events (one per piece of a large one)
        self.extra = extra  # slots of their own for side traffic (health, state, log lines)
        self.cap = cap = outbox + extra
        self.t = [None] * cap  # topic JSON (bytes), one object per topic
        # Content JSON (bytes), or (b'"channel",priority', content JSON) off the default channel. The
        # pieces of a large event all hold its whole text (str): one copy, cut as frames are made.
        self.c = [None] * cap
        self.marks = bytearray(cap)  # SIDE, MORE, LAST, piece number: no list to grow as events go in
        self.nside = 0  # slots side traffic holds
        self.topics = {}
        self.stream = rand24()
        self.low = self.next = self.tx = self.acked = self.hi = rand24() >> 4  # hi: below it, sent once
        self.frames = []  # [first, end, sent_ms, held by the peer] in flight, oldest first
        self.buf = bytearray(frame_max)  # where data frames are built
        self.out = []  # lines to write
        self.write = None  # a stream's write(): data frames go to it straight from `buf`, not to `out`
        self.pause = False  # the peer's receiver is full
        self.burst = 16  # frames one flush() makes
        self.more = False  # flush() stopped at `burst`: call it again once these are written
        self.srtt = self.rttvar = self.lost_at = 0
        self.sent = self.resent = self.dropped = self.side_lost = 0

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
        p = max(self.piece, (n + 31) >> 5)  # 32 pieces at most
        k = (n + p - 1) // p  # the slots it takes
        if side and self.nside + k > self.extra:
            return False  # its slots are taken: the owner keeps it for later
        # A large event travels as pieces of its JSON text, each small enough for a noisy line. Its
        # slots share the text, and frames cut their pieces from it: going in allocates no piece, so
        # a heap that runs out cannot leave an event cut short.
        c = cj.encode() if k == 1 else cj
        if channel != "default" or priority:
            c = (("%s,%d" % (d(channel), priority)).encode(), c)
        if not side and not self.fit(k):
            self.dropped += 1
            return False
        for i in range(k):
            self.put(tj, c, (SIDE if side else 0) | (0 if k == 1 else (MORE if i < k - 1 else LAST) | i << 3))
        if self.journal:
            # After the whole event is in: a journal line that finds no heap cannot cut it short.
            for seq in range(self.next - k, self.next):
                self.journal.event(seq)
        return True

    def fit(self, k):
        """Make room for k event slots: the oldest events go, unless they may be on the wire
        already (then the peer may have them, and dropping them would count what arrives)."""
        more = False  # inside a large event: its other pieces go too
        while more or self.next - self.low - self.nside + k > self.box:
            low = self.low
            if not more and (low == self.next or low < max(self.hi, self.tx)):
                return False
            m = self.marks[low % self.cap]
            more = m & MORE
            self.drop(low + 1)
            self.tx = max(self.tx, self.low)
            if not more:
                if m & SIDE:
                    self.side_lost += 1
                else:
                    self.dropped += 1
        return True

    def put(self, tj, cj, marks=0):
        # Needs no heap: a large event's pieces go in all or none (send() journals them after).
        seq = self.next
        i = seq % self.cap
        self.marks[i] = marks
        self.nside += marks & SIDE
        self.t[i] = tj
        self.c[i] = cj
        self.next = seq + 1

    def drop(self, upto):
        while self.low < upto:
            i = self.low % self.cap
            self.t[i] = self.c[i] = None
            self.nside -= self.marks[i] & SIDE
            self.marks[i] = 0
            self.low += 1
        fr = self.frames
        while fr and fr[0][1] <= upto:
            fr.pop(0)
        if fr and fr[0][0] < upto:
            fr[0][0] = upto

    def restart(self, cursor, peer_max):
        """A session (re)starts: cursor is the peer's place in my stream, or None if it has none;
        what it lacks goes again."""
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

    def held(self, now, fields, advanced):
        """After an ack (its fields; `advanced`: what on_ack() said): from the fourth field on, the
        ranges of my frames the peer holds past a gap, as (offset from the ack, count). Frames
        below one it holds were lost, and so was the first when the ack repeats while it waits."""
        top = 0
        a = fields[0]
        for f in self.frames:
            f[3] = False  # as this ack says: a forged or stale range must not hold a frame for good
            for r in fields[3:]:
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

    def flush(self, now):
        """Resend what timed out, then frame new events; True if new ones went. At most `burst`
        frames a call: `more` then says to write them and call again."""
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
            f = [s, s, now, False]  # made before the frame is written
            # A part-filled frame waits while another is unacknowledged: under load, batches grow.
            e = self.frame(s, self.next, now, len(fr))
            if e is None:
                break
            f[1] = e
            fr.append(f)  # then `tx` moves: had this run out of heap, the frame would go again
            self.tx = e
            self.sent += e - s
            sent = True
            left -= 1
        self.more = not left  # frames (or a resend) may wait for the next call
        return sent

    def slot(self, i):
        """Slot i's (channel and priority or None, content JSON) as a frame carries them: a piece
        of a large event is cut from the text its slots share, numbered by its mark."""
        c = self.c[i]
        x = None
        if type(c) is tuple:
            x, c = c
        if type(c) is str:
            p = max(self.piece, (len(c) + 31) >> 5)  # as send() cut it
            j = (self.marks[i] >> 3) * p
            c = self.dumps(c[j : j + p]).encode()
        return x, c

    def frame(self, s, stop, now, full=False):
        """Write one data frame with as many events from `s` (up to `stop`) as fit; returns its end,
        or None when `full` asks for a full frame and they all fit. The line is built in a buffer
        kept between frames and goes to `write` from there, or as one bytes object to `out`."""
        cap = self.cap
        budget = min(self.limit, self.peer_max) - 32 - 3 * len("%x" % s)  # mark, CRC, letter, fields
        e = s
        size = 0
        topics = []
        while e < stop:
            i = e % cap
            t = self.t[i]
            c = self.c[i]
            x = None
            if type(c) is not bytes:  # not a whole event on the default channel, the common case
                x, c = self.slot(i)
            # ref and separators; a piece writes its ref in full
            add = 5 + (0 if t in topics else len(t) + 1) + len(c)
            add += len(x) + 3 if x else 0
            add += 16 if self.marks[i] & (MORE | LAST) else 0
            if size + add > budget and e > s:
                break
            if t not in topics:
                topics.append(t)
            size += add
            e += 1
        if full and e == stop:
            return None
        # The ack echoes the token: it times the round trip.
        fields = [s, self.expect if self.peer is not None else None, e - s, now & 0xFFFF]
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
            c = self.c[i]
            x = None
            if type(c) is not bytes:
                x, c = self.slot(i)
            m = self.marks[i]
            if m & (MORE | LAST):
                r = b",[%d,%s,%d]," % (ti, x or b'"default",0', 1 if m & MORE else 2)
            elif x:
                r = b",[%d,%s]," % (ti, x)
            else:
                r = b",%d," % ti
            buf[n : n + len(r)] = r
            n += len(r)
            buf[n : n + len(c)] = c
            n += len(c)
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
