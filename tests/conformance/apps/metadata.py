# register_worker's third argument as zoo-framework defines it: metadata (priority, tags).
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.workers import BaseWorker

# ---


class Backup(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Backup"})

    def _execute(self):
        note("backup", "ran")


master = Master()
master.register_worker("Backup", Backup, {"priority": 10, "tags": ["io", "nightly"]})
until(master, lambda: seen("backup") >= 1)
master.run()
report()
