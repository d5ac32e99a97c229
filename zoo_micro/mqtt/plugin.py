# MqttPlugin: a node on Wi-Fi speaks MQTT itself. Its events, state, health and log lines go to
# the broker (topics in layout.py); allow-listed commands come back into its bus. Blocking socket
# work runs on the link's own thread where the board has threads to spare, else in small steps
# on the loop (see docs/fleet.md for the trade-off).
import asyncio
import json
import sys

import zoo_micro
from zoo_micro import log, port
from zoo_micro.events import EventNode
from zoo_micro.link.uplink import HEALTH, Uplink, rand24
from zoo_micro.mqtt import layout
from zoo_micro.mqtt.link import Link
from zoo_micro.mqtt.outbox import Outbox


class MqttPlugin(Uplink):
    name = "mqtt"
    version = "1.0.0"
    # Besides the options every uplink has (node, up, down, outbox, log, state, health):
    OPTIONS = {
        "host": None,  # the broker's host name or address (required)
        "port": 0,  # 0: 1883, or 8883 with tls
        "user": None,
        "password": None,
        "tls": False,  # True (encrypt, no server check), or {"ca", "cert", "key": file paths, "verify": bool}
        "root": layout.ROOT,  # first topic level
        "client_id": None,  # default: "<root>-<node>"
        "clean": False,  # False: the broker keeps this node's session and queued commands across outages
        "retained_max": 32,  # state and health topics waiting to be sent
        "keepalive": 30,  # seconds; a ping goes out after half of it in silence
        "timeout": 5,  # seconds any single socket wait may take before the link counts as lost
        "backoff_min": 0.5,  # seconds before the first reconnect attempt, doubling up to backoff_max
        "backoff_max": 30,
        "runner": "auto",  # "thread", "loop", or "auto": thread where the board has threads to spare
        "poll_ms": 10,  # the link thread's longest nap when idle (the latency of a lone event)
        "linger": 1.0,  # seconds to flush the outbox at a clean stop
        "wifi": None,  # {"ssid", "password"}: join and rejoin the network too (boards with `network`)
    }

    link = None

    def check(self, o):
        if not o["host"]:
            raise ValueError("mqtt: set the broker's 'host' in the 'mqtt' config")
        if o["runner"] == "auto":
            # RP2 boards have one spare core, and a thread left on it breaks the REPL after a soft reset.
            o["runner"] = "thread" if port.HAS_THREAD and port.PLATFORM != "rp2" else "loop"
        if o["runner"] not in ("thread", "loop"):
            raise ValueError("mqtt: runner must be 'thread', 'loop' or 'auto', got %r" % (o["runner"],))
        self.node = layout.check_name("node", self.node)
        try:
            import umqtt.simple  # noqa: F401
        except ImportError:
            raise ValueError(
                "mqtt: umqtt.simple is missing; install it with: mpremote mip install umqtt.simple"
            ) from None

    def initialize(self, context):
        o = self.setup(context)
        self.base = layout.base(o["root"], self.node)
        self.cmd_prefix = self.base + "/" + layout.CMD + "/"
        self.stream = rand24()
        self.seq = 0
        self.bad = 0  # commands whose payload is not JSON
        self.down_dropped = 0  # commands the bus had no room for
        self.received = 0
        self.outbox = Outbox(o["outbox"], o["retained_max"])
        info = {
            "board": sys.platform,
            "version": zoo_micro.__version__,
            "stream": self.stream,
            "runner": o["runner"],
        }
        self.link = Link(o, self.base, self.outbox, self._on_message, info)
        self._log_topic = (self.base + "/" + layout.LOG).encode()
        if self.store is not None:
            self.sync_state(self._state)
        self._waker = None
        if o["runner"] == "thread":
            from zoo_micro.waker import Waker

            self._waker = Waker()
            self.tasks.append(asyncio.create_task(self._inbox_loop()))
            port.start_thread(self.link.run_thread, (o["poll_ms"], int(o["linger"] * 1000)))
        else:
            self.tasks.append(asyncio.create_task(self._step_loop()))
        self.tasks.append(asyncio.create_task(self._resync_loop()))

    def destroy(self):
        link = self.link
        if link is None:
            return
        Uplink.destroy(self)
        if self.opts["runner"] == "thread":
            link.stopping = True
            limit = int((self.opts["linger"] + self.opts["timeout"]) * 1000) + 100
            t0 = port.ticks_ms()
            while not link.exited and port.ticks_diff(port.ticks_ms(), t0) < limit:
                port.sleep_ms(5)
        else:
            link.close(int(self.opts["linger"] * 1000))
        if self._waker is not None:
            self._waker.close()
        self.link = None

    # Node -> broker

    def put(self, topic, content, channel="default", priority=0):
        if topic == HEALTH and isinstance(content, dict):
            self._put_retained(self.base + "/" + layout.HEALTH, content)  # carries plugins.mqtt
            return
        try:
            t = layout.event_topic(self.base, topic).encode()
            payload = layout.encode_event(self.stream, self.seq + 1, content, channel, priority)
        except (ValueError, TypeError) as e:
            self.unsendable += 1
            log.error("mqtt: %s not sent: %s" % (topic, e))
            return
        self.seq += 1
        self.outbox.put_event(t, payload)

    def _put_retained(self, topic, content):
        try:
            payload = b"" if content is None else json.dumps(content).encode()
        except (ValueError, TypeError):
            self.unsendable += 1
            return
        self.outbox.put_retained(topic.encode(), payload)

    def _state(self, scope, key, payload):
        self._put_retained(layout.state_topic(self.base, scope, key), payload)

    def _log(self, level, msg):
        if self.link is not None and self.link.connected:
            try:
                self.outbox.put_log(self._log_topic, json.dumps([level, msg[:200]]).encode())
            except (ValueError, TypeError):
                pass

    # Broker -> node

    def _on_message(self, topic, payload):
        # Called by umqtt on the link's thread (or on the loop with runner "loop").
        try:
            t = topic.decode()
        except UnicodeError:
            t = ""
        if not t.startswith(self.cmd_prefix):
            return
        t = t[len(self.cmd_prefix) :]
        if not t or not self.allowed(t):
            return
        try:
            content = json.loads(payload) if payload else None
        except ValueError:
            self.bad += 1
            return
        self.received += 1
        if port.ident() == self.loop:
            self._emit(t, content)
        else:
            if not self.post((t, content), self.master.config["queue_size"]):
                self.down_dropped += 1
            self._waker.set()

    def _emit(self, topic, content):
        ev = EventNode(topic, content)
        ev.remote = True
        if not self.master.emit(ev):
            self.down_dropped += 1

    async def _inbox_loop(self):
        while True:
            await self._waker.wait()
            for t, content in self.take():
                self._emit(t, content)

    async def _step_loop(self):
        link = self.link
        poll_s = self.opts["poll_ms"] / 1000
        while True:
            await asyncio.sleep(0 if link.step() else poll_s)

    async def _resync_loop(self):
        # Retained topics the outbox had to drop are sent again, whole, once there is room.
        while True:
            await asyncio.sleep(1)
            if self._store is not None and self.outbox.clear_resync():
                self._sync_state()

    def stats(self):
        ob = self.outbox
        st = self.link.stats() if self.link is not None else {}
        st["runner"] = self.opts["runner"]
        st["stream"] = self.stream
        st["seq"] = self.seq
        st["outbox"] = ob.events()
        st["outbox_max"] = ob.size
        st["dropped"] = ob.dropped
        st["retained_dropped"] = ob.retained_dropped
        st["logs_dropped"] = ob.logs_dropped
        st["sent"] = ob.sent
        st["refused"] = self.refused
        st["bad"] = self.bad
        st["received"] = self.received
        st["down_dropped"] = self.down_dropped
        st["unsendable"] = self.unsendable
        return st
