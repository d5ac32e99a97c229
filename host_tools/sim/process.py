"""The virtual board's interpreter: the MicroPython unix port running the board-side modules (board/) on
a pty, started again on every boot. Owned by the board's supervisor thread."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import tty
from collections.abc import Callable
from pathlib import Path

from host_tools.interpreter import micropython_env, micropython_path
from host_tools.mpy import compile_file
from host_tools.sim.console import ConsoleFilter
from host_tools.sim.flash import PowerCut, power_cut

BOARD_DIR = Path(__file__).resolve().parent / "board"
BOARD_MODULES = ("simboot", "simlink", "simthread", "simvfs", "machine", "simio", "select", "time", "flashfs",
                 "simsys", "simos")  # fmt: skip
SIM_HEAP_KB = 64  # room for the simulator's own modules (~40 KB); the rest is held back at boot
# A Ctrl-C right behind one that became SIGINT is dropped: the unix port drops its SIGINT handler while
# it handles the first (kbd_intr(-1) in the boot script), and a second signal then would kill it.
SIGINT_SETTLE = 0.05
MAX_BUFFER = 4 << 20  # bytes held for a slow reader before output is dropped, as a board's USB would


class Interpreter:
    """One board's interpreter process and what goes to its stdin. watch(fd, write) is called when the
    pty needs watching for writability (input waits) or not."""

    def __init__(self, watch: Callable[[int, bool], None]) -> None:
        self.watch = watch
        self.filter = ConsoleFilter()
        self.proc: subprocess.Popen | None = None
        self.fd: int | None = None
        self.kill_reason: str | None = None
        self._to_child = bytearray()
        self._phase = "boot"  # "boot" until boot.py/main.py or the REPL starts, then "running"
        self._held = bytearray()  # input from a Ctrl-C typed during boot on
        self.read_at = 0.0  # when output last came
        self._sigint_at = -1.0  # when a Ctrl-C last became SIGINT

    @property
    def alive(self) -> bool:
        return self.proc is not None

    def start(self, cfg: dict, heap_kb: int, home: Path, mode: str) -> None:
        """Boot: the board-side modules read cfg; mode is "friendly" or "raw" (the REPL it ends in)."""
        board_dir = compiled_board_modules()
        env = micropython_env([board_dir])
        env.update(ZOO_SIM=json.dumps(cfg), TZ="UTC", HOME=str(home))
        master, slave = os.openpty()
        tty.setraw(slave)
        self.proc = subprocess.Popen(
            [micropython_path(), "-X", f"heapsize={heap_kb}K", "-i", str(board_dir / "boot_sim.py")],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=home,
            start_new_session=True,
        )
        os.close(slave)
        os.set_blocking(master, False)
        self.fd = master
        self._to_child.clear()
        self._phase = "boot"
        self.watch(master, False)
        self.filter.boot(mode, cfg["machine"], str(board_dir))

    def kill(self, reason: str) -> None:
        """End the process; reason is what reap() reports, which decides how the board boots next."""
        assert self.proc is not None
        self.kill_reason = reason
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def power_cut(self, flash: Path, tear: bool) -> PowerCut:
        """End the process as a power cut does: writes not yet closed on the flash are lost."""
        assert self.proc is not None
        self.kill_reason = "power"
        cut = power_cut(flash, self.proc.pid, tear=tear)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return cut

    def read(self) -> bytes | None:
        """What the board printed, for its serial port (b"" if nothing); None once the process ended."""
        assert self.fd is not None
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return b""
        except OSError:
            data = b""
        if not data:
            return None
        self.read_at = time.monotonic()
        return self._shown(self.filter.feed(data))

    def flush_held(self) -> bytes:
        """What the console filter held back for the rest of a line that did not come."""
        return self._shown(self.filter.flush())

    def _shown(self, filtered: tuple[bytes, bool, bool]) -> bytes:
        shown, enter_raw, at_repl = filtered
        if at_repl:
            self.running()
        if enter_raw:
            self._to_child[:0] = b"\x01"
            self.flush()
        return shown

    def reap(self) -> tuple[int, str | None]:
        """After read() returned None (the fd is no longer watched): its exit code and kill reason."""
        assert self.proc is not None and self.fd is not None
        os.close(self.fd)
        self.fd = None
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        self.proc = None
        reason, self.kill_reason = self.kill_reason, None
        return code, reason

    def terminate(self) -> None:
        """Nothing may outlive the board's supervisor."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None

    def input(self, data: bytes) -> None:
        """Bytes for the board's stdin. Ctrl-C becomes SIGINT while code runs, as a board's UART IRQ
        turns it into KeyboardInterrupt, and stays a byte when the REPL or the app (kbd_intr(-1))
        reads it. During boot it waits, with what follows it, until boot.py, main.py or the REPL
        starts."""
        if self.proc is None:
            return  # asleep or between boots: the bytes are lost, as on a board
        self._held += data
        if len(self._held) > MAX_BUFFER:
            del self._held[: len(self._held) - MAX_BUFFER]
        self._release_input()

    def running(self) -> None:
        """boot.py, main.py or the REPL started: input held since a Ctrl-C goes on."""
        self._phase = "running"
        self._release_input()

    def _release_input(self) -> None:
        while self._held and self.proc is not None:
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
            if time.monotonic() - self._sigint_at < SIGINT_SETTLE:
                continue  # as a board's UART IRQ takes it: the interrupt it asks for is on its way
            if catches_sigint(self.proc.pid):
                os.kill(self.proc.pid, signal.SIGINT)
                self._sigint_at = time.monotonic()
            else:
                self._to_child += b"\x03"
        self.flush()

    def flush(self) -> None:
        if self.fd is None:
            return
        write_pending(self.fd, self._to_child)
        self.watch(self.fd, bool(self._to_child))


def write_pending(fd: int, pending: bytearray) -> None:
    """Write what a non-blocking fd takes now and drop it from `pending`; all of it if the fd is gone."""
    if pending:
        try:
            del pending[: os.write(fd, pending)]
        except BlockingIOError:
            pass
        except OSError:
            pending.clear()


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
        # tracebacks name the folder the boot script runs from
        compile_file(BOARD_DIR / f"{name}.py", scratch / f"{name}.mpy", None, f"{folder}/{name}.py",
                     then="the simulator's own modules are damaged: reinstall zoo-micro")  # fmt: skip
    shutil.copy(BOARD_DIR / "boot_sim.py", scratch / "boot_sim.py")
    try:
        scratch.rename(folder)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)  # another board made it at the same time
    return folder


def catches_sigint(pid: int) -> bool:
    """Whether the interpreter has its Ctrl-C handler installed (it does while running code)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        pass
    return False
