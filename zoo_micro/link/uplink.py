# The work every uplink shares (serial bridge, MQTT): its options, forwarding the `up` topics and
# health once each, the state store and log lines, the downlink allow-list, and an inbox for what
# other threads hand to the loop. A transport subclasses Uplink, sets its name, adds
# put(topic, content, channel, priority), _state(scope, key, payload) and _log(level, msg), and
# starts with link/once.py's setup(), which reads the options (the common ones and the
# transport's own), subscribes and attaches, and stops with its stop().
import os

from zoo_micro import port
from zoo_micro.bus import matches
from zoo_micro.plugins import Plugin

HEALTH = "zoo.svm.health"
LOG = "zoo.log"
STATE = "zoo.state"


def rand24():
    try:
        b = os.urandom(3)
        return (b[0] << 16) | (b[1] << 8) | b[2]
    except (AttributeError, OSError, NotImplementedError):
        return (port.ticks_us() * 2654435761) & 0xFFFFFF


class Uplink(Plugin):
    tasks = _subs = ()  # until setup() makes them: destroy() also undoes a start that failed halfway
    store = None

    def destroy(self):
        port.once("zoo_micro.link.once", "stop", self)

    def _up(self, ev):
        # One event matching several `up` patterns goes once; what came down never goes back up.
        if ev is self._last or getattr(ev, "remote", False):
            return
        self._last = ev
        self.put(ev.topic, ev.content, ev.channel, ev.priority)

    def allowed(self, topic):
        for p in self.down:
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
