# Events pushed before master.run(): zoo-framework queues them and delivers them once it runs.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode

# ---


@event("boot.step")
def on_step(req):
    note("on_step", req.content)


master = Master()
channel = EventChannelManager.get_channel("default")
for step in ("config loaded", "sensors found"):
    channel.push_event(EventNode("boot.step", step))
until(master, lambda: seen("on_step") >= 2)
master.run()
report()
