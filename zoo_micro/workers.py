# Workers (animals): the base class, the @worker registry and the runners that supervise them.
import asyncio

from zoo_micro import log, port

MODES = ("async", "thread")
RESTARTS = ("on_error", "always", "never")

# Statuses a worker moves through.
CREATED = "created"
RUNNING = "running"
BACKOFF = "backoff"
DONE = "done"
FAILED = "failed"
STOPPED = "stopped"
STUCK = "stuck"


class BaseWorker:
    """Subclass it and override _execute (plain or async def).

    props: name, is_loop (True), delay_time (seconds between runs, 1.0), run_timeout (seconds,
    0 = none), mode ("async" or "thread"), restart ("on_error", "always", "never"),
    max_restarts (consecutive failed restarts before the worker is marked failed; None = no limit).
    Settings left at their default live on the class, to keep each instance small.
    """

    is_loop = True
    delay_time = 1.0
    run_timeout = 0
    mode = "async"
    restart = "on_error"
    max_restarts = None
    # Counters start on the class too: an instance only grows the ones that move.
    status = CREATED
    runs = 0
    errors = 0
    restarts = 0
    fails = 0  # consecutive failures; a successful run resets it
    time_us = 0  # total, last and longest run time
    last_us = 0
    max_us = 0
    started = None  # ticks_ms when the current run began, else None
    finished = None  # ticks_ms when the last run ended

    def __init__(self, props=None):
        props = props or {}
        self.name = props.get("name") or type(self).__name__
        for key in props:
            if key == "name":
                continue
            if key not in ("is_loop", "delay_time", "run_timeout", "mode", "restart", "max_restarts"):
                raise ValueError("worker %s: unknown prop %r" % (self.name, key))
            setattr(self, key, props[key])
        if self.mode not in MODES:
            raise ValueError("worker %s: mode must be 'async' or 'thread', got %r" % (self.name, self.mode))
        if self.restart not in RESTARTS:
            raise ValueError(
                "worker %s: restart must be 'on_error', 'always' or 'never', got %r"
                % (self.name, self.restart)
            )
        if self.delay_time < 0 or self.run_timeout < 0:
            raise ValueError("worker %s: delay_time and run_timeout must not be negative" % self.name)

    # Hooks, named as in the full framework.
    def _on_create(self):
        pass

    def _execute(self):
        raise NotImplementedError("worker %s must override _execute()" % self.name)

    def _on_error(self, exc):
        pass

    def _on_done(self):
        pass

    def _destroy(self):
        pass

    @property
    def result_topic(self):
        return self.name.split(":")[0] + "_result"

    def __repr__(self):
        return "<%s %s %s>" % (type(self).__name__, self.name, self.status)


# Classes registered with @worker; every Master created afterwards instantiates them.
default_registry = []


def worker(count=1, **props):
    """Class decorator: register the worker class with every Master created afterwards.

    Extra keyword arguments become the workers' props. The class itself is returned unchanged.
    """

    def register(cls):
        if not (isinstance(cls, type) and issubclass(cls, BaseWorker)):
            raise TypeError("@worker decorates BaseWorker subclasses, got %r" % (cls,))
        default_registry.append((props.get("name") or cls.__name__, cls, count, props))
        return cls

    return register


def next_delay(w, ok, backoff_max):
    """Apply the restart policy after a run; seconds to wait, or None when the worker ends."""
    if ok:
        if w.fails:
            w.fails = 0
        if w.is_loop or w.restart == "always":
            return w.delay_time
        w.status = DONE
        return None
    w.fails += 1
    if w.restart == "never" or (w.max_restarts is not None and w.fails > w.max_restarts):
        w.status = FAILED
        return None
    w.restarts += 1
    w.status = BACKOFF
    delay = max(w.delay_time, 0.1) * (1 << min(w.fails - 1, 16))
    return delay if delay < backoff_max else backoff_max


def _finish_run(master, w, t0_us, exc, r):
    """Book-keeping after one run; returns seconds until the next run, or None when it ends."""
    took = port.ticks_diff(port.ticks_us(), t0_us)
    w.runs += 1
    w.time_us += took
    w.last_us = took
    if took > w.max_us:
        w.max_us = took
    w.started = None
    w.finished = port.ticks_ms()
    if exc is not None:
        w.errors += 1
        if isinstance(exc, asyncio.TimeoutError):
            log.warn("worker %s: run exceeded run_timeout %ss" % (w.name, w.run_timeout))
        else:
            log.error("worker %s: %r" % (w.name, exc))
        try:
            w._on_error(exc)
        except Exception as e:
            log.error("worker %s: _on_error raised %r" % (w.name, e))
    elif r is not None:
        master.publish(w.result_topic, r)
    try:
        w._on_done()
    except Exception as e:
        log.error("worker %s: _on_done raised %r" % (w.name, e))
    delay = next_delay(w, exc is None, master.config["backoff_max"])
    if delay is None and w.status == FAILED:
        master._worker_failed(w)
    return delay


def _finish_safely(master, w, t0, exc, r):
    # Even book-keeping can fail (a MemoryError on a full heap): the worker must live on.
    try:
        return _finish_run(master, w, t0, exc, r)
    except Exception as e:
        port.collect()
        log.error("worker %s: %r after its run" % (w.name, e))
        return max(w.delay_time, 0.1)


async def run_async(master, w):
    """Drive one async-mode worker until it ends or the task is cancelled."""
    created = False
    try:
        while True:
            w.status = RUNNING
            w.started = port.ticks_ms()
            t0 = port.ticks_us()
            exc = None
            try:
                if not created:
                    r = w._on_create()
                    if port.is_coro(r):
                        await r
                    created = True
                r = w._execute()
                if port.is_coro(r):
                    if w.run_timeout:
                        r = await asyncio.wait_for(r, w.run_timeout)
                    else:
                        r = await r
                elif w.run_timeout and port.ticks_diff(port.ticks_us(), t0) > w.run_timeout * 1000000:
                    # A plain _execute cannot be interrupted; its overrun is reported when it returns.
                    raise asyncio.TimeoutError()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                exc = e
                r = None
            delay = _finish_safely(master, w, t0, exc, r)
            if delay is None:
                break
            await asyncio.sleep(delay)
    except asyncio.CancelledError:
        w.status = STOPPED
        raise


def run_thread(master, w):
    """Body of a thread-mode worker's _thread; stops when master._stopping is set."""
    created = False
    try:
        while not master._stopping:
            w.status = RUNNING
            w.started = port.ticks_ms()
            t0 = port.ticks_us()
            exc = None
            try:
                if not created:
                    w._on_create()
                    created = True
                r = w._execute()
                if port.is_coro(r):
                    r.close()
                    raise TypeError("thread worker %s: _execute must be a plain def, not async" % w.name)
            except Exception as e:
                exc = e
                r = None
            delay = _finish_safely(master, w, t0, exc, r)
            if delay is None:
                break
            # Sleep in slices so shutdown is noticed quickly.
            left = int(delay * 1000)
            while left > 0 and not master._stopping:
                step = left if left < 20 else 20
                port.sleep_ms(step)
                left -= step
    finally:
        if w.status not in (DONE, FAILED):
            w.status = STOPPED
        master._thread_exited(w)
