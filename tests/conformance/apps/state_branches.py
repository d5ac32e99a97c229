# Dotted keys as branches of the state store: reading a branch, storing a dict, a value set where
# a branch was, and an observer of a branch.
from keeper import note, notes, report, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.statemachine import StateMachineManager
from zoo_framework.workers import BaseWorker

# ---

sm = StateMachineManager()


def on_item(payload):
    note("on_item", "value", payload["value"])


class Store(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Store"})

    def _execute(self):
        sm.set_state("o", "item.count", 3)
        note("store", "branch item", sm.get_state("o", "item"))
        sm.set_state("o", "cfg", {"a": 1, "b": {"c": 2}})
        note("store", "cfg", sm.get_state("o", "cfg"))
        note("store", "cfg.a", sm.get_state("o", "cfg.a"), "cfg.b.c", sm.get_state("o", "cfg.b.c"))
        sm.set_state("o", "item", 5)
        note("store", "item after setting 5", sm.get_state("o", "item"))
        note("store", "item.count after setting item", sm.get_state("o", "item.count"))
        sm.set_state("o", "list", [1, 2])
        note("store", "list", sm.get_state("o", "list"))
        note("store", "finished")


sm.observe_state("o", "item", on_item)
master = Master()
master.register_worker("Store", Store)
until(master, lambda: notes.get("store", [""])[-1] == "finished")
master.run()
report()
