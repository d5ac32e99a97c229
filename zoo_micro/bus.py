# Events (food) and the bus that carries them: bounded per-channel priority queues drained by one
# dispatcher task, and the topic patterns subscriptions use: "sensor.*" matches one segment
# ("sensor.t"), "sensor.#" any depth, including "sensor" itself. @event is in decorators.py;
# handlers with options (reactors, in the full framework's words) live in reactors.py.
# A queued event is a tuple, (topic, content) or (topic, content, priority), or (None, node,
# priority) for a prepared EventNode: the request handlers get is made only when it is delivered.
import asyncio

from zoo_micro import port
from zoo_micro.port import const

_ROUND = const(32)  # events taken from one channel before the next channel gets its turn
get_ident = port.ident
# Builtins the hot paths use, as module globals: found in one lookup instead of two.
len = len
str = str
type = type
current = None  # the handler being called: a request's reactor_name


def matches(pattern, topic):
    if pattern == topic:
        return True
    if "*" not in pattern and "#" not in pattern:
        return False
    p = pattern.split(".")
    t = topic.split(".")
    for i in range(len(p)):
        seg = p[i]
        if seg == "#":
            return True
        if i >= len(t) or seg != "*" and seg != t[i]:
            return False
    return len(p) == len(t)


class EventNode:
    """One event. Handlers receive it as their request: .topic .content .channel .priority."""

    # Defaults stay on the class: every instance attribute costs heap on each event.
    channel = "default"
    priority = 0
    response_mechanism = 3  # every handler; see set_response_mechanism

    def __init__(self, topic, content=None, channel_name="default", priority=0):
        self.topic = topic
        self.content = content
        if channel_name != "default":
            self.channel = channel_name
        if priority:
            self.priority = priority

    @property
    def channel_name(self):
        return self.channel

    @property
    def reactor_name(self):
        """The name of the handler (reactor) the request is delivered to; before delivery, the
        one set_response_mechanism(4, name) chose."""
        from zoo_micro.reactors import reactor_name

        return reactor_name(self)

    def set_response_mechanism(self, mechanism, reactor_name=None):
        """Which handlers get this event, numbered as in the full framework: 1 the first subscribed,
        2 all by handler priority (highest first), 3 all in subscription order (the default),
        4 only the one named reactor_name."""
        from zoo_micro.reactors import set_mechanism

        set_mechanism(self, mechanism, reactor_name)


def _scrub(*args):
    pass


