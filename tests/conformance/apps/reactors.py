# Reactors with retry strategies and callbacks, declared with @event as zoo-framework's README
# does; a one-shot worker publishes one event to each.
from keeper import note, notes, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.reactor.event_retry_strategy import EventRetryStrategy
from zoo_framework.workers import BaseWorker

# ---

tries = {}


def attempt(req, failures):
    """Count a try of req's reactor; raise for the first `failures` tries."""
    n = tries.get(req.reactor_name, 0) + 1
    tries[req.reactor_name] = n
    note(req.reactor_name, "try", n, "topic", req.topic, "content", req.content)
    if n <= failures:
        raise RuntimeError("try %d failed" % n)


def on_error(reactor_name, topic, content, exc):
    note(reactor_name, "error_callback", topic, content, exc)


def on_success(reactor_name, topic, content):
    note(reactor_name, "success_callback", topic, content)


def on_done(reactor_name, topic, content):
    note(reactor_name, "done_callback", topic, content)


CALLBACKS = {"error_callback": on_error, "success_callback": on_success, "done_callback": on_done}


@event("order.plain")
def plain(req):
    attempt(req, 0)


@event("order.once", **CALLBACKS)
def once_failing(req):
    attempt(req, 5)


@event("order.never", retry_strategy=EventRetryStrategy.RetryNever, **CALLBACKS)
def never_failing(req):
    attempt(req, 5)


@event("order.times", retry_strategy=EventRetryStrategy.RetryTimes, retry_time=3, **CALLBACKS)
def times_recovering(req):
    attempt(req, 2)


@event("order.times_out", retry_strategy=EventRetryStrategy.RetryTimes, retry_time=2, **CALLBACKS)
def times_exhausted(req):
    attempt(req, 5)


@event("order.zero", retry_strategy=EventRetryStrategy.RetryTimes, retry_time=0, **CALLBACKS)
def times_zero(req):
    attempt(req, 0)


@event("order.forever", retry_strategy=EventRetryStrategy.RetryForever, **CALLBACKS)
def forever_recovering(req):
    attempt(req, 3)


TOPICS = ("order.plain", "order.once", "order.never", "order.times", "order.times_out", "order.forever")
TOPICS += ("order.zero",)


class Orders(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Orders"})

    def _execute(self):
        channel = EventChannelManager.get_channel("default")
        for i, topic in enumerate(TOPICS):
            channel.push_event(EventNode(topic, {"order": i}, channel_name="default"))


def settled():
    if not seen("plain"):
        return False
    for name in (
        "once_failing",
        "never_failing",
        "times_recovering",
        "times_exhausted",
        "forever_recovering",
        "times_zero",
    ):
        if not notes.get(name) or not notes[name][-1].startswith("done_callback"):
            return False
    return True


master = Master()
master.register_worker("Orders", Orders)
until(master, settled)
master.run()
report()
