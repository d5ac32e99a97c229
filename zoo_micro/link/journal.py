# An optional file journal for the node end, imported only when configured: its unacknowledged
# events and its place in the host's stream survive a reset, so a restarted node replays exactly
# what the host never saw. One record per line, fields split by tabs (JSON escapes tabs):
#   S stream next_seq    E seq topic content [extra]    A acked_seq    C host_stream next_seq
import os

from zoo_micro.link.outbox import LAST, MORE

_ACK_EVERY = 16  # acknowledgements are written lazily: replaying a few acked events is harmless


class Journal:
    def __init__(self, path, max_bytes=16384):
        self.path = path
        self.max_bytes = max_bytes
        self.session = None
        self._f = None
        self._size = 0
        self._acked = 0
        self.writes = 0
        self.missed = 0  # event lines that found no heap

    def load(self, session):
        """Continue the stream a previous run left in the file: `session` takes its ids, its place
        in the host's stream and its newest unacknowledged events (no more than its outbox holds).
        Returns False when there was no journal."""
        try:
            f = open(self.path)  # noqa: SIM115 - closed by the with below, after the OSError check
        except OSError:
            return False
        stream = None
        nxt = 0
        run = []  # the newest run of consecutive events: (seq, topic, content, extra)
        acked = 0
        cursor = None
        cap = session.box
        topics = {}  # one string per topic
        with f:
            for line in f:
                if not line.endswith("\n"):
                    break  # the run ended while writing this record
                p = line[:-1].split("\t")
                try:
                    k = p[0]
                    if k == "S":
                        stream, nxt = int(p[1], 16), int(p[2], 16)
                    elif k == "E":
                        seq = int(p[1], 16)
                        if run and seq != run[-1][0] + 1:
                            run = []  # not the run that follows: start the run afresh
                        t = topics.get(p[2]) or p[2].encode()
                        topics[p[2]] = t
                        run.append((seq, t, p[3].encode(), p[4].encode() if len(p) > 4 and p[4] else None))
                        if len(run) > cap:
                            run.pop(0)
                        nxt = max(nxt, seq + 1)
                    elif k == "A":
                        acked = max(acked, int(p[1], 16))
                    elif k == "C":
                        cursor = (int(p[1], 16), int(p[2], 16))
                except (ValueError, IndexError):
                    break
        if stream is None:
            return False
        run = [e for e in run if e[0] >= acked]
        s = session
        s.stream = stream
        s.low = s.next = s.tx = s.acked = s.hi = run[0][0] if run else nxt
        for e in run:
            x = e[3]
            m = 0
            if x is not None and x.count(b",", x.rfind(b'"')) == 2:
                # a piece of a large event, as its own text: '"channel",priority,1' (2: the last)
                m = MORE if x[-1:] == b"1" else LAST
                x = None if x[:-2] == b'"default",0' else x[:-2]
            s.put(e[1], e[2] if x is None else (x, e[2]), m)
        s.hi = s.next  # the previous run may have sent them: the host may have them already
        if cursor is not None:
            s.peer, s.expect = cursor
        return True

    def open(self, session):
        """Start writing for `session` (after load() gave it what a previous run left)."""
        self.session = session
        self._acked = session.acked
        self._rewrite()

    def _rewrite(self):
        s = self.session
        if self._f is not None:
            self._f.close()
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("S\t%x\t%x\n" % (s.stream, s.next))
            if s.peer is not None:
                f.write("C\t%x\t%x\n" % (s.peer, s.expect))
            for seq in range(s.low, s.next):
                f.write(_line(s, seq))
        os.rename(tmp, self.path)
        self._f = open(self.path, "a")  # noqa: SIM115 - stays open for appends until close()
        self._size = 0

    def _write(self, line):
        if self._f is None:
            return
        self._f.write(line)
        self._f.flush()
        self.writes += 1
        self._size += len(line)
        if self._size > self.max_bytes:
            self._rewrite()

    def event(self, seq):
        """The outbox took event `seq` (a slot of it, for a large one)."""
        if self._f is None:
            return
        try:
            self._write(_line(self.session, seq))
        except MemoryError:
            self.missed += 1  # the event is in the outbox all the same; only a reset would lose it

    def acked(self, seq):
        if seq - self._acked >= _ACK_EVERY:
            self._acked = seq
            self._write("A\t%x\n" % seq)

    def cursor(self, stream, nxt):
        self._write("C\t%x\t%x\n" % (stream, nxt))

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None


def _line(s, seq):
    # The slot as a frame carries it: a piece of a large event is written as its own text, with
    # '"channel",priority,1' (2: the last piece).
    i = seq % s.cap
    x, cj = s.slot(i)
    m = s.marks[i]
    if m & (MORE | LAST):
        x = (x or b'"default",0') + (b",1" if m & MORE else b",2")
    return "E\t%x\t%s\t%s\t%s\n" % (seq, s.t[i].decode(), cj.decode(), (x or b"").decode())
