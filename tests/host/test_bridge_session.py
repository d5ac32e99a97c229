"""The link session end to end on CPython: the node's session (zoo_micro.link.session) against the
host's (host_tools.link.session) over a simulated line with delay, noise, unplugs and restarts."""

from __future__ import annotations

from host_tools.link.session import HostSession
from zoo_micro.link import frame
from zoo_micro.link.session import Session


class Clock:
    def __init__(self):
        self.t = 1000

    def __call__(self):
        return self.t


class Lcg:
    def __init__(self, seed):
        self.x = seed

    def chance(self, p):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % 100000 < p * 100000

    def byte(self):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) & 0xFF


class Line:
    """One direction of a serial line with a delay and, optionally, noise."""

    def __init__(self, clock, rnd, corrupt=0.0, drop=0.0, dup=0.0, delay=2):
        self.clock = clock
        self.rnd = rnd
        self.corrupt = corrupt
        self.drop = drop
        self.dup = dup
        self.delay = delay
        self.q = []
        self.plugged = True

    def send(self, line):
        if not self.plugged:
            return
        if self.corrupt or self.drop:
            out = bytearray()
            for b in line:
                if self.rnd.chance(self.drop):
                    continue
                out.append(self.rnd.byte() if self.rnd.chance(self.corrupt) else b)
            line = bytes(out)
        self.q.append((self.clock.t + self.delay, line))
        if self.dup and self.rnd.chance(self.dup):
            self.q.append((self.clock.t + self.delay, line))

    def take(self):
        now = self.clock.t
        out = [b for t, b in self.q if t <= now]
        self.q = [(t, b) for t, b in self.q if t > now]
        return b"".join(out)


class Pair:
    """A device session and a host session joined by two Lines, on a shared fake clock."""

    def __init__(self, seed=1, corrupt=0.0, drop=0.0, dup=0.0, dev_outbox=1000, host_outbox=1000):
        self.clock = Clock()
        rnd = Lcg(seed)
        self.up = []
        self.down = []
        self.times = []
        self.accept_down = True
        self.dev_outbox = dev_outbox
        self.host_outbox = host_outbox
        self.new_device()
        self.new_host()
        self.d2h = Line(self.clock, rnd, corrupt, drop, dup)
        self.h2d = Line(self.clock, rnd, corrupt, drop, dup)

    def new_device(self, journal=None):
        self.dev = Session(
            self._down,
            info=["n1", "unix", "0.1.0", ["sack"]],
            outbox=self.dev_outbox,
            event_max=2048,
            on_time=self.times.append,
            journal=journal,
            clock=self.clock,
        )
        self.ddec = frame.Decoder(512, on_frame=self._dev_frame)

    def new_host(self):
        self.host = HostSession(
            self._up,
            outbox=self.host_outbox,
            clock=self.clock,
            wall=lambda: 1700000000000 + self.clock.t,
        )
        self.hdec = frame.Decoder(4096, on_frame=self._host_frame)

    def _dev_frame(self, k, f, p):
        self.dev.on_frame(k, f, p)

    def _host_frame(self, k, f, p):
        self.host.on_frame(k, f, p)

    def _down(self, topic, content, channel, priority, seq):
        if not self.accept_down:
            return False
        self.down.append(content)
        return True

    def _up(self, topic, content, channel, priority, seq):
        self.up.append(content)
        return True

    def step(self, ms=1):
        for _ in range(ms):
            self.clock.t += 1
            for line in self.dev.poll():
                self.d2h.send(line)
            for line in self.host.poll():
                self.h2d.send(line)
            data = self.d2h.take()
            if data:
                self.hdec.feed(data)
            data = self.h2d.take()
            if data:
                self.ddec.feed(data)

    def run_until(self, cond, limit=200000):
        for _ in range(limit):
            if cond():
                return
            self.step()
        raise AssertionError("not done within %d simulated ms" % limit)


