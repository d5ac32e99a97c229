# Run on the board by deploy, in its raw REPL, before anything changes; deploy deletes these names after.
# MicroPython only. Names start with _zd so they cannot clash with the user's REPL globals.
import binascii
import hashlib
import os
import sys  # noqa: F401  deploy's queries read sys.implementation


def _zd_hash(p):
    try:
        f = open(p, "rb")  # noqa: SIM115  a missing file answers None, not an error
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()


def _zd_cat(p):
    # the file as repr()s of 256-byte pieces, one a line (None if there is none): never all in the heap
    try:
        f = open(p, "rb")  # noqa: SIM115
    except OSError:
        print(None)
        return
    while True:
        b = f.read(256)
        if not b:
            break
        print(repr(b))
    f.close()


def _zd_rmtree(p):
    try:
        names = os.listdir(p)
    except OSError:
        return
    for n in names:
        q = p + "/" + n
        if os.stat(q)[0] & 0x4000:
            _zd_rmtree(q)
        else:
            os.remove(q)
    os.rmdir(p)


def _zd_mkdirs(ds):
    for d in ds:
        try:
            os.mkdir(d)
        except OSError as e:
            if e.errno != 17:
                raise


def _zd_rom(n):
    try:
        import vfs
    except ImportError:
        return None
    if not hasattr(vfs, "rom_ioctl") or vfs.rom_ioctl(1) <= 0:
        return None
    d = vfs.rom_ioctl(2, 0)
    if isinstance(d, int):
        return None
    size = d.ioctl(4, 0) * d.ioctl(5, 0) if hasattr(d, "ioctl") else len(d)
    h = None
    if 0 < n <= size:
        try:
            m = memoryview(d)[:n]
        except TypeError:
            m = d[:n]
        h = binascii.hexlify(hashlib.sha256(m).digest()).decode()
    return (size, h)


def _zd_swap(moves, removes, dirs, manifest, text):
    for s, d in moves:
        try:
            os.rename(s, d)
        except OSError:
            os.remove(d)
            os.rename(s, d)
    for p in removes:
        try:
            os.remove(p)
        except OSError:
            pass
    for d in dirs:
        try:
            os.rmdir(d)
        except OSError:
            pass
    with open(manifest + ".new", "w") as f:
        f.write(text)
    try:
        os.rename(manifest + ".new", manifest)
    except OSError:
        os.remove(manifest)
        os.rename(manifest + ".new", manifest)
