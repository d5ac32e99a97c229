# The rarer ways zoo-framework apps deliver events: response mechanisms (the first reactor only,
# one named reactor), channel.dispatch(topic, content), and events of two priorities queued at once.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.workers import BaseWorker

# ---


@event("cmd.slow")
def slow(req):
    note("slow", req.topic, req.content)


@event("cmd.pick")
def first_pick(req):
    note("first_pick", req.content)


@event("cmd.pick")
def second_pick(req):
    note("second_pick", req.content)


@event("cmd.order")
def in_order(req):
    note("in_order", req.content, "priority", req.priority)


class Commands(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Commands"})

    def _execute(self):
        channel = EventChannelManager.get_channel("default")
        first = EventNode("cmd.pick", "first only", channel_name="default")
        first.set_response_mechanism(1)
        channel.push_event(first)
        named = EventNode("cmd.pick", "second only", channel_name="default")
        named.set_response_mechanism(4, "second_pick")
        channel.push_event(named)
        channel.push_event(EventNode("cmd.pick", "both", channel_name="default"))
        channel.dispatch("cmd.slow", "via dispatch")
        channel.push_event(EventNode("cmd.order", "queued first", channel_name="default", priority=1))
        channel.push_event(EventNode("cmd.order", "queued second", channel_name="default", priority=9))


master = Master()
master.register_worker("Commands", Commands)
until(master, lambda: seen("first_pick") + seen("second_pick") >= 4 and seen("slow") + seen("in_order") >= 3)
master.run()
report()
