"""zoo-micro flash: firmware/board matching on images made with esptool, UF2 families, the BOOTSEL copy,
waiting for the port, and every refusal happening before anything is written."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import threading
import tty
import zlib
from pathlib import Path

import pytest
import serial
from esptool.bin_image import ELFSection, ESP32C3FirmwareImage, ESP32FirmwareImage, ESP32S3FirmwareImage
from esptool.uf2_writer import UF2Writer
from serial.tools.list_ports_common import ListPortInfo

from host_tools import uf2
from host_tools.boards import get_board
from host_tools.cli.main import main
from host_tools.errors import UserError
from host_tools.flash import (
    check_firmware,
    connect_esp,
    esp_image_chip,
    find_bootsel_drive,
    flash,
    wait_for_port,
)

IMAGE_CLASSES = {
    "esp32": ESP32FirmwareImage,
    "esp32s3": ESP32S3FirmwareImage,
    "esp32c3": ESP32C3FirmwareImage,
}
RP2040, ABSOLUTE, RP2350_ARM_S, RP2350_RISCV = 0xE48BFF56, 0xE48BFF57, 0xE48BFF59, 0xE48BFF5A
IMAGE_TYPES = {"esp32": "ESP32", "esp32s3": "ESP32-S3", "esp32c3": "ESP32-C3"}
INFO_RP2040 = "UF2 Bootloader v3.0\r\nModel: Raspberry Pi RP2\r\nBoard-ID: RPI-RP2\r\n"
INFO_RP2350 = "UF2 Bootloader v1.0\r\nModel: Raspberry Pi RP2350\r\nBoard-ID: RP2350\r\n"


def esp_image(chip: str) -> bytes:
    """A small but well-formed ESP app image for `chip`, written by esptool's own image classes."""
    image = IMAGE_CLASSES[chip]()
    image.entrypoint = 0x40080000
    image.segments = [ELFSection(b".dram0.data", 0x3FC88000, bytes(range(256)) * 8, flags=0)]
    return image.save(None)


def merged_firmware(tmp_path: Path, chip: str, name: str) -> Path:
    """A MicroPython-like merged .bin (bootloader image first), made by `esptool merge-bin`."""
    part = tmp_path / f"{chip}-part.bin"
    part.write_bytes(esp_image(chip))
    offset = get_board(chip).flash["offset"]
    out = tmp_path / name
    subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", chip, "merge-bin", "--target-offset", offset,
         "-o", str(out), offset, str(part), "0x8000", str(part)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def uf2_file(path: Path, blocks: list[tuple[int, int]]) -> Path:
    """A UF2 file written by esptool's UF2Writer: (family, address) per 256-byte block."""
    tmp = path.with_suffix(".part")
    with open(path, "wb") as out:
        for family, address in blocks:
            with UF2Writer(family, str(tmp), 256, md5_enabled=False) as writer:
                writer.add_file(address, bytes([len(blocks) & 0xFF]) * 256)
            out.write(tmp.read_bytes())
    tmp.unlink()
    return path


def port_info(device: str, vid: int, pid: int) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = vid, pid
    return info


def bootsel_drive(root: Path, info: str = INFO_RP2040) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "INFO_UF2.TXT").write_text(info)
    (root / "INDEX.HTM").write_text("<html></html>")
    return root


class Never:
    """A connect() that fails the test if flash ever gets as far as talking to a chip."""

    def __call__(self, port, board):
        raise AssertionError(f"flash connected to {port} although it should have refused first")


@pytest.mark.parametrize("chip", ["esp32", "esp32s3", "esp32c3"])
def test_esp_image_chip_agrees_with_esptool_image_info(tmp_path, chip):
    path = merged_firmware(tmp_path, chip, "fw.bin")
    assert esp_image_chip(path.read_bytes(), path.name) == chip
    proc = subprocess.run(
        [sys.executable, "-m", "esptool", "image-info", str(path)], capture_output=True, text=True
    )
    assert f"Detected image type: {IMAGE_TYPES[chip]}\n" in proc.stdout


