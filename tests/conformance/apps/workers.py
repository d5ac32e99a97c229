# Workers as zoo-framework's README writes them: a loop worker, a one-shot worker, a failing
# worker, a worker that keeps its own counters, and one that asks zoo_micro for a thread.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.workers import BaseWorker

# ---


class Blinker(BaseWorker):
    """A loop worker: runs again after each run."""

    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.5, "name": "Blinker"})
        self.count = 0

    def _on_create(self):
        note("blinker", "created")

    def _execute(self):
        self.count += 1
        if self.count <= 3:
            note("blinker", "run", self.count, "is_loop", self.is_loop, "delay_time", self.delay_time)
        return self.count

    def _destroy_result(self, result):
        if result <= 3:
            note("blinker", "destroy_result", result)

    def _destroy(self, result):
        note("blinker", "destroy", result)


class Setup(BaseWorker):
    """A one-shot worker: is_loop is left at its default."""

    def __init__(self):
        super().__init__({"name": "Setup"})

    def _execute(self):
        note("setup", "run", "is_loop", self.is_loop)

    def _on_done(self):
        note("setup", "done")


class Flaky(BaseWorker):
    """Fails every run; its hooks see the failure."""

    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.1, "name": "Flaky"})
        self.tries = 0

    def _execute(self):
        self.tries += 1
        raise ValueError("sensor %d not answering" % self.tries)

    def _on_error(self):
        if self.tries <= 2:
            note("flaky", "on_error after try", self.tries)

    def _on_done(self):
        if self.tries <= 2:
            note("flaky", "on_done after try", self.tries)


class Calibrate(BaseWorker):
    """A one-shot worker whose only run fails."""

    def __init__(self):
        super().__init__({"name": "Calibrate", "delay_time": 0.1})
        self.tries = 0

    def _execute(self):
        self.tries += 1
        if self.tries <= 2:
            note("calibrate", "try", self.tries)
        raise OSError("no reference voltage")


class Ledger(BaseWorker):
    """Keeps counters under the names a framework might use for its own bookkeeping."""

    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.1, "name": "Ledger"})
        self.runs = []
        self.errors = []
        self.status = "mine"
        self.restarts = "mine too"

    def _execute(self):
        if len(self.runs) < 2:
            self.runs.append(len(self.runs) + 1)
            self.errors.append("none")
            note(
                "ledger",
                "runs",
                self.runs,
                "errors",
                self.errors,
                "status",
                self.status,
                "restarts",
                self.restarts,
            )


class Pump(BaseWorker):
    """Blocking work: zoo_micro runs it on a _thread when mode is "thread"; zoo-framework runs
    every worker on a thread and ignores the key."""

    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.1, "name": "Pump", "mode": "thread"})
        self.strokes = 0

    def _execute(self):
        self.strokes += 1
        if self.strokes <= 3:
            note("pump", "stroke", self.strokes)


master = Master()
master.register_worker("Blinker", Blinker)
master.register_worker("Setup", Setup)
master.register_worker("Flaky", Flaky)
master.register_worker("Calibrate", Calibrate)
master.register_worker("Ledger", Ledger)
master.register_worker("Pump", Pump)
until(
    master, lambda: seen("blinker") >= 7 and seen("flaky") >= 4 and seen("ledger") >= 2 and seen("pump") >= 3
)
master.run()
report()
