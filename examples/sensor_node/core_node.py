# The core node alone (main.py --core): sampler, threshold handler, logger thread and caged
# readings; no state store, mode machine, watchdog or health printing.
from node import Logger, Readings, Sampler

from zoo_micro import Master


def build_core(config=None, log_path=None, verbose=True, threshold=28.0):
    m = Master(config)
    readings = Readings()
    sampler = m.register_worker("sampler", Sampler, props={"delay_time": 0.2})
    sampler.readings = readings
    sampler.master = m
    logger = m.register_worker("logger", Logger, props={"delay_time": 1.0})
    logger.readings = readings
    logger.path = log_path

    def on_reading(req):
        if req.content > threshold:
            readings.alarm()
            m.publish("sensor.alarm", req.content, priority=5)

    def on_alarm(req):
        if verbose:
            print("ALARM %.1f C (%d alarms)" % (req.content, readings.alarms))

    m.subscribe("sampler_result", on_reading)
    m.subscribe("sensor.alarm", on_alarm)
    return m, readings, None
