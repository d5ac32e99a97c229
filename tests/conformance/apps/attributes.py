# What zoo-framework's BaseWorker gives every worker besides its hooks: its props read back as
# properties (with their defaults), its names, and a `state` dict of its own.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.workers import BaseWorker

# ---


def probe(what, read):
    try:
        note("probe", what, read())
    except Exception as e:
        note("probe", what, "raised", type(e).__name__)


class Probe(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Probe"})

    def _execute(self):
        probe("is_loop", lambda: self.is_loop)
        probe("run_timeout", lambda: self.run_timeout)
        probe("registry_name", lambda: self.registry_name)
        probe("state", lambda: self.state)
        probe("state keeps a value", lambda: self.state.setdefault("x", 1))


class Tuned(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Tuned", "is_loop": True, "delay_time": 0.2, "run_timeout": 5})
        self.n = 0

    def _execute(self):
        self.n += 1
        if self.n == 1:
            note("tuned", "is_loop", self.is_loop, "delay_time", self.delay_time)
            note("tuned", "run_timeout", self.run_timeout)


master = Master()
master.register_worker("Probe", Probe)
master.register_worker("Tuned", Tuned)
until(master, lambda: seen("probe") >= 5 and seen("tuned") >= 2)
master.run()
report()
