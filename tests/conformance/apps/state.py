# The state store as zoo-framework's README uses it: scope + dotted key, observers, removal.
from keeper import note, notes, report, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.statemachine import StateMachineManager
from zoo_framework.workers import BaseWorker

# ---

sm = StateMachineManager()


def on_status(payload):
    note("on_status", "value", payload["value"])


def on_count_raising(payload):
    note("on_count_raising", "value", payload["value"])
    raise RuntimeError("an observer that fails must not stop the write or the other observers")


def on_count(payload):
    note("on_count", "value", payload["value"])


class Orders(BaseWorker):
    """Writes the store from a worker, as an app does while it runs."""

    def __init__(self):
        super().__init__({"name": "Orders"})

    def _execute(self):
        sm.set_state("order", "status", "pending")
        sm.set_state("order", "status", "paid")
        note("orders", "status", sm.get_state("order", "status"))
        sm.set_state("order", "item.count", 2)
        note("orders", "item.count", sm.get_state("order", "item.count"))
        sm.set_state("order", "item.count", 3)
        sm.unobserve_state("order", "status", on_status)
        sm.set_state("order", "status", "shipped")
        note("orders", "status", sm.get_state("order", "status"))
        note("orders", "missing key", sm.get_state("order", "nothing"))
        note("orders", "missing scope", sm.get_state("nobody", "status"))
        note("orders", "remove returns", sm.remove_state("order", "status"))
        note("orders", "after remove", sm.get_state("order", "status"))
        note("orders", "item.count after removing status", sm.get_state("order", "item.count"))
        note("orders", "remove again returns", sm.remove_state("order", "status"))
        note("orders", "remove from missing scope returns", sm.remove_state("nobody", "status"))
        note("orders", "scopes has order", "order" in sm.get_state_machines())
        note("orders", "scopes has nobody", "nobody" in sm.get_state_machines())
        note("orders", "finished")


sm.observe_state("order", "status", on_status)
sm.observe_state("order", "item.count", on_count_raising)
sm.observe_state("order", "item.count", on_count)
master = Master()
master.register_worker("Orders", Orders)
until(master, lambda: notes.get("orders", [""])[-1] == "finished")
master.run()
report()
