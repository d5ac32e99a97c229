# time for the virtual board: the unix port's own, except that sleeps on the main thread wake up for
# soft interrupts (Pin IRQs, Timers), which the unix port would only run after the whole sleep.
import simlink
import utime
from utime import *  # noqa: F403


def sleep_ms(ms):
    if ms <= 0 or not simlink.is_main():
        return utime.sleep_ms(ms)
    deadline = utime.ticks_add(utime.ticks_ms(), ms)
    while True:
        left = utime.ticks_diff(deadline, utime.ticks_ms())
        if left <= 0:
            return
        simlink.wait_main(left)  # pending soft interrupts run as this loop goes round


def sleep(seconds):
    if seconds < 0.002:
        return utime.sleep(seconds)
    ms = int(seconds * 1000)
    sleep_ms(ms)
    rest = seconds - ms / 1000
    if rest > 0:
        utime.sleep(rest)
