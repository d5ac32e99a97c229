# The state store: dotted keys, branches, versions, observers, persistence.
import asyncio
import os

from helpers import Quiet, raises, wait_until
from zoo_micro import Master, StateMachineManager, port

HEAPSIZE = "80K"  # the test module itself is large; the runtime's share is what shrank


def fresh():
    StateMachineManager.reset()
    s = StateMachineManager()
    s.configure(path="state.json", save_interval=0.05)
    return s


def test_one_store_per_node():
    fresh()
    assert StateMachineManager() is StateMachineManager()


def test_dotted_keys_fan_out_and_branches_read_back_as_dicts():
    s = fresh()
    s.set_state("sensor", "item", {"count": 3, "limits": {"low": 1, "high": 9}})
    assert s.get_state("sensor", "item.count") == 3
    assert s.get_state("sensor", "item.limits.high") == 9
    assert s.get_state("sensor", "item") == {"count": 3, "limits": {"low": 1, "high": 9}}
    assert s.get_state("sensor", "nothing", "dflt") == "dflt"
    s.set_state("sensor", "item.limits", 5)  # a leaf replaces its branch
    assert s.get_state("sensor", "item") == {"count": 3, "limits": 5}
    s.set_state("sensor", "item.limits.low.x", 1)  # and a branch replaces a leaf on its path
    assert s.get_state("sensor", "item.limits") == {"low": {"x": 1}}
    s.remove_state("sensor", "item.limits")
    assert s.get_state("sensor", "item") == {"count": 3}
    assert s.get_state("other", "item") is None


def test_versions_only_grow():
    s = fresh()
    s.set_state("a", "x", 1)
    v1 = s.get_version("a", "x")
    s.set_state("a", "y", 1)
    s.set_state("a", "x", 2)
    v2 = s.get_version("a", "x")
    assert v2 > v1 > 0
    s.remove_state("a", "x")
    s.set_state("a", "x", 3)
    assert s.get_version("a", "x") > v2


def test_plain_observers_run_before_set_state_returns():
    s = fresh()
    seen = []

    class Owner:
        def on_change(self, payload):
            seen.append(("method", payload["value"]))

    s.observe_state("cfg", "mode", lambda p: seen.append(("fn", p["value"], p["version"])))
    s.observe_state("cfg", "mode", Owner().on_change)
    s.set_state("cfg", "mode", "eco")
    assert seen[0][0:2] == ("fn", "eco") and seen[1] == ("method", "eco")
    assert seen[0][2] == s.get_version("cfg", "mode")


def test_branch_observer_sees_sub_key_changes_and_unobserve_stops_it():
    s = fresh()
    seen = []

    def fn(p):
        seen.append(p["value"])

    s.observe_state("cfg", "net", fn)
    s.set_state("cfg", "net.ssid", "zoo")
    s.set_state("cfg", "other", 1)
    assert seen == [{"ssid": "zoo"}]
    s.unobserve_state("cfg", "net", fn)
    s.set_state("cfg", "net.ssid", "zoo2")
    assert len(seen) == 1


def test_raising_observer_never_breaks_the_writer_or_other_observers():
    s = fresh()
    seen = []

    def bad(p):
        raise RuntimeError("observer bug")

    s.observe_state("cfg", "k", bad)
    s.observe_state("cfg", "k", lambda p: seen.append(p["value"]))
    with Quiet():
        s.set_state("cfg", "k", 1)
    assert seen == [1] and s.get_state("cfg", "k") == 1


async def test_coroutine_observers_are_scheduled_on_the_loop():
    s = fresh()
    seen = []

    async def obs(p):
        await asyncio.sleep(0)
        seen.append(p["value"])

    s.observe_state("cfg", "k", obs)
    s.set_state("cfg", "k", 42)
    assert seen == []  # scheduled, not run inline
    await wait_until(lambda: seen == [42])


