"""The node's end of the serial link on a bad line and against a careless or hostile host, on the
MicroPython unix port with zoo_micro from .mpy (as deployed): an app that waits for room loses
nothing through a faulty line; `dropped` counts exactly what never arrives; an event or a health
report the heap cannot encode holds nothing else up; host events on channels
the node does not use are refused and counted; 10,000 forged and random lines at a 96K heap crash
nothing; and CR then Ctrl-C on the line hands the board to mpremote."""

from __future__ import annotations

import json
import os
import random
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bridge_apps.nodes import device_node
from bridge_apps.relay import Faults, Relay

from host_tools.bridge import Bridge, Sink
from zoo_micro.link import frame


class Collect(Sink):
    """What the host receives from the node: test.up contents, test.got echoes, the last health."""

    def __init__(self) -> None:
        self.up: list = []
        self.got: list = []
        self.end = None
        self.logs: list = []
        self.texts: list = []  # the node's print() output and tracebacks
        self.states: list = []
        self.health: dict = {}
        self.healths = 0
        self.changed = threading.Event()

    def event(self, node, topic, content, channel, priority, seq):
        if topic == "test.up":
            self.up.append(content)
        elif topic == "test.got":
            self.got.append(content)
        elif topic == "test.end":
            self.end = content
        elif topic == "zoo.svm.health":
            self.health = content
            self.healths += 1
        self.changed.set()
        return True

    def text(self, port, line):
        self.texts.append(line)

    def log(self, node, level, msg):
        self.logs.append(msg)

    def state(self, node, scope, key, payload):
        self.states.append((scope, key, payload and payload["value"]))

    def link(self) -> dict:
        return self.health.get("plugins", {}).get("bridge", {})

    def wait(self, cond, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                return False
            self.changed.wait(0.2)
            self.changed.clear()
        return True


def fresh_health(sink: Collect, timeout: float = 10) -> dict:
    """The link counters of a health report made after this call."""
    n = sink.healths
    assert sink.wait(lambda: sink.healths >= n + 2, timeout), "no health report"
    return sink.link()


def test_an_app_that_waits_for_room_loses_nothing_through_a_faulty_line(tmp_path: Path):
    """2,000 events through 1 % corrupted and 0.5 % dropped bytes both ways and three 2 s unplugs,
    with a health report every second on the same outbox: all arrive once, in order."""
    n = 2000
    node = device_node(tmp_path, up=n, journal=False, outbox=256, health_every=1, wait_room=True, state=False)
    noise = Faults(corrupt=0.01, drop=0.005)
    relay = Relay(node.start(), up=noise, down=noise, seed=11).start()
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()
    try:
        t0 = time.monotonic()
        for at in (1.5, 5, 8.5):
            sink.wait(lambda at=at: time.monotonic() - t0 >= at, 60)
            relay.unplug(2.0)
        assert sink.wait(lambda: len(sink.up) >= n, 50), f"{len(sink.up)} of {n} arrived"
        link = fresh_health(sink)
    finally:
        bridge.stop()
        node.stop()
        relay.stop()
    assert sink.up == list(range(n)), sink.logs[-5:]
    assert link["dropped"] == 0 and link["errors"] == 0
    assert (
        relay.unplugs == 3
        and relay.up.corrupted > 100
        and relay.up.dropped > 50
        and relay.down.corrupted > 10
    )
    assert link["bad_frames"] > 0 and link["resent"] > 0  # the line really was bad, both ways
    assert sink.healths > 5  # health kept coming, in its own slots


def test_health_state_and_log_lines_wait_in_their_own_slots_newest_first(tmp_path: Path):
    """A node with no host for 3 s: 15 health reports (each several frames' worth), 40 state
    changes of one key and 40 log lines, beside 40 app events in an outbox of 48. The host then
    gets every app event, one health report, the key's newest value and the newest 8 lines."""
    node = device_node(
        tmp_path, up=40, journal=False, outbox=48, health_every=0.2, wait_room=True, log_every=1
    )
    fd = node.start()
    relay = None
    try:
        time.sleep(3)  # the node says hello into the void
        relay = Relay(fd).start()
        sink = Collect()
        bridge = Bridge(relay.url, [sink]).start()
        assert sink.wait(lambda: len(sink.up) >= 40 and len(sink.logs) >= 8, 15), (len(sink.up), sink.logs)
        time.sleep(0.1)
        first = sink.healths
        link = fresh_health(sink)
        bridge.stop()
    finally:
        node.stop()
        if relay:
            relay.stop()
    assert sink.up == list(range(40))  # side traffic took no app event's place
    assert first <= 2  # the newest report waited; the 14 before it were replaced
    assert ("app", "progress", 40) in sink.states and [s for s in sink.states if s[2] != 40] == []
    assert sink.logs[:8] == ["sent %d" % i for i in range(33, 41)]
    assert link["dropped"] == 0 and link["logs_dropped"] >= 32


def test_a_state_store_with_many_keys_reaches_the_host_whole(tmp_path: Path):
    """The whole store is mirrored when a host first hears the node, however many keys it has:
    more keys than side traffic may keep waiting must not make the node start the mirror over
    and over."""
    keys = 150
    node = device_node(tmp_path, up=50, journal=False, outbox=48, health_every=1, state_keys=keys)
    relay = Relay(node.start()).start()
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()

    def mirrored():
        return {k: v for s, k, v in sink.states if s == "many"}

    try:
        assert sink.wait(lambda: len(mirrored()) == keys, 20), len(mirrored())
        assert mirrored() == {"k%d" % i: i for i in range(keys)}
        assert fresh_health(sink)["errors"] == 0
    finally:
        bridge.stop()
        node.stop()
        relay.stop()


def short_of_heap(tmp_path: Path, up: int, arrived: int, **faults) -> tuple[Collect, dict]:
    """A node publishing `up` events whose encoding fails as `faults` say (device_app.py's
    side_no_heap, up_no_heap); what the host heard once `arrived` events came, and the link
    counters of a health report made after that."""
    node = device_node(tmp_path, up=up, journal=False, outbox=48, health_every=0.2, wait_room=True, **faults)
    relay = Relay(node.start()).start()
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()
    try:
        assert sink.wait(lambda: len(sink.up) >= arrived, 20), len(sink.up)
        return sink, fresh_health(sink)
    finally:
        bridge.stop()
        node.stop()
        relay.stop()


def test_app_events_go_past_a_health_report_the_heap_cannot_encode(tmp_path: Path):
    """Health reports and state changes find no heap to be encoded in until the app's 300 events
    went up: the events go past them, and the reports follow once there is heap again."""
    sink, link = short_of_heap(tmp_path, 300, 300, side_no_heap=300)
    assert sink.up == list(range(300))
    assert link["errors"] >= 1 and link["dropped"] == 0


def test_an_event_the_heap_cannot_encode_is_dropped_and_counted(tmp_path: Path):
    lost = [5, 6, 100]
    sink, link = short_of_heap(tmp_path, 200, 197, up_no_heap=lost)
    assert sink.up == [i for i in range(200) if i not in lost]
    assert link["dropped"] == 3  # exactly what never arrived
    assert sink.health["node"]["dropped"] == 0  # lost in the link, not in the bus


def test_dropped_counts_exactly_the_events_that_never_arrive(tmp_path: Path):
    """A node that publishes faster than a 57,600-baud line carries, into an outbox of 16 that is
    often full with events on the wire: the host misses exactly as many as the node says it dropped."""
    n = 3000
    node = device_node(tmp_path, up=n, journal=False, outbox=16, health_every=0.5, flood=True, state=False)
    relay = Relay(node.start(), baud=57600).start()
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()
    try:
        assert sink.wait(lambda: sink.end == n, 60), "the flood did not end"
        link = fresh_health(sink)
        assert link["outbox"] == 0
    finally:
        bridge.stop()
        node.stop()
        relay.stop()
    assert sink.up == sorted(set(sink.up))  # in order, none twice
    missing = n - len(sink.up)
    assert missing > 100  # the outbox really overflowed
    assert link["dropped"] == missing, (link["dropped"], missing)


def test_host_events_on_channels_the_node_does_not_use_are_refused_and_counted(tmp_path: Path):
    """300 events, each on a new channel name: none makes a bus queue (which is never freed); the
    node counts them refused, and events on its own channel still arrive."""
    node = device_node(
        tmp_path, up=1, journal=False, outbox=32, heap="96K", health_every=0.5, state=False, mpy=True
    )
    relay = Relay(node.start()).start()
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()
    try:
        assert bridge.wait_for_node("n1", timeout=10)
        for i in range(300):
            bridge.send("test.down", i, node="n1", channel="ch%03d" % i)
        for i in range(300, 310):
            bridge.send("test.down", i, node="n1")
        assert sink.wait(lambda: len(sink.got) >= 10, 30), sink.got
        link = fresh_health(sink)
        assert node.exited() is None
    finally:
        bridge.stop()
        node.stop()
        relay.stop()
    assert sink.got == list(range(300, 310))
    assert link["refused"] == 300 and link["errors"] == 0


def forged_lines(rnd: random.Random, n: int) -> list[bytes]:
    """Random bytes, frames with sound CRCs but wrong types, huge fields, deep or odd JSON, and
    oversized lines. Never CR followed by Ctrl-C: that is the take-over, by design."""

    def fields() -> list:
        pick = [
            lambda: None,
            lambda: rnd.randrange(2**64),
            lambda: rnd.randrange(16),
            lambda: (rnd.randrange(2**40), rnd.randrange(2**40)),
        ]
        return [rnd.choice(pick)() for _ in range(rnd.randrange(12))]

    payloads = [
        lambda: None,
        lambda: "[" * 300 + "]" * 300,  # deep, and longer than the node's frame
        lambda: "[" * 200 + "]" * 200,
        lambda: '[["test.down"],' + "[" * 100 + "0" + "]" * 100 + ",1]",
        lambda: '[["test.down"],0,' + "9" * 300 + "]",
        lambda: '[["test.down"],0,1e999]',
        lambda: '[["test.down"],[0,"ch",%d],1]' % rnd.randrange(2**40),
        lambda: '[["test.down"],[0,7,"x"],1]',
        lambda: '[[1],0,{"a":' * 20 + "1" + "}" * 20 + "]",
        lambda: '{"a": [1, 2]}',
        lambda: json.dumps(["x" * rnd.randrange(300)]),
        lambda: '"\\ud800"',
        lambda: "[" + ",".join(["0"] * 150) + "]",
        lambda: "[[\"test.exec\"],0,\"open('marker','w')\"]",
    ]
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.3:
            line = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 100))) + b"\n"
        elif r < 0.85:
            kind = rnd.choice("DAQHRBPdapqhbZx~")
            line = frame.encode(kind, fields(), rnd.choice(payloads)())
        else:
            line = b"\x1e%08x" % rnd.randrange(2**32) + b"D" + b"1" * rnd.randrange(400, 800) + b"\n"
        while b"\r\x03" in line:
            line = line.replace(b"\r\x03", b"\r")
        out.append(line)
    return out


