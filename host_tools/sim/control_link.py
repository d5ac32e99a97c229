"""The virtual board's control link: local sockets the board-side modules (board/simlink.py) connect
back on, one JSON object per line. "cmd" carries the host's orders to the board's fake peripherals;
"rpc" carries the board's reports and questions (hello, watchdog, resets, script errors, peripherals),
each answered by on_message. Only the interpreter of the current boot (its token) is let in."""

from __future__ import annotations

import json
import secrets
import selectors
import socket
import threading
from collections.abc import Callable


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.kind: str | None = None


class ControlLink:
    """Runs on the board's supervisor thread, but for send(), which any thread may call."""

    def __init__(self, on_message: Callable[[dict], dict | None]) -> None:
        self.on_message = on_message
        self.token = ""
        self._server: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._cmd_lock = threading.Lock()
        self._cmd: Conn | None = None
        self._rpc: Conn | None = None

    def listen(self, sel: selectors.BaseSelector) -> None:
        """Open the listening socket; sel reports it as "server" and each connection as its Conn."""
        self._sel = sel
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.setblocking(False)
        sel.register(self._server, selectors.EVENT_READ, "server")

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.getsockname()[1]

    def new_boot(self) -> str:
        """A fresh token for the next interpreter, so a board from before a reset is refused."""
        self.token = secrets.token_hex(6)
        return self.token

    def board_gone(self) -> None:
        """The interpreter ended: orders for its peripherals have nobody to go to."""
        with self._cmd_lock:
            self._cmd = None

    def accept(self) -> None:
        assert self._server is not None and self._sel is not None
        try:
            sock, _ = self._server.accept()
        except BlockingIOError:
            return
        sock.setblocking(True)
        self._sel.register(sock, selectors.EVENT_READ, Conn(sock))

    def readable(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.buf += data
        while b"\n" in conn.buf:
            line, conn.buf = conn.buf.split(b"\n", 1)
            msg = json.loads(line)
            if conn.kind is None:
                if msg.get("token") != self.token:
                    self._drop(conn)  # a board from before the last reset
                    return
                conn.kind = msg["hello"]
                if conn.kind == "cmd":
                    with self._cmd_lock:
                        self._cmd = conn
                else:
                    self._rpc = conn
                continue
            reply = self.on_message(msg)
            if "id" in msg:
                out = dict(reply or {}, id=msg["id"])
                try:
                    conn.sock.sendall(json.dumps(out).encode() + b"\n")
                except OSError:
                    pass

    def _drop(self, conn: Conn) -> None:
        assert self._sel is not None
        self._sel.unregister(conn.sock)
        conn.sock.close()
        with self._cmd_lock:
            if self._cmd is conn:
                self._cmd = None
        if self._rpc is conn:
            self._rpc = None

    def send(self, msg: dict) -> None:
        """An order to the board's peripherals; lost if no board is listening, as between boots."""
        line = json.dumps(msg).encode() + b"\n"
        with self._cmd_lock:
            if self._cmd is not None:
                try:
                    self._cmd.sock.sendall(line)
                except OSError:
                    pass

    def close(self) -> None:
        for conn in (self._cmd, self._rpc):
            if conn is not None:
                conn.sock.close()
        if self._server is not None:
            self._server.close()
