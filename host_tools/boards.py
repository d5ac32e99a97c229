"""Board data: one JSON file per board in boards/, loaded, checked and matched by USB ids."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from host_tools.errors import UserError
from host_tools.interpreter import PROJECT_ROOT
from host_tools.mpy import MPY_ARCHES


def data_dir(name: str) -> Path:
    """A data folder shipped with zoo-micro ("boards", "firmware"): the package's host_tools/data/<name>
    in an install (a wheel carries it there), the checkout's top-level folder it links to otherwise."""
    shipped = Path(str(resources.files("host_tools").joinpath("data", name)))
    return shipped.resolve() if shipped.is_dir() else PROJECT_ROOT / name


BOARDS_DIR = data_dir("boards")

FLASH_METHODS = ("esptool", "uf2")
ESP_OFFSETS = ("0x0", "0x1000")


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    chip: str
    mpy_arch: str
    flash: dict
    baud: int
    usb: tuple[tuple[int, int], ...]
    heap_kb: int
    max_threads: int
    pins: dict
    firmware: str
    notes: str = ""
    micropython: dict = field(default_factory=dict)  # port, board and base manifest of its MicroPython build
    data: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def heapsize(self) -> str:
        """The heap as MicroPython's `-X heapsize=` wants it."""
        return f"{self.heap_kb}K"

    @property
    def flash_method(self) -> str:
        return self.flash["method"]

    def usb_ids(self) -> list[str]:
        return [f"{vid:04x}:{pid:04x}" for vid, pid in self.usb]

    def uf2_families(self) -> tuple[int, set[int]]:
        """The UF2 family a firmware must carry, and the families it may carry besides."""
        main = int(self.flash["family_id"], 16)
        return main, {int(f, 16) for f in self.flash.get("also_families", [])}

    def esp_offset(self) -> int:
        return int(self.flash["offset"], 16)

    def make_command(self, manifest: str | Path) -> str:
        """The MicroPython build command that freezes `manifest` into this board's firmware."""
        mp = self.micropython
        return f"make -C ports/{mp['port']} BOARD={mp['board']} FROZEN_MANIFEST={manifest}"


def _is_hex(value: object, digits: int) -> bool:
    if not isinstance(value, str) or len(value) != digits:
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def _is_family(value: object) -> bool:
    return isinstance(value, str) and value.startswith("0x") and _is_hex(value[2:], 8)


def _problems(data: object, stem: str) -> list[str]:
    """What is wrong with one board file's data; empty when it is sound."""
    if not isinstance(data, dict):
        return ["the file must hold a JSON object"]
    wanted = {
        "id": str, "name": str, "chip": str, "mpy_arch": str, "flash": dict, "baud": int, "usb": list,
        "heap_kb": int, "max_threads": int, "pins": dict, "firmware": str, "micropython": dict,
    }  # fmt: skip
    out = []
    for key, kind in wanted.items():
        if key not in data:
            out.append(f"missing key {key!r}")
        elif not isinstance(data[key], kind) or isinstance(data[key], bool):
            out.append(f"{key!r} must be a {kind.__name__}")
    if out:
        return out
    if data["id"] != stem:
        out.append(f"id {data['id']!r} does not match the file name {stem}.json")
    if data["mpy_arch"] not in MPY_ARCHES:
        out.append(
            f"mpy_arch {data['mpy_arch']!r} is not an mpy-cross -march value ({', '.join(MPY_ARCHES)})"
        )
    for key in ("baud", "heap_kb", "max_threads"):
        if data[key] <= 0:
            out.append(f"{key!r} must be positive")
    if "notes" in data and not isinstance(data["notes"], str):
        out.append("'notes' must be a string")
    for i, entry in enumerate(data["usb"]):
        if not (isinstance(entry, dict) and _is_hex(entry.get("vid"), 4) and _is_hex(entry.get("pid"), 4)):
            out.append(f"usb[{i}] must be {{'vid': '1234', 'pid': 'abcd'}} (4 hex digits each)")
    pins = data["pins"]
    if "led" not in pins or not isinstance(pins["led"], (int, str)):
        out.append("pins.led must be a GPIO number or a pin name")
    uart = pins.get("uart")
    if not (isinstance(uart, dict) and all(isinstance(uart.get(k), int) for k in ("id", "tx", "rx"))):
        out.append("pins.uart must be {'id': int, 'tx': int, 'rx': int}")
    out += _flash_problems(data["flash"])
    mp = data["micropython"]
    if not all(isinstance(mp.get(k), str) for k in ("port", "board", "manifest")):
        out.append(
            "'micropython' must be {'port': 'rp2', 'board': 'RPI_PICO', 'manifest': '$(PORT_DIR)/...'}"
        )
    return out


def _flash_problems(flash: dict) -> list[str]:
    method = flash.get("method")
    if method == "esptool":
        out = []
        if not isinstance(flash.get("chip"), str):
            out.append("flash.chip must name the esptool chip (esp32, esp32s3, ...)")
        if flash.get("offset") not in ESP_OFFSETS:
            out.append(f"flash.offset must be one of {', '.join(ESP_OFFSETS)}")
        if not isinstance(flash.get("baud"), int) or isinstance(flash.get("baud"), bool):
            out.append("flash.baud must be an int")
        return out
    if method == "uf2":
        out = []
        if not _is_family(flash.get("family_id")):
            out.append("flash.family_id must be a UF2 family like '0xe48bff56'")
        also = flash.get("also_families", [])
        if not (isinstance(also, list) and all(_is_family(f) for f in also)):
            out.append("flash.also_families must be a list of UF2 families")
        if not isinstance(flash.get("bootsel_board_id"), str):
            out.append("flash.bootsel_board_id must be the Board-ID line of the drive's INFO_UF2.TXT")
        return out
    return [f"flash.method must be one of {', '.join(FLASH_METHODS)}"]


