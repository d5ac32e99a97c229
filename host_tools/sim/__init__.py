"""The virtual board: an app on the MicroPython unix port, with a board's heap, flash, peripherals and
serial port. MicroPython code that runs on the board side lives in board/."""

from host_tools.sim.control import ControlClient
from host_tools.sim.devices import TMP102, I2CDevice
from host_tools.sim.virtual_board import VirtualBoard

__all__ = ["TMP102", "ControlClient", "I2CDevice", "VirtualBoard"]
