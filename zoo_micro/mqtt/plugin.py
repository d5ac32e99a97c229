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
from zoo_micro.mqtt import layout
from zoo_micro.mqtt.link import Link
from zoo_micro.mqtt.outbox import Outbox
from zoo_micro.plugins import Plugin
from zoo_micro.topics import matches

HEALTH = "zoo.svm.health"

OPTIONS = {
    "host": None,  # the broker's host name or address (required)
    "port": 0,  # 0: 1883, or 8883 with tls
    "user": None,
    "password": None,
    "tls": False,  # True (encrypt, no server check), or {"ca", "cert", "key": file paths, "verify": bool}
    "node": None,  # the node id in topics (default: the Master's name)
    "root": layout.ROOT,  # first topic level
    "client_id": None,  # default: "<root>-<node>"
    "clean": False,  # False: the broker keeps this node's session and queued commands across outages
    "up": [],  # bus topics published as events; "a.*" one segment, "a.#" any depth
    "down": [],  # command topics allowed into the bus
    "outbox": 64,  # events waiting for their PUBACK; the oldest is dropped beyond this
    "retained_max": 32,  # state and health topics waiting to be sent
    "keepalive": 30,  # seconds; a ping goes out after half of it in silence
    "timeout": 5,  # seconds any single socket wait may take before the link counts as lost
    "backoff_min": 0.5,  # seconds before the first reconnect attempt, doubling up to backoff_max
    "backoff_max": 30,
    "runner": "auto",  # "thread", "loop", or "auto": thread where the board has threads to spare
    "poll_ms": 10,  # the link thread's longest nap when idle (the latency of a lone event)
    "linger": 1.0,  # seconds to flush the outbox at a clean stop
    "wifi": None,  # {"ssid", "password"}: join and rejoin the network too (boards with `network`)
    "log": True,  # publish zoo log lines (QoS 0, newest few only while offline)
    "state": "auto",  # retain the state store: "auto" when the app uses it, True, False
    "health": True,  # retain zoo.svm.health with the link's counters added
}


def options(given):
    if given is True or given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError("config 'mqtt' must be a dict of options, got %r" % (given,))
    for k in given:
        if k not in OPTIONS:
            raise ValueError("mqtt: unknown option %r (known: %s)" % (k, ", ".join(sorted(OPTIONS))))
    o = dict(OPTIONS)
    o.update(given)
    if not o["host"]:
        raise ValueError("mqtt: set the broker's 'host' in the 'mqtt' config")
    for k in ("up", "down"):
        if isinstance(o[k], str):
            o[k] = [o[k]]
    if o["runner"] == "auto":
        # RP2 boards have one spare core, and a thread left on it breaks the REPL after a soft reset.
        o["runner"] = "thread" if port.HAS_THREAD and port.PLATFORM != "rp2" else "loop"
    if o["runner"] not in ("thread", "loop"):
        raise ValueError("mqtt: runner must be 'thread', 'loop' or 'auto', got %r" % (o["runner"],))
    return o


class MqttPlugin(Plugin):
    name = "mqtt"
    version = "1.0.0"

    link = None

    def initialize(self, context):
        m = self.master = context
        o = self.opts = options(m.config.get("mqtt"))
        try:
            import umqtt.simple  # noqa: F401
        except ImportError:
            raise ValueError(
                "mqtt: umqtt.simple is missing; install it with: mpremote mip install umqtt.simple"
            ) from None
        self.node = layout.check_name("node", o["node"] or m.name)
        self.base = layout.base(o["root"], self.node)
        self.cmd_prefix = self.base + "/" + layout.CMD + "/"
        self.stream = layout.rand24()
        self.seq = 0
        self.refused = 0  # commands on topics `down` does not allow
        self.bad = 0  # commands whose payload is not JSON
        self.down_dropped = 0  # commands the bus had no room for
        self.received = 0
        self.unsendable = 0
        self.outbox = Outbox(o["outbox"], o["retained_max"])
        info = {
            "board": sys.platform,
            "version": zoo_micro.__version__,
            "stream": self.stream,
            "runner": o["runner"],
        }
        self.link = Link(o, self.base, self.outbox, self._on_message, info)
        self._loop_ident = port.ident()
        self._inbox = []
        self._lock = port.allocate_lock()
        self._handlers = []
        self._last = None
        for t in o["up"]:
            self._handlers.append(m.subscribe(t, self._up))
        if o["health"] and not any(matches(t, HEALTH) for t in o["up"]):
            self._handlers.append(m.subscribe(HEALTH, self._up))
        self._log_topic = (self.base + "/" + layout.LOG).encode()
        if o["log"]:
            log.sinks.append(self._log)
        self._store = None
        if o["state"] is True or (o["state"] == "auto" and "zoo_micro.state" in sys.modules):
            from zoo_micro.state import StateMachineManager

            self._store = StateMachineManager()
            self._store.listen(self._state)
            self._sync_state()
        self._waker = None
        self._tasks = []
        if o["runner"] == "thread":
            self._waker = port.Waker()
            self._tasks.append(asyncio.create_task(self._inbox_loop()))
            port.start_thread(self.link.run_thread, (o["poll_ms"], int(o["linger"] * 1000)))
        else:
            self._tasks.append(asyncio.create_task(self._step_loop()))
        self._tasks.append(asyncio.create_task(self._resync_loop()))

    def destroy(self):
        link = self.link
        if link is None:
            return
        for t in self._tasks:
            t.cancel()
        if self.opts["runner"] == "thread":
            link.stopping = True
            limit = int((self.opts["linger"] + self.opts["timeout"]) * 1000) + 100
            t0 = port.ticks_ms()
            while not link.exited and port.ticks_diff(port.ticks_ms(), t0) < limit:
                port.sleep_ms(5)
        else:
            link.close(int(self.opts["linger"] * 1000))
        for h in self._handlers:
            self.master.unsubscribe(h)
        if self._log in log.sinks:
            log.sinks.remove(self._log)
        if self._store is not None:
            self._store.unlisten(self._state)
        if self._waker is not None:
            self._waker.close()
        self.link = None

    # Node -> broker

    def _up(self, ev):
        if ev is self._last or getattr(ev, "remote", False):
            return  # one event matching several `up` patterns goes once; commands never go back up
        self._last = ev
        if ev.topic == HEALTH and isinstance(ev.content, dict):
            self._put_retained(self.base + "/" + layout.HEALTH, ev.content)  # carries plugins.mqtt
            return
        try:
            topic = layout.event_topic(self.base, ev.topic).encode()
            payload = layout.encode_event(self.stream, self.seq + 1, ev.content, ev.channel, ev.priority)
        except (ValueError, TypeError) as e:
            self.unsendable += 1
            log.error("mqtt: %s not sent: %s" % (ev.topic, e))
            return
        self.seq += 1
        self.outbox.put_event(topic, payload)

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
        dump = self._store.dump()
        for scope in dump:
            for key in dump[scope]:
                self._state(scope, key, dump[scope][key])

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
        allowed = False
        for p in self.opts["down"]:
            if matches(p, t):
                allowed = True
                break
        if not allowed or not t:
            self.refused += 1
            return
        try:
            content = json.loads(payload) if payload else None
        except ValueError:
            self.bad += 1
            return
        self.received += 1
        if port.ident() == self._loop_ident:
            self._emit(t, content)
        else:
            with self._lock:
                if len(self._inbox) < self.master.config["queue_size"]:
                    self._inbox.append((t, content))
                else:
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
            with self._lock:
                moved, self._inbox = self._inbox, []
            for t, content in moved:
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
