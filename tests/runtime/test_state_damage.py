# A damaged state file never stops a boot: every damage falls back to the previous good copy
# (state.json.bak), or to empty state, with one log line naming the copy loaded and why; saves that
# the flash refuses are logged and lose nothing. Runs on CPython and the unix port, at a 128K heap.
import json
import os
import sys
from binascii import crc32

from helpers import Quiet, wait_until
from zoo_micro import Master, StateMachineManager, log

HEAPSIZE = "128K"  # a 128K node: a 200 KB state file must not take it down
MICROPYTHON = sys.implementation.name == "micropython"


def framed(body):
    """A state file around `body` (bytes) with a checksum that matches it."""
    return body + ("\n%08x\n" % (crc32(body) & 0xFFFFFFFF)).encode()


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)


def get(path):
    with open(path, "rb") as f:
        return f.read()


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def clear(path):
    for name in (path, path + ".bak", path + ".tmp", path + ".bad"):
        try:
            os.remove(name)
        except OSError:
            try:
                if exists(name + "/inside"):
                    os.remove(name + "/inside")
                os.rmdir(name)
            except OSError:
                pass


def good_pair(path):
    """state.json holds n=2, state.json.bak n=1: both intact, as two saves leave them."""
    s = store(path)
    s.set_state("cfg", "n", 1)
    s.save()
    s.set_state("cfg", "n", 2)
    s.save()


def store(path):
    StateMachineManager.reset()
    s = StateMachineManager()
    s.configure(path=path)
    return s


def boot(path):
    """Load as a booting node does; returns (file loaded, n, the log lines it wrote)."""
    s = store(path)
    lines = []
    sink = lambda level, msg: lines.append(msg)  # noqa: E731
    log.sinks.append(sink)
    try:
        with Quiet():
            loaded = s.load()
    finally:
        log.sinks.remove(sink)
    return loaded, s.get_state("cfg", "n"), lines


