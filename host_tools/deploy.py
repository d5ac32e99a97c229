"""zoo-micro deploy: sync an app and zoo_micro to a board over its serial port, with mpremote.

zoo_micro goes to /lib/zoo_micro and the app to /, as .mpy compiled for the board's arch (as mip
installs), but main.py and boot.py, which a board runs as source. With romfs, zoo_micro and the app's
modules go as one ROMFS image into the board's ROMFS partition (mpremote's own writer), and only
main.py, boot.py and data files to the filesystem. Only files whose SHA-256, computed on the board,
differs from the local one are sent. New files are written under /.zoo_stage first and renamed into
place only when every one arrived, so a deploy that fails half-way leaves the previous app runnable.
A manifest (/.zoo_deploy.json, written last) lists what was deployed, so files an earlier deploy of
the same app left behind are removed.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from host_tools.build import app_files, runtime_files
from host_tools.errors import UserError
from host_tools.interpreter import PROJECT_ROOT, micropython_path
from host_tools.mpy import compile_file
from host_tools.romfs import make_image

MANIFEST = "/.zoo_deploy.json"
STAGE = "/.zoo_stage"
LIB = "lib/zoo_micro"
RUN_AS_SOURCE = ("main.py", "boot.py")  # a board runs these by name, so they stay .py
CHUNK = 2048  # bytes per raw-REPL write: fewer round trips than mpremote's 256, small for any board
EEXIST = 17
# mpy arch numbers (sys.implementation._mpy >> 10) as mpy-cross -march names them
MPY_ARCH_NAMES = ("", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
                  "xtensa", "xtensawin", "rv32imc", "rv64imc")  # fmt: skip
MPY_VERSION = 6
ROM_PARTITION = 0
UNCHANGED = "nothing on the board changed: fix it and deploy again"
NO_ROMFS = (
    "the board's firmware has no ROMFS partition: deploy without --romfs, or flash a MicroPython "
    "(1.25 or later) built with one"
)
# A port's lock can outlive its last user for a moment: a process forked just then (a virtual board
# restarting its interpreter) holds a copy of the descriptor until it execs.
BUSY_GRACE = 1.0


class BoardLost(UserError):
    """The port stopped answering part-way (unplugged, reset, another program took it)."""


@dataclass(frozen=True)
class FileToCopy:
    remote: str  # path on the board, without the leading "/"
    data: bytes
    source: Path
    sha256: str


def check_app(app: str | Path) -> Path:
    """The app folder, or a UserError saying what is missing."""
    path = Path(app)
    if not path.is_dir():
        raise UserError(f"{app} is not a folder; give the app's folder (the one with main.py)")
    if not (path / "main.py").is_file():
        raise UserError(
            f"{app} has no main.py: a board runs main.py at boot; add one, or start from zoo-micro new NAME"
        )
    return path


def _file(remote: str, source: Path, data: bytes | None = None) -> FileToCopy:
    data = source.read_bytes() if data is None else data
    return FileToCopy(remote, data, source, hashlib.sha256(data).hexdigest())


def source_files(app: Path | None, lib: bool = True) -> list[tuple[str, Path]]:
    """(path on the board, local file) for zoo_micro and the app; an app's tests stay on the host."""
    found = []
    if lib:
        for rel in runtime_files():
            found.append((f"lib/{rel.as_posix()}", PROJECT_ROOT / rel))
    for rel in app_files(app) if app is not None else ():
        if rel.parts[0] == "tests":
            continue
        found.append((rel.as_posix(), app / rel))
    return found


def plan_files(app: Path | None, lib: bool = True, mpy_arch: str | None = None) -> list[FileToCopy]:
    """The files to have on the board; with mpy_arch, .py files (but main.py and boot.py) as .mpy."""
    sources = source_files(app, lib)
    if mpy_arch is None:
        return [_file(remote, src) for remote, src in sources]
    out = []
    with tempfile.TemporaryDirectory(prefix="zoo-mpy-") as tmp:
        for remote, src in sources:
            if src.suffix != ".py" or remote in RUN_AS_SOURCE:
                out.append(_file(remote, src))
                continue
            source = src.read_bytes()
            key = (hashlib.sha256(source).digest(), mpy_arch, remote)
            data = _COMPILED.get(key)
            if data is None:
                dest = Path(tmp) / remote
                _compile(src, dest.with_suffix(".mpy"), mpy_arch or None, remote)
                if len(_COMPILED) >= 1024:
                    _COMPILED.clear()  # bounded: a long watch session saves many versions
                data = _COMPILED[key] = dest.with_suffix(".mpy").read_bytes()
            out.append(_file(remote[:-3] + ".mpy", src, data))
    return out


