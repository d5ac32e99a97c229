# Cages: one lock that _thread workers and asyncio tasks can both hold.
import asyncio

from zoo_micro import port


class Cage:
    """`with cage:` from threads, `async with cage:` from tasks; tasks never block the loop.

    Re-entrant for its holder (a thread, or a task), so a caged method may call another. A task
    that finds the cage taken yields to the loop and tries again, so a thread holding it cannot
    freeze every other task.
    """

    def __init__(self):
        self._lock = port.allocate_lock()
        self._owner = None  # thread ident (sync holder) or task (async holder)
        self._owner_thread = None
        self._depth = 0

    def locked(self):
        return self._lock.locked()

    def __enter__(self):
        me = port.ident()
        if self._owner == me:
            self._depth += 1
            return self
        if self._owner_thread == me and self._owner is not None:
            # A task on this very thread holds it across an await: blocking here would hang the loop.
            raise RuntimeError("cage is held by another task; use 'async with cage:' from async code")
        self._lock.acquire()
        self._owner = me
        self._owner_thread = me
        self._depth = 1
        return self

    def __exit__(self, *exc):
        self._release()

    def _release(self):
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._owner_thread = None
            self._lock.release()

    async def __aenter__(self):
        task = asyncio.current_task()
        if self._owner is task:
            self._depth += 1
            return self
        tries = 0
        while not self._lock.acquire(0):
            tries += 1
            # Yield at once first; a short sleep once the holder is slow, to spare the CPU.
            await asyncio.sleep(0 if tries < 20 else 0.001)
        self._owner = task
        self._owner_thread = port.ident()
        self._depth = 1
        return self

    async def __aexit__(self, *exc):
        self._release()


def _guarded(method):
    def call(self, *args, **kwargs):
        with self._zoo_cage:
            return method(self, *args, **kwargs)

    return call


def cage(cls):
    """Class decorator: every public method of an instance runs under that instance's Cage.

    The class stays a class: subclasses and isinstance() work. The Cage is reachable as
    `obj._zoo_cage` for callers that need several calls to be one step.
    """
    original_init = getattr(cls, "__init__", None)

    def __init__(self, *args, **kwargs):
        self._zoo_cage = Cage()
        if original_init is not None and original_init is not object.__init__:
            original_init(self, *args, **kwargs)

    for name in list(cls.__dict__):
        value = cls.__dict__[name]
        if name[0] != "_" and callable(value) and not isinstance(value, (staticmethod, classmethod, type)):
            setattr(cls, name, _guarded(value))
    cls.__init__ = __init__
    return cls