@pytest.mark.parametrize("chip", ["esp32", "esp32s3", "esp32c3"])
def test_esp_firmware_for_the_right_chip_is_accepted(tmp_path, chip):
    names = {"esp32": "ESP32_GENERIC", "esp32s3": "ESP32_GENERIC_S3", "esp32c3": "ESP32_GENERIC_C3"}
    path = merged_firmware(tmp_path, chip, f"{names[chip]}-20241129-v1.24.1.bin")
    data, warnings = check_firmware(get_board(chip), path)
    assert data == path.read_bytes() and warnings == []


@pytest.mark.parametrize(
    "board_id, image_chip",
    [("esp32", "esp32s3"), ("esp32s3", "esp32"), ("esp32c3", "esp32s3"), ("esp32s3", "esp32c3")],
)
def test_esp_firmware_for_another_chip_is_refused(tmp_path, board_id, image_chip):
    path = merged_firmware(tmp_path, image_chip, "fw.bin")
    with pytest.raises(UserError) as e:
        check_firmware(get_board(board_id), path)
    text = str(e.value)
    assert "\n" not in text and f"firmware for {image_chip}, not for {board_id}" in text


def test_esp_board_refuses_uf2_and_junk(tmp_path):
    fw = uf2_file(tmp_path / "RPI_PICO-x.uf2", [(RP2040, 0x10000000)])
    with pytest.raises(UserError, match="is a UF2 file; ESP boards take the .bin"):
        check_firmware(get_board("esp32"), fw)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x7fELF" + bytes(100))
    with pytest.raises(UserError, match="not an ESP firmware image"):
        check_firmware(get_board("esp32"), junk)
    with pytest.raises(UserError, match="not found"):
        check_firmware(get_board("esp32"), tmp_path / "missing.bin")


def test_esp_image_with_a_broken_body_is_refused(tmp_path):
    data = bytearray(esp_image("esp32s3"))
    data[100] ^= 0xFF  # esptool's reader checks the image checksum
    path = tmp_path / "ESP32_GENERIC_S3-broken.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="is a broken ESP image"):
        check_firmware(get_board("esp32s3"), path)


def test_a_misnamed_file_that_fits_the_chip_only_warns(tmp_path):
    path = uf2_file(tmp_path / "RPI_PICO_W-20241129-v1.24.1.uf2", [(RP2040, 0x10000000)])
    _, warnings = check_firmware(get_board("pico"), path)
    assert warnings == [
        "RPI_PICO_W-20241129-v1.24.1.uf2 is not named like RPI_PICO-*.uf2; its header fits rp2040, "
        "so it is written anyway"
    ]


def test_uf2_families_are_read_from_every_block(tmp_path):
    path = uf2_file(
        tmp_path / "a.uf2",
        [(ABSOLUTE, 0x10FFFF00)] + [(RP2350_ARM_S, 0x10000000 + i * 256) for i in range(3)],
    )
    assert uf2.families(path.read_bytes()) == {ABSOLUTE: 1, RP2350_ARM_S: 3}
    assert uf2.family_name(RP2350_RISCV) == "rp2350-riscv (0xe48bff5a)"


@pytest.mark.parametrize(
    "board_id, blocks, ok",
    [
        ("pico", [(RP2040, 0x10000000), (RP2040, 0x10000100)], True),
        ("pico_w", [(RP2040, 0x10000000)], True),
        ("pico2", [(ABSOLUTE, 0x10FFFF00), (RP2350_ARM_S, 0x10000000)], True),
        ("pico2", [(RP2350_ARM_S, 0x10000000)], True),
        ("pico", [(RP2350_ARM_S, 0x10000000)], False),
        ("pico2", [(RP2040, 0x10000000)], False),
        ("pico2", [(RP2350_RISCV, 0x10000000)], False),
        ("pico2", [(ABSOLUTE, 0x10000000)], False),
        ("pico2", [(RP2350_ARM_S, 0x10000000), (RP2040, 0x10000100)], False),
    ],
)
def test_uf2_family_must_fit_the_board(tmp_path, board_id, blocks, ok):
    path = uf2_file(tmp_path / "fw.uf2", blocks)
    board = get_board(board_id)
    if ok:
        assert check_firmware(board, path)[0] == path.read_bytes()
    else:
        with pytest.raises(UserError) as e:
            check_firmware(board, path)
        assert f"not for {board_id} (" in str(e.value) and "\n" not in str(e.value)


