# The temperature sensor: the board's ADC when there is one, else a simulated reading.
try:
    from machine import ADC
except ImportError:
    ADC = None


class Thermometer:
    """Reads degrees Celsius. With `fail_every` set, the last 3 reads of every `fail_every`
    fail, as a loose connector would, to exercise the node's degraded mode and recovery."""

    def __init__(self, pin=26, fail_every=0):
        self._adc = ADC(pin) if ADC is not None else None
        self._n = 0
        self.fail_every = fail_every

    def read(self):
        self._n += 1
        if self.fail_every and self._n % self.fail_every >= self.fail_every - 3:
            raise OSError("sensor did not answer")
        if self._adc is not None:
            # RP2040-style internal sensor formula on a 16-bit reading.
            volts = self._adc.read_u16() * 3.3 / 65535
            return round(27 - (volts - 0.706) / 0.001721, 2)
        # A slow sawtooth between 20 and 30 degrees, so the threshold is crossed now and then.
        return 20 + (self._n * 7 % 100) / 10
