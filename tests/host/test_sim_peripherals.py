"""The virtual board's fake machine module, driven and watched from the host."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

from host_tools.sim import TMP102, I2CDevice


def make_app(folder: Path, main: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(main))
    return folder


def test_pin_irq_fires_on_each_scripted_edge_while_main_sleeps(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import time
        from machine import Pin
        button = Pin(4, Pin.IN, Pin.PULL_UP)
        print("idle level", button.value())
        def pressed(pin):
            print("edge", pin.value())
        button.irq(pressed, Pin.IRQ_FALLING | Pin.IRQ_RISING)
        print("ready")
        time.sleep(60)
        """,
    )
    board = zoo_board(app)
    assert board.wait_for_event("idle level") == "idle level 1"  # the pull-up, nothing driving it
    board.wait_for_event("ready")
    board.set_pin(4, 0)
    assert board.wait_for_event("edge") == "edge 0"
    board.set_pin(4, 1)
    assert board.wait_for_event("edge") == "edge 1"
    board.set_pin(4, 1)  # no edge: the level did not change
    board.set_pin(4, 0)
    assert board.wait_for_event("edge") == "edge 0"


def test_only_the_requested_edge_fires_and_levels_survive_a_reset(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import asyncio
        from machine import Pin
        pin = Pin(5, Pin.IN)
        print("level at boot", pin.value())
        pin.irq(lambda p: print("fell"), Pin.IRQ_FALLING)
        print("ready")

        async def idle():
            await asyncio.sleep(60)

        asyncio.run(idle())
        """,
    )
    board = zoo_board(app)
    board.wait_for_event("ready")
    board.set_pin(5, 1)
    board.set_pin(5, 0)
    board.wait_for_event("fell")
    board.set_pin(5, 1)
    board.reset()
    assert board.wait_for_event("level at boot") == "level at boot 1"
    assert board.output.count("fell") == 1


def test_host_sees_the_level_the_app_drives(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import time
        from machine import Pin
        led = Pin(2, Pin.OUT, value=0)
        for i in range(3):
            led.toggle()
            print("led", led.value())
            time.sleep(0.05)
        """,
    )
    board = zoo_board(app)
    board.wait_for_event("led 1")
    board.wait_for_event("led 0")
    board.wait_for_event("led 1")
    board.wait_for_pin(2, 1)
    assert board.pin(2) == 1
    assert board.pin(3) is None


def test_adc_returns_a_scripted_sequence_then_holds_the_last_value(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        from machine import ADC, Pin
        adc = ADC(Pin(34))
        print("u16", [adc.read_u16() for _ in range(5)])
        print("12bit", adc.read(), "uv", adc.read_uv())
        """,
    )
    board = zoo_board(app, start=False)
    board.set_adc(34, sequence=[0, 1000, 65535])
    board.start()
    assert board.wait_for_event("u16") == "u16 [0, 1000, 65535, 65535, 65535]"
    assert board.wait_for_event("12bit") == f"12bit {65535 >> 4} uv 3300000"


def test_noisy_adc_is_reproducible_and_centred_on_its_mean(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        from machine import ADC
        adc = ADC(26)
        values = [adc.read_u16() for _ in range(400)]
        print("mean", sum(values) // len(values), "spread", max(values) - min(values))
        print("first", values[:5])
        """,
    )
    seen = []
    for _ in range(2):
        board = zoo_board(app, start=False)
        board.set_adc(26, mean=30000, noise=500, seed=7)
        board.start()
        mean_line = board.wait_for_event("mean")
        seen.append(board.wait_for_event("first"))
        mean, spread = int(mean_line.split()[1]), int(mean_line.split()[3])
        assert abs(mean - 30000) < 150
        assert 1000 < spread < 6000
    assert seen[0] == seen[1]