class Bus:
    # Counters start on the class: one becomes the instance's own at its first change, so a node
    # that never retries or drops keeps a smaller instance.
    taken = delivered = dropped = no_subscriber = retrying = retries = dead_lettered = handler_errors = 0
    inbox = None  # publishes from threads and interrupts, once threads.arm() made it
    _loop_ident = None
    _wake = None
    _idle = False  # the dispatcher is waiting for _wake

    def __init__(self, queue_size, retry_delay, retry_backoff_max, max_pending_retries):
        self.queue_size = queue_size
        self.retry_delay = retry_delay
        self.retry_backoff_max = retry_backoff_max
        self.max_pending_retries = max_pending_retries
        self._index = {}  # channel -> [[(topic, handler), ...] in subscription order, {topic: handlers}]
        self._queues = {}  # channel -> list of queued events, highest priority first, FIFO within one
        self._order = []  # channels in creation order, drained round-robin
        self._cb = []  # handlers with success or done callbacks

    # Subscriptions: a list per channel, resolved per topic once and cached.

    def subscribe(self, topic, handler, channel="default"):
        idx = self._index.get(channel)
        if idx is None:
            idx = self._index[channel] = [[], {}]
        idx[0].append((topic, handler))
        idx[1].clear()
        if getattr(handler, "success_callback", None) or getattr(handler, "done_callback", None):
            self._cb.append(handler)
        return handler

    def unsubscribe(self, handler):
        for idx in self._index.values():
            for s in idx[0]:
                if s[1] is handler:
                    idx[0].remove(s)
                    idx[1].clear()
                    return

    # Counted from the queues, not on each publish: a publish is cheaper by two counters.
    @property
    def pending(self):
        """Events queued now, on every channel."""
        n = 0
        for q in self._queues.values():
            n += len(q)
        return n

    def room(self, channel="default"):
        """Events that channel's queue takes now before it starts dropping."""
        q = self._queues.get(channel)
        return self.queue_size - (len(q) if q else 0)

    # Publishing

    def publish(self, topic, content=None, channel="default", priority=0):
        # At most 11 words of locals and stack: a bigger frame is allocated on the heap per call.
        if (
            priority
            or type(topic) is not str
            or not topic
            or get_ident() != self._loop_ident  # off the loop's thread, or no loop running
        ):
            return self._publish(topic, content, channel, priority)
        priority = self._queues.get(channel)  # the channel's queue, in the parameter's slot (see above)
        if priority is None or len(priority) >= self.queue_size or (priority and len(priority[-1]) > 2):
            return self._put(channel, (topic, content), 0)
        priority.append((topic, content))  # the common case: room, and a tail of priority 0
        if self._idle:
            self._idle = False
            self._wake.set()
        return True

    def _publish(self, topic, content, channel, priority):
        # topic EventNode: content is a prepared EventNode (emit).
        t = content.topic if topic is EventNode else topic
        if type(t) is not str or not t:
            raise ValueError("event topic must be a non-empty string, got %r" % (t,))
        if topic is EventNode:
            e = (None, content, priority)
        else:
            e = (topic, content, priority) if priority else (topic, content)
        if self._loop_ident is not None and get_ident() != self._loop_ident:
            inbox = self.inbox  # once: a stop may clear it meanwhile
            if inbox is not None:  # no import here: sys.modules may be growing on the loop
                return inbox.push((channel, e))
            from zoo_micro.threads import push  # says what is missing

            return push(self, channel, e)
        return self._put(channel, e, priority)

    def emit(self, event):
        return self._publish(EventNode, event, event.channel, event.priority)

    def _put(self, channel, e, priority):
        """Queue on the loop's thread; False when it (or a lower-priority one) was dropped."""
        q = self._queues.get(channel)
        if q is None:
            q = self._queues[channel] = []
            self._order.append(channel)
        if self._idle:
            self._idle = False
            self._wake.set()
        n = len(q)
        # A 2-tuple has priority 0, so the common case needs no priority lookup.
        if n < self.queue_size and (not n or (priority <= 0 if len(q[-1]) == 2 else priority <= q[-1][2])):
            q.append(e)  # room, and no higher priority than the tail
            return True
        ok = n < self.queue_size
        if not ok:
            # Full: the lowest-priority, newest event makes room, unless that is the new one.
            self.dropped += 1
            if (q[-1][2] if len(q[-1]) > 2 else 0) >= priority:
                return False
            q.pop()
            n -= 1
        while n and (q[n - 1][2] if len(q[n - 1]) > 2 else 0) < priority:
            n -= 1
        q.insert(n, e)
        return ok

    # Dispatching

    async def run(self):
        """The dispatcher: drains the channels round-robin until cancelled."""
        global current
        self._loop_ident = get_ident()
        self._wake = wake = asyncio.Event()
        queues = self._queues
        index = self._index
        coro = port.CORO
        cb = self._cb
        new = object.__new__
        node = EventNode
        while True:
            try:
                for q in queues.values():
                    if q:
                        break
                else:
                    # The last event must not stay alive while the bus is idle: clear the locals,
                    # and the frame's stack slots (the GC scans them all) by calling with Nones.
                    e = ev = r = current = None
                    _scrub(None, None, None, None, None, None, None)
                    self._idle = True
                    wake.clear()
                    await wake.wait()
                    continue
            except MemoryError:  # no heap for the idle check (a dict view, a frame) or the wait
                port.collect()
                await port.pause_ms(10)
                continue
            for ch in self._order:
                q = queues[ch]
                idx = index.get(ch)
                subs = idx[0] if idx else ()
                cache = idx[1] if idx else {}
                named = ch != "default"
                budget = _ROUND
                delivered = 0
                try:
                    while q and budget:
                        budget -= 1
                        e = q.pop(0)
                        t = e[0]
                        if t is None:
                            ev = e[1]
                            t = ev.topic
                        else:
                            ev = None
                        hs = cache.get(t)
                        if hs is None:
                            hs = []
                            for s in subs:
                                if matches(s[0], t):
                                    hs.append(s[1])
                            hs = tuple(hs)
                            if len(cache) >= 64:
                                cache.clear()  # bounded: many topics are resolved again, not kept
                            cache[t] = hs
                        if not hs:
                            self.no_subscriber += 1
                            continue
                        if ev is None:
                            # The request handlers get, made without calling __init__ (half the cost).
                            ev = new(node)
                            ev.topic = t
                            ev.content = e[1]
                            if named:
                                ev.channel = ch
                            if len(e) > 2:
                                ev.priority = e[2]
                        elif ev.response_mechanism != 3:  # not "every handler": reactors.select
                            from zoo_micro import reactors

                            hs = reactors.select(ev, hs)
                        for h in hs:
                            try:
                                current = h
                                r = h(ev)
                                if type(r) is coro:
                                    await r
                            except asyncio.CancelledError:
                                raise
                            except Exception as exc:
                                try:
                                    from zoo_micro import reactors  # loaded with the first failure

                                    reactors.failed(self, h, ev, exc, 1)
                                except MemoryError:
                                    # On a full heap even handling the failure may not fit: count
                                    # it, and the bus lives on.
                                    self.handler_errors += 1
                            else:
                                delivered += 1
                                if cb and h in cb:
                                    from zoo_micro import reactors

                                    reactors.succeeded(h, ev)
                except MemoryError:
                    # No heap for the request object or a handler lookup: that event is lost and
                    # counted as dropped; the dispatcher lives on and looks again shortly.
                    self.dropped += 1
                    e = ev = r = current = None
                    port.collect()
                    await port.pause_ms(10)
                finally:
                    # Counted once per round, not per event: the loop's own cost is per event.
                    self.taken += _ROUND - budget
                    self.delivered += delivered
            await asyncio.sleep(0)  # one round done: let other tasks run during a burst

    def dropped_total(self):
        return self.dropped + (self.inbox.dropped() if self.inbox is not None else 0)