def test_listeners_get_every_leaf_change_for_a_shadow():
    s = fresh()
    got = []
    s.listen(lambda scope, key, payload: got.append((scope, key, payload and payload["value"])))
    s.set_state("n", "a", {"b": 1, "c": 2})
    s.remove_state("n", "a.b")
    assert sorted(got[:2]) == [("n", "a.b", 1), ("n", "a.c", 2)]  # dict order is not kept on boards
    assert got[2] == ("n", "a.b", None)
    assert s.dump()["n"]["a.c"]["value"] == 2


def test_each_gives_a_mirror_every_leaf_as_a_listener_hears_it_and_loads_nothing():
    import sys

    s = fresh()
    s.set_state("n", "a", {"b": 1, "c": [2]})
    s.set_state("m", "x", "y")
    got = []
    before = sorted(sys.modules)
    s.each(lambda scope, key, payload: got.append((scope, key, payload["value"], payload["version"])))
    assert sorted(sys.modules) == before  # no side module: a mirror starts at the node's fullest moment
    assert sorted(g[:3] for g in got) == [("m", "x", "y"), ("n", "a.b", 1), ("n", "a.c", [2])]
    assert sorted(g[3] for g in got) == [1, 2, 3]


def test_remove_state_returns_the_removed_value():
    s = fresh()
    s.set_state("cfg", "net", {"ssid": "zoo", "ch": 6})
    s.set_state("cfg", "n", 4)
    assert s.remove_state("cfg", "n") == 4
    assert s.remove_state("cfg", "net") == {"ssid": "zoo", "ch": 6}  # a branch comes back whole
    assert s.remove_state("cfg", "n") is None  # gone: as zoo-framework, None
    assert s.remove_state("nowhere", "n") is None


def test_get_state_machines_is_a_live_map_of_the_scopes():
    s = fresh()
    assert len(s.get_state_machines()) == 0
    s.set_state("cfg", "net", {"ssid": "zoo"})
    s.set_state("sensor", "t", 21.5)
    s.set_state("gone", "x", 1)
    s.remove_state("gone", "x")
    machines = s.get_state_machines()
    assert sorted(machines.keys()) == ["cfg", "sensor"] and len(machines) == 2
    assert "cfg" in machines and "gone" not in machines and machines.get("gone") is None
    assert machines["cfg"] == {"net": {"ssid": "zoo"}} and dict(machines.items())["sensor"] == {"t": 21.5}
    machines["cfg"]["net"]["ssid"] = "changed"  # a scope's values are a copy: the store holds its own
    assert s.get_state("cfg", "net.ssid") == "zoo"
    heard = []
    s.observe_state("sensor", "t", lambda p: heard.append(p["value"]))
    assert machines.pop("sensor") == {"t": 21.5}  # as the full framework's map: the scope goes
    assert "sensor" not in s.get_state_machines() and s.get_state("sensor", "t") is None
    assert heard == [None] and s.dump()["sensor"] == {}
    assert machines.pop("sensor", "absent") == "absent"
    raises(KeyError, machines.pop, "sensor")


def test_save_and_load_round_trip_keeps_values_and_versions():
    s = fresh()
    s.set_state("cfg", "limits", {"high": 30.5, "low": -2})
    s.set_state("cfg", "name", "node-1")
    v = s.get_version("cfg", "name")
    s.save()
    StateMachineManager.reset()
    s2 = StateMachineManager()
    s2.configure(path="state.json")
    assert s2.load() == "state.json"
    assert s2.get_state("cfg") == {"limits": {"high": 30.5, "low": -2}, "name": "node-1"}
    assert s2.get_version("cfg", "name") == v
    s2.set_state("cfg", "name", "x")
    assert s2.get_version("cfg", "name") > v


def test_corrupt_file_falls_back_to_previous_good_copy():
    s = fresh()
    s.set_state("cfg", "n", 1)
    s.save()
    s.set_state("cfg", "n", 2)
    s.save()  # state.json holds 2, state.json.bak holds 1
    with open("state.json") as f:
        text = f.read()
    with open("state.json", "w") as f:
        f.write(text.replace("2", "7"))  # bit rot: the checksum no longer matches
    StateMachineManager.reset()
    s2 = StateMachineManager()
    s2.configure(path="state.json")
    with Quiet():
        assert s2.load() == "state.json.bak"
    assert s2.get_state("cfg", "n") == 1


