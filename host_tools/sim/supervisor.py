"""The thread that runs a virtual board, one per board. It owns every file descriptor (the interpreter's
pty, the serial port, the control sockets), carries bytes between the serial port and the interpreter,
and boots the interpreter again on every reset (the unix port exits on a soft reset), which is what
makes resets, the watchdog and deep sleep behave as on a board. What the host may observe (output,
resets, boots, errors) it reports to its VirtualBoard."""

from __future__ import annotations

import hashlib
import os
import queue
import selectors
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from host_tools.sim.control_link import Conn, ControlLink
from host_tools.sim.flash import ROMFS_FILE, PowerCut, rom_image_bytes
from host_tools.sim.output import OutputLog
from host_tools.sim.peripherals import Peripherals
from host_tools.sim.process import SIM_HEAP_KB, Interpreter
from host_tools.sim.profile import SimProfile
from host_tools.sim.serial_port import SerialPort

TICK = 0.02  # seconds between checks for a client opening the port
SOFT_REBOOT = b"MPY: soft reboot\r\n"
CAUSE_ON_BOARD = {"power": "power", "soft": "soft", "hard": "hard", "wdt": "wdt", "deepsleep": "deepsleep",
                  "crash": "hard"}  # fmt: skip


class Board(Protocol):
    """What the supervisor reads from its VirtualBoard and reports to it."""

    profile: SimProfile
    flash: Path | None
    link: Path | None
    log: OutputLog
    echo: Callable[[bytes], None] | None
    on_status: Callable[[str], None] | None
    peripherals: Peripherals
    rom_bytes: int
    main_running: bool

    def _booting(self, cause: str) -> None: ...

    def _booted(self) -> None: ...

    def _app_stopped(self, error: dict) -> None: ...

    def _supervisor_ended(self) -> None: ...


