# The node's end of a link session, driven by the host's frames written by hand: handshake,
# acknowledgements and resends, the outbox, the downlink in order, limits, journal and clock.
# (The node's end against the host's over a noisy line: tests/host/test_bridge_session.py.)
from helpers import no_heap, raises
from zoo_micro.link import frame
from zoo_micro.link.session import PROTO, Session

TIMEOUT = 60
HEAPSIZE = "128K"  # compiling the session from .py needs room the .mpy run does not


class Clock:
    def __init__(self):
        self.t = 1000

    def __call__(self):
        return self.t


class Node:
    """A node session, the frames it writes (decoded) and what it delivers."""

    def __init__(self, outbox=64, journal=None, accept=True, extra=0):
        self.clock = Clock()
        self.down = []
        self.times = []
        self.accept = accept
        self.s = Session(
            self._deliver,
            ["n1", "unix", "0.1.0"],
            outbox,
            512,
            2048,
            on_time=self.times.append,
            journal=journal,
            clock=self.clock,
            extra=extra,
        )
        self.sent = []
        self.dec = frame.Decoder(4096, lambda k, f, p: self.sent.append((k, f, p)))
        self.host_stream = 0x7D21AA

    def _deliver(self, topic, content, channel, priority, seq):
        if not self.accept:
            return False
        self.down.append((topic, content, channel, priority))
        return True

    def poll(self, ms=0):
        self.clock.t += ms
        self.sent = []
        for line in self.s.poll():
            self.dec.feed(line)
        return self.sent

    def host(self, kind, fields, payload=None):
        self.s.on_frame(kind, fields, payload)

    def connect(self, first=0x3B000, cursor=None):
        hello = self.poll()[0]
        assert hello[0] == "h" and hello[1][0] == PROTO
        self.node_stream, self.node_first = hello[1][1], hello[1][2]
        assert hello[2] == b'["n1", "unix", "0.1.0"]'
        cur = cursor if cursor is not None else (None, None)
        self.host("H", [PROTO, self.host_stream, first, cur[0], cur[1], 4096, hello[1][6], 1700000000000])
        assert self.s.up


def test_hello_until_answered_then_up_with_the_wall_clock():
    n = Node()
    assert n.poll()[0][0] == "h"
    assert n.poll(50) == []  # tries come every 100 ms
    again = n.poll(60)[0]
    n.host("H", [PROTO, 1, 2, None, None, 4096, again[1][6] ^ 1, 5])  # an answer to another try
    assert not n.s.up
    n.host("H", [PROTO, 1, 2, None, None, 4096, again[1][6], 1700000000000])
    assert n.s.up and n.s.sessions == 1
    assert n.times == [1700000000000]  # the host's clock, plus half the round trip (0 here)


def test_events_are_batched_acknowledged_and_leave_the_outbox():
    n = Node()
    n.connect()
    tx = n.s
    for i in range(40):
        tx.send("sensor.t", i)
    frames = n.poll(1)
    assert [f[0] for f in frames] == ["d"]  # 40 small events, one frame
    k, f, payload = frames[0]
    assert f[0] == n.node_first and f[2] == 40
    assert payload.count(b"sensor.t") == 1  # the topic is written once per frame
    assert tx.next - tx.low == 40
    n.host("A", [f[0] + 40, 1, f[3]])
    assert tx.next == tx.low and tx.frames == []


def test_a_lost_frame_is_resent_after_its_timeout_and_a_held_one_is_not():
    n = Node()
    n.connect()
    tx = n.s
    for i in range(75):
        tx.send("sensor.t", "reading %02d" % i)
    frames = n.poll(1)
    assert len(frames) == 2  # full frames go; the part-filled last one waits while they are out
    f1, f2 = frames[0][1], frames[1][1]
    assert f2[0] == f1[0] + f1[2]
    # The host holds the second frame: when the first times out, only it goes again.
    n.host("A", [f1[0], 1, None, (f1[2], f2[2])])
    assert [f[1][0] for f in n.poll(300) if f[0] == "d"] == [f1[0]]
    k = tx.resent
    assert 0 < k < f1[2]  # after a loss frames are smaller: the first goes again in two pieces
    assert [f[1][0] for f in n.poll(1) if f[0] == "d"] == [f1[0] + k]
    assert tx.resent == f1[2]
    n.host("A", [f2[0] + f2[2], 1, None])
    assert tx.low == f2[0] + f2[2] and tx.frames == []


