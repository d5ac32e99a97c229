# MqttPlugin: a node on Wi-Fi speaks MQTT itself. Its events, state, health and log lines go to
# the broker (topics in layout.py); allow-listed commands come back into its bus. Blocking socket
# work runs on the link's own thread where the board has threads to spare, else in small steps
# on the loop (see docs/fleet.md for the trade-off).
import asyncio
import json

from zoo_micro import log, port
from zoo_micro.bus import EventNode
from zoo_micro.link.uplink import HEALTH, Uplink
from zoo_micro.mqtt import layout
from zoo_micro.mqtt.link import Link  # noqa: F401 - loaded with the plugin, used from start.py
from zoo_micro.mqtt.outbox import Outbox  # noqa: F401


def once(fn, *args):
    # What runs once per start or stop lives in start.py: loaded for the call, then forgotten.
    return port.once("zoo_micro.mqtt.start", fn, *args)


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
        "payload_max": 512,  # bytes: a longer command is discarded unread (as a serial frame's limit)
        "channels": ["default"],  # bus channels commands may use (cmd/<topic>/<channel>)
    }

    link = None

    def initialize(self, context):
        once("initialize", self, context)

    def destroy(self):
        if self.link is not None:
            once("destroy", self)
        else:
            Uplink.destroy(self)  # a start that failed before its link: undo what setup() did

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

    def _sync_state(self):
        # The whole store, each key to its retained topic (the serial bridge queues it its own way).
        self.store.each(self._state)

    def _log(self, level, msg):
        if self.link is not None and self.link.connected:
            try:
                self.outbox.put_log(self._log_topic, json.dumps([level, msg[:200]]).encode())
            except (ValueError, TypeError):
                pass

    # Broker -> node

    def _on_message(self, topic, payload):
        # Called by umqtt on the link's thread (or on the loop with runner "loop").
        if topic is None:  # over payload_max: discarded unread (client.py), acknowledged
            self.oversize += 1
            if self.oversize == 1:
                log.warn("mqtt: a %d-byte command was discarded (payload_max)" % payload)
            return
        try:
            t = topic.decode()
        except UnicodeError:
            t = ""
        if not t.startswith(self.cmd_prefix):
            return
        t = t[len(self.cmd_prefix) :]
        ch = "default"
        if "/" in t:
            t, ch = t.split("/", 1)
        if not t or not self.allowed(t):
            return
        if ch not in self.opts["channels"]:
            self.channel_refused += 1  # each new channel would be a bus queue kept for good
            return
        try:
            content = json.loads(payload) if payload else None
        except ValueError:
            self.bad += 1
            return
        self.received += 1
        if port.ident() == self.loop:
            self._emit(t, content, ch)
        else:
            if not self.post((t, content, ch), self.master.config["queue_size"]):
                self.down_dropped += 1
            self._waker.set()

    def _emit(self, topic, content, channel):
        ev = EventNode(topic, content, channel_name=channel)
        ev.remote = True
        if not self.master.emit(ev):
            self.down_dropped += 1

    async def _inbox_loop(self):
        while True:
            await self._waker.wait()
            self._room.set()  # a wake-up may be the outbox making room (see _freed)
            for t, content, ch in self.take():
                self._emit(t, content, ch)

    # Room for events

    def room(self):
        """Events that can be published now (on the default channel) without the bus or the
        outbox dropping one: events still on the bus count as on their way to the outbox."""
        bus = self.master.bus
        return max(0, min(self.outbox.size - self.outbox.events() - bus.pending, bus.room()))

    async def wait_room(self, n=1):
        """Returns once room() >= n (n at most the outbox's and the bus queue's size): an app that
        must not lose events awaits it before publishing."""
        ob = self.outbox
        n = min(n, ob.size, self.master.bus.queue_size)
        while True:
            self._want_room = True
            self._room.clear()
            if self.room() >= n:
                self._want_room = False
                return
            if ob.size - ob.events() >= n:
                await asyncio.sleep(0.001)  # the bus is what is full, and it drains by itself
            else:
                await self._room.wait()  # until the broker takes an event (see _freed)

    def _freed(self):
        # The outbox sent an event (on the link's thread, or on the loop with runner "loop").
        if self._want_room:
            self._want_room = False
            if port.ident() == self.loop:
                self._room.set()
            else:
                self._waker.set()

    async def _step_loop(self):
        link = self.link
        poll_s = self.opts["poll_ms"] / 1000
        while True:
            await asyncio.sleep(0 if link.step() else poll_s)

    async def _resync_loop(self):
        # Retained topics the outbox had to drop are sent again, whole, once there is room.
        while True:
            await asyncio.sleep(1)
            if self.store is not None and self.outbox.clear_resync():
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
        st["oversize"] = self.oversize
        st["channel_refused"] = self.channel_refused
        st["unsendable"] = self.unsendable
        return st
