# Master.get_worker_stats(name): one worker's name, class and health, as zoo-framework reports it.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.workers import BaseWorker

# ---


class Pinger(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Pinger"})

    def _execute(self):
        note("pinger", "ran")


class Reader(BaseWorker):
    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.05, "name": "Reader"})

    def _execute(self):
        if not seen("pinger") or seen("reader"):
            return
        try:
            stats = master.get_worker_stats("Pinger")
            note("reader", "keys", sorted(stats))
            note("reader", "name", stats["name"], "type", stats["type"])
            note("reader", "health keys", sorted(stats["health"]))
            note("reader", "unknown worker", master.get_worker_stats("Nobody"))
        except Exception as e:
            note("reader", "raised", type(e).__name__)


master = Master()
master.register_worker("Pinger", Pinger)
master.register_worker("Reader", Reader)
until(master, lambda: seen("reader") >= 1)
master.run()
report()