def load_board(path: Path) -> Board:
    """One board file, checked; a malformed file is a UserError naming it and its first problem."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(
            f"board file {path} is not valid JSON (line {e.lineno}: {e.msg}); fix the file"
        ) from None
    problems = _problems(data, path.stem)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"board file {path}: {problems[0]}{more}; fix the file")
    usb = tuple((int(e["vid"], 16), int(e["pid"], 16)) for e in data["usb"])
    return Board(
        id=data["id"],
        name=data["name"],
        chip=data["chip"],
        mpy_arch=data["mpy_arch"],
        flash=dict(data["flash"]),
        baud=data["baud"],
        usb=usb,
        heap_kb=data["heap_kb"],
        max_threads=data["max_threads"],
        pins=dict(data["pins"]),
        firmware=data["firmware"],
        notes=data.get("notes", ""),
        micropython=dict(data["micropython"]),
        data=data,
    )


def all_boards(boards_dir: Path | None = None) -> list[Board]:
    """Every board, sorted by id."""
    folder = Path(boards_dir) if boards_dir else BOARDS_DIR
    return [load_board(p) for p in sorted(folder.glob("*.json"))]


def board_ids(boards_dir: Path | None = None) -> list[str]:
    folder = Path(boards_dir) if boards_dir else BOARDS_DIR
    return sorted(p.stem for p in folder.glob("*.json"))


def get_board(board_id: str, boards_dir: Path | None = None) -> Board:
    folder = Path(boards_dir) if boards_dir else BOARDS_DIR
    path = folder / f"{board_id}.json"
    if "/" in board_id or "\\" in board_id or not path.is_file():
        known = ", ".join(board_ids(folder)) or "none"
        raise UserError(f"unknown board {board_id!r}; known boards: {known}")
    return load_board(path)


def match_usb(vid: int | str | None, pid: int | str | None, boards_dir: Path | None = None) -> list[Board]:
    """Boards whose USB ids include vid:pid (ints or hex strings); several when a bridge chip is shared."""
    if vid is None or pid is None:
        return []
    v = int(vid, 16) if isinstance(vid, str) else vid
    p = int(pid, 16) if isinstance(pid, str) else pid
    return [b for b in all_boards(boards_dir) if (v, p) in b.usb]


@dataclass(frozen=True)
class Connected:
    """A serial port whose USB ids match one or more boards."""

    port: str
    usb_id: str
    description: str
    boards: tuple[Board, ...]


def list_serial_ports() -> list:
    from serial.tools import list_ports

    return list(list_ports.comports())


def connected_boards(port_lister=list_serial_ports, boards_dir: Path | None = None) -> list[Connected]:
    """Serial ports (pyserial ListPortInfo: .device .vid .pid .description) that look like a known board."""
    found = []
    for info in port_lister():
        boards = match_usb(info.vid, info.pid, boards_dir)
        if boards:
            usb_id = f"{info.vid:04x}:{info.pid:04x}"
            found.append(Connected(info.device, usb_id, info.description or "", tuple(boards)))
    return sorted(found, key=lambda c: c.port)


# Virtual boards (zoo-micro sim --link) note their port here while they run, so that commands
# find them without --port as they find a board on USB.
REGISTRY_ENV = "ZOO_MICRO_RUNTIME_DIR"


def registry_dir() -> Path:
    """$ZOO_MICRO_RUNTIME_DIR, else $XDG_RUNTIME_DIR/zoo-micro/boards, else ~/.cache/zoo-micro/boards."""
    chosen = os.environ.get(REGISTRY_ENV)
    if chosen:
        return Path(chosen)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return (Path(runtime) if runtime else Path.home() / ".cache") / "zoo-micro" / "boards"


@dataclass(frozen=True)
class VirtualPort:
    """A running virtual board's serial port, as it registered it."""

    port: str
    board: str | None
    app: str | None
    pid: int


def register_virtual(port: str, board: str | None = None, app: str | None = None) -> Callable[[], None]:
    """Note that this process serves a virtual board on `port` (a path); returns the function that
    removes the note, to call when the board stops. A note left by a process that died is ignored
    (and removed) by running_virtual(), so a killed board never hides the others."""
    folder = registry_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    port = os.path.abspath(port)
    entry = folder / f"{os.getpid()}-{abs(hash(port)) & 0xFFFFFFFF:08x}.json"
    tmp = entry.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "port": port, "board": board, "app": app}))
    tmp.replace(entry)

    def unregister() -> None:
        entry.unlink(missing_ok=True)

    return unregister


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, though not ours
    return True


def running_virtual() -> list[VirtualPort]:
    """The virtual boards running now whose port exists, one per port, sorted by port."""
    found: dict[str, VirtualPort] = {}
    for path in sorted(registry_dir().glob("*.json")):
        try:
            data = json.loads(path.read_text())
            vp = VirtualPort(str(data["port"]), data.get("board"), data.get("app"), int(data["pid"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # being written, or not ours
        if not _alive(vp.pid):
            path.unlink(missing_ok=True)  # its process died without removing it
            continue
        if not os.path.exists(vp.port):
            continue
        real = os.path.realpath(vp.port)
        if real not in found or found[real].port == real:  # a board seen twice: by its link's name
            found[real] = vp
    return sorted(found.values(), key=lambda v: v.port)
