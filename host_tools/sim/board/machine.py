# machine for the virtual board: the unix port's own members, plus peripherals whose far side is the
# host (zoo-micro sim), which drives the inputs and sees the outputs. Constants follow the ESP32 port.
import binascii
import time

import micropython
import simio
import simlink
import utime
from umachine import *  # noqa: F403 (mem8/16/32, Signal, idle, time_pulse_us)

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
_CAUSES = {"power": PWRON_RESET, "hard": HARD_RESET, "wdt": WDT_RESET, "deepsleep": DEEPSLEEP_RESET,
           "soft": SOFT_RESET}  # fmt: skip

_cfg = simlink.cfg
_freq = [_cfg.get("freq", 160000000)]


def reset_cause():
    return _CAUSES.get(_cfg.get("cause"), PWRON_RESET)


def unique_id():
    return binascii.unhexlify(_cfg["uid"])


def freq(hz=None):
    if hz is None:
        return _freq[0]
    _freq[0] = hz


def _halt():
    # A reset never returns: the host ends this process and boots a new one.
    while True:
        utime.sleep_ms(1000)


def reset():
    simlink.notify({"op": "reset"})
    _halt()


def soft_reset():
    simlink.notify({"op": "soft_reset"})
    raise SystemExit


def deepsleep(ms=0):
    simlink.notify({"op": "deepsleep", "ms": ms})
    _halt()


def lightsleep(ms=None):
    import time

    time.sleep_ms(ms if ms is not None else 1 << 30)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


# Pins. Host-driven levels are in _inputs; each pin's own state is [mode, pull, latch, handler,
# trigger, irq_pin, last_told_host], shared by every Pin object made for that id, as on a board.
_inputs = {}
_pins = {}


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        self._id = id
        s = _pins.get(id)
        if s is None:
            s = _pins[id] = [Pin.IN, None, 0, None, 0, None, None]
        self._s = s
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        s = self._s
        before = _level(self._id, s)
        was_driven = s[0] != Pin.IN
        if mode is not None and mode != -1:
            s[0] = mode
        if pull != -1:
            s[1] = pull
        if value is not None:
            s[2] = 1 if value else 0
        _changed(self._id, s, before, was_driven or s[0] != Pin.IN, False)

    def value(self, x=None):
        if x is None:
            return _level(self._id, self._s)
        s = self._s
        before = _level(self._id, s)
        s[2] = 1 if x else 0
        _changed(self._id, s, before, s[0] != Pin.IN, False)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(1 - self._s[2])

    def mode(self, mode=None):
        if mode is None:
            return self._s[0]
        self.init(mode)

    def pull(self, pull=-1):
        if pull == -1:
            return self._s[1]
        self.init(pull=pull)

    def irq(self, handler=None, trigger=3, *, priority=1, wake=None, hard=False):
        s = self._s
        s[3] = handler
        s[4] = trigger if handler is not None else 0
        s[5] = self
        return _PinIRQ(s)

    def __repr__(self):
        return "Pin(%r)" % (self._id,)


class _PinIRQ:
    def __init__(self, s):
        self._s = s

    def trigger(self, t=None):
        if t is None:
            return self._s[4]
        self._s[4] = t

    def flags(self):
        return self._s[4]


def _level(id, s):
    mode = s[0]
    if mode == Pin.OUT:
        return s[2]
    if mode == Pin.OPEN_DRAIN and s[2] == 0:
        return 0
    ext = _inputs.get(id)
    if ext is not None:
        return ext
    return 1 if s[1] == Pin.PULL_UP else 0


def _changed(id, s, before, notify, in_irq):
    after = _level(id, s)
    if notify and s[6] != (s[0], s[2]):
        s[6] = (s[0], s[2])
        simlink.notify({"op": "pin", "id": id, "v": s[2], "mode": s[0]})
    if after == before or s[3] is None:
        return
    if s[4] & (Pin.IRQ_RISING if after else Pin.IRQ_FALLING):
        if in_irq:
            s[3](s[5])
        else:
            try:
                micropython.schedule(s[3], s[5])
            except RuntimeError:
                pass  # schedule queue full: a board drops the edge too


def _on_pin(msg):
    id = msg["id"]
    s = _pins.get(id)
    before = _level(id, s) if s else 0
    if msg["v"] is None:
        _inputs.pop(id, None)
    else:
        _inputs[id] = 1 if msg["v"] else 0
    if s is not None:
        _changed(id, s, before, False, True)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 0
    WIDTH_10BIT = 1
    WIDTH_11BIT = 2
    WIDTH_12BIT = 3

    def __init__(self, pin, *, atten=None):
        self._id = pin._id if isinstance(pin, Pin) else pin

    def init(self, *, atten=None):
        pass

    def read_u16(self):
        return simio.adc_read(self._id)

    def read(self):
        return simio.adc_read(self._id) >> 4  # 12 bits, the ESP32 default width

    def read_uv(self):
        return simio.adc_read(self._id) * 3300000 // 65535

    def atten(self, atten):
        pass

    def width(self, width):
        pass


