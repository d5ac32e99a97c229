# Helpers for runtime tests; MicroPython subset, like the code under test.
import asyncio

from zoo_micro import BaseWorker, port


class Counter(BaseWorker):
    """A worker that counts its runs in `n`; it loops unless told otherwise."""

    is_loop = True

    def __init__(self, props=None):
        super().__init__(props)
        self.n = 0

    def _execute(self):
        self.n += 1


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception it raised; fail if it raised nothing or something else."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("expected %s from %r" % (exc_type.__name__, fn))


def no_heap(fn, times, when=None):
    """fn, except that its next `times` calls (those `when(*args)` picks) raise MemoryError, as on
    a full heap. Returns the stand-in and [calls still to fail]."""
    left = [times]

    def stand_in(*args):
        if left[0] and (when is None or when(*args)):
            left[0] -= 1
            raise MemoryError
        return fn(*args)

    return stand_in, left


async def wait_until(cond, timeout=5.0, step=0.005):
    """Await until cond() is true; fail after `timeout` seconds."""
    deadline = port.ticks_add(port.ticks_ms(), int(timeout * 1000))
    while not cond():
        if port.ticks_diff(deadline, port.ticks_ms()) <= 0:
            raise AssertionError("condition not met within %ss" % timeout)
        await asyncio.sleep(step)


class Quiet:
    """Silences zoo log lines inside `with Quiet():` (tests that provoke errors on purpose)."""

    def __enter__(self):
        from zoo_micro import log

        self._was = log.quiet
        log.quiet = True
        return self

    def __exit__(self, *exc):
        from zoo_micro import log

        log.quiet = self._was


def st(m, w):
    """A worker's bookkeeping as the Master reports it: status, runs, errors, restarts, fails."""
    return m.stats()["workers"][w.name]