class Supervisor:
    def __init__(self, board: Board, home: Path) -> None:
        assert board.flash is not None
        self.board = board
        self.home = home  # the interpreter's working folder
        self.port = SerialPort(board.link, lambda fd, write: self._watch("port", fd, write))
        self.link = ControlLink(self._from_board)
        self.child = Interpreter(lambda fd, write: self._watch("child", fd, write))
        self._uid = hashlib.sha256(str(board.flash).encode()).hexdigest()[:12]
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel = selectors.DefaultSelector()
        self.link.listen(self._sel)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._calls: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._sleep_until: float | None = None
        self._sleep_ms = 0
        self._asleep = False
        self._wdt: float | None = None
        self._wdt_deadline: float | None = None
        self.stopping = False
        self.stopped = False  # the thread has ended

    def start(self) -> None:
        """Power on: boot the interpreter and start the thread."""
        self._spawn("power", "friendly")
        self._thread = threading.Thread(
            target=self._loop, name=f"zoo-sim-{self.board.profile.id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Power off, end the thread and close every file descriptor."""
        assert self._thread is not None
        self.stopping = True
        if self._thread.is_alive():
            try:
                self.call(lambda: self.kill("stop"), timeout=5)
            except (TimeoutError, RuntimeError):
                pass
            self._thread.join(5)
        self.stopped = True
        self.child.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.port.close()
        self.link.close()
        self._sel.close()

    def call(self, fn: Callable[[], object], timeout: float = 10.0) -> object:
        """Run fn on the supervisor thread and return its result."""
        if threading.current_thread() is self._thread:
            return fn()
        if self._thread is None or self.stopped:
            raise RuntimeError("the virtual board is not running")
        done = threading.Event()
        box: list = []

        def run() -> None:
            try:
                box.append((True, fn()))
            except BaseException as e:
                box.append((False, e))
            done.set()

        self._calls.put(run)
        os.write(self._wake_w, b"!")
        if not done.wait(timeout):
            raise TimeoutError("the virtual board's supervisor did not answer")
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def _loop(self) -> None:
        try:
            while not (self.stopping and not self.child.alive):
                for key, mask in self._sel.select(self._timeout()):
                    self._dispatch(key.data, mask)
                self._tick()
        finally:
            self.child.terminate()
            self.stopped = True
            self.board._supervisor_ended()

    def _timeout(self) -> float:
        now = time.monotonic()
        t = 1.0
        if not self.port.connected or self.child.filter.holding:
            t = TICK
        for at in (self._wdt_deadline, self._sleep_until):
            if at is not None:
                t = min(t, max(0.0, at - now))
        return t

    def _dispatch(self, what: object, mask: int) -> None:
        if what == "child":
            if mask & selectors.EVENT_READ:
                self._child_readable()
            if mask & selectors.EVENT_WRITE:
                self.child.flush()
        elif what == "port":
            if mask & selectors.EVENT_READ:
                self._port_readable()
            if mask & selectors.EVENT_WRITE and self.port.connected:
                self.port.flush()
        elif what == "server":
            self.link.accept()
        elif what == "wake":
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
            while not self._calls.empty():
                self._calls.get_nowait()()
        elif isinstance(what, Conn):
            self.link.readable(what)

    def _tick(self) -> None:
        now = time.monotonic()
        if self._wdt_deadline is not None and now >= self._wdt_deadline and self.child.alive:
            self._wdt_deadline = None
            self._status("watchdog not fed: board reset")
            self.kill("wdt")
        if self._sleep_until is not None and now >= self._sleep_until and not self.child.alive:
            self._sleep_until = None
            self._asleep = False
            self._spawn("deepsleep", "friendly")
        self.port.check_opened()
        if self.child.fd is not None and self.child.filter.holding and now - self.child.read_at >= TICK:
            shown = self.child.flush_held()  # the rest of the line did not come: show what there is
            if shown:
                self._show(shown)

    def _watch(self, what: str, fd: int, write: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0)
        try:
            self._sel.modify(fd, events, what)
        except KeyError:
            self._sel.register(fd, events, what)

    def _status(self, text: str) -> None:
        if self.board.on_status is not None:
            self.board.on_status(text)

    # The interpreter (see host_tools.sim.process)

    def _spawn(self, cause: str, mode: str) -> None:
        board = self.board
        assert board.flash is not None
        if cause not in ("power", "soft") and not board.log.text.endswith("\n"):
            self._show(b"\r\n")  # a reset starts a new line, as a board's boot messages do
        cfg = {
            "port": self.link.port,
            "token": self.link.new_boot(),
            "flash": str(board.flash),
            "flash_kb": board.profile.flash_kb,
            "mode": mode,
            "cause": CAUSE_ON_BOARD[cause],
            "board": board.profile.id,
            "platform": board.profile.platform,
            "machine": board.profile.machine,
            "freq": board.profile.freq,
            "uid": self._uid,
            "rtc": board.peripherals.rtc_offset,
            "heap_free": board.profile.heap_kb * 1024,
            "max_threads": board.profile.max_threads,
            "romfs": str(board.flash / ROMFS_FILE),
            "romfs_kb": board.profile.romfs_kb,
        }
        board.rom_bytes = rom_image_bytes(board.flash, board.profile.romfs_kb)
        # The image is read into the heap at boot: grown by its size, the app keeps the board's heap.
        heap = board.profile.heap_kb + SIM_HEAP_KB + -(-board.rom_bytes // 1024)
        self.child.start(cfg, heap, self.home, mode)
        board.main_running = False
        board._booting(cause)

    def kill(self, reason: str) -> None:
        if not self.child.alive:
            if reason == "stop":
                self._sleep_until = None
            elif reason in ("hard", "soft") and self._asleep:
                self._sleep_until = time.monotonic()  # a reset wakes a board from deep sleep
            return
        self.child.kill(reason)

    def power_cut(self, tear: bool) -> PowerCut | None:
        if not self.child.alive:
            return None
        return self.child.power_cut(self.board.flash, tear)

    def _child_readable(self) -> None:
        shown = self.child.read()
        if shown:
            self._show(shown)
        elif shown is None:
            self._child_exited()

    def _child_exited(self) -> None:
        assert self.child.fd is not None
        self._sel.unregister(self.child.fd)
        code, reason = self.child.reap()
        self.link.board_gone()
        self.board.main_running = False
        if reason == "stop" or self.stopping:
            return
        if reason in ("hard", "wdt", "power"):
            self._wdt = self._wdt_deadline = None
            self._spawn(reason, "friendly")
        elif reason == "deepsleep":
            self._wdt = self._wdt_deadline = None
            self._asleep = True
            ms = self._sleep_ms
            self._sleep_until = time.monotonic() + ms / 1000 if ms > 0 else None
        elif reason is None and code < 0:
            self._status(f"the interpreter died (signal {-code}); the board resets")
            self._wdt = self._wdt_deadline = None
            self._spawn("crash", "friendly")
        else:
            self._show(SOFT_REBOOT)
            self._spawn("soft", self.child.filter.mode)

    def _show(self, data: bytes) -> None:
        self.board.log.append(data)
        if self.board.echo is not None:
            self.board.echo(data)
        self.port.send(data)

    def board_input(self, data: bytes) -> None:
        self.child.input(data)

    def _port_readable(self) -> None:
        assert self.port.fd is not None
        fd = self.port.fd
        data = self.port.read()
        if data is None:
            self._sel.unregister(fd)  # the client closed the port: unwatched until the next one opens it
        elif data:
            self.board_input(data)

    # The control link (see host_tools.sim.control_link)

    def _from_board(self, msg: dict) -> dict | None:
        op = msg.get("op")
        if op == "hello":
            self.board._booted()
            return {"state": self.board.peripherals.initial_state()}
        if op == "wdt":
            self._wdt = msg["timeout"] / 1000
            self._wdt_deadline = time.monotonic() + self._wdt
        elif op == "feed":
            if self._wdt is not None:
                self._wdt_deadline = time.monotonic() + self._wdt
        elif op in ("reset", "soft_reset"):
            self.kill("hard" if op == "reset" else "soft")
        elif op == "deepsleep":
            self._sleep_ms = msg["ms"]
            self.kill("deepsleep")
        elif op == "script_error":
            error = {"script": msg["script"], "error": msg["error"], "at": msg["at"]}
            self.board._app_stopped(error)
            if error["script"] == "main.py":
                self.board.main_running = False
            self._status(f"{error['script']} stopped: {error['error']}")
        elif op == "running":
            self.child.running()
        elif op == "main_started":
            self.board.main_running = True
        elif op == "main_done":
            self.board.main_running = False
        else:
            return self.board.peripherals.handle(msg)
        return None