def test_truncated_file_with_no_good_copy_boots_empty():
    with open("state.json", "w") as f:
        f.write('{"version": 3, "scopes": {"cfg": {"n": [1, ')
    StateMachineManager.reset()
    s = StateMachineManager()
    s.configure(path="state.json")
    with Quiet():
        assert s.load() is None
    assert s.get_state("cfg", "n") is None


async def test_master_loads_at_start_debounces_saves_and_saves_at_shutdown():
    s = fresh()
    s.configure(save_interval=0.2)
    m = Master({"state_path": "ignored.json"})  # an explicit configure() wins
    await m.start()
    for i in range(20):
        s.set_state("cfg", "n", i)
    assert not _exists("state.json")  # debounced: nothing written yet
    await wait_until(lambda: _exists("state.json"), timeout=2)
    s.set_state("cfg", "n", 99)
    await m.stop()  # saves what changed since
    assert not _exists("ignored.json")
    StateMachineManager.reset()
    s2 = StateMachineManager()
    s2.configure(path="state.json")
    s2.load()
    assert s2.get_state("cfg", "n") == 99


async def test_master_config_key_sets_the_state_path():
    StateMachineManager.reset()
    s = StateMachineManager()
    m = Master({"state_path": "node_state.json"})
    await m.start()
    s.set_state("a", "b", 1)
    await m.stop()
    assert _exists("node_state.json")


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def test_a_save_failure_on_a_full_heap_leaves_the_store_saving():
    # Formatting the failure needs heap too: a MemoryError there must not end the save loop.
    class Undescribable(Exception):
        def __repr__(self):
            raise MemoryError()

    def failing():
        raise Undescribable()

    s = fresh()
    s.set_state("cfg", "x", 1)
    s.save = failing
    s._save_logged()  # raises nothing
    assert s._dirty


async def test_state_is_saved_at_stop_even_when_the_heap_cannot_load_the_shutdown_code():
    from zoo_micro import port

    real = port.once

    def full_heap(module, fn, *args):
        if module == "zoo_micro.shutdown":
            raise MemoryError()
        return real(module, fn, *args)

    StateMachineManager.reset()
    m = Master({"state_path": "state.json", "state_save_interval": 60})
    s = StateMachineManager()
    await m.start()
    s.set_state("cfg", "mode", "eco")
    port.once = full_heap
    raised = False
    try:
        await m.stop()
    except MemoryError:
        raised = True  # stop says it could not stop cleanly...
    finally:
        port.once = real
    assert raised and not m._running  # ...after keeping the state
    StateMachineManager.reset()
    fresh_store = StateMachineManager()
    fresh_store.configure(path="state.json")
    fresh_store.load()
    assert fresh_store.get_state("cfg", "mode") == "eco"


def test_the_rarer_calls_load_for_the_call_and_are_forgotten():
    # get_version, remove_state, observers, dump... live in state_view.py (via zoo_micro/lazy.py):
    # a running node holds neither module, and a name the store lacks is an AttributeError.
    import sys

    store = StateMachineManager()
    store.set_state("lazy", "a.b", 1)
    assert store.get_version("lazy", "a") == store.get_version("lazy", "a.b") > 0
    assert store.dump()["lazy"]["a.b"]["value"] == 1
    assert "zoo_micro.state_view" not in sys.modules and "zoo_micro.lazy" not in sys.modules
    assert not hasattr(store, "no_such_call") and not hasattr(store, "_no_such_field")
    assert "zoo_micro.state_view" not in sys.modules
    store.remove_state("lazy", "a")
    if port.MICROPYTHON:
        import micropython

        # Special methods are looked up on the class: truthiness never loads the side modules.
        micropython.heap_lock()
        try:
            truth = bool(store)
        finally:
            micropython.heap_unlock()
        assert truth
