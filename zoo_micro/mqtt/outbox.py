# What waits for the broker: events in order, each kept until its PUBACK (QoS 1), and retained
# messages (health, state) where only the newest per topic matters, and a few log lines (QoS 0).
# Bounded and counted: beyond `size` events the oldest one waiting is dropped; beyond
# `retained_max` retained topics the oldest is dropped and `resync` asks the owner to send the
# whole state again; log lines keep only the newest `log_max`, so an outage never fills the
# outbox with its own complaints.
# Thread-safe: the loop puts, the link thread takes.
from zoo_micro import port

EVENT = 0
RETAINED = 1
LOG = 2


class Outbox:
    def __init__(self, size=64, retained_max=32, log_max=8):
        if size < 1 or retained_max < 1:
            raise ValueError("mqtt: outbox and retained_max must hold at least 1 message")
        self.size = size
        self.retained_max = retained_max
        self.log_max = log_max
        self._logs = 0
        self.logs_dropped = 0
        self._q = []  # [kind, topic, payload, qos]; one list keeps the order the node made them in
        self._retained = {}  # topic -> its entry in _q, so a newer value replaces one not yet sent
        self._events = 0
        self._inflight = None
        self._lock = port.allocate_lock()
        self.dropped = 0  # events dropped unsent because the outbox was full
        self.retained_dropped = 0
        self.resync = False
        self.put_events = 0
        self.sent = 0
        self.freed = None  # called (without the lock) each time a sent event leaves the outbox

    def __len__(self):
        return len(self._q)

    def events(self):
        return self._events

    def put_event(self, topic, payload, qos=1):
        """Queue an event; False when an older one had to be dropped to make room (the one on
        the wire never is: with nothing else to drop, the outbox holds one more for a moment)."""
        with self._lock:
            ok = True
            if self._events >= self.size:
                ok = self._drop(EVENT)
                if not ok:
                    self.dropped += 1  # only an event that will never be sent counts
            self._q.append([EVENT, topic, payload, qos])
            self._events += 1
            self.put_events += 1
            return ok

    def put_log(self, topic, payload):
        with self._lock:
            if self._logs >= self.log_max:
                self._drop(LOG)
                self.logs_dropped += 1
            self._q.append([LOG, topic, payload, 0])
            self._logs += 1

    def put_retained(self, topic, payload, qos=1):
        """Queue the newest retained value of `topic` (b"" deletes it on the broker)."""
        with self._lock:
            e = self._retained.get(topic)
            if e is not None and e is not self._inflight:
                e[2] = payload
                e[3] = qos
                return True
            ok = True
            if len(self._retained) >= self.retained_max and e is None:
                ok = self._drop(RETAINED)
                self.retained_dropped += 1
                self.resync = True
            e = [RETAINED, topic, payload, qos]
            self._q.append(e)
            self._retained[topic] = e
            return ok

    def _drop(self, kind):
        # The oldest entry of this kind that is not on the wire right now.
        q = self._q
        for i in range(len(q)):
            e = q[i]
            if e[0] == kind and e is not self._inflight:
                q.pop(i)
                self._forget(e)
                return False
        return True

    def _forget(self, e):
        if e[0] == EVENT:
            self._events -= 1
        elif e[0] == LOG:
            self._logs -= 1
        elif self._retained.get(e[1]) is e:
            del self._retained[e[1]]

    def peek(self):
        """The next entry to send (it stays queued until done()), or None."""
        with self._lock:
            if not self._q:
                self._inflight = None
                return None
            e = self._inflight = self._q[0]
            return e

    def done(self, e):
        """The broker has `e` (PUBACK for QoS 1, written for QoS 0)."""
        with self._lock:
            if self._inflight is e:
                self._inflight = None
            q = self._q
            for i in range(len(q)):
                if q[i] is e:
                    q.pop(i)
                    self._forget(e)
                    self.sent += 1
                    break
            else:
                return
        if e[0] == EVENT and self.freed is not None:
            self.freed()

    def clear_resync(self):
        with self._lock:
            r = self.resync
            self.resync = False
            return r