def test_esp_uf2_from_esptool_is_refused_by_a_pico(tmp_path):
    part = tmp_path / "app.bin"
    part.write_bytes(esp_image("esp32s3"))
    out = tmp_path / "s3.uf2"
    subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", "esp32s3", "merge-bin", "--format", "uf2", "-o", str(out),
         "0x0", str(part)],
        check=True, capture_output=True,
    )  # fmt: skip
    with pytest.raises(UserError, match=r"is a UF2 for esp32s3 \(0xc47e5767\), not for pico"):
        check_firmware(get_board("pico"), out)


def test_uf2_without_family_or_magic_is_refused(tmp_path):
    path = uf2_file(tmp_path / "fw.uf2", [(RP2040, 0x10000000)])
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 8, 0)  # clear the flags: the family field becomes a file size
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="no family id"):
        check_firmware(get_board("pico"), path)
    path.write_bytes(bytes(data[:500]))
    with pytest.raises(UserError, match="not a UF2 file"):
        check_firmware(get_board("pico"), path)


def test_uf2_lands_on_the_bootsel_drive_and_the_new_port_is_found(tmp_path):
    drive = bootsel_drive(tmp_path / "RPI-RP2")
    fw = uf2_file(
        tmp_path / "RPI_PICO-20241129-v1.24.1.uf2", [(RP2040, 0x10000000 + i * 256) for i in range(600)]
    )
    other_pico = port_info("/dev/ttyACM0", 0x2E8A, 0x0005)
    calls = []

    def ports():
        calls.append(1)
        if len(calls) < 4:  # the board is still rebooting
            return [other_pico]
        return [other_pico, port_info("/dev/ttyACM1", 0x2E8A, 0x0005)]

    seen = []
    result = flash(
        "pico",
        fw,
        drive=drive,
        port_lister=ports,
        wait_timeout=30,
        progress=lambda d, t, w: seen.append((d, t)),
    )
    assert (drive / fw.name).read_bytes() == fw.read_bytes()
    assert result.port_after == "/dev/ttyACM1" and result.target == str(drive)
    assert seen[-1] == (fw.stat().st_size, fw.stat().st_size)


def test_bootsel_drive_is_found_among_mounted_volumes(tmp_path):
    plain = tmp_path / "usbstick"
    plain.mkdir()
    rp2350 = bootsel_drive(tmp_path / "RP2350", INFO_RP2350)
    rp2040 = bootsel_drive(tmp_path / "RPI-RP2")
    volumes = lambda: [plain, rp2350, rp2040]  # noqa: E731
    assert find_bootsel_drive(get_board("pico"), volumes=volumes) == rp2040
    assert find_bootsel_drive(get_board("pico2"), volumes=volumes) == rp2350
    with pytest.raises(UserError, match="no BOOTSEL drive is mounted"):
        find_bootsel_drive(get_board("pico"), volumes=lambda: [plain])
    second = bootsel_drive(tmp_path / "RPI-RP2 1")
    with pytest.raises(UserError, match="several BOOTSEL drives"):
        find_bootsel_drive(get_board("pico"), volumes=lambda: [rp2040, second])


def test_uf2_refusals_write_nothing_to_the_drive(tmp_path):
    fw = uf2_file(tmp_path / "RPI_PICO-x.uf2", [(RP2040, 0x10000000)])
    wrong_chip = bootsel_drive(tmp_path / "RP2350", INFO_RP2350)
    with pytest.raises(UserError, match="Board-ID RP2350, not RPI-RP2 of --board pico"):
        flash("pico", fw, drive=wrong_chip, port_lister=lambda: [])
    not_a_drive = tmp_path / "folder"
    not_a_drive.mkdir()
    with pytest.raises(UserError, match="not a BOOTSEL drive"):
        flash("pico", fw, drive=not_a_drive, port_lister=lambda: [])
    with pytest.raises(UserError, match="not for pico2"):
        flash("pico2", fw, drive=wrong_chip, port_lister=lambda: [])
    assert sorted(p.name for p in wrong_chip.iterdir()) == ["INDEX.HTM", "INFO_UF2.TXT"]
    assert list(not_a_drive.iterdir()) == []


