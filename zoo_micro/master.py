# The Master (keeper): owns the workers, the event bus and their supervision.
import asyncio
import sys

from zoo_micro import port, workers  # noqa: F401 - a Master runs workers: they load with it
from zoo_micro.bus import Bus
from zoo_micro.port import const

_DUE = const(9)  # in a worker's record (workers.py)


class Master:
    """Runs workers and delivers events between them; one per node."""

    current = None  # the Master made last: EventChannelManager publishes through it
    svm = None
    started_ms = None
    _plugins = None
    _wake_run = None
    _running = False
    _stopping = False
    _results = False  # a handler listens on "waiter", where the full framework puts worker results

    def __init__(self, config=None):
        # Set-up code (plugins, declared workers, register_worker, start) is in assemble.py:
        # loaded while the node is put together, forgotten as it starts.
        from zoo_micro import assemble

        self.config = c = port.once("zoo_micro.config", "load_config", config)
        self.name = c["name"]
        Master.current = self
        self.bus = b = Bus(
            c["queue_size"], c["retry_delay"], c["retry_backoff_max"], c["max_pending_retries"]
        )
        # publish(topic, content=None, channel="default", priority=0): queue an event from anywhere
        # (a task, plain code or a thread); False if it was dropped. The bus's own, one call shorter.
        self.publish = b.publish
        self.emit = b.emit  # emit(node): queue a prepared EventNode (to choose its response mechanism)
        self.unsubscribe = b.unsubscribe  # unsubscribe(handle): what subscribe() returned
        self.workers = []
        self._tasks = []
        self._runs = []  # tasks of async runs in progress
        self._threads = []  # thread workers whose _thread has not exited yet
        assemble.declared(self)

    @property
    def plugins(self):
        """The PluginManager; created (and its module imported) on first use."""
        if self._plugins is None:
            from zoo_micro.plugins import PluginManager

            self._plugins = PluginManager(self)
        return self._plugins

    # Workers

    def register_worker(self, name, worker, count=1, props=None):
        """Add `count` workers from a BaseWorker subclass (or one ready instance). A dict in count's
        place is the full framework's metadata (priority, tags): kept for get_worker_stats()."""
        from zoo_micro import assemble

        made = assemble.register_worker(self, name, worker, count, props)
        if self._running:
            port.forget("zoo_micro.assemble")  # a running node keeps no set-up code
        return made

    def get_worker(self, name):
        for w in self.workers:
            if w.name == name:
                return w
        return None

    def _launch(self, w):
        if w.mode == "thread":
            from zoo_micro import threads

            threads.launch(self, w)
        else:
            w._zoo[_DUE] = port.ticks_ms()
            self._wake.set()

    # Events

    def subscribe(self, topic, fn, channel="default", **options):
        """Subscribe fn (plain or async) to topic; options as for @event. Returns the handle for
        unsubscribe()."""
        if not callable(fn):
            raise TypeError("event handler must be callable, got %r" % (fn,))
        if topic == "waiter":
            self._results = True
        if options:
            from zoo_micro.reactors import Handler

            fn = Handler(fn, **options)
        return self.bus.subscribe(topic, fn, channel)

    def publish_isr(self, topic, content=None, channel="default", priority=0):
        """Publish from a soft interrupt handler (Pin.irq, Timer callbacks)."""
        from zoo_micro import threads

        e = (topic, content, priority) if priority else (topic, content)
        return threads.push(self.bus, channel, e, True)

    def get_worker_stats(self, name):
        """{"name", "type", "metadata", "health"} of one worker, as the full framework gives it."""
        from zoo_micro.worker_stats import worker_stats

        return worker_stats(self, name)

    def stats(self):
        """published, delivered, dropped... and per worker status, runs, errors, restarts, fails."""
        from zoo_micro.stats import stats

        return stats(self)

    # Running

    async def start(self):
        """Start the dispatcher and every worker; returns once the node is running."""
        if self._running:
            return
        port.once("zoo_micro.assemble", "start", self)
        if self._plugins is not None:
            try:
                self._plugins.load_all(self)
            except Exception:
                await self.stop()
                raise
        for w in self.workers:
            self._launch(w)
        await asyncio.sleep(0)  # let the dispatcher and workers take their first step

    def get_health_report(self):
        """{"node": {...}, "workers": {name: {...}}, "plugins": {...}}; see docs/health.md."""
        if self.svm is None:
            from zoo_micro.svm import SVM

            self.svm = SVM(self, self.config["svm_check_interval"])
        return self.svm.report()

    async def stop(self):
        """Stop every worker, thread workers included; returns once they have stopped."""
        if self._running:
            for t in self._tasks + self._runs:
                t.cancel()
            await asyncio.sleep(0)  # the tasks end and free their frames before shutdown.py loads
            # Ended tasks go now (an error was reported as it ended), and health checks with them
            # (a report after the run loads them again): their heap is free for shutdown.py.
            left = []
            for t in self._tasks:
                if not t.done():
                    left.append(t)
            self._tasks = left
            self.svm = None
            port.forget("zoo_micro.svm")
            try:
                await port.once("zoo_micro.shutdown", "stop", self)
            except MemoryError:
                self._last_words()
                raise

    def _last_words(self):
        # No heap even to load shutdown.py: keep what matters most, the state on flash.
        self._running = False
        st = sys.modules.get("zoo_micro.state")
        if st is not None:
            st.StateMachineManager().stop()

    def shutdown(self):
        """Ask a running node to stop; run() returns once everything has stopped."""
        self._stopping = True
        if self._wake_run is not None:
            self._wake_run.set()

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
            try:
                port.once("zoo_micro.shutdown", "interrupted", self)
            except MemoryError:
                self._last_words()
            raise
