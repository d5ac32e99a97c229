"""Reading UF2 files (the format of the RP2040/RP2350 BOOTSEL drive) far enough to check their family."""

from __future__ import annotations

import struct
from dataclasses import dataclass

BLOCK_SIZE = 512
MAGIC_START0 = 0x0A324655
MAGIC_START1 = 0x9E5D5157
MAGIC_END = 0x0AB16F30
FLAG_NOT_MAIN_FLASH = 0x00000001
FLAG_FAMILY_ID = 0x00002000

# From the UF2 family list (microsoft/uf2 utils/uf2families.json) and the RP2350 datasheet.
FAMILY_NAMES = {
    0xE48BFF56: "rp2040",
    0xE48BFF57: "absolute",
    0xE48BFF58: "data",
    0xE48BFF59: "rp2350-arm-s",
    0xE48BFF5A: "rp2350-riscv",
    0xE48BFF5B: "rp2350-arm-ns",
    0x1C5F21B0: "esp32",
    0xBFDD4EEE: "esp32s2",
    0xC47E5767: "esp32s3",
    0xD42BA06C: "esp32c3",
}


class NotUF2(ValueError):
    pass


@dataclass(frozen=True)
class Block:
    flags: int
    address: int
    payload_size: int
    block_no: int
    num_blocks: int
    family: int | None  # None when the block carries a file size instead


def read_blocks(data: bytes) -> list[Block]:
    """Every 512-byte block of a UF2 file; NotUF2 when the data is not one."""
    if not data or len(data) % BLOCK_SIZE:
        raise NotUF2(f"size {len(data)} is not a whole number of {BLOCK_SIZE}-byte UF2 blocks")
    blocks = []
    for offset in range(0, len(data), BLOCK_SIZE):
        m0, m1, flags, addr, size, no, count, family_or_size = struct.unpack_from("<8I", data, offset)
        (end,) = struct.unpack_from("<I", data, offset + BLOCK_SIZE - 4)
        if (m0, m1, end) != (MAGIC_START0, MAGIC_START1, MAGIC_END):
            raise NotUF2(f"block {offset // BLOCK_SIZE} has no UF2 magic numbers")
        family = family_or_size if flags & FLAG_FAMILY_ID else None
        blocks.append(Block(flags, addr, size, no, count, family))
    return blocks


def families(data: bytes) -> dict[int | None, int]:
    """Family id -> number of flash blocks carrying it (None: blocks without a family id)."""
    counts: dict[int | None, int] = {}
    for block in read_blocks(data):
        if block.flags & FLAG_NOT_MAIN_FLASH:
            continue
        counts[block.family] = counts.get(block.family, 0) + 1
    return counts


def family_name(family: int | None) -> str:
    if family is None:
        return "no family id"
    name = FAMILY_NAMES.get(family)
    return f"{name} ({family:#010x})" if name else f"{family:#010x}"
