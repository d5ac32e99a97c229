"""The host's MQTT parts with a real broker and no nodes: the source's de-duplication and its
"no room" retry, the sink that puts serial nodes on the broker (with their own stream ids, and
offline when their bridge is killed), broker URLs and `zoo-micro fleet`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest
from mqtt_apps.broker import ROOT, Mosquitto
from mqtt_apps.collect import Collect
from test_bridge_hardening import data, hello

from host_tools.bridge import Bridge
from host_tools.errors import UserError
from host_tools.fleet import Fleet
from host_tools.link.broker import parse_url
from host_tools.link.flow import Source
from host_tools.sinks.mqtt_sink import MqttSink
from host_tools.sources.mqtt_source import Dedupe, MqttSource
from zoo_micro.mqtt import layout


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def publisher(broker: Mosquitto) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    return c


def put(c: mqtt.Client, topic: str, payload: bytes, retain: bool = False) -> None:
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def test_source_delivers_each_event_once_even_when_the_broker_repeats_it(broker):
    sink = Collect()
    c = publisher(broker)
    with MqttSource(broker.url, [sink], client_id="host-d") as source:
        time.sleep(0.2)  # let the subscription land before publishing (a fresh session keeps nothing)
        for seq in (1, 2, 2, 3, 1, 4):
            put(c, "zoo/d1/evt/x.y", layout.encode_event(9, seq, {"seq": seq}))
        put(c, "zoo/d1/evt/x.y", layout.encode_event(10, 1, "after a reboot"))  # a new stream starts over
        put(c, "zoo/d1/evt/x.y", layout.encode_event(9, 4, "late repeat from before the reboot"))
        assert sink.wait(lambda: source.stats()["received"] >= 8)
        time.sleep(0.2)
        assert [(e[1], e[3]) for e in sink.events] == [
            ("x.y", 1),
            ("x.y", 2),
            ("x.y", 3),
            ("x.y", 4),
            ("x.y", 1),
        ]
        assert source.stats()["duplicates"] == 3
    c.loop_stop()


def test_source_offers_an_event_again_while_a_sink_has_no_room(broker):
    sink = Collect(refuse_first=3)
    other = Collect()
    c = publisher(broker)
    with MqttSource(broker.url, [other, sink], client_id="host-r"):
        time.sleep(0.2)
        put(c, "zoo/r1/evt/t", layout.encode_event(1, 1, "a"))
        put(c, "zoo/r1/evt/t", layout.encode_event(1, 2, "b"))
        assert sink.wait(lambda: len(sink.events) == 2)
        assert [e[2] for e in sink.events] == ["a", "b"]
        assert [e[2] for e in other.events] == ["a", "b"]  # the sink that took it first got it once
    c.loop_stop()


def test_source_maps_status_state_health_and_log_to_the_sink(broker):
    sink = Collect()
    c = publisher(broker)
    put(c, "zoo/s1/info", b'{"board": "esp32"}', retain=True)
    put(c, "zoo/s1/status", b"online", retain=True)
    put(c, "zoo/s1/state/app/mode.current", b'{"value": "run", "version": 3}', retain=True)
    # a key with / # + % is one escaped topic level on the broker (zoo_micro.mqtt.layout)
    put(c, "zoo/s1/state/app/a%2Fb%23c%2Bd%25", b'{"value": 1, "version": 4}', retain=True)
    with MqttSource(broker.url, [sink], client_id="host-s"):
        assert sink.wait(lambda: "s1" in sink.ups and ("s1", "app", "mode.current") in sink.states)
        assert sink.states[("s1", "app", "mode.current")] == {"value": "run", "version": 3}
        assert sink.wait(lambda: sink.states.get(("s1", "app", "a/b#c+d%")) == {"value": 1, "version": 4})
        put(c, "zoo/s1/health", b'{"node": {"name": "s1"}, "workers": {}}', retain=True)
        put(c, "zoo/s1/log", b'["warn", "low battery"]')
        put(c, "zoo/s1/state/app/mode.current", b"", retain=True)  # removed on the node
        put(c, "zoo/s1/status", b"offline", retain=True)
        assert sink.wait(lambda: "s1" in sink.downs and sink.states[("s1", "app", "mode.current")] is None)
        assert ("s1", "zoo.svm.health", {"node": {"name": "s1"}, "workers": {}}, 0) in sink.events
        assert sink.logs == [("s1", "warn", "low battery")]
    c.loop_stop()


def test_dedupe_remembers_where_each_node_was_across_a_host_restart(tmp_path):
    from host_tools.link.cursor_store import CursorStore

    d = Dedupe(CursorStore(tmp_path / "cursors.json"))
    for seq in (1, 2, 3):
        assert d.is_new("n", 5, seq)
        d.delivered("n", 5, seq)
    d.delivered("n", 5, 6)
    assert d.missed == 2
    d.cursors.save(force=True)
    again = Dedupe(CursorStore(tmp_path / "cursors.json"))
    assert not again.is_new("n", 5, 6) and again.is_new("n", 5, 7)


class FakeSource(Source):
    """A source the sink sends commands down through; it keeps no link sessions of its own."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def send(self, topic, content=None, node=None, channel="default", priority=0):
        self.sent.append((topic, content, node) if channel == "default" else (topic, content, node, channel))


