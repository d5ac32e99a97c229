"""A relay between a node's pty and a TCP port, for rehearsing bad links: it paces bytes to a baud
rate, corrupts, drops and repeats them, and pulls the plug on request.

The bridge connects to `relay.url` (socket://127.0.0.1:PORT) as it would to a serial port; while the
relay is unplugged it refuses connections and what the node writes is lost, as on a real unplug.
"""

from __future__ import annotations

import os
import random
import select
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Faults:
    """Per-byte corruption and loss, and per-line repetition, for one direction."""

    corrupt: float = 0.0  # chance each byte is replaced by a random one
    drop: float = 0.0  # chance each byte is lost
    duplicate: float = 0.0  # chance a whole line (a frame) is sent twice


@dataclass
class Counters:
    bytes: int = 0
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    lost_unplugged: int = 0


class Relay:
    def __init__(
        self,
        device_fd: int | None = None,
        baud: int | None = None,
        up: Faults | None = None,
        down: Faults | None = None,
        seed: int = 0,
    ) -> None:
        self.baud = baud
        # Paced, bytes move in slices of about 10 ms, as they trickle out of a UART.
        self._chunk = max(16, baud // 1000) if baud else 4096
        self.up_faults = up or Faults()  # node -> host
        self.down_faults = down or Faults()  # host -> node
        self.up = Counters()
        self.down = Counters()
        self._rnd = random.Random(seed)
        self._dev = device_fd
        self._dev_lock = threading.Lock()
        self._client: socket.socket | None = None
        self._plugged = threading.Event()
        self._plugged.set()
        self._stop = threading.Event()
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._server.listen(1)
        self._threads: list[threading.Thread] = []
        self.unplugs = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> Relay:
        for target in (self._accept, self._node_to_host, self._host_to_node):
            t = threading.Thread(target=target, daemon=True, name=f"relay{target.__name__}")
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._drop_client()
        self._server.close()
        for t in self._threads:
            t.join(1)

    def set_device(self, fd: int | None) -> None:
        """Point the relay at a (restarted) node's pty master."""
        with self._dev_lock:
            self._dev = fd

    def inject(self, data: bytes) -> None:
        """Write raw bytes to the node, between whole chunks of the host's traffic."""
        with self._dev_lock:
            if self._dev is not None:
                os.write(self._dev, data)

    def unplug(self, seconds: float) -> None:
        """Cut the host off now and refuse it for `seconds`, like pulling a USB cable."""
        self._plugged.clear()
        self._drop_client()
        self.unplugs += 1
        threading.Timer(seconds, self._plugged.set).start()

    def _drop_client(self) -> None:
        c, self._client = self._client, None
        if c is not None:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _listen(self) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(1)
        return s

    def _accept(self) -> None:
        server: socket.socket | None = self._server
        while not self._stop.is_set():
            if not self._plugged.is_set():
                if server is not None:
                    server.close()  # nothing listens: connecting is refused, as with no device
                    server = None
                time.sleep(0.02)
                continue
            if server is None:
                server = self._server = self._listen()
            try:
                r, _, _ = select.select([server], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._drop_client()
            self._client = conn

    def _mangle(self, data: bytes, faults: Faults, counters: Counters) -> bytes:
        if not (faults.corrupt or faults.drop):
            return data
        out = bytearray()
        rnd = self._rnd.random
        for b in data:
            r = rnd()
            if r < faults.drop:
                counters.dropped += 1
                continue
            if r < faults.drop + faults.corrupt:
                b = self._rnd.randrange(256)
                counters.corrupted += 1
            out.append(b)
        return bytes(out)

    def _lines(self, pending: bytearray, data: bytes, faults: Faults, counters: Counters) -> bytes:
        # Whole lines are forwarded, so a frame can be repeated as a unit.
        pending += data
        cut = pending.rfind(b"\n") + 1
        if not cut:
            return b""
        chunk, pending[:] = bytes(pending[:cut]), pending[cut:]
        if not faults.duplicate:
            return chunk
        out = bytearray()
        for line in chunk.splitlines(keepends=True):
            out += line
            if self._rnd.random() < faults.duplicate:
                out += line
                counters.duplicated += 1
        return bytes(out)

    def _pace(self, clock: list[float], n: int) -> None:
        if not self.baud:
            return
        now = time.monotonic()
        start = max(now, clock[0])
        clock[0] = start + n * 10 / self.baud  # 8N1: ten bit times per byte
        if clock[0] - now > 0.002:
            time.sleep(clock[0] - now)

    def _node_to_host(self) -> None:
        pending = bytearray()
        clock = [0.0]
        while not self._stop.is_set():
            fd = self._dev
            if fd is None:
                time.sleep(0.01)
                continue
            try:
                r, _, _ = select.select([fd], [], [], 0.05)
                if not r:
                    continue
                data = os.read(fd, self._chunk)
            except OSError:
                time.sleep(0.01)  # the node went away; wait for set_device()
                continue
            if not data:
                continue
            data = self._lines(pending, data, self.up_faults, self.up)
            data = self._mangle(data, self.up_faults, self.up)
            if not data:
                continue
            self._pace(clock, len(data))
            c = self._client
            if c is None:
                self.up.lost_unplugged += len(data)
                continue
            try:
                c.sendall(data)
                self.up.bytes += len(data)
            except OSError:
                self.up.lost_unplugged += len(data)

    def _host_to_node(self) -> None:
        pending = bytearray()
        clock = [0.0]
        while not self._stop.is_set():
            c = self._client
            if c is None:
                time.sleep(0.01)
                continue
            try:
                r, _, _ = select.select([c], [], [], 0.05)
                if not r:
                    continue
                data = c.recv(self._chunk)
            except (OSError, ValueError):
                continue
            if not data:
                if c is self._client:
                    self._drop_client()
                continue
            data = self._lines(pending, data, self.down_faults, self.down)
            data = self._mangle(data, self.down_faults, self.down)
            if not data:
                continue
            self._pace(clock, len(data))
            with self._dev_lock:
                fd = self._dev
                if fd is None:
                    continue
                try:
                    os.write(fd, data)
                    self.down.bytes += len(data)
                except OSError:
                    pass
