# The MQTT link's outbox and topic layout: pure logic, the same on every interpreter.
import json

from helpers import raises
from zoo_micro.mqtt import layout
from zoo_micro.mqtt.outbox import EVENT, LOG, RETAINED, Outbox

# The plugin module compiled from source needs more than a 96K heap; as .mpy (how boards get it) it fits.
HEAPSIZE = "128K"


def drain(ob):
    sent = []
    e = ob.peek()
    while e is not None:
        sent.append((e[0], e[1], e[2]))
        ob.done(e)
        e = ob.peek()
    return sent


def test_full_outbox_drops_the_oldest_event_and_counts_it():
    ob = Outbox(3)
    for i in range(5):
        ok = ob.put_event(b"t", b"%d" % i)
        assert ok == (i < 3)
    assert ob.dropped == 2 and ob.events() == 3
    assert [p for _, _, p in drain(ob)] == [b"2", b"3", b"4"]
    assert ob.sent == 3 and ob.events() == 0


def test_an_event_on_the_wire_is_never_the_one_dropped():
    ob = Outbox(2)
    ob.put_event(b"t", b"a")
    ob.put_event(b"t", b"b")
    inflight = ob.peek()
    assert inflight[2] == b"a"
    ob.put_event(b"t", b"c")  # full: "b" goes, not "a" which is being published
    assert ob.dropped == 1
    ob.done(inflight)
    assert [p for _, _, p in drain(ob)] == [b"c"]


def test_an_unacknowledged_event_stays_first_and_is_offered_again():
    ob = Outbox(4)
    ob.put_event(b"t", b"a")
    ob.put_event(b"t", b"b")
    first = ob.peek()
    # The connection broke before the PUBACK: done() is never called, the next peek re-offers it.
    assert ob.peek() is first and first[2] == b"a"
    ob.done(first)
    assert ob.peek()[2] == b"b"


def test_retained_values_coalesce_in_place_and_keep_the_order():
    ob = Outbox(4, retained_max=4)
    ob.put_retained(b"h", b"1")
    ob.put_event(b"e", b"x")
    ob.put_retained(b"h", b"2")  # replaces the unsent value, keeps its place before the event
    assert drain(ob) == [(RETAINED, b"h", b"2"), (EVENT, b"e", b"x")]


def test_a_retained_value_changed_while_on_the_wire_is_sent_again():
    ob = Outbox(4)
    ob.put_retained(b"s", b"old")
    e = ob.peek()
    ob.put_retained(b"s", b"new")
    ob.done(e)
    assert drain(ob) == [(RETAINED, b"s", b"new")]


def test_too_many_retained_topics_drop_the_oldest_and_ask_for_a_resync():
    ob = Outbox(4, retained_max=2)
    for k in (b"a", b"b", b"c"):
        ob.put_retained(k, b"v")
    assert ob.retained_dropped == 1
    assert ob.clear_resync() is True and ob.clear_resync() is False
    assert [t for _, t, _ in drain(ob)] == [b"b", b"c"]


def test_log_lines_keep_only_the_newest_and_leave_events_alone():
    ob = Outbox(2, log_max=2)
    ob.put_event(b"e", b"1")
    for i in range(5):
        ob.put_log(b"log", b"%d" % i)
    assert ob.logs_dropped == 3 and ob.dropped == 0
    assert drain(ob) == [(EVENT, b"e", b"1"), (LOG, b"log", b"3"), (LOG, b"log", b"4")]


def test_bad_sizes_are_refused():
    raises(ValueError, Outbox, 0)
    raises(ValueError, Outbox, 4, 0)


def test_topic_layout_round_trips_and_refuses_wildcards():
    base = layout.base("zoo", "n1")
    t = layout.event_topic(base, "sensor.temp")
    assert t == "zoo/n1/evt/sensor.temp"
    assert layout.split(t) == ("zoo", "n1", "evt", "sensor.temp")
    assert layout.split("zoo/n1/status") == ("zoo", "n1", "status", "")
    assert layout.split(layout.state_topic(base, "app", "a.b")) == ("zoo", "n1", "state", "app/a.b")
    assert layout.split("zoo") is None
    raises(ValueError, layout.event_topic, base, "a.#")
    for bad in ("", "a/b", "a+", "#"):
        raises(ValueError, layout.base, "zoo", bad)


def test_event_payload_carries_stream_seq_and_non_default_routing():
    d = json.loads(layout.encode_event(7, 3, {"v": 1}))
    assert d == {"stream": 7, "seq": 3, "content": {"v": 1}}
    d = json.loads(layout.encode_event(7, 4, None, "fast", 2))
    assert d["channel"] == "fast" and d["priority"] == 2
    from zoo_micro.link.uplink import rand24

    assert 0 <= rand24() < 1 << 24


async def test_plugin_options_are_checked_with_clear_messages_before_anything_is_subscribed():
    from zoo_micro import Master, PluginError, log
    from zoo_micro.mqtt.plugin import MqttPlugin

    for given, words in (
        ({}, "set the broker's 'host'"),
        ({"host": "h", "node": "a/b"}, "without '/'"),
    ):
        m = Master({"name": "n", "svm_check_interval": 0, "state_path": None, "mqtt": given})
        m.plugins.register(MqttPlugin)
        sinks = len(log.sinks)
        try:
            await m.start()
        except PluginError as e:
            assert words in str(e), (given, str(e))
        else:
            await m.stop()
            raise AssertionError("started with %r" % (given,))
        assert len(log.sinks) == sinks  # a refused config leaves no log sink behind


