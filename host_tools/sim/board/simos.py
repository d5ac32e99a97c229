# os as the board's firmware has it, put in sys.modules at boot: with os.uname() naming the board.
import os as _os
import sys
from collections import namedtuple

import simlink

_v = sys.implementation.version
_release = "%d.%d.%d" % _v[:3] + ("-" + _v[3] if len(_v) > 3 and _v[3] else "")


def __getattr__(name):
    return getattr(_os, name)


_uname = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))


def uname():
    p = simlink.cfg["platform"]
    return _uname(p, p, _release, "v" + _release, simlink.cfg["machine"])
