# A FIFO that holds each value back until its delay has passed.
import asyncio

from zoo_micro import port
from zoo_micro.fifo import DROP_NEWEST, DROP_OLDEST, ERROR, FIFOFull, check_args


class DelayFIFO:
    """Releases each value once its delay (seconds) has passed, earliest deadline first."""

    def __init__(self, maxlen=16, overflow=DROP_OLDEST):
        check_args("DelayFIFO", maxlen, overflow)
        self.maxlen = maxlen
        self.overflow = overflow
        self.dropped = 0
        self._items = []  # [due_ms, value], sorted by due time
        self._lock = port.allocate_lock()

    def size(self):
        return len(self._items)

    def __len__(self):
        return len(self._items)

    def push_value(self, value, delay=0):
        due = port.ticks_add(port.ticks_ms(), int(delay * 1000))
        with self._lock:
            ok = True
            if len(self._items) >= self.maxlen:
                if self.overflow == DROP_NEWEST:
                    self.dropped += 1
                    return False
                if self.overflow == ERROR:
                    raise FIFOFull("DelayFIFO full (%d values)" % self.maxlen)
                self._items.pop(0)
                self.dropped += 1
                ok = False
            items = self._items
            i = len(items)
            while i > 0 and port.ticks_diff(items[i - 1][0], due) > 0:
                i -= 1
            items.insert(i, [due, value])
        return ok

    def next_due_ms(self):
        """Milliseconds until the next value is due (0 if due now), or None when empty."""
        if not self._items:
            return None
        return max(0, port.ticks_diff(self._items[0][0], port.ticks_ms()))

    def pop_value(self, default=None):
        """The earliest value whose delay has passed, else `default`."""
        with self._lock:
            if self._items and port.ticks_diff(port.ticks_ms(), self._items[0][0]) >= 0:
                return self._items.pop(0)[1]
        return default

    async def get(self):
        while True:
            wait = self.next_due_ms()
            if wait == 0:
                return self.pop_value()
            await asyncio.sleep(0.01 if wait is None else min(wait, 100) / 1000)
