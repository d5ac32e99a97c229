# The state store kept across a restart: the first run writes, the second reads what the first
# saved when its Master shut down.
# conformance: runs=2
import sys

from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.statemachine import StateMachineManager
from zoo_framework.workers import BaseWorker

# ---

RUN = sys.argv[1] if len(sys.argv) > 1 else "1"
sm = StateMachineManager()


class Garden(BaseWorker):
    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.05, "name": "Garden"})
        self.checks = 0

    def _execute(self):
        if seen("garden"):
            return
        if RUN == "1":
            sm.set_state("garden", "waterings", 3)
            sm.set_state("garden", "valve.open", True)
            sm.set_state("garden", "name", "north bed")
            note("garden", "run 1 wrote")
            return
        # The store is restored as the node starts (zoo-framework: by its StateMachineWorker's first run).
        self.checks += 1
        if sm.get_state("garden", "waterings") is not None or self.checks >= 40:
            note("garden", "run 2 waterings", sm.get_state("garden", "waterings"))
            note("garden", "run 2 valve.open", sm.get_state("garden", "valve.open"))
            note("garden", "run 2 name", sm.get_state("garden", "name"))


master = Master()
master.register_worker("Garden", Garden)
until(master, lambda: seen("garden") >= 1)
master.run()
report()
