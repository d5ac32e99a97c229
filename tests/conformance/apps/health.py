# The health report, read as a zoo-framework app reads it: get_health_report() keyed by worker.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.workers import BaseWorker

# ---


class Once(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Once"})

    def _execute(self):
        note("once", "ran")


class Inspector(BaseWorker):
    """Reads the report while the node runs, once the other worker has run."""

    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.05, "name": "Inspector"})

    def _execute(self):
        if not seen("once") or seen("inspector"):
            return
        health = master.get_health_report()
        note("inspector", "report keys", sorted(health))
        entry = health.get("Once")
        if entry is None:
            note("inspector", "no entry named Once")
        else:
            note(
                "inspector",
                "Once status",
                entry["status"],
                "execute_count",
                entry["execute_count"],
                "error_count",
                entry["error_count"],
                "health_score",
                entry["health_score"],
            )


master = Master()
master.register_worker("Once", Once)
master.register_worker("Inspector", Inspector)
until(master, lambda: seen("inspector") >= 2)
master.run()
report()
