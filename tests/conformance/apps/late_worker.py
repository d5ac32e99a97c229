# A worker registered while the Master runs, from another worker.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.workers import BaseWorker

# ---


class Latecomer(BaseWorker):
    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.1, "name": "Latecomer"})
        self.n = 0

    def _execute(self):
        self.n += 1
        if self.n <= 2:
            note("latecomer", "run", self.n)


class Hiring(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Hiring"})

    def _execute(self):
        master.register_worker("Latecomer", Latecomer)
        note("hiring", "registered Latecomer")


master = Master()
master.register_worker("Hiring", Hiring)
until(master, lambda: seen("latecomer") >= 2)
master.run()
report()