def test_ten_thousand_forged_lines_crash_nothing_at_a_96k_heap(tmp_path: Path):
    """10,000 random and forged lines into a running node (96K heap, zoo_micro from .mpy) with a
    host bridge attached: the node keeps running and publishing, counts the lines, acts on none."""
    n = 4000
    node = device_node(
        tmp_path,
        up=n,
        journal=False,
        heap="96K",
        health_every=2,
        state=False,
        wait_room=True,
        mpy=True,
        outbox=16,  # a 96K board's sizes: 16 app slots, 18 side slots
        bridge={"send_max": 1024},
    )
    relay = Relay(node.start()).start()
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()
    lines = forged_lines(random.Random(5), 10000)
    try:
        assert bridge.wait_for_node("n1", timeout=10)
        t0 = time.monotonic()
        for i in range(0, len(lines), 20):
            relay.inject(b"".join(lines[i : i + 20]))
        print("10,000 lines (%d bytes) taken in %.1f s" % (sum(map(len, lines)), time.monotonic() - t0))
        assert node.exited() is None
        during = len(sink.up)
        assert sink.wait(lambda: len(sink.up) >= n, 60), f"{len(sink.up)} of {n}: {sink.link()}"
        for i in range(5):  # and the downlink still works
            bridge.send("test.down", 1000 + i, node="n1")
        assert sink.wait(lambda: sink.got[-5:] == list(range(1000, 1005)), 20), sink.got[-5:]
        link = fresh_health(sink, 15)
        assert node.exited() is None  # still running: nothing ended it
    finally:
        bridge.stop()
        node.stop()
        relay.stop()
    assert during > 0  # it published while the lines came
    assert sink.up == list(range(n))
    # Nothing escaped a task: at this heap an allocation may fail now and then (the link task
    # counts it in `errors` and carries on), but no task ended with a traceback.
    assert not [t for t in sink.texts if b"Traceback" in t or b"Error" in t], sink.texts[-10:]
    assert link["lost"] < 10000, link  # no forged field threw the downlink's place away
    print("link counters after the fuzz:", link)
    assert link["bad_frames"] + link["malformed"] + link["noise_lines"] > 3000, link
    assert not (tmp_path / "marker").exists()


