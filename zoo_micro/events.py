# Events (food), their handlers and the @event decorator.
from zoo_micro import port

# How an event picks its handlers, numbered as in the full framework.
FIRST = 1  # the first subscribed handler only
BY_PRIORITY = 2  # every handler, highest handler priority first
ALL = 3  # every handler, in subscription order (the default)
NAMED = 4  # only the handler whose name is event.reactor_name


class EventRetryStrategy:
    # Same names and numbers as the full framework; here each does what its name says.
    RetryOnce = 0  # one more attempt
    RetryAlways = 1  # attempts until success (same as RetryForever)
    RetryNever = 2  # no second attempt
    RetryForever = 3  # attempts until success, backing off up to the cap
    RetryTimes = 4  # retry_time more attempts


RetryOnce = EventRetryStrategy.RetryOnce
RetryAlways = EventRetryStrategy.RetryAlways
RetryNever = EventRetryStrategy.RetryNever
RetryForever = EventRetryStrategy.RetryForever
RetryTimes = EventRetryStrategy.RetryTimes

_next_id = 0
ticks_ms = port.ticks_ms


class EventNode:
    """One event. Handlers receive it as their request: .topic .content .channel .request_id
    .request_time .priority."""

    def __init__(self, topic, content=None, channel_name="default", priority=0):
        global _next_id
        if type(topic) is not str or not topic:
            raise ValueError("event topic must be a non-empty string, got %r" % (topic,))
        self.topic = topic
        self.content = content
        # Every attribute grows the instance (and makes garbage): defaults stay on the class.
        if channel_name != "default":
            self.channel = channel_name
        if priority:
            self.priority = priority
        _next_id += 1
        self.request_id = _next_id
        self.request_time = ticks_ms()

    channel = "default"
    priority = 0
    response_mechanism = ALL
    reactor_name = None

    @property
    def channel_name(self):
        return self.channel

    def set_response_mechanism(self, mechanism, reactor_name=None):
        if mechanism not in (FIRST, BY_PRIORITY, ALL, NAMED):
            raise ValueError("response mechanism must be 1, 2, 3 or 4, got %r" % (mechanism,))
        if mechanism == NAMED and not reactor_name:
            raise ValueError("response mechanism 4 needs a reactor_name")
        self.response_mechanism = mechanism
        self.reactor_name = reactor_name

    def __repr__(self):
        return "EventNode(%r, %r, channel=%r, priority=%r)" % (
            self.topic,
            self.content,
            self.channel,
            self.priority,
        )


def attempts_allowed(strategy, retry_time):
    """Total attempts a handler gets; -1 means until success."""
    if strategy == RetryNever:
        return 1
    if strategy == RetryOnce:
        return 2
    if strategy == RetryTimes:
        return 1 + max(0, retry_time)
    if strategy in (RetryForever, RetryAlways):
        return -1
    raise ValueError("unknown retry strategy %r" % (strategy,))


class Handler:
    """A subscribed function (a reactor, in the full framework's words)."""

    def __init__(
        self,
        fn,
        topic,
        channel="default",
        retry_time=1,
        retry_strategy=RetryOnce,
        done_callback=None,
        error_callback=None,
        success_callback=None,
        priority=0,
        name=None,
    ):
        if not callable(fn):
            raise TypeError("event handler must be callable, got %r" % (fn,))
        self.fn = fn
        self.topic = topic
        self.channel = channel
        self.attempts = attempts_allowed(retry_strategy, retry_time)
        self.done_callback = done_callback
        self.error_callback = error_callback
        self.success_callback = success_callback
        self.callbacks = success_callback is not None or done_callback is not None
        self.priority = priority
        self.name = name or getattr(fn, "__name__", "handler")


# Handlers declared with @event at import time; every Master created afterwards subscribes them.
default_handlers = []


def event(
    topic,
    channel="default",
    retry_time=1,
    retry_strategy=RetryOnce,
    done_callback=None,
    error_callback=None,
    success_callback=None,
    priority=0,
):
    """Subscribe a function (plain or async) to `topic` on every Master created afterwards."""

    def register(fn):
        default_handlers.append(
            Handler(
                fn,
                topic,
                channel,
                retry_time,
                retry_strategy,
                done_callback,
                error_callback,
                success_callback,
                priority,
            )
        )
        return fn

    return register