def test_handshake_then_events_flow_both_ways_in_order():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    for i in range(300):
        p.dev.send("sensor.t", i)
    for i in range(50):
        p.host.send("led.set", i)
    p.run_until(
        lambda: len(p.up) == 300 and len(p.down) == 50 and p.dev.next == p.dev.low and not p.host.busy()
    )
    assert p.up == list(range(300)) and p.down == list(range(50))
    assert p.dev.resent == 0 and p.host.tx.resent == 0
    assert p.host.info == ["n1", "unix", "0.1.0", ["sack"]]


def test_batching_puts_many_small_events_in_one_frame():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    lines = []
    for i in range(40):
        p.dev.send("sensor.t", i)
    lines = p.dev.poll()
    assert len(lines) == 1, lines  # 40 events, one frame
    assert lines[0].count(b"sensor.t") == 1  # the topic is written once per frame


def test_noise_loss_and_repeats_still_deliver_exactly_once_in_order():
    p = Pair(seed=3, corrupt=0.01, drop=0.002, dup=0.03)
    p.run_until(lambda: p.dev.up)
    for i in range(400):
        p.dev.send("sensor.t", i)
        if i % 6 == 0:
            p.host.send("led.set", i)
        p.step(2)
    p.run_until(lambda: p.dev.next == p.dev.low and not p.host.busy() and p.dev.up)
    assert p.up == list(range(400)), p.up[:20]
    assert p.down == list(range(0, 400, 6))
    assert p.dev.resent > 0 and p.host.rx.dup + p.dev.dup > 0
    assert p.hdec.bad > 0


def test_unplug_and_replug_resume_without_loss_or_repeat():
    p = Pair(seed=5)
    for i in range(200):
        p.dev.send("sensor.t", i)
        if i == 50:
            p.d2h.plugged = p.h2d.plugged = False
        if i == 150:
            p.step(6000)  # long enough for the device to give up and say hello again
            p.d2h.plugged = p.h2d.plugged = True
        p.step(2)
    p.run_until(lambda: p.dev.next == p.dev.low and p.dev.up)
    assert p.up == list(range(200))
    assert p.dev.sessions >= 2


def test_outbox_drops_the_oldest_counts_it_and_the_receiver_skips_the_gap():
    p = Pair(dev_outbox=10)
    p.run_until(lambda: p.dev.up)
    p.d2h.plugged = False
    for i in range(25):
        p.dev.send("sensor.t", i)
    assert (p.dev.next - p.dev.low) == 10 and p.dev.dropped == 15
    p.d2h.plugged = True
    p.run_until(lambda: p.dev.next == p.dev.low)
    assert p.up == list(range(15, 25)), p.up
    assert p.host.rx.lost >= 14  # events it will never see, counted rather than waited for


def test_full_receiver_holds_events_unacknowledged_until_it_has_room():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    p.accept_down = False
    for i in range(20):
        p.host.send("led.set", i)
    p.step(500)
    assert p.down == [] and (p.host.tx.next - p.host.tx.low) == 20  # nothing acknowledged
    p.accept_down = True
    p.dev.retry()
    p.run_until(lambda: not p.host.busy())
    assert p.down == list(range(20))


def test_device_restart_starts_a_new_stream_and_host_replays_unacked_downlink():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    for i in range(10):
        p.dev.send("sensor.t", i)
    p.run_until(lambda: len(p.up) == 10)
    p.h2d.plugged = False
    for i in range(5):
        p.host.send("led.set", i)
    p.step(50)
    p.new_device()  # reset: RAM gone, new stream
    p.h2d.plugged = True
    for i in range(10, 20):
        p.dev.send("sensor.t", i)
    p.run_until(lambda: len(p.up) == 20 and not p.host.busy())
    assert p.up == list(range(20)) and p.down == list(range(5))
    assert p.host.restarts == 1


