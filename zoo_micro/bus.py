# The event bus: bounded per-channel priority queues drained by one dispatcher task.
import asyncio

from zoo_micro import events, log, port
from zoo_micro.events import EventNode
from zoo_micro.topics import TopicIndex

DEAD_LETTER = "zoo.dead_letter"
ROUND = 32  # events taken from one channel before the next channel gets its turn
CORO = port.CORO
get_ident = port.get_ident


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
        self.pending = 0
        self._wake = None
        self._idle = False  # the dispatcher is waiting for _wake
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

    def room(self, channel="default"):
        """Events that channel's queue takes now before it starts dropping."""
        q = self._queues.get(channel)
        return self.queue_size - (len(q) if q else 0)

    # Publishing

    def publish(self, topic, content=None, channel="default", priority=0):
        """Queue a new event from anywhere: a task, plain code or a thread. False if dropped."""
        return self.put(EventNode(topic, content, channel, priority))

    def put(self, ev):
        """Queue an event; False when it (or a lower-priority one) was dropped."""
        li = self._loop_ident
        if li is not None and get_ident() != li:
            return self._put_foreign(ev)
        self.published += 1
        q = self._queues.get(ev.channel)
        if q is None:
            q = self._queues[ev.channel] = []
            self._order.append(ev.channel)
        if len(q) < self.queue_size and (not q or q[-1].priority >= ev.priority):
            q.append(ev)  # the common case: room, and no higher priority than the tail
            self.pending += 1
            ok = True
        else:
            ok = self._insert(q, ev)
        if self._idle:
            self._idle = False
            self._wake.set()
        return ok

    def _insert(self, q, ev):
        p = ev.priority
        ok = True
        if len(q) >= self.queue_size:
            # Full: the lowest-priority, newest event makes room, unless that is the new one.
            if q[-1].priority >= p:
                self.dropped += 1
                return False
            q.pop()
            self.pending -= 1
            self.dropped += 1
            ok = False
        i = len(q)
        while i > 0 and q[i - 1].priority < p:
            i -= 1
        q.insert(i, ev)
        self.pending += 1
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
            from zoo_micro.fifo import DROP_NEWEST, FIFO  # only nodes with threads pay for it

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
                    tries = 0
                    while self.room(ev.channel) <= 0 and tries < self.thread_wait_ms:
                        # The dispatcher makes room rather than a backlog being dropped (bounded wait).
                        await asyncio.sleep(0.001 if tries else 0)
                        tries += 1
                    self.put(ev)
                    moved = True
                    ev = inbox.pop_value()
            if not moved:
                await self._waker.wait()

    # Dispatching

    def _select(self, ev, hs):
        m = ev.response_mechanism
        if m == events.FIRST:
            return hs[:1]
        if m == events.BY_PRIORITY:
            return sorted(hs, key=lambda h: -h.priority)
        if m == events.NAMED:
            return [h for h in hs if h.name == ev.reactor_name]
        return hs

    async def run(self):
        """The dispatcher: drains the channels round-robin until cancelled."""
        self._loop_ident = get_ident()
        self._wake = asyncio.Event()
        queues = self._queues
        index = self._index
        coro = CORO
        everyone = events.ALL
        while True:
            if not self.pending:
                self._idle = True
                self._wake.clear()
                await self._wake.wait()
                continue
            for channel in self._order:
                q = queues[channel]
                idx = index.get(channel)
                budget = ROUND
                while q and budget:
                    budget -= 1
                    ev = q.pop(0)
                    self.pending -= 1
                    hs = None
                    if idx is not None:
                        hs = idx._cache.get(ev.topic) or idx.lookup(ev.topic)
                        if ev.response_mechanism != everyone:
                            hs = self._select(ev, hs)
                    if not hs:
                        self.no_subscriber += 1
                        continue
                    for h in hs:
                        try:
                            r = h.fn(ev)
                            if type(r) is coro:
                                await r
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:
                            self._failed(h, ev, exc, 1)
                        else:
                            self.delivered += 1
                            if h.callbacks:
                                self._succeeded(h, ev)
                idx = None
            await asyncio.sleep(0)  # one round done: let other tasks run during a burst

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
