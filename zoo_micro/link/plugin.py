# BridgePlugin: carries a node's events, state, health and log lines to the host over a serial
# stream, and delivers the host's allow-listed events into the node's bus. Nothing that arrives
# is ever executed: frames become events on allowed topics, or are counted and dropped.
import asyncio
import sys

import zoo_micro
from zoo_micro import clock, log, port
from zoo_micro.events import EventNode
from zoo_micro.link.frame import Decoder, TooLarge
from zoo_micro.link.session import CAPS, UP, Session
from zoo_micro.link.wire import Wire
from zoo_micro.plugins import Plugin
from zoo_micro.topics import matches

HEALTH = "zoo.svm.health"
LOG = "zoo.log"
STATE = "zoo.state"
STATE_SYNC = "zoo.state.sync"

OPTIONS = {
    "stream": "stdio",  # "stdio", "uart:ID:BAUD", or a stream object
    "node": None,  # the node id the host sees (default: the Master's name)
    "board": None,  # default: sys.platform
    "up": [],  # topics forwarded to the host; "a.*" one segment, "a.#" any depth
    "down": [],  # host topics allowed into the bus
    "outbox": 64,  # events waiting for the host; the oldest is dropped beyond this
    "frame_max": 512,  # bytes per frame line, both ways (the node's receive buffer); host events must fit
    "send_max": 2048,  # bytes in the largest event the node sends (larger than a frame: sent in pieces)
    "heartbeat": 1.0,  # seconds between pings while idle
    "timeout": 3.5,  # seconds of silence before the node says hello again
    "journal": None,  # a file that keeps unacknowledged events across resets
    "journal_max": 16384,  # bytes before the journal is compacted
    "log": True,  # forward zoo log lines (and stop printing them when the link is stdio)
    "state": "auto",  # mirror the state store: "auto" when the app uses it, True, False
    "health": True,  # forward zoo.svm.health with the link's counters added
}


def options(given):
    if given is True or given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError("config 'bridge' must be a dict of options, got %r" % (given,))
    for k in given:
        if k not in OPTIONS:
            raise ValueError("bridge: unknown option %r (known: %s)" % (k, ", ".join(sorted(OPTIONS))))
    opts = dict(OPTIONS)
    opts.update(given)
    for k in ("up", "down"):
        if isinstance(opts[k], str):
            opts[k] = [opts[k]]
    return opts


def open_stream(spec):
    """(rx, tx, is_stdio) for a stream option."""
    if spec == "stdio":
        rx = getattr(sys.stdin, "buffer", sys.stdin)
        rx = getattr(rx, "raw", rx)  # unbuffered where there is a choice, so poll tells the truth
        return rx, getattr(sys.stdout, "buffer", sys.stdout), True
    if isinstance(spec, str) and spec.startswith("uart:"):
        parts = spec.split(":")
        try:
            uid = int(parts[1])
            baud = int(parts[2]) if len(parts) > 2 else 115200
        except (ValueError, IndexError):
            raise ValueError("bridge stream %r: write uart:ID:BAUD, e.g. uart:1:115200" % spec) from None
        import machine

        u = machine.UART(uid, baud)
        return u, u, False
    if not isinstance(spec, str) and hasattr(spec, "readinto") and hasattr(spec, "write"):
        return spec, spec, False
    raise ValueError("bridge stream must be 'stdio', 'uart:ID:BAUD' or a stream object, got %r" % (spec,))


