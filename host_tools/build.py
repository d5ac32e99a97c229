"""Builds a deployable bundle: zoo_micro and an app compiled to .mpy for a board, with boot, main, board.json.

Bundle layout (copy it to the board's root as is):
    boot.py, main.py      from firmware/; main.py imports the app's entry module
    app_main.mpy          the app's own main.py, renamed so the bundle's main.py can import it
    <app modules>.mpy     the app's other modules and packages, where they were in the app folder
    lib/zoo_micro/*.mpy   the runtime
    board.json            the board's data, read by zoo_micro at run time
With --freeze the .py sources go to freeze/ with a manifest.py instead, for a custom firmware.
With --romfs every .mpy goes into romfs.img (for the board's ROMFS partition, MicroPython >= 1.25)
and what stays on the filesystem (boot.py, main.py, board.json, data files) into fs/.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from host_tools.boards import Board, data_dir, get_board
from host_tools.errors import UserError
from host_tools.interpreter import PROJECT_ROOT
from host_tools.mpy import compile_file
from host_tools.romfs import make_image

RUNTIME_DIR = PROJECT_ROOT / "zoo_micro"
TEMPLATES_DIR = data_dir("firmware")
PACKAGE_JSON = PROJECT_ROOT / "package.json"
ENTRY_MODULE = "app_main"
ROMFS_IMAGE = "romfs.img"
FS_DIR = "fs"  # with --romfs: the files that go to the board's filesystem
# Names the bundle itself owns; an app file with one of these would be overwritten or shadow the runtime.
RESERVED = (
    "boot.py",
    "board.json",
    "manifest.py",
    "freeze",
    f"{ENTRY_MODULE}.py",
    "zoo_micro",
    "lib/zoo_micro",
)
SKIPPED_PARTS = ("__pycache__",)


@dataclass
class Bundle:
    path: Path
    board: Board
    arch: str
    frozen: bool
    files: list[str] = field(default_factory=list)  # relative paths, sorted
    romfs_bytes: int = 0  # size of romfs.img, with --romfs


def mpy_cross(src: Path, dest: Path, arch: str | None, shown_as: str) -> None:
    """Compile one file for a bundle; a syntax error becomes one line naming the file and line."""
    compile_file(src, dest, arch, shown_as)


def runtime_files() -> list[Path]:
    """Every file of zoo_micro, relative to the project root, sorted."""
    return sorted(
        p.relative_to(PROJECT_ROOT)
        for p in RUNTIME_DIR.rglob("*.py")
        if not any(part in SKIPPED_PARTS for part in p.parts)
    )


IGNORE_FILE = ".zooignore"  # the app's own exclusions, one glob a line
# What never goes to a board: the app's host tests, Python's caches, and the state files a run of
# main.py on the host leaves (state.json and its .tmp, .bak and .bad copies).
HOST_ONLY = ("/tests/", "__pycache__/", "*.pyc", "state.json", "state.json.*")


def app_config(app_dir: Path) -> dict:
    """The app's config.json as a dict ({} when it has none or it does not parse: the board says so)."""
    try:
        data = json.loads((Path(app_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def app_board(app_dir: str | Path | None) -> str | None:
    """The board `zoo-micro new` wrote into the app's config.json: its default for sim, build, deploy."""
    board = app_config(Path(app_dir)).get("board") if app_dir else None
    return board if isinstance(board, str) and board else None


def ignore_patterns(app_dir: Path) -> list[str]:
    """HOST_ONLY, the app's state file if config.json moves it, and the lines of its .zooignore:
    globs matched against each name in a path (`*.csv`, `notes/`: a folder), or against the path from
    the app folder when they hold a `/` (`/data/*.log`); blank lines and `#` comments are skipped."""
    patterns = list(HOST_ONLY)
    state = app_config(app_dir).get("state_path")
    if isinstance(state, str) and state:
        patterns += ["/" + state.lstrip("/"), "/" + state.lstrip("/") + ".*"]
    own = app_dir / IGNORE_FILE
    if own.is_file():
        lines = (line.strip() for line in own.read_text().splitlines())
        patterns += [line for line in lines if line and not line.startswith("#")]
    return patterns


def is_ignored(rel: Path, patterns: list[str]) -> bool:
    """Whether the app file rel (relative to the app folder) matches one of the ignore patterns."""
    parts = rel.parts
    for pattern in patterns:
        folder = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if "/" in pattern:  # anchored at the app folder: the path, or a folder on it
            pattern = pattern.lstrip("/")
            heads = ["/".join(parts[:i]) for i in range(1, len(parts) + (0 if folder else 1))]
            if any(fnmatch.fnmatchcase(h, pattern) for h in heads):
                return True
        elif any(fnmatch.fnmatchcase(name, pattern) for name in (parts[:-1] if folder else parts)):
            return True
    return False


def app_files(app_dir: Path) -> list[Path]:
    """The app folder's files that go to a board, relative to it: no hidden files, nothing of
    HOST_ONLY and nothing its .zooignore names."""
    patterns = ignore_patterns(app_dir)
    found = []
    for p in sorted(app_dir.rglob("*")):
        rel = p.relative_to(app_dir)
        if p.is_dir() or any(part.startswith(".") for part in rel.parts) or is_ignored(rel, patterns):
            continue
        found.append(rel)
    return found


def _entry_calls_main(source: str, shown_as: str) -> bool:
    """True when main.py defers to `if __name__ == "__main__":`, which never holds once it is imported."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False  # mpy-cross reports it with the file and line
    for node in tree.body:
        if not (isinstance(node, ast.If) and _is_main_guard(node.test)):
            continue
        has_main = any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "main" for n in tree.body
        )
        if not has_main or not _only_runs_main(node.body):
            raise UserError(
                f"{shown_as} line {node.lineno}: on the board main.py is imported as {ENTRY_MODULE}, so its "
                '`if __name__ == "__main__":` block never runs; make the block only call main() '
                "(or asyncio.run(main())), or move the code to the top level"
            )
        return True
    return False


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def _only_runs_main(body: list[ast.stmt]) -> bool:
    def is_main_call(e: ast.expr) -> bool:
        return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "main" and not e.args

    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return False
    call = body[0].value
    if is_main_call(call):
        return True
    runs = isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run"
    return runs and len(call.args) == 1 and is_main_call(call.args[0])


def _template(name: str, call_main: bool = False) -> str:
    text = (TEMPLATES_DIR / name).read_text()
    if name == "main.py":
        text = text.replace('ENTRY = "app_main"', f'ENTRY = "{ENTRY_MODULE}"', 1)
        text = text.replace("CALL_MAIN = False", f"CALL_MAIN = {call_main}", 1)
    return text


def _check_out(out: Path) -> None:
    """Refuse an --out that is a file, or a folder with other things than an earlier bundle in it."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"--out {out} is a file; name a folder")
    earlier = (out / "board.json").is_file() or (out / FS_DIR / "board.json").is_file()
    if any(out.iterdir()) and not earlier:
        raise UserError(f"--out {out} is not empty and holds no earlier bundle; name a new or empty folder")


def _app_layout(app_dir: Path) -> dict[Path, Path]:
    """Source file (relative to the app) -> where it goes in the bundle (as .py; .mpy when compiled)."""
    layout = {}
    for rel in app_files(app_dir):
        target = Path(f"{ENTRY_MODULE}.py") if rel == Path("main.py") else rel
        taken = [r for r in RESERVED if rel.as_posix() == r or rel.as_posix().startswith(r + "/")]
        if taken:
            raise UserError(f"the app has {rel.as_posix()}, a name the bundle uses itself; rename it")
        layout[rel] = target
    return layout


def build(
    app_dir: str | Path,
    board_id: str,
    out: str | Path | None = None,
    freeze: bool = False,
    arch: str | None = None,
    boards_dir: Path | None = None,
    romfs: bool = False,
) -> Bundle:
    """Build the bundle for `board_id`; arch overrides the board's mpy-cross -march ("host": this PC).
    romfs packs the .mpy files into romfs.img and puts the rest in fs/."""
    if freeze and romfs:
        raise UserError("--freeze and --romfs contradict each other (code goes in the firmware or in ROMFS)")
    board = get_board(board_id, boards_dir)
    app_dir = Path(app_dir)
    if not app_dir.is_dir():
        raise UserError(f"app folder {app_dir} not found")
    main_py = app_dir / "main.py"
    if not main_py.is_file():
        raise UserError(f"{app_dir} has no main.py; an app's entry point is its main.py")
    arch = arch or board.mpy_arch
    out = Path(out) if out else Path("build") / f"{app_dir.resolve().name}-{board.id}"
    layout = _app_layout(app_dir)
    call_main = _entry_calls_main(main_py.read_text(), f"{app_dir.name}/main.py")

    if freeze:
        _check_sources(app_dir, layout, arch)
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Built beside `out` and swapped in at the end, so a failed build leaves no half bundle behind.
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    work.chmod(0o755)
    try:
        _write_bundle(app_dir, layout, work, arch, freeze, call_main, board)
        rom = _pack_romfs(work) if romfs else 0
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    work.rename(out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return Bundle(out, board, arch, freeze, files, rom)


def _pack_romfs(work: Path) -> int:
    """Move the bundle's .mpy files into romfs.img (already compiled) and the rest into fs/."""
    rom, fs = work / ".rom", work / ".fs"
    for p in sorted(work.rglob("*")):
        if p.is_file():
            dest = (rom if p.suffix == ".mpy" else fs) / p.relative_to(work)
            dest.parent.mkdir(parents=True, exist_ok=True)
            p.rename(dest)
    size = make_image(rom, work / ROMFS_IMAGE, mpy=False)
    shutil.rmtree(rom)
    for p in sorted(work.iterdir()):
        if p.is_dir() and p.name not in (".fs",):
            shutil.rmtree(p)
    fs.mkdir(exist_ok=True)
    fs.rename(work / FS_DIR)
    return size


def _write_bundle(
    app_dir: Path, layout: dict[Path, Path], out: Path, arch: str, freeze: bool, call_main: bool, board: Board
) -> None:
    if freeze:
        _write_frozen(app_dir, layout, out, board)
    else:
        for src in runtime_files():
            dest = out / "lib" / src.with_suffix(".mpy")
            mpy_cross(PROJECT_ROOT / src, dest, arch, src.as_posix())
        for rel, target in layout.items():
            shown = f"{app_dir.name}/{rel.as_posix()}"
            if rel.suffix == ".py":
                mpy_cross(app_dir / rel, out / target.with_suffix(".mpy"), arch, shown)
            else:
                (out / target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(app_dir / rel, out / target)
    (out / "boot.py").write_text(_template("boot.py"))
    (out / "main.py").write_text(_template("main.py", call_main))
    (out / "board.json").write_text(json.dumps(board.data, indent=2) + "\n")


def _check_sources(app_dir: Path, layout: dict[Path, Path], arch: str) -> None:
    """Compile everything once into a scratch folder so a frozen build fails here, not in `make`."""
    with tempfile.TemporaryDirectory(prefix="zoo-check-") as scratch:
        for src in runtime_files():
            mpy_cross(PROJECT_ROOT / src, Path(scratch) / src.with_suffix(".mpy"), arch, src.as_posix())
        for rel in layout:
            if rel.suffix == ".py":
                mpy_cross(app_dir / rel, Path(scratch) / "app" / rel.with_suffix(".mpy"), arch,
                          f"{app_dir.name}/{rel.as_posix()}")  # fmt: skip


def _write_frozen(app_dir: Path, layout: dict[Path, Path], out: Path, board: Board) -> None:
    freeze_dir = out / "freeze"
    for src in runtime_files():
        dest = freeze_dir / src
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_ROOT / src, dest)
    modules, packages = [], set()
    for rel, target in layout.items():
        if rel.suffix != ".py":
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(app_dir / rel, out / target)  # data files stay files on the board
            continue
        if target.parts[0] == "lib" and len(target.parts) > 1:
            target = Path(
                *target.parts[1:]
            )  # /lib is a search path on the board; frozen code sits at the root
        dest = freeze_dir / target
        if dest.exists():
            raise UserError(f"the app has {target.as_posix()} both at its top and in lib/; keep one")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(app_dir / rel, dest)
        if len(target.parts) == 1:
            modules.append(target.as_posix())
        else:
            packages.add(target.parts[0])
    (out / "manifest.py").write_text(manifest_text(board, sorted(modules), sorted(packages)))


def manifest_text(board: Board, modules: list[str], packages: list[str]) -> str:
    """A MicroPython manifest freezing zoo_micro and the app; paths are relative to the manifest's folder."""
    lines = [
        f"# Freezes zoo_micro and the app into MicroPython for {board.id}; from a micropython checkout:",
        f"#   {board.make_command('/absolute/path/to/this/manifest.py')}   (see docs/build-and-flash.md)",
        f'include("{board.micropython["manifest"]}")',
        'package("zoo_micro", base_path="freeze")',
    ]
    lines += [f'package("{name}", base_path="freeze")' for name in packages]
    lines += [f'module("{name}", base_path="freeze")' for name in modules]
    return "\n".join(lines) + "\n"


def runtime_version() -> str:
    text = (RUNTIME_DIR / "__init__.py").read_text()
    found = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.M)
    if not found:
        raise UserError("zoo_micro/__init__.py has no __version__ line")
    return found.group(1)


def published_runtime_files() -> list[Path]:
    """The zoo_micro files git tracks (what a clone, and so mip, can fetch); every file outside a checkout."""
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--", "zoo_micro"], cwd=PROJECT_ROOT, capture_output=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return runtime_files()
    tracked = {Path(name) for name in proc.stdout.decode().split("\0") if name}
    return [p for p in runtime_files() if p in tracked]


def package_json_data() -> dict:
    """mip's package.json: every zoo_micro file, fetched relative to package.json, installed under lib/."""
    urls = [[p.as_posix(), p.as_posix()] for p in published_runtime_files()]
    return {"urls": urls, "version": runtime_version()}


def write_package_json(path: Path = PACKAGE_JSON) -> Path:
    path.write_text(json.dumps(package_json_data(), indent=2) + "\n")
    return path


if __name__ == "__main__":
    if sys.argv[1:] != ["package-json"]:
        sys.exit("usage: python -m host_tools.build package-json   (rewrites package.json from zoo_micro/)")
    print(f"wrote {write_package_json()}")