def test_outbox_drops_the_oldest_counts_it_and_tells_the_host_where_it_starts():
    n = Node(outbox=10)
    n.connect()
    tx = n.s
    for i in range(25):
        tx.send("sensor.t", i)
    assert tx.next - tx.low == 10 and tx.dropped == 15
    f = n.poll(1)[0][1]
    assert f[0] == n.node_first + 15 and f[4] == n.node_first + 15  # `low`: skip what was dropped


def test_a_full_outbox_refuses_a_new_event_while_its_oldest_may_be_on_the_wire():
    n = Node(outbox=10)
    n.connect()
    tx = n.s
    for i in range(10):
        assert tx.send("sensor.t", i)
    f = n.poll(1)[0][1]  # all ten on the wire: the host may have them already
    assert not tx.send("sensor.t", 10) and tx.dropped == 1  # so the new one is the one lost
    assert tx.next - tx.low == 10
    n.s.up = False  # a new session: they go again, and may still have arrived the first time
    n.clock.t += 100
    n.connect()
    assert not tx.send("sensor.t", 11) and tx.dropped == 2
    n.host("A", [f[0] + 10, 1, None])
    assert tx.send("sensor.t", 12) and tx.dropped == 2 and tx.next - tx.low == 1


def test_more_drops_than_a_receiver_window_go_back_to_hello_which_skips_them():
    n = Node(outbox=4)
    n.connect()
    tx = n.s
    for i in range(4101):
        tx.send("sensor.t", i)  # nothing sent yet: the oldest unsent ones make room
    assert tx.dropped == 4097 and tx.low - tx.acked == 4097  # past the host's window for `low`
    assert [f for f in n.poll(1) if f[0] == "d"] == [] and not n.s.up
    hello = n.poll(100)[0]
    assert hello[0] == "h" and hello[1][2] == tx.low  # the hello's `first`: the host skips there


def test_unsent_events_make_room_oldest_first_and_a_large_event_goes_whole():
    n = Node(outbox=10)
    tx = n.s
    first = tx.low
    tx.send("big", "x" * 200)  # 4 pieces, none sent (no host yet)
    assert tx.next - tx.low == 4
    for i in range(6):
        tx.send("small", i)
    assert tx.dropped == 0
    tx.send("small", 6)  # the oldest event goes, all four of its pieces: one event lost
    assert tx.dropped == 1 and tx.low == first + 4 and tx.next - tx.low == 7
    for i in range(7, 10):
        tx.send("small", i)
    tx.send("small", 10)  # now the oldest small one
    assert tx.dropped == 2 and tx.next - tx.low == 10
    n.connect()
    assert n.node_first == first + 5  # the hello starts the host where the outbox does
    assert n.poll(1)[0][1][0] == first + 5


def test_side_traffic_has_its_own_slots_and_never_takes_an_app_event_place():
    n = Node(outbox=4, extra=8)
    n.connect()
    tx = n.s
    for i in range(2):
        assert tx.send("zoo.log", ["info", "line %d" % i], side=True)
    for i in range(4):
        assert tx.send("sensor.t", i)
    for i in range(2, 8):
        assert tx.send("zoo.log", ["info", "line %d" % i], side=True)
    assert not tx.send("zoo.log", ["info", "no slot"], side=True)  # full: the owner keeps it
    assert not tx.send("zoo.svm.health", {"report": "x" * 100}, side=True)
    assert tx.dropped == 0 and tx.next - tx.low == 12
    # The app's fifth event: the oldest app event goes (and the two side events older than it).
    assert tx.send("sensor.t", 4)
    assert tx.dropped == 1 and tx.side_lost == 2 and tx.nside == 6
    f = n.poll(1)[0]
    import json

    rec = json.loads(f[2])
    assert [rec[0][r if type(r) is int else r[0]] for r in rec[1::2]].count("sensor.t") == 4
    n.host("A", [f[1][0] + f[1][2], 1, None])
    assert tx.nside == 0 and tx.send("zoo.svm.health", {"report": "x" * 100}, side=True)


