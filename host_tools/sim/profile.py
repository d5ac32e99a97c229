"""What the virtual board takes from a board's data file (boards/<id>.json)."""

from __future__ import annotations

from dataclasses import dataclass

from host_tools.boards import get_board

DEFAULT_FLASH_KB = 1024  # filesystem size when the board file names none
DEFAULT_ROMFS_KB = 256  # ROMFS partition size when the board file names none
CPU_HZ = {"rp2040": 125_000_000, "rp2350": 150_000_000}  # machine.freq() at boot; ESP chips 160 MHz


@dataclass(frozen=True)
class SimProfile:
    id: str
    name: str
    heap_kb: int
    max_threads: int
    pins: dict
    flash_kb: int
    freq: int
    romfs_kb: int
    platform: str  # sys.platform and os.uname().sysname, as the board's firmware reports them
    machine: str  # os.uname().machine and the banner's board name


def sim_profile(
    board_id: str, heap_kb: int | None = None, flash_kb: int | None = None, romfs_kb: int | None = None
) -> SimProfile:
    """The board's sizes for the simulator; heap_kb, flash_kb and romfs_kb override the board file."""
    board = get_board(board_id)
    return SimProfile(
        id=board.id,
        name=board.name,
        heap_kb=heap_kb or board.heap_kb,
        max_threads=board.max_threads,
        pins=dict(board.pins),
        flash_kb=flash_kb or int(board.data.get("fs_kb", DEFAULT_FLASH_KB)),
        freq=CPU_HZ.get(board.chip, 160_000_000),
        romfs_kb=romfs_kb if romfs_kb is not None else int(board.data.get("romfs_kb", DEFAULT_ROMFS_KB)),
        platform=board.data.get("micropython", {}).get("port", board.chip),
        machine=machine_name(board.name, board.chip),
    )


def machine_name(name: str, chip: str) -> str:
    """The board as its firmware names it: "Raspberry Pi Pico with RP2040", "Generic ESP32 module with
    ESP32" (a chip's generic build)."""
    if name.replace("-", "").upper() == chip.upper():
        name = f"Generic {name} module"
    return f"{name} with {chip.upper()}"
