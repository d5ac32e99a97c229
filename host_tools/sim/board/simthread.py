# _thread for the virtual board: the unix port's own, but no more threads at once than the board
# has (its max_threads), as an RP2040 has one core to spare and an ESP32 a few stacks.
import _thread
from _thread import *  # noqa: F403

import simlink

LIMIT = simlink.cfg["max_threads"]
_lock = _thread.allocate_lock()
_running = [0]


def start_new_thread(function, args, kwargs=None):
    with _lock:
        if _running[0] >= LIMIT:
            raise OSError("can't create thread: this board runs at most %d" % LIMIT)
        _running[0] += 1

    def run():
        try:
            function(*args, **(kwargs or {}))
        finally:
            with _lock:
                _running[0] -= 1

    return _thread.start_new_thread(run, ())
