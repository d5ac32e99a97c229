# sys as the board's firmware has it, put in sys.modules at boot: sys.platform names the board's port,
# and sys.stdout.buffer (raw bytes: mpremote mount, the bridge link) marks what it writes, so that the
# host turns LF into CRLF in text only, as a board's mp_hal_stdout_tx_strn_cooked does.
import io
import sys as _sys

import simlink

platform = simlink.cfg["platform"]
_raw = _sys.stdout.buffer
_MAX = 0xFFFF  # bytes per marked piece: its length goes as four hex digits


def __getattr__(name):
    return getattr(_sys, name)


class _Buffer(io.IOBase):
    def write(self, buf, n=-1):
        m = memoryview(buf)
        if 0 <= n < len(m):
            m = m[:n]
        n = len(m)
        i = 0
        while i < n:
            k = min(n - i, _MAX)
            # one write per piece, so output from another thread cannot land inside it
            _raw.write(b"\x1b_zb%04x" % k + bytes(m[i : i + k]))
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
