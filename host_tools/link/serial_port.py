"""A serial port that may disappear: opened by path or pyserial URL, reopened when it comes back."""

from __future__ import annotations

import select
import time

import serial

from host_tools.errors import UserError

READ_TIMEOUT = 0.005  # seconds a read waits; also how often the bridge loop turns when idle


class SerialPort:
    """`read()` and `write()` never raise for a vanished port: they report it and the next call
    tries to reopen it (at most every `retry` seconds)."""

    def __init__(self, url: str, baudrate: int = 115200, retry: float = 0.2) -> None:
        self.url = url
        self.baudrate = baudrate
        self.retry = retry
        self.ser: serial.SerialBase | None = None
        self.opens = 0
        self.losses = 0
        self.last_error = ""
        self._next_try = 0.0
        self._fd: int | None = None

    @property
    def is_open(self) -> bool:
        return self.ser is not None

    def open(self) -> bool:
        if self.ser is not None:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry
        try:
            # Reads never block (timeout 0); read() waits on the file descriptor itself, so a byte
            # is handled the moment it arrives and a burst is taken in one call.
            self.ser = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0, write_timeout=2)
        except ValueError as e:
            # An unknown URL scheme or a bad setting will not fix itself by waiting.
            raise UserError(
                f"port {self.url}: {e}; use a device path, socket://HOST:PORT, rfc2217://HOST:PORT or loop://"
            ) from None
        except (serial.SerialException, OSError) as e:
            self.last_error = str(e)
            return False
        self.opens += 1
        try:
            self._fd = self.ser.fileno()
        except (AttributeError, OSError, NotImplementedError, serial.SerialException):
            self._fd = None  # loop:// and friends: poll with a short sleep instead
        return True

    def read(self) -> bytes:
        ser = self.ser
        if ser is None:
            if not self.open():
                time.sleep(READ_TIMEOUT)
            return b""
        try:
            if self._fd is not None:
                select.select([self._fd], [], [], READ_TIMEOUT)
            data = ser.read(65536)
            if not data and self._fd is None:
                time.sleep(READ_TIMEOUT / 2)
            return data
        except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as e:
            # TypeError/AttributeError: pyserial's socket handler after the peer closed it.
            self._lost(e)
            return b""

    def write(self, data: bytes) -> bool:
        ser = self.ser
        if ser is None:
            return False
        try:
            ser.write(data)
            return True
        except (serial.SerialException, OSError, TypeError, AttributeError) as e:
            self._lost(e)
            return False

    def _lost(self, e: Exception) -> None:
        self.last_error = str(e)
        self.losses += 1
        self.close()

    def close(self) -> None:
        ser, self.ser = self.ser, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError):
                pass