def _flip_bit(data):
    b = bytearray(data)
    b[len(b) // 3] ^= 0x04
    return bytes(b)


def _erased(data):
    # a flash page that lost its program: 0xFF bytes
    return data[:8] + b"\xff" * 16 + data[24:]


def _huge(path):
    # A valid file of 200 KB, written in pieces: this node's heap could not hold it at once.
    crc = 0
    with open(path, "wb") as f:
        for i in range(1102):
            if i == 0:
                part = b'{"version": 1, "scopes": {"cfg": {'
            elif i == 1101:
                part = b'"n": [9, 1]}}}'
            else:
                part = ('"k%05d": ["%s", 1], ' % (i, "x" * 180)).encode()
            f.write(part)
            crc = crc32(part, crc)
        f.write(("\n%08x\n" % (crc & 0xFFFFFFFF)).encode())


# (what happened to the file; how: a function of the intact file's bytes, or a body stored with a
#  matching checksum, or "dir" / "huge"; what the log line says about the file)
DAMAGES = [
    ("one flipped bit", _flip_bit, "fails its checksum"),
    ("erased flash", _erased, "fails its checksum"),
    ("random bytes", lambda data: os.urandom(len(data)), ("is truncated", "fails its checksum")),
    ("truncated", lambda data: data[: len(data) // 2], "is truncated"),
    ("zeros", lambda data: b"\x00" * len(data), "is truncated"),
    ("empty", lambda data: b"", "is truncated"),
    ("non-UTF-8 with its checksum", b'{"version": 1, "scopes": {"cfg": {"n": ["\xff", 1]}}}', "is not UTF-8"),
    ("checksum but not JSON", b'{"version": 3, "scopes": {"cfg": ', "is not JSON"),
    ("scopes as a list", b'{"version": 3, "scopes": [1, 2]}', "has the wrong shape"),
    ("scopes as a number", b'{"version": 3, "scopes": 7}', "has the wrong shape"),
    ("a scope as a list", b'{"version": 3, "scopes": {"cfg": [[5, 1]]}}', "has the wrong shape"),
    ("version as a string", b'{"version": "3", "scopes": {}}', "has the wrong shape"),
    ("a leaf that is a number", b'{"version": 3, "scopes": {"cfg": {"n": 5}}}', "has the wrong shape"),
    ("a leaf of one item", b'{"version": 3, "scopes": {"cfg": {"n": [5]}}}', "has the wrong shape"),
    (
        "a leaf version as a string",
        b'{"version": 3, "scopes": {"cfg": {"n": [5, "2"]}}}',
        "has the wrong shape",
    ),
    ("a document that is a list", b"[1, 2, 3]", "has the wrong shape"),
    ("no version", b'{"scopes": {}}', "has the wrong shape"),
    ("a directory in its place", "dir", "cannot be read (a directory)"),
    ("a valid 200 KB file", "huge", None),  # "is <its size> bytes, over the 16384-byte limit"
]


def said(line, why):
    whys = why if isinstance(why, tuple) else (why,)
    return any(("state.json " + w) in line for w in whys)


def damage(path, how):
    if isinstance(how, bytes):
        put(path, framed(how))  # a checksum that matches, around a body that does not load
    elif how == "dir":
        os.remove(path)
        os.mkdir(path)
        put(path + "/inside", b"x")
    elif how == "huge":
        _huge(path)
    else:
        put(path, how(get(path)))
    return "is %d bytes, over the 16384-byte limit" % os.stat(path)[6]


def test_every_damage_to_the_file_falls_back_to_the_previous_copy_with_one_log_line():
    path = "state.json"
    for name, how, why in DAMAGES:
        clear(path)
        good_pair(path)
        size_why = damage(path, how)
        why = why or size_why
        loaded, n, lines = boot(path)
        assert (loaded, n) == ("state.json.bak", 1), (name, loaded, n, lines)
        assert len(lines) == 1, (name, lines)
        assert said(lines[0], why) and "loaded state.json.bak" in lines[0], (name, lines)
        # The damaged file is kept aside, and the next save neither fails nor buries the good copy.
        assert exists("state.json.bad"), name
        s = StateMachineManager()
        s.set_state("cfg", "n", 3)
        s.save()
        assert boot(path)[0:2] == ("state.json", 3), name
        assert store(path).load("state.json.bak") == "state.json.bak", name  # the good copy stayed good


def test_every_damage_without_a_previous_copy_starts_empty_with_one_log_line():
    path = "state.json"
    for name, how, why in DAMAGES:
        clear(path)
        good_pair(path)
        os.remove(path + ".bak")
        size_why = damage(path, how)
        why = why or size_why
        loaded, n, lines = boot(path)
        assert (loaded, n) == (None, None), (name, loaded, n, lines)
        assert len(lines) == 1, (name, lines)
        assert said(lines[0], why) and "starting with empty state" in lines[0], (name, lines)


def test_both_copies_damaged_start_empty_naming_both():
    path = "state.json"
    good_pair(path)
    put(path, b"\xff" * 40)
    put(path + ".bak", framed(b'{"version": 1, "scopes": 5}'))
    loaded, n, lines = boot(path)
    assert (loaded, n) == (None, None)
    assert len(lines) == 1, lines
    assert "state.json is truncated" in lines[0], lines
    assert "state.json.bak has the wrong shape" in lines[0] and "starting with empty state" in lines[0]


def test_a_save_cut_before_its_last_rename_loads_the_finished_copy_and_keeps_it():
    # A power cut after state.json became state.json.bak and before state.json.tmp became state.json.
    path = "state.json"
    good_pair(path)
    os.rename(path, path + ".tmp")  # n=2, the save being finished
    loaded, n, lines = boot(path)
    assert (loaded, n) == ("state.json.tmp", 2)
    assert len(lines) == 1 and "state.json is missing; loaded state.json.tmp" in lines[0], lines
    # Promoted at once: a save that is cut while it rewrites the .tmp cannot lose n=2.
    assert exists(path) and not exists(path + ".tmp")
    put(path + ".tmp", b'{"version": 4, "sco' + b"\xff" * 13)  # that next save, torn by a power cut
    assert boot(path)[0:2] == ("state.json", 2)


def test_a_first_boot_with_no_file_is_silent():
    loaded, n, lines = boot("state.json")
    assert (loaded, n, lines) == (None, None, [])
    assert "zoo_micro.state_recover" not in sys.modules  # the fallback gave its heap back


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    # The limit is checked on the file's size: a 200 KB file never reaches the heap.
    _huge("state.json")
    assert os.stat("state.json")[6] > 200 * 1024
    loaded, n, lines = boot("state.json")
    assert (loaded, n) == (None, None)
    assert "bytes, over the 16384-byte limit; starting with empty state" in lines[0], lines
    # A larger limit, where the heap can hold it, loads the same file.
    if not MICROPYTHON:
        os.rename("state.json.bad", "state.json")
        s = store("state.json")
        s.max_bytes = 300 * 1000
        assert s.load() == "state.json" and s.get_state("cfg", "n") == 9


def test_a_file_the_heap_cannot_hold_falls_back():
    # Under a raised limit the file is read, and the heap runs out: that falls back too.
    if not MICROPYTHON:
        return  # CPython's heap holds it: the limit above is what protects a board there
    good_pair("state.json")
    _huge("state.json")
    s = store("state.json")
    s.max_bytes = 1000 * 1000
    lines = []
    log.sinks.append(lambda level, msg: lines.append(msg))
    with Quiet():
        assert s.load() == "state.json.bak"
    assert s.get_state("cfg", "n") == 1
    assert len(lines) == 1 and "state.json does not fit the heap" in lines[0], lines


def test_state_the_next_boot_would_refuse_is_never_saved():
    s = store("state.json")
    s.set_state("cfg", "n", 1)
    s.save()
    s.set_state("cfg", "blob", "x" * 20000)
    try:
        s.save()
        raise AssertionError("saved a file the next boot would refuse")
    except ValueError as e:
        assert "over the 16384-byte limit" in str(e)
    assert boot("state.json")[0:2] == ("state.json", 1)  # the copy on flash is still good


def test_nan_and_inf_are_refused_naming_scope_and_key_and_nothing_changes():
    s = store("state.json")
    s.set_state("cfg", "limits", {"low": 1.5, "high": [2, 3]})
    for bad in (float("nan"), float("inf"), -float("inf")):
        for value in (bad, [1, bad], {"a": {"b": [bad]}}, (bad,), [{"x": bad}]):
            try:
                s.set_state("cfg", "limits", value)
                raise AssertionError("accepted %r" % (value,))
            except ValueError as e:
                assert "cfg/limits" in str(e), str(e)
    for value in (b"raw", {1, 2}, object()):
        try:
            s.set_state("cfg", "limits", value)
            raise AssertionError("accepted %r" % (value,))
        except ValueError as e:
            assert "cfg/limits" in str(e) and "JSON" in str(e), str(e)
    assert s.get_state("cfg", "limits") == {"low": 1.5, "high": [2, 3]}
    s.set_state("cfg", "ok", [1.5, -0.0, 1e300, None, True, "s", {"k": (1, 2)}])
    s.save()
    s2 = store("state.json")
    assert s2.load() == "state.json"
    assert s2.get_state("cfg", "ok") == [1.5, -0.0, 1e300, None, True, "s", {"k": [1, 2]}]


# A flash that refuses writes, on each interpreter. On the unix port: LittleFS on a RAM block
# device, as on a board, mounted read-only or filled up. On CPython: a folder without write
# permission (as root, with the effective user changed to nobody), or a file-size limit that makes
# the OS refuse a write half-way, as a full flash does.


class RAMBlockDev:
    def __init__(self, block_size, blocks):
        self.block_size = block_size
        self.data = bytearray(block_size * blocks)

    def readblocks(self, block, buf, offset=0):
        addr = block * self.block_size + offset
        buf[:] = self.data[addr : addr + len(buf)]

    def writeblocks(self, block, buf, offset=0):
        addr = block * self.block_size + offset
        self.data[addr : addr + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.block_size
        if op == 5:
            return self.block_size
        if op == 6:  # erase
            return 0


def new_flash():
    """A folder for the state file; returns its path."""
    if MICROPYTHON:
        dev = RAMBlockDev(512, 48)
        os.VfsLfs2.mkfs(dev)
        os.mount(os.VfsLfs2(dev), "/flash")
        return "/flash", dev
    os.mkdir("flash")
    return "flash", None


def set_read_only(folder, dev, on):
    if MICROPYTHON:
        os.umount(folder)
        os.mount(os.VfsLfs2(dev), folder, readonly=on)
    elif on:
        os.chmod(".", 0o755)
        os.chmod(folder, 0o555)
        if os.geteuid() == 0:
            os.seteuid(65534)  # root writes anywhere: be nobody, as the folder's mode intends
    else:
        if os.getuid() == 0:
            os.seteuid(0)
        os.chmod(folder, 0o755)


def fill(folder, on):
    """Take (or give back) the flash's free space."""
    if MICROPYTHON:
        if not on:
            os.remove(folder + "/filler")
            return
        free = os.statvfs(folder)[3] - 3  # blocks; LittleFS needs a few for its own records
        with open(folder + "/filler", "wb") as f:
            for _ in range(free):
                f.write(b"x" * 512)
        return
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write raises OSError instead
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000 if on else hard, hard))


async def refused_saves_are_logged_and_lose_nothing(refuse):
    folder, dev = new_flash()
    path = folder + "/state.json"
    s = store(path)
    s.set_state("cfg", "n", 1)
    s.save()
    refuse(folder, dev, True)
    s = store(path)
    s.configure(save_interval=0.02)
    lines = []
    log.sinks.append(lambda level, msg: lines.append((level, msg)))
    m = Master({})
    with Quiet():
        await m.start()  # loads n=1 from the flash that refuses writes
        assert s.get_state("cfg", "n") == 1
        s.set_state("cfg", "n", 2)
        s.set_state("cfg", "blob", "y" * 3000)
        await wait_until(lambda: any("state save to" in msg for level, msg in lines))
        s.set_state("cfg", "n", 3)
        await m.stop()  # its last save fails too: logged, not raised
    errors = [msg for level, msg in lines if level == "error"]
    errors = [msg for level, msg in lines if level == "error"]
    # Logged once, not at every retry, and nothing else went wrong.
    assert len(errors) == 1 and ("state save to %s failed" % path) in errors[0], lines
    assert s.get_state("cfg", "n") == 3 and len(s.get_state("cfg", "blob")) == 3000  # nothing lost
    assert not exists(path + ".tmp")  # a half-written copy does not keep the flash full
    assert json.loads(get(path).split(b"\n")[0])["scopes"]["cfg"]["n"][0] == 1  # the good copy stays
    refuse(folder, dev, False)
    s.save()  # once the flash takes writes again, what was kept in memory is saved
    assert store(path).load() == path
    assert StateMachineManager().get_state("cfg", "n") == 3


async def test_a_read_only_flash_logs_failed_saves_keeps_running_and_loses_nothing():
    await refused_saves_are_logged_and_lose_nothing(set_read_only)


async def test_a_full_flash_logs_failed_saves_keeps_running_and_loses_nothing():
    await refused_saves_are_logged_and_lose_nothing(lambda folder, dev, on: fill(folder, on))
