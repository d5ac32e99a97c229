# BridgePlugin: the serial transport of an uplink. A node's events, state, health and log lines go
# to the host over a stream; the host's allow-listed events come into the bus. Nothing that
# arrives is ever executed: frames become events on allowed topics, or are counted and dropped.
import asyncio
import select
import sys

import zoo_micro
from zoo_micro import clock, log, port
from zoo_micro.events import EventNode
from zoo_micro.link.frame import Decoder
from zoo_micro.link.session import Session
from zoo_micro.link.uplink import LOG, STATE, Uplink


class BridgePlugin(Uplink):
    name = "bridge"
    version = "2.0.0"
    OPTIONS = {
        "stream": "stdio",  # "stdio", "uart:ID:BAUD", or a stream object
        "board": None,  # default: sys.platform
        "frame_max": 512,  # bytes per frame line, both ways (the node's receive buffer)
        "send_max": 2048,  # bytes in the largest event the node sends (larger than a frame: in pieces)
        "heartbeat": 1.0,  # seconds between pings while idle
        "timeout": 3.5,  # seconds of silence before the node says hello again
        "journal": None,  # a file that keeps unacknowledged events across resets
        "journal_max": 16384,  # bytes before the journal is compacted
    }
    session = None

    def check(self, o):
        spec = o["stream"]
        self.stdio = spec == "stdio"
        if self.stdio:
            rx = getattr(sys.stdin, "buffer", sys.stdin)
            self.rx = getattr(rx, "raw", rx)  # unbuffered where there is a choice, so poll tells the truth
            self.tx = getattr(sys.stdout, "buffer", sys.stdout)
        elif hasattr(spec, "readinto"):
            self.rx = self.tx = spec
        else:
            p = str(spec).split(":")
            try:
                import machine

                self.rx = self.tx = machine.UART(int(p[1]), int(p[2]) if len(p) > 2 else 115200)
            except (ImportError, ValueError, IndexError):
                raise ValueError(
                    "bridge stream must be 'stdio', 'uart:ID:BAUD' or a stream object, got %r" % (spec,)
                ) from None

    def initialize(self, master):
        o = self.setup(master)
        j = self.journal = None
        if o["journal"]:
            from zoo_micro.link.journal import Journal

            j = self.journal = Journal(o["journal"], o["journal_max"])
        s = self.session = Session(
            self._deliver,
            [self.node, o["board"] or sys.platform, zoo_micro.__version__],
            o["outbox"],
            o["frame_max"],
            o["send_max"],
            int(o["heartbeat"] * 1000),
            int(o["timeout"] * 1000),
            clock.set_ms,
            j,
        )
        if j:
            j.load(s)
            j.open(s)
        self.decoder = Decoder(o["frame_max"], s.on_frame)
        self.errors = 0  # exceptions the link tasks survived
        self.logs_dropped = 0
        self._wait = None  # the channel a refused downlink event waits for room in
        self._synced = None  # (host stream, dropped) when the state was last mirrored whole
        self._kick = asyncio.Event()
        self._quiet = log.quiet
        if self.stdio:
            log.quiet = o["log"]  # the lines reach the host as events; printing would send them twice
            port.kbd_intr(-1)  # Ctrl-C (0x03) must not interrupt a node whose stdin carries the link
        self.tasks = [asyncio.create_task(f()) for f in (self._reader, self._writer, self._ticker)]

    def destroy(self):
        s = self.session
        if s:
            Uplink.destroy(self)
            try:
                self.tx.write(s.line("b"))  # going away
            except OSError:
                pass
            log.quiet = self._quiet
            if self.stdio:
                port.kbd_intr(3)
            if self.journal:
                self.journal.close()
            self.session = None

    # Node -> host

    def put(self, topic, content, channel="default", priority=0):
        try:
            self.session.tx.send(topic, content, channel, priority)  # health carries plugins.bridge
            self._kick.set()
        except (ValueError, TypeError) as e:
            self.unsendable += 1
            if topic != LOG:
                log.error("bridge: %s not sent: %s" % (topic, e))

    def _later(self, topic, content):
        # Log lines and state changes may come from thread workers: they wait for the link task.
        if port.ident() == self.loop:
            self.put(topic, content)
        else:
            self.post((topic, content), self.opts["outbox"])

    def _log(self, level, msg):
        tx = self.session.tx
        if tx.next - tx.low > (tx.cap * 3) >> 2:
            self.logs_dropped += 1  # log lines give way to events when the outbox fills
        else:
            self._later(LOG, [level, msg[: self.opts["frame_max"] >> 1]])

    def _state(self, scope, key, payload):
        self._later(STATE, [scope, key, payload])

    # Host -> node

    def _deliver(self, topic, content, channel, priority, seq):
        if not self.allowed(topic):
            return True  # acknowledged and dropped: the host may not send this topic here
        bus = self.master.bus
        if bus.room(channel) <= bus.queue_size >> 2:
            # A quarter of the channel stays free for what handlers publish in turn; the event
            # waits, unacknowledged, until the bus drains.
            self._wait = channel
            return False
        ev = EventNode(topic, content, channel, priority)
        ev.remote = True  # came from the host: never sent back up
        self.master.emit(ev)
        return True

    # The link tasks

    def _error(self, e):
        # The link outlives a bad moment (a full heap, a stream error): it counts, logs, carries on.
        self.errors += 1
        if self.errors < 10 or self.errors % 100 == 0:
            log.error("bridge: link task error %d: %r" % (self.errors, e))

    async def _reader(self):
        rx = self.rx
        buf = bytearray(128)
        one = bytearray(1)
        avail = getattr(rx, "any", None)  # a UART says how many bytes wait
        poll = select.poll()
        poll.register(rx, select.POLLIN)
        while True:
            try:
                await port.wait_readable(rx)
                if avail:
                    n = rx.readinto(buf, min(avail(), 128)) or 0
                else:
                    n = 0
                    # One byte per read: a blocking stdin would otherwise wait for a full buffer.
                    while n < 128 and poll.poll(0) and rx.readinto(one):
                        buf[n] = one[0]
                        n += 1
                self.decoder.feed(buf, n)
            except Exception as e:
                self._error(e)
                await asyncio.sleep(0.05)
            self._kick.set()

    async def _ticker(self):
        # Timers (resends, acks, heartbeats) need a wake-up even when nothing arrives.
        s = self.session
        while True:
            busy = not s.up or s.tx.frames or s.rx.ack_at is not None or self._wait is not None
            await asyncio.sleep(0.02 if busy else 0.2)
            self._kick.set()

    async def _writer(self):
        s = self.session
        bus = self.master.bus
        while True:
            try:
                for topic, content in self.take():
                    self.put(topic, content)
                w = self._wait
                if w is not None and bus.room(w) > bus.queue_size >> 2:
                    self._wait = None
                    s.rx.retry(s.clock())
                # Mirror the whole state to a host that has not seen it, or after the outbox lost some.
                mark = (s.rx.stream, s.tx.dropped)
                if self.store and s.up and self._synced != mark:
                    dump = self.store.dump()
                    n = s.tx.next - s.tx.low
                    for keys in dump.values():
                        n += len(keys)
                    if n < s.tx.cap:  # or the outbox would drop part of it
                        self._synced = mark
                        self.put("zoo.state.sync", None)
                        self.sync_state(self._state)
                out = s.poll()
                for line in out:
                    self.tx.write(line)
                if out and hasattr(self.tx, "flush"):
                    self.tx.flush()
            except Exception as e:
                self._error(e)
                await asyncio.sleep(0.05)
            self._kick.clear()
            await self._kick.wait()

    def room(self):
        """How many events can be queued for the host now without the outbox dropping any."""
        tx = self.session.tx
        return tx.cap - tx.next + tx.low - len(self._inbox)

    def stats(self):
        s = self.session
        tx, rx = s.tx, s.rx
        return {
            "state": "up" if s.up else "hello",
            "sent": tx.sent,
            "resent": tx.resent,
            "outbox": tx.next - tx.low,
            "dropped": tx.dropped,
            "delivered": rx.delivered,
            "lost": rx.lost,
            "malformed": s.bad + rx.bad,
            "bad_frames": self.decoder.bad,
            "noise_lines": self.decoder.text_lines,
            "refused": self.refused,
            "unsendable": self.unsendable,
            "errors": self.errors,
            "logs_dropped": self.logs_dropped,
            "sessions": s.sessions,
            "rtt_ms": tx.srtt,
        }
