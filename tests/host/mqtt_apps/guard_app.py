# A node on the MicroPython unix port for tests of what the MQTT link refuses and withstands.
# usage: micropython guard_app.py NAME BROKER_PORT [MQTT_OPTIONS_JSON]
#   app.ping (on "default" or "fast")  -> app.pong {"content", "channel", "queues": bus queues}
#   app.burst {"n": N, "wait": bool}    -> N events app.evt {"i"}, each after wait_room() if "wait"
#   app.stop                            -> the node stops
# At start it sets the state keys "a/b#c+d%" and "plain".
import asyncio
import json
import sys

from zoo_micro import Master
from zoo_micro.mqtt.plugin import MqttPlugin
from zoo_micro.state import StateMachineManager

name = sys.argv[1]
options = {
    "host": "127.0.0.1",
    "port": int(sys.argv[2]),
    "up": ["app.*"],
    "down": ["app.ping", "app.burst", "app.stop"],
    "runner": "thread",
    "keepalive": 10,
    "backoff_min": 0.1,
    "backoff_max": 1,
    "log": False,
}
options.update(json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})
master = Master({"name": name, "svm_check_interval": 0.3, "state_path": None, "mqtt": options})
master.plugins.register(MqttPlugin)
StateMachineManager().set_state("app", "a/b#c+d%", 1)
StateMachineManager().set_state("app", "plain", 2)


def on_ping(ev):
    master.publish(
        "app.pong", {"content": ev.content, "channel": ev.channel, "queues": len(master.bus._queues)}
    )


async def burst(n, wait):
    mqtt = master.plugins.get("mqtt")
    for i in range(n):
        if wait:
            await mqtt.wait_room()
        master.publish("app.evt", {"i": i})
        await asyncio.sleep(0)
    print("node %s burst done" % name)


master.subscribe("app.ping", on_ping)
master.subscribe("app.ping", on_ping, "fast")
master.subscribe("app.burst", lambda ev: asyncio.create_task(burst(ev.content["n"], ev.content["wait"])))
master.subscribe("app.stop", lambda ev: master.shutdown())
print("node %s ready" % name)
master.run()
print("node %s stopped" % name)
