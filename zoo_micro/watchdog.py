# Hardware watchdog plugin: feeds machine.WDT only while the node is healthy, so a hung node reboots.
import asyncio

from zoo_micro import log, port
from zoo_micro.plugins import Plugin

# Worker health statuses that still count as healthy enough to feed the watchdog.
FEED_WHILE = ("running", "warning", "unhealthy")


class WatchdogPlugin(Plugin):
    """Config: "watchdog": true or {"timeout_ms": 8000, "feed_while": [...statuses]}.

    Once started, a hardware watchdog cannot be stopped: after the node stops, the board resets
    within timeout_ms unless something else feeds it. Off on ports without machine.WDT.
    """

    name = "watchdog"

    def initialize(self, context):
        cfg = context.config.get("watchdog")
        cfg = cfg if isinstance(cfg, dict) else {}
        self.master = context
        self.timeout_ms = int(cfg.get("timeout_ms", 8000))
        self.feed_while = cfg.get("feed_while", FEED_WHILE)
        self.feeds = 0
        self.wdt = None
        self._task = None
        try:
            from machine import WDT
        except ImportError:
            log.info("watchdog: this port has no machine.WDT; staying off")
            return
        self.wdt = WDT(timeout=self.timeout_ms)
        self._task = asyncio.create_task(self._feed_loop())

    def healthy(self):
        m = self.master
        if m._stopping:
            return True  # the node is stopping: feed until destroy() ends the loop
        if m.svm is None:
            m.get_health_report()  # health checks are off: this makes the monitor
        # Each worker's status only, which allocates nothing: a node short of heap whose workers
        # run is fed, and a whole report every feed would be garbage the heap must find room for.
        for w in m.workers:
            if m.svm.status(w) not in self.feed_while:
                return False
        return True

    async def _feed_loop(self):
        # Feed four times per timeout: a hang or one bad check leaves time to recover.
        while True:
            try:
                if self.healthy():
                    self.wdt.feed()
                    self.feeds += 1
            except MemoryError:
                pass  # not fed this time: a node that stays out of heap is reset, as it should be
            await port.pause_ms(self.timeout_ms >> 2)

    def destroy(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None
