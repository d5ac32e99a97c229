# Feeders: bounded FIFOs that workers, threads and interrupt handlers fill.
import asyncio

from zoo_micro import port

DROP_OLDEST = "drop_oldest"
DROP_NEWEST = "drop_newest"
ERROR = "error"


class FIFOFull(Exception):
    pass


class FIFO:
    """A preallocated ring buffer: pushing never allocates.

    push_value() is safe from any thread (it takes a lock). push_isr() is the interrupt path:
    lock-free and allocation-free, for a FIFO whose only producer is one interrupt handler; when
    full it drops the new value. Create with threadsafe=True when a task awaits get() while
    other threads push, so those pushes wake it.
    """

    def __init__(self, maxlen=16, overflow=DROP_OLDEST, threadsafe=False):
        if maxlen < 1:
            raise ValueError("FIFO maxlen must be at least 1, got %r" % (maxlen,))
        if overflow not in (DROP_OLDEST, DROP_NEWEST, ERROR):
            raise ValueError("FIFO overflow must be drop_oldest, drop_newest or error, got %r" % (overflow,))
        self._buf = [None] * (maxlen + 1)  # one slot stays empty to tell full from empty
        self._cap = maxlen + 1
        self._head = 0
        self._tail = 0
        self.overflow = overflow
        self.dropped = 0
        self._lock = port.allocate_lock()
        self._threadsafe = threadsafe
        self._waker = None
        self._event = None

    def size(self):
        return (self._tail - self._head) % self._cap

    def __len__(self):
        return self.size()

    def is_full(self):
        return (self._tail + 1) % self._cap == self._head

    def push_value(self, value):
        """Append; returns False when the value (or the oldest one) was dropped."""
        with self._lock:
            ok = True
            nxt = (self._tail + 1) % self._cap
            if nxt == self._head:
                if self.overflow == DROP_NEWEST:
                    self.dropped += 1
                    return False
                if self.overflow == ERROR:
                    raise FIFOFull("FIFO full (%d values)" % (self._cap - 1))
                self._buf[self._head] = None
                self._head = (self._head + 1) % self._cap
                self.dropped += 1
                ok = False
            self._buf[self._tail] = value
            self._tail = nxt
        self._notify()
        return ok

    def push_isr(self, value):
        # Allocation-free: no lock, no exception object; the single producer owns _tail.
        nxt = (self._tail + 1) % self._cap
        if nxt == self._head:
            self.dropped += 1
            return False
        self._buf[self._tail] = value
        self._tail = nxt
        if self._waker is not None:
            self._waker.set()
        return True

    def pop_value(self, default=None):
        with self._lock:
            if self._head == self._tail:
                return default
            value = self._buf[self._head]
            self._buf[self._head] = None
            self._head = (self._head + 1) % self._cap
            return value

    def peek_value(self, default=None):
        if self._head == self._tail:
            return default
        return self._buf[self._head]

    def clear(self):
        with self._lock:
            for i in range(self._cap):
                self._buf[i] = None
            self._head = self._tail = 0

    def _notify(self):
        if self._waker is not None:
            self._waker.set()
        elif self._event is not None:
            self._event.set()

    async def get(self):
        """Wait for the next value and return it."""
        while self._head == self._tail:
            if self._threadsafe:
                if self._waker is None:
                    self._waker = port.Waker()
                    continue  # a push may have landed before the waker existed
                await self._waker.wait()
            else:
                if self._event is None:
                    self._event = asyncio.Event()
                await self._event.wait()
                self._event.clear()
        return self.pop_value()

    def close(self):
        if self._waker is not None:
            self._waker.close()
            self._waker = None


class DelayFIFO:
    """Releases each value once its delay (seconds) has passed, earliest deadline first."""

    def __init__(self, maxlen=16, overflow=DROP_OLDEST):
        if maxlen < 1:
            raise ValueError("DelayFIFO maxlen must be at least 1, got %r" % (maxlen,))
        if overflow not in (DROP_OLDEST, DROP_NEWEST, ERROR):
            raise ValueError(
                "DelayFIFO overflow must be drop_oldest, drop_newest or error, got %r" % (overflow,)
            )
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


class SingleFIFO:
    """Keeps the newest value per key, released oldest key first."""

    def __init__(self, maxlen=16, overflow=DROP_OLDEST):
        if maxlen < 1:
            raise ValueError("SingleFIFO maxlen must be at least 1, got %r" % (maxlen,))
        if overflow not in (DROP_OLDEST, DROP_NEWEST, ERROR):
            raise ValueError(
                "SingleFIFO overflow must be drop_oldest, drop_newest or error, got %r" % (overflow,)
            )
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
