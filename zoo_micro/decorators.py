# @worker and @event: classes and handlers an app declares once, for every Master made afterwards
# (and, for @event, the Master made last).
# Loaded only by apps that use them; a Master takes what they declared when it is made.
from zoo_micro.workers import BaseWorker

workers = []  # (name, class, count, props) declared with @worker
handlers = []  # (topic, channel, function, options) declared with @event


def worker(count=1, **props):
    """Class decorator: register the worker class with every Master created afterwards.

    Extra keyword arguments become the workers' props. The class itself is returned unchanged.
    """

    def register(cls):
        if not (isinstance(cls, type) and issubclass(cls, BaseWorker)):
            raise TypeError("@worker decorates BaseWorker subclasses, got %r" % (cls,))
        workers.append((props.get("name") or cls.__name__, cls, count, props))
        return cls

    return register


def event(topic, channel="default", **options):
    """Subscribe a function (plain or async) to `topic` on every Master created afterwards, and on
    the one made last if there is one (the full framework registers a reactor at once).

    Options: retry_time, retry_strategy, done_callback, error_callback, success_callback, priority,
    timeout."""

    def register(fn):
        from zoo_micro.master import Master

        handlers.append((topic, channel, fn, options))
        if Master.current is not None:
            Master.current.subscribe(topic, fn, channel, **options)
        return fn

    return register
