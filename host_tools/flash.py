"""Writing MicroPython firmware to a board: esptool for the ESP family, the BOOTSEL drive for RP2040/RP2350.

Every check that can refuse (board, firmware, port, drive, chip) runs before anything is written.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from host_tools import uf2
from host_tools.boards import Board, get_board, list_serial_ports
from host_tools.errors import UserError

if TYPE_CHECKING:  # esptool loads in ~0.2 s; only flashing should pay for it
    from esp_pylib.logger import EspLogBase
    from esptool.loader import ESPLoader

# progress(done, total, what): bytes written so far out of total
Progress = Callable[[int, int, str], None]
ESP_IMAGE_MAGIC = 0xE9
INFO_FILE = "INFO_UF2.TXT"
COPY_CHUNK = 64 * 1024


@dataclass
class FlashResult:
    board: Board
    target: str  # the serial port (ESP) or the BOOTSEL drive (UF2) written to
    port_after: str | None = None  # the board's serial port once it came back (UF2)
    warnings: list[str] = field(default_factory=list)


def _chip_key(name: str) -> str:
    """'ESP32-S3' and 'esp32s3' both become 'esp32s3'."""
    return name.lower().replace("-", "").replace("_", "")


def esp_image_chip(data: bytes, name: str) -> str:
    """The esptool chip name (esp32, esp32s3, ...) an ESP firmware image is built for, from its header."""
    from esptool.targets import ROM_LIST

    if data[:4] == b"UF2\n":
        raise UserError(f"{name} is a UF2 file; ESP boards take the .bin firmware")
    if len(data) < 24 or data[0] != ESP_IMAGE_MAGIC:
        raise UserError(f"{name} is not an ESP firmware image (no 0xE9 header); download the board's .bin")
    chip_id = int.from_bytes(data[12:14], "little")  # extended header: wp pin, 3 drive bytes, chip id
    for rom in ROM_LIST:
        if getattr(rom, "IMAGE_CHIP_ID", None) == chip_id and rom.CHIP_NAME != "ESP8266":
            return _chip_key(rom.CHIP_NAME)
    raise UserError(f"{name} names chip id {chip_id} in its header, which esptool does not know")


def check_esp_image(board: Board, data: bytes, name: str) -> None:
    """Refuse an image whose header names another chip, or that esptool's image reader rejects."""
    from esptool.bin_image import LoadFirmwareImage
    from esptool.util import FatalError

    wanted = board.flash["chip"]
    found = esp_image_chip(data, name)
    if found != _chip_key(wanted):
        raise UserError(
            f"{name} is firmware for {found}, not for {board.id} ({wanted}); pick {board.firmware}"
        )
    try:
        image = LoadFirmwareImage(wanted, data)
    except (FatalError, RuntimeError, ValueError, IndexError, struct.error) as e:
        raise UserError(f"{name} has a broken ESP image header ({e}); download it again") from None
    # The same two checks as `esptool image-info`: the byte checksum and the appended SHA-256.
    if image.checksum != image.calculate_checksum() or (
        image.append_digest and image.stored_digest != image.calc_digest
    ):
        raise UserError(f"{name} is a broken ESP image (its checksum does not match); download it again")


def check_uf2(board: Board, data: bytes, name: str) -> None:
    """Refuse a UF2 file with no block of the board's family, or with blocks of a family it does not take."""
    try:
        counts = uf2.families(data)
    except uf2.NotUF2 as e:
        raise UserError(
            f"{name} is not a UF2 file ({e}); RP2040/RP2350 boards take the .uf2 firmware"
        ) from None
    main, also = board.uf2_families()
    strangers = [f for f in counts if f != main and f not in also]
    if main not in counts or strangers:
        shown = ", ".join(uf2.family_name(f) for f in (strangers or list(counts)))
        raise UserError(
            f"{name} is a UF2 for {shown}, not for {board.id} ({uf2.family_name(main)}); "
            f"pick {board.firmware}"
        )


def check_firmware(board: Board, firmware: str | Path) -> tuple[bytes, list[str]]:
    """The firmware's bytes once they fit the board, and warnings that do not stop the flash."""
    path = Path(firmware)
    if not path.is_file():
        raise UserError(f"firmware file {path} not found")
    data = path.read_bytes()
    if board.flash_method == "esptool":
        check_esp_image(board, data, path.name)
    else:
        check_uf2(board, data, path.name)
    warnings = []
    if not fnmatch.fnmatch(path.name, board.firmware):
        warnings.append(
            f"{path.name} is not named like {board.firmware}; its header fits {board.chip}, "
            "so it is written anyway"
        )
    return data, warnings


