# Events (food), their handlers (reactors, in the full framework's words) and the @event decorator.

# How an event picks its handlers, numbered as in the full framework.
FIRST = 1  # the first subscribed handler only
BY_PRIORITY = 2  # every handler, highest handler priority first
ALL = 3  # every handler, in subscription order (the default)
NAMED = 4  # only the handler whose name is event.reactor_name


class EventRetryStrategy:
    # Same names and numbers as the full framework; here each does what its name says.
    # zoo_micro also exports each by itself (`from zoo_micro import RetryOnce`).
    RetryOnce = 0  # one more attempt
    RetryAlways = 1  # attempts until success (same as RetryForever)
    RetryNever = 2  # no second attempt
    RetryForever = 3  # attempts until success, backing off up to the cap
    RetryTimes = 4  # retry_time more attempts


class EventNode:
    """One event. Handlers receive it as their request: .topic .content .channel .priority."""

    # Defaults stay on the class: every instance attribute costs heap on each event.
    channel = "default"
    priority = 0
    response_mechanism = ALL
    reactor_name = None

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

    def set_response_mechanism(self, mechanism, reactor_name=None):
        if mechanism not in (FIRST, BY_PRIORITY, ALL, NAMED) or (mechanism == NAMED and not reactor_name):
            raise ValueError(
                "response mechanism must be 1, 2, 3 or 4 (4 with a reactor_name), got %r" % mechanism
            )
        self.response_mechanism = mechanism
        self.reactor_name = reactor_name


def handler(fn, options):
    """What the bus stores for fn: fn itself, or a Handler when options are given."""
    if not callable(fn):
        raise TypeError("event handler must be callable, got %r" % (fn,))
    if options:
        from zoo_micro.reactors import Handler

        return Handler(fn, **options)
    return fn


# (topic, channel, handler) declared with @event; every Master created afterwards subscribes them.
default_handlers = []


def event(topic, channel="default", **options):
    """Subscribe a function (plain or async) to `topic` on every Master created afterwards.

    Options: retry_time, retry_strategy, done_callback, error_callback, success_callback, priority."""

    def register(fn):
        default_handlers.append((topic, channel, handler(fn, options)))
        return fn

    return register
