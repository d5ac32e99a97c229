"""A virtual board: an app on the real MicroPython unix port with a board's heap, a flash folder, fake
peripherals the host scripts, and a serial port (a pty) that mpremote and the bridge talk to.

One supervisor thread per board owns every file descriptor: the interpreter's pty, the user-facing
pty, the control sockets. The interpreter is restarted on every reset (the unix port exits on a soft
reset), which is what makes resets, the watchdog and deep sleep behave as on a board.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import queue
import re
import selectors
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from host_tools.deploy.plan import check_app
from host_tools.errors import UserError
from host_tools.sim.control_link import Conn, ControlLink
from host_tools.sim.devices import I2CDevice
from host_tools.sim.flash import ROMFS_FILE, install, rom_image_bytes
from host_tools.sim.output import OutputLog
from host_tools.sim.peripherals import Peripherals, PinId
from host_tools.sim.process import SIM_HEAP_KB, Interpreter
from host_tools.sim.profile import SimProfile, sim_profile
from host_tools.sim.serial_port import SerialPort

TICK = 0.02  # seconds between checks for a client opening the port
SOFT_REBOOT = b"MPY: soft reboot\r\n"
CAUSE_ON_BOARD = {"power": "power", "soft": "soft", "hard": "hard", "wdt": "wdt", "deepsleep": "deepsleep",
                  "crash": "hard"}  # fmt: skip


class VirtualBoard:
    """Run an app on a virtual board. Use as a context manager, or start() and stop().

    app: the app folder (with main.py), or None for a blank board. board: a board id from boards/.
    flash_dir: the board's filesystem (a temporary folder by default; give one to keep it). link: a
    path made a symlink to the serial port. echo: called with every byte the board prints.
    mpy: install .py files (but main.py and boot.py) as .mpy for the unix port, as zoo-micro deploy
    does by default; False installs source. romfs: install zoo_micro and the app's modules as an image
    in the board's ROMFS partition instead, as zoo-micro deploy --romfs does. The partition's image is
    loaded into the interpreter's heap at boot (the unix port has no mapped flash), and the heap is
    grown by its size, so the app still sees the board's heap_kb free.
    """

    def __init__(
        self,
        app: str | Path | None = None,
        board: str = "esp32",
        flash_dir: str | Path | None = None,
        link: str | Path | None = None,
        *,
        heap_kb: int | None = None,
        flash_kb: int | None = None,
        install_lib: bool = True,
        mpy: bool = True,
        romfs: bool = False,
        romfs_kb: int | None = None,
        echo: Callable[[bytes], None] | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.app = check_app(app) if app is not None else None
        self.profile: SimProfile = sim_profile(board, heap_kb, flash_kb, romfs_kb)
        self.link = Path(link) if link is not None else None
        self._flash_arg = Path(flash_dir) if flash_dir is not None else None
        self.flash: Path | None = None
        self.install_lib = install_lib
        self.mpy = mpy
        self.romfs = romfs
        self.rom_bytes = 0  # size of the ROMFS image the last boot loaded
        self.echo = echo
        self.on_status = on_status
        self.log = OutputLog()
        self._link = ControlLink(self._from_board)
        self.peripherals = Peripherals(self._link.send)
        self.resets: list[str] = []  # why each boot happened: power, soft, hard, wdt, deepsleep, crash
        self.errors: list[dict] = []  # uncaught errors of boot.py / main.py: {"script", "error", "at"}
        self.main_running = False
        self._cond = threading.Condition()
        self._boots = 0  # boots whose link came up
        self._reset_cursor = 1
        self._child = Interpreter(lambda fd, write: self._watch("child", fd, write))
        self._port: SerialPort | None = None
        self._thread: threading.Thread | None = None
        self._calls: queue.Queue = queue.Queue()
        self._sleep_until: float | None = None
        self._sleep_ms = 0
        self._asleep = False
        self._wdt: float | None = None
        self._wdt_deadline: float | None = None
        self._stopping = False
        self._stopped = False  # the supervisor thread has ended
        self._closed = False
        self._state_dir: Path | None = None
        self._owns_flash = False

    # Life cycle

    def start(self, timeout: float = 15.0) -> VirtualBoard:
        """Boot the board; returns once its peripherals are linked and boot.py/main.py are starting."""
        if self._thread is not None:
            raise RuntimeError("this virtual board was already started")
        self._state_dir = Path(tempfile.mkdtemp(prefix="zoo-sim-"))
        if self._flash_arg is None:
            self.flash = self._state_dir / "flash"
            self.flash.mkdir()
            self._owns_flash = True
        else:
            self.flash = self._flash_arg.resolve()
            self.flash.mkdir(parents=True, exist_ok=True)
        try:
            install(self.flash, self.app, self.profile, self.install_lib, self.mpy, self.romfs)
        except BaseException:
            shutil.rmtree(self._state_dir, ignore_errors=True)  # a temporary flash goes with it
            raise
        self._uid = hashlib.sha256(str(self.flash).encode()).hexdigest()[:12]
        self._port = SerialPort(self.link, lambda fd, write: self._watch("port", fd, write))
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel = selectors.DefaultSelector()
        self._link.listen(self._sel)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._spawn("power", "friendly")
        self._thread = threading.Thread(target=self._loop, name=f"zoo-sim-{self.profile.id}", daemon=True)
        self._thread.start()
        try:
            self._wait_boots(1, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def romfs_partition(self) -> Path:
        """The host file holding the board's ROMFS partition."""
        assert self.flash is not None
        return self.flash / ROMFS_FILE

    def stop(self) -> None:
        """Power the board off and release its port; a temporary flash folder is deleted."""
        if self._thread is None or self._closed:
            return
        self._stopping = True
        if self._thread.is_alive():
            try:
                self._call(lambda: self._kill("stop"), timeout=5)
            except (TimeoutError, RuntimeError):
                pass
            self._thread.join(5)
        self._stopped = True
        self._closed = True
        self._close_all()

    def __enter__(self) -> VirtualBoard:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _close_all(self) -> None:
        self._child.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        assert self._port is not None
        self._port.close()
        self._link.close()
        self._sel.close()
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    @property
    def port(self) -> str:
        """The serial port to give mpremote or zoo-micro deploy: the --link path, else the pty."""
        assert self._port is not None
        return self._port.path

    @property
    def pty(self) -> str:
        """The pseudo-terminal behind the port."""
        assert self._port is not None
        return self._port.pty

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopped

    # Resets

    def reset(self, timeout: float = 15.0) -> None:
        """Hard reset (the reset button): boots again from boot.py and main.py."""
        self._restart("hard", timeout)

    def soft_reset(self, timeout: float = 15.0) -> None:
        """Soft reset, as Ctrl-D at the REPL: prints "soft reboot" and runs boot.py (and main.py
        unless the board is in the raw REPL)."""
        self._restart("soft", timeout)

    def _restart(self, reason: str, timeout: float) -> None:
        with self._cond:
            boots = self._boots
        self._call(lambda: self._kill(reason))
        self._wait_boots(boots + 1, timeout)

    def interrupt(self) -> None:
        """Ctrl-C on the serial port: stops the running program and leaves the board at the REPL."""
        self.write(b"\x03")

    def write(self, data: bytes) -> None:
        """Bytes into the board's serial port, as if typed or sent by a tool on the host."""
        self._call(lambda: self._board_input(bytes(data)))

    def wait_for_reset(self, cause: str | None = None, timeout: float = 10.0) -> str:
        """The next reset (of this cause, if given) after the last one waited for; returns its cause."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._reset_cursor < len(self.resets):
                    got = self.resets[self._reset_cursor]
                    self._reset_cursor += 1
                    if cause is None or got == cause:
                        return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for a {cause or 'board'} reset")
                self._cond.wait(left)

    def _wait_boots(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._boots < count:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped:
                    raise UserError(
                        f"the virtual {self.profile.id} did not boot within {timeout}s; it printed:\n"
                        + self.log.text[-800:]
                    )
                self._cond.wait(min(left, 0.1))

    # Output

    @property
    def output(self) -> str:
        """Everything the board printed so far."""
        return self.log.text

    def read_output(self) -> str:
        """What the board printed since the last call."""
        return self.log.read_new()

    def wait_for_output(self, pattern: str | re.Pattern, timeout: float = 10.0) -> re.Match:
        """Wait for pattern (literal text, or a compiled regex) after the previous match."""
        return self.log.wait_for(pattern, timeout)

    def wait_for_event(self, pattern: str | re.Pattern, timeout: float = 10.0) -> str:
        """Wait for the next printed line containing pattern; returns the line."""
        return self.log.wait_for_line(pattern, timeout)

    def wait_for_app_error(self, timeout: float = 10.0) -> dict:
        """Wait until boot.py or main.py stops with an uncaught error; returns the last one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for the app to stop on an error")
                self._cond.wait(left)
            return self.errors[-1]

    @property
    def app_error(self) -> dict | None:
        """The last uncaught error of boot.py or main.py: {"script", "error", "at"}, else None."""
        with self._cond:
            return self.errors[-1] if self.errors else None

    # Peripherals (see host_tools.sim.peripherals for what each does)

    def set_pin(self, pin: PinId, value: int | bool | None) -> None:
        self.peripherals.set_pin(pin, value)

    def pin(self, pin: PinId) -> int | None:
        return self.peripherals.pin(pin)

    def wait_for_pin(self, pin: PinId, value: int, timeout: float = 10.0) -> None:
        self.peripherals.wait_for_pin(pin, value, timeout)

    def set_adc(self, pin: PinId, value: int | None = None, **kwargs) -> None:
        self.peripherals.set_adc(pin, value, **kwargs)

    def i2c_device(self, address: int, device: I2CDevice) -> I2CDevice:
        return self.peripherals.i2c_device(address, device)

    def uart_send(self, uart: int, data: bytes) -> None:
        self.peripherals.uart_send(uart, data)

    def uart_loopback(self, uart: int, on: bool = True) -> None:
        self.peripherals.uart_loopback(uart, on)

    def uart_received(self, uart: int, clear: bool = True) -> bytes:
        return self.peripherals.uart_received(uart, clear)

    def wait_for_uart(self, uart: int, data: bytes, timeout: float = 10.0) -> bytes:
        return self.peripherals.wait_for_uart(uart, data, timeout)

    def set_rtc(self, when: datetime.datetime) -> None:
        """Set the board's RTC (machine.RTC().datetime()); naive datetimes are taken as UTC."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        self.peripherals.set_rtc_offset(when.timestamp() - time.time())

    # The supervisor thread

    def _call(self, fn: Callable[[], object], timeout: float = 10.0) -> object:
        """Run fn on the supervisor thread and return its result."""
        if threading.current_thread() is self._thread:
            return fn()
        if self._thread is None or self._stopped:
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
            while not (self._stopping and not self._child.alive):
                for key, mask in self._sel.select(self._timeout()):
                    self._dispatch(key.data, mask)
                self._tick()
        finally:
            self._child.terminate()
            with self._cond:
                self._stopped = True
                self._cond.notify_all()

    def _timeout(self) -> float:
        now = time.monotonic()
        t = 1.0
        assert self._port is not None
        if not self._port.connected:
            t = TICK
        for at in (self._wdt_deadline, self._sleep_until):
            if at is not None:
                t = min(t, max(0.0, at - now))
        return t

    def _dispatch(self, what: object, mask: int) -> None:
        assert self._port is not None
        if what == "child":
            if mask & selectors.EVENT_READ:
                self._child_readable()
            if mask & selectors.EVENT_WRITE:
                self._child.flush()
        elif what == "port":
            if mask & selectors.EVENT_READ:
                self._port_readable()
            if mask & selectors.EVENT_WRITE and self._port.connected:
                self._port.flush()
        elif what == "server":
            self._link.accept()
        elif what == "wake":
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
            while not self._calls.empty():
                self._calls.get_nowait()()
        elif isinstance(what, Conn):
            self._link.readable(what)

    def _tick(self) -> None:
        now = time.monotonic()
        if self._wdt_deadline is not None and now >= self._wdt_deadline and self._child.alive:
            self._wdt_deadline = None
            self._status("watchdog not fed: board reset")
            self._kill("wdt")
        if self._sleep_until is not None and now >= self._sleep_until and not self._child.alive:
            self._sleep_until = None
            self._asleep = False
            self._spawn("deepsleep", "friendly")
        assert self._port is not None
        self._port.check_opened()

    def _watch(self, what: str, fd: int, write: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0)
        try:
            self._sel.modify(fd, events, what)
        except KeyError:
            self._sel.register(fd, events, what)

    def _status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    # The interpreter (see host_tools.sim.process)

    def _spawn(self, cause: str, mode: str) -> None:
        assert self.flash is not None and self._state_dir is not None
        if cause not in ("power", "soft") and not self.log.text.endswith("\n"):
            self._show(b"\r\n")  # a reset starts a new line, as a board's boot messages do
        cfg = {
            "port": self._link.port,
            "token": self._link.new_boot(),
            "flash": str(self.flash),
            "flash_kb": self.profile.flash_kb,
            "mode": mode,
            "cause": CAUSE_ON_BOARD[cause],
            "board": self.profile.id,
            "freq": self.profile.freq,
            "uid": self._uid,
            "rtc": self.peripherals.rtc_offset,
            "heap_free": self.profile.heap_kb * 1024,
            "max_threads": self.profile.max_threads,
            "romfs": str(self.flash / ROMFS_FILE),
            "romfs_kb": self.profile.romfs_kb,
        }
        self.rom_bytes = rom_image_bytes(self.flash, self.profile.romfs_kb)
        # The image is read into the heap at boot: grown by its size, the app keeps the board's heap.
        heap = self.profile.heap_kb + SIM_HEAP_KB + -(-self.rom_bytes // 1024)
        self._child.start(cfg, heap, self._state_dir, mode)
        self.main_running = False
        with self._cond:
            self.resets.append(cause)
            self._cond.notify_all()

    def _kill(self, reason: str) -> None:
        if not self._child.alive:
            if reason == "stop":
                self._sleep_until = None
            elif reason in ("hard", "soft") and self._asleep:
                self._sleep_until = time.monotonic()  # a reset wakes a board from deep sleep
            return
        self._child.kill(reason)

    def _child_readable(self) -> None:
        shown = self._child.read()
        if shown:
            self._show(shown)
        elif shown is None:
            self._child_exited()

    def _child_exited(self) -> None:
        assert self._child.fd is not None
        self._sel.unregister(self._child.fd)
        code, reason = self._child.reap()
        self._link.board_gone()
        self.main_running = False
        if reason == "stop" or self._stopping:
            return
        if reason in ("hard", "wdt"):
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
            self._spawn("soft", self._child.filter.mode)

    def _show(self, data: bytes) -> None:
        self.log.append(data)
        if self.echo is not None:
            self.echo(data)
        assert self._port is not None
        self._port.send(data)

    def _board_input(self, data: bytes) -> None:
        self._child.input(data)

    def _port_readable(self) -> None:
        assert self._port is not None and self._port.fd is not None
        fd = self._port.fd
        data = self._port.read()
        if data is None:
            self._sel.unregister(fd)  # the client closed the port: unwatched until the next one opens it
        elif data:
            self._board_input(data)

    # The control link (see host_tools.sim.control_link)

    def _from_board(self, msg: dict) -> dict | None:
        op = msg.get("op")
        if op == "hello":
            with self._cond:
                self._boots += 1
                self._cond.notify_all()
            return {"state": self.peripherals.initial_state()}
        if op == "wdt":
            self._wdt = msg["timeout"] / 1000
            self._wdt_deadline = time.monotonic() + self._wdt
        elif op == "feed":
            if self._wdt is not None:
                self._wdt_deadline = time.monotonic() + self._wdt
        elif op in ("reset", "soft_reset"):
            self._kill("hard" if op == "reset" else "soft")
        elif op == "deepsleep":
            self._sleep_ms = msg["ms"]
            self._kill("deepsleep")
        elif op == "script_error":
            error = {"script": msg["script"], "error": msg["error"], "at": msg["at"]}
            with self._cond:
                self.errors.append(error)
                self._cond.notify_all()
            if error["script"] == "main.py":
                self.main_running = False
            self._status(f"{error['script']} stopped: {error['error']}")
        elif op == "running":
            self._child.running()
        elif op == "main_started":
            self.main_running = True
        elif op == "main_done":
            self.main_running = False
        else:
            return self.peripherals.handle(msg)
        return None
