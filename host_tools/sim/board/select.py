# select for the virtual board: poll objects made on the main thread also wake for soft interrupts
# (Pin IRQs, Timers), which the unix port would only run once the poll times out. asyncio polls here.
import simlink
import uselect
import utime
from uselect import *  # noqa: F403


class _Poll:
    def __init__(self):
        self._p = uselect.poll()
        self._p.register(simlink.main_wake, uselect.POLLIN)
        # What ipoll() yields, reused: a board's ipoll allocates nothing (asyncio waits with it at
        # every turn), and on a full heap this must not fail where a board's would not.
        self._ready = []
        self._pairs = [[None, 0], [None, 0], [None, 0], [None, 0]]

    def register(self, obj, eventmask=uselect.POLLIN | uselect.POLLOUT):
        self._p.register(obj, eventmask)

    def modify(self, obj, eventmask):
        self._p.modify(obj, eventmask)

    def unregister(self, obj):
        self._p.unregister(obj)

    def poll(self, timeout=-1):
        out = []  # a new list, as a board's poll() makes
        for e in self._wait(timeout, 0):
            out.append((e[0], e[1]))
        return out

    def ipoll(self, timeout=-1, flags=0):
        return self._wait(timeout, flags)

    def _wait(self, timeout, flags):
        wake = simlink.main_wake
        deadline = utime.ticks_add(utime.ticks_ms(), timeout) if timeout > 0 else None
        ready = self._ready
        pairs = self._pairs
        while True:
            ready.clear()
            woken = False
            for entry in self._p.ipoll(timeout, flags):
                if entry[0] is wake:
                    woken = True
                else:
                    pair = pairs[len(ready)] if len(ready) < len(pairs) else [None, 0]
                    pair[0] = entry[0]
                    pair[1] = entry[1]
                    ready.append(pair)
            if not woken:
                return ready
            simlink.clear_main_wake()
            if flags & 1:
                self._p.modify(wake, uselect.POLLIN)  # one-shot polling disarmed it
            if ready or timeout == 0:
                return ready
            if deadline is not None:
                timeout = utime.ticks_diff(deadline, utime.ticks_ms())
                if timeout <= 0:
                    return ready
            # going round lets the pending soft interrupts run before polling again


def poll():
    return _Poll() if simlink.is_main() else uselect.poll()
