"""The host's MQTT parts with a real broker and no nodes: the source's de-duplication and its
"no room" retry, the sink that puts serial nodes on the broker, broker URLs and `zoo-micro fleet`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest
from mqtt_apps.broker import ROOT, Mosquitto
from mqtt_apps.collect import Collect

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
    with MqttSource(broker.url, [sink], client_id="host-s"):
        assert sink.wait(lambda: "s1" in sink.ups and ("s1", "app", "mode.current") in sink.states)
        assert sink.states[("s1", "app", "mode.current")] == {"value": "run", "version": 3}
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
        self.sent.append((topic, content, node))


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
        assert fleet.wait(lambda f: f.node("bench-bridge") is not None and f.node("bench-bridge").online)
        assert got.wait(lambda: ("u1", "app", "mode") in got.states)

        source.send("led.set", {"on": True}, node="u1")
        assert got.wait(lambda: bridge.sent == [("led.set", {"on": True}, "u1")])

        sink.close()
        assert fleet.wait(lambda f: not f.node("u1").online and not f.node("bench-bridge").online)


def test_sink_says_no_room_when_the_broker_is_away_and_its_queue_is_full(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    sink = MqttSink(b.url, max_queued=2)
    sink.attach(FakeSource())
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


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "host_tools.cli.main", "fleet", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
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
    assert any(
        "f1" in line and "online" in line and "warning 70" in line and "40.0K" in line for line in lines
    )
    assert any("f2" in line and "offline" in line for line in lines)


def test_fleet_command_with_no_broker_says_so_in_one_line_and_exits_2():
    proc = run_cli("--mqtt", "mqtt://127.0.0.1:1", "--once")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot reach the MQTT broker" in proc.stderr
