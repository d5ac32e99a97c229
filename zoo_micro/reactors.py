# The rarer paths of delivering an event, loaded on first use: response mechanisms other than
# "all", success and done callbacks, failed handlers, retries and dead letters.
import asyncio

from zoo_micro import bus as _bus
from zoo_micro import log, port

DEAD_LETTER = "zoo.dead_letter"

# How an event picks its handlers (EventNode.set_response_mechanism).
FIRST = 1  # the first subscribed handler only
BY_PRIORITY = 2  # every handler, highest handler priority first
ALL = 3  # every handler, in subscription order (the default)
NAMED = 4  # only the handler with the name given to set_response_mechanism


class EventRetryStrategy:
    # The full framework's names, numbers and counts: how many tries a handler gets in all.
    RetryOnce = 0  # one try (the default)
    RetryAlways = 1  # tries until success (same as RetryForever)
    RetryNever = 2  # one try
    RetryForever = 3  # tries until success, backing off up to the cap
    RetryTimes = 4  # retry_time tries


RetryOnce = EventRetryStrategy.RetryOnce
RetryAlways = EventRetryStrategy.RetryAlways
RetryNever = EventRetryStrategy.RetryNever
RetryForever = EventRetryStrategy.RetryForever
RetryTimes = EventRetryStrategy.RetryTimes


def attempts_allowed(strategy, retry_time):
    """Total tries a handler gets; -1 means until success (EventRetryStrategy's numbers)."""
    if strategy in (0, 2):  # RetryOnce, RetryNever
        return 1
    if strategy == 4:  # RetryTimes; at least one, where the full framework would not call it at all
        return max(1, retry_time)
    if strategy in (1, 3):  # RetryAlways, RetryForever
        return -1
    raise ValueError("unknown retry strategy %r" % (strategy,))


class Handler:
    """A subscription with options; a plain subscription is just its function, which costs less.

    Options left at their default stay on the class."""

    attempts = 1  # RetryOnce
    done_callback = None
    error_callback = None
    success_callback = None
    priority = 0
    name = None

    def __init__(
        self,
        fn,
        retry_time=1,
        retry_strategy=0,  # RetryOnce
        done_callback=None,
        error_callback=None,
        success_callback=None,
        priority=0,
        name=None,
        timeout=None,  # the full framework's "slow reactor" bound; nothing here waits on a reactor
    ):
        self.fn = fn
        a = attempts_allowed(retry_strategy, retry_time)
        if a != 1:
            self.attempts = a
        if done_callback:
            self.done_callback = done_callback
        if error_callback:
            self.error_callback = error_callback
        if success_callback:
            self.success_callback = success_callback
        if priority:
            self.priority = priority
        if name:
            self.name = name

    def __call__(self, ev):
        return self.fn(ev)


class EventReactor(Handler):
    """The full framework's reactor object: EventReactor(name), its setters, then
    EventChannelManager().refresh_channel(channel, topic, reactor)."""

    fn = None

    def __init__(self, reactor_name):
        self.name = reactor_name

    reactor_name = property(lambda self: self.name)

    def set_event_callback(self, fn):
        self.fn = fn

    def set_retry_strategy(self, strategy, retry_times=0):
        self.attempts = attempts_allowed(strategy, retry_times)

    def set_error_callback(self, fn):
        self.error_callback = fn

    def set_success_callback(self, fn):
        self.success_callback = fn

    def set_done_callback(self, fn):
        self.done_callback = fn

    def set_event_timeout(self, timeout):
        pass  # nothing on a node waits on a reactor


def set_mechanism(ev, mechanism, reactor_name):
    if mechanism not in (FIRST, BY_PRIORITY, ALL, NAMED) or (mechanism == NAMED and not reactor_name):
        raise ValueError("response mechanism must be 1-3, or 4 with a reactor_name; got %r" % mechanism)
    ev.response_mechanism = mechanism
    ev._target = reactor_name


def reactor_name(ev):
    h = _bus.current  # the handler being called, set by the dispatcher
    return getattr(ev, "_target", None) if h is None else name_of(h)


def name_of(h):
    return getattr(h, "name", None) or getattr(getattr(h, "fn", h), "__name__", "handler")


def select(ev, hs):
    m = ev.response_mechanism
    if m == FIRST:
        return hs[:1]
    if m == BY_PRIORITY:
        return sorted(hs, key=lambda h: -getattr(h, "priority", 0))
    return [h for h in hs if name_of(h) == ev._target]


def _callback(cb, h, ev, *extra):
    if cb is not None:
        try:
            cb(name_of(h), ev.topic, ev.content, *extra)
        except Exception as e:
            log.error("handler %s: callback raised %r" % (name_of(h), e))


def succeeded(h, ev):
    _callback(h.success_callback, h, ev)
    _callback(h.done_callback, h, ev)


def failed(bus, h, ev, exc, attempt):
    bus.handler_errors += 1
    log.error("handler %s on %s failed (attempt %d): %r" % (name_of(h), ev.topic, attempt, exc))
    allowed = getattr(h, "attempts", 1)
    _callback(getattr(h, "error_callback", None), h, ev, exc)  # at every failed try, as the full framework
    if (allowed < 0 or attempt < allowed) and bus.retrying < bus.max_pending_retries:
        bus.retries += 1
        bus.retrying += 1
        asyncio.create_task(_retry(bus, h, ev, attempt + 1))
        return
    bus.dead_lettered += 1
    _callback(getattr(h, "done_callback", None), h, ev)
    if ev.topic != DEAD_LETTER:
        bus.publish(
            DEAD_LETTER, {"topic": ev.topic, "content": ev.content, "handler": name_of(h), "error": repr(exc)}
        )


async def _retry(bus, h, ev, attempt):
    delay = bus.retry_delay * (1 << min(attempt - 2, 16))
    await asyncio.sleep(min(delay, bus.retry_backoff_max))
    bus.retrying -= 1
    try:
        _bus.current = h
        r = h(ev)
        if type(r) is port.CORO:
            await r
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        try:
            failed(bus, h, ev, exc, attempt)
        except MemoryError:
            pass  # no heap to go on (counted as it began): end quietly, as an error would end the loop
    else:
        bus.delivered += 1
        if isinstance(h, Handler):
            succeeded(h, ev)
