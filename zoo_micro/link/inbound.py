# The receiving half of a link session: frames in, gaps held, events delivered once and in
# order, acknowledgements out.
import json

from zoo_micro import port
from zoo_micro.link.outbound import DEFAULT, FRAGMENT, Outbound

_SACKS = 3  # held ranges in one ack


class Inbound(Outbound):
    """What a session receives: data frames to in-order events, and the acks that say so.

    A layer of Session, not used alone: its attributes are set in Session.__init__."""

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
            out.append((topics[ti], data[i + 1], DEFAULT, 0))
        i += 2
    for e in out:
        if not isinstance(e[0], str) or not isinstance(e[2], str) or not isinstance(e[3], int):
            raise ValueError("bad record")
    return out
