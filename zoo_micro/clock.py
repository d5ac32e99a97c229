# The node's wall clock. Boards have no calendar time until someone tells them: the bridge host
# does, and ticks carry it between updates.
from zoo_micro import port

_base = None  # wall-clock milliseconds at _tick
_tick = 0


def set_ms(wall_ms):
    """Set the wall clock (milliseconds since 1970-01-01 UTC)."""
    global _base, _tick
    _tick = port.ticks_ms()
    _base = int(wall_ms)


def synced():
    return _base is not None


def time_ms():
    """Milliseconds since 1970-01-01 UTC, or None before the first set_ms()."""
    if _base is None:
        return None
    return _base + port.ticks_diff(port.ticks_ms(), _tick)


def time():
    """Whole seconds since 1970-01-01 UTC, or None before the first set_ms()."""
    t = time_ms()
    return None if t is None else t // 1000
