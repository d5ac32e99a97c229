# zoo_micro: the embedded edition of Zoo Framework.
# Names load on first use, so `from zoo_micro import Master` does not pull in optional parts.
__version__ = "0.1.0"

_WHERE = {
    "Master": "master",
    "BaseWorker": "workers",
    "worker": "workers",
    "event": "events",
    "EventNode": "events",
    "EventRetryStrategy": "events",
    "RetryOnce": "events",
    "RetryTimes": "events",
    "RetryForever": "events",
    "RetryNever": "events",
    "RetryAlways": "events",
    "Cage": "cages",
    "cage": "cages",
    "FIFO": "fifo",
    "DelayFIFO": "delay_fifo",
    "SingleFIFO": "single_fifo",
    "FIFOFull": "fifo",
    "StateMachineManager": "state",
    "StateMachine": "fsm",
    "MachineError": "fsm",
    "Plugin": "plugins",
    "PluginManager": "plugins",
    "PluginError": "plugins",
    "WatchdogPlugin": "watchdog",
    "SchedulerPlugin": "scheduler",
}


def __getattr__(name):
    mod = _WHERE.get(name)
    if mod is None:
        # MicroPython asks here before importing a submodule named in `from zoo_micro import x`.
        try:
            return __import__("zoo_micro." + name, None, None, [name])
        except ImportError:
            raise AttributeError("zoo_micro has no attribute %r" % name) from None
    value = getattr(__import__("zoo_micro." + mod, None, None, [name]), name)
    globals()[name] = value  # later lookups skip this function
    return value
