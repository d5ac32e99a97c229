# Entry point: runs on a board as main.py, and on the unix port or CPython as a script.
#   micropython main.py                 run until Ctrl-C, printing what happens
#   micropython main.py --seconds 10    run for 10 seconds
#   micropython main.py --events 10000  push 10,000 readings through the bus, then report
import asyncio
import sys

from node import build, pump


def _arg(name, default):
    argv = getattr(sys, "argv", [])
    if name in argv:
        return float(argv[argv.index(name) + 1])
    return default


def main():
    seconds = _arg("--seconds", None)
    events = _arg("--events", None)
    m, readings = build({"name": "sensor-node"}, verbose=events is None, sample_every=0.2)
    print("sensor node %s: sampling every 0.2 s, alarm above 28.0 C" % m.name)
    if events is None:
        try:
            m.run(seconds)
        except KeyboardInterrupt:
            pass
    else:

        async def load():
            await m.start()
            await pump(m, readings, int(events))
            await m.stop()

        asyncio.run(load())
    s = m.stats()
    print("readings %s" % readings.summary())
    print(
        "events published=%d delivered=%d dropped=%d; logger wrote %d lines"
        % (s["published"], s["delivered"], s["dropped"], m.get_worker("logger").lines)
    )


main()
