# The rest of zoo-framework's PluginManager: load and unload one plugin, unregister, and the
# shared context.
from keeper import note, report

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.plugin import Plugin, PluginManager

# ---


def probe(what, call):
    try:
        note("manager", what, call())
    except Exception as e:
        # What a caller's except clause would catch, not the class's own name.
        kinds = (KeyError, RuntimeError, ValueError, TypeError, AttributeError)
        note("manager", what, "raised", [k.__name__ for k in kinds if isinstance(e, k)])


class Clock(Plugin):
    name = "clock"

    def initialize(self, context):
        note("clock", "initialize, context", sorted(context.items()) if context else context)

    def destroy(self):
        note("clock", "destroy")


class Display(Plugin):
    name = "display"
    dependencies = ["clock"]

    def initialize(self, context):
        note("display", "initialize")

    def destroy(self):
        note("display", "destroy")


manager = PluginManager()
manager.register(Clock)
manager.register(Display)
probe("load display before clock", lambda: manager.load("display"))
probe("load clock", lambda: manager.load("clock", {"tz": "UTC"}))
probe("load display", lambda: manager.load("display"))
probe("loaded", lambda: manager.get_loaded_plugins())
probe("unload clock while display needs it", lambda: manager.unload("clock"))
probe("unload display", lambda: manager.unload("display"))
probe("loaded", lambda: manager.get_loaded_plugins())
probe("unregister display", lambda: manager.unregister("display"))
probe("registered", lambda: manager.get_registered_plugins())
probe("load missing", lambda: manager.load("nowhere"))
probe("set_context", lambda: manager.set_context("site", "lab"))
probe("get_context", lambda: manager.get_context("site"))
probe("get_context default", lambda: manager.get_context("none", "fallback"))
report()
