# SVM health monitoring, fed by the runtime: per-worker health, node vitals, stuck detection.
import asyncio

from zoo_micro import log, port, workers

HEALTH_TOPIC = "zoo.svm.health"
STUCK_TOPIC = "zoo.worker.stuck"

# Thresholds (documented in docs/health.md).
WARN_ERROR_RATE = 0.1  # recent error rate at which a worker is "warning"
BAD_ERROR_RATE = 0.5  # ... and "unhealthy"
BAD_FAILS = 3  # consecutive failures that make a worker "unhealthy"
STALL_RUNS = 3  # a loop worker that has not finished a run in this many delay_times is stuck
SMOOTHING = 0.5  # weight of the newest check in the recent error rate


class SVM:
    """Checks every worker each `interval` seconds and publishes the report on zoo.svm.health."""

    def __init__(self, master, interval):
        self.master = master
        self.interval = interval
        self._seen = {}  # worker name -> [runs, errors, recent error rate] at the last check
        self.loop_lag_ms = 0
        self._task = None

    def start(self):
        self._task = asyncio.create_task(self._loop())
        return self._task

    async def _loop(self):
        period = int(self.interval * 1000)
        while True:
            t0 = port.ticks_ms()
            await asyncio.sleep(self.interval)
            # How late the loop woke us: a measure of how busy (or blocked) it is.
            self.loop_lag_ms = max(0, port.ticks_diff(port.ticks_ms(), t0) - period)
            try:
                self.check()
                self.master.publish(HEALTH_TOPIC, self.report())
            except Exception as e:
                log.error("svm: check failed: %r" % (e,))

    def check(self):
        """Update recent error rates and mark workers that stopped making progress as stuck."""
        now = port.ticks_ms()
        for w in self.master.workers:
            seen = self._seen.get(w.name)
            if seen is None:
                seen = self._seen[w.name] = [0, 0, 0.0]
            runs = w.runs - seen[0]
            if runs:
                rate = (w.errors - seen[1]) / runs
                seen[2] = SMOOTHING * rate + (1 - SMOOTHING) * seen[2]
            seen[0] = w.runs
            seen[1] = w.errors
            if w.status != workers.STUCK and self._stalled(w, now):
                w.status = workers.STUCK
                log.error("worker %s: stuck, no run finished in time" % w.name)
                self.master.publish(STUCK_TOPIC, {"worker": w.name, "run_timeout": w.run_timeout})

    def _stalled(self, w, now):
        if w.status == workers.RUNNING and w.started is not None:
            limit = w.run_timeout or (STALL_RUNS * w.delay_time if w.is_loop else 0)
            return limit > 0 and port.ticks_diff(now, w.started) > limit * 1000
        return False

    def worker_health(self, w):
        seen = self._seen.get(w.name)
        recent = seen[2] if seen else (w.errors / w.runs if w.runs else 0.0)
        if w.status == workers.FAILED:
            status, score = "failed", 0
        elif w.status == workers.STUCK:
            status, score = "stuck", 10
        else:
            score = int(100 * (1 - recent)) - 10 * min(w.fails, 5)
            if recent >= BAD_ERROR_RATE or w.fails >= BAD_FAILS:
                status = "unhealthy"
            elif recent >= WARN_ERROR_RATE or w.fails:
                status = "warning"
            else:
                status = "running"
        runs = w.runs
        return {
            "status": status,
            "state": w.status,
            "health_score": max(0, min(100, score)),
            "execute_count": runs,
            "error_count": w.errors,
            "error_rate": round(recent, 3),
            "avg_execute_time": (w.time_us / runs / 1000000) if runs else 0,
            "max_execute_time": w.max_us / 1000000,
            "last_execute_time": w.last_us / 1000000,
            "restarts": w.restarts,
        }

    def report(self):
        m = self.master
        up = port.ticks_diff(port.ticks_ms(), m.started_ms) if m.started_ms is not None else 0
        return {
            "node": {
                "name": m.name,
                "mem_free": port.mem_free(),
                "mem_alloc": port.mem_alloc(),
                "queue_depth": m.bus.pending,
                "dropped": m.bus.dropped_total(),
                "loop_lag_ms": self.loop_lag_ms,
                "uptime_ms": up,
            },
            "workers": {w.name: self.worker_health(w) for w in m.workers},
            "plugins": self._plugin_stats(),
        }

    def _plugin_stats(self):
        # Plugins with counters of their own (a link's drops, retries...) show them here.
        out = {}
        plugins = self.master._plugins
        for p in plugins._loaded if plugins is not None else ():
            if hasattr(p, "stats"):
                try:
                    out[p.name] = p.stats()
                except Exception as e:
                    out[p.name] = {"error": repr(e)}
        return out
