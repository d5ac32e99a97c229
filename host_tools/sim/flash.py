"""A virtual board's flash: a host folder the board mounts as its filesystem, filled as zoo-micro deploy
fills a board (same plan, same manifest), and the file in it that holds the board's ROMFS partition."""

from __future__ import annotations

import hashlib
import json
import time
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
