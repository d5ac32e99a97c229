# The node's end of a link session: each direction delivers every event once and in order, across
# lost, corrupted and repeated frames, reconnects and restarts of either end. Sans-IO: the owner
# feeds frames to on_frame(), writes what poll() returns and gets the host's events through
# deliver(). One object with few methods, as each function a node holds costs heap: its outbox
# (outbox.py, my stream) and the protocol (here: hello, liveness, the host's stream in order). The
# host's end (host_tools/link/session.py) does the heavier part of the protocol: holding frames past
# a gap and saying which it holds, joining large events.
import json

from zoo_micro import port
from zoo_micro.link.frame import DEFAULT_MAX, PROTO, WINDOW, encode, events
from zoo_micro.link.outbox import Outbox, age
from zoo_micro.link.uplink import rand24


class Session(Outbox):
    """My stream is the Outbox's. The host's stream: taken in order only; a frame past a gap is
    dropped, and the go-back after it brings it again. Says hello until the host answers, pings
    while idle, hellos again after `dead_ms` of silence. on_time(wall_ms) sets the clock."""

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
        Outbox.__init__(self, outbox, frame_max, event_max, journal, extra)
        self.deliver = deliver  # (topic, content, channel, priority, seq) -> False: no room, offer it again
        self.info = info
        self.clock = clock
        self.on_time = on_time
        self.heartbeat_ms = heartbeat_ms
        self.dead_ms = dead_ms
        # The host's stream
        self.peer = None  # its stream id, once known
        self.expect = 0  # the next seq of it to deliver
        self.ack_at = self.echo = None  # when an ack is due; the token of the last data frame
        self.full = False  # deliver() refused: the window is shut
        # The session
        self.up = False
        self.nonce = self.tries = 0
        self.hello_at = self.last_rx = self.last_tx = self.last_ping = clock()
        self.delivered = self.lost = self.dup = self.bad = self.sessions = 0

    # The host's stream

    def skip(self, first):
        self.expect = first
        if self.journal:
            self.journal.cursor(self.peer, first)

    def retry(self):
        """deliver() has room again: say so, and the host sends what was refused again."""
        self.full = False
        self.ack_at = self.clock()

    # Both

    def on_frame(self, kind, fields, payload):
        """Process one frame from the decoder. The host writes upper case: anything else is an echo."""
        now = self.clock()
        try:
            if kind == "H":
                # [proto, stream, first, cursor stream, cursor next, max, nonce, wall ms]
                if self.up or fields[6] != self.nonce:
                    return  # an answer to an earlier try
                f = fields
                if f[0] != PROTO or f[1] is None or f[2] is None:
                    raise ValueError("hello")
                if f[1] != self.peer or f[2] > self.expect:  # a new stream (it restarted), or a skip
                    if f[1] == self.peer:
                        self.lost += f[2] - self.expect
                    self.peer = f[1]
                    self.skip(f[2])
                self.restart(f[4] if f[3] == self.stream else None, f[5] or DEFAULT_MAX)
                self.last_rx = now
                self.sessions += 1
                self.up = True
                self.tries = 0  # the next hello starts a new series
                if self.on_time and f[7] is not None:
                    self.on_time(f[7] + (age(now, self.last_tx) >> 1))
            elif kind in "RB":
                self.up = False  # the host lost the session or is going away: say hello again
            elif not self.up:
                pass
            elif kind == "A":
                self.last_rx = now
                self.held(now, fields, self.on_ack(fields[0], fields[1], now, fields[2]))
            elif kind == "Q":
                self.last_rx = now
                rtt = (now - fields[0]) & 0xFFFFFF
                if rtt < 10000 and self.on_time and fields[1] is not None:
                    self.on_time(fields[1] + rtt // 2)
            elif kind == "D":
                self.last_rx = now
                self.on_ack(fields[1], None, now, None)
                seq = fields[0]
                count = fields[2]
                self.ack_at = now
                self.echo = fields[3]
                if not 0 < count <= WINDOW:
                    raise ValueError("count")  # forged: skipping it would end the downlink
                low = fields[4] if len(fields) > 4 else None
                if low is not None and low > self.expect:
                    if low > self.expect + WINDOW:
                        raise ValueError("low mark outside the window")  # forged: it would end the downlink
                    self.lost += low - self.expect  # the host's outbox dropped them
                    self.skip(low)
                try:
                    evs = events(payload, count)
                except ValueError:
                    # A sound frame with unreadable events: skip them rather than stall the stream on them.
                    self.bad += 1
                    if seq <= self.expect < seq + count:
                        self.lost += seq + count - self.expect
                        self.skip(seq + count)
                    return
                if seq + count <= self.expect:
                    self.dup += 1  # my ack was lost: it goes again at once
                elif seq <= self.expect:
                    for k in range(self.expect - seq, count):
                        e = evs[k]
                        self.full = not self.deliver(e[0], e[1], e[2], e[3], seq + k)
                        if self.full:
                            break  # no room: the rest stays unacknowledged and comes again
                        self.delivered += 1
                        self.expect += 1
                    self.skip(self.expect)
        except Exception:  # anything a forged frame provokes (deep JSON too) stays with that frame
            self.bad += 1

    def poll(self):
        """The lines to write now (a list of bytes); call after frames arrive and on timers.
        At most `burst` data frames a call: `more` then says to write them and call again."""
        now = self.clock()
        out = self.out
        ack = self.expect if self.peer is not None else None
        if not self.up:
            if age(now, self.hello_at) >= 0:
                if not self.tries:
                    self.nonce = rand24()
                # Numbers ride in hex fields and names in a short JSON list: a small hello survives noise.
                f = [PROTO, self.stream, self.low, self.peer, ack, self.frame_max, self.nonce]
                out.append(encode("h", f, json.dumps(self.info) if self.info else None))
                self.tries += 1
                # Quick tries ride out noise; then a slower pace while nobody answers.
                self.hello_at = port.ticks_add(now, 100 if self.tries < 20 else 1000)
        elif age(now, self.last_rx) > self.dead_ms or self.low - self.acked > WINDOW:
            # Silence; or the outbox dropped more than a receiver's window: a hello skips the gap.
            self.up = False
        else:
            if self.flush(now) and not self.full:
                self.ack_at = None  # the data frames carry the ack
            if self.ack_at is not None:
                out.append(encode("a", [ack, 0 if self.full else 1, self.echo]))
                self.ack_at = self.echo = None
            hb = self.heartbeat_ms
            if age(now, self.last_tx) >= hb or (
                age(now, self.last_rx) > hb and age(now, self.last_ping) >= hb >> 2
            ):
                # Pings come faster while the host is silent, so one lost pong does not end the session.
                self.last_ping = now
                out.append(encode("p", [now & 0xFFFFFF, ack]))
        if out:
            self.out = []
            self.last_tx = now
        return out