def test_a_port_that_never_comes_back_is_one_line_after_the_copy(tmp_path):
    drive = bootsel_drive(tmp_path / "RPI-RP2")
    fw = uf2_file(tmp_path / "RPI_PICO-x.uf2", [(RP2040, 0x10000000)])
    with pytest.raises(UserError) as e:
        flash("pico", fw, drive=drive, port_lister=lambda: [], wait_timeout=0.2)
    assert "copied RPI_PICO-x.uf2" in str(e.value) and "2e8a:0005" in str(e.value)
    assert (drive / fw.name).is_file()


def test_wait_for_port_polls_the_lister_until_a_new_port_appears():
    board = get_board("pico")
    answers = [[], [port_info("/dev/ttyUSB0", 0x10C4, 0xEA60)], [port_info("/dev/ttyACM3", 0x2E8A, 0x0005)]]
    naps = []
    found = wait_for_port(board, lambda: answers.pop(0), set(), timeout=60, sleep=naps.append)
    assert found == "/dev/ttyACM3" and len(naps) == 2


@pytest.fixture
def pty_port():
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_esp_refusals_happen_before_talking_to_the_chip(tmp_path, pty_port):
    _, port = pty_port
    fw = merged_firmware(tmp_path, "esp32", "ESP32_GENERIC-x.bin")
    with pytest.raises(UserError, match="unknown board 'esp8266'"):
        flash("esp8266", fw, port=port, connect=Never())
    with pytest.raises(UserError, match="ESP boards need --port"):
        flash("esp32", fw, connect=Never())
    with pytest.raises(UserError, match="port /dev/ttyNOPE0 not found"):
        flash("esp32", fw, port="/dev/ttyNOPE0", connect=Never())
    with pytest.raises(UserError, match="firmware for esp32, not for esp32s3"):
        flash("esp32s3", fw, port=port, connect=Never())
    holder = serial.Serial(port, exclusive=True)
    try:
        with pytest.raises(UserError, match=f"port {port} is busy"):
            flash("esp32", fw, port=port, connect=Never())
    finally:
        holder.close()


class FakeRom(threading.Thread):
    """The serial side of an ESP ROM bootloader and of esptool's flasher stub, enough for esptool to
    detect the chip (SLIP, sync, security info, registers) and, with `flash` set, to upload its stub
    and write compressed data into a bytearray standing for the flash chip. Every command is logged,
    so a test can see how far esptool went; unknown ones are answered with an error."""

    MAGIC_REG = 0x40001000

    def __init__(self, fd: int, chip_id: int | None = None, magic: int | None = None, flash: bool = False):
        super().__init__(daemon=True)
        self.fd, self.chip_id, self.magic = fd, chip_id, magic
        self.commands: list[int] = []
        self.stop = threading.Event()
        self.flash = bytearray(b"\xff" * 0x40000) if flash else None
        self._write_at = 0
        self._inflate = None

    def send(self, op: int, val: int, data: bytes) -> None:
        body = struct.pack("<BBHI", 1, op, len(data), val) + data
        body = body.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
        os.write(self.fd, b"\xc0" + body + b"\xc0")

    def handle(self, packet: bytes) -> None:
        if len(packet) < 8 or packet[0] != 0:
            return
        op, data = packet[1], packet[8:]
        self.commands.append(op)
        ok = b"\x00\x00\x00\x00"
        if op == 0x08:  # SYNC: the ROM answers eight times, with a non-zero value
            for _ in range(8):
                self.send(op, 0x20120707, ok)
        elif op == 0x14 and self.chip_id is not None:  # GET_SECURITY_INFO, chips from the C3 on
            self.send(op, 0, struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0, self.chip_id, 0) + ok)
        elif op == 0x0A:  # READ_REG
            (addr,) = struct.unpack_from("<I", data)
            self.send(op, self.magic if addr == self.MAGIC_REG and self.magic else 0, ok)
        elif op in (0x09, 0x0B, 0x0D, 0x0F, 0x12, 0x04, 0xD0) or (self.flash is None and op == -1):
            self.send(op, 0, ok)  # WRITE_REG, SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE, *_END, ERASE_FLASH
        elif self.flash is not None and op in (0x05, 0x07):  # MEM_BEGIN, MEM_DATA: the stub arrives
            self.send(op, 0, ok)
        elif self.flash is not None and op == 0x06:  # MEM_END: the stub runs and says hello
            self.send(op, 0, ok)
            os.write(self.fd, b"\xc0OHAI\xc0")
        elif self.flash is not None and op == 0x10:  # FLASH_DEFL_BEGIN
            self._write_at = struct.unpack_from("<IIII", data)[3]
            self._inflate = zlib.decompressobj()
            self.send(op, 0, ok)
        elif self.flash is not None and op == 0x11:  # FLASH_DEFL_DATA
            size = struct.unpack_from("<I", data)[0]
            chunk = self._inflate.decompress(data[16 : 16 + size])
            self.flash[self._write_at : self._write_at + len(chunk)] = chunk
            self._write_at += len(chunk)
            self.send(op, 0, ok)
        elif self.flash is not None and op == 0x13:  # SPI_FLASH_MD5: the stub answers 16 raw bytes
            addr, size = struct.unpack_from("<II", data)
            self.send(op, 0, hashlib.md5(self.flash[addr : addr + size]).digest() + ok)
        else:
            self.send(op, 0, b"\x01\x05\x00\x00")  # failed: invalid command

    def run(self) -> None:
        packet, inside, escaped = b"", False, False
        while not self.stop.is_set():
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            for byte in chunk:
                if byte == 0xC0:
                    if inside and packet:
                        self.handle(packet)
                    packet, inside = b"", True
                elif inside:
                    if escaped:
                        packet += bytes([{0xDC: 0xC0, 0xDD: 0xDB}.get(byte, byte)])
                        escaped = False
                    elif byte == 0xDB:
                        escaped = True
                    else:
                        packet += bytes([byte])