def test_limits_and_bad_content_are_refused_with_clear_errors():
    n = Node()
    tx = n.s
    e = raises(ValueError, tx.send, "big.topic", "x" * 3000)
    assert "big.topic" in str(e) and "send_max" in str(e)
    raises(ValueError, tx.send, "t", float("nan"))
    raises(ValueError, tx.send, "t", {"a": [1, float("inf")]})
    raises(TypeError, tx.send, "t", object())
    raises(TypeError, tx.send, "t", {"a": {1, 2}})
    raises(TypeError, tx.send, "t", [b"bytes"])
    raises(TypeError, tx.send, "t", {1: "key that is not a string"})
    assert tx.next == tx.low
    tx.send("t", "info about inference")  # the words nan/inf inside strings are fine
    raises(ValueError, Session, None, None, 64, 64)


def test_a_large_event_goes_in_pieces_of_its_json_text():
    n = Node()
    n.connect()
    tx = n.s
    big = {"report": ["line %d" % i for i in range(40)]}
    tx.send("zoo.svm.health", big, "fast", 3)
    assert tx.next - tx.low > 5
    payloads = []
    while tx.next > tx.tx:
        for _kind, f, p in n.poll(1):
            payloads.append(p)
            n.host("A", [f[0] + f[2], 1, None])
    import json

    text = ""
    for p in payloads:
        rec = json.loads(p)
        for i in range(1, len(rec), 2):
            assert rec[i][1:3] == ["fast", 3]
            text += rec[i + 1]
    assert json.loads(text) == big and rec[-2][3] == 2  # the last piece says so


def joined(n, channel="default"):
    """Frames until the outbox is empty, each acknowledged: the pieces on `channel` joined, and
    the piece marks they carried."""
    import json

    s = n.s
    text = ""
    marks = []
    while s.next > s.tx:
        for _kind, f, p in n.poll(1):
            rec = json.loads(p)
            for i in range(1, len(rec), 2):
                if type(rec[i]) is list and len(rec[i]) > 3 and rec[i][1] == channel:
                    marks.append(rec[i][1:])
                    text += rec[i + 1]
            n.host("A", [f[0] + f[2], 1, None])
    return text, marks


def test_a_large_event_keeps_one_copy_of_its_text_for_all_its_pieces():
    import json

    n = Node()
    n.connect()
    s = n.s
    big = {"report": ["line %d" % i for i in range(40)]}
    s.send("zoo.svm.health", big)
    k = s.next - s.low
    first = s.c[s.low % s.cap]
    assert k > 5 and type(first) is str
    assert all(s.c[i % s.cap] is first for i in range(s.low, s.next))  # shared, not a copy each
    text, marks = joined(n)
    assert json.loads(text) == big
    assert marks == [["default", 0, 1]] * (k - 1) + [["default", 0, 2]]


def test_a_large_event_over_32_pieces_goes_in_longer_pieces():
    import json

    n = Node()
    n.connect()
    s = n.s
    s.event_max = 8192
    big = ["x" * 90] * 60  # 5.6 KB of JSON: 86 pieces of 64 characters would be too many
    s.send("zoo.svm.health", big)
    assert s.next - s.low == 32
    text, marks = joined(n)
    assert json.loads(text) == big and marks[-1][2] == 2