def test_sink_puts_a_serial_node_on_the_broker_like_an_mqtt_node_and_carries_its_commands(broker):
    bridge = FakeSource()
    sink = MqttSink(broker.url, name="bench-bridge")
    sink.attach(bridge)
    got = Collect()
    with MqttSource(broker.url, [got], client_id="host-k") as source, Fleet(broker.url) as fleet:
        time.sleep(0.2)
        sink.node_up("u1", {"board": "rp2", "version": "0.1.0", "port": "/dev/ttyACM0"})
        sink.event("u1", "sensor.t", 21.5, "default", 0, 7)
        sink.event("u1", "zoo.svm.health", {"node": {"name": "u1"}, "workers": {}}, "default", 0, 8)
        sink.state("u1", "app", "mode", {"value": "on", "version": 1})
        assert got.wait(lambda: ("u1", "sensor.t", 21.5, 7) in got.events)
        assert fleet.wait(lambda f: f.node("u1") is not None and f.node("u1").online and f.node("u1").health)
        assert fleet.node("u1").info["via"] == "bench-bridge"
        # The bridge is no node: it is listed among the bridges, online.
        assert fleet.wait(lambda f: [(b.node, b.online) for b in f.bridges()] == [("bench-bridge", True)])
        assert fleet.node("bench-bridge") is None and [v.node for v in fleet.nodes()] == ["u1"]
        assert got.wait(lambda: ("u1", "app", "mode") in got.states)

        source.send("led.set", {"on": True}, node="u1")
        assert got.wait(lambda: bridge.sent == [("led.set", {"on": True}, "u1")])
        source.send("led.set", {"on": False}, node="u1", channel="fast")  # cmd/led.set/fast
        assert got.wait(lambda: bridge.sent[-1:] == [("led.set", {"on": False}, "u1", "fast")])

        sink.close()
        assert fleet.wait(lambda f: not f.node("u1").online and not f.bridges()[0].online)


