# The node's state store: dotted keys per scope, observers, and power-loss-safe JSON on flash.
import asyncio
import json

from zoo_micro import flashfile, log, port


class StateMachineManager:
    """`StateMachineManager()` returns the node's one store, as in the full framework.

    Values live as leaves under dotted keys ("item.count"); setting a dict fans it out into
    sub-keys and reading a branch returns a dict. Each change gets a version from one counter
    that only grows (persisted with the data).
    """

    _instance = None
    max_bytes = 16384  # a larger state file is refused at boot, and never written

    def __new__(cls):
        if cls._instance is None:
            self = object.__new__(cls)
            self._reset()
            cls._instance = self
        return cls._instance

    def __init__(self):
        pass  # every call returns the same store; _reset() built it once

    def _reset(self):
        self._leaves = {}  # scope -> {dotted key: [value, version]}
        self._version = 0
        self._observers = []  # [scope, key, fn]
        self._listeners = []  # fn(scope, key, payload) for every leaf change, e.g. a bridge shadow
        self._lock = port.allocate_lock()
        self.path = "state.json"
        self.save_interval = 5
        self._explicit = False
        self._dirty = False
        self._loaded = False
        self._saver = None
        self._failed = None  # the last save's error, logged once

    @classmethod
    def reset(cls):
        """Forget the store (tests and simulations that start a fresh node in one process)."""
        if cls._instance is not None:
            cls._instance.stop()
        cls._instance = None

    # Reading and writing

    def set_state(self, scope, key, value):
        self._check(scope, key, value)
        changed = []
        with self._lock:
            leaves = self._leaves.get(scope)
            if leaves is None:
                leaves = self._leaves[scope] = {}
            # A leaf replaces its branch, and a branch replaces a leaf on its path.
            self._drop_under(leaves, key, changed)
            parts = key.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in leaves:
                    del leaves[parent]
                    changed.append(parent)
            self._fan_out(leaves, key, value, changed)
            self._dirty = True
        self._notify(scope, changed)

    def _fan_out(self, leaves, key, value, changed):
        if isinstance(value, dict) and value:
            for k in value:
                self._fan_out(leaves, key + "." + str(k), value[k], changed)
        else:
            self._version += 1
            leaves[key] = [value, self._version]
            changed.append(key)

    def _check(self, scope, key, v):
        # Refused here, not at the next save: the file holds JSON, which has no NaN, inf or bytes.
        if isinstance(v, (list, tuple, dict)):
            for x in v:
                self._check(scope, key, v[x] if isinstance(v, dict) else x)
        elif not (v is None or isinstance(v, (str, int, bool)) or isinstance(v, float) and v - v == 0):
            raise ValueError("state %s/%s: %r cannot be saved as JSON" % (scope, key, v))

    def _drop_under(self, leaves, key, changed):
        prefix = key + "."
        for k in list(leaves):
            if k == key or k.startswith(prefix):
                del leaves[k]
                changed.append(k)

    def get_state(self, scope, key=None, default=None):
        leaves = self._leaves.get(scope)
        if not leaves:
            return default
        if key is None:
            return self._branch(leaves, "")
        hit = leaves.get(key)
        if hit is not None:
            return hit[0]
        branch = self._branch(leaves, key + ".")
        return branch if branch else default

    def _branch(self, leaves, prefix):
        out = {}
        n = len(prefix)
        for k in leaves:
            if k.startswith(prefix):
                node = out
                parts = k[n:].split(".")
                for p in parts[:-1]:
                    nxt = node.get(p)
                    if not isinstance(nxt, dict):
                        nxt = node[p] = {}
                    node = nxt
                node[parts[-1]] = leaves[k][0]
        return out

    def __getattr__(self, name):
        # Versions, removal, observers, dump(), configure() and the live mapping of scopes are
        # rarer calls: state_view.py, loaded for the call.
        return port.once("zoo_micro.lazy", "method", "zoo_micro.state_view", name, self)

    # Listeners (a bridge's mirror) and observers (state_view.observe_state)

    def listen(self, fn):
        """fn(scope, key, payload) for every changed leaf; payload is None when it was removed."""
        self._listeners.append(fn)

    def unlisten(self, fn):
        if fn in self._listeners:
            self._listeners.remove(fn)

    def each(self, fn):
        """fn(scope, key, payload) for every leaf, as a listener hears a change: where a mirror
        starts. Here, not in state_view.py, so a mirror needs no module loaded at its fullest."""
        with self._lock:
            for scope in self._leaves:
                leaves = self._leaves[scope]
                for k in leaves:
                    hit = leaves[k]
                    fn(scope, k, {"value": hit[0], "version": hit[1]})

    def _notify(self, scope, changed, removed=False):
        if not changed:
            return
        for fn in self._listeners:
            for k in changed:
                hit = self._leaves.get(scope, {}).get(k)
                payload = None if hit is None else {"value": hit[0], "version": hit[1]}
                self._call(fn, (scope, k, payload))
        for obs in self._observers:
            if obs[0] != scope:
                continue
            key = obs[1]
            prefix = key + "."
            for k in changed:
                # The observed key itself, something under it, or a parent that replaced it.
                if k == key or k.startswith(prefix) or prefix.startswith(k + "."):
                    value = self.get_state(scope, key)
                    self._call(obs[2], ({"value": value, "version": self._version},))
                    break

    def _call(self, fn, args):
        try:
            r = fn(*args)
            if type(r) is port.CORO:
                try:
                    asyncio.create_task(r)
                except RuntimeError:
                    r.close()
                    log.warn("state observer %r is async but no loop is running; skipped" % (fn,))
        except Exception as e:
            log.error("state observer %r raised %r" % (fn, e))

    # Persistence

    def _body(self):
        doc = {"version": self._version, "scopes": {}}
        for scope in self._leaves:
            leaves = self._leaves[scope]
            doc["scopes"][scope] = dict(leaves)
        return json.dumps(doc)

    def save(self):
        """Write now, atomically, keeping the previous good copy (see flashfile)."""
        with self._lock:
            body = self._body()
            self._dirty = False
        flashfile.write(self.path, body, self.max_bytes)

    def load(self, name=None):
        """Read back the newest intact copy; a damaged file falls back, never fails boot.

        Returns the file it loaded, or None when it started empty. With `name`, loads that
        file only, and raises what stops it. (Boot-time code: state_load.py, then forgotten.)"""
        return port.once("zoo_micro.state_load", "load", self, name)

    def attach(self, config):
        """Called by the Master at start: take its settings, load, and save while running."""
        if not self._explicit:
            self.path = config.get("state_path", self.path)
            self.save_interval = config.get("state_save_interval", self.save_interval)
        if self.path:
            # Values set (or a load()) before start win over the file: never clobber them.
            if not self._leaves and not self._loaded:
                self.load()
            self._saver = asyncio.create_task(self._save_loop())

    async def _save_loop(self):
        # Debounced: at most one write per save_interval, and only when something changed.
        period = int(self.save_interval * 1000)
        while True:
            await port.pause_ms(period)
            if self._dirty:
                self._save_logged()

    def _save_logged(self):
        try:
            self.save()
            self._failed = None
        except Exception as e:
            # A full or read-only flash, a full heap: the values stay in memory, unsaved for next time.
            self._dirty = True
            try:
                msg = "state save to %s failed: %r" % (self.path, e)
                if msg != self._failed:  # once, not at every retry
                    self._failed = msg
                    log.error(msg)
            except MemoryError:
                pass  # no heap even to say so: the save loop lives on and tries again

    def stop(self):
        """Called by the Master at stop: save what changed and end the save loop."""
        if self._saver is not None:
            self._saver.cancel()
            self._saver = None
        if self._dirty and self.path:
            self._save_logged()