# (source hash, arch, name) -> .mpy: watch and repeated deploys compile only what changed
_COMPILED: dict[tuple[bytes, str, str], bytes] = {}


def plan_romfs(app: Path | None, arch: str | None, lib: bool = True) -> tuple[bytes, list[FileToCopy]]:
    """zoo_micro and the app's modules as one ROMFS image of .mpy for arch, and the files that stay
    on the filesystem: main.py, boot.py and data files."""
    fs = []
    with tempfile.TemporaryDirectory(prefix="zoo-romfs-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        for remote, src in source_files(app, lib):
            if src.suffix != ".py" or remote in RUN_AS_SOURCE:
                fs.append(_file(remote, src))
                continue
            (tree / remote).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tree / remote)
        make_image(tree, Path(tmp) / "romfs.img", mpy=True, arch=arch, then=UNCHANGED)
        return (Path(tmp) / "romfs.img").read_bytes(), fs


def empty_romfs() -> bytes:
    """A valid image with nothing in it: what clears a ROMFS partition."""
    with tempfile.TemporaryDirectory(prefix="zoo-romfs-") as tmp:
        make_image(Path(tmp), Path(tmp) / "empty.img")
        return (Path(tmp) / "empty.img").read_bytes()


@functools.cache
def unix_port_arch() -> str:
    """The mpy-cross -march of the MicroPython unix port on this computer (what a virtual board runs)."""
    proc = subprocess.run(
        [micropython_path(), "-c", "import sys; print(sys.implementation._mpy)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return _device_arch(int(proc.stdout.strip() or 0))


def manifest_text(app_name: str, files: list[FileToCopy]) -> str:
    return json.dumps({"app": app_name, "files": {f.remote: f.sha256 for f in files}}, sort_keys=True)


def stale_files(old_manifest: str | None, app_name: str, files: list[FileToCopy]) -> list[str]:
    """Files an earlier deploy put on the board that this one does not: all of them for the same app,
    only zoo_micro's for another app (whose own files are not ours to delete)."""
    if not old_manifest:
        return []
    try:
        old = json.loads(old_manifest)
        old_files = list(old["files"])
    except (ValueError, KeyError, TypeError):
        return []
    keep = {f.remote for f in files}
    same_app = old.get("app") == app_name
    return sorted(p for p in old_files if p not in keep and (same_app or p.startswith(LIB + "/")))


@dataclass
class DeployResult:
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bytes_copied: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    romfs_bytes: int = 0  # size of the ROMFS image written (0: none, or the partition held it already)


def deploy_to_folder(root: Path, app: Path | None, lib: bool = True, mpy: bool = True) -> DeployResult:
    """The same sync into a local folder (a virtual board's flash), with the same manifest; mpy
    compiles for the MicroPython unix port of this computer, which a virtual board runs."""
    return sync_folder(root, app, plan_files(app, lib, unix_port_arch() if mpy else None))


def sync_folder(root: Path, app: Path | None, files: list[FileToCopy]) -> DeployResult:
    """Make the folder hold these files, as a sync to a board does (manifest, stale files)."""
    t0 = time.monotonic()
    result = DeployResult()
    name = app.resolve().name if app is not None else ""
    manifest = root / MANIFEST.lstrip("/")
    old = manifest.read_text() if manifest.is_file() else None
    for f in files:
        dest = root / f.remote
        if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == f.sha256:
            result.skipped.append(f.remote)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.data)
        result.copied.append(f.remote)
        result.bytes_copied += len(f.data)
    for path in stale_files(old, name, files):
        (root / path).unlink(missing_ok=True)
        result.removed.append(path)
    if files:
        manifest.write_text(manifest_text(name, files))
    result.seconds = time.monotonic() - t0
    return result


class Progress:
    """What deploy reports while it works; the CLI draws it."""

    def planned(self, to_copy: list[FileToCopy], total_bytes: int) -> None:
        pass

    def copying(self, path: str) -> None:
        pass

    def advanced(self, nbytes: int) -> None:
        pass


# Code run on the board. Names start with _zd so they cannot clash with the user's REPL globals.
_PRELUDE = """\
import os, sys, hashlib, binascii
def _zd_hash(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _zd_read(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return None
def _zd_rmtree(p):
    try:
        names = os.listdir(p)
    except OSError:
        return
    for n in names:
        q = p + '/' + n
        if os.stat(q)[0] & 0x4000:
            _zd_rmtree(q)
        else:
            os.remove(q)
    os.rmdir(p)
def _zd_mkdirs(ds):
    for d in ds:
        try:
            os.mkdir(d)
        except OSError as e:
            if e.errno != 17:
                raise
def _zd_rom(n):
    try:
        import vfs
    except ImportError:
        return None
    if not hasattr(vfs, 'rom_ioctl') or vfs.rom_ioctl(1) <= 0:
        return None
    d = vfs.rom_ioctl(2, 0)
    if isinstance(d, int):
        return None
    size = d.ioctl(4, 0) * d.ioctl(5, 0) if hasattr(d, 'ioctl') else len(d)
    h = None
    if 0 < n <= size:
        try:
            m = memoryview(d)[:n]
        except TypeError:
            m = d[:n]
        h = binascii.hexlify(hashlib.sha256(m).digest()).decode()
    return (size, h)
def _zd_swap(moves, removes, dirs, manifest, text):
    for s, d in moves:
        try:
            os.rename(s, d)
        except OSError:
            os.remove(d)
            os.rename(s, d)
    for p in removes:
        try:
            os.remove(p)
        except OSError:
            pass
    for d in dirs:
        try:
            os.rmdir(d)
        except OSError:
            pass
    with open(manifest + '.new', 'w') as f:
        f.write(text)
    try:
        os.rename(manifest + '.new', manifest)
    except OSError:
        os.remove(manifest)
        os.rename(manifest + '.new', manifest)
"""
_CLEANUP = "del _zd_hash, _zd_read, _zd_rmtree, _zd_mkdirs, _zd_rom, _zd_swap"


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


def _parents(paths: list[str]) -> list[str]:
    """Every folder the paths need, shallowest first ("/a", "/a/b", ...)."""
    dirs = set()
    for p in paths:
        parts = p.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/" + "/".join(parts[:i]))
    return sorted(dirs, key=lambda d: (d.count("/"), d))


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
        from mpremote.transport import TransportError

        try:
            self.transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=self.timeout)
        except TransportError:
            raise UserError(
                f"the board on {self.port} does not answer the raw REPL: is MicroPython running on it? "
                "Press its reset button (or flash it with zoo-micro flash) and retry"
            ) from None

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

    def run_app(self) -> None:
        """Leave the raw REPL and soft-reset from the friendly one, so boot.py and main.py run."""
        self.transport.exit_raw_repl()
        self.transport.serial.write(b"\x04")
        self.transport.read_until(1, b"soft reboot\r\n", timeout=2, timeout_overall=5)

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
        self.enter_raw_repl(soft_reset=soft_reset and not dry_run)
        self.exec(_PRELUDE, "preparing the board")
        info = self._query_device()
        image = None
        if romfs:
            image, files = plan_romfs(app, _device_arch(info["mpy"]))
        else:
            files = plan_files(app, True, _device_arch(info["mpy"]) if mpy else None)
            if info["rom_zoo"]:
                image = empty_romfs()  # zoo_micro in ROMFS comes first on sys.path: it would shadow /lib
        name = app.resolve().name
        hashes = self._hashes([f.remote for f in files])
        result = DeployResult(dry_run=dry_run)
        to_copy = [f for f in files if hashes.get(f.remote) != f.sha256]
        result.skipped = [f.remote for f in files if hashes.get(f.remote) == f.sha256]
        result.removed = stale_files(info["manifest"], name, files)
        result.copied = [f.remote for f in to_copy]
        result.bytes_copied = sum(len(f.data) for f in to_copy)
        if image is not None and not self._rom_holds(image):
            result.romfs_bytes = len(image)
        if dry_run:
            self.exec(_CLEANUP, "cleaning up")
            result.seconds = time.monotonic() - t0
            return result
        _check_syntax(to_copy)  # what goes as source: everything with --py, else main.py and boot.py
        _check_space(info, to_copy, self.port)
        if result.romfs_bytes:
            self._write_romfs(image)
        progress.planned(to_copy, result.bytes_copied)
        self.exec(f"_zd_rmtree({STAGE!r})", "clearing an unfinished deploy")
        if to_copy:
            staged = [f"{STAGE}/{f.remote}" for f in to_copy]
            self.exec(f"_zd_mkdirs({_parents(staged)!r})", "making folders")
            for f, dest in zip(to_copy, staged, strict=True):
                progress.copying(f.remote)
                self._write(dest, f.data, progress)
        moves = [(f"{STAGE}/{f.remote}", f"/{f.remote}") for f in to_copy]
        finals = _parents([f"/{f.remote}" for f in to_copy])
        if finals:
            self.exec(f"_zd_mkdirs({finals!r})", "making folders")
        removes = [f"/{p}" for p in result.removed]
        empty = sorted(set(_parents([s for s, _ in moves] + removes)), key=lambda d: -d.count("/"))
        empty = [d for d in empty if d != "/lib"] + ([STAGE] if moves else [])
        swap = f"_zd_swap({moves!r}, {removes!r}, {empty!r}, {MANIFEST!r}, {manifest_text(name, files)!r})"
        self.exec(swap, "putting the new files in place")
        self.exec(_CLEANUP, "cleaning up")
        result.seconds = time.monotonic() - t0
        return result

    def _query_device(self) -> dict:
        out = self.exec(
            "_zd_s = os.statvfs('/')\n"
            f"print(repr({{'mpy': getattr(sys.implementation, '_mpy', 0), 'bsize': _zd_s[0], "
            f"'free': _zd_s[0] * _zd_s[4], 'manifest': _zd_read({MANIFEST!r}), "
            f"'rom_zoo': _zd_hash('/rom/{LIB}/__init__.mpy') is not None}}))\n"
            "del _zd_s",
            "reading the board's filesystem",
        )
        return ast.literal_eval(out.decode().strip())

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