def test_app_reads_a_tmp102_over_i2c(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import time
        from machine import I2C, Pin
        i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)
        print("scan", i2c.scan())
        def celsius():
            raw = i2c.readfrom_mem(0x48, 0, 2)
            value = (raw[0] << 8 | raw[1]) >> 4
            if value & 0x800:
                value -= 0x1000
            return value * 0.0625
        print("temp", celsius())
        print("config", hex(int.from_bytes(i2c.readfrom_mem(0x48, 1, 2), "big")))
        while True:
            line = input()
            print("temp", celsius())
        """,
    )
    board = zoo_board(app, start=False)
    sensor = board.i2c_device(0x48, TMP102(temperature=21.5))
    board.start()
    assert board.wait_for_event("scan") == "scan [72]"
    assert board.wait_for_event("temp") == "temp 21.5"
    assert board.wait_for_event("config") == "config 0x60a0"
    sensor.temperature = -10.25
    board.write(b"\r")
    assert board.wait_for_event("temp") == "temp -10.25"


def test_i2c_without_a_device_at_the_address_raises_enodev(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        from machine import I2C
        i2c = I2C(0)
        try:
            i2c.readfrom(0x50, 1)
        except OSError as e:
            print("errno", e.errno)
        """,
    )
    board = zoo_board(app)
    assert board.wait_for_event("errno") == "errno 19"


def test_a_custom_i2c_device_sees_the_apps_writes(zoo_board, tmp_path):
    class Eeprom(I2CDevice):
        def __init__(self) -> None:
            self.mem = bytearray(256)
            self.addr = 0

        def write(self, data: bytes) -> None:
            self.addr = data[0]
            self.mem[self.addr : self.addr + len(data) - 1] = data[1:]
            self.addr += len(data) - 1

        def read(self, n: int) -> bytes:
            out = bytes(self.mem[self.addr : self.addr + n])
            self.addr += n
            return out

    app = make_app(
        tmp_path / "app",
        """
        from machine import I2C
        i2c = I2C(0)
        i2c.writeto_mem(0x50, 16, b"zoo")
        print("read back", i2c.readfrom_mem(0x50, 16, 3))
        """,
    )
    board = zoo_board(app, start=False)
    eeprom = board.i2c_device(0x50, Eeprom())
    board.start()
    assert board.wait_for_event("read back") == "read back b'zoo'"
    assert eeprom.mem[16:19] == b"zoo"


def test_uart_bytes_go_to_the_host_and_come_from_it(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import time
        from machine import UART
        uart = UART(1, 9600, tx=17, rx=16)
        uart.write(b"AT\\r\\n")
        while not uart.any():
            time.sleep(0.01)
        time.sleep(0.05)
        print("got", uart.read())
        """,
    )
    board = zoo_board(app)
    assert board.wait_for_uart(1, b"AT\r\n") == b"AT\r\n"
    board.uart_send(1, b"OK\r\n")
    assert board.wait_for_event("got") == "got b'OK\\r\\n'"
    assert board.uart_received(1) == b""


def test_uart_in_loopback_reads_what_it_wrote(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        from machine import UART
        uart = UART(1, 9600)
        uart.write(b"echo me")
        print("looped", uart.read(), uart.read())
        """,
    )
    board = zoo_board(app, start=False)
    board.uart_loopback(1)
    board.start()
    assert board.wait_for_event("looped") == "looped b'echo me' None"
    assert board.wait_for_uart(1, b"echo me") == b"echo me"  # the host still sees the TX wire


