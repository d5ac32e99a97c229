# How a Master is put together and started: the plugins its config switches on, what @worker
# and @event declared, register_worker() and its thread-worker limit, and the first part of
# start() (the plugins load after it, with this module gone). Its config is read by config.py.
# The Master loads this module while a node is assembled and forgets it as the node starts, so
# a running node does not hold set-up code.
import asyncio
import sys

from zoo_micro import log, port, workers
from zoo_micro.workers import BaseWorker

# Built-in plugins switched on by a config key of the same name, imported only then:
# "key module.Class" per line (one string costs less heap than a dict of tuples).
CONFIG_PLUGINS = """bridge zoo_micro.link.plugin.BridgePlugin
mqtt zoo_micro.mqtt.plugin.MqttPlugin
watchdog zoo_micro.watchdog.WatchdogPlugin
schedule zoo_micro.scheduler.SchedulerPlugin"""


def declared(m):
    """The plugins the config switches on, and what @worker and @event declared before."""
    c = m.config
    for line in CONFIG_PLUGINS.split("\n"):
        key, where = line.split()
        if c.get(key):
            where, name = where.rsplit(".", 1)
            m.plugins.register(getattr(__import__(where, None, None, [name]), name))
    if c["svm_check_interval"]:
        import zoo_micro.svm  # noqa: F401 - now, before the app's objects spread over the heap

    d = sys.modules.get("zoo_micro.decorators")  # only an app that used @event or @worker has it
    if d is not None:
        for topic, channel, fn, options in d.handlers:
            m.subscribe(topic, fn, channel, **options)
        for name, cls, count, props in d.workers:
            register_worker(m, name, cls, count, props)


def register_worker(m, name, worker, count=1, props=None):
    """Master.register_worker (see there)."""
    meta = None
    if type(count) is dict:
        meta, count = count, 1
    if isinstance(worker, BaseWorker):
        if count != 1:
            raise ValueError("worker %s: count must be 1 when registering an instance" % name)
        if name:
            worker.name = name
        made = [worker]
    elif isinstance(worker, type) and issubclass(worker, BaseWorker):
        made = []
        for i in range(count):
            p = dict(props or {})
            p["name"] = name if count == 1 else "%s:%d" % (name, i)
            w = worker()  # as the full framework builds it; the props given here apply on top
            BaseWorker.__init__(w, p)
            made.append(w)
    else:
        raise TypeError("worker %s: expected a BaseWorker subclass or instance, got %r" % (name, worker))
    for w in made:
        if m.get_worker(w.name) is not None:
            raise ValueError("a worker named %s is already registered" % w.name)
    if any(w.mode == "thread" for w in made):
        check_threads(m, made)
    for w in made:
        if meta:
            w._zoo_meta = meta
        w._zoo = ["created", 0, 0, 0, 0, 0, 0, 0, None, None, 0, False]  # see workers.py
        m.workers.append(w)
        if m._running:
            m._launch(w)
    return made[0] if len(made) == 1 else made


def check_threads(master, made):
    """Refuse more thread workers than the board hosts; a port without _thread runs them on asyncio."""
    threads = [w for w in master.workers + made if w.mode == "thread"]
    if not port.HAS_THREAD:
        for w in made:
            if w.mode == "thread":
                log.warn("worker %s: this port has no _thread; running it on asyncio" % w.name)
                w.mode = "async"
    elif len(threads) > master.config["max_threads"]:
        raise ValueError(
            "%d thread workers registered but this board allows %d; make some mode 'async'"
            % (len(threads), master.config["max_threads"])
        )


def start(m):
    """The first part of Master.start (see there): its tasks, health checks, the state store's
    saving. Called through port.once, so this module is gone before the plugins load."""
    m._stopping = False
    m._wake = asyncio.Event()
    m.started_ms = port.ticks_ms()
    loop = asyncio.get_event_loop()
    if port.MICROPYTHON and loop.get_exception_handler() is None:  # an app's own handler stays
        loop.set_exception_handler(port.task_failed)
    m._tasks = [asyncio.create_task(m.bus.run()), asyncio.create_task(workers.supervise(m))]
    c = m.config
    if c["svm_check_interval"]:
        from zoo_micro.svm import SVM

        m.svm = SVM(m, c["svm_check_interval"])
        m._tasks.append(asyncio.create_task(m.svm.run()))
    if c["threads"] is True:
        from zoo_micro import threads

        m._tasks.append(threads.arm(m))
    st = sys.modules.get("zoo_micro.state")  # only a node that uses the state store loads it
    if st is not None:
        st.StateMachineManager().attach(c)
    m._running = True