def check_port_free(port: str | None) -> None:
    """Refuse a missing port or one another program holds, before esptool touches it."""
    import serial

    if not port:
        raise UserError("ESP boards need --port; `zoo-micro detect` lists the connected ones")
    if port.startswith("/") and not os.path.exists(port):
        raise UserError(f"port {port} not found; `zoo-micro detect` lists the connected boards")
    link = serial.serial_for_url(port, do_not_open=True, exclusive=True)
    link.dtr = False  # leave EN and IO0 alone: opening must not reset the chip
    link.rts = False
    try:
        link.open()
    except serial.SerialException as e:
        if e.errno in (errno.EBUSY, errno.EAGAIN, errno.EACCES) or "lock" in str(e).lower():
            raise UserError(
                f"port {port} is busy; close the program using it (mpremote, a serial monitor)"
            ) from None
        if e.errno == errno.ENOENT:
            raise UserError(f"port {port} not found; `zoo-micro detect` lists the connected boards") from None
        raise UserError(f"cannot open port {port}: {e}") from None
    link.close()


def _esptool_logger(progress: Progress | None) -> EspLogBase:
    """An esptool logger that turns its progress bars into progress() calls and keeps its text quiet."""
    from esp_pylib.logger import EspLogBase

    class Logger(EspLogBase):
        def __init__(self):
            self.lines: list[str] = []

        def print(self, *args, **kwargs):
            text = " ".join(str(a) for a in args).strip()
            if text:
                self.lines.append(text)

        def err(self, *args, suggestion=None):
            self.print(*args)

        def warn(self, *args, suggestion=None):
            self.print(*args)

        warning = warn
        error = err
        note = hint = debug = print

        def set_verbosity(self, mode):
            pass

        def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
            if progress:
                progress(cur_iter, total_iters, prefix.strip() or "Writing")

    return Logger()


def connect_esp(port: str, board: Board, attempts: int = 7) -> ESPLoader:
    """esptool's own chip detection: the ROM bootloader on `port` says which chip it is."""
    from esptool.cmds import detect_chip

    return detect_chip(port, baud=115200, connect_attempts=attempts)


