# Plugins as zoo-framework's plugin module documents them: register classes, load_all(context)
# in dependency order, get_plugin, unload_all.
from keeper import note, report

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.plugin import Plugin, PluginManager

# ---


class Storage(Plugin):
    name = "storage"
    version = "1.0.0"

    def initialize(self, context):
        note("storage", "initialize site", context["site"])

    def destroy(self):
        note("storage", "destroy")


class Uploader(Plugin):
    name = "uploader"
    dependencies = ["storage"]

    def initialize(self, context):
        note("uploader", "initialize, storage loaded:", manager.get_plugin("storage") is not None)

    def destroy(self):
        note("uploader", "destroy")


class Orphan(Plugin):
    name = "orphan"
    dependencies = ["nowhere"]

    def initialize(self, context):
        note("orphan", "initialize")

    def destroy(self):
        note("orphan", "destroy")


class NotAPlugin:
    name = "impostor"


manager = PluginManager()
manager.register(Uploader)  # before its dependency: load_all sorts them
manager.register(Storage)
note("manager", "registered", sorted(manager.get_registered_plugins()))
note("manager", "before load, get_plugin storage", manager.get_plugin("storage"))
manager.load_all({"site": "lab"})
note("manager", "loaded", manager.get_loaded_plugins())
note(
    "manager", "get_plugin storage", manager.get_plugin("storage").name, manager.get_plugin("storage").version
)
note("manager", "get_plugin missing", manager.get_plugin("missing"))
try:
    manager.register(NotAPlugin)
    note("manager", "registered a class that is no Plugin")
except Exception:
    note("manager", "a class that is no Plugin is refused")
try:
    manager.unload_all()
    note("manager", "unloaded, loaded now", manager.get_loaded_plugins())
except Exception:
    note("manager", "unload_all refused")

other = PluginManager()
other.register(Orphan)
try:
    other.load_all({"site": "lab"})
    note("other", "loaded a plugin whose dependency is missing")
except Exception:
    note("other", "a missing dependency is refused; loaded", other.get_loaded_plugins())
report()
