# The virtual board's flash: a host folder (os.VfsPosix) mounted at /, with the board's capacity, so a
# write past it fails with ENOSPC as on a full LittleFS. As there, each file takes whole 4 KB blocks.
import io
import os

ENOSPC = 28
BLOCK = 4096
ROMFS_FILE = ".zoo_romfs0"  # the ROMFS partition kept beside the files; not part of the filesystem


class Flash:
    def __init__(self, root, capacity):
        self._fs = os.VfsPosix(root)
        self._root = root.rstrip("/")
        self._host = os.VfsPosix()  # host paths as given
        self.capacity = capacity

    def __repr__(self):
        return "<VfsLfs2>"  # what mpremote df and vfs.mount() show for a board's LittleFS

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def used(self, path=""):
        total = 0
        for entry in self._fs.ilistdir(path or "/"):
            name = entry[0]
            if not path and name == ROMFS_FILE:
                continue
            full = (path + "/" + name) if path else "/" + name
            if entry[1] == 0x4000:
                total += self.used(full)
            else:
                total += _blocks(self._fs.stat(full)[6])
        return total

    def statvfs(self, path):
        blocks = self.capacity // BLOCK
        free = max(0, (self.capacity - self.used()) // BLOCK)
        return (BLOCK, BLOCK, blocks, free, free, 0, 0, 0, 0, 255)

    def open(self, path, mode):
        f = self._fs.open(path, mode)
        if "w" in mode or "a" in mode or "+" in mode:
            size = 0 if "w" in mode else self._fs.stat(path)[6]
            return _Capped(f, self.capacity - self.used(), size)
        return f

    def ilistdir(self, path):
        # with sizes, as LittleFS gives them (VfsPosix does not), so `mpremote fs ls` shows them
        base = path.rstrip("/")
        for entry in self._fs.ilistdir(path):
            if not base and entry[0] == ROMFS_FILE:
                continue
            if entry[1] == 0x4000:
                yield (entry[0], entry[1], entry[2], 0)
            else:
                yield (entry[0], entry[1], entry[2], self._fs.stat(base + "/" + entry[0])[6])

    def chdir(self, path):
        return self._fs.chdir(path)

    def getcwd(self):
        return self._fs.getcwd()

    def mkdir(self, path):
        return self._fs.mkdir(path)

    def remove(self, path):
        return self._fs.remove(path)

    def rename(self, old, new):
        # VfsPosix with a root builds both paths in one buffer, so its rename sees new twice.
        return self._host.rename(self._host_path(old), self._host_path(new))

    def _host_path(self, path):
        # relative paths already resolve on the host: chdir here is a real chdir
        return self._root + path if path.startswith("/") else path

    def rmdir(self, path):
        return self._fs.rmdir(path)

    def stat(self, path):
        return self._fs.stat(path)


def _blocks(size):
    return (size + BLOCK - 1) // BLOCK * BLOCK


class _Capped(io.IOBase):
    """A file open for writing that refuses to grow the flash past its capacity."""

    def __init__(self, f, free, size):
        self._f = f
        self._room = free + _blocks(size)  # bytes this file may take in all
        self._size = size

    def write(self, buf):
        if _blocks(self._size + len(buf)) > self._room:
            raise OSError(ENOSPC)
        n = self._f.write(buf)
        self._size += n
        return n

    def read(self, *args):
        return self._f.read(*args)

    def readinto(self, *args):
        return self._f.readinto(*args)

    def readline(self, *args):
        return self._f.readline(*args)

    def seek(self, *args):
        return self._f.seek(*args)

    def tell(self):
        return self._f.tell()

    def flush(self):
        return self._f.flush()

    def close(self):
        return self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
