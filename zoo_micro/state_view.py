# The state store's calls a running node seldom makes: versions, removal, observers, dump(),
# configure() and get_state_machines(), the scopes as a live mapping (as the full framework hands
# out its map of scopes: reading a scope gives its values as a dict; pop(scope) removes it, observers
# hear it, the next save drops it). StateMachineManager.__getattr__ loads this for the call.


def get_version(store, scope, key):
    """Version of a leaf, or the newest version inside a branch; 0 when absent."""
    leaves = store._leaves.get(scope) or {}
    hit = leaves.get(key)
    if hit is not None:
        return hit[1]
    prefix = key + "."
    newest = 0
    for k in leaves:
        if k.startswith(prefix) and leaves[k][1] > newest:
            newest = leaves[k][1]
    return newest


def remove_state(store, scope, key):
    """Remove a leaf or a branch; returns what get_state gave for it (None when absent)."""
    changed = []
    with store._lock:
        value = store.get_state(scope, key)
        leaves = store._leaves.get(scope)
        if leaves:
            store._drop_under(leaves, key, changed)
            if changed:
                store._version += 1
                store._dirty = True
    store._notify(scope, changed, removed=True)
    return value


def get_state_machines(store):
    """The scopes as a live mapping, scope -> its values as a dict; pop(scope) removes one."""
    return Machines(store)


def dump(store):
    """Everything, as {scope: {dotted key: {"value": v, "version": n}}}."""
    out = {}
    for scope in store._leaves:
        leaves = store._leaves[scope]
        d = out[scope] = {}
        for k in leaves:
            d[k] = {"value": leaves[k][0], "version": leaves[k][1]}
    return out


def observe_state(store, scope, key, fn):
    """fn gets {"value", "version"} when `key` or anything under it changes."""
    store._observers.append([scope, key, fn])


def unobserve_state(store, scope, key, fn):
    keep = []  # a new list: a change being announced goes on over the old one
    for o in store._observers:
        if not (o[0] == scope and o[1] == key and o[2] == fn):
            keep.append(o)
    store._observers = keep


def configure(store, path=None, save_interval=None):
    """Where and how often to save; an explicit configure() wins over the Master's config."""
    if path is not None:
        store.path = path
    if save_interval is not None:
        store.save_interval = save_interval
    store._explicit = True


class Machines:
    def __init__(self, store):
        self._store = store

    def keys(self):
        leaves = self._store._leaves
        return [s for s in leaves if leaves[s]]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __contains__(self, scope):
        return bool(self._store._leaves.get(scope))

    def __getitem__(self, scope):
        if scope not in self:
            raise KeyError(scope)
        return self._store.get_state(scope)

    def get(self, scope, default=None):
        return self._store.get_state(scope, None, default)

    def items(self):
        return [(s, self[s]) for s in self.keys()]

    def values(self):
        return [self[s] for s in self.keys()]

    def pop(self, scope, *default):
        """Remove the scope from the store; returns its values as a dict."""
        if scope not in self:
            if default:
                return default[0]
            raise KeyError(scope)
        store = self._store
        values = store.get_state(scope)
        for top in values:
            store.remove_state(scope, top)
        return values
