# The temperature sensor: a TMP102 on I2C when one answers, else simulated readings.
try:
    from machine import I2C
except ImportError:
    I2C = None

TMP102_ADDRESS = 0x48


def _find_tmp102():
    if I2C is None:
        return None
    try:
        bus = I2C(0)
        return bus if TMP102_ADDRESS in bus.scan() else None
    except (OSError, ValueError, TypeError):
        return None


class Thermometer:
    """Reads degrees Celsius. With `fail_every` set, the last 3 reads of every `fail_every`
    fail, as a loose connector would, to exercise the node's degraded mode and recovery."""

    def __init__(self, fail_every=0):
        self._bus = _find_tmp102()
        self._n = 0
        self.fail_every = fail_every

    @property
    def simulated(self):
        return self._bus is None

    def read(self):
        self._n += 1
        if self.fail_every and self._n % self.fail_every >= self.fail_every - 3:
            raise OSError("sensor did not answer")
        if self._bus is not None:
            raw = self._bus.readfrom_mem(TMP102_ADDRESS, 0, 2)  # temperature register, 12 bits
            value = (raw[0] << 4) | (raw[1] >> 4)
            if value & 0x800:
                value -= 0x1000
            return value * 0.0625
        # A slow sawtooth between 20 and 30 degrees, so the threshold is crossed now and then.
        return 20 + (self._n * 7 % 100) / 10
