# Loading plugins in dependency order, loading or unloading one by name, and the framework's other
# PluginManager calls: what a node does at start and stop, or when an app asks. Loaded for the
# call and forgotten (port.once, and PluginManager.__getattr__ for pm.name(...)), so a running node
# does not hold it.
from zoo_micro import port
from zoo_micro.plugins import PluginError


def load_order(pm):
    """Registered classes with every dependency before its dependents."""
    by_name = {}
    for c in pm._classes:
        by_name[c.name] = c
    order = []
    state = {}  # name -> 1 while visiting, 2 when placed

    def visit(c, path):
        mark = state.get(c.name)
        if mark == 2:
            return
        if mark == 1:
            raise PluginError("plugin dependency cycle: %s" % " -> ".join(path + [c.name]))
        state[c.name] = 1
        for dep in c.dependencies:
            if dep not in by_name:
                raise PluginError("plugin %s needs %s, which is not registered" % (c.name, dep))
            visit(by_name[dep], path + [c.name])
        state[c.name] = 2
        order.append(c)

    for c in pm._classes:
        visit(c, [])
    return order


def load_all(pm, context=None):
    for cls in load_order(pm):
        if pm.get(cls.name) is None:
            _start(pm, cls, context, True)


def load(pm, name, context=None):
    if pm.get(name) is not None:
        return
    for cls in pm._classes:
        if cls.name == name:
            for dep in cls.dependencies:
                if pm.get(dep) is None:
                    raise PluginError("plugin %s needs %s loaded first" % (name, dep))
            return _start(pm, cls, context, False)
    raise KeyError("plugin %s is not registered" % name)


def _start(pm, cls, context, all_or_none):
    plugin = cls()
    try:
        r = plugin.initialize(context or pm.context)
        if type(r) is port.CORO:
            import asyncio

            asyncio.create_task(r)
    except Exception as e:
        try:
            plugin.destroy()  # undo what it did before it failed: subscriptions, sinks, listeners
        except Exception:
            pass
        if all_or_none:
            pm.unload_all()
        raise PluginError("plugin %s failed to initialize: %r" % (cls.name, e)) from None
    pm._loaded.append(plugin)


def unload(pm, name):
    p = pm.get(name)
    if p is None:
        return
    for q in pm._loaded:
        if name in q.dependencies:
            raise PluginError("plugin %s is needed by %s; unload that first" % (name, q.name))
    pm._loaded.remove(p)
    pm._destroy(p)


def unregister(pm, name):
    unload(pm, name)
    pm._classes = [c for c in pm._classes if c.name != name]


def set_context(pm, key, value):
    pm._shared[key] = value


def get_context(pm, key, default=None):
    return pm._shared.get(key, default)


def get_registered_plugins(pm):
    return [c.name for c in pm._classes]


def get_loaded_plugins(pm):
    return [p.name for p in pm._loaded]
