# Link frames: encoding, decoding amid text, resynchronisation, limits and fuzzing.
from zoo_micro.link import frame


class Collect:
    def __init__(self, max_len=frame.DEFAULT_MAX, text=True):
        self.frames = []
        self.text = []
        self.line = b""
        self.d = frame.Decoder(max_len, self.on_frame, self.on_text if text else None)

    def on_frame(self, kind, fields, payload):
        self.frames.append((kind, fields, payload))

    def on_text(self, data, i, j):
        if data is not None:
            self.line += data[i:j]
        else:
            if self.line:
                self.text.append(self.line[:-1] if self.line.endswith(b"\r") else self.line)
            self.line = b""


class Lcg:
    # A tiny deterministic generator: the same bytes on every interpreter.
    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


def test_frame_round_trip_keeps_kind_fields_and_payload():
    line = frame.encode("D", [0x1F, None, (3, 9), 0], '[["a.b"],0,{"x": 1}]')
    assert line[0] == 0x1E and line[-1] == 0x0A
    c = Collect()
    c.d.feed(line)
    assert c.frames == [("D", [0x1F, None, (3, 9), 0], b'[["a.b"],0,{"x": 1}]')], c.frames
    c.d.feed(frame.encode("a"))
    assert c.frames[-1] == ("a", [], None)
    c.d.feed(frame.encode("q", [None, 3]))
    assert c.frames[-1] == ("q", [None, 3], None)


def test_frame_bytes_are_all_printable_after_the_mark():
    # JSON escapes control characters, so the mark and LF cannot appear inside a frame.
    line = frame.encode("D", [1], '["\\u001e\\n", "\u00e9"]')
    for b in line[1:-1]:
        assert b >= 0x20, line
    assert line.count(b"\x1e") == 1 and line.count(b"\n") == 1


def test_text_and_frames_share_the_line_without_mixing():
    c = Collect()
    stream = (
        b"boot message\r\n"
        + frame.encode("p", [5])
        + b"Traceback (most recent call last):\n  File x\n"
        + b"partial "
        + frame.encode("d", [7, 2], "[[],]")
        + b"tail\n"
    )
    c.d.feed(stream)
    assert [f[0] for f in c.frames] == ["p", "d"], c.frames
    assert c.text == [
        b"boot message",
        b"Traceback (most recent call last):",
        b"  File x",
        b"partial ",
        b"tail",
    ]
    assert c.d.bad == 0 and c.d.text_lines == 4  # "partial " ended at a mark, not a line end


def test_byte_by_byte_feeding_gives_the_same_result():
    lines = frame.encode("h", [1, 2], '["n1"]') + b"text\n" + frame.encode("A", [9, 4, None, (10, 12)])
    a = Collect()
    a.d.feed(lines)
    b = Collect()
    for i in range(len(lines)):
        b.d.feed(lines[i : i + 1])
    assert a.frames == b.frames and a.text == b.text
    assert len(a.frames) == 2


def test_corrupted_frame_is_counted_and_the_next_one_decodes():
    good = frame.encode("d", [1, 2], '[["t"],0,1]')
    bad = bytearray(good)
    bad[15] ^= 0x01
    c = Collect()
    c.d.feed(bytes(bad) + good)
    assert len(c.frames) == 1 and c.d.bad == 1
    # A lost LF: the next mark starts over, and the cut-off frame is counted.
    c.d.feed(good[:-1] + good)
    assert len(c.frames) == 2 and c.d.bad == 2


def test_oversized_frame_is_dropped_counted_and_buffer_stays_preallocated():
    c = Collect(max_len=128, text=False)
    buf = c.d.buf
    big = frame.encode("d", [1], '"' + "x" * 300 + '"')
    small = frame.encode("d", [2], "1")
    c.d.feed(big + small)
    assert c.d.bad == 1
    assert [f[1] for f in c.frames] == [[2]]
    assert c.d.buf is buf and len(buf) == 126  # the line without its mark and LF


def test_field_that_is_not_hex_is_malformed_not_a_crash():
    c = Collect()
    body = b"Dxyz,1"
    import binascii

    line = b"\x1e" + ("%08x" % (binascii.crc32(body) & 0xFFFFFFFF)).encode() + body + b"\n"
    c.d.feed(line)
    assert c.frames == [] and c.d.bad == 1
    body = b"9abc"  # a type that is not a letter
    line = b"\x1e" + ("%08x" % (binascii.crc32(body) & 0xFFFFFFFF)).encode() + body + b"\n"
    c.d.feed(line)
    assert c.frames == [] and c.d.bad == 2


def test_random_bytes_never_crash_the_decoder_and_bad_lines_are_counted():
    rnd = Lcg(7)
    c = Collect(text=False)
    chunk = bytearray(64)
    for _ in range(300):
        for i in range(64):
            # Marks and LFs often, so many candidate frames are tried.
            r = rnd.next(20)
            chunk[i] = 0x1E if r == 0 else (0x0A if r == 1 else rnd.next(256))
        c.d.feed(chunk)
    assert c.frames == []
    assert c.d.bad > 100, c.d.bad


def test_every_mutated_frame_is_rejected_and_every_intact_one_decoded():
    rnd = Lcg(11)
    c = Collect(text=False)
    mutated = 0
    intact = 0
    for k in range(200):
        line = bytearray(frame.encode("d", [k, 3], '[["sensor.t"],0,%d]' % k))
        if k % 2:
            i = rnd.next(len(line))
            old = line[i]
            while line[i] == old:
                line[i] = rnd.next(256)
            mutated += 1
        else:
            intact += 1
        c.d.feed(line)
    c.d.feed(b"\n")  # ends a last frame whose LF was mutated away
    got = [f[1][0] for f in c.frames]
    assert got == [k for k in range(0, 200, 2)], got
    rejected = c.d.bad + c.d.text_lines
    assert rejected >= mutated, (rejected, mutated)


def test_a_data_frame_payload_reads_as_its_events_or_not_at_all():
    evs = frame.events(b'[["a","b"],0,1,[1,"fast",3],{"x":2},[0,"default",0,1],"\\"pie"]', 3)
    assert evs == [("a", 1, "default", 0), ("b", {"x": 2}, "fast", 3), ("a", '"pie', "default", 0, 1)]
    for bad, count in (
        (b'[["a"],0,1]', 2),  # fewer events than the frame says
        (b'[["a"],1,1]', 1),  # no such topic
        (b'[["a"],[0,5,0],1]', 1),  # a channel that is not a name
        (b'[["a"],0]', 1),  # a ref without its content
        (b"not json", 1),
        (b'{"a": 1}', 1),
    ):
        try:
            frame.events(bad, count)
        except ValueError:
            continue
        raise AssertionError("read: %r" % bad)
