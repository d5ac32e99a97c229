# Power-loss-safe files on flash: write a temporary copy, then rename; keep the previous good one.
# Each file is the body, a newline, its CRC32 in hex and a final newline, so truncation shows.
import os

from zoo_micro import log

try:
    from binascii import crc32
except ImportError:  # a port built without binascii
    crc32 = None


def checksum(text):
    if crc32 is None:
        return 0
    return crc32(text.encode()) & 0xFFFFFFFF


def write(path, body):
    """Replace `path` with body; until the final rename the old copy stays readable."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%s\n%08x\n" % (body, checksum(body)))
    remove(path + ".bak")
    if exists(path):
        os.rename(path, path + ".bak")
    os.rename(tmp, path)


def read(path):
    """(file read, body) from the newest intact copy: path, then a finished .tmp, then .bak.

    (None, None) when there is no file at all; (path, None) when every copy is damaged."""
    seen = None
    for candidate in (path, path + ".tmp", path + ".bak"):
        if not exists(candidate):
            continue
        seen = seen or candidate
        body = _checked(candidate)
        if body is not None:
            return candidate, body
        if candidate == path:
            log.warn("%s is damaged; trying the previous copy" % path)
    return seen, None


def _checked(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    lines = text.split("\n")
    if len(lines) != 3 or lines[2] != "":
        return None  # truncated: the checksum line and its newline come last
    try:
        if int(lines[1], 16) != checksum(lines[0]):
            return None
    except ValueError:
        return None
    return lines[0]


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
