# What an uplink runs once per start: its options and their checks, its subscriptions, and for
# the serial bridge its stream and session. A transport calls one function through port.once(),
# which imports this module for the call and forgets it, so none of this bytecode stays on the
# heap while the node runs.
import asyncio
import select
import sys

import zoo_micro
from zoo_micro import clock, log, port
from zoo_micro.bus import matches
from zoo_micro.link.frame import Decoder, encode
from zoo_micro.link.uplink import HEALTH

COMMON = {
    "node": None,  # the node id the host sees (default: the Master's name)
    "up": [],  # topics forwarded; "a.*" one segment, "a.#" any depth
    "down": [],  # host topics allowed into the bus
    "outbox": 64,  # events waiting for the host; the oldest is dropped beyond this
    "log": True,  # forward zoo log lines
    "state": "auto",  # mirror the state store: "auto" when the app uses it, True, False
    "health": True,  # forward zoo.svm.health with the link's counters added
}

# The serial bridge's own options; kept here, not on the plugin's class, so a running node does not
# hold them.
BRIDGE = {
    "stream": "stdio",  # "stdio", "uart:ID:BAUD", or a stream object
    "board": None,  # default: sys.platform
    "frame_max": 512,  # bytes per frame line, both ways (the node's receive buffer)
    "send_max": 2048,  # bytes in the largest event the node sends (larger than a frame: in pieces)
    "heartbeat": 1.0,  # seconds between pings while idle
    "timeout": 3.5,  # seconds of silence before the node says hello again
    "journal": None,  # a file that keeps unacknowledged events across resets
    "journal_max": 16384,  # bytes before the journal is compacted
}


def setup(self, master, options, check):
    """The uplink's options (COMMON and the transport's own `options`, checked by check(opts)),
    subscriptions, log sink and state store; returns the options."""
    self.master = master
    given = master.config.get(self.name)
    if given is True or given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError("config %r must be a dict of options, got %r" % (self.name, given))
    o = self.opts = dict(COMMON)
    o.update(options)
    for k in given:
        # The Master checked its config in full as it read it (validate.py); this catches a key
        # put into master.config after that.
        if k not in o:
            raise ValueError('%s: unknown key "%s"' % (self.name, k))
    o.update(given)
    for k in ("up", "down"):
        if isinstance(o[k], str):
            o[k] = [o[k]]
    self.node = o["node"] or master.name
    self.down = o["down"]
    check(o)  # before anything is subscribed
    self.refused = 0  # downlink events on topics `down` does not allow
    self.unsendable = 0  # events that are not JSON or too large
    self._last = None
    self._inbox = []  # what other threads handed over, taken by the loop
    self._lock = port.allocate_lock()
    self.loop = port.ident()  # the loop's thread
    self._subs = [master.subscribe(t, self._up) for t in o["up"]]
    if o["health"] and not any(matches(t, HEALTH) for t in o["up"]):
        self._subs.append(master.subscribe(HEALTH, self._up))
    if o["log"]:
        log.sinks.append(self._log)
    self.store = None
    if o["state"] is True or (o["state"] == "auto" and "zoo_micro.state" in sys.modules):
        from zoo_micro.state import StateMachineManager

        self.store = StateMachineManager()
        self.store.listen(self._state)
    self.tasks = []
    return o


def stream(self, o):
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


def bridge(self, master):
    from zoo_micro.link.outbox import PIECE
    from zoo_micro.link.session import Session

    o = setup(self, master, BRIDGE, lambda o: stream(self, o))
    j = self.journal = None
    if o["journal"]:
        from zoo_micro.link.journal import Journal

        j = self.journal = Journal(o["journal"], o["journal_max"])
    s = Session(
        self._deliver,
        [self.node, o["board"] or sys.platform, zoo_micro.__version__],
        o["outbox"],
        o["frame_max"],
        o["send_max"],
        int(o["heartbeat"] * 1000),
        int(o["timeout"] * 1000),
        clock.set_ms,
        j,
        extra=o["send_max"] // PIECE + 2,  # the largest side item, in pieces
    )
    if j:
        j.load(s)
        j.open(s)
    # Data frames go to the stream straight from the frame buffer: no copy of each line on the
    # heap. Two a turn, so the other tasks get theirs while a backlog goes out.
    s.write = self.tx.write
    s.burst = 2
    self.decoder = Decoder(o["frame_max"], s.on_frame)
    poll = select.poll()
    poll.register(self.rx, select.POLLIN)
    # The reader's buffers, made here: no heap for them is a failed start, not a deaf link.
    self._rbufs = (bytearray(128), bytearray(1), poll)
    self.errors = 0  # exceptions the link tasks survived
    self.logs_dropped = 0
    self._side = []  # [key, topic, content]: health, state and log lines waiting for their slots
    self._wait = None  # the channel a refused downlink event waits for room in
    self._synced = None  # (host stream, dropped) when the state was last mirrored whole
    self._kick = asyncio.Event()
    self._quiet = log.quiet
    if self.stdio:
        log.quiet = o["log"]  # the lines reach the host as events; printing would send them twice
        port.kbd_intr(-1)  # Ctrl-C (0x03) must not interrupt a node whose stdin carries the link
    self.opts = None  # read: what the link needs from it, it and its session keep
    self.session = s  # last: destroy() after a failed start undoes only what setup() did
    self.tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer())]
    self.tasks.append(asyncio.create_task(self._ticker()))


def stop(self):
    """Undo what setup() did (an uplink's destroy()), also after a start that failed halfway."""
    for t in self.tasks:
        t.cancel()
    for h in self._subs:
        self.master.unsubscribe(h)
    self._subs = []
    if self._log in log.sinks:
        log.sinks.remove(self._log)
    if self.store is not None:
        self.store.unlisten(self._state)
        self.store = None


def bridge_stop(self):
    stop(self)
    s = self.session
    if s:
        try:
            self.tx.write(encode("b"))  # going away
        except OSError:
            pass
        log.quiet = self._quiet
        if self.stdio:
            port.kbd_intr(3)
        if self.journal:
            self.journal.close()
        self.session = None
