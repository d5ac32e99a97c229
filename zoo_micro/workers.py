# Workers (animals): the base class, one run and its book-keeping, and the one task that runs them.
import asyncio

from zoo_micro import log, port
from zoo_micro.port import const

# A worker's bookkeeping is one list the Master attaches as w._zoo, never a name an app may use:
# [status, runs, errors, restarts, consecutive fails, total/last/longest run time (us),
#  ticks_ms of the current run's start or None, ticks_ms of the next run or None (while it runs,
#  once it ended, and for thread workers), recent error rate in per mille, _on_create has run].
# Statuses: created, running, backoff, done, failed, stopped, stuck.
_STATUS = const(0)
_RUNS = const(1)
_ERRORS = const(2)
_RESTARTS = const(3)
_FAILS = const(4)
_TIME_US = const(5)
_LAST_US = const(6)
_MAX_US = const(7)
_STARTED = const(8)
_DUE = const(9)
_RECENT = const(10)
_HATCHED = const(11)


def _nothing(self, *args):
    pass


class BaseWorker:
    """Subclass it and override _execute (plain or async def).

    props: name, is_loop (False: one run), delay_time (seconds between runs, 1.0), run_timeout (seconds,
    None = none), mode ("async" or "thread"), restart ("on_error", "always", "never"),
    max_restarts (consecutive failed restarts before the worker is marked failed; None = no limit).
    Settings left at their default live on the class, to keep each instance small. Hooks take
    the full framework's arguments; after a failed run, self._zoo_error is its exception.
    """

    is_loop = False
    delay_time = 1.0
    run_timeout = None
    mode = "async"
    restart = "on_error"
    max_restarts = None

    registry_name = property(lambda self: self.name)  # the full framework's name for it

    def __init__(self, props=None):
        props = props or {}
        if getattr(self, "state", None) is None:  # register_worker applies its props a second time
            self.state = {}  # the worker's own, as in the full framework
        self.name = props.get("name") or type(self).__name__
        for key in props:
            if key != "name":
                if key not in ("is_loop", "delay_time", "run_timeout", "mode", "restart", "max_restarts"):
                    raise ValueError("worker %s: unknown prop %r" % (self.name, key))
                setattr(self, key, props[key])
        if self.mode not in ("async", "thread") or self.restart not in ("on_error", "always", "never"):
            raise ValueError(
                "worker %s: mode must be async or thread and restart on_error, always or never; got %r, %r"
                % (self.name, self.mode, self.restart)
            )
        if self.delay_time < 0 or (self.run_timeout or 0) < 0:
            raise ValueError("worker %s: delay_time and run_timeout must not be negative" % self.name)

    def _execute(self):
        raise NotImplementedError("worker %s must override _execute()" % self.name)

    # Hooks, as the full framework calls them: _on_error(), _on_done(), _destroy_result(result)
    # after a successful run, _destroy(None) at stop. One shared no-op until a subclass overrides.
    _on_create = _on_error = _on_done = _destroy = _destroy_result = _nothing


def finish(master, worker, t, exc, value):
    """Book-keeping after one run; seconds until the next run, or None when the worker ends."""
    r = worker._zoo
    name = worker.name
    what = "book-keeping"
    try:
        t = port.ticks_diff(port.ticks_us(), t)
        r[_RUNS] += 1
        r[_TIME_US] += t
        r[_LAST_US] = t
        r[_MAX_US] = max(t, r[_MAX_US])
        r[_STARTED] = None
        r[_RECENT] = (r[_RECENT] * 3 + (1000 if exc else 0)) >> 2
        if exc:
            r[_ERRORS] += 1
            r[_FAILS] += 1
            over = isinstance(exc, asyncio.TimeoutError)
            log.error("worker %s: %s" % (name, "run over run_timeout" if over else repr(exc)))
            what = "_on_error"
            worker._zoo_error = exc
            worker._on_error()
        else:
            r[_FAILS] = 0
            what = "_destroy_result"
            worker._destroy_result(value)
            if value is not None:  # workers made with count > 1 share their class's result topic
                master.publish(name.split(":")[0] + "_result", value)
        if master._results:  # an app listens on the full framework's result topic
            from zoo_micro.results import publish

            publish(master, worker, value, exc)
        what = "_on_done"
        worker._on_done()
    except Exception as e:
        # A hook's error, or even book-keeping's (a MemoryError on a full heap): the worker lives on.
        try:
            log.error("worker %s: %s raised %r" % (name, what, e))
        except MemoryError:
            pass  # no heap even to say so
        if what == "book-keeping":
            port.collect()
        elif what != "_on_done":  # _on_error or _destroy_result raised: _on_done still runs
            try:
                worker._on_done()
            except Exception as e2:  # a name of its own: MicroPython unbinds e at the inner end
                log.error("worker %s: %s raised %r" % (name, "_on_done", e2))
    # The restart policy.
    if not exc:
        if not (worker.is_loop or worker.restart == "always"):
            r[_STATUS] = "done"
            return None
        r[_STATUS] = "running"
        delay = worker.delay_time
    elif worker.restart == "never" or (worker.max_restarts is not None and r[_FAILS] > worker.max_restarts):
        r[_STATUS] = "failed"
        log.error("worker %s failed after %d restarts" % (name, r[_RESTARTS]))
        master.publish("zoo.worker.failed", {"worker": name, "restarts": r[_RESTARTS], "errors": r[_ERRORS]})
        return None
    else:
        r[_RESTARTS] += 1
        r[_STATUS] = "backoff"
        delay = min(max(worker.delay_time, 0.1) * (1 << min(r[_FAILS] - 1, 16)), master.config["backoff_max"])
    if worker.mode != "thread":
        r[_DUE] = port.ticks_add(port.ticks_ms(), int(delay * 1000))
    return delay


