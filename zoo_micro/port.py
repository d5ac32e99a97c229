# Every difference between MicroPython and CPython lives here (CPython's side in cpython.py, so a
# board never loads it); nothing else tests the interpreter.
import gc
import sys

MICROPYTHON = sys.implementation.name == "micropython"
PLATFORM = sys.platform
THREAD_LIMIT = {"rp2": 1, "esp32": 4}.get(PLATFORM, 8)  # _thread workers a board can host (RP2: core 1)
collect = gc.collect

try:
    import _thread

    HAS_THREAD = True
    ident = _thread.get_ident
    allocate_lock = _thread.allocate_lock
    start_thread = _thread.start_new_thread
    del _thread  # every name left here takes a slot in this module's dict, on every node
except ImportError:
    from zoo_micro.nothread import allocate_lock, ident, start_thread  # noqa: F401

    HAS_THREAD = False

if MICROPYTHON:
    # Collect every few KB allocated, not only once the heap is full: live objects then stay
    # packed low, and a large block (the next pool of interned names, a buffer) still fits.
    if gc.threshold() < 0:
        gc.threshold(max(4096, gc.mem_free() >> 4))

    import asyncio
    import time

    import micropython

    const = micropython.const
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
    kbd_intr = micropython.kbd_intr
    mem_free = gc.mem_free
    mem_alloc = gc.mem_alloc
    print_exception = sys.print_exception
    del gc, time, micropython

    def wait_readable(stream):
        """Awaitable: returns once `stream` has bytes to read, without busy polling. It queues the
        stream on asyncio's poller as asyncio's StreamReader does, without loading asyncio.stream
        (1.8 KB) or making a reader per wait."""
        yield asyncio.core._io_queue.queue_read(stream)

    def task_failed(loop, context):
        """The loop's report of a task that ended on an error nobody awaits. asyncio's own prints
        it, and on a full heap that fails and ends the loop with it: this one is a log line when
        the heap has room for it, else nothing."""
        try:
            from zoo_micro import log

            log.error("task %r ended: %r" % (context.get("future"), context.get("exception")))
        except MemoryError:
            pass

    # pause_ms(ms): a wait that allocates nothing (asyncio.sleep() makes a float), for a task
    # that must go on waiting on a full heap.
    pause_ms = asyncio.sleep_ms

    CORO = type((lambda: (yield))())  # what calling an async def returns here: a generator
else:
    from zoo_micro.cpython import (  # noqa: F401
        CORO,
        const,
        kbd_intr,
        mem_alloc,
        mem_free,
        pause_ms,
        print_exception,
        sleep_ms,
        ticks_add,
        ticks_diff,
        ticks_ms,
        ticks_us,
        wait_readable,
    )


def forget(name):
    """Drop a module from sys.modules and its package, so its heap is freed once unused."""
    sys.modules.pop(name, None)
    parent, _, leaf = name.rpartition(".")
    pkg = sys.modules.get(parent)
    if pkg is not None and leaf in pkg.__dict__:
        delattr(pkg, leaf)


def once(module, fn, *args):
    """Call module.fn(*args), the module loaded for this call and then forgotten: what a node runs
    once (start-up checks, recovery, shutdown) does not stay on its heap. A coroutine that fn
    returns keeps what it needs until it ends."""
    try:
        return getattr(__import__(module, None, None, (fn,)), fn)(*args)
    finally:
        forget(module)
