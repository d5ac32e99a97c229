# Reading the state store back from flash at boot: StateMachineManager.load() loads this module
# for the call and forgets it (port.once), so a running node does not hold it.
import json

from zoo_micro import flashfile, port


def load(store, name=None):
    """StateMachineManager.load (see there)."""
    store._loaded = True
    try:
        doc = json.loads(flashfile.read(name or store.path, store.max_bytes))
        top = doc["version"]
        scopes = doc["scopes"]
        if type(top) is not int or type(scopes) is not dict:
            raise TypeError
        for scope in scopes:
            leaves = scopes[scope]
            if type(leaves) is not dict:
                raise TypeError
            for k in leaves:
                leaf = leaves[k]
                if type(leaf) is not list or len(leaf) != 2 or type(leaf[1]) is not int:
                    raise TypeError
                if leaf[1] > top:
                    top = leaf[1]
        with store._lock:
            store._leaves = scopes
            store._version = max(store._version, top)
            store._dirty = False
        return name or store.path
    except Exception:
        if name:
            raise
    # Rare: no file yet, or a damaged one. The fallback's code loads only then.
    return port.once("zoo_micro.state_recover", "fall_back", store)
