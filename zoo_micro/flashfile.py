# Power-loss-safe files on flash: write a temporary copy, then rename; keep the previous good one.
# Each file is the body, a newline, its CRC32 in hex and a final newline, so truncation shows.
import os

try:
    from binascii import crc32
except ImportError:  # a port built without binascii
    crc32 = None


def checksum(data):
    if crc32 is None:
        return 0
    return crc32(data) & 0xFFFFFFFF


def write(path, body, limit):
    """Replace `path` with body; until the final rename the old copy stays readable."""
    data = body.encode()
    size = len(data) + 10
    if size > limit:  # read() would refuse it at the next boot: keep the copy on flash
        raise ValueError("is %d bytes, over the %d-byte limit" % (size, limit))
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.write(("\n%08x\n" % checksum(data)).encode())
    except Exception:
        remove(tmp)  # a full flash gets its space back
        raise
    if exists(path):  # else the .bak stays: it is the last good copy
        remove(path + ".bak")
        os.rename(path, path + ".bak")
    os.rename(tmp, path)


def read(path, limit):
    """The body of `path` when it is intact. Raises OSError (missing, unreadable), ValueError
    (over `limit` bytes, truncated, checksum), UnicodeError or MemoryError."""
    size = os.stat(path)[6]
    if size > limit:  # refused before reading: it would not fit the heap anyway
        raise ValueError("is %d bytes, over the %d-byte limit" % (size, limit))
    with open(path, "rb") as f:
        data = f.read()
    end = data.rfind(b"\n", 0, len(data) - 1)
    if end < 0 or data[-1:] != b"\n":
        raise ValueError("is truncated")  # the checksum line and its newline come last
    body = memoryview(data)[:end]
    if ("%08x" % checksum(body)).encode() != data[end + 1 : -1]:
        raise ValueError("fails its checksum")
    return str(body, "utf-8")


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
