"""The session that talks to a board over its serial port with mpremote's transport: opens the port,
runs the board-side helper (board_helper.py) in the raw REPL, asks the board what it holds, and
carries out what plan.py decides."""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import hashlib
import io
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

from host_tools.deploy.plan import (
    LIB,
    MANIFEST,
    STAGE,
    DeployResult,
    FileToCopy,
    changes,
    check_app,
    check_space,
    check_syntax,
    empty_romfs,
    manifest_text,
    plan_files,
    plan_romfs,
    swap,
)
from host_tools.errors import UserError
from host_tools.mpy import device_arch

HELPER = Path(__file__).resolve().parent / "board_helper.py"
CHUNK = 2048  # bytes per raw-REPL write: fewer round trips than mpremote's 256, small for any board
ROM_PARTITION = 0
NO_ROMFS = (
    "the board's firmware has no ROMFS partition: deploy without --romfs, or flash a MicroPython "
    "(1.25 or later) built with one"
)
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
KICK_EVERY = 0.25  # seconds between Ctrl-Cs while taking a board over
QUIET = 0.1  # seconds without output that say the board has answered every Ctrl-A
# A port's lock can outlive its last user for a moment: a process forked just then (a virtual board
# restarting its interpreter) holds a copy of the descriptor until it execs.
BUSY_GRACE = 1.0


class BoardLost(UserError):
    """The port stopped answering part-way (unplugged, reset, another program took it)."""


class NotTakenOver(UserError):
    """The board's REPL did not answer within the timeout: nothing was done on it."""


class Progress:
    """What deploy reports while it works; the CLI draws it."""

    def planned(self, to_copy: list[FileToCopy], total_bytes: int) -> None:
        pass

    def copying(self, path: str) -> None:
        pass

    def advanced(self, nbytes: int) -> None:
        pass


