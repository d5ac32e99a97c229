# Publishing the zoo-framework way: EventChannelManager.get_channel(name).push_event(EventNode(
# topic, content, channel_name=name)), on the default channel and a channel of the app's own.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.workers import BaseWorker

# ---


@event("reading")
def log_reading(req):
    note("log_reading", req.topic, req.content, "reactor", req.reactor_name)


@event("reading")
def chart_reading(req):
    note("chart_reading", req.topic, req.content, "reactor", req.reactor_name)


@event("alarm", channel="business")
def raise_alarm(req):
    note("raise_alarm", req.topic, req.content, "reactor", req.reactor_name)


@event("meter")
def on_meter(req):
    note("on_meter", req.topic, req.content, "reactor", req.reactor_name)


class Meter(BaseWorker):
    """Publishes from a thread of its own (zoo_micro's "mode": "thread"; every worker in
    zoo-framework)."""

    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.2, "name": "Meter", "mode": "thread"})
        self.n = 0

    def _execute(self):
        self.n += 1
        if self.n <= 3:
            EventChannelManager.get_channel("default").push_event(EventNode("meter", self.n * 10))


class Sensor(BaseWorker):
    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.2, "name": "Sensor"})
        self.n = 0

    def _execute(self):
        self.n += 1
        if self.n > 3:
            return
        default = EventChannelManager.get_channel("default")
        if self.n == 3:  # raise_alarm listens on "business" only
            default.push_event(EventNode("alarm", "on the wrong channel", channel_name="default"))
        default.push_event(EventNode("reading", {"celsius": 20 + self.n}, channel_name="default"))
        if self.n == 2:
            business = EventChannelManager.get_channel("business")
            business.push_event(EventNode("alarm", "too warm", channel_name="business"))
            note("sensor", "channel", business.get_channel_name())


master = Master()
master.register_worker("Sensor", Sensor)
master.register_worker("Meter", Meter)


def settled():
    return min(seen("log_reading"), seen("chart_reading"), seen("on_meter")) >= 3 and seen("raise_alarm") >= 1


until(master, settled)
master.run()
report()