def test_a_large_event_goes_into_the_outbox_without_heap_and_a_frame_without_heap_waits():
    # Its slots share its text and the ring and its marks are allocated once: going in allocates
    # nothing, so a full heap cannot stop a large event after some of its pieces went in. A frame
    # that finds no heap for a piece goes on a later call, and every piece arrives once.
    import json

    from zoo_micro import port

    n = Node(extra=40)
    n.connect()
    s = n.s
    for _ in range(3):  # the ring wraps round, side slots are taken and given back
        assert s.send("zoo.svm.health", ["x" * 150], side=True)
        n.host("A", [s.next, 1, None])
    big = {"report": ["line %d" % i for i in range(40)]}
    text = s.text(big)
    real = s.dumps
    s.dumps, left = no_heap(real, 1000)  # no piece may be made as it goes in
    if port.MICROPYTHON:
        import micropython

        micropython.heap_lock()
    try:
        went = s.send("zoo.svm.health", None, side=True, text=text)
    finally:
        if port.MICROPYTHON:
            micropython.heap_unlock()
    assert went and left == [1000] and s.nside == s.next - s.low > 5
    third = text[128:192]
    s.dumps, left = no_heap(real, 1, lambda v: v == third)
    raises(MemoryError, n.poll, 1)  # the frame holding the third piece found no heap
    assert left == [0]
    s.dumps = real
    got, _ = joined(n)
    assert json.loads(got) == big  # once, whole
    assert s.nside == 0 and s.next == s.low


def test_a_journal_line_that_finds_no_heap_leaves_the_event_whole_in_the_outbox():
    from zoo_micro.link.journal import Journal

    j = Journal("journal.txt")  # the test's own folder
    n = Node(journal=j)
    j.open(n.s)
    real = j._write
    calls = [0]

    def full_after_one(line):
        calls[0] += 1
        if calls[0] > 1:
            raise MemoryError
        real(line)

    j._write = full_after_one
    s = n.s
    assert s.send("zoo.svm.health", {"report": ["line %d" % i for i in range(20)]})
    k = s.next - s.low
    assert k > 3 and j.missed == k - 1  # every piece is in; only the journal lacks some
    j._write = real
    j.close()


def test_host_events_are_delivered_once_in_order_and_a_gap_waits_for_the_resend():
    n = Node()
    n.connect(first=100)
    n.host("D", [100, None, 2, 7], b'[["led.set"],0,1,0,2]')
    ack = n.poll(1)
    assert ack[0][0] == "a" and ack[0][1] == [
        102,
        1,
        7,
    ]  # the token comes back: the host times the round trip
    n.host("D", [100, None, 2, 8], b'[["led.set"],0,1,0,2]')  # a repeat: the ack was lost
    n.host("D", [104, None, 1, 9], b'[["led.set"],[0,"fast",2],5]')  # past a gap: dropped
    assert n.poll(1)[0][1][0] == 102
    n.host("D", [102, None, 3, 9], b'[["led.set"],0,3,0,4,[0,"fast",2],5]')
    assert [d[1] for d in n.down] == [1, 2, 3, 4, 5] and n.down[-1] == ("led.set", 5, "fast", 2)
    assert n.s.dup == 1 and n.s.expect == 105


def test_a_sound_frame_with_unreadable_events_is_skipped_not_waited_for():
    n = Node()
    n.connect(first=10)
    n.host("D", [10, None, 2, 0], b"not json")
    n.host("D", [12, None, 1, 0], b'[["t"],5,1]')  # topic index out of range
    n.host("D", [13, None, 1, 0], b'[["t"],0,"ok"]')
    assert n.s.bad == 2 and n.s.lost == 3
    assert [d[1] for d in n.down] == ["ok"] and n.s.expect == 14


def test_a_full_bus_leaves_host_events_unacknowledged_until_there_is_room():
    n = Node(accept=False)
    n.connect(first=10)
    n.host("D", [10, None, 2, 0], b'[["t"],0,1,0,2]')
    assert n.poll(1)[0][1][:2] == [10, 0]  # nothing taken, and the window is shut
    n.accept = True
    n.s.retry()
    assert n.poll(1)[0][1][:2] == [10, 1]  # room again: the host sends them again
    n.host("D", [10, None, 2, 0], b'[["t"],0,1,0,2]')
    assert [d[1] for d in n.down] == [1, 2]


