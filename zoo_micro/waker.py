# Waking the asyncio loop from another thread; loaded only by nodes whose threads publish.
import asyncio

from zoo_micro import port


class Waker:
    """set() from any thread wakes a task in `await wait()`.

    Boards use ThreadSafeFlag. The unix port's poll sleeps ~1 ms per loop turn while any task
    waits on one, so there a datagram to a loopback socket does the job; CPython uses
    call_soon_threadsafe.
    """

    def __init__(self):
        self._sock = None
        self._flag = None
        if not port.MICROPYTHON:
            self._event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
        elif port.PLATFORM in ("linux", "darwin"):
            self._open_socket()
        else:
            self._flag = asyncio.ThreadSafeFlag()

    def _open_socket(self):
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        n = 20000 + (port.ticks_us() ^ id(self)) % 40000
        for _ in range(200):
            addr = socket.getaddrinfo("127.0.0.1", n)[0][-1]
            try:
                s.bind(addr)
                break
            except OSError:
                n = 20000 + (n * 7 + 13) % 40000
        else:
            raise OSError("no free loopback port for the thread wake-up")
        s.setblocking(False)
        self._sock = s
        self._addr = addr
        self._tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._buf = bytearray(8)  # the wake-ups are read into it: nothing allocated per wake

    def set(self):
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
            # asyncio's own poller, not a StreamReader: asyncio.stream stays unloaded (1.8 KB).
            await port.wait_readable(self._sock)
            try:
                while self._sock.readinto(self._buf):  # every pending wake-up at once
                    pass
            except OSError:
                pass  # none left (a non-blocking read says so this way on some ports)
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
