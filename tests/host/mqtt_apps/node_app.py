# A virtual fleet node on the MicroPython unix port: a worker publishes COUNT events on fleet.tick,
# RATE per second, through the MQTT plugin; a fleet.stop command from the host ends it cleanly.
# usage: micropython node_app.py NAME BROKER_PORT COUNT RATE [RUNNER [OUTBOX [MQTT_OPTIONS_JSON]]]
import json
import sys
import time

from zoo_micro import BaseWorker, Master
from zoo_micro.mqtt.plugin import MqttPlugin
from zoo_micro.state import StateMachineManager

name = sys.argv[1]
broker_port = int(sys.argv[2])
count = int(sys.argv[3])
rate = float(sys.argv[4])
runner = sys.argv[5] if len(sys.argv) > 5 else "auto"
outbox = int(sys.argv[6]) if len(sys.argv) > 6 else 256
extra = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}


def wall_us():
    return time.time_ns() // 1000


class Ticker(BaseWorker):
    is_loop = True
    delay_time = 1 / rate
    sent = 0

    def _execute(self):
        if self.sent < count:
            self.sent += 1
            master.publish("fleet.tick", {"i": self.sent, "us": wall_us()})
            if self.sent % 10 == 0 or self.sent == count:
                StateMachineManager().set_state("app", "ticks", self.sent)
            if self.sent == count:
                print("node %s produced %d" % (name, count))


options = {
    "host": "127.0.0.1",
    "port": broker_port,
    "up": ["fleet.*"],
    "down": ["fleet.stop", "fleet.ping"],
    "runner": runner,
    "outbox": outbox,
    "keepalive": 10,
    "backoff_min": 0.1,
    "backoff_max": 1,
    "log": False,
}
options.update(extra)
master = Master({"name": name, "svm_check_interval": 0.5, "state_path": None, "mqtt": options})
master.plugins.register(MqttPlugin)
master.register_worker("ticker", Ticker)
StateMachineManager().set_state("app", "role", "fleet-test")


def on_stop(ev):
    master.shutdown()


def on_ping(ev):
    master.publish("fleet.pong", ev.content)


master.subscribe("fleet.stop", on_stop)
master.subscribe("fleet.ping", on_ping)
print("node %s ready" % name)
master.run()
print("node %s stopped" % name)