# After the star import above, so the unix port's own I2C classes do not replace these.
I2C = simio.I2C
SoftI2C = simio.SoftI2C
UART = simio.UART

_timers = {}  # key -> armed Timer; kept here so an armed timer lives on without the app's reference
_timer_keys = [0]


class Timer:
    """Really fires: the link thread keeps time and the callback runs as a soft interrupt."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, *, mode=PERIODIC, period=-1, freq=-1, callback=None, tick_hz=1000, hard=None):
        _timer_keys[0] += 1
        self._key = _timer_keys[0]
        self._gen = 0
        self._cb = None
        self._mode = mode
        if period != -1 or freq != -1:
            self.init(mode=mode, period=period, freq=freq, callback=callback, tick_hz=tick_hz)

    def init(self, *, mode=PERIODIC, period=-1, freq=-1, callback=None, tick_hz=1000, hard=None):
        if freq > 0:
            us = int(1000000 / freq)
        elif period >= 0:
            us = int(period * 1000000 // tick_hz)
        else:
            raise ValueError("Timer needs period or freq")
        self._gen += 1
        self._cb = callback
        self._mode = mode
        _timers[self._key] = self
        simlink.arm_timer(self._key, self._gen, us if us > 1000 else 1000, mode == Timer.PERIODIC)

    def deinit(self):
        self._gen += 1
        _timers.pop(self._key, None)
        simlink.disarm_timer(self._key)

    def __repr__(self):
        return "Timer(mode=%s)" % ("PERIODIC" if self._mode else "ONE_SHOT")


def _timer_fired(arg):
    key, gen = arg
    t = _timers.get(key)
    if t is None or t._gen != gen:
        return  # re-armed or stopped since this tick was queued
    if t._mode == Timer.ONE_SHOT:
        del _timers[key]
    if t._cb is not None:
        t._cb(t)


_rtc = time._rtc  # seconds between the host clock and the board's RTC; time.time() reads it too


class RTC:
    def __init__(self, id=0):
        pass

    def init(self, dt):
        self.datetime(dt)

    def datetime(self, dt=None):
        # The host starts this process with TZ=UTC, so localtime and mktime are both UTC.
        if dt is None:
            ns = time.time_ns()
            t = utime.localtime(ns // 1000000000)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], ns // 1000 % 1000000)  # subseconds in µs
        when = utime.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0)) + dt[7] / 1000000
        _rtc[0] = when - utime.time_ns() / 1000000000
        simlink.notify({"op": "rtc", "offset": _rtc[0]})


def _on_rtc(msg):
    _rtc[0] = msg["offset"]


class WDT:
    """A watchdog kept by the host: not fed within timeout ms, the board is reset."""

    def __init__(self, id=0, timeout=5000):
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        simlink.notify({"op": "wdt", "timeout": timeout})

    def feed(self):
        simlink.notify({"op": "feed"})


class PWM:
    def __init__(self, dest, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=False):
        self._id = dest._id if isinstance(dest, Pin) else dest
        self._freq = freq or 5000
        self._duty = 0
        self.init(freq=freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=False):
        if freq is not None:
            self._freq = freq
        if duty is not None:
            self._duty = duty * 65535 // 1023
        if duty_u16 is not None:
            self._duty = duty_u16
        if duty_ns is not None:
            self._duty = min(65535, duty_ns * self._freq * 65535 // 1000000000)
        simlink.notify({"op": "pwm", "id": self._id, "freq": self._freq, "duty_u16": self._duty})

    def freq(self, value=None):
        if value is None:
            return self._freq
        self.init(freq=value)

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self.init(duty_u16=value)

    def duty(self, value=None):
        if value is None:
            return self._duty * 1023 // 65535
        self.init(duty=value)

    def duty_ns(self, value=None):
        if value is None:
            return self._duty * 1000000000 // (self._freq * 65535)
        self.init(duty_ns=value)

    def deinit(self):
        simlink.notify({"op": "pwm", "id": self._id, "freq": 0, "duty_u16": 0})


def _apply_state(state):
    for id, v in state.get("pins", ()):
        _inputs[id] = v
    for id, spec in state.get("adc", ()):
        simio.on_adc({"id": id, "spec": spec})
    for id in state.get("uart_loop", ()):
        simio.uart_loop.add(id)


simlink.handlers.update({"pin": _on_pin, "rtc": _on_rtc})
simlink.timer_fired = _timer_fired
simlink.on_state = _apply_state
