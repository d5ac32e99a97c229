"""The host's side of the virtual board's peripherals: what it drives in, what it saw come out.

The state outlives resets (a level on a wire does not change when the board reboots): it is sent to
the board in the reply to its hello at every boot, and changes are sent as they happen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from host_tools.sim.devices import I2CDevice

PinId = int | str
ENODEV = 19  # what ESP32 raises for an address nobody acknowledges
EIO = 5


class Peripherals:
    def __init__(self, send: Callable[[dict], None]) -> None:
        self._send = send
        self._cond = threading.Condition()
        self.inputs: dict[PinId, int] = {}
        self.outputs: dict[PinId, int] = {}  # pins the board drives: their latch
        self.pwm: dict[PinId, dict] = {}
        self.adc: dict[PinId, dict] = {}
        self.i2c: dict[int, I2CDevice] = {}
        self.uart_loop: set[int] = set()
        self.uart_out: dict[int, bytearray] = {}
        self.rtc_offset = 0.0
        self.i2c_errors: list[str] = []

    def initial_state(self) -> dict:
        with self._cond:
            return {
                "pins": [[k, v] for k, v in self.inputs.items()],
                "adc": [[k, dict(v)] for k, v in self.adc.items()],
                "uart_loop": sorted(self.uart_loop),
            }

    # Driving the board's inputs

    def set_pin(self, pin: PinId, value: int | bool | None) -> None:
        """Drive an input pin high (1) or low (0); None lets it float (its pull decides)."""
        with self._cond:
            if value is None:
                self.inputs.pop(pin, None)
            else:
                self.inputs[pin] = 1 if value else 0
        self._send({"op": "pin", "id": pin, "v": None if value is None else (1 if value else 0)})

    def set_adc(
        self,
        pin: PinId,
        value: int | None = None,
        *,
        sequence: list[int] | None = None,
        loop: bool = False,
        mean: float | None = None,
        noise: float = 0.0,
        seed: int = 1,
    ) -> None:
        """What ADC(pin).read_u16() returns (0..65535): a constant, a sequence (one value per read; the
        last repeats unless loop), or mean plus normal noise of spread `noise` (seeded, reproducible)."""
        if sequence is not None:
            spec: dict[str, Any] = {"seq": [int(v) for v in sequence], "loop": loop}
        elif mean is not None:
            spec = {"mean": mean, "noise": noise, "seed": seed}
        elif value is not None:
            spec = {"value": int(value)}
        else:
            raise ValueError("set_adc needs a value, a sequence or a mean")
        with self._cond:
            self.adc[pin] = spec
        self._send({"op": "adc", "id": pin, "spec": spec})

    def i2c_device(self, address: int, device: I2CDevice) -> I2CDevice:
        """Attach a device model at an address (on every I2C bus of the board); returns it."""
        if not 0x08 <= address <= 0x77:
            raise ValueError(f"I2C address 0x{address:02x} is outside 0x08..0x77")
        with self._cond:
            self.i2c[address] = device
        return device

    def uart_send(self, uart: int, data: bytes) -> None:
        """Bytes arriving on the board's UART rx pin."""
        self._send({"op": "uart", "id": uart, "data": bytes(data).hex()})

    def uart_loopback(self, uart: int, on: bool = True) -> None:
        """Wire the UART's tx back to its rx: the app reads what it writes."""
        with self._cond:
            (self.uart_loop.add if on else self.uart_loop.discard)(uart)
        self._send({"op": "uart_loop", "id": uart, "on": on})

    def set_rtc_offset(self, offset: float) -> None:
        with self._cond:
            self.rtc_offset = offset
        self._send({"op": "rtc", "offset": offset})

    # Reading the board's outputs

    def pin(self, pin: PinId) -> int | None:
        """The level the board drives on a pin, or None if it never drove it."""
        with self._cond:
            return self.outputs.get(pin)

    def wait_for_pin(self, pin: PinId, value: int, timeout: float = 10.0) -> None:
        self._wait(lambda: self.outputs.get(pin) == value, timeout, f"pin {pin!r} to be driven to {value}")

    def uart_received(self, uart: int, clear: bool = True) -> bytes:
        with self._cond:
            buf = self.uart_out.setdefault(uart, bytearray())
            data = bytes(buf)
            if clear:
                buf.clear()
            return data

    def wait_for_uart(self, uart: int, data: bytes, timeout: float = 10.0) -> bytes:
        """Wait until the board has written `data` on the UART; returns (and clears) all it wrote."""
        self._wait(lambda: data in self.uart_out.get(uart, b""), timeout, f"UART {uart} to send {data!r}")
        return self.uart_received(uart)

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
                self._cond.wait(left)

    # Messages from the board

    def handle(self, msg: dict) -> dict | None:
        """A notification (returns None) or a request (returns the reply) from the board."""
        op = msg.get("op")
        if op == "i2c":
            return self._i2c(msg)
        if op == "i2c_scan":
            with self._cond:
                return {"addrs": sorted(self.i2c)}
        with self._cond:
            if op == "pin":
                if msg["mode"] == 1:
                    self.outputs.pop(msg["id"], None)
                else:
                    self.outputs[msg["id"]] = msg["v"]
            elif op == "pwm":
                self.pwm[msg["id"]] = {"freq": msg["freq"], "duty_u16": msg["duty_u16"]}
            elif op == "uart":
                self.uart_out.setdefault(msg["id"], bytearray()).extend(bytes.fromhex(msg["data"]))
            elif op == "rtc":
                self.rtc_offset = msg["offset"]
            self._cond.notify_all()
        return None

    def _i2c(self, msg: dict) -> dict:
        with self._cond:
            device = self.i2c.get(msg["addr"])
        if device is None:
            return {"err": ENODEV}
        try:
            if msg["w"]:
                device.write(bytes.fromhex(msg["w"]))
            data = device.read(msg["r"]) if msg["r"] else b""
        except OSError as e:
            return {"err": e.errno or EIO}
        except Exception as e:  # a bug in a device model must not hang the board
            self.i2c_errors.append(f"{type(device).__name__}: {e!r}")
            return {"err": EIO}
        if len(data) != msg["r"]:
            self.i2c_errors.append(f"{type(device).__name__}.read({msg['r']}) returned {len(data)} bytes")
            return {"err": EIO}
        return {"data": bytes(data).hex()}
