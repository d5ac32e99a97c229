"""A virtual board: an app on the real MicroPython unix port with a board's heap, a flash folder, fake
peripherals the host scripts, and a serial port (a pty) that mpremote and the bridge talk to.

This is what the host calls; the board runs on a supervisor thread (supervisor.py) that owns the
interpreter (process.py), the serial port (serial_port.py) and the control sockets (control_link.py).
"""

from __future__ import annotations

import datetime
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from host_tools.deploy.plan import check_app
from host_tools.errors import UserError
from host_tools.sim.devices import I2CDevice
from host_tools.sim.flash import ROMFS_FILE, install
from host_tools.sim.output import OutputLog
from host_tools.sim.peripherals import Peripherals, PinId
from host_tools.sim.profile import SimProfile, sim_profile
from host_tools.sim.supervisor import Supervisor


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
        self._sup: Supervisor | None = None
        self._closed = False
        self._state_dir: Path | None = None
        self._owns_flash = False

    # Life cycle

    def start(self, timeout: float = 15.0) -> VirtualBoard:
        """Boot the board; returns once its peripherals are linked and boot.py/main.py are starting."""
        if self._sup is not None:
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
            sup = Supervisor(self, self._state_dir)
        except BaseException:
            shutil.rmtree(self._state_dir, ignore_errors=True)  # a temporary flash goes with it
            raise
        self._sup = sup
        sup.start()
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
        if self._sup is None or self._closed:
            return
        self._sup.stop()
        self._closed = True
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def __enter__(self) -> VirtualBoard:
        return self.start() if self._sup is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> str:
        """The serial port to give mpremote or zoo-micro deploy: the --link path, else the pty."""
        assert self._sup is not None, "the board's port exists once it is started"
        return self._sup.port.path

    @property
    def pty(self) -> str:
        """The pseudo-terminal behind the port."""
        assert self._sup is not None, "the board's port exists once it is started"
        return self._sup.port.pty

    @property
    def running(self) -> bool:
        return self._sup is not None and not self._sup.stopped

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
        self._call(lambda: self._supervisor().kill(reason))
        self._wait_boots(boots + 1, timeout)

    def power_cut(self, tear: bool = False, timeout: float = 15.0):
        """Cut the power and boot again: what was not yet written to flash is lost, and with
        `tear` one write in progress is left torn (host_tools.sim.flash.power_cut). Returns the
        PowerCut (which files lost what), or None if the board was not running."""
        with self._cond:
            boots = self._boots
        cut = self._call(lambda: self._supervisor().power_cut(tear))
        if cut is not None:
            self._wait_boots(boots + 1, timeout)
        return cut

    def interrupt(self) -> None:
        """Ctrl-C on the serial port, after a CR as tools send it: stops the running program (a
        bridged app too, whose link reads CR then Ctrl-C as one) and leaves the board at the REPL."""
        self.write(b"\r\x03")

    def write(self, data: bytes) -> None:
        """Bytes into the board's serial port, as if typed or sent by a tool on the host."""
        self._call(lambda: self._supervisor().board_input(bytes(data)))

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
                if left <= 0 or self._sup is None or self._sup.stopped:
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

    # What the supervisor thread reports, and asks of it

    def _supervisor(self) -> Supervisor:
        if self._sup is None:
            raise RuntimeError("the virtual board is not running")
        return self._sup

    def _call(self, fn: Callable[[], object], timeout: float = 10.0) -> object:
        """Run fn on the supervisor thread and return its result."""
        return self._supervisor().call(fn, timeout)

    def _send_cmd(self, msg: dict) -> None:
        if self._sup is not None:
            self._sup.link.send(msg)

    def _booting(self, cause: str) -> None:
        with self._cond:
            self.resets.append(cause)
            self._cond.notify_all()

    def _booted(self) -> None:
        with self._cond:
            self._boots += 1
            self._cond.notify_all()

    def _app_stopped(self, error: dict) -> None:
        with self._cond:
            self.errors.append(error)
            self._cond.notify_all()

    def _supervisor_ended(self) -> None:
        with self._cond:
            self._cond.notify_all()