def test_host_restart_is_noticed_and_the_device_replays_what_was_not_acknowledged():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    for i in range(10):
        p.dev.send("sensor.t", i)
    p.run_until(lambda: len(p.up) == 10 and p.dev.next == p.dev.low)
    cursor = p.host.cursor()
    p.d2h.plugged = False
    for i in range(10, 30):
        p.dev.send("sensor.t", i)
    p.step(20)
    p.new_host()  # a restarted host that saved its place in the node's stream
    p.host.resume(cursor)
    p.d2h.plugged = True
    p.run_until(lambda: p.dev.next == p.dev.low and p.dev.up)
    assert p.up == list(range(30)), p.up


def test_journal_keeps_unacknowledged_events_and_cursor_across_a_reset(tmp_path):
    from zoo_micro.link.journal import Journal

    path = str(tmp_path / "journal.txt")
    p = Pair()
    j = Journal(path, max_bytes=600)
    p.new_device(journal=j)
    j.open(p.dev)
    p.run_until(lambda: p.dev.up)
    for i in range(5):
        p.host.send("led.set", i)
    for i in range(40):
        p.dev.send("sensor.t", i)
    p.run_until(lambda: len(p.up) == 40 and len(p.down) == 5)
    p.d2h.plugged = False
    for i in range(40, 60):
        p.dev.send("sensor.t", i)
    p.step(20)
    j.close()
    assert j.writes > 0
    # The node resets: a new session continues the saved stream.
    j2 = Journal(path, max_bytes=600)
    p.new_device(journal=j2)
    assert j2.load(p.dev)
    j2.open(p.dev)
    assert (p.dev.next - p.dev.low) >= 20
    p.d2h.plugged = True
    for i in range(5, 8):
        p.host.send("led.set", i)
    p.run_until(lambda: p.dev.next == p.dev.low and not p.host.busy() and p.dev.up)
    assert p.up == list(range(60)), p.up
    assert p.down == list(range(8)), p.down
    assert p.host.restarts == 0  # the same stream, resumed
    j2.close()


def test_a_sound_frame_with_unreadable_events_is_skipped_not_waited_for():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    first = p.dev.expect
    p.ddec.feed(frame.encode("D", [first, None, 2, 0], "not json"))
    p.ddec.feed(frame.encode("D", [first + 2, None, 1, 0], '[["t"],5,1]'))  # topic index out of range
    p.ddec.feed(frame.encode("D", [first + 3, None, 1, 0], '[["t"],0,"ok"]'))
    assert p.dev.bad == 2 and p.dev.lost == 3
    assert p.down == ["ok"] and p.dev.expect == first + 4


def test_silence_sends_the_device_back_to_hello_and_pongs_set_its_clock():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    assert p.times and p.times[0] >= 1700000000000
    p.step(2500)
    assert len(p.times) >= 2  # heartbeats answered with the host's wall clock
    p.h2d.plugged = False
    p.step(4000)
    assert not p.dev.up
    p.h2d.plugged = True
    p.run_until(lambda: p.dev.up)


def test_a_large_event_travels_in_pieces_and_arrives_whole_over_noise():
    p = Pair(seed=9, corrupt=0.01)
    p.run_until(lambda: p.dev.up)
    big = {"report": ["line %d \u00e9" % i for i in range(60)], "n": 1}
    p.dev.send("zoo.svm.health", big, "fast", 3)
    p.dev.send("sensor.t", 1)
    assert (p.dev.next - p.dev.low) > 5  # pieces, each small enough to get through the noise
    p.run_until(lambda: p.dev.next == p.dev.low)
    assert p.up == [big, 1], p.up


def test_text_with_del_and_non_ascii_arrives_intact():
    p = Pair()
    p.run_until(lambda: p.dev.up)
    text = "del\x7f caf\u00e9 \u65e5\u672c"
    p.host.send("led.set", text)
    lines = p.host.poll()
    assert all(b"\x7f" not in line for line in lines)
    for line in lines:
        p.h2d.send(line)
    p.run_until(lambda: not p.host.busy())
    assert p.down == [text]
