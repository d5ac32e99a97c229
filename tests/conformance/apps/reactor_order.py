# A reactor declared after the Master is made: zoo-framework's @event registers it at once,
# whatever Master exists.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.workers import BaseWorker

# ---

master = Master()


@event("door.open")
def on_door(req):
    note("on_door", req.content)


class Door(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Door"})

    def _execute(self):
        EventChannelManager.get_channel("default").push_event(EventNode("door.open", "front"))


master.register_worker("Door", Door)
until(master, lambda: seen("on_door") >= 1)
master.run()
report()
