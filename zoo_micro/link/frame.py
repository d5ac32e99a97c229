# Frames that share a serial line with print() output and tracebacks; both ends run this module.
# A frame is one line: 0x1E, the CRC32 of the body as 8 hex digits, the body, LF. The body is a
# type letter, comma-separated hex fields, then optionally a space and a JSON payload. JSON escapes
# every byte below 0x20, so a body never holds 0x1E or LF: a frame cannot hide inside text, text
# cannot pass for a frame, and after noise the next 0x1E or LF puts the decoder back in step.
import json
from binascii import crc32

PROTO = 2  # the protocol version both ends say in their hellos
WINDOW = 4096  # seqs past the next expected one that a frame may name; beyond, it is forged or stale
DEFAULT_MAX = 512  # bytes in a frame line, mark and LF included
MIN_MAX = 128  # the smallest frame size a peer may announce


def encode(kind, fields=(), payload=None):
    """One frame line as bytes. kind: a letter; fields: ints, (a, b) pairs or None; payload: str."""
    body = kind
    for i in range(len(fields)):
        f = fields[i]
        body += ("," if i else "") + ("" if f is None else "%x-%x" % f if type(f) is tuple else "%x" % f)
    body = (body if payload is None else body + " " + payload).encode()
    return b"\x1e%08x%s\n" % (crc32(body) & 0xFFFFFFFF, body)


def events(payload, count):
    """The `count` events of a data frame's payload, as (topic, content, channel, priority[, piece]);
    ValueError if they cannot be read. The payload is [topics, ref, content, ...]; a ref is a
    topic index or [index, channel, priority(, piece)]."""
    try:
        data = json.loads(payload)
        evs = []
        for i in range(1, len(data), 2):
            r = data[i]
            if type(r) is not list:
                r = [r, "default", 0]
            e = (data[0][r[0]], data[i + 1], r[1], r[2]) + tuple(r[3:4])
            if type(e[0]) is not str or type(e[2]) is not str or type(e[3]) is not int:
                raise ValueError
            evs.append(e)
        if len(evs) != count or len(data) != 2 * count + 1:
            raise ValueError
    except (TypeError, IndexError, KeyError, UnicodeError):
        raise ValueError("unreadable events") from None
    return evs


def check(v, depth):
    # What the other end can read back: JSON types only, finite floats, not nested too deep.
    t = type(v)
    if t is float:
        if v - v != 0:
            raise ValueError("event content must be JSON: NaN and infinity are not")
    elif t is dict or t is list or t is tuple:
        if depth > 16:
            raise ValueError("event content is nested too deep")
        for k in v:
            if t is dict:
                if type(k) is not str:
                    raise TypeError("event content must be JSON: a dict key must be a str")
                k = v[k]
            check(k, depth + 1)
    elif t not in (int, str, bool) and v is not None:
        raise TypeError("event content must be JSON: a %s is not" % t.__name__)


class Decoder:
    """Splits a byte stream into frames and text, in one preallocated buffer.

    on_frame(kind, fields, payload) gets each frame whose CRC holds: fields are ints, None for an
    empty field, (a, b) for "a-b"; payload is bytes or None. Lines that fail are counted in `bad`,
    text lines in `text_lines`.
    """

    def __init__(self, max_len=DEFAULT_MAX, on_frame=None, text=None):
        self.buf = bytearray(max_len - 2)  # the mark and the LF are not kept
        self.n = -1  # bytes of the frame being read; -1 in text, -2 skipping an oversized frame
        self.on_frame = on_frame
        self.text = text  # text(data, i, j) gets text bytes data[i:j]; data None: the line ended
        self.frames = self.bad = self.text_lines = 0
        self.line = False  # text seen since the last line end

    def feed(self, data, end=-1):
        """Take bytes (bytes or bytearray; `end` limits how many are read)."""
        if end < 0:
            end = len(data)
        buf = self.buf
        i = 0
        while i < end:
            m = data.find(b"\x1e", i, end)
            stop = data.find(b"\n", i, m if m >= 0 else end)
            if stop < 0:
                stop = m
            j = end if stop < 0 else stop
            n = self.n
            if i < j:
                if n >= 0:
                    if n + j - i > len(buf):
                        self.n = -2
                        self.bad += 1
                    else:
                        buf[n : n + j - i] = data[i:j]
                        self.n = n + j - i
                elif n == -1:
                    self.line = True
                    if self.text:
                        self.text(data, i, j)
            if stop < 0:
                return
            n = self.n
            if n == -1:
                if self.line and stop != m:
                    self.text_lines += 1
                self.line = False
                if self.text:
                    self.text(None, 0, 0)
            elif n > 0 and stop == m:
                self.bad += 1  # a frame cut short by the next one
            elif n > 0:
                if buf[n - 1] == 13:
                    n -= 1  # CRLF
                mv = memoryview(buf)
                try:
                    # Compared as text: exactly the 8 lowercase digits the sender wrote.
                    if n < 9 or b"%08x" % (crc32(mv[8:n]) & 0xFFFFFFFF) != mv[:8] or not buf[8:9].isalpha():
                        raise ValueError
                    body = bytes(mv[9:n])
                    sp = body.find(b" ")
                    fields = []
                    for p in (body[:sp] if sp >= 0 else body).split(b","):
                        d = p.find(b"-")
                        fields.append(
                            None if not p else (int(p[:d], 16), int(p[d + 1 :], 16)) if d > 0 else int(p, 16)
                        )
                    if fields == [None]:
                        fields = []
                    self.frames += 1
                except (ValueError, MemoryError):  # no heap for this frame: it is lost, as to noise
                    self.bad += 1
                else:
                    self.on_frame(chr(buf[8]), fields, body[sp + 1 :] if sp >= 0 else None)
            self.n = 0 if stop == m else -1
            i = stop + 1