def _device_arch(mpy_info: int) -> str:
    if not mpy_info:
        raise UserError("this board does not say which .mpy files it loads; deploy with --py")
    version = mpy_info & 0xFF
    if version != MPY_VERSION:
        raise UserError(
            f"the board loads .mpy version {version} but mpy-cross makes version {MPY_VERSION}; "
            "deploy with --py, or update the board's MicroPython"
        )
    arch = mpy_info >> 10
    return MPY_ARCH_NAMES[arch] if arch < len(MPY_ARCH_NAMES) else ""


def _compile(src: Path, dest: Path, arch: str | None, shown_as: str) -> None:
    compile_file(src, dest, arch, shown_as, then=UNCHANGED)


def _check_syntax(files: list[FileToCopy]) -> None:
    """Refuse an app file MicroPython cannot compile before anything on the board changes."""
    with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
        for f in files:
            if f.remote.endswith(".py") and not f.remote.startswith(LIB + "/"):
                _compile(f.source, Path(tmp) / (f.remote + ".mpy"), None, f.remote)


def _check_space(info: dict, to_copy: list[FileToCopy], port: str) -> None:
    bsize = max(int(info.get("bsize") or 512), 1)
    need = sum(-(-len(f.data) // bsize) * bsize for f in to_copy)
    if need > info["free"]:
        raise UserError(
            f"the board's filesystem is full: the changed files need {need // 1024} KB and {port} has "
            f"{info['free'] // 1024} KB free; remove files from it (mpremote fs rm)"
        )


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
        session.run_app()
    return result