class BridgePlugin(Plugin):
    name = "bridge"
    version = "1.0.0"

    def initialize(self, context):
        m = self.master = context
        o = self.opts = options(m.config.get("bridge"))
        rx, tx, self.stdio = open_stream(o["stream"])
        self.node = o["node"] or m.name
        self.up = o["up"]
        self.down = o["down"]
        self.journal = None
        if o["journal"]:
            from zoo_micro.link.journal import Journal

            self.journal = Journal(o["journal"], o["journal_max"])
        s = self.session = Session(
            "device",
            self._deliver,
            info=[self.node, o["board"] or sys.platform, zoo_micro.__version__, CAPS],
            outbox=o["outbox"],
            frame_max=o["frame_max"],
            event_max=o["send_max"],
            heartbeat_ms=int(o["heartbeat"] * 1000),
            dead_ms=int(o["timeout"] * 1000),
            on_time=clock.set_ms,
            on_state=self._on_state,
            journal=self.journal,
        )
        if self.journal is not None:
            self.journal.load_into(s)
            self.journal.open(s)
        self.wire = Wire(rx, tx)
        self.decoder = Decoder(o["frame_max"], on_frame=s.on_frame)
        self.refused = 0  # downlink events on topics not allowed
        self.unsendable = 0  # events that are not JSON or too large for a frame
        self.errors = 0  # exceptions the link tasks survived
        self.logs_dropped = 0
        self._held = False
        self._last = None
        self._foreign = []  # (topic, content) from other threads, moved in by the link task
        self._lock = port.allocate_lock()
        self._loop_ident = port.ident()
        self._kick = asyncio.Event()
        self._synced = None  # the host stream the state was last mirrored to
        self._handlers = []
        for t in self.up:
            self._handlers.append(m.subscribe(t, self._up))
        if o["health"] and not any(matches(t, HEALTH) for t in self.up):
            self._handlers.append(m.subscribe(HEALTH, self._up))
        self._quiet = log.quiet
        if o["log"]:
            log.sinks.append(self._log)
            if self.stdio:
                log.quiet = True  # the lines reach the host as events; printing would send them twice
        self._store = None
        if o["state"] is True or (o["state"] == "auto" and "zoo_micro.state" in sys.modules):
            from zoo_micro.state import StateMachineManager

            self._store = StateMachineManager()
            self._store.listen(self._state)
        if self.stdio:
            port.kbd_intr(-1)  # Ctrl-C (0x03) must not interrupt a node whose stdin carries the link
        self._tasks = [asyncio.create_task(self._rx_loop()), asyncio.create_task(self._tx_loop())]
        self._tasks.append(asyncio.create_task(self._ticker()))

    def destroy(self):
        if self.session is None:
            return
        for t in self._tasks:
            t.cancel()
        try:
            self.wire.write(self.session.bye())
        except OSError:
            pass
        for h in self._handlers:
            self.master.unsubscribe(h)
        if self._log in log.sinks:
            log.sinks.remove(self._log)
        log.quiet = self._quiet
        if self._store is not None:
            self._store.unlisten(self._state)
        if self.stdio:
            port.kbd_intr(3)
        if self.journal is not None:
            self.journal.close()
        self.wire.close()
        self.session = None

    # Node -> host

    def _up(self, ev):
        # One event may match several `up` patterns; it is sent once.
        if ev is self._last or getattr(ev, "remote", False):
            return
        self._last = ev
        self._send(ev.topic, ev.content, ev.channel, ev.priority)  # health carries plugins.bridge

    def _send(self, topic, content, channel="default", priority=0):
        try:
            self.session.send(topic, content, channel, priority)
        except (TooLarge, ValueError, TypeError) as e:
            self.unsendable += 1
            if topic != LOG:
                log.error("bridge: %s not sent: %s" % (topic, e))
            return
        self._kick.set()

    def _from_anywhere(self, topic, content):
        # Log lines and state changes may come from thread workers: they wait for the link task.
        if port.ident() == self._loop_ident:
            self._send(topic, content)
        else:
            with self._lock:
                if len(self._foreign) < self.opts["outbox"]:
                    self._foreign.append((topic, content))

    def _log(self, level, msg):
        s = self.session
        if s is None:
            return
        if len(s.events) > (s.outbox_max * 3) >> 2:
            self.logs_dropped += 1  # log lines give way to events when the outbox fills
            return
        self._from_anywhere(LOG, [level, msg[: self.opts["frame_max"] >> 1]])

    def _state(self, scope, key, payload):
        if self.session is not None:
            self._from_anywhere(STATE, [scope, key, payload])

    def _sync_state(self):
        # A host that has not seen this node's state gets all of it: a reset marker, then each key.
        dump = self._store.dump()
        keys = 0
        for scope in dump:
            keys += len(dump[scope])
        if keys + len(self.session.events) >= self.opts["outbox"]:
            return False  # not now: the outbox would drop part of it
        self._send(STATE_SYNC, None)
        for scope in dump:
            for key in dump[scope]:
                self._send(STATE, [scope, key, dump[scope][key]])
        return True

    # Host -> node

    def _deliver(self, topic, content, channel, priority, seq):
        allowed = False
        for t in self.down:
            if matches(t, topic):
                allowed = True
                break
        if not allowed:
            self.refused += 1
            return True  # acknowledged and dropped: the host may not send this topic here
        m = self.master
        if m.bus.room(channel) <= m.bus.queue_size >> 2:
            # A quarter of the channel stays free for what handlers publish in turn; the event
            # waits, unacknowledged, until the bus drains.
            self._held = True
            return False
        ev = EventNode(topic, content, channel, priority)
        ev.remote = True  # came from the host: never sent back up
        m.emit(ev)
        return True

    def _on_state(self, up):
        if up:
            self._kick.set()

    # The link tasks

    async def _rx_loop(self):
        wire = self.wire
        feed = self.decoder.feed
        while True:
            try:
                n = await wire.read()
                feed(wire.buf, n)
            except Exception as e:
                self._failed(e)
                await asyncio.sleep(0.05)
            self._kick.set()

    def _failed(self, e):
        # The link outlives a bad moment (a full heap, a stream error): it counts, logs, carries on.
        self.errors += 1
        if self.errors < 10 or self.errors % 100 == 0:
            log.error("bridge: link task error %d: %r" % (self.errors, e))

    async def _ticker(self):
        # Timers (retransmissions, acks, heartbeats) need a wake-up even when nothing arrives.
        while True:
            s = self.session
            busy = s.state != UP or s.frames or s.ack_at is not None or self._held or self._foreign
            self.wire.fast = bool(s.frames)
            await asyncio.sleep(0.02 if busy else 0.2)
            self._kick.set()

    async def _tx_loop(self):
        s = self.session
        kick = self._kick
        write = self.wire.write
        while True:
            if self._foreign:
                with self._lock:
                    moved, self._foreign = self._foreign, []
                for topic, content in moved:
                    self._send(topic, content)
            if self._held:
                self._held = False
                s.retry_delivery()
            # Mirror the whole state to a host that has not seen it, or after the outbox lost some.
            mark = (s.peer_stream, s.n_dropped)
            if self._store is not None and s.state == UP and self._synced != mark and self._sync_state():
                self._synced = mark
            try:
                for line in s.poll():
                    write(line)
            except Exception as e:
                self._failed(e)
                await asyncio.sleep(0.05)
            kick.clear()
            await kick.wait()

    def room(self):
        """How many events can be queued for the host now without the outbox dropping any."""
        s = self.session
        return s.outbox_max - len(s.events) - len(self._foreign)

    def stats(self):
        s = self.session
        st = s.stats() if s is not None else {}
        d = self.decoder
        st["bad_frames"] = d.bad_crc + d.malformed + d.oversized
        st["noise_lines"] = d.text_lines
        st["refused"] = self.refused
        st["unsendable"] = self.unsendable
        st["errors"] = self.errors
        st["logs_dropped"] = self.logs_dropped
        st["bytes_in"] = self.wire.bytes_in
        st["bytes_out"] = self.wire.bytes_out
        return st