@functools.cache
def helper_code() -> str:
    """board_helper.py as the board runs it: its code, without the comment lines."""
    lines = HELPER.read_text().splitlines()
    return "\n".join(ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")) + "\n"


@functools.cache
def helper_cleanup() -> str:
    """What deletes the helper's functions again, leaving the board's REPL globals as they were."""
    names = [n.name for n in ast.parse(HELPER.read_text()).body if isinstance(n, ast.FunctionDef)]
    return "del " + ", ".join(names)


def open_transport(port: str, timeout: float = 10.0):
    """mpremote's SerialTransport on port, or a UserError saying why the port cannot be opened.
    Reads give up after timeout seconds of silence (mpremote's own default waits forever on a pty)."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    if "://" not in port and not os.path.exists(port):
        raise UserError(
            f"no such port {port}: plug the board in and look for it with zoo-micro detect, "
            f"or start a virtual board with zoo-micro sim APP --link {port}"
        )
    # A link to a pty (zoo-micro sim --link) is opened by its real name: mpremote then reads the
    # pty blocking instead of polling it every 10 ms.
    device = os.path.realpath(port) if os.path.islink(port) else port
    deadline = time.monotonic() + BUSY_GRACE
    while True:
        try:
            return SerialTransport(device, baudrate=115200, timeout=timeout)
        except TransportError:
            why = _why_unopenable(port)
            if " is busy" not in why or time.monotonic() > deadline:
                raise UserError(why) from None
            time.sleep(0.05)


def _why_unopenable(port: str) -> str:
    import serial

    try:
        serial.Serial(port, exclusive=True).close()
    except serial.SerialException as e:
        text = str(e)
        if "exclusively lock" in text:
            return (
                f"port {port} is busy: another program (mpremote, a serial monitor, zoo-micro watch) "
                "has it open; close it and retry"
            )
        if "Permission denied" in text or "Errno 13" in text:
            return f"no permission to open {port}: add yourself to the dialout group (then log in again)"
        return f"cannot open {port}: {text}"
    return f"cannot open {port}; unplug the board, plug it back and retry"


class BoardSession:
    """An open raw-REPL connection to a board (real or virtual) that deploy and watch work through."""

    def __init__(self, port: str, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self.transport = open_transport(port, timeout)

    def close(self) -> None:
        try:
            self.transport.close()
        except OSError:
            pass  # a pty refuses the DTR/RTS mpremote clears first
        finally:
            self.transport.serial.close()

    def __enter__(self) -> BoardSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def enter_raw_repl(self, soft_reset: bool = True) -> None:
        """Stop what the board runs and enter its raw REPL (soft-reset in it first, unless told not to),
        within the session's timeout. Ctrl-C goes again and again until the REPL answers, as a person
        would press it: an app may miss one (a link that reads the port stops only on CR then Ctrl-C,
        and a board still booting ignores it), and a chatty app keeps mpremote's own wait from ever
        timing out."""
        deadline = time.monotonic() + self.timeout
        heard = self._take_over(deadline)
        if soft_reset:
            self.transport.serial.write(b"\x04")  # Ctrl-D: soft reset, back into the raw REPL
            heard += self._read_until(b"soft reboot\r\n", deadline)
        else:
            self.transport.serial.write(b"\x01")  # Ctrl-A again: one banner (and its prompt) to follow
        heard += self._read_until(RAW_BANNER, deadline)
        if not heard.endswith(RAW_BANNER):
            raise self._no_repl(heard)
        self.transport.in_raw_repl = True

    def _take_over(self, deadline: float) -> bytes:
        """Ctrl-C and Ctrl-A, repeated, until the raw REPL's banner and prompt come; then wait until
        the board is quiet, so that no second banner answers a repeat. Returns what was read."""
        ser = self.transport.serial
        heard = b""
        tail = b""
        kick_at = 0.0
        while True:
            now = time.monotonic()
            if RAW_BANNER + b">" in tail:
                break
            if now >= deadline:
                raise self._no_repl(heard)
            if now >= kick_at:
                ser.write(b"\r\x03\r\x01")  # CR first: a link takes CR then Ctrl-C as a takeover
                kick_at = now + KICK_EVERY
            data = self._read_some(min(0.05, deadline - now))
            heard += data
            tail = (tail + data)[-256:]
        while time.monotonic() < deadline:  # answers to the last Ctrl-A in flight
            data = self._read_some(QUIET)
            if not data:
                break
            heard += data
        return heard

    def _read_some(self, wait: float) -> bytes:
        ser = self.transport.serial
        n = ser.in_waiting
        if n:
            return ser.read(n)
        old = ser.timeout
        ser.timeout = max(0.001, wait)
        try:
            data = ser.read(1)
        finally:
            ser.timeout = old
        n = ser.in_waiting if data else 0
        return data + ser.read(n) if n else data

    def _read_until(self, ending: bytes, deadline: float) -> bytes:
        """Bytes up to and including ending, or what came by the deadline."""
        ser = self.transport.serial
        data = b""
        while not data.endswith(ending):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            old = ser.timeout
            ser.timeout = min(left, 0.1)
            try:
                data += ser.read(1)
            finally:
                ser.timeout = old
        return data

    def _no_repl(self, heard: bytes) -> NotTakenOver:
        if not heard.strip():
            return NotTakenOver(
                f"the board on {self.port} does not answer the raw REPL: is MicroPython running on it? "
                "Press its reset button (or flash it with zoo-micro flash) and retry"
            )
        return NotTakenOver(
            f"the app on {self.port} kept running through Ctrl-C for {self.timeout:g}s and the board did "
            "not give up its REPL: press its reset button and retry at once, or give more --timeout"
        )

    def exec(self, code: str, doing: str) -> bytes:
        from mpremote.transport import TransportError, TransportExecError

        try:
            return self.transport.exec(code)
        except TransportExecError as e:
            raise _board_error(e.error_output, doing) from None
        except (TransportError, OSError) as e:
            raise BoardLost(
                f"lost the board on {self.port} while {doing} ({e}); its previous app is still in place: "
                "reset it and deploy again"
            ) from None

    def recover(self) -> None:
        """After an interrupted sync: stop what the board was doing for it, remove the staged files and
        start the app that is still in place. Best effort: the interrupt is what the caller reports."""
        from mpremote.transport import TransportError

        try:
            # Ctrl-D ends a raw paste cut short (the board then refuses its half a command); at an empty
            # raw-REPL line it is a soft reset, which does no harm here.
            self.transport.serial.write(b"\x04")
            self.enter_raw_repl(soft_reset=False)
            self.transport.exec(helper_code() + f"_zd_rmtree({STAGE!r})\n" + helper_cleanup())
        except (UserError, TransportError, OSError):
            pass
        try:
            self.run_app()
        except (TransportError, OSError):
            pass

    def run_app(self) -> None:
        """Leave the raw REPL and soft-reset from the friendly one, so boot.py and main.py run. Not in
        the raw REPL (the board was never taken over), the board is left as it is."""
        if not self.transport.in_raw_repl:
            return
        self.transport.exit_raw_repl()
        self.transport.serial.write(b"\x04")
        self._read_until(b"soft reboot\r\n", time.monotonic() + 5)

    def read_output(self) -> bytes:
        """What the board printed and nobody has read yet (non-blocking)."""
        serial = self.transport.serial
        n = serial.in_waiting
        return serial.read(n) if n else b""

    def sync(
        self,
        app: Path,
        mpy: bool = True,
        dry_run: bool = False,
        progress: Progress | None = None,
        soft_reset: bool = True,
        romfs: bool = False,
    ) -> DeployResult:
        """Make the board hold exactly this app and zoo_micro; the board must not be in raw REPL yet.
        mpy: .py files but main.py and boot.py as .mpy for the board; romfs: those in its ROMFS."""
        progress = progress or Progress()
        t0 = time.monotonic()
        # A dry run resets too: the app it stops holds the heap the queries need, and it runs again after.
        self.enter_raw_repl(soft_reset=soft_reset)
        self.exec(helper_code(), "preparing the board")
        info = self._query_device()
        image = None
        if romfs:
            image, files = plan_romfs(app, device_arch(info["mpy"]))
        else:
            files = plan_files(app, True, device_arch(info["mpy"]) if mpy else None)
            if info["rom_zoo"]:
                image = empty_romfs()  # zoo_micro in ROMFS comes first on sys.path: it would shadow /lib
        name = app.resolve().name
        plan = changes(files, self._hashes([f.remote for f in files]), info["manifest"], name)
        to_copy = plan.to_copy
        result = DeployResult(dry_run=dry_run, skipped=plan.skipped, removed=plan.removed)
        result.copied = [f.remote for f in to_copy]
        result.bytes_copied = sum(len(f.data) for f in to_copy)
        if image is not None and not self._rom_holds(image):
            result.romfs_bytes = len(image)
        if dry_run:
            self.exec(helper_cleanup(), "cleaning up")
            result.seconds = time.monotonic() - t0
            return result
        check_syntax(to_copy)  # what goes as source: everything with --py, else main.py and boot.py
        check_space(info["free"], info.get("bsize"), to_copy, self.port)
        if result.romfs_bytes:
            self._write_romfs(image)
        progress.planned(to_copy, result.bytes_copied)
        self.exec(f"_zd_rmtree({STAGE!r})", "clearing an unfinished deploy")
        steps = swap(result.copied, result.removed)
        if to_copy:
            self.exec(f"_zd_mkdirs({steps.stage_dirs!r})", "making folders")
            for f, dest in zip(to_copy, steps.staged, strict=True):
                progress.copying(f.remote)
                self._write(dest, f.data, progress)
        if steps.final_dirs:
            self.exec(f"_zd_mkdirs({steps.final_dirs!r})", "making folders")
        text = manifest_text(name, files)
        with _interrupt_after():  # every file arrived: the swap is quick, and half a swap is no app
            self.exec(
                f"_zd_swap({steps.moves!r}, {steps.removes!r}, {steps.emptied!r}, {MANIFEST!r}, {text!r})",
                "putting the new files in place",
            )
        self.exec(helper_cleanup(), "cleaning up")
        result.seconds = time.monotonic() - t0
        return result

    def _query_device(self) -> dict:
        out = self.exec(
            "_zd_s = os.statvfs('/')\n"
            f"print(repr({{'mpy': getattr(sys.implementation, '_mpy', 0), 'bsize': _zd_s[0], "
            f"'free': _zd_s[0] * _zd_s[4], "
            f"'rom_zoo': _zd_hash('/rom/{LIB}/__init__.mpy') is not None}}))\n"
            "del _zd_s",
            "reading the board's filesystem",
        )
        info = ast.literal_eval(out.decode().strip())
        # The manifest comes in pieces, one line each: read whole, it may not fit in a busy board's heap.
        out = self.exec(f"_zd_cat({MANIFEST!r})", "reading the board's deploy manifest")
        pieces = [ast.literal_eval(line.strip()) for line in out.decode().split("\n") if line.strip()]
        info["manifest"] = None if pieces == [None] else b"".join(pieces).decode("utf-8", "replace")
        return info

    def _rom_holds(self, image: bytes) -> bool:
        """Whether the ROMFS partition starts with this image already; a UserError if there is none,
        or if the image does not fit."""
        out = self.exec(f"print(repr(_zd_rom({len(image)})))", "reading the board's ROMFS partition")
        found = ast.literal_eval(out.decode().strip())
        if found is None:
            raise UserError(NO_ROMFS)
        size, digest = found
        if len(image) > size:
            raise UserError(
                f"the ROMFS image is {len(image) // 1024} KB and the board's ROMFS partition "
                f"{size // 1024} KB; deploy without --romfs, or flash a firmware with a larger partition"
            )
        return digest == hashlib.sha256(image).hexdigest()

    def _write_romfs(self, image: bytes) -> None:
        """The image into the ROMFS partition, with mpremote's own `romfs deploy`."""
        from mpremote.commands import CommandError, _do_romfs_deploy
        from mpremote.transport import TransportError, TransportExecError

        class State:
            transport = self.transport

            def ensure_raw_repl(self) -> None:
                pass

            def did_action(self) -> None:
                pass

        with tempfile.TemporaryDirectory(prefix="zoo-romfs-") as tmp:
            path = Path(tmp) / "romfs.img"
            path.write_bytes(image)
            args = argparse.Namespace(path=str(path), partition=ROM_PARTITION, mpy=False)
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # its progress, drawn with \r
                    _do_romfs_deploy(State(), args)
            except TransportExecError as e:
                raise _board_error(e.error_output, "writing the ROMFS image") from None
            except (TransportError, OSError) as e:
                raise BoardLost(
                    f"lost the board on {self.port} while writing its ROMFS image ({e}): reset it and "
                    "deploy again"
                ) from None
            except (CommandError, SystemExit):
                raise UserError(NO_ROMFS) from None

    def _hashes(self, remotes: list[str]) -> dict[str, str | None]:
        paths = ["/" + r for r in remotes]
        out = self.exec(
            f"print(repr([_zd_hash(p) for p in {paths!r}]))", "hashing the files already on the board"
        )
        return dict(zip(remotes, ast.literal_eval(out.decode().strip()), strict=True))

    def _write(self, dest: str, data: bytes, progress: Progress) -> None:
        from mpremote.transport import TransportError, TransportExecError

        done = [0]

        def advanced(written: int, _total: int) -> None:
            progress.advanced(written - done[0])
            done[0] = written

        try:
            self.transport.fs_writefile(dest, data, chunk_size=CHUNK, progress_callback=advanced)
        except OSError as e:
            if e.errno == 28:
                raise UserError(
                    f"the board's filesystem is full (writing {dest}); its previous app is still in place: "
                    "remove files from it (mpremote fs rm)"
                ) from None
            raise UserError(
                f"writing {dest} on the board failed: {e}; its previous app is still in place"
            ) from None
        except TransportExecError as e:
            raise _board_error(e.error_output, f"writing {dest}") from None
        except TransportError as e:
            raise BoardLost(
                f"lost the board on {self.port} while writing {dest} ({e}); its previous app is still in "
                "place: reset it and deploy again"
            ) from None


@contextlib.contextmanager
def _interrupt_after():
    """Ctrl-C (SIGINT) waits until the block ends, then raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = signal.signal(signal.SIGINT, lambda *_: got.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if got:
        raise KeyboardInterrupt


def _board_error(error_output: str, doing: str) -> UserError:
    lines = [ln.strip() for ln in error_output.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "an error"
    if "MemoryError" in error_output:
        return UserError(
            f"the board ran out of memory while {doing} ({last}); its previous app is still in place: "
            "free RAM (a boot.py that allocates runs before every deploy) and retry"
        )
    if "ENOSPC" in error_output or "OSError: 28" in error_output:
        return UserError(
            f"the board's filesystem is full ({doing}); its previous app is still in place: remove files "
            "from it (mpremote fs rm)"
        )
    return UserError(f"the board failed while {doing}: {last}")


def deploy(
    app: str | Path,
    port: str,
    mpy: bool = True,
    dry_run: bool = False,
    progress: Progress | None = None,
    timeout: float = 10.0,
    romfs: bool = False,
) -> DeployResult:
    """Sync the app and zoo_micro to the board on port, then soft-reset it so the app starts.
    mpy=False sends source; romfs puts zoo_micro and the app's modules in the ROMFS partition."""
    path = check_app(app)
    with BoardSession(port, timeout) as session:
        try:
            result = session.sync(path, mpy=mpy, dry_run=dry_run, progress=progress, romfs=romfs)
        except BoardLost:
            raise
        except UserError:
            session.run_app()  # nothing changed on the board: let its app run on
            raise
        except KeyboardInterrupt:
            session.recover()  # the previous app, or all of the new one, runs again
            raise
        session.run_app()
    return result