def test_silence_or_a_reset_from_the_host_sends_the_node_back_to_hello():
    n = Node()
    n.connect()
    pings = [f for f in n.poll(1001) if f[0] == "p"]
    assert pings and pings[0][1][1] == 0x3B000  # a heartbeat carries the node's ack
    n.host("Q", [pings[0][1][0], 1700000005000])
    assert n.times[-1] == 1700000005000
    n.poll(3600)
    assert not n.s.up and n.poll(1)[0][0] == "h"
    n.clock.t += 100  # the next try of the series
    n.connect()
    n.host("R", [])
    assert not n.s.up


def test_frames_in_the_node_own_case_are_echoes_and_ignored():
    n = Node()
    n.connect()
    n.host("d", [0x3B000, None, 1, 0], b'[["t"],0,1]')
    n.host("a", [5, 1, None])
    assert n.down == [] and n.s.bad == 0


def test_journal_keeps_unacknowledged_events_and_cursor_across_a_reset():
    from zoo_micro.link.journal import Journal

    j = Journal("journal.txt", max_bytes=600)  # the test's own folder
    n = Node(journal=j)
    j.open(n.s)
    n.connect(first=50)
    n.host("D", [50, None, 2, 0], b'[["t"],0,1,0,2]')
    for i in range(30):
        n.s.send("sensor.t", i)
    f = n.poll(1)[0][1]
    n.host("A", [f[0] + 10, 1, None])
    j.close()
    assert j.writes > 0
    # The node resets: a new session continues the saved stream where the host stands.
    j2 = Journal("journal.txt", max_bytes=600)
    m = Node(journal=j2)
    assert j2.load(m.s)
    j2.open(m.s)
    tx = m.s
    assert tx.stream == n.node_stream and tx.next == n.node_first + 30
    assert tx.low <= n.node_first + 10 and tx.next - tx.low >= 20
    assert (m.s.peer, m.s.expect) == (n.host_stream, 52)
    hello = m.poll()[0][1]
    assert hello[1:5] == [n.node_stream, tx.low, n.host_stream, 52]


def test_journal_brings_back_large_events_whole_after_a_reset():
    import json

    from zoo_micro.link.journal import Journal

    j = Journal("journal.txt")  # the test's own folder
    n = Node(journal=j)
    j.open(n.s)
    big = {"report": ["line %d" % i for i in range(30)]}
    n.s.send("zoo.svm.health", big)
    n.s.send("big.fast", big, "fast", 3)
    j.close()
    j2 = Journal("journal.txt")
    m = Node(journal=j2)
    assert j2.load(m.s)
    j2.open(m.s)
    assert m.s.next - m.s.low == n.s.next - n.s.low  # every piece, in its own slot again
    m.connect(cursor=(n.s.stream, n.s.low))  # the host has none of them
    s = m.s
    text = {"default": "", "fast": ""}
    while s.next > s.tx:
        for _kind, f, p in m.poll(1):
            rec = json.loads(p)
            for i in range(1, len(rec), 2):
                text[rec[i][1]] += rec[i + 1]
                last = rec[i]
            m.host("A", [f[0] + f[2], 1, None])
    j2.close()
    assert json.loads(text["default"]) == big and json.loads(text["fast"]) == big
    assert last[1:] == ["fast", 3, 2]  # the last piece says so


def test_node_clock_follows_the_wall_clock_the_host_gives_it():
    from zoo_micro import clock, port

    clock.set_ms(1700000000000)  # what the bridge plugin does with on_time
    assert clock.synced()
    t0 = clock.time_ms()
    port.sleep_ms(30)
    t1 = clock.time_ms()
    assert t0 >= 1700000000000 and t1 - t0 >= 30, (t0, t1)  # ticks carry it forward
    assert clock.time() == t1 // 1000
