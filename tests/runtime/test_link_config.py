# The bridge plugin checks its options when it is built, before it touches the stream: an unknown
# key names the closest known one; a wrong type or range names the key, the value and what is
# allowed. Nothing is left subscribed or switched off (Ctrl-C) by a refused config.
from zoo_micro import Master, log
from zoo_micro.plugins import PluginError

HEAPSIZE = "96K"  # a bridged node's


async def refused(options):
    m = Master({"name": "n1", "bridge": options})
    quiet = log.quiet
    try:
        await m.start()
    except PluginError as e:
        assert not m.bus._index  # no `up` subscription left behind
        return str(e)
    finally:
        log.quiet = quiet
    await m.stop()
    raise AssertionError("accepted %r" % (options,))


async def test_an_unknown_bridge_option_names_the_closest_known_one():
    e = await refused({"up": ["a.#"], "outbxo": 32})
    assert 'bridge: unknown key "outbxo"; did you mean "outbox"?' in e, e
    e = await refused({"frame-max": 256})
    assert 'did you mean "frame_max"?' in e, e


async def test_a_wrong_type_or_range_names_the_key_the_value_and_what_is_allowed():
    e = await refused({"outbox": 0})
    assert "bridge: outbox=0; allowed: an integer >= 1" in e, e
    e = await refused({"up": ["a.#"], "outbox": "32"})
    assert 'bridge: outbox="32"; allowed: an integer >= 1' in e, e
    e = await refused({"heartbeat": -1})
    assert "bridge: heartbeat=-1; allowed: a number > 0" in e, e
    e = await refused({"frame_max": 64})
    assert "bridge: frame_max=64; allowed: an integer >= 128" in e, e
    e = await refused({"journal": 5})
    assert "bridge: journal=5; allowed: a string, or null" in e, e
    e = await refused({"log": "yes"})
    assert 'bridge: log="yes"; allowed: true or false' in e, e
