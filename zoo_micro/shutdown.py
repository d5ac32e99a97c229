# How a Master stops, loaded only then (port.once): cancel its tasks, wait for thread workers,
# unload plugins, save state, and call each worker's _destroy.
import asyncio
import sys

from zoo_micro import log, port
from zoo_micro.port import const

_DUE = const(9)  # in a worker's record (workers.py)


async def stop(m):
    m._running = False
    m._stopping = True
    tasks = m._tasks + m._runs
    m._tasks = []
    m._runs = []
    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except asyncio.CancelledError:
            pass
        except Exception as e:
            log.error("task ended with %r" % (e,))
    limit = int(m.config["thread_join_timeout"] * 1000)
    t0 = port.ticks_ms()
    while m._threads and port.ticks_diff(port.ticks_ms(), t0) < limit:
        await asyncio.sleep(0.005)
    for d in finish(m):
        await d


def interrupted(m):
    # Ctrl-C tore through the loop mid-step, so its tasks cannot be awaited: drop them, then stop
    # what outlives the loop (thread workers) without it.
    m._running = False
    m._stopping = True
    m._tasks = []
    m._runs = []
    # MicroPython: forget every task, including ones the exception tore through (CPython's
    # asyncio.run already closed them; there this makes and closes a spare loop).
    asyncio.new_event_loop().close()
    limit = int(m.config["thread_join_timeout"] * 1000)
    t0 = port.ticks_ms()
    while m._threads and port.ticks_diff(port.ticks_ms(), t0) < limit:
        port.sleep_ms(5)
    for d in finish(m):
        asyncio.run(d)


def finish(m):
    """Everything after the tasks ended; returns the coroutines of async _destroy hooks, to await
    (a plain function: on a full heap at stop, one frame fewer to allocate)."""
    pending = []
    if m._threads:
        from zoo_micro import threads

        threads.left_running(m)
    if m._plugins is not None:
        m._plugins.unload_all()
    st = sys.modules.get("zoo_micro.state")
    if st is not None:
        st.StateMachineManager().stop()
    b = m.bus
    b._loop_ident = None
    if b.inbox is not None:
        b.dropped = b.dropped_total()
        b.inbox.close()
        b.inbox = None
    for w in m.workers:
        r = w._zoo
        r[_DUE] = None
        if r[0] not in ("done", "failed") and w.mode != "thread":
            r[0] = "stopped"
        try:
            d = w._destroy(None)  # the full framework's signature: no result at stop
            if type(d) is port.CORO:
                pending.append(d)
        except Exception as e:
            log.error("worker %s: _destroy raised %r" % (w.name, e))
    return pending