def test_sink_says_no_room_when_the_broker_is_away_and_its_queue_is_full(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    sink = MqttSink(b.url, max_queued=2)
    sink.attach(FakeSource())
    time.sleep(0.3)  # the bridge's own info and status, published on connect, are acknowledged
    b.stop()
    time.sleep(0.3)  # paho notices the broker is gone
    results = [sink.event("q1", "t", i, "default", 0, i) for i in range(1, 5)]
    assert results[:2] == [True, True] and results[2:] == [False, False]
    sink.close()


def test_broker_urls_carry_auth_and_tls_and_bad_ones_are_one_line_errors():
    u = parse_url("mqtts://zoo:p%40ss@broker.local?ca=/etc/ca.pem")
    assert (u.host, u.port, u.tls, u.user, u.password, u.ca) == (
        "broker.local",
        8883,
        True,
        "zoo",
        "p@ss",
        "/etc/ca.pem",
    )
    assert parse_url("mqtt://10.0.0.2").port == 1883
    c = parse_url("mqtts://b.local?ca=/c/ca.pem&cert=/c/me.pem&key=/c/me.key")
    assert (c.ca, c.cert, c.key, c.insecure) == ("/c/ca.pem", "/c/me.pem", "/c/me.key", False)
    for bad in ("http://x", "mqtt://", "mqtt://h:99999"):
        with pytest.raises(UserError):
            parse_url(bad)


def run_cli(*args: str, columns: int | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "host_tools.cli.main", "fleet", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )


def test_fleet_command_prints_each_node_once_from_the_retained_topics(broker):
    c = publisher(broker)
    health = {
        "node": {"name": "f1", "mem_free": 40960, "mem_alloc": 20480, "uptime_ms": 10000},
        "workers": {"w": {"status": "warning", "health_score": 70}},
        "plugins": {"mqtt": {"seq": 50, "outbox": 2, "outbox_max": 64, "dropped": 1, "outages": 3}},
    }
    put(c, "zoo/f1/status", b"online", retain=True)
    put(c, "zoo/f1/info", b'{"board": "esp32"}', retain=True)
    put(c, "zoo/f1/health", json.dumps(health).encode(), retain=True)
    put(c, "zoo/f2/status", b"offline", retain=True)
    c.loop_stop()
    proc = run_cli("--mqtt", broker.url, "--once", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["node"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows["f1"]["online"] is True and rows["f2"]["online"] is False
    assert rows["f1"]["status"] == "warning" and rows["f1"]["health_score"] == 70
    assert rows["f1"]["events_per_s"] == 5.0 and rows["f1"]["mem_free"] == 40960
    assert (rows["f1"]["outbox"], rows["f1"]["dropped"], rows["f1"]["outages"]) == (2, 1, 3)
    table = run_cli("--mqtt", broker.url, "--once")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("f1 "))
    assert all(w in lines[row] for w in ("online", "warning", "5.0", "40.0K", "2/64", " 3"))
    assert all(w in lines[row + 1] for w in ("esp32", "retained", "70", "20.0K", " 1"))  # its second line
    assert any(line.startswith("f2 ") and "offline" in line for line in lines)
    narrow = run_cli("--mqtt", broker.url, "--once", columns=80).stdout.splitlines()
    assert max(map(len, narrow)) <= 80 and "\u2026" not in "".join(
        narrow
    )  # an 80-column terminal: nothing cut
    assert all(w in "".join(narrow) for w in ("outages", "dropped", "esp32"))


def test_fleet_command_with_no_broker_says_so_in_one_line_and_exits_2():
    proc = run_cli("--mqtt", "mqtt://127.0.0.1:1", "--once")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot reach the MQTT broker" in proc.stderr


def test_a_serial_node_on_the_broker_carries_its_own_stream_id_so_a_restart_is_not_taken_for_repeats(broker):
    """The events of a node behind `bridge --sink mqtt` carry the node's stream id from its link
    session: after the node restarts (a new stream, seqs from 0 again) the broker side still
    delivers every event, where a stream id made up by the host made them look like repeats."""
    got = Collect()
    with MqttSource(broker.url, [got], client_id="host-st") as source:
        time.sleep(0.2)
        bridge = Bridge("loop://")
        sink = MqttSink(broker.url, name="b-st")
        bridge.sinks = [sink]
        sink.attach(bridge)
        try:
            bridge.turn(hello("s1", stream=0x5151) + data(0, ["a0", "a1", "a2"]))
            assert source.wait_for_node("s1")
            bridge.turn(hello("s1", stream=0x6262, nonce=9) + data(0, ["b0", "b1"]))  # the node restarted
            assert got.wait(lambda: len([e for e in got.events if e[0] == "s1"]) == 5), got.events
            assert [e[2] for e in got.events if e[0] == "s1"] == ["a0", "a1", "a2", "b0", "b1"]
            assert set(source.dedupe.seen["s1"]) == {0x5151, 0x6262}
            assert bridge.node_stream("s1") == 0x6262 and source.stats()["duplicates"] == 0
        finally:
            sink.close()


BRIDGE_SINK = textwrap.dedent(
    """
    import sys, time
    from host_tools.link.flow import Source
    from host_tools.sinks.mqtt_sink import MqttSink

    sink = MqttSink(sys.argv[1], name="b-kill")
    sink.attach(Source())
    sink.node_up("k1", {"board": "rp2"})
    sink.event("k1", "zoo.svm.health", {"node": {"mem_free": 1000}, "workers": {}}, "default", 0, 1)
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_fleet_shows_a_node_offline_once_its_bridge_is_killed_and_never_lists_the_bridge(broker):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", BRIDGE_SINK, broker.url], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        with Fleet(broker.url) as fleet:
            assert fleet.wait(lambda f: f.node("k1") is not None and f.node("k1").online is True)
            proc.send_signal(signal.SIGKILL)  # no goodbye: only the broker's last will tells
            proc.wait(5)
            assert fleet.wait(lambda f: f.node("k1").online is False, 10), fleet.node("k1")
            assert [v.node for v in fleet.nodes()] == ["k1"] and fleet.bridges()[0].online is False
        # A fleet started later reads the same from the retained topics alone.
        out = run_cli("--mqtt", broker.url, "--once", "--json")
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        assert [(r["node"], r["online"], r["via"]) for r in rows] == [("k1", False, "b-kill")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_fleet_ignores_a_retained_info_that_is_not_an_object(broker):
    c = publisher(broker)
    put(c, "zoo/x1/info", b"[1, 2]", retain=True)
    put(c, "zoo/x2/info", b'"via"', retain=True)
    put(c, "zoo/x1/status", b"online", retain=True)
    c.loop_stop()
    with Fleet(broker.url) as fleet:
        assert fleet.wait(
            lambda f: f.node("x1") is not None and f.node("x1").online and f.node("x2") is not None
        )
        assert fleet.node("x1").info == {} and fleet.node("x2").info == {}
        assert [v.as_dict()["node"] for v in fleet.nodes()] == ["x1", "x2"]
    proc = run_cli("--mqtt", broker.url, "--once", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["node"] for line in proc.stdout.splitlines()] == ["x1", "x2"]


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)  # the thread's own traceback
def test_source_contains_a_message_it_cannot_handle_and_raises_one_line_when_its_thread_ends(
    broker, monkeypatch
):
    handle = MqttSource._handle

    def buggy(self, msg):
        if msg.topic.endswith("/boom"):
            raise ArithmeticError("a bug in the source")
        return handle(self, msg)

    monkeypatch.setattr(MqttSource, "_handle", buggy)
    sink = Collect()
    c = publisher(broker)
    source = MqttSource(broker.url, [sink], client_id="host-b").start()
    try:
        time.sleep(0.2)
        for seq, topic in ((1, "t"), (2, "boom"), (3, "t")):
            put(c, f"zoo/b1/evt/{topic}", layout.encode_event(4, seq, seq))
        assert sink.wait(lambda: [e[3] for e in sink.events] == [1, 3])
        assert source.stats()["bad"] == 1  # counted, acknowledged, and the next one delivered
    finally:
        source.stop()

    def broken(*a, **k):
        raise RuntimeError("a bug in the delivery loop")

    source = MqttSource(broker.url, [Collect()], client_id="host-b2")
    source._queue.get = broken  # type: ignore[method-assign]
    with pytest.raises(UserError) as e:
        source.run(30)
    assert e.value.exit_code == 1 and "RuntimeError: a bug in the delivery loop" in str(e.value)
    assert "\n" not in str(e.value)
    c.loop_stop()


class PortSource(FakeSource):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.port = SimpleNamespace(url=url)


def test_two_bridges_on_one_broker_get_names_of_their_own_and_stay_connected(broker):
    """By default a bridge is named after its host and port: two on one broker no longer share a
    client id, which made the broker drop each in turn (and fire its last will) forever."""
    a, b = MqttSink(broker.url), MqttSink(broker.url)
    a.attach(PortSource("/dev/ttyACM0"))
    b.attach(PortSource("socket://127.0.0.1:7000"))
    try:
        assert a.name.startswith("bridge-") and a.name.endswith("-ttyACM0")
        assert b.name.startswith("bridge-") and b.name.endswith("-127.0.0.1_7000")
        want = sorted([(a.name, True), (b.name, True)])
        with Fleet(broker.url) as fleet:
            assert fleet.wait(lambda f: sorted((x.node, x.online) for x in f.bridges()) == want)
            time.sleep(1.0)  # long enough for a client-id clash to have dropped one of them
            assert a._client.is_connected() and b._client.is_connected()
            assert sorted((x.node, x.online) for x in fleet.bridges()) == want
    finally:
        a.close()
        b.close()
