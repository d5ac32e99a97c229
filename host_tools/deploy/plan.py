"""What a deploy changes: the files a board should hold, which of them differ from what it holds, what
is left over from an earlier deploy, and the order the board's side swaps them in. No board needed:
the board's answers (hashes, old manifest, free space) come in as plain values."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from host_tools.build import app_files, runtime_files
from host_tools.errors import UserError
from host_tools.interpreter import PROJECT_ROOT
from host_tools.mpy import compile_file
from host_tools.romfs import make_image

MANIFEST = "/.zoo_deploy.json"
STAGE = "/.zoo_stage"
LIB = "lib/zoo_micro"
RUN_AS_SOURCE = ("main.py", "boot.py")  # a board runs these by name, so they stay .py
UNCHANGED = "nothing on the board changed: fix it and deploy again"


@dataclass(frozen=True)
class FileToCopy:
    remote: str  # path on the board, without the leading "/"
    data: bytes
    source: Path
    sha256: str


@dataclass
class DeployResult:
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bytes_copied: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    romfs_bytes: int = 0  # size of the ROMFS image written (0: none, or the partition held it already)


@dataclass(frozen=True)
class Changes:
    to_copy: list[FileToCopy]  # differ from the board's copy, or missing there
    skipped: list[str]  # already on the board as they are
    removed: list[str]  # an earlier deploy's files this one does not have


@dataclass(frozen=True)
class Swap:
    """The board's side of a sync, in order: write to staged (in stage_dirs), make final_dirs, then in
    one exec move every file into place, remove the stale ones and the folders they leave empty."""

    staged: list[str]
    stage_dirs: list[str]
    moves: list[tuple[str, str]]
    final_dirs: list[str]
    removes: list[str]
    emptied: list[str]  # deepest first; the board keeps those that still hold something


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
    """(path on the board, local file) for zoo_micro and the app (its tests and host files stay here)."""
    found = []
    if lib:
        for rel in runtime_files():
            found.append((f"lib/{rel.as_posix()}", PROJECT_ROOT / rel))
    for rel in app_files(app) if app is not None else ():
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


def changes(
    files: list[FileToCopy], on_board: dict[str, str | None], old_manifest: str | None, app_name: str
) -> Changes:
    """What a sync does, given the SHA-256 of each file on the board (None: missing) and its manifest."""
    to_copy = [f for f in files if on_board.get(f.remote) != f.sha256]
    skipped = [f.remote for f in files if on_board.get(f.remote) == f.sha256]
    return Changes(to_copy, skipped, stale_files(old_manifest, app_name, files))


def parents(paths: list[str]) -> list[str]:
    """Every folder the paths need, shallowest first ("/a", "/a/b", ...)."""
    dirs = set()
    for p in paths:
        parts = p.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/" + "/".join(parts[:i]))
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def swap(to_copy: list[str], removed: list[str]) -> Swap:
    """The board-side steps that put the files to_copy (board paths without "/") in place through the
    stage and delete removed; /lib stays even when empty, as it is on sys.path."""
    staged = [f"{STAGE}/{r}" for r in to_copy]
    moves = [(f"{STAGE}/{r}", f"/{r}") for r in to_copy]
    removes = [f"/{p}" for p in removed]
    emptied = sorted(set(parents(staged + removes)), key=lambda d: -d.count("/"))
    emptied = [d for d in emptied if d != "/lib"] + ([STAGE] if moves else [])
    return Swap(staged, parents(staged), moves, parents([f"/{r}" for r in to_copy]), removes, emptied)


def _compile(src: Path, dest: Path, arch: str | None, shown_as: str) -> None:
    compile_file(src, dest, arch, shown_as, then=UNCHANGED)


def check_syntax(files: list[FileToCopy]) -> None:
    """Refuse an app file MicroPython cannot compile before anything on the board changes."""
    with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
        for f in files:
            if f.remote.endswith(".py") and not f.remote.startswith(LIB + "/"):
                _compile(f.source, Path(tmp) / (f.remote + ".mpy"), None, f.remote)


def check_sources(app: Path) -> None:
    """Compile-check every .py of the app that goes to the board, before a board is even opened:
    one that does not compile is one line naming it and its line, and nothing is copied."""
    check_syntax([_file(remote, src) for remote, src in source_files(app, lib=False) if src.suffix == ".py"])


def check_space(free: int, bsize: int | None, to_copy: list[FileToCopy], port: str) -> None:
    """A UserError if the files, rounded up to the filesystem's blocks, do not fit in free bytes."""
    bsize = max(int(bsize or 512), 1)
    need = sum(-(-len(f.data) // bsize) * bsize for f in to_copy)
    if need > free:
        raise UserError(
            f"the board's filesystem is full: the changed files need {need // 1024} KB and {port} has "
            f"{free // 1024} KB free; remove files from it (mpremote fs rm)"
        )
