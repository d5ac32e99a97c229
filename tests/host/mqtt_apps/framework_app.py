"""A zoo-framework app fed by the fleet over MQTT: MqttSource -> FrameworkSink -> @event reactors.
Each fleet.tick reaching its reactor becomes one JSON line in OUT (node, seq, i, latency).
usage: python framework_app.py BROKER_URL OUT [CLIENT_ID]    (run in a scratch folder: it writes config.json)
"""

import json
import signal
import sys
import threading
import time
from pathlib import Path

url, out_path = sys.argv[1], sys.argv[2]
client_id = sys.argv[3] if len(sys.argv) > 3 else "zoo-fleet-test-host"
PING_AT = 5

# zoo-framework reads ./config.json at first import; the push model delivers events without its 5 s poll.
Path("config.json").write_text(
    json.dumps(
        {
            "event": {"delay": 0.001, "pushModelEnabled": True, "pushFallbackTimeout": 0.2},
            "log": {"level": "warning"},
        }
    )
)

from zoo_framework.core.aop.event import event  # noqa: E402
from zoo_framework.core.master import Master  # noqa: E402
from zoo_framework.event.event_channel_manager import EventChannelManager  # noqa: E402
from zoo_framework.fifo.node import EventNode  # noqa: E402

from host_tools.link.flow import Sink  # noqa: E402
from host_tools.sinks.framework_sink import FrameworkSink  # noqa: E402
from host_tools.sources.mqtt_source import MqttSource  # noqa: E402

lock = threading.Lock()


def record(obj):
    with lock, open(out_path, "a") as out:
        out.write(json.dumps(obj) + "\n")


@event("fleet.tick")
def on_tick(req):
    c = req.content  # the node's content; the node and its sequence number are on the request
    lat = time.time_ns() // 1000 - c["us"]
    record({"node": req.node, "seq": req.seq, "i": c["i"], "lat_us": lat, "at_us": lat + c["us"]})
    if c["i"] == PING_AT:
        # An app event for one node: the FrameworkSink sends it down, the node answers with fleet.pong.
        ping = EventNode("fleet.ping", {"node": req.node, "content": {"hello": req.node}})
        EventChannelManager.get_channel("default").push_event(ping)


health_seen = set()


@event("zoo.svm.health")
def on_health(req):
    node = req.node
    if node not in health_seen:
        health_seen.add(node)
        report = req.content
        record({"node": node, "health": sorted(report), "plugins": sorted(report.get("plugins", {}))})


@event("fleet.pong")
def on_pong(req):
    record({"node": req.node, "pong": req.content})


class Arrival(Sink):
    """Before the framework: when the MQTT source hands each event over (the bench splits latency)."""

    def event(self, node, topic, content, channel, priority, seq):
        if topic == "fleet.tick":
            record({"src_lat_us": time.time_ns() // 1000 - content["us"]})
        return True


master = Master()
source = MqttSource(url, [Arrival(), FrameworkSink(down=["fleet.ping"])], client_id=client_id)
source.start()


def stop(*_):
    master.shutdown()


signal.signal(signal.SIGTERM, stop)
print("host ready", flush=True)
master.run()
st = source.stats()
source.stop()
print(
    "host stats " + json.dumps({k: st[k] for k in ("received", "delivered", "duplicates", "missed")}),
    flush=True,
)
