# Synthetic load for main.py --events: its own module, so a node that only samples does not
# carry it.
import asyncio

from sensor import Thermometer


async def pump(m, readings, events, link=None):
    """Feed `events` synthetic readings through the bus as fast as it takes them (for load tests).

    With a bridge `link`, waits for room in its outbox instead of making it drop events."""
    sensor = Thermometer()
    sent = 0
    while sent < events:
        # A reading can send up to three events up (itself, an alarm, the alarm count's state).
        if m.bus.pending < m.bus.queue_size // 2 and (link is None or link.room() > 3 * m.bus.pending + 8):
            v = sensor.read()
            readings.add(v)
            m.publish("sampler_result", v)
            sent += 1
        else:
            await asyncio.sleep(0 if link is None else 0.001)
    # Until the bus is empty and the host has acknowledged everything; the caller stops the node in
    # the same step, so a reading the sampler takes meanwhile is waited for too.
    while m.bus.pending or (link is not None and link.stats()["outbox"]):
        await asyncio.sleep(0 if link is None else 0.01)
