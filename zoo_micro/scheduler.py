# Scheduler plugin: publish events every N seconds, or at a time of day once the clock is set.
import asyncio
import time

from zoo_micro import log, port
from zoo_micro.plugins import Plugin

CLOCK_SET_YEAR = 2024  # an RTC that reads earlier than this has not been set


def wall_clock():
    """(year, month, day, hour, minute, second) from the RTC, as time.localtime gives it."""
    return time.localtime()[:6]


class Job:
    def __init__(self, spec):
        self.topic = spec.get("topic")
        if not self.topic:
            raise ValueError("schedule entry %r needs a topic" % (spec,))
        self.content = spec.get("content")
        self.every = spec.get("every")
        self.at = None
        if spec.get("at") is not None:
            try:
                hh, mm = spec["at"].split(":")
                self.at = (int(hh), int(mm))
            except (ValueError, AttributeError):
                raise ValueError("schedule entry %r: 'at' must be \"HH:MM\"" % (spec,)) from None
        if (self.every is None) == (self.at is None):
            raise ValueError("schedule entry %r needs exactly one of 'every' or 'at'" % (spec,))
        if self.every is not None and self.every <= 0:
            raise ValueError("schedule entry %r: 'every' must be positive" % (spec,))
        self.due = port.ticks_add(port.ticks_ms(), int((self.every or 0) * 1000))
        self.last_day = None  # the date an "at" job last fired
        self.fired = 0


class SchedulerPlugin(Plugin):
    """Config: "schedule": [{"every": 60, "topic": "sensor.sample"}, {"at": "06:30", "topic": "report"}]."""

    name = "scheduler"

    def initialize(self, context):
        self.master = context
        specs = context.config.get("schedule")
        self.jobs = [Job(s) for s in (specs if isinstance(specs, list) else [])]
        self._task = asyncio.create_task(self._loop())

    def add(self, spec):
        job = Job(spec)
        self.jobs.append(job)
        return job

    def _tick(self):
        now = port.ticks_ms()
        clock = None
        wait = 1000  # wall-clock jobs are checked at least once a second
        for job in self.jobs:
            if job.every is not None:
                left = port.ticks_diff(job.due, now)
                if left <= 0:
                    self._fire(job)
                    # Next slot from the planned time, so the period does not drift.
                    job.due = port.ticks_add(job.due, int(job.every * 1000))
                    if port.ticks_diff(job.due, now) <= 0:
                        job.due = port.ticks_add(now, int(job.every * 1000))
                    left = port.ticks_diff(job.due, now)
                wait = min(wait, left)
            else:
                clock = clock or wall_clock()
                if clock[0] < CLOCK_SET_YEAR:
                    continue  # time of day is unknown until the RTC is set
                day = clock[:3]
                if (clock[3], clock[4]) == job.at and job.last_day != day:
                    job.last_day = day
                    self._fire(job)
        return max(wait, 1)

    def _fire(self, job):
        job.fired += 1
        self.master.publish(job.topic, job.content)

    async def _loop(self):
        while True:
            try:
                wait = self._tick()
            except Exception as e:
                wait = 1000
                try:
                    log.error("scheduler: %r" % (e,))
                except MemoryError:
                    pass  # a full heap: no room even to say so; the next tick tries again
            await port.pause_ms(wait)

    def destroy(self):
        self._task.cancel()
