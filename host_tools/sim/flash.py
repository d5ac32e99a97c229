"""A virtual board's flash: a host folder the board mounts as its filesystem, filled as zoo-micro deploy
fills a board (same plan, same manifest), the file in it that holds the board's ROMFS partition, and
what a power cut does to it (power_cut)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from host_tools.boards import get_board
from host_tools.deploy.plan import (
    MANIFEST,
    DeployResult,
    FileToCopy,
    manifest_text,
    plan_files,
    plan_romfs,
    stale_files,
)
from host_tools.errors import UserError
from host_tools.mpy import unix_port_arch
from host_tools.romfs import image_size
from host_tools.sim.profile import SimProfile

ROMFS_FILE = ".zoo_romfs0"  # the ROMFS partition, kept in the flash folder; board/flashfs.py hides it


def install(flash: Path, app: Path | None, profile: SimProfile, lib: bool, mpy: bool, romfs: bool) -> None:
    """Put zoo_micro (lib) and the app on the flash as deploy would (.mpy for the unix port with mpy,
    the modules as a ROMFS image with romfs), and the board file zoo_micro reads its limits from."""
    if romfs:
        image, files = plan_romfs(app, unix_port_arch(), lib=lib)
        if len(image) > profile.romfs_kb * 1024:
            raise UserError(
                f"the ROMFS image is {len(image) // 1024} KB and the virtual {profile.id}'s ROMFS "
                f"partition {profile.romfs_kb} KB; give a larger one (--romfs-kb) or install without it"
            )
        (flash / ROMFS_FILE).write_bytes(image)
        sync_folder(flash, app, files)
    elif app is not None or lib:
        sync_folder(flash, app, plan_files(app, lib, unix_port_arch() if mpy else None))
    # As on a board built by zoo-micro build: zoo_micro reads its thread limit from here.
    (flash / "board.json").write_text(json.dumps(get_board(profile.id).data))


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


def rom_image_bytes(flash: Path, romfs_kb: int) -> int:
    """The size of the image in the ROMFS partition (0: none, or larger than the partition)."""
    try:
        with open(flash / ROMFS_FILE, "rb") as f:
            size = image_size(f.read(16))
    except OSError:
        return 0
    return size if size <= romfs_kb * 1024 else 0


ERASED = 0xFF  # what a flash page reads as before it is programmed
PAGE = 256  # bytes a flash chip programs at once; a torn write ends inside one


@dataclass
class PowerCut:
    """What a power cut left: each file that was still open for writing, and how many of the bytes
    written to it since it was opened survived (0: all dropped)."""

    kept: dict[str, int] = field(default_factory=dict)
    torn: str | None = None  # the file whose last write was torn, if any


def power_cut(flash: Path, pid: int, tear: bool = False, rng: random.Random | None = None) -> PowerCut:
    """Cut the power of the board process `pid` whose flash is the folder `flash`.

    Killing a process (even with SIGKILL) keeps what it wrote in the host's file cache; a board
    loses what was not yet on flash. So, as on a board's filesystem: closed files, renames and
    removals are kept whole; a file still open for writing loses what was written since it was
    opened (it is left as its opening left it: empty after "w"). With `tear`, one such file keeps a
    random part of its writes and then a page of erased flash (0xFF), as a write interrupted while
    the chip programmed that page leaves it. The process is stopped first, so nothing it does
    after the cut reaches the folder.

    A file opened for appending is left as it is: from outside the model cannot tell where that
    opening's writes began. Data flushed to a file that is still open counts as not written (a
    LittleFS sync would keep it): the model is harsher there than a board."""
    rng = rng or random.Random()
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return PowerCut()  # already gone: nothing was being written
    open_files = _open_for_writing(flash, pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended on its own while stopped (it was already exiting)
    cut = PowerCut()
    torn = rng.choice(sorted(open_files)) if tear and open_files else None
    for path in sorted(open_files):
        name = path.relative_to(flash).as_posix()
        try:
            data = path.read_bytes()
        except OSError:
            continue  # removed by the process while open: nothing of it remains anyway
        keep = b""
        if path == torn and data:
            n = rng.randrange(len(data))
            end = min(len(data), (n // PAGE + 1) * PAGE)
            keep = data[:n] + bytes([ERASED]) * (end - n)
            cut.torn = name
        path.write_bytes(keep)
        cut.kept[name] = len(keep)
    return cut


def _open_for_writing(flash: Path, pid: int) -> set[Path]:
    """Regular files under `flash` that the stopped process `pid` holds open for writing, and not
    for appending."""
    root = os.path.realpath(flash)
    _wait_stopped(pid)
    found: set[Path] = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = next(int(line.split()[1], 8) for line in f if line.startswith("flags:"))
        except (OSError, StopIteration):
            continue  # closed meanwhile, or not a file
        writable = (flags & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR) and not flags & os.O_APPEND
        if writable and target.startswith(root + os.sep) and os.path.isfile(target):
            found.add(Path(flash) / os.path.relpath(target, root))
    return found


def _wait_stopped(pid: int, timeout: float = 2.0) -> None:
    # SIGSTOP is delivered asynchronously: read /proc until the process shows it is stopped.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("T", "t", "Z", "X"):
            return
        time.sleep(0.0005)
