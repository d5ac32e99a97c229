# What a worker's _execute returns reaches the event pipeline: zoo-framework puts every worker's
# result on the topic "waiter"; a reactor there filters by the worker's name.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.workers import BaseWorker

# ---


@event("waiter")
def on_result(req):
    r = req.content
    if getattr(r, "registry_name", None) == "Adder":
        note("on_result", "from", r.registry_name, "content", r.content, "error", r.error)


class Adder(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Adder"})

    def _execute(self):
        return 2 + 3


master = Master()
master.register_worker("Adder", Adder)
until(master, lambda: seen("on_result") >= 1)
master.run()
report()
