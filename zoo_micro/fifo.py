# Feeders: bounded FIFOs that workers, threads and interrupt handlers fill.
import asyncio

from zoo_micro import port

DROP_OLDEST = "drop_oldest"
DROP_NEWEST = "drop_newest"
ERROR = "error"


class FIFOFull(Exception):
    pass


def check_args(kind, maxlen, overflow):
    if maxlen < 1:
        raise ValueError("%s maxlen must be at least 1, got %r" % (kind, maxlen))
    if overflow not in (DROP_OLDEST, DROP_NEWEST, ERROR):
        raise ValueError("%s overflow must be drop_oldest, drop_newest or error, got %r" % (kind, overflow))


class FIFO:
    """A preallocated ring buffer: pushing never allocates.

    push_value() is safe from any thread (it takes a lock). push_isr() is the interrupt path:
    lock-free and allocation-free, for a FIFO whose only producer is one interrupt handler; when
    full it drops the new value. Create with threadsafe=True when a task awaits get() while
    other threads push, so those pushes wake it.
    """

    def __init__(self, maxlen=16, overflow=DROP_OLDEST, threadsafe=False):
        check_args("FIFO", maxlen, overflow)
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
                    from zoo_micro.waker import Waker

                    self._waker = Waker()
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
