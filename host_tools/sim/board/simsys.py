# sys as the board's firmware has it, put in sys.modules at boot: sys.platform names the board's port,
# and sys.stdout.buffer (raw bytes: mpremote mount, the bridge link) marks what it writes, so that the
# host turns LF into CRLF in text only, as a board's mp_hal_stdout_tx_strn_cooked does.
import _thread
import io
import sys as _sys

import simlink

platform = simlink.cfg["platform"]
_raw = _sys.stdout.buffer
_MAX = 1024  # bytes per marked piece (at most 0xFFFF: its length goes as four hex digits)
# A board writes to its stdout without allocating; so does this, into a buffer made at boot (the
# simulator's heap, not the app's), under a lock so that another thread's output cannot land
# inside a piece.
_out = bytearray(b"\x1b_zb0000" + bytes(_MAX))
_lock = _thread.allocate_lock()
_HEX = b"0123456789abcdef"


def __getattr__(name):
    return getattr(_sys, name)


class _Buffer(io.IOBase):
    def write(self, buf, n=-1):
        m = memoryview(buf)
        if 0 <= n < len(m):
            m = m[:n]
        n = len(m)
        i = 0
        with _lock:
            while i < n:
                k = min(n - i, _MAX)
                for d in range(4):
                    _out[7 - d] = _HEX[(k >> (4 * d)) & 15]
                _out[8 : 8 + k] = m[i : i + k]
                _raw.write(_out, 0, 8 + k)
                i += k
        return n

    def flush(self):
        pass


class _Stdout(io.IOBase):
    def __init__(self):
        self.buffer = _Buffer()

    def write(self, s):
        return _sys.stdout.write(s)

    def flush(self):
        pass


stdout = _Stdout()
