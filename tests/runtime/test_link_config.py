# The bridge's options are checked when the Master is built, with the rest of its config and
# before any plugin starts: an unknown key names the closest known one; a wrong type or range
# names the key, the value and what is allowed. The check's module is not loaded again as the
# bridge starts, the moment the node's heap is fullest.
import sys

from helpers import raises
from zoo_micro import Master, log
from zoo_micro.plugins import PluginError

HEAPSIZE = "128K"  # a bridged node with a state store, its code compiled from .py on the board


def refused(options):
    """The message Master({"bridge": options}) raises."""
    return str(raises(ValueError, Master, {"name": "n1", "bridge": options}))


def test_an_unknown_bridge_option_names_the_closest_known_one():
    e = refused({"up": ["a.#"], "outbxo": 32})
    assert e == 'bridge: unknown key "outbxo"; did you mean "outbox"?', e
    assert 'did you mean "frame_max"?' in refused({"frame-max": 256})


def test_a_wrong_type_or_range_names_the_key_the_value_and_what_is_allowed():
    assert refused({"outbox": 0}) == "bridge: outbox=0; allowed: an integer >= 1"
    assert refused({"up": ["a.#"], "outbox": "32"}) == 'bridge: outbox="32"; allowed: an integer >= 1'
    assert refused({"heartbeat": -1}) == "bridge: heartbeat=-1; allowed: a number > 0"
    assert refused({"frame_max": 64}) == "bridge: frame_max=64; allowed: an integer >= 128"
    assert refused({"journal": 5}) == "bridge: journal=5; allowed: a string, or null"
    assert refused({"log": "yes"}) == 'bridge: log="yes"; allowed: true or false'


def test_the_check_knows_every_option_the_plugin_has():
    from zoo_micro import validate
    from zoo_micro.link.once import BRIDGE, COMMON

    try:
        assert sorted(validate.BRIDGE) == sorted(list(COMMON) + list(BRIDGE))
    finally:
        validate.drop()


async def test_a_key_put_into_the_config_after_the_check_is_refused_as_the_bridge_starts():
    m = Master({"name": "n1", "bridge": {"up": ["a.#"]}})
    m.config["bridge"]["outbxo"] = 32
    quiet = log.quiet
    try:
        e = str(await raises_async(PluginError, m.start()))
    finally:
        log.quiet = quiet
    assert 'bridge: unknown key "outbxo"' in e, e
    assert not m.bus._index  # no `up` subscription left behind


class Trap:
    """Stands in for validate.py: any use of it as the node starts fails the start."""

    def __getattr__(self, name):
        raise AssertionError("validate.%s used as the bridge started" % name)


async def test_a_bridged_node_starts_without_the_check():
    m = Master({"name": "n1", "svm_check_interval": 0, "bridge": {"up": ["a.#"]}})
    sys.modules["zoo_micro.validate"] = Trap()
    try:
        await m.start()  # a PluginError here names the use
    finally:
        del sys.modules["zoo_micro.validate"]
    try:
        assert m.plugins.get("bridge").session is not None
    finally:
        await m.stop()


async def raises_async(exc, coro):
    try:
        await coro
    except exc as e:
        return e
    raise AssertionError("no %s" % exc.__name__)


async def test_a_bridge_that_fails_to_start_leaves_nothing_behind():
    # The journal cannot be written: the start fails after the options were read and the up
    # topics, the log sink and the state listener were wired; all of them are undone.
    from zoo_micro.state import StateMachineManager

    store = StateMachineManager()
    listeners = len(store._listeners)
    sinks = len(log.sinks)
    quiet = log.quiet
    m = Master({"name": "n1", "state_path": None, "bridge": {"up": ["a.#"], "journal": "/no/such/dir/j"}})
    try:
        e = str(await raises_async(PluginError, m.start()))
    finally:
        log.quiet = quiet
    assert "plugin bridge failed to initialize" in e and "Memory" not in e, e  # the journal, not the heap
    assert not [s for idx in m.bus._index.values() for s in idx[0]]  # no `up` or health subscription
    assert len(log.sinks) == sinks and len(store._listeners) == listeners
    store.set_state("app", "x", 1)  # a state change reaches no half-built bridge
