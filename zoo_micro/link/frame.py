# Frames that share a serial line with print() output and tracebacks.
# A frame is one line: 0x1E, the CRC32 of the body as 8 hex digits, the body, LF. The body is a
# type letter, comma-separated hex fields, then optionally a space and a JSON payload. JSON escapes
# every byte below 0x20, so a body never holds 0x1E or LF: a frame cannot hide inside text, text
# cannot pass for a frame, and after noise the next 0x1E or LF puts the decoder back in step.
import binascii

MARK = 0x1E
LF = 0x0A
CR = 0x0D
DEFAULT_MAX = 512  # bytes in a frame line, mark and LF included
MIN_MAX = 128  # the smallest frame size a peer may announce
_B_MARK = b"\x1e"
_B_LF = b"\n"

TEXT = 0
FRAME = 1
SKIP = 2  # inside an oversized frame: drop bytes until the next mark or LF


class TooLarge(ValueError):
    pass


def _field(f):
    if f is None:
        return ""
    if isinstance(f, tuple):
        return "%x-%x" % f
    return "%x" % f


def encode(kind, fields=None, payload=None):
    """One frame line as bytes. kind: a letter; fields: ints, (a, b) ranges or None; payload: str."""
    head = kind
    if fields:
        head += ",".join([_field(f) for f in fields])
    if payload is not None:
        head += " " + payload
    body = head.encode()
    return ("\x1e%08x" % (binascii.crc32(body) & 0xFFFFFFFF)).encode() + body + _B_LF


def parse_fields(head):
    """b'1f,,3-9' -> [31, None, (3, 9)]; ValueError when a field is not hex."""
    out = []
    if not head:
        return out
    for part in head.split(b","):
        if not part:
            out.append(None)
            continue
        dash = part.find(b"-")
        if dash > 0:
            out.append((int(part[:dash], 16), int(part[dash + 1 :], 16)))
        else:
            out.append(int(part, 16))
    return out


class Decoder:
    """Splits a byte stream into frames and text lines, in a preallocated buffer.

    on_frame(kind, fields, payload) gets each frame whose CRC holds (payload: bytes or None).
    on_text(line) gets each text line (bytes, no line end); without it text is only counted.
    """

    def __init__(self, max_len=DEFAULT_MAX, on_frame=None, on_text=None, text_max=256):
        self.max_len = max_len
        self._buf = bytearray(max_len)
        self._mv = memoryview(self._buf)
        self._n = 0
        self._state = TEXT
        self._line = False  # text seen since the last line end
        self.on_frame = on_frame
        self.on_text = on_text
        self._text = bytearray() if on_text is not None else None
        self._text_max = text_max
        self.frames = 0
        self.bad_crc = 0
        self.malformed = 0
        self.oversized = 0
        self.text_bytes = 0
        self.text_lines = 0  # lines without a mark: print() output, or a frame whose mark was lost

    def bad_total(self):
        """Lines that looked like frames but were not delivered."""
        return self.bad_crc + self.malformed + self.oversized

    def reset(self):
        """Forget a partial line (after the port was reopened)."""
        self._n = 0
        self._state = TEXT
        if self._text is not None:
            self._text = bytearray()

    def feed(self, data, end=-1):
        """Take bytes (bytes or bytearray; `end` limits how many are read)."""
        if end < 0:
            end = len(data)
        i = 0
        while i < end:
            m = data.find(_B_MARK, i, end)
            lf = data.find(_B_LF, i, end)
            stop = m if lf < 0 or (0 <= m < lf) else lf
            if stop < 0:
                self._take(data, i, end)
                return
            self._take(data, i, stop)
            if stop == m:
                self._start()
            else:
                self._line_end()
            i = stop + 1

    def _take(self, data, i, j):
        if i == j:
            return
        state = self._state
        if state == FRAME:
            n = self._n
            if n + j - i > self.max_len - 2:  # room for the mark and LF of the line
                self._state = SKIP
                self.oversized += 1
                return
            self._buf[n : n + j - i] = data[i:j]
            self._n = n + j - i
        elif state == TEXT:
            self.text_bytes += j - i
            self._line = True
            t = self._text
            if t is not None:
                room = self._text_max - len(t)
                if room > 0:
                    t.extend(data[i : i + room] if j - i > room else data[i:j])

    def _start(self):
        if self._state == FRAME and self._n:
            self.malformed += 1  # a frame cut short by the next one
        elif self._state == TEXT:
            self._flush_text()
        self._state = FRAME
        self._line = False
        self._n = 0

    def _line_end(self):
        if self._state == FRAME:
            n = self._n
            if n and self._buf[n - 1] == CR:
                n -= 1
            self._frame(n)
        elif self._state == TEXT:
            if self._line:
                self.text_lines += 1
            self._flush_text()
        self._state = TEXT
        self._line = False
        self._n = 0

    def _flush_text(self):
        t = self._text
        if t is not None and len(t):
            if t[-1] == CR:
                t = t[:-1]
            self._text = bytearray()
            if len(t):
                self.on_text(bytes(t))

    def _frame(self, n):
        mv = self._mv
        if n < 9:
            self.malformed += 1
            return
        # Compared as text: exactly the 8 lowercase digits the sender wrote, so no other byte passes.
        if ("%08x" % (binascii.crc32(mv[8:n]) & 0xFFFFFFFF)).encode() != mv[0:8]:
            self.bad_crc += 1
            return
        body = bytes(mv[8:n])
        kind = body[0]
        if not (0x41 <= kind <= 0x5A or 0x61 <= kind <= 0x7A):
            self.malformed += 1
            return
        sp = body.find(b" ")
        try:
            fields = parse_fields(body[1:sp] if sp >= 0 else body[1:])
        except ValueError:
            self.malformed += 1
            return
        self.frames += 1
        if self.on_frame is not None:
            self.on_frame(chr(kind), fields, body[sp + 1 :] if sp >= 0 else None)