def run_once(master, worker, thread=False):
    """Start one run. A plain run ends here (its delay is returned); a coroutine's run goes on in
    a task of its own, which books the result (None is returned)."""
    r = worker._zoo
    r[_STATUS] = "running"
    r[_STARTED] = port.ticks_ms()
    r[_DUE] = None
    t = port.ticks_us()
    exc = value = None
    try:
        if not r[_HATCHED]:
            value = worker._on_create()
            if type(value) is port.CORO and not thread:
                master._runs.append(asyncio.create_task(_run_async(master, worker, t, value, False)))
                return None
            r[_HATCHED] = True
        value = worker._execute()
        if type(value) is port.CORO:
            if thread:
                value.close()
                raise TypeError("thread worker %s: _execute must be a plain def, not async" % worker.name)
            master._runs.append(asyncio.create_task(_run_async(master, worker, t, value, True)))
            return None
        if worker.run_timeout and port.ticks_diff(port.ticks_us(), t) > worker.run_timeout * 1000000:
            # A plain _execute cannot be interrupted; its overrun is reported when it returns.
            raise asyncio.TimeoutError()
    except Exception as e:
        exc = e
        value = None
    return finish(master, worker, t, exc, value)


async def _run_async(master, worker, t, value, created):
    # value: the coroutine of _execute, or of _on_create when created is False.
    exc = None
    try:
        if not created:
            await value
            worker._zoo[_HATCHED] = True
            value = worker._execute()
        if type(value) is port.CORO:
            value = await (asyncio.wait_for(value, worker.run_timeout) if worker.run_timeout else value)
    except asyncio.CancelledError:
        raise
    except Exception as e:
        exc = e
        value = None
    try:
        finish(master, worker, t, exc, value)
    except MemoryError:
        # No heap even to book the run (a task that ends on an error takes the loop with it when
        # the heap is full): the worker runs again shortly.
        port.collect()
        worker._zoo[_DUE] = port.ticks_add(port.ticks_ms(), 100)
    runs = master._runs
    t = asyncio.current_task()
    if t in runs:
        runs.remove(t)
    master._wake.set()


async def _alarm(timeout, event):
    await port.pause_ms(timeout)
    event.set()


async def supervise(master):
    """The one task that runs every async-mode worker when it is due: a plain run happens here, a
    coroutine gets a task only while it runs, so a sleeping worker costs no task at all."""
    wake = master._wake
    alarm = None  # (ticks, task) of the pending wake-up
    while True:
        wake.clear()
        now = port.ticks_ms()
        nxt = None
        for worker in master.workers:
            r = worker._zoo
            due = r[_DUE]
            if due is None:
                continue
            if port.ticks_diff(due, now) <= 0:
                try:
                    run_once(master, worker)
                except MemoryError:  # a full heap: this worker tries again shortly, the others go on
                    port.collect()
                    r[_DUE] = port.ticks_add(now, 100)
                due = r[_DUE]
                if due is None:
                    continue
                now = port.ticks_ms()
            d = port.ticks_diff(due, now)
            if nxt is None or d < nxt:
                nxt = d
        if nxt is not None and nxt <= 0:
            await asyncio.sleep(0)  # a worker is due again at once: let the loop turn first
            continue
        if nxt is not None:
            at = port.ticks_add(now, nxt)
            if alarm is None or port.ticks_diff(alarm[0], at) > 0 or alarm[1].done():
                if alarm is not None:
                    alarm[1].cancel()
                    if alarm[1] in master._runs:
                        master._runs.remove(alarm[1])
                    alarm = None
                try:
                    alarm = (at, asyncio.create_task(_alarm(nxt, wake)))
                    master._runs.append(alarm[1])  # cancelled with the runs at stop
                except MemoryError:  # no heap for the alarm: look again shortly, without one
                    port.collect()
                    await port.pause_ms(10)
                    continue
        try:
            await wake.wait()
        except MemoryError:  # no heap even for the wait: look again shortly
            port.collect()
            await port.pause_ms(10)
