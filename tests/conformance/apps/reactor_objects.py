# Reactors made as objects rather than with @event: EventReactor(name), its setters, and
# EventChannelManager().refresh_channel(channel, topic, reactor), as zoo-framework's @event does.
from keeper import note, report, seen, until

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.core import Master
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.reactor import EventReactor
from zoo_framework.reactor.event_retry_strategy import EventRetryStrategy
from zoo_framework.workers import BaseWorker

# ---

tries = [0]


def audit(req):
    tries[0] += 1
    note("audit", "try", tries[0], req.topic, req.content, "reactor", req.reactor_name)
    if tries[0] == 1:
        raise ValueError("disk busy")


reactor = EventReactor("audit")
reactor.set_event_callback(audit)
reactor.set_retry_strategy(EventRetryStrategy.RetryTimes, 2)
reactor.set_error_callback(lambda name, topic, content, e: note("audit", "error_callback", name, e))
reactor.set_done_callback(lambda name, topic, content: note("audit", "done_callback", name))
EventChannelManager().refresh_channel("default", "audit.entry", reactor)


class Clerk(BaseWorker):
    def __init__(self):
        super().__init__({"name": "Clerk"})

    def _execute(self):
        EventChannelManager.get_channel("default").push_event(EventNode("audit.entry", "login"))


master = Master()
master.register_worker("Clerk", Clerk)
until(master, lambda: seen("audit") >= 4)
master.run()
report()
