# A FIFO that keeps only the newest value per key.
from zoo_micro import port
from zoo_micro.fifo import DROP_NEWEST, DROP_OLDEST, ERROR, FIFOFull, check_args


class SingleFIFO:
    """Keeps the newest value per key, released oldest key first."""

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

    def push_value(self, key, value):
        with self._lock:
            if key in self._values:
                self._values[key] = value  # newer value replaces, keeps its place
                return True
            ok = True
            if len(self._order) >= self.maxlen:
                if self.overflow == DROP_NEWEST:
                    self.dropped += 1
                    return False
                if self.overflow == ERROR:
                    raise FIFOFull("SingleFIFO full (%d keys)" % self.maxlen)
                del self._values[self._order.pop(0)]
                self.dropped += 1
                ok = False
            self._values[key] = value
            self._order.append(key)
        return ok

    def pop_value(self, default=None):
        """Returns (key, value) for the oldest key, or `default`."""
        with self._lock:
            if not self._order:
                return default
            key = self._order.pop(0)
            return key, self._values.pop(key)

    def get_value(self, key, default=None):
        return self._values.get(key, default)
