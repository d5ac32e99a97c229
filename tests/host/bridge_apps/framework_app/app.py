"""A zoo-framework app that a node talks to through the bridge.

Its reactors record what arrives from nodes (req.content is the node's content, req.node and req.seq
say where it came from); its events on test.down go down to the node; once
everything expected has arrived it writes what it saw to a JSON file and stops.
Run from this folder (zoo-framework reads ./config.json): python app.py SETTINGS.json
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from zoo_framework.core import Master, event
from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.statemachine.state_machine_manager import StateMachineManager

from host_tools.bridge import Bridge, FrameworkSink

settings = json.loads(Path(sys.argv[1]).read_text())
N_UP = settings["up"]
N_DOWN = settings["down"]

up: list = []
got: list = []
nodes: set = set()
logs: list = []
envelope_ok = True


@event("test.up", channel="default")
def on_up(req):
    global envelope_ok
    # The node's content unchanged, its node and its place in the node's stream on the request.
    envelope_ok = envelope_ok and isinstance(req.content, int) and isinstance(req.seq, int)
    nodes.add(req.node)
    up.append(req.content)


health: dict = {}


@event("zoo.svm.health", channel="default")
def on_health(req):
    health.update(req.content)


@event("test.got", channel="default")
def on_got(req):
    got.append(req.content)


def publish(topic: str, content) -> None:
    EventChannelManager.get_channel("default").push_event(EventNode(topic, content))


class Logs(FrameworkSink):
    # Records the node's log lines as well as passing them to the framework's log.
    def log(self, node: str, level: str, msg: str) -> None:
        logs.append([node, level, msg])
        super().log(node, level, msg)


def drive(master: Master, bridge: Bridge) -> None:
    sent = 0
    restart_sent = False
    deadline = time.monotonic() + settings.get("timeout", 100)
    while time.monotonic() < deadline:
        have = len(up)
        # Downlink flows while the uplink does: one event down per N_UP / N_DOWN up.
        target = min(N_DOWN, (have * N_DOWN) // N_UP + 1)
        while sent < target:
            publish("test.down", sent)
            sent += 1
        if settings.get("restart_at") is not None and not restart_sent and have >= settings["restart_at"]:
            publish("test.restart", {"unacked_at_least": 10})
            restart_sent = True
        if have >= N_UP and len(got) >= N_DOWN and (health or not settings.get("wait_health")):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # let the last acknowledgements go out
    result = {
        "up": up,
        "got": got,
        "nodes": sorted(nodes),
        "envelope_ok": envelope_ok,
        "state": StateMachineManager().get_state(settings["node"], "app.progress"),
        "logs": logs,
        "sent_down": sent,
        "health": health,
        "bridge": bridge.stats(),
    }
    Path(settings["result"]).write_text(json.dumps(result))
    master.shutdown()


def main() -> None:
    master = Master()
    bridge = Bridge(settings["port"], sinks=[Logs(master, down=["test.down", "test.restart"])])
    bridge.start()
    threading.Thread(target=drive, args=(master, bridge), daemon=True).start()
    try:
        master.run()
    finally:
        bridge.stop()


if __name__ == "__main__":
    main()
