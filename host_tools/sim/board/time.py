# time for the virtual board: the unix port's own, except that sleeps on the main thread wake up for
# soft interrupts (Pin IRQs, Timers), which the unix port would only run after the whole sleep, and
# that the wall clock is the board's RTC (machine.RTC().datetime() sets it, as on a board).
import simlink
import utime
from utime import *  # noqa: F403

_rtc = [simlink.cfg.get("rtc", 0)]  # seconds between the host clock and the board's RTC


def time():
    return utime.time() + _rtc[0]


def time_ns():
    return utime.time_ns() + int(_rtc[0] * 1000000000)


def localtime(secs=None):
    # The host starts this process with TZ=UTC: local time is UTC, as on a board without a zone.
    return utime.localtime(int(time()) if secs is None else int(secs))


def gmtime(secs=None):
    return utime.gmtime(int(time()) if secs is None else int(secs))


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
