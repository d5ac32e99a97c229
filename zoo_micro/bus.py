# The event bus: bounded per-channel priority queues drained by one dispatcher task.
import asyncio

from zoo_micro import events, log, port
from zoo_micro.fifo import DROP_NEWEST, FIFO
from zoo_micro.topics import TopicIndex

DEAD_LETTER = "zoo.dead_letter"


class Bus:
    def __init__(self, queue_size=32, retry_delay=0.1, retry_backoff_max=10, max_pending_retries=16):
        self.queue_size = queue_size
        self.retry_delay = retry_delay
        self.retry_backoff_max = retry_backoff_max
        self.max_pending_retries = max_pending_retries
        self.thread_wait_ms = 100
        self._index = {}  # channel -> TopicIndex
        self._queues = {}  # channel -> list of EventNode, highest priority first, FIFO within one
        self._order = []  # channels in creation order, drained round-robin
        self._rr = 0
        self.pending = 0
        self._wake = None
        self._waker = None  # armed when threads or interrupts publish
        self._inbox = None
        self._isr_inbox = None
        self._loop_ident = None
        self._retrying = 0
        self.published = 0
        self.delivered = 0
        self.dropped = 0
        self.no_subscriber = 0
        self.retries = 0
        self.dead_lettered = 0
        self.handler_errors = 0

    # Subscriptions

    def subscribe(self, handler):
        idx = self._index.get(handler.channel)
        if idx is None:
            idx = self._index[handler.channel] = TopicIndex()
        idx.add(handler.topic, handler)
        return handler

    def unsubscribe(self, handler):
        idx = self._index.get(handler.channel)
        if idx is not None:
            idx.remove(handler.topic, handler)

    def handlers_for(self, topic, channel="default"):
        idx = self._index.get(channel)
        return idx.lookup(topic) if idx is not None else ()

    # Publishing

    def put(self, ev):
        """Queue an event; False when it (or a lower-priority one) was dropped."""
        if self._loop_ident is not None and port.ident() != self._loop_ident:
            return self._put_foreign(ev)
        self.published += 1
        q = self._queues.get(ev.channel)
        if q is None:
            q = self._queues[ev.channel] = []
            self._order.append(ev.channel)
        ok = True
        p = ev.priority
        if len(q) >= self.queue_size:
            # Full: the lowest-priority, newest event makes room, unless that is the new one.
            if q[-1].priority >= p:
                self.dropped += 1
                return False
            q.pop()
            self.pending -= 1
            self.dropped += 1
            ok = False
        if not q or q[-1].priority >= p:
            q.append(ev)
        else:
            i = len(q)
            while i > 0 and q[i - 1].priority < p:
                i -= 1
            q.insert(i, ev)
        self.pending += 1
        w = self._wake
        if w is not None and not w.is_set():
            w.set()
        return ok

    def _put_foreign(self, ev, isr=False):
        if self._waker is None:
            raise RuntimeError(
                "publish from another thread or an interrupt needs the thread wake-up: "
                "add a thread worker or set config 'threads': true"
            )
        # Interrupts get their own lock-free ring: a soft IRQ may run while this thread holds a lock.
        if isr:
            return self._isr_inbox.push_isr(ev)
        inbox = self._inbox
        # A thread may wait a little for room (backpressure) before its event is dropped.
        for _ in range(self.thread_wait_ms):
            if not inbox.is_full():
                break
            self._waker.set()
            port.sleep_ms(1)
        return inbox.push_value(ev)

    def put_isr(self, ev):
        return self._put_foreign(ev, True)

    def arm_threads(self):
        """Accept publishes from other threads and interrupts (call on the running loop)."""
        if self._waker is None:
            self._waker = port.Waker()
            self._inbox = FIFO(self.queue_size, DROP_NEWEST)
            self._isr_inbox = FIFO(self.queue_size, DROP_NEWEST)
            self._inbox._waker = self._isr_inbox._waker = self._waker
            return asyncio.create_task(self._pump())
        return None

    async def _pump(self):
        # Runs on the loop thread, so put() takes the local path.
        while True:
            moved = False
            for inbox in (self._inbox, self._isr_inbox):
                ev = inbox.pop_value()
                while ev is not None:
                    self.put(ev)
                    moved = True
                    ev = inbox.pop_value()
            if not moved:
                await self._waker.wait()

    # Dispatching

    def _next(self):
        order = self._order
        n = len(order)
        for k in range(n):
            i = (self._rr + k) % n
            q = self._queues[order[i]]
            if q:
                self._rr = i + 1
                self.pending -= 1
                return q.pop(0)
        return None

    def _select(self, ev):
        hs = self.handlers_for(ev.topic, ev.channel)
        m = ev.response_mechanism
        if not hs or m == events.ALL:
            return hs
        if m == events.FIRST:
            return hs[:1]
        if m == events.BY_PRIORITY:
            return sorted(hs, key=lambda h: -h.priority)
        return [h for h in hs if h.name == ev.reactor_name]

    async def run(self):
        """The dispatcher: runs until cancelled."""
        self._loop_ident = port.ident()
        self._wake = asyncio.Event()
        n = 0
        while True:
            ev = self._next() if self.pending else None
            if ev is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            hs = self._select(ev)
            if not hs:
                self.no_subscriber += 1
            for h in hs:
                try:
                    r = h.fn(ev)
                    if port.is_coro(r):
                        await r
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._failed(h, ev, exc, 1)
                else:
                    self.delivered += 1
                    if h.success_callback is not None or h.done_callback is not None:
                        self._succeeded(h, ev)
            n += 1
            if n & 15 == 0:
                await asyncio.sleep(0)  # let other tasks run during a burst

    def dropped_total(self):
        if self._waker is None:
            return self.dropped
        return self.dropped + self._inbox.dropped + self._isr_inbox.dropped

    def stop(self):
        self._loop_ident = None
        if self._waker is not None:
            self.dropped = self.dropped_total()
            self._waker.close()
            self._waker = self._inbox = self._isr_inbox = None

    # Failures, retries, dead letters

    def _succeeded(self, h, ev):
        for cb in (h.success_callback, h.done_callback):
            if cb is not None:
                try:
                    cb(h.name, ev.topic, ev.content)
                except Exception as e:
                    log.error("handler %s: callback raised %r" % (h.name, e))

    def _failed(self, h, ev, exc, attempt):
        self.handler_errors += 1
        log.error("handler %s on %s failed (attempt %d): %r" % (h.name, ev.topic, attempt, exc))
        if (h.attempts < 0 or attempt < h.attempts) and self._retrying < self.max_pending_retries:
            self.retries += 1
            self._retrying += 1
            asyncio.create_task(self._retry(h, ev, attempt + 1))
        else:
            self._dead_letter(h, ev, exc)

    async def _retry(self, h, ev, attempt):
        delay = self.retry_delay * (1 << min(attempt - 2, 16))
        await asyncio.sleep(delay if delay < self.retry_backoff_max else self.retry_backoff_max)
        self._retrying -= 1
        try:
            r = h.fn(ev)
            if port.is_coro(r):
                await r
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(h, ev, exc, attempt)
        else:
            self.delivered += 1
            self._succeeded(h, ev)

    def _dead_letter(self, h, ev, exc):
        self.dead_lettered += 1
        if h.error_callback is not None:
            try:
                h.error_callback(h.name, ev.topic, ev.content, exc)
            except Exception as e:
                log.error("handler %s: error_callback raised %r" % (h.name, e))
        if h.done_callback is not None:
            try:
                h.done_callback(h.name, ev.topic, ev.content)
            except Exception as e:
                log.error("handler %s: done_callback raised %r" % (h.name, e))
        if ev.topic != DEAD_LETTER:
            self.put(
                events.EventNode(
                    DEAD_LETTER,
                    {"topic": ev.topic, "content": ev.content, "handler": h.name, "error": repr(exc)},
                )
            )
