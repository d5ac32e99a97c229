# vfs with the board's ROMFS partition, as a firmware built with one has it: rom_ioctl over a host
# file, so `mpremote romfs deploy` (and zoo-micro deploy --romfs) write it as on a board.
import os

import simlink
from vfs import *  # noqa: F403 (the built-in module's members; this module takes its place)

ENODEV = -19
EINVAL = -22
BLOCK = 4096  # erase unit, as on an ESP32's or RP2's flash
_host = os.VfsPosix()
_path = simlink.cfg["romfs"]
_size = simlink.cfg["romfs_kb"] * 1024


def _open():
    try:
        return _host.open(_path, "r+b")
    except OSError:
        _host.open(_path, "wb").close()
        return _host.open(_path, "r+b")


def _write(offset, data):
    f = _open()
    try:
        f.seek(0, 2)
        end = f.tell()
        if end < offset:
            f.write(b"\xff" * (offset - end))  # never-written flash reads as erased
        f.seek(offset)
        f.write(data)
    finally:
        f.close()


def _read(start, stop):
    try:
        f = _host.open(_path, "rb")
    except OSError:
        return b"\xff" * (stop - start)
    try:
        f.seek(start)
        data = f.read(stop - start)
    finally:
        f.close()
    if len(data) < stop - start:
        data += b"\xff" * (stop - start - len(data))
    return data


class _Partition:
    # What rom_ioctl(2) gives: its length, and slices read from the flash (a board gives a memoryview).
    def __len__(self):
        return _size

    def __getitem__(self, s):
        start = s.start or 0
        stop = _size if s.stop is None else min(s.stop, _size)
        return _read(start, max(start, stop))


def rom_ioctl(op, *args):
    if op == 1:
        return 1 if _size else 0
    if not _size or not args or args[0] != 0:
        return ENODEV
    if op == 2:
        return _Partition()
    if op == 3:
        # prepare for writing: (id, length) or (id, offset, length) erases that range
        offset, n = (0, args[1]) if len(args) == 2 else (args[1], args[2])
        if offset < 0 or offset + n > _size:
            return EINVAL
        while n > 0:
            k = min(n, BLOCK)
            _write(offset, b"\xff" * k)
            offset += k
            n -= k
        return 4  # smallest write, in bytes
    if op == 4:
        offset, data = args[1], args[2]
        if offset < 0 or offset + len(data) > _size:
            return EINVAL
        _write(offset, data)
        return 0
    if op == 5:
        return 0
    if op == 6:
        return BLOCK
    return EINVAL


def image():
    # The image the partition holds, read into the heap (the unix port has no mapped flash), or None.
    head = _read(0, 8)
    if head[:3] != b"\xd2\xcd\x31":
        return None
    size = 0
    n = 3
    for b in head[3:]:
        n += 1
        size = (size << 7) | (b & 0x7F)
        if not b & 0x80:
            break
    if n + size > _size:
        return None
    return _read(0, n + size)
