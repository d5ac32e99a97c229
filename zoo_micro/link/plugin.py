# BridgePlugin: the serial transport of an uplink. A node's events, state, health and log lines go
# to the host over a stream; the host's allow-listed events come into the bus. Nothing that
# arrives is ever executed: frames become events on allowed topics, or are counted and dropped.
import asyncio

from zoo_micro import log, port
from zoo_micro.bus import EventNode
from zoo_micro.link.session import Session  # noqa: F401 - see below
from zoo_micro.link.uplink import HEALTH, LOG, STATE, Uplink

# The session (link/once.py makes it) loads with the plugin class, as the Master reads its config:
# a board that compiles from .py parses it while the heap is still empty, not at start beside the
# app's objects.


class BridgePlugin(Uplink):
    name = "bridge"
    version = "2.0.0"
    session = _roomy = None

    def initialize(self, master):
        port.once("zoo_micro.link.once", "bridge", self, master)

    def destroy(self):
        port.once("zoo_micro.link.once", "bridge_stop", self)

    # Node -> host

    def put(self, topic, content, channel="default", priority=0):
        if topic in (HEALTH, STATE, LOG):
            if port.ident() != self.loop:
                # Log lines and state changes may come from thread workers: they wait for the link task.
                self.post((topic, content), self.session.box)
                return
            key = "h" if topic == HEALTH else (content[0], content[1]) if topic == STATE else None
            try:
                # Kept as text: a health report's dicts are freed now, not held until side slots
                # are free; the outbox then keeps this same text, cut into pieces as frames go.
                content = self.session.text(content)
            except (ValueError, TypeError) as e:
                self.unsendable += 1
                log.error("bridge: %s not sent: %s" % (topic, e))
                return
            except MemoryError:
                self.errors += 1  # no heap to encode it: a newer one follows (the whole state, for a change)
                if topic == STATE:
                    self._synced = None
                return
            # Side traffic has slots of its own and never takes an app event's place: the newest
            # health report and the newest value of each state key win (so no more wait than the
            # store has keys); the newest 8 log lines.
            q = self._side
            logs = 0
            for e in q:
                if e[0] is None:
                    logs += 1
                elif e[0] == key:
                    e[2] = content
                    break
            else:
                if logs >= 8 and key is None:
                    for e in q:
                        if e[0] is None:
                            q.remove(e)
                            self.logs_dropped += 1
                            break
                q.append([key, topic, content])
            self._kick.set()
            return
        try:
            if self.session.send(topic, content, channel, priority):
                self._kick.set()
        except (ValueError, TypeError) as e:
            self.unsendable += 1
            log.error("bridge: %s not sent: %s" % (topic, e))
        except MemoryError:
            self.session.dropped += 1  # no heap to encode it: it never arrives, and is counted so

    def _log(self, level, msg):
        self.put(LOG, [level, msg[: self.session.frame_max >> 1]])

    def _state(self, scope, key, payload):
        self.put(STATE, [scope, key, payload])

    # Host -> node

    def _deliver(self, topic, content, channel, priority, seq):
        bus = self.master.bus
        if not self.allowed(topic):
            return True  # acknowledged and dropped: the host may not send this topic here
        if channel not in bus._index:
            # Only channels the node subscribes on: each new name would make a bus queue for good.
            self.refused += 1
            return True
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
            try:
                log.error("bridge: link task error %d: %r" % (self.errors, e))
            except MemoryError:
                pass  # no heap even for the line: counted all the same

    async def _reader(self):
        rx = self.rx
        buf, one, poll = self._rbufs
        last = 0
        avail = getattr(rx, "any", None)  # a UART says how many bytes wait
        while True:
            try:
                await port.wait_readable(rx)
                if avail:
                    n = rx.readinto(buf, min(avail(), 128)) or 0
                else:
                    n = 0
                    # One byte per read: a blocking stdin would otherwise wait for a full buffer.
                    while n < 128 and poll.poll(0) and rx.readinto(one):
                        c = buf[n] = one[0]
                        n += 1
                        if c == 3 and last == 13 and self.stdio:
                            # Frames hold no CR and no Ctrl-C: CR then Ctrl-C is a person or a tool
                            # (mpremote) taking the board over, never line noise (which would have to
                            # forge two bytes in a row). Stop as Ctrl-C would; what follows is the REPL's.
                            port.kbd_intr(3)
                            raise KeyboardInterrupt
                        last = c
                self.decoder.feed(buf, n)
            except Exception as e:
                self._error(e)
                await asyncio.sleep_ms(50)  # no allocation: the heap may be what failed
            self._kick.set()

    async def _ticker(self):
        # Timers (resends, acks, heartbeats) need a wake-up even when nothing arrives.
        s = self.session
        while True:
            busy = not s.up or s.frames or s.ack_at is not None or self._wait is not None
            await asyncio.sleep_ms(20 if busy else 200)
            self._kick.set()

    async def _writer(self):
        s = self.session
        bus = self.master.bus
        q = self._side
        flush = getattr(self.tx, "flush", None)
        while True:
            try:
                for topic, content in self.take():
                    self.put(topic, content)
                w = self._wait
                if w is not None and bus.room(w) > bus.queue_size >> 2:
                    self._wait = None
                    s.retry()
                # Mirror the whole state to a host that has not seen it, or after some was lost.
                mark = (s.peer, s.side_lost)
                if self.store and s.up and self._synced != mark:
                    keep = []
                    for e in q:
                        if type(e[0]) is not tuple:
                            keep.append(e)  # the state changes waiting go: the whole state follows
                    keep.append([0, "zoo.state.sync", None])
                    q[:] = keep
                    self._synced = mark  # a key put() finds no heap for unsets it: the mirror comes again
                    try:
                        self.store.each(self._state)  # queued as changes are
                    except MemoryError:
                        self._synced = None
                        self.errors += 1  # no heap for it now: the rest goes out first
                while q and s.up:  # offline, the newest of each keeps replacing the last
                    e = q[0]
                    try:
                        if not s.send(e[1], None, "default", 0, True, e[2]):
                            break  # its slots are taken: it waits, and a newer one may replace it
                    except ValueError:
                        self.unsendable += 1  # over send_max
                    except MemoryError:
                        # No heap for its topic's JSON now: it waits (a newer one may replace it),
                        # and the app events behind it still go out.
                        self.errors += 1
                        break
                    q.pop(0)
                for line in s.poll():
                    self.tx.write(line)
                if flush is not None:
                    flush()  # data frames were written too, straight from the frame buffer
                if self._roomy:
                    self._roomy.set()
            except Exception as e:
                self._error(e)
                await asyncio.sleep_ms(50)  # no allocation: the heap may be what failed
            if s.more:
                await asyncio.sleep_ms(0)  # the next frames once the other tasks had a turn
                continue
            self._kick.clear()
            try:
                await self._kick.wait()
            except MemoryError:  # no heap to wait with: a timer allocates nothing
                await asyncio.sleep_ms(20)

    def room(self):
        """How many events can be published now (on the default channel) without the bus or the
        outbox dropping one: events still on the bus count as on their way to the outbox. A
        large event takes one per 64 characters of its JSON (32 at most)."""
        s = self.session
        bus = self.master.bus
        return max(0, min(s.box - s.next + s.low + s.nside - bus.pending, bus.room()))

    async def wait_room(self, n=1):
        """Returns once room() >= n: an app that must not lose events awaits it before publishing."""
        while self.room() < n:
            if self._roomy is None:
                self._roomy = asyncio.Event()  # set as the outbox drains; made for the first waiter
            self._roomy.clear()
            await self._roomy.wait()

    def stats(self):
        s = self.session
        return {
            "state": "up" if s.up else "hello",
            "sent": s.sent,
            "resent": s.resent,
            "outbox": s.next - s.low,
            "dropped": s.dropped,
            "delivered": s.delivered,
            "lost": s.lost,
            "malformed": s.bad,
            "bad_frames": self.decoder.bad,
            "noise_lines": self.decoder.text_lines,
            "refused": self.refused,
            "unsendable": self.unsendable,
            "errors": self.errors,
            "logs_dropped": self.logs_dropped,
            "sessions": s.sessions,
            "rtt_ms": s.srtt,
        }
