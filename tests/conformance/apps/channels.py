# Asking EventChannelManager about its channels: their names, their count, a queue's size.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.core.aop import event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.workers import BaseWorker

# ---


def probe(what, call):
    try:
        note("census", what, call())
    except Exception as e:
        note("census", what, "raised", type(e).__name__)


@event("stock.low", channel="business")
def on_stock(req):
    note("on_stock", req.content)


class Census(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Census"})

    def _execute(self):
        probe("channels", lambda: sorted(EventChannelManager.get_all_channel_name()))
        probe("count", lambda: EventChannelManager.get_all_channel_count())
        business = EventChannelManager.get_channel("business")
        probe("name", lambda: business.get_channel_name())
        business.push_event(EventNode("stock.low", "bolts", channel_name="business"))
        business.push_event(EventNode("stock.low", "nuts", channel_name="business"))
        probe("size after two", lambda: business.size())


master = Master()
master.register_worker("Census", Census)
until(master, lambda: seen("on_stock") >= 2)
master.run()
report()
