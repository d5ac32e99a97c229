"""Fuzzing the link: the host decoder and sessions with hypothesis, 100,000 hostile lines into the
host's bridge, and a real node on the unix port fed random bytes, mutated frames and frames it must
refuse."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

from bridge_apps.nodes import device_node
from bridge_apps.relay import Relay
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.bridge import Bridge, Sink
from host_tools.link.session import HostSession, TextLines
from zoo_micro import port as zport
from zoo_micro.link import frame
from zoo_micro.link.session import Session

kinds = st.sampled_from("DAPQHRBdapqhrbxZ")
# A lone empty field reads back as no fields (the protocol never sends one).
fields = st.lists(
    st.one_of(st.none(), st.integers(0, 2**40), st.tuples(st.integers(0, 99), st.integers(0, 99)))
).filter(lambda f: f != [None])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=10,
)
payloads = st.one_of(st.none(), json_values.map(lambda v: json.dumps(v, ensure_ascii=False)))
text_lines = st.binary(max_size=60).map(
    lambda b: b.replace(b"\x1e", b"").replace(b"\n", b"").replace(b"\r", b"")
)


class Collect:
    def __init__(self) -> None:
        self.frames: list = []
        self.text: list = []
        self.d = frame.Decoder(4096, self.on_frame, TextLines(self.text.append, 4096))

    def on_frame(self, kind, fields, payload):
        self.frames.append((kind, fields, payload))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_host_decoder_takes_any_bytes_in_any_chunks(data: bytes, chunk: int):
    c = Collect()
    for i in range(0, len(data), chunk):
        c.d.feed(data[i : i + chunk])
    for kind, fs, _ in c.frames:  # anything it delivers passed the CRC: a letter and parsed fields
        assert kind.isalpha() and isinstance(fs, list)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.tuples(kinds, fields, payloads), text_lines), max_size=12),
    st.integers(1, 50),
)
def test_frames_and_text_lines_come_out_as_they_went_in(items: list, chunk: int):
    stream = b""
    want_frames, want_text = [], []
    for item in items:
        if isinstance(item, bytes):
            stream += item + b"\n"
            if item:
                want_text.append(item)
        else:
            kind, fs, payload = item
            stream += frame.encode(kind, fs, payload)
            want_frames.append((kind, fs, payload.encode() if payload is not None else None))
    c = Collect()
    for i in range(0, len(stream), chunk):
        c.d.feed(stream[i : i + chunk])
    assert c.frames == want_frames
    assert c.text == want_text
    assert c.d.bad == 0


@settings(max_examples=300, deadline=None)
@given(kinds, fields, payloads, st.data())
def test_a_changed_byte_is_never_delivered(kind, fs, payload, data):
    line = bytearray(frame.encode(kind, fs, payload))
    i = data.draw(st.integers(0, len(line) - 1))
    # The line end may become anything but CR: an LF turned CR, followed by the LF added below, is
    # a CRLF line end around an intact frame (boards print CRLF), and delivering that is right.
    crlf = i == len(line) - 1
    new = data.draw(st.integers(0, 255).filter(lambda b: b != line[i] and not (crlf and b == 13)))
    line[i] = new
    good = frame.encode("p", [1])
    c = Collect()
    c.d.feed(bytes(line) + b"\n" + good)
    assert c.frames == [("p", [1], None)]  # only the intact frame after it
    assert c.d.bad + c.d.text_lines >= 1


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            kinds,
            fields,
            st.one_of(
                st.none(),
                st.binary(max_size=80),
                payloads.map(lambda p: p.encode() if p is not None else None),
            ),
        ),
        max_size=20,
    )
)
def test_sessions_never_raise_on_any_frame(frames: list):
    host = HostSession(lambda *a: True)
    device = Session(lambda *a: True)
    for kind, fs, payload in frames:
        host.on_frame(kind, fs, payload)
        device.on_frame(kind, fs, payload)
        host.poll()
        device.poll()
    st_ = host.stats()
    assert all(v >= 0 for v in st_.values() if isinstance(v, int))
    assert device.bad >= 0 and device.expect >= 0


class Health(Sink):
    def __init__(self) -> None:
        self.up: list = []
        self.health: dict = {}
        self.changed = threading.Event()

    def event(self, node, topic, content, channel, priority, seq):
        if topic == "test.up":
            self.up.append(content)
        elif topic == "zoo.svm.health":
            self.health = content
            self.changed.set()
        return True


def test_a_node_on_the_unix_port_counts_garbage_and_never_acts_on_it(tmp_path: Path):
    node = device_node(tmp_path, up=3000, journal=False, health_every=0.5)
    relay = Relay(node.start()).start()
    sink = Health()
    bridge = Bridge(relay.url, [sink]).start()
    rnd = random.Random(3)
    try:
        assert bridge.wait_for_node("n1", timeout=10)
        before = (tmp_path / "marker").exists()
        # Random bytes, marks and line ends, as a noisy line or a confused host would send.
        for _ in range(200):
            relay.inject(
                bytes(rnd.choice(b'\x1e\n\x03\x04ab{}[]"0123456789') for _ in range(rnd.randrange(1, 80)))
            )
        relay.inject(b"\n")
        # Real frame lines with one byte changed: each must be refused and counted.
        mutated = 0
        for k in range(300):
            line = bytearray(frame.encode("D", [k, None, 1, 0], '[["test.down"],0,%d]' % k))
            i = rnd.randrange(1, len(line) - 1)
            old = line[i]
            while line[i] in (old, 0x1E, 0x0A):
                line[i] = rnd.randrange(256)
            relay.inject(bytes(line))
            mutated += 1
        # Sound frames the node must not act on: code as text, and a topic it does not allow down.
        relay.inject(b"open('marker', 'w').write('x')\r\nimport os; os.remove('device.json')\n")
        bridge.send("test.exec", "open('marker', 'w').write('x')")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            link = sink.health.get("plugins", {}).get("bridge", {})
            if link.get("bad_frames", 0) >= mutated and link.get("refused", 0) >= 1 and len(sink.up) == 3000:
                break
            sink.changed.wait(0.5)
            sink.changed.clear()
        link = sink.health["plugins"]["bridge"]
        assert link["bad_frames"] >= mutated, link
        assert link["refused"] == 1  # test.exec was acknowledged and dropped: not an allowed topic
        assert node.exited() is None  # still running
        assert sink.up == list(range(3000))  # and its own traffic got through all along
        assert link["noise_lines"] >= 2  # lines without a mark: counted, never run
        assert not before and not (tmp_path / "marker").exists() and (tmp_path / "device.json").exists()
    finally:
        bridge.stop()
        node.stop()
        relay.stop()


def forged_lines(rnd: random.Random) -> list[bytes]:
    """Frames with valid CRCs a hostile or broken device could send: JSON nested deep, huge fields,
    wrong types, numbers that would move the stream by 2**48, hellos from ever new names."""
    deep = "[" * 1500 + "]" * 1500
    deep_obj = '[{"a":' * 480 + "1" + "}]" * 480  # 960 levels of lists and objects in one frame
    big = "x" * 3000
    huge = [2**48, 2**64, -1, -(2**40), (2**40, 2**40), None]
    out = []
    for k in range(400):
        stream = rnd.choice([0x51, rnd.randrange(1 << 24)])
        out += [
            frame.encode(
                "h",
                [2, stream, rnd.choice([0, *huge[:2]]), None, None, 512, k],
                rnd.choice(
                    [
                        deep,
                        f'["n1", {deep}]',
                        f'["{big[: rnd.randrange(3000)]}"]',
                        f'["new{k}", 1, 2]',
                        "42",
                        '{"n": 1}',
                        "[]",
                        '["n1", ' + deep_obj + "]",
                        '["n1", "b", "v"]',
                    ]
                ),
            ),
            frame.encode(
                "d",
                [
                    rnd.choice([0, 1, 5, *huge]),
                    rnd.choice(huge),
                    rnd.choice([1, 2, *huge]),
                    0,
                    rnd.choice(huge),
                ],
                rnd.choice(
                    [
                        f'[["t"],0,{deep}]',
                        f'[["t"],0,"{big}"]',
                        f'[["t"],[0,"c",{2**70}],1]',
                        '[["t"],9,1]',
                        "[[1],0,1]",
                        '{"t": 1}',
                        deep_obj,
                        '[["t"],[0,"c",1,1],"piece"]',
                        "null",
                    ]
                ),
            ),
            frame.encode(
                rnd.choice("apqbrADPQHRBxZ"),
                [rnd.choice(huge) for _ in range(rnd.randrange(9))],
                rnd.choice([None, deep, big, "[1,2]", '{"x":' + deep + "}"]),
            ),
        ]
    return out


def test_100000_host_lines_with_forged_frames_raise_nothing_and_a_node_is_heard_after(caplog):
    rnd = random.Random(11)
    forged = forged_lines(rnd)
    node = Session(lambda *a: True, info=["n1", "rp2", "0.1.0"], frame_max=512)
    to_node = frame.Decoder(4096, node.on_frame)
    got: list = []

    class Got(Sink):
        def event(self, node_, topic, content, channel, priority, seq):
            got.append((node_, content))
            return True

    class Raises(Sink):
        def event(self, *a):
            raise ValueError("a broken sink")

    bridge = Bridge("loop://", [Raises(), Got()], max_links=8)
    noise = b'\x1e\n\r\x1b[]{}",0123456789abcdefhdpq'
    lines = 0
    while lines < 100_000:
        chunk = []
        for _ in range(100):
            r = rnd.random()
            if r < 0.45:
                chunk.append(rnd.choice(forged))
            elif r < 0.7:  # random bytes, marks and line ends among them
                chunk.append(bytes(rnd.choice(noise) for _ in range(rnd.randrange(1, 120))) + b"\n")
            elif r < 0.85:  # a sound frame with one byte changed
                line = bytearray(rnd.choice(forged))
                line[rnd.randrange(1, len(line) - 1)] = rnd.randrange(256)
                chunk.append(bytes(line))
            else:  # a node's own traffic, and text with terminal escapes
                if rnd.random() < 0.3:
                    node.send("t.up", lines)
                chunk += node.poll() or [b"beat \x1b[2J%d\r\n" % lines]
        lines += len(chunk)
        for reply in bridge.turn(b"".join(chunk)):  # an exception escaping here fails the test
            to_node.feed(reply)
    st = bridge.stats()
    assert st["failure"] is None and len(bridge.links) <= 8
    assert st["malformed"] + sum(n["malformed"] for n in st["nodes"].values()) > 10_000
    assert st["links_refused"] > 0 and st["sink_errors"] > 0
    assert len([r for r in caplog.records if "Raises failed" in r.getMessage()]) == 1
    # After all that, once the forged links have been idle a while, a new node is heard in full.
    for link in bridge.links.values():
        link.session.last_rx = zport.ticks_add(link.session.clock(), -61_000)
    bridge.turn()
    fresh = Session(lambda *a: True, info=["after", "rp2", "0.1.0"])
    to_fresh = frame.Decoder(4096, fresh.on_frame)
    for i in range(5):
        fresh.send("t.after", i)
    for _ in range(100):
        for reply in bridge.turn(b"".join(fresh.poll())):
            to_fresh.feed(reply)
        if len([g for g in got if g[0] == "after"]) == 5:
            break
    assert [g[1] for g in got if g[0] == "after"] == [0, 1, 2, 3, 4]
