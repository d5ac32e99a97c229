# Every difference between MicroPython and CPython lives here; nothing else tests the interpreter.
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"
PLATFORM = sys.platform

try:
    import _thread

    HAS_THREAD = True
except ImportError:
    _thread = None
    HAS_THREAD = False

# How many _thread workers a board can host (RP2040/RP2350: only core 1).
THREAD_LIMIT = {"rp2": 1, "esp32": 4}.get(PLATFORM, 8)

if MICROPYTHON:
    import asyncio
    import gc

    import micropython

    const = micropython.const
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
    schedule = micropython.schedule

    def reset_loop():
        asyncio.new_event_loop()  # forgets every task, including ones an exception tore through

    kbd_intr = micropython.kbd_intr

    def wait_readable(stream):
        """Awaitable: returns once `stream` has bytes to read, without busy polling."""
        return asyncio.StreamReader(stream).read(0)

    def mem_free():
        return gc.mem_free()

    def mem_alloc():
        return gc.mem_alloc()

else:
    import asyncio
    import gc

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

    def schedule(fn, arg):
        # Interrupt handlers do not exist on CPython; run the callback at once.
        fn(arg)

    def reset_loop():
        pass  # asyncio.run() already cancelled and closed everything

    def kbd_intr(ch):
        pass  # Ctrl-C on CPython is a signal, not a byte on stdin

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

    def mem_free():
        return None  # CPython keeps no fixed heap to report

    def mem_alloc():
        return None


def collect():
    gc.collect()


def _no_ident():
    return 0


get_ident = _thread.get_ident if HAS_THREAD else _no_ident


def ident():
    return get_ident()


def allocate_lock():
    if HAS_THREAD:
        return _thread.allocate_lock()
    return _NoLock()


def start_thread(fn, args):
    _thread.start_new_thread(fn, args)


class _NoLock:
    # Stands in for a lock on ports without _thread, where nothing can race.
    def acquire(self, *args):
        return True

    def release(self):
        pass

    def locked(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


async def _probe():
    pass


_c = _probe()
CORO = type(_c)  # MicroPython: generator; CPython: coroutine
if hasattr(_c, "close"):
    _c.close()
del _c


def is_coro(obj):
    return type(obj) is CORO


class Waker:
    """Wakes the asyncio loop from another thread.

    Boards use ThreadSafeFlag. The unix port's poll sleeps ~1 ms per loop turn while any task
    waits on one, so there a datagram to a loopback socket does the job; CPython uses
    call_soon_threadsafe.
    """

    def __init__(self):
        self._sock = None
        self._flag = None
        self._event = None
        if not MICROPYTHON:
            self._event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
        elif PLATFORM in ("linux", "darwin"):
            self._open_socket()
        else:
            self._flag = asyncio.ThreadSafeFlag()

    def _open_socket(self):
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        port = 20000 + (ticks_us() ^ id(self)) % 40000
        for _ in range(200):
            addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
            try:
                s.bind(addr)
                break
            except OSError:
                port = 20000 + (port * 7 + 13) % 40000
        else:
            raise OSError("no free loopback port for the thread wake-up")
        s.setblocking(False)
        self._sock = s
        self._addr = addr
        self._tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._reader = asyncio.StreamReader(s)

    def set(self):
        # Safe from any thread.
        if self._sock is not None:
            try:
                self._tx.sendto(b"!", self._addr)
            except OSError:
                pass
        elif self._flag is not None:
            self._flag.set()
        else:
            try:
                self._loop.call_soon_threadsafe(self._event.set)
            except RuntimeError:
                pass  # loop already closed

    async def wait(self):
        if self._sock is not None:
            await self._reader.read(256)  # drains every pending wake-up at once
        elif self._flag is not None:
            await self._flag.wait()
        else:
            await self._event.wait()
            self._event.clear()

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._tx.close()
            self._sock = None


def print_exception(exc):
    if MICROPYTHON:
        sys.print_exception(exc)
    else:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
