# Runs one runtime test function; the same file runs on CPython and on MicroPython.
# usage: runner.py MODULE TEST
import asyncio
import sys

from zoo_micro import port

mod_name, test_name = sys.argv[1], sys.argv[2]
mod = __import__(mod_name)
r = getattr(mod, test_name)()
if type(r) is port.CORO:
    asyncio.run(r)
print("ZOO-TEST-PASSED")
