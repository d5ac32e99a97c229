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

    def __getattr__(self, name):
        # Loading, unloading and the framework's other calls (unregister, contexts, the lists of
        # names) run at start and stop or when an app asks: plugins_load.py, loaded for the call.
        return port.once("zoo_micro.lazy", "method", "zoo_micro.plugins_load", name, self)

    def _destroy(self, plugin):
        try:
            plugin.destroy()
        except Exception as e:
            log.error("plugin %s: destroy raised %r" % (plugin.name, e))

    def unload_all(self):
        """Destroy the loaded plugins, in reverse load order."""
        while self._loaded:
            self._destroy(self._loaded.pop())
