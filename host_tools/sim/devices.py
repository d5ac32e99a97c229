"""I2C devices for the virtual board: models on the host that answer the board's bus transfers."""

from __future__ import annotations


class I2CDevice:
    """Subclass and override write/read. A transfer from the board arrives as write(bytes) for what
    the controller sends and read(n) for what it clocks back; readfrom_mem is write([reg]) then read(n)
    with a repeated start, as on the wire. Raise OSError to make the board see the transfer fail."""

    def write(self, data: bytes) -> None:
        pass

    def read(self, n: int) -> bytes:
        return bytes(n)


FAULTS = (1, 2, 4, 6)  # consecutive faults before the alert changes, by F1:F0


class TMP102(I2CDevice):
    """Texas Instruments TMP102 digital temperature sensor (datasheet SBOS397).

    Registers by pointer (the low two bits of the first byte written): 0 temperature (read-only),
    1 configuration, 2 T_LOW, 3 T_HIGH; each 16 bits, MSB first, and a read returns the register the
    pointer last selected. Temperatures are 12-bit two's complement in 0.0625 C steps, left-justified
    (13-bit with bit 0 set in extended mode, EM). Configuration powers up as 0x60A0: R1:R0 = 11 and
    AL read-only, SD shuts down, OS in shutdown starts a one-shot conversion and then reads 1, TM picks
    comparator or interrupt alert, POL its polarity, F1:F0 the fault queue, CR the rate (stored only).

    The model converts when the host sets `temperature` (continuous mode) or on a one-shot, so
    faults are counted per host update; in shutdown the register keeps its last conversion.
    """

    ADDRESS = 0x48
    TEMPERATURE, CONFIG, T_LOW, T_HIGH = 0, 1, 2, 3

    def __init__(self, temperature: float = 25.0) -> None:
        self._temperature = float(temperature)
        self.pointer = self.TEMPERATURE
        self.config = 0x60A0
        self.t_low = self.encode(75.0, False)
        self.t_high = self.encode(80.0, False)
        self.result = 0
        self.conversions = 0
        self.alert = False  # the ALERT output is active (its level depends on POL)
        self._faults_high = 0
        self._faults_low = 0
        self._armed_high = True  # interrupt mode alternates between the two thresholds
        self._one_shot_done = False
        self._convert()

    @staticmethod
    def encode(celsius: float, extended: bool) -> int:
        counts = round(celsius / 0.0625)
        if extended:
            counts = max(-4096, min(4095, counts))
            return ((counts & 0x1FFF) << 3) | 1
        counts = max(-2048, min(2047, counts))
        return (counts & 0xFFF) << 4

    @staticmethod
    def decode(register: int) -> float:
        if register & 1:
            counts = register >> 3
            counts -= 0x2000 if counts & 0x1000 else 0
        else:
            counts = register >> 4
            counts -= 0x1000 if counts & 0x800 else 0
        return counts * 0.0625

    @property
    def extended(self) -> bool:
        return bool(self.config & 0x10)

    @property
    def shutdown(self) -> bool:
        return bool(self.config & 0x100)

    @property
    def temperature(self) -> float:
        return self._temperature

    @temperature.setter
    def temperature(self, celsius: float) -> None:
        self._temperature = float(celsius)
        if not self.shutdown:
            self._convert()

    def _convert(self) -> None:
        self.result = self.encode(self._temperature, self.extended)
        self.conversions += 1
        t = self.decode(self.result)
        if t >= self.decode(self.t_high):
            self._faults_high += 1
            self._faults_low = 0
        elif t < self.decode(self.t_low):
            self._faults_low += 1
            self._faults_high = 0
        else:
            self._faults_high = self._faults_low = 0
        needed = FAULTS[(self.config >> 11) & 3]
        if self.config & 0x200:  # TM = 1: interrupt mode, cleared by a read
            if self._armed_high and self._faults_high >= needed:
                self.alert, self._armed_high = True, False
            elif not self._armed_high and self._faults_low >= needed:
                self.alert, self._armed_high = True, True
        elif not self.alert and self._faults_high >= needed:
            self.alert = True
        elif self.alert and self._faults_low >= needed:
            self.alert = False

    @property
    def alert_level(self) -> int:
        """The ALERT pin (and the AL bit): active low unless POL is set."""
        polarity = bool(self.config & 0x400)
        return int(self.alert == polarity)

    def register(self, pointer: int) -> int:
        if pointer == self.TEMPERATURE:
            return self.result
        if pointer == self.CONFIG:
            os_bit = 0x8000 if self._one_shot_done else 0
            return (self.config & 0x1FDF) | 0x6000 | os_bit | (self.alert_level << 5)
        return self.t_low if pointer == self.T_LOW else self.t_high

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0] & 3
        if len(data) < 2 or self.pointer == self.TEMPERATURE:
            return  # a pointer-only write, or the read-only temperature register
        old = self.register(self.pointer)
        value = (data[1] << 8) | (data[2] if len(data) > 2 else old & 0xFF)
        if self.pointer == self.CONFIG:
            self._write_config(value)
        elif self.pointer == self.T_LOW:
            self.t_low = value
        else:
            self.t_high = value

    def _write_config(self, value: int) -> None:
        was_down = self.shutdown
        self.config = (value & 0x1FD0) | 0x6000  # R1:R0 and AL are read-only; OS is a command
        if not self.shutdown:
            self._one_shot_done = False
        if value & 0x8000 and (was_down or self.shutdown):
            self._convert()
            self._one_shot_done = True

    def read(self, n: int) -> bytes:
        value = self.register(self.pointer)
        if self.config & 0x200:
            self.alert = False  # interrupt mode: any read clears the alert
        pair = bytes(((value >> 8) & 0xFF, value & 0xFF))
        return (pair * (n // 2 + 1))[:n]
