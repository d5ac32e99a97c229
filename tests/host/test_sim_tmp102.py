"""The TMP102 model against its datasheet (SBOS397): registers, formats, shutdown, alert modes."""

from __future__ import annotations

import pytest

from host_tools.sim import TMP102


def read(dev: TMP102, pointer: int) -> int:
    dev.write(bytes([pointer]))
    data = dev.read(2)
    return data[0] << 8 | data[1]


@pytest.mark.parametrize(
    ("celsius", "register"),
    # datasheet table 6-1 (12-bit): 128 0x7FF0 ... -55 0xC900
    [(127.9375, 0x7FF0), (100, 0x6400), (80, 0x5000), (75, 0x4B00), (50, 0x3200), (25, 0x1900),
     (0.25, 0x0040), (0, 0x0000), (-0.25, 0xFFC0), (-25, 0xE700), (-55, 0xC900)],
)  # fmt: skip
def test_temperature_register_matches_the_datasheet_table(celsius, register):
    assert read(TMP102(celsius), TMP102.TEMPERATURE) == register
    assert TMP102.decode(register) == celsius


def test_extended_mode_is_13_bit_with_bit_0_set_and_reaches_150():
    dev = TMP102(150)
    dev.write(bytes([TMP102.CONFIG, 0x60, 0xB0]))  # EM = 1
    dev.temperature = 150
    assert read(dev, TMP102.TEMPERATURE) == 0x4B01
    dev.temperature = -55
    assert read(dev, TMP102.TEMPERATURE) == 0xE481
    assert TMP102.decode(0x4B01) == 150


def test_power_up_configuration_and_limits():
    dev = TMP102()
    assert read(dev, TMP102.CONFIG) == 0x60A0
    assert read(dev, TMP102.T_LOW) == 0x4B00  # 75 C
    assert read(dev, TMP102.T_HIGH) == 0x5000  # 80 C


def test_pointer_persists_and_reads_repeat_the_register():
    dev = TMP102(25)
    dev.write(bytes([TMP102.T_HIGH]))
    assert dev.read(2) == b"\x50\x00"
    assert dev.read(4) == b"\x50\x00\x50\x00"  # no new pointer: the same register again
    assert dev.read(1) == b"\x50"


def test_read_only_bits_and_registers_ignore_writes():
    dev = TMP102(25)
    dev.write(bytes([TMP102.TEMPERATURE, 0x12, 0x34]))
    assert read(dev, TMP102.TEMPERATURE) == 0x1900
    dev.write(bytes([TMP102.CONFIG, 0x00, 0x00]))  # tries to clear R1:R0 and AL
    assert read(dev, TMP102.CONFIG) == 0x6020


def test_shutdown_holds_the_last_conversion_until_a_one_shot():
    dev = TMP102(20)
    dev.write(bytes([TMP102.CONFIG, 0x61, 0xA0]))  # SD = 1
    dev.temperature = 30
    assert read(dev, TMP102.TEMPERATURE) == TMP102.encode(20, False)
    assert read(dev, TMP102.CONFIG) & 0x8000 == 0
    dev.write(bytes([TMP102.CONFIG, 0xE1, 0xA0]))  # OS = 1 while shut down: one conversion
    assert read(dev, TMP102.TEMPERATURE) == TMP102.encode(30, False)
    assert read(dev, TMP102.CONFIG) & 0x8000  # OS reads 1 once the conversion is done
    dev.write(bytes([TMP102.CONFIG, 0x60, 0xA0]))  # back to continuous
    dev.temperature = 31
    assert read(dev, TMP102.TEMPERATURE) == TMP102.encode(31, False)


def test_comparator_alert_waits_for_the_fault_queue_and_clears_below_t_low():
    dev = TMP102(25)
    dev.write(bytes([TMP102.CONFIG, 0x68, 0xA0]))  # F1:F0 = 01: two consecutive faults
    dev.write(bytes([TMP102.T_HIGH]) + TMP102.encode(30, False).to_bytes(2, "big"))
    dev.write(bytes([TMP102.T_LOW]) + TMP102.encode(28, False).to_bytes(2, "big"))
    dev.temperature = 31
    assert not dev.alert and read(dev, TMP102.CONFIG) & 0x20  # AL reads 1: not active (POL = 0)
    dev.temperature = 32
    assert dev.alert and not read(dev, TMP102.CONFIG) & 0x20
    assert dev.alert_level == 0  # the ALERT pin is active low
    dev.temperature = 29  # between the limits: stays active
    dev.temperature = 27
    assert dev.alert
    dev.temperature = 26
    assert not dev.alert


def test_polarity_inverts_the_alert():
    dev = TMP102(25)
    dev.write(bytes([TMP102.CONFIG, 0x64, 0xA0]))  # POL = 1
    dev.temperature = 85
    assert dev.alert and dev.alert_level == 1
    assert read(dev, TMP102.CONFIG) & 0x20


def test_interrupt_mode_alert_is_cleared_by_a_read_and_rearms_on_t_low():
    dev = TMP102(25)
    dev.write(bytes([TMP102.CONFIG, 0x62, 0xA0]))  # TM = 1
    dev.temperature = 85
    assert dev.alert
    read(dev, TMP102.TEMPERATURE)
    assert not dev.alert
    dev.temperature = 90  # still above T_HIGH: no new alert until it has gone below T_LOW
    assert not dev.alert
    dev.temperature = 70
    assert dev.alert
