# A FIFO that holds each key once, as the full framework's SingleFIFO holds each value once.
from zoo_micro import port
from zoo_micro.fifo import DROP_NEWEST, DROP_OLDEST, ERROR, FIFOFull, check_args

_RAISE = object()


class SingleFIFO:
    """Each key waits once; pushing a waiting key again keeps its place and, when a value comes
    with it, replaces the value (the newest reading per sensor). push_value(value) is the full
    framework's call: the value is its own key."""

    def __init__(self, maxlen=16, overflow=DROP_OLDEST):
        check_args("SingleFIFO", maxlen, overflow)
        self.maxlen = maxlen
        self.overflow = overflow
        self.dropped = 0
        self._values = {}
        self._order = []
        self._lock = port.allocate_lock()

    def size(self):
        return len(self._order)

    def __len__(self):
        return len(self._order)

    def push_value(self, value, key=_RAISE):
        """Queue value under key (the value itself without one); its place in the queue, 0 next
        out, or -1 when a full queue dropped it (overflow "drop_newest")."""
        if key is _RAISE:
            key = value
        with self._lock:
            order = self._order
            if key not in self._values:
                if len(order) >= self.maxlen:
                    if self.overflow == DROP_NEWEST:
                        self.dropped += 1
                        return -1
                    if self.overflow == ERROR:
                        raise FIFOFull("SingleFIFO full (%d keys)" % self.maxlen)
                    del self._values[order.pop(0)]
                    self.dropped += 1
                order.append(key)
            self._values[key] = value
            return order.index(key)

    def pop_value(self, default=_RAISE):
        """The oldest key's value; empty: `default`, or IndexError without one (the full
        framework raises too)."""
        with self._lock:
            if not self._order:
                if default is _RAISE:
                    raise IndexError("no value to pop")
                return default
            return self._values.pop(self._order.pop(0))

    def get_value(self, key, default=None):
        return self._values.get(key, default)
