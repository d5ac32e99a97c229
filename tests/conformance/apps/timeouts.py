# run_timeout on a plain worker whose runs take longer: neither framework interrupts a plain run.
import time

from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.workers import BaseWorker

# ---


class Slow(BaseWorker):
    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.1, "name": "Slow", "run_timeout": 0.2})
        self.n = 0

    def _execute(self):
        self.n += 1
        if self.n > 2:
            return
        note("slow", "run", self.n, "started")
        time.sleep(0.4)
        note("slow", "run", self.n, "finished")

    def _on_error(self):
        if self.n <= 2:
            note("slow", "on_error after run", self.n)


class Ticker(BaseWorker):
    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.5, "name": "Ticker"})
        self.n = 0

    def _execute(self):
        self.n += 1
        if self.n <= 4:
            note("ticker", "tick", self.n)


master = Master()
master.register_worker("Slow", Slow)
master.register_worker("Ticker", Ticker)
until(master, lambda: seen("ticker") >= 4)
master.run()
report()
