"""A virtual board's serial port as the host sees it: a pty that clients (mpremote, the bridge, a
terminal) open and close at will, optionally reached through a symlink (--link). Owned by the board's
supervisor thread."""

from __future__ import annotations

import os
import select
import tty
from collections.abc import Callable
from pathlib import Path

from host_tools.errors import UserError
from host_tools.sim.process import MAX_BUFFER, write_pending


class SerialPort:
    """watch(fd, write) is called when the port needs watching (a client opened it, output waits)."""

    def __init__(self, link: Path | None, watch: Callable[[int, bool], None]) -> None:
        self.link = link
        self.watch = watch
        self.fd, slave = os.openpty()
        tty.setraw(slave)
        self.pty = os.ttyname(slave)
        os.close(slave)  # nobody has the port open until a client opens it
        os.set_blocking(self.fd, False)
        self.connected = False
        self._out = bytearray()
        if link is not None:
            try:
                self._make_link(link)
            except BaseException:
                os.close(self.fd)
                raise

    @property
    def path(self) -> str:
        """What to give mpremote or zoo-micro deploy: the --link path, else the pty."""
        return str(self.link) if self.link is not None else self.pty

    def _make_link(self, link: Path) -> None:
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise UserError(f"{link} exists and is not a link; choose another --link path")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(self.pty)

    def check_opened(self) -> None:
        """Notice a client opening the port (its hang-up ends); until then output is not kept."""
        if self.connected or self.fd is None:
            return
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        if not any(ev & select.POLLHUP for _, ev in p.poll(0)):
            self.connected = True
            self.watch(self.fd, bool(self._out))

    def read(self) -> bytes | None:
        """What a client typed or sent (b"" if nothing); None when it closed the port, which is then
        no longer watched until the next client opens it."""
        assert self.fd is not None
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return b""
        except OSError:
            data = b""
        if not data:
            self.connected = False
            self._out.clear()
            return None
        return data

    def send(self, data: bytes) -> None:
        """Output for the client, if one has the port open; a slow one loses the oldest bytes."""
        if not self.connected:
            return
        self._out += data
        if len(self._out) > MAX_BUFFER:
            del self._out[: len(self._out) - MAX_BUFFER]
        self.flush()

    def flush(self) -> None:
        assert self.fd is not None
        write_pending(self.fd, self._out)
        self.watch(self.fd, bool(self._out))

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None
        if self.link is not None and self.link.is_symlink() and os.readlink(self.link) == self.pty:
            self.link.unlink()
