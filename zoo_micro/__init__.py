# zoo_micro: the embedded edition of Zoo Framework.
# Names load on first use, so `from zoo_micro import Master` does not pull in optional parts.
__version__ = "0.1.0"

# "module: names..." per line; one string costs less heap than a dict of names.
_WHERE = """master: Master
workers: BaseWorker
bus: EventNode
decorators: worker event
channels: EventChannelManager EventChannel
reactors: EventReactor EventRetryStrategy RetryOnce RetryTimes RetryForever RetryNever RetryAlways
cages: Cage cage
fifo: FIFO FIFOFull
delay_fifo: DelayFIFO
single_fifo: SingleFIFO
state: StateMachineManager
fsm: StateMachine MachineError
plugins: Plugin PluginManager PluginError
watchdog: WatchdogPlugin
scheduler: SchedulerPlugin"""


def __getattr__(name):
    for line in _WHERE.split("\n"):
        mod, names = line.split(":")
        if name in names.split():
            value = getattr(__import__("zoo_micro." + mod, None, None, [name]), name)
            globals()[name] = value  # later lookups skip this function
            return value
    # MicroPython asks here before importing a submodule named in `from zoo_micro import x`.
    try:
        return __import__("zoo_micro." + name, None, None, [name])
    except ImportError:
        raise AttributeError("zoo_micro has no attribute %r" % name) from None
