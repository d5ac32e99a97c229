# The work every uplink shares (serial bridge, MQTT): its options, forwarding the `up` topics and
# health once each, the state store and log lines, the downlink allow-list, and an inbox for what
# other threads hand to the loop. A transport subclasses Uplink, sets OPTIONS and name, and adds
# check(opts), put(topic, content, channel, priority), _state(scope, key, payload), _log(level, msg).
import os
import sys

from zoo_micro import log, port
from zoo_micro.bus import matches
from zoo_micro.plugins import Plugin

HEALTH = "zoo.svm.health"
LOG = "zoo.log"
STATE = "zoo.state"

COMMON = {
    "node": None,  # the node id the host sees (default: the Master's name)
    "up": [],  # topics forwarded; "a.*" one segment, "a.#" any depth
    "down": [],  # host topics allowed into the bus
    "outbox": 64,  # events waiting for the host; the oldest is dropped beyond this
    "log": True,  # forward zoo log lines
    "state": "auto",  # mirror the state store: "auto" when the app uses it, True, False
    "health": True,  # forward zoo.svm.health with the link's counters added
}


def rand24():
    try:
        b = os.urandom(3)
        return (b[0] << 16) | (b[1] << 8) | b[2]
    except (AttributeError, OSError, NotImplementedError):
        return (port.ticks_us() * 2654435761) & 0xFFFFFF


class Uplink(Plugin):
    OPTIONS = {}  # the transport's own options and their defaults

    def setup(self, master):
        """Options, subscriptions, log sink and state store; returns the options."""
        self.master = master
        given = master.config.get(self.name)
        if given is True or given is None:
            given = {}
        if not isinstance(given, dict):
            raise ValueError("config %r must be a dict of options, got %r" % (self.name, given))
        o = self.opts = dict(COMMON)
        o.update(self.OPTIONS)
        for k in given:
            if k not in o:
                raise ValueError("%s: unknown option %r (known: %s)" % (self.name, k, ", ".join(sorted(o))))
        o.update(given)
        for k in ("up", "down"):
            if isinstance(o[k], str):
                o[k] = [o[k]]
        self.node = o["node"] or master.name
        self.check(o)  # the transport's own checks, before anything is subscribed
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

    def destroy(self):
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

    def check(self, o):
        pass

    def _up(self, ev):
        # One event matching several `up` patterns goes once; what came down never goes back up.
        if ev is self._last or getattr(ev, "remote", False):
            return
        self._last = ev
        self.put(ev.topic, ev.content, ev.channel, ev.priority)

    def sync_state(self, each):
        """Call each(scope, key, payload) for every key of the state store."""
        dump = self.store.dump()
        for scope in dump:
            for key in dump[scope]:
                each(scope, key, dump[scope][key])

    def allowed(self, topic):
        for p in self.opts["down"]:
            if matches(p, topic):
                return True
        self.refused += 1
        return False

    def post(self, item, limit):
        """Hand `item` to the loop from any thread; False when `limit` items already wait."""
        with self._lock:
            if len(self._inbox) >= limit:
                return False
            self._inbox.append(item)
            return True

    def take(self):
        """What other threads handed over since the last call (on the loop)."""
        if not self._inbox:
            return ()
        with self._lock:
            moved, self._inbox = self._inbox, []
        return moved