WRITES = {0x02, 0x03, 0x05, 0x07, 0x10, 0x11, 0xD0, 0xD1}  # FLASH_*, MEM_*, FLASH_DEFL_*, ERASE_*


@pytest.mark.parametrize(
    "board_id, rom, answer",
    [
        ("esp32s3", {"chip_id": 5}, "ESP32-C3"),
        ("esp32c3", {"magic": 0x00F01D83}, "ESP32"),
        ("esp32", {"chip_id": 9}, "ESP32-S3"),
    ],
)
def test_a_chip_that_is_not_the_named_board_is_refused_before_writing(
    tmp_path, pty_port, board_id, rom, answer
):
    master, port = pty_port
    fake = FakeRom(master, **rom)
    fake.start()
    fw = merged_firmware(tmp_path, board_id, "fw.bin")
    with pytest.raises(UserError) as e:
        flash(board_id, fw, port=port)
    fake.stop.set()
    assert str(e.value) == (
        f"the chip on {port} is an {answer}, not the {get_board(board_id).chip} of --board {board_id}; "
        "pick the matching board"
    )
    assert 0x08 in fake.commands and not WRITES & set(fake.commands), fake.commands


def test_the_named_chip_gets_past_detection_to_the_flasher(tmp_path, pty_port):
    master, port = pty_port
    fake = FakeRom(master, chip_id=9)
    fake.start()
    fw = merged_firmware(tmp_path, "esp32s3", "ESP32_GENERIC_S3-x.bin")
    with pytest.raises(UserError, match=f"esptool failed while writing {port}"):
        flash("esp32s3", fw, port=port)
    fake.stop.set()
    assert 0x05 in fake.commands  # MEM_BEGIN: esptool began uploading its flasher stub


@pytest.mark.parametrize("board_id, rom", [("esp32", {"magic": 0x00F01D83}), ("esp32s3", {"chip_id": 9})])
def test_esptool_writes_the_firmware_at_the_board_offset(tmp_path, pty_port, board_id, rom):
    master, port = pty_port
    fake = FakeRom(master, flash=True, **rom)
    fake.start()
    fw = merged_firmware(tmp_path, board_id, "fw.bin")
    seen = []
    result = flash(
        board_id, fw, port=port, progress=lambda done, total, what: seen.append((done, total, what))
    )
    fake.stop.set()
    data = fw.read_bytes()
    offset = get_board(board_id).esp_offset()
    assert bytes(fake.flash[offset : offset + len(data)]) == data
    assert fake.flash[:offset] == b"\xff" * offset  # nothing written below the offset
    assert result.target == port
    assert seen[-1][0] == seen[-1][1] > 0 and seen[-1][2].startswith("Writing at")  # compressed bytes sent