def flash_esp(
    board: Board,
    data: bytes,
    port: str,
    erase: bool,
    progress: Progress | None,
    connect: Callable = connect_esp,
) -> None:
    from esp_pylib.logger import EspLog
    from esptool import reset
    from esptool.cmds import attach_flash, erase_flash, reset_chip, run_stub, write_flash
    from esptool.util import FatalError, PrintOnce

    previous, previous_once = EspLog.instance, reset.ResetStrategy.print_once
    EspLog.instance = logger = _esptool_logger(progress)
    # esptool bound this warning to its default logger at import: it names its own --before/--after
    # switches, which zoo-micro has not (a port that cannot reset the chip fails to connect, and that
    # error says to hold BOOT and tap RESET). It goes to our quiet logger instead.
    reset.ResetStrategy.print_once = PrintOnce(logger.warn)
    esp = None
    try:
        try:
            esp = connect(port, board)
        except (FatalError, OSError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(
                f"no ESP bootloader answered on {port} ({first}); hold BOOT, tap RESET and try again"
            ) from None
        if _chip_key(esp.CHIP_NAME) != _chip_key(board.flash["chip"]):
            raise UserError(
                f"the chip on {port} is an {esp.CHIP_NAME}, not the {board.chip} of --board {board.id}; "
                "pick the matching board"
            )
        try:
            esp = run_stub(esp)
            if board.flash["baud"] > 115200:
                esp.change_baud(board.flash["baud"])
            attach_flash(esp)
            if erase:
                erase_flash(esp)
            write_flash(esp, [(board.esp_offset(), data)])
            reset_chip(esp, "hard-reset")
        except (FatalError, OSError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"esptool failed while writing {port}: {first}; run flash again") from None
    finally:
        if esp is not None:
            esp._port.close()
        EspLog.instance = previous
        reset.ResetStrategy.print_once = previous_once


def mounted_volumes() -> list[Path]:
    """Mount points where a BOOTSEL drive could be."""
    if sys.platform.startswith("win"):
        return [Path(f"{letter}:\\") for letter in "DEFGHIJKLMNOPQRSTUVWXYZ" if Path(f"{letter}:\\").exists()]
    if sys.platform == "darwin":
        return sorted(Path("/Volumes").glob("*"))
    found = []
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                point = line.split()[1].replace("\\040", " ")
                if point.startswith(("/media", "/run/media", "/mnt")):
                    found.append(Path(point))
    except OSError:
        pass
    return found


def bootsel_board_id(drive: Path) -> str | None:
    """The Board-ID line of a BOOTSEL drive's INFO_UF2.TXT; None when the folder is no such drive."""
    try:
        text = (drive / INFO_FILE).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Board-ID:"):
            return line.split(":", 1)[1].strip()
    return ""


def find_bootsel_drive(
    board: Board, drive: str | Path | None = None, volumes: Callable[[], Iterable[Path]] = mounted_volumes
) -> Path:
    """The BOOTSEL drive to copy to: the one named, or the only one mounted; it must be the board's chip."""
    wanted = board.flash["bootsel_board_id"]
    if drive is not None:
        path = Path(drive)
        found = bootsel_board_id(path)
        if found is None:
            raise UserError(f"{path} is not a BOOTSEL drive (no {INFO_FILE}); hold BOOTSEL while plugging in")
        candidates = [(path, found)]
    else:
        candidates = [(v, b) for v in volumes() if (b := bootsel_board_id(v)) is not None]
        if not candidates:
            raise UserError(
                f"no BOOTSEL drive is mounted; hold BOOTSEL while plugging in {board.name}, "
                "or name the drive with --drive"
            )
    matching = [(p, b) for p, b in candidates if b == wanted]
    if not matching:
        path, found = candidates[0]
        raise UserError(
            f"the BOOTSEL drive {path} is Board-ID {found or 'unknown'}, not {wanted} of --board {board.id}; "
            "pick the matching board"
        )
    if len(matching) > 1:
        shown = ", ".join(str(p) for p, _ in matching)
        raise UserError(f"several BOOTSEL drives ({shown}); name one with --drive")
    return matching[0][0]


def copy_uf2(data: bytes, drive: Path, name: str, progress: Progress | None) -> Path:
    dest = drive / name
    with open(dest, "wb") as f:
        for start in range(0, len(data), COPY_CHUNK):
            f.write(data[start : start + COPY_CHUNK])
            if progress:
                progress(min(start + COPY_CHUNK, len(data)), len(data), f"Copying to {drive}")
        f.flush()
        try:
            os.fsync(f.fileno())
        except OSError:
            pass  # the drive may already have rebooted into the new firmware
    return dest


def board_ports(board: Board, port_lister: Callable[[], Iterable]) -> set[str]:
    return {p.device for p in port_lister() if (p.vid, p.pid) in board.usb}


def wait_for_port(
    board: Board,
    port_lister: Callable[[], Iterable],
    before: set[str],
    timeout: float,
    interval: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """The first port with the board's USB ids that was not there before; None if none came in time."""
    deadline = time.monotonic() + timeout
    while True:
        fresh = sorted(board_ports(board, port_lister) - before)
        if fresh:
            return fresh[0]
        if time.monotonic() >= deadline:
            return None
        sleep(interval)


def flash(
    board_id: str,
    firmware: str | Path,
    port: str | None = None,
    drive: str | Path | None = None,
    erase: bool = False,
    progress: Progress | None = None,
    port_lister: Callable[[], Iterable] = list_serial_ports,
    volumes: Callable[[], Iterable[Path]] = mounted_volumes,
    wait_timeout: float = 30.0,
    connect: Callable = connect_esp,
    boards_dir: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> FlashResult:
    board = get_board(board_id, boards_dir)
    data, warnings = check_firmware(board, firmware)
    if board.flash_method == "esptool":
        check_port_free(port)
        flash_esp(board, data, port, erase, progress, connect)
        return FlashResult(board, port, port, warnings)
    if erase:
        warnings.append("--erase does nothing for UF2 boards; the BOOTSEL copy rewrites the firmware only")
    target = find_bootsel_drive(board, drive, volumes)
    before = board_ports(board, port_lister)
    copy_uf2(data, target, Path(firmware).name, progress)
    if say:
        say(f"waiting up to {wait_timeout:g}s for the board's serial port ({board.usb_ids()[0]})")
    came_back = wait_for_port(board, port_lister, before, wait_timeout)
    if came_back is None:
        raise UserError(
            f"copied {Path(firmware).name} to {target}, but no serial port with USB id {board.usb_ids()[0]} "
            f"came back within {wait_timeout:g}s; unplug and replug the board"
        )
    return FlashResult(board, str(target), came_back, warnings)
