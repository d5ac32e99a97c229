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


def _names(items):
    out = []
    for x in items:
        out.append(x.name)
    return out


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
        return _names(self._classes)

    def get_loaded_plugins(self):
        return _names(self._loaded)

    # Loading and unloading by name run at start and stop, or when an app asks: their code is in
    # plugins_load.py, loaded for the call and forgotten.

    def load_order(self):
        """Registered classes with every dependency before its dependents."""
        return port.once("zoo_micro.plugins_load", "load_order", self)

    def load_all(self, context=None):
        """Instantiate and initialize every plugin not loaded yet, dependencies first; a failure
        unloads the ones already loaded."""
        return port.once("zoo_micro.plugins_load", "load_all", self, context)

    def load(self, name, context=None):
        """Load one registered plugin (KeyError if it is not); its dependencies must be loaded."""
        return port.once("zoo_micro.plugins_load", "load", self, name, context)

    def unload(self, name):
        """Destroy one loaded plugin; refused while a loaded plugin depends on it."""
        return port.once("zoo_micro.plugins_load", "unload", self, name)

    def unregister(self, name):
        self.unload(name)
        keep = []
        for c in self._classes:
            if c.name != name:
                keep.append(c)
        self._classes = keep

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