async def test_a_node_without_umqtt_fails_to_start_with_the_install_command():
    from zoo_micro import Master, PluginError
    from zoo_micro.mqtt.plugin import MqttPlugin

    m = Master({"name": "n", "svm_check_interval": 0, "state_path": None, "mqtt": {"host": "127.0.0.1"}})
    m.plugins.register(MqttPlugin)
    try:
        await m.start()
    except PluginError as e:
        assert "mpremote mip install umqtt.simple" in str(e)
    else:
        await m.stop()
        raise AssertionError("started without umqtt")


class Stand:
    """A stand-in module."""


async def test_a_start_that_fails_after_the_options_leaves_nothing_subscribed():
    # A root with a '/' is refused as the topics are laid out, after the `up` topics, the log sink
    # and the state listener were wired; the plugin undoes them.
    import sys

    from zoo_micro import Master, PluginError, log
    from zoo_micro.mqtt.plugin import MqttPlugin

    had = [sys.modules.get(k) for k in ("umqtt", "umqtt.simple")]
    sys.modules["umqtt"] = sys.modules["umqtt.simple"] = Stand()  # the check finds umqtt
    try:
        m = Master({"name": "n", "svm_check_interval": 0, "state_path": None,
                    "mqtt": {"host": "h", "root": "a/b", "up": ["x.#"]}})  # fmt: skip
        m.plugins.register(MqttPlugin)
        sinks = len(log.sinks)
        try:
            await m.start()
        except PluginError as e:
            assert "root 'a/b'" in str(e), str(e)
        else:
            await m.stop()
            raise AssertionError("started with a root holding '/'")
    finally:
        for i, k in enumerate(("umqtt", "umqtt.simple")):
            if had[i] is None:
                del sys.modules[k]
            else:
                sys.modules[k] = had[i]
    assert not [s for idx in m.bus._index.values() for s in idx[0]]  # no `up` or health subscription
    assert len(log.sinks) == sinks


def unquote(level):
    # What a host does with a state topic level (urllib.parse.unquote in CPython).
    parts = level.split("%")
    return parts[0] + "".join(chr(int(p[:2], 16)) + p[2:] for p in parts[1:])


def test_state_scopes_and_keys_are_one_topic_level_without_wildcards_and_read_back_whole():
    base = layout.base("zoo", "n1")
    for scope, key in (
        ("app", "a/b"),
        ("app", "x#"),
        ("a+b", "k"),
        ("app", "50%"),
        ("app", "nul\x00"),
        ("s", ""),
    ):
        t = layout.state_topic(base, scope, key)
        rest = t[len(base) + 1 :].split("/")
        assert len(rest) == 3 and rest[0] == "state", t
        assert not any(c in t for c in "+#\x00"), t
        assert (unquote(rest[1]), unquote(rest[2])) == (scope, key)
    assert layout.state_topic(base, "app", "temp.max") == "zoo/n1/state/app/temp.max"  # plain keys unchanged


def test_the_outbox_says_when_a_sent_event_leaves_it():
    ob = Outbox(4)
    freed = []
    ob.freed = lambda: freed.append(ob.events())
    ob.put_retained(b"h", b"1")
    ob.put_event(b"t", b"a")
    ob.put_log(b"l", b"x")
    drain(ob)
    assert freed == [0]  # once, for the event, after it left


class _NoBroker:
    # Stands in for umqtt.simple: every connection attempt fails, so events stay in the outbox.
    class MQTTClient:
        def __init__(self, *args):
            raise OSError("no broker here")


async def test_room_is_exact_and_wait_room_returns_once_an_event_has_left():
    import asyncio
    import sys

    from helpers import Quiet
    from zoo_micro import Master
    from zoo_micro.mqtt.plugin import MqttPlugin

    sys.modules["umqtt"] = _NoBroker
    sys.modules["umqtt.simple"] = _NoBroker
    cfg = {"host": "h", "up": ["e"], "outbox": 3, "runner": "loop", "log": False, "health": False}
    m = Master({"name": "n", "svm_check_interval": 0, "state_path": None, "mqtt": cfg})
    m.plugins.register(MqttPlugin)
    with Quiet():
        await m.start()
        p = m.plugins.get("mqtt")
        assert p.room() == 3
        m.publish("e", 0)
        m.publish("e", 1)
        assert p.room() == 1  # still on the bus, and already counted
        await asyncio.sleep(0)
        assert p.room() == 1 and p.outbox.events() == 2  # now in the outbox
        await p.wait_room()  # room now: returns at once
        m.publish("e", 2)
        assert p.room() == 0
        waiter = asyncio.create_task(p.wait_room())
        await asyncio.sleep(0.05)
        assert not waiter.done() and p.room() == 0
        e = p.outbox.peek()  # the broker takes one, as the link would
        p.outbox.done(e)
        await asyncio.wait_for(waiter, 1)
        assert p.room() == 1 and p.stats()["dropped"] == 0
        await m.stop()
    del sys.modules["umqtt"]
    del sys.modules["umqtt.simple"]


def test_dropped_counts_only_events_that_will_never_be_sent():
    ob = Outbox(1)
    ob.put_event(b"t", b"a")
    inflight = ob.peek()
    assert ob.put_event(b"t", b"b") is True  # "a" is on the wire: nothing could be dropped
    assert ob.dropped == 0
    ob.done(inflight)
    assert [p for _, _, p in drain(ob)] == [b"b"] and ob.sent == 2
    ob.put_event(b"t", b"c")
    ob.put_event(b"t", b"d")  # "c" was never on the wire: it goes, and counts
    assert ob.dropped == 1 and [p for _, _, p in drain(ob)] == [b"d"]
