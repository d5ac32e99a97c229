# A reactor declared with zoo-framework's `timeout` option (how long its dispatcher waits for it
# before reporting it as slow).
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.workers import BaseWorker

# ---


@event("report.build", timeout=5)
def build_report(req):
    note("build_report", req.content)


class Trigger(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Trigger"})

    def _execute(self):
        EventChannelManager.get_channel("default").push_event(EventNode("report.build", "daily"))


master = Master()
master.register_worker("Trigger", Trigger)
until(master, lambda: seen("build_report") >= 1)
master.run()
report()