class Passthrough:
    """A pty's master end on a TCP port, byte for byte (the relay forwards whole lines only, and
    mpremote's CR, Ctrl-C has no line end): one client at a time, as a serial port has."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = "socket://127.0.0.1:%d" % self.server.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                while not self.stopped:
                    r, _, _ = select.select([conn, self.fd], [], [], 0.05)
                    try:
                        if conn in r:
                            data = conn.recv(4096)
                            if not data:
                                break
                            os.write(self.fd, data)
                        if self.fd in r:
                            conn.sendall(os.read(self.fd, 4096))
                    except OSError:
                        break

    def stop(self) -> None:
        self.stopped = True
        self.server.close()


def test_cr_then_ctrl_c_hands_a_bridged_node_to_mpremote(tmp_path: Path):
    """While the link runs Ctrl-C is off (stdin carries frames). mpremote's CR, Ctrl-C stops the
    Master as Ctrl-C would, and leaves the REPL, so mpremote runs code on the board."""
    from host_tools.sim.process import catches_sigint

    node = device_node(
        tmp_path,
        up=1000000,
        journal=False,
        outbox=32,
        health_every=0.5,
        state=False,
        repl=True,
        wait_room=True,
    )
    relay = Passthrough(node.start())
    sink = Collect()
    bridge = Bridge(relay.url, [sink]).start()
    try:
        assert sink.wait(lambda: len(sink.up) > 100, 20)  # the app runs, the link is up
        assert not catches_sigint(node.proc.pid)  # kbd_intr(-1): a 0x03 in the frames stops nothing
        bridge.stop()
        code = "print('running', master._running, 'plugins', master.plugins.get('bridge'))"
        r = subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", relay.url, "resume", "exec", code],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "running False plugins None" in r.stdout, r.stdout  # stopped, the bridge unloaded
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "mpremote",
                "connect",
                relay.url,
                "resume",
                "exec",
                "print('again', 6 * 7)",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0 and "again 42" in r.stdout, r.stdout + r.stderr
        assert node.exited() is None  # the board is at its REPL, not gone
    finally:
        bridge.stop()
        node.stop()
        relay.stop()


def test_cr_then_ctrl_c_hands_a_bridged_app_on_a_virtual_board_back_to_its_repl(zoo_board, tmp_path: Path):
    """The same on the virtual board, whose main.py runs a bridged Master: CR, Ctrl-C (as
    deploy, run and watch send to take a board over) stops it and the REPL answers."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.py").write_text(
        "from zoo_micro import Master\n"
        "master = Master({'name': 'n1', 'bridge': {'up': ['a.#']}})\n"
        "print('linked')\n"
        "master.run()\n"
    )
    board = zoo_board(app, heap_kb=256)
    board.wait_for_output("linked")
    board.wait_for_output('["n1", ')  # its hellos: the link runs, Ctrl-C is off
    board.write(b"\x03")  # a lone Ctrl-C is a byte on the link: nothing stops
    board.write(b"\r\x03")
    board.wait_for_output("KeyboardInterrupt")
    board.wait_for_output(">>> ")
    board.write(b"print(6 * 7, master._running)\r")
    board.wait_for_output("42 False")
