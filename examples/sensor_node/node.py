# The sensor node: sample, react to thresholds, log in the background, share stats safely,
# move between modes with a state machine, keep its settings across resets, report health.
from sensor import Thermometer

from zoo_micro import BaseWorker, Master, cage

MODES = ["boot", "sampling", "degraded"]
TRANSITIONS = [
    {"trigger": "booted", "source": "boot", "dest": "sampling"},
    # Three failed reads in a row: the sensor is in trouble.
    {"trigger": "sensor_error", "source": "sampling", "dest": "degraded", "conditions": lambda n: n >= 3},
    {"trigger": "recovered", "source": "degraded", "dest": "sampling"},
]
DEFAULT_SETTINGS = {"threshold": 28.0, "sample_every": 0.2}


@cage
class Readings:
    """Shared by the sampler (a task), the threshold handler and the logger (a thread)."""

    def __init__(self):
        self.count = 0
        self.alarms = 0
        self.total = 0.0
        self.last = None
        self.unlogged = []
        self.unlogged_dropped = 0

    def add(self, value):
        self.count += 1
        self.total += value
        self.last = value
        if len(self.unlogged) < 32:  # bounded: the logger drains it once a second
            self.unlogged.append(value)
        else:
            self.unlogged_dropped += 1

    def alarm(self):
        self.alarms += 1

    def take_unlogged(self):
        batch, self.unlogged = self.unlogged, []
        return batch

    def summary(self):
        avg = self.total / self.count if self.count else 0
        return {"count": self.count, "alarms": self.alarms, "avg": round(avg, 2), "last": self.last}


class Sampler(BaseWorker):
    """Reads the thermometer every delay_time and publishes the reading."""

    is_loop = True

    def __init__(self, props=None):
        super().__init__(props)
        self.sensor = Thermometer()
        self.readings = None
        self.failed_reads = 0  # in a row

    async def _execute(self):
        value = self.sensor.read()
        self.failed_reads = 0
        self.readings.add(value)
        return value  # published on "sampler_result"

    def _on_error(self):
        # Consecutive errors drive the mode machine.
        self.failed_reads += 1
        self.master.publish("sensor.error", self.failed_reads)


class Logger(BaseWorker):
    """Blocking work (a file append, as a flash write would be) kept off the event loop."""

    mode = "thread"
    is_loop = True

    def __init__(self, props=None):
        super().__init__(props)
        self.readings = None
        self.path = None
        self.lines = 0

    def _execute(self):
        batch = self.readings.take_unlogged()
        if batch and self.path:
            with open(self.path, "a") as f:
                for v in batch:
                    f.write("%s\n" % v)
        self.lines += len(batch)


def settings():
    """The node's settings, kept in the state store (and so on flash) across resets."""
    from zoo_micro import StateMachineManager

    store = StateMachineManager()
    saved = store.get_state("settings", None, {})
    for key in DEFAULT_SETTINGS:
        if key not in saved:
            store.set_state("settings", key, DEFAULT_SETTINGS[key])
    return store.get_state("settings")


def build(config=None, log_path=None, verbose=True, fail_every=0, core=False):
    """Assemble the node; returns (master, readings, mode machine or None).

    core=True builds only the core node (sampler, threshold handler, logger thread, caged
    readings): no state store, mode machine, watchdog or health printing."""
    if core:
        from core_node import build_core  # its own module: a full node does not carry it

        return build_core(config, log_path, verbose)
    from zoo_micro import StateMachine, StateMachineManager  # only the full node pays for them

    m = Master(config)
    store = StateMachineManager()
    store.load()  # settings are needed before start (which would load it otherwise)
    cfg = settings()
    readings = Readings()
    sampler = m.register_worker("sampler", Sampler, props={"delay_time": cfg["sample_every"]})
    sampler.readings = readings
    sampler.master = m
    sampler.sensor.fail_every = fail_every
    logger = m.register_worker("logger", Logger, props={"delay_time": 1.0})
    logger.readings = readings
    logger.path = log_path

    def say(text):
        if verbose:
            print(text)

    mode = StateMachine(
        "mode",
        MODES,
        "boot",
        TRANSITIONS,
        on_enter={
            "sampling": lambda n: say("mode: sampling"),
            "degraded": lambda n: say("mode: degraded after %d sensor errors" % n),
        },
        master=m,
    )

    def on_reading(req):
        if mode.state == "degraded":
            mode.trigger("recovered")
        if req.content > cfg["threshold"]:
            readings.alarm()
            store.set_state("stats", "alarms", store.get_state("stats", "alarms", 0) + 1)
            m.publish("sensor.alarm", req.content, priority=5)

    def on_sensor_error(req):
        if mode.state == "sampling":
            mode.trigger("sensor_error", req.content)

    def on_alarm(req):
        say("ALARM %.1f C (%d alarms since first boot)" % (req.content, store.get_state("stats", "alarms")))

    def on_health(req):
        workers = req.content["workers"]
        node = req.content["node"]
        parts = ["%s %s" % (name, workers[name]["status"]) for name in sorted(workers)]
        say("health: %s; heap free %s; queue %d" % (", ".join(parts), node["mem_free"], node["queue_depth"]))

    m.subscribe("sampler_result", on_reading)
    m.subscribe("sensor.error", on_sensor_error)
    m.subscribe("sensor.alarm", on_alarm)
    m.subscribe("zoo.svm.health", on_health)
    return m, readings, mode
