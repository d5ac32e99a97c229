# The state machines (scopes) of the store, listed and handled through get_state_machines(), as
# zoo-framework apps and its own bridge code do.
from keeper import note, notes, report, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.statemachine import StateMachineManager
from zoo_framework.workers import BaseWorker

# ---

sm = StateMachineManager()


class Fleet(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Fleet"})

    def _execute(self):
        sm.set_state("pump", "speed", 3)
        sm.set_state("pump", "mode.auto", True)
        sm.set_state("valve", "open", False)
        machines = sm.get_state_machines()
        note("fleet", "scopes", sorted(machines.keys()))
        note("fleet", "count", len(machines))
        note("fleet", "has pump", "pump" in machines, "has tank", "tank" in machines)
        note("fleet", "get tank", machines.get("tank"))
        note("fleet", "same store", StateMachineManager() is sm)
        machines.pop("valve")
        note(
            "fleet",
            "valve after pop",
            sm.get_state("valve", "open"),
            "scopes",
            sorted(sm.get_state_machines().keys()),
        )
        sm.set_state("valve", "open", True)
        note("fleet", "valve again", sm.get_state("valve", "open"))
        note("fleet", "pump mode.auto", sm.get_state("pump", "mode.auto"))
        note("fleet", "finished")


master = Master()
master.register_worker("Fleet", Fleet)
until(master, lambda: notes.get("fleet", [""])[-1] == "finished")
master.run()
report()
