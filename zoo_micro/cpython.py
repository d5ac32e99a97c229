# What the host-side twin needs of MicroPython's API on CPython; only port.py imports this.
import asyncio
import time
import traceback

_MASK = (1 << 62) - 1  # the unix port's tick period; boards wrap at 2**30


def const(x):
    return x


def ticks_ms():
    return time.monotonic_ns() // 1000000 & _MASK


def ticks_us():
    return time.monotonic_ns() // 1000 & _MASK


def ticks_diff(a, b):
    d = (a - b) & _MASK
    return d - (_MASK + 1) if d > _MASK >> 1 else d


def ticks_add(t, d):
    return (t + d) & _MASK


def sleep_ms(ms):
    time.sleep(ms / 1000)


def pause_ms(ms):
    return asyncio.sleep(ms / 1000)


def kbd_intr(ch):
    pass  # Ctrl-C on CPython is a signal, not a byte on stdin


def mem_free():
    return None  # CPython keeps no fixed heap to report


mem_alloc = mem_free


async def wait_readable(stream):
    """Returns once `stream` has bytes to read, without busy polling."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    fd = stream.fileno()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(fd)


def print_exception(exc):
    traceback.print_exception(type(exc), exc, exc.__traceback__)


async def _probe():
    pass


_c = _probe()
CORO = type(_c)
_c.close()
del _c
