# The Master (keeper): owns the workers, the event bus and their supervision.
import asyncio
import sys

from zoo_micro import events, log, port, workers
from zoo_micro.bus import Bus
from zoo_micro.config import CONFIG_PLUGINS, load_config
from zoo_micro.events import EventNode

WORKER_FAILED = "zoo.worker.failed"

_current = None


def current():
    """The most recently created Master (a node has one)."""
    return _current


class Master:
    """Runs workers and delivers events between them; one per node."""

    def __init__(self, config=None):
        global _current
        self.config = c = load_config(config)
        self.name = c["name"]
        self.bus = Bus(c["queue_size"], c["retry_delay"], c["retry_backoff_max"], c["max_pending_retries"])
        self.publish = self.bus.publish  # the hot path, one call shorter
        self.workers = []
        self._tasks = []
        self._threads = []  # thread workers whose _thread has not exited yet
        self._threads_lock = port.allocate_lock()
        self._stopping = False
        self._running = False
        self._stopped = None
        self.svm = None
        self.started_ms = None
        self._plugins = None
        for key in CONFIG_PLUGINS:
            if c.get(key):
                where, name = CONFIG_PLUGINS[key]
                self.plugins.register(getattr(__import__(where, None, None, [name]), name))
        for h in events.default_handlers:
            self.bus.subscribe(h)
        for name, cls, count, props in workers.default_registry:
            self.register_worker(name, cls, count, props)
        _current = self

    @property
    def plugins(self):
        """The PluginManager; created (and its module imported) on first use."""
        if self._plugins is None:
            from zoo_micro.plugins import PluginManager

            self._plugins = PluginManager(self)
        return self._plugins

    # Workers

    def register_worker(self, name, worker, count=1, props=None):
        """Add `count` workers from a BaseWorker subclass (or one ready instance)."""
        if isinstance(worker, workers.BaseWorker):
            if count != 1:
                raise ValueError("worker %s: count must be 1 when registering an instance" % name)
            if name:
                worker.name = name
            made = [worker]
        elif isinstance(worker, type) and issubclass(worker, workers.BaseWorker):
            made = []
            for i in range(count):
                p = dict(props or {})
                p["name"] = name if count == 1 else "%s:%d" % (name, i)
                made.append(worker(p))
        else:
            raise TypeError("worker %s: expected a BaseWorker subclass or instance, got %r" % (name, worker))
        for w in made:
            if self.get_worker(w.name) is not None:
                raise ValueError("a worker named %s is already registered" % w.name)
        threads = [w for w in self.workers + made if w.mode == "thread"]
        if threads and not port.HAS_THREAD:
            for w in made:
                if w.mode == "thread":
                    log.warn("worker %s: this port has no _thread; running it on asyncio" % w.name)
                    w.mode = "async"
        elif len(threads) > self.config["max_threads"]:
            raise ValueError(
                "%d thread workers registered but this board allows %d; make some mode 'async'"
                % (len(threads), self.config["max_threads"])
            )
        self.workers.extend(made)
        if self._running:
            for w in made:
                self._launch(w)
        return made[0] if len(made) == 1 else made

    def get_worker(self, name):
        for w in self.workers:
            if w.name == name:
                return w
        return None

    def _launch(self, w):
        if w.mode == "thread":
            task = self.bus.arm_threads()
            if task is not None:
                self._tasks.append(task)
            with self._threads_lock:
                self._threads.append(w)
            port.start_thread(workers.run_thread, (self, w))
        else:
            self._tasks.append(asyncio.create_task(workers.run_async(self, w)))

    def _thread_exited(self, w):
        with self._threads_lock:
            if w in self._threads:
                self._threads.remove(w)

    def _worker_failed(self, w):
        log.error("worker %s failed after %d restarts" % (w.name, w.restarts))
        self.publish(WORKER_FAILED, {"worker": w.name, "restarts": w.restarts, "errors": w.errors})

    # Events

    def subscribe(self, topic, fn, channel="default", **options):
        """Subscribe fn (plain or async) to topic; options as for @event. Returns the handler."""
        return self.bus.subscribe(events.Handler(fn, topic, channel, **options))

    def unsubscribe(self, handler):
        self.bus.unsubscribe(handler)

    def publish(self, topic, content=None, channel="default", priority=0):
        """Queue an event from anywhere: a task, plain code or a thread. False if dropped."""
        return self.bus.put(EventNode(topic, content, channel, priority))  # see __init__

    def emit(self, node):
        """Queue a prepared EventNode (to choose its response mechanism)."""
        return self.bus.put(node)

    def publish_isr(self, topic, content=None, channel="default", priority=0):
        """Publish from a soft interrupt handler (Pin.irq, Timer callbacks)."""
        return self.bus.put_isr(EventNode(topic, content, channel, priority))

    def stats(self):
        b = self.bus
        return {
            "published": b.published,
            "delivered": b.delivered,
            "dropped": b.dropped_total(),
            "no_subscriber": b.no_subscriber,
            "retries": b.retries,
            "dead_lettered": b.dead_lettered,
            "handler_errors": b.handler_errors,
            "queued": b.pending,
            "workers": {
                w.name: {"status": w.status, "runs": w.runs, "errors": w.errors, "restarts": w.restarts}
                for w in self.workers
            },
        }

    # Running

    async def start(self):
        """Start the dispatcher and every worker; returns once the node is running."""
        if self._running:
            return
        self._stopping = False
        self._stopped = asyncio.Event()
        self.started_ms = port.ticks_ms()
        self._tasks = [asyncio.create_task(self.bus.run())]
        if self.config["svm_check_interval"]:
            from zoo_micro.svm import SVM

            self.svm = SVM(self, self.config["svm_check_interval"])
            self._tasks.append(self.svm.start())
        if self.config["threads"] is True:
            self._tasks.append(self.bus.arm_threads())
        store = self._state_store()
        if store is not None:
            store.attach(self.config)
        self._running = True
        if self._plugins is not None:
            try:
                await self._plugins.load_all(self)
            except Exception:
                await self.stop()
                raise
        for w in self.workers:
            self._launch(w)
        await asyncio.sleep(0)  # let the dispatcher and workers take their first step

    def _state_store(self):
        # Only a node that uses the state store pays for it (the module is not imported otherwise).
        st = sys.modules.get("zoo_micro.state")
        return st.StateMachineManager() if st is not None else None

    def get_health_report(self):
        """{"node": {...}, "workers": {name: {...}}}; see docs/health.md for the fields."""
        if self.svm is None:
            from zoo_micro.svm import SVM

            self.svm = SVM(self, self.config["svm_check_interval"])
        return self.svm.report()

    async def stop(self):
        """Stop every worker, thread workers included; returns once they have stopped."""
        if not self._running:
            return
        self._running = False
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
            except Exception as e:
                log.error("task ended with %r" % (e,))
        await self._join_threads()
        self._finish()
        for w in self.workers:
            r = self._destroy(w)
            if port.is_coro(r):
                await r

    def _destroy(self, w):
        try:
            return w._destroy()
        except Exception as e:
            log.error("worker %s: _destroy raised %r" % (w.name, e))

    def _finish(self):
        for w in self._threads:
            log.error("worker %s: thread still running at stop; threads cannot be killed" % w.name)
        if self._plugins is not None:
            self._plugins.unload_all()
        store = self._state_store()
        if store is not None:
            store.stop()
        self.bus.stop()
        self._stopped.set()

    async def _join_threads(self):
        limit = int(self.config["thread_join_timeout"] * 1000)
        t0 = port.ticks_ms()
        while self._threads and port.ticks_diff(port.ticks_ms(), t0) < limit:
            await asyncio.sleep(0.005)

    def shutdown(self):
        """Ask a running node to stop; run() returns once everything has stopped."""
        self._stopping = True
        if self._wake_run is not None:
            self._wake_run.set()

    _wake_run = None

    async def _run(self, duration):
        self._wake_run = asyncio.Event()
        await self.start()
        try:
            if duration is None:
                await self._wake_run.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake_run.wait(), duration)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self.stop()
            self._wake_run = None

    def run(self, duration=None):
        """Run the node until shutdown(), Ctrl-C, or `duration` seconds; blocks."""
        try:
            asyncio.run(self._run(duration))
        except KeyboardInterrupt:
            self._stop_after_interrupt()
            raise

    def _stop_after_interrupt(self):
        # Ctrl-C tore through the loop mid-step, so its tasks cannot be awaited: drop them,
        # then stop what outlives the loop (thread workers) without it.
        self._running = False
        self._stopping = True
        self._tasks = []
        port.reset_loop()
        limit = int(self.config["thread_join_timeout"] * 1000)
        t0 = port.ticks_ms()
        while self._threads and port.ticks_diff(port.ticks_ms(), t0) < limit:
            port.sleep_ms(5)
        self._finish()
        for w in self.workers:
            r = self._destroy(w)
            if port.is_coro(r):
                asyncio.run(r)
