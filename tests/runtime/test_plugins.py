# Plugins: registration, dependency order, lifecycle with the Master.
from helpers import raises, wait_until
from zoo_micro import BaseWorker, Master, Plugin, PluginError, PluginManager

HEAPSIZE = "80K"  # the test module itself is large; the runtime's share is what shrank

log = []


class Base(Plugin):
    name = "base"

    def initialize(self, context):
        log.append("init base")
        self.context = context

    def destroy(self):
        log.append("destroy base")


class Extra(Plugin):
    name = "extra"
    dependencies = ["base"]

    def initialize(self, context):
        log.append("init extra")

    def destroy(self):
        log.append("destroy extra")


def test_load_order_follows_dependencies_and_unload_reverses_it():
    del log[:]
    pm = PluginManager("ctx")
    pm.register(Extra)  # registered before its dependency
    pm.register(Base)
    assert [c.name for c in pm.load_order()] == ["base", "extra"]
    pm.load_all()  # a plain call, as in the full framework
    assert pm.get("base").context == "ctx" and pm.get_plugin("extra") is pm.get("extra")
    assert pm.get_registered_plugins() == ["extra", "base"] and pm.get_loaded_plugins() == ["base", "extra"]
    pm.unload_all()
    assert log == ["init base", "init extra", "destroy extra", "destroy base"]
    assert pm.get_plugin("base") is None and pm.get_loaded_plugins() == []


def test_cycles_missing_dependencies_and_bad_registrations_are_clear_errors():
    class A(Plugin):
        name = "a"
        dependencies = ["b"]

    class B(Plugin):
        name = "b"
        dependencies = ["a"]

    pm = PluginManager()
    pm.register(A)
    e = raises(PluginError, pm.load_order)
    assert "needs b, which is not registered" in str(e)
    pm.register(B)
    e = raises(PluginError, pm.load_order)
    assert "cycle" in str(e) and "a -> b -> a" in str(e)
    raises(ValueError, pm.register, object)  # ValueError, as the full framework raises

    class NoName(Plugin):
        pass

    raises(ValueError, pm.register, NoName)

    class OtherA(Plugin):
        name = "a"

    e = raises(PluginError, pm.register, OtherA)
    assert "already registered" in str(e)


def test_one_plugin_at_a_time_and_the_shared_context_as_in_the_full_framework():
    del log[:]
    pm = PluginManager()
    pm.register(Base)
    pm.register(Extra)
    assert isinstance(raises(RuntimeError, pm.load, "extra"), PluginError)  # base is not loaded yet
    pm.load("base", {"tz": "UTC"})
    assert pm.get_plugin("base").context == {"tz": "UTC"}
    pm.load("extra")
    pm.load("extra")  # loaded already: nothing happens
    assert pm.get_loaded_plugins() == ["base", "extra"]
    raises(RuntimeError, pm.unload, "base")  # extra needs it
    pm.unload("extra")
    pm.unregister("extra")
    assert pm.get_registered_plugins() == ["base"] and pm.get_loaded_plugins() == ["base"]
    raises(KeyError, pm.load, "nowhere")
    pm.set_context("site", "lab")
    assert pm.get_context("site") == "lab" and pm.get_context("none", "fallback") == "fallback"
    pm.unload_all()
    assert log == ["init base", "init extra", "destroy extra", "destroy base"]


async def test_master_loads_plugins_at_start_and_unloads_at_stop():
    del log[:]
    got = []

    class Tap(Plugin):
        name = "tap"

        def initialize(self, master):
            # A plugin can add workers, subscribe to events and read health.
            class Beat(BaseWorker):
                is_loop = True

                def _execute(self):
                    return 1

            master.register_worker("beat", Beat, props={"delay_time": 0.01})
            master.subscribe("beat_result", lambda r: got.append(r.content))
            self.health = master.get_health_report()

        def destroy(self):
            log.append("tap gone")

    m = Master()
    m.plugins.register(Tap)
    await m.start()
    await wait_until(lambda: len(got) >= 2)
    assert "beat" in m.plugins.get("tap").health["workers"]
    await m.stop()
    assert log == ["tap gone"]


async def test_plugin_that_fails_to_initialize_stops_the_start_cleanly():
    del log[:]

    class Broken(Plugin):
        name = "broken"
        dependencies = ["base"]

        def initialize(self, context):
            raise OSError("no such device")

    m = Master()
    m.plugins.register(Base)
    m.plugins.register(Broken)
    try:
        await m.start()
        raise AssertionError("start should fail")
    except PluginError as e:
        assert "broken failed to initialize" in str(e)
    assert log == ["init base", "destroy base"]
    assert m._tasks == []


async def test_plugin_counters_appear_in_the_health_report():
    class Counted(Plugin):
        name = "counted"

        def stats(self):
            return {"sent": 7}

    m = Master({"svm_check_interval": 0})
    m.plugins.register(Counted)
    m.plugins.register(Base)
    await m.start()
    report = m.get_health_report()
    await m.stop()
    assert report["plugins"] == {"counted": {"sent": 7}}  # plugins without stats() stay out


def test_the_managers_rarer_calls_load_for_the_call_and_are_forgotten():
    # unregister, contexts, load/unload by name... live in plugins_load.py (via zoo_micro/lazy.py).
    import sys

    pm = PluginManager()
    pm.register(Base)
    pm.set_context("k", 1)
    assert pm.get_context("k") == 1 and pm.get_registered_plugins() == ["base"]
    assert "zoo_micro.plugins_load" not in sys.modules and "zoo_micro.lazy" not in sys.modules
    assert not hasattr(pm, "no_such_call") and not hasattr(pm, "_no_such_field")
    assert raises(AttributeError, getattr, pm, "no_such_call")
    pm.unregister("base")
    assert pm.get_registered_plugins() == []
