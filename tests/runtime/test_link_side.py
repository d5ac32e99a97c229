# Health reports, state changes and log lines wait for the host in a small queue of their own,
# newest first: a state change replaces the waiting value of its own key, never another key's.
import json

from zoo_micro import Master

HEAPSIZE = "128K"  # a bridged node with a state store, its code compiled from .py on the board


async def test_waiting_state_changes_keep_the_newest_value_of_each_key():
    from zoo_micro.state import StateMachineManager

    store = StateMachineManager()
    m = Master(
        {"name": "n1", "state_path": None, "svm_check_interval": 0, "bridge": {"up": ["a.#"], "log": False}}
    )
    await m.start()
    try:
        bridge = m.plugins.get("bridge")
        assert not bridge.session.up  # no host: what the node sends waits
        for value in (1, 2, 3):
            for key in ("x", "y", "z"):
                store.set_state("side", key, value)
        waiting = {}
        for e in bridge._side:
            if e[1] == "zoo.state":
                scope, key, payload = json.loads(e[2])
                assert (scope, key) not in waiting, "two waiting changes of %s/%s" % (scope, key)
                waiting[(scope, key)] = payload["value"]
        assert waiting == {("side", "x"): 3, ("side", "y"): 3, ("side", "z"): 3}, waiting
    finally:
        await m.stop()