def test_periodic_timer_fires_while_main_sleeps_and_one_shot_fires_once(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import time
        from machine import Timer
        ticks = []
        once = []
        periodic = Timer(0)
        t0 = time.ticks_ms()
        periodic.init(period=20, mode=Timer.PERIODIC, callback=lambda t: ticks.append(1))
        Timer(1, mode=Timer.ONE_SHOT, period=30, callback=lambda t: once.append(1))
        time.sleep(0.5)
        periodic.deinit()
        n = len(ticks)
        elapsed = time.ticks_diff(time.ticks_ms(), t0)
        time.sleep(0.2)
        print("ticks", n, "in", elapsed, "after deinit", len(ticks) - n, "one-shot", len(once))
        """,
    )
    board = zoo_board(app)
    line = board.wait_for_event("ticks").split()
    ticks, elapsed = int(line[1]), int(line[3])
    assert 3 <= ticks <= elapsed // 20  # fires again and again, never before its period
    assert line[6] == "0"
    assert line[8] == "1"


def test_timer_callback_is_a_soft_interrupt_that_wakes_asyncio(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import asyncio
        from machine import Timer
        from zoo_micro import Master

        master = Master({"threads": True})
        master.subscribe("tick", lambda req: print("tick event", req.content))
        Timer(0, mode=Timer.ONE_SHOT, period=50, callback=lambda t: master.publish_isr("tick", 1))
        master.run(1.0)
        print("stopped")
        """,
    )
    # zoo_micro compiled from source on the board needs more than an ESP32's heap on a 64-bit port
    board = zoo_board(app, heap_kb=256)
    assert board.wait_for_event("tick event") == "tick event 1"
    board.wait_for_event("stopped")


def test_watchdog_not_fed_resets_the_board_and_fed_does_not(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import machine, time
        print("cause", machine.reset_cause())
        wdt = machine.WDT(timeout=600)
        if machine.reset_cause() != machine.WDT_RESET:
            print("feeding")
            for _ in range(20):
                time.sleep(0.05)
                wdt.feed()
            print("stopped feeding")
        time.sleep(60)
        """,
    )
    board = zoo_board(app)
    assert board.wait_for_event("cause") == "cause 1"
    board.wait_for_event("stopped feeding")
    assert board.resets == ["power"]  # 1 s of feeding every 50 ms outlived a 600 ms watchdog
    assert board.wait_for_reset() == "wdt"
    assert board.wait_for_event("cause") == "cause 3"
    assert board.wait_for_reset() == "wdt"  # not fed after the reset either


def test_machine_reset_and_deepsleep_restart_the_board_with_their_cause(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import machine
        cause = machine.reset_cause()
        print("cause", cause)
        if cause == machine.PWRON_RESET:
            machine.reset()
        elif cause == machine.HARD_RESET:
            machine.deepsleep(100)
        """,
    )
    board = zoo_board(app)
    assert board.wait_for_event("cause") == "cause 1"
    assert board.wait_for_event("cause") == "cause 2"
    assert board.wait_for_event("cause") == "cause 4"
    assert board.resets == ["power", "hard", "deepsleep"]


def test_rtc_is_set_by_the_host_and_by_the_app_and_kept_across_resets(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        from machine import RTC
        rtc = RTC()
        print("rtc", rtc.datetime()[:7])
        input()
        rtc.datetime((2031, 5, 6, 1, 7, 8, 9, 0))
        print("set")
        """,
    )
    board = zoo_board(app)
    assert board.wait_for_event("rtc").startswith(
        f"rtc ({datetime.datetime.now(datetime.timezone.utc).year}, "
    )
    board.set_rtc(datetime.datetime(2030, 1, 2, 3, 4, 5))
    board.reset()
    year_month_day = board.wait_for_event("rtc").split("(")[1][:16]
    assert year_month_day == "2030, 1, 2, 2, 3"  # Wednesday (2), 03:..
    board.write(b"\r")
    board.wait_for_event("set")
    board.reset()
    assert "rtc (2031, 5, 6, 1, 7, 8, " in board.wait_for_event("rtc")


def test_unique_id_and_freq_look_like_the_board(zoo_board, tmp_path):
    app = make_app(
        tmp_path / "app",
        """
        import machine
        print("id", len(machine.unique_id()), "freq", machine.freq())
        machine.freq(80000000)
        print("freq now", machine.freq())
        """,
    )
    esp = zoo_board(app, board="esp32")
    pico = zoo_board(app, board="pico")
    assert esp.wait_for_event("id") == "id 6 freq 160000000"
    assert esp.wait_for_event("freq now") == "freq now 80000000"
    assert pico.wait_for_event("id") == "id 6 freq 125000000"
