# get_state_machines(): the store's scopes as a live mapping, as the full framework hands out its
# map of scopes. Reading a scope gives its values as a dict; pop(scope) removes it from the store
# (observers hear it, the next save drops it). Loaded on the first call only.


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