def test_no_bootloader_answering_is_one_line(tmp_path, pty_port):
    _, port = pty_port
    fw = merged_firmware(tmp_path, "esp32", "ESP32_GENERIC-x.bin")
    with pytest.raises(UserError) as e:
        flash("esp32", fw, port=port, connect=lambda p, b: connect_esp(p, b, attempts=1))
    assert str(e.value).startswith(f"no ESP bootloader answered on {port} (") and "\n" not in str(e.value)


def test_cli_flash_refusal_is_one_line_and_exit_2(tmp_path, capsys):
    fw = uf2_file(tmp_path / "RPI_PICO2-x.uf2", [(RP2350_RISCV, 0x10000000)])
    drive = bootsel_drive(tmp_path / "RP2350", INFO_RP2350)
    assert main(["flash", "--board", "pico2", "--firmware", str(fw), "--drive", str(drive)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "zoo-micro flash: RPI_PICO2-x.uf2 is a UF2 for rp2350-riscv (0xe48bff5a), "
        "not for pico2 (rp2350-arm-s (0xe48bff59)); pick RPI_PICO2-*.uf2"
    )


def test_erase_wipes_the_whole_flash_before_writing(tmp_path, pty_port):
    master, port = pty_port
    fake = FakeRom(master, flash=True, chip_id=5)
    fake.start()
    fw = merged_firmware(tmp_path, "esp32c3", "ESP32_GENERIC_C3-x.bin")
    flash("esp32c3", fw, port=port, erase=True)
    fake.stop.set()
    assert 0xD0 in fake.commands  # ERASE_FLASH
    assert fake.commands.index(0xD0) < fake.commands.index(0x10)  # before FLASH_DEFL_BEGIN
    assert bytes(fake.flash[: fw.stat().st_size]) == fw.read_bytes()


def test_esptool_says_nothing_of_options_zoo_micro_does_not_have(tmp_path, pty_port, capfd):
    # A pty cannot set RTS/DTR; esptool then suggests its own --before/--after switches.
    master, port = pty_port
    fake = FakeRom(master, flash=True, magic=0x00F01D83)
    fake.start()
    fw = merged_firmware(tmp_path, "esp32", "fw.bin")
    result = flash("esp32", fw, port=port)
    fake.stop.set()
    out, err = capfd.readouterr()
    assert "--before" not in out + err and "--after" not in out + err
    assert result.target == port


def test_cli_flash_without_port_uses_the_one_esp_board_on_usb(tmp_path, pty_port, capsys, monkeypatch):
    from types import SimpleNamespace

    from host_tools.cli import ports

    master, port = pty_port
    cp2102 = SimpleNamespace(device=port, vid=0x10C4, pid=0xEA60, description="CP2102 USB to UART")
    monkeypatch.setattr(ports, "list_serial_ports", lambda: [cp2102])
    fake = FakeRom(master, flash=True, magic=0x00F01D83)
    fake.start()
    fw = merged_firmware(tmp_path, "esp32", "ESP32_GENERIC-x.bin")
    assert main(["flash", "--board", "esp32", "--firmware", str(fw)]) == 0
    fake.stop.set()
    out = capsys.readouterr()
    assert f"using {port} (esp32/esp32c3/esp32s3, USB 10c4:ea60)" in out.err
    assert f"via {port}" in out.out
    data = fw.read_bytes()
    assert bytes(fake.flash[0x1000 : 0x1000 + len(data)]) == data
    monkeypatch.setattr(ports, "list_serial_ports", lambda: [])
    assert main(["flash", "--board", "esp32", "--firmware", str(fw)]) == 2
    assert capsys.readouterr().err == (
        "zoo-micro flash: no board found: plug one in (zoo-micro detect lists them), or give --port\n"
    )
