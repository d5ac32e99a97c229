# What the MQTT plugin runs once per start and once per stop: its option checks, building the
# outbox and the link, starting the link's thread or task, and shutting them down. plugin.once()
# imports this module for the call and forgets it, so its bytecode leaves the heap while the node
# runs.
import asyncio
import sys

import zoo_micro
from zoo_micro import port
from zoo_micro.link.uplink import Uplink, rand24
from zoo_micro.mqtt import layout
from zoo_micro.mqtt.link import Link
from zoo_micro.mqtt.outbox import Outbox


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
    o = port.once("zoo_micro.link.once", "setup", self, context, self.OPTIONS, lambda o: check(self, o))
    self.base = layout.base(o["root"], self.node)
    self.cmd_prefix = self.base + "/" + layout.CMD + "/"
    self.stream = rand24()
    self.seq = 0
    self.bad = 0  # commands whose payload is not JSON
    self.down_dropped = 0  # commands the bus had no room for
    self.received = 0
    self.oversize = 0  # commands over payload_max, discarded unread
    self.channel_refused = 0  # commands for a channel `channels` does not allow
    self._room = asyncio.Event()
    self._want_room = False
    self.outbox = Outbox(o["outbox"], o["retained_max"])
    self.outbox.freed = self._freed
    info = {
        "board": sys.platform,
        "version": zoo_micro.__version__,
        "stream": self.stream,
        "runner": o["runner"],
    }
    self.link = Link(o, self.base, self.outbox, self._on_message, info)
    self._log_topic = (self.base + "/" + layout.LOG).encode()
    if self.store is not None:
        self._sync_state()
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
