# SVM health monitoring, fed by the runtime: per-worker health, node vitals, stuck detection.
from zoo_micro import log, port
from zoo_micro.port import const

# Thresholds (documented in docs/health.md); error rates in per mille. Constants, not globals.
_WARN_ERROR_RATE = const(100)  # recent error rate at which a worker is "warning"
_BAD_ERROR_RATE = const(500)  # ... and "unhealthy"
_BAD_FAILS = const(3)  # consecutive failures that make a worker "unhealthy"
_STALL_RUNS = const(3)  # a loop worker that has not finished a run in this many delay_times is stuck


class SVM:
    """Checks every worker each `interval` seconds and publishes the report on zoo.svm.health."""

    def __init__(self, master, interval):
        self.master = master
        self.interval = interval
        self.loop_lag_ms = 0

    async def run(self):
        period = int(self.interval * 1000)
        while True:
            t0 = port.ticks_ms()
            await port.pause_ms(period)
            # How late the loop woke us: a measure of how busy (or blocked) it is.
            self.loop_lag_ms = max(0, port.ticks_diff(port.ticks_ms(), t0) - period)
            self._tick()

    def _tick(self):
        # A plain call: the report lives in its frame, not in the loop's, so it is not kept alive.
        try:
            self.check()
            self.master.publish("zoo.svm.health", self.report())
        except Exception as e:
            try:
                log.error("svm: check failed: %r" % (e,))
            except MemoryError:
                pass  # a full heap: no room even to say so; the next check tries again

    def check(self):
        """Mark workers that stopped making progress as stuck."""
        now = port.ticks_ms()
        for w in self.master.workers:
            r = w._zoo
            started = r[8]  # the record's layout is in workers.py
            if r[0] == "running" and started is not None:
                limit = w.run_timeout or (_STALL_RUNS * w.delay_time if w.is_loop else 0)
                if limit > 0 and port.ticks_diff(now, started) > limit * 1000:
                    r[0] = "stuck"
                    log.error("worker %s: stuck, no run finished in time" % w.name)
                    self.master.publish("zoo.worker.stuck", {"worker": w.name, "run_timeout": w.run_timeout})

    def status(self, w):
        """A worker's health status alone; allocates nothing, so the watchdog can ask it on a full heap."""
        r = w._zoo  # the record, as workers.py lays it out
        state, fails, recent = r[0], r[4], r[10]
        if state == "failed" or state == "stuck":
            return state
        if recent >= _BAD_ERROR_RATE or fails >= _BAD_FAILS:
            return "unhealthy"
        if recent >= _WARN_ERROR_RATE or fails:
            return "warning"
        return "running"

    def worker_health(self, w):
        # The record, as workers.py lays it out.
        state, runs, errors, restarts, fails, time_us, last_us, max_us, _, _, recent, _ = w._zoo
        if state == "failed":
            score = 0
        elif state == "stuck":
            score = 10
        else:
            score = 100 - recent // 10 - 10 * min(fails, 5)
        return {
            "status": self.status(w),
            "state": state,
            "health_score": max(0, min(100, score)),
            "execute_count": runs,
            "error_count": errors,
            "error_rate": recent / 1000,
            "avg_execute_time": (time_us / runs / 1000000) if runs else 0,
            "max_execute_time": max_us / 1000000,
            "last_execute_time": last_us / 1000000,
            "restarts": restarts,
        }

    def report(self):
        m = self.master
        out = {}
        for p in m._plugins._loaded if m._plugins is not None else ():
            if hasattr(p, "stats"):  # plugins with counters of their own (a link's drops...)
                try:
                    out[p.name] = p.stats()
                except Exception as e:
                    out[p.name] = {"error": repr(e)}
        workers = {}
        for w in m.workers:
            workers[w.name] = self.worker_health(w)
        return {
            "node": {
                "name": m.name,
                "mem_free": port.mem_free(),
                "mem_alloc": port.mem_alloc(),
                "queue_depth": m.bus.pending,
                "dropped": m.bus.dropped_total(),
                "loop_lag_ms": self.loop_lag_ms,
                "uptime_ms": port.ticks_diff(port.ticks_ms(), m.started_ms)
                if m.started_ms is not None
                else 0,
            },
            "workers": workers,
            "plugins": out,
        }
