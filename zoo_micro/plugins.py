# Plugins: extend a node without editing the core; loaded in dependency order.
from zoo_micro import log, port


class Plugin:
    """Subclass with a unique `name`; `dependencies` names plugins that must load first."""

    name = ""
    version = "0.1.0"
    dependencies = ()

    def initialize(self, context):
        """Called with the Master when it starts; a coroutine it returns runs as a task."""

    def destroy(self):
        """Called when the Master stops, in reverse load order."""


class PluginError(RuntimeError):
    """A plugin that cannot load or unload: the RuntimeError the full framework raises."""


class PluginManager:
    """`master.plugins`: register(PluginClass), then the Master loads and unloads them; the full
    framework's calls (load, unload, unregister, get_plugin, set_context...) work too."""

    def __init__(self, context=None):
        self.context = {} if context is None else context
        self._shared = self.context if isinstance(self.context, dict) else {}  # set_context's
        self._classes = []
        self._loaded = []

    def register(self, cls):
        if not (isinstance(cls, type) and issubclass(cls, Plugin)) or not cls.name:
            raise ValueError("register() takes a Plugin subclass with a name, got %r" % (cls,))
        for c in self._classes:
            if c.name == cls.name:
                if c is cls:
                    return cls
                raise PluginError("a plugin named %s is already registered" % cls.name)
        self._classes.append(cls)
        return cls

    def get(self, name):
        """The loaded plugin of that name, or None."""
        for p in self._loaded:
            if p.name == name:
                return p
        return None

    get_plugin = get  # the full framework's name

    def get_registered_plugins(self):
        return [c.name for c in self._classes]

    def get_loaded_plugins(self):
        return [p.name for p in self._loaded]

    def load_order(self):
        """Registered classes with every dependency before its dependents."""
        by_name = {}
        for c in self._classes:
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

        for c in self._classes:
            visit(c, [])
        return order

    def load_all(self, context=None):
        """Instantiate and initialize every plugin not loaded yet, dependencies first; a failure
        unloads the ones already loaded."""
        for cls in self.load_order():
            if self.get(cls.name) is None:
                self._start(cls, context, True)

    def load(self, name, context=None):
        """Load one registered plugin (KeyError if it is not); its dependencies must be loaded."""
        if self.get(name) is not None:
            return
        for cls in self._classes:
            if cls.name == name:
                for dep in cls.dependencies:
                    if self.get(dep) is None:
                        raise PluginError("plugin %s needs %s loaded first" % (name, dep))
                return self._start(cls, context, False)
        raise KeyError("plugin %s is not registered" % name)

    def _start(self, cls, context, all_or_none):
        plugin = cls()
        try:
            r = plugin.initialize(context or self.context)
            if port.is_coro(r):
                import asyncio

                asyncio.create_task(r)
        except Exception as e:
            if all_or_none:
                self.unload_all()
            raise PluginError("plugin %s failed to initialize: %r" % (cls.name, e)) from None
        self._loaded.append(plugin)

    def unload(self, name):
        """Destroy one loaded plugin; refused while a loaded plugin depends on it."""
        p = self.get(name)
        if p is None:
            return
        for q in self._loaded:
            if name in q.dependencies:
                raise PluginError("plugin %s is needed by %s; unload that first" % (name, q.name))
        self._loaded.remove(p)
        self._destroy(p)

    def unregister(self, name):
        self.unload(name)
        self._classes = [c for c in self._classes if c.name != name]

    def set_context(self, key, value):
        self._shared[key] = value

    def get_context(self, key, default=None):
        return self._shared.get(key, default)

    def _destroy(self, plugin):
        try:
            plugin.destroy()
        except Exception as e:
            log.error("plugin %s: destroy raised %r" % (plugin.name, e))

    def unload_all(self):
        """Destroy the loaded plugins, in reverse load order."""
        while self._loaded:
            self._destroy(self._loaded.pop())
