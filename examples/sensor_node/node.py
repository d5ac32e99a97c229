# The sensor node: sample, react to thresholds, log in the background, share stats safely.
import asyncio

from sensor import Thermometer

from zoo_micro import BaseWorker, Master, cage


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

    def __init__(self, props=None):
        super().__init__(props)
        self.sensor = Thermometer()
        self.readings = None

    async def _execute(self):
        value = self.sensor.read()
        self.readings.add(value)
        return value  # published on "sampler_result"


class Logger(BaseWorker):
    """Blocking work (a file append, as a flash write would be) kept off the event loop."""

    mode = "thread"

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


def build(config=None, threshold=28.0, log_path=None, sample_every=0.5, verbose=True):
    """Assemble the node; returns (master, readings)."""
    m = Master(config)
    readings = Readings()
    sampler = m.register_worker("sampler", Sampler, props={"delay_time": sample_every})
    sampler.readings = readings
    logger = m.register_worker("logger", Logger, props={"delay_time": 1.0})
    logger.readings = readings
    logger.path = log_path

    def on_reading(req):
        if req.content > threshold:
            readings.alarm()
            m.publish("sensor.alarm", req.content, priority=5)

    def on_alarm(req):
        if verbose:
            print("ALARM %.1f C (%d alarms so far)" % (req.content, readings.summary()["alarms"]))

    m.subscribe("sampler_result", on_reading)
    m.subscribe("sensor.alarm", on_alarm)
    return m, readings


async def pump(m, readings, events):
    """Feed `events` synthetic readings through the bus as fast as it takes them (for load tests)."""
    sensor = Thermometer()
    sent = 0
    while sent < events:
        if m.bus.pending < m.bus.queue_size // 2:
            v = sensor.read()
            readings.add(v)
            m.publish("sampler_result", v)
            sent += 1
        else:
            await asyncio.sleep(0)
    while m.bus.pending:
        await asyncio.sleep(0)
