# Entry point: runs on a board as main.py, and on the unix port or CPython as a script.
#   micropython main.py                 run until Ctrl-C, printing what happens
#   micropython main.py --seconds 10    run for 10 seconds
#   micropython main.py --events 10000  push 10,000 readings through the bus, then report
#   micropython main.py --core ...      only the core node: no state, modes, watchdog or health
#   micropython main.py --bridge ...    events and health go to a host running `zoo-micro bridge`
import asyncio
import sys

from node import build

BRIDGE = False  # True: share readings with a host through `zoo-micro bridge` on this serial port

CONFIG = {
    "name": "sensor-node",
    "svm_check_interval": 2,  # health report every 2 s
    "watchdog": {"timeout_ms": 8000},  # reboots a hung board; off where there is no machine.WDT
    "state_path": "state.json",
}


def _arg(name, default):
    argv = getattr(sys, "argv", [])
    if name in argv:
        return float(argv[argv.index(name) + 1])
    return default


def main():
    seconds = _arg("--seconds", None)
    events = _arg("--events", None)
    core = "--core" in getattr(sys, "argv", [])
    if BRIDGE or "--bridge" in getattr(sys, "argv", []):
        # Health goes up too (the plugin's default); print() output reaches the host as text.
        CONFIG["bridge"] = {"stream": "stdio", "up": ["sampler_result", "sensor.#"]}
    # A burst of failed reads every 40: a run of a few seconds shows degraded mode and recovery.
    m, readings, mode = build(CONFIG, verbose=events is None, fail_every=0 if events else 40, core=core)
    print("sensor node %s: %s" % (m.name, "core" if core else "mode " + mode.state))
    if m.get_worker("sampler").sensor.simulated:
        print("no TMP102 at 0x48 on I2C(0): simulating readings")
    if events is None:
        if mode:
            mode.trigger("booted")
        try:
            m.run(seconds)
        except KeyboardInterrupt:
            pass
    else:
        from load_test import pump

        async def load():
            await m.start()
            if mode:
                mode.trigger("booted")
            await pump(m, readings, int(events), m.plugins.get("bridge") if "bridge" in CONFIG else None)
            await m.stop()

        asyncio.run(load())
    s = m.stats()
    print("readings %s; mode %s" % (readings.summary(), mode.state if mode else "-"))
    print(
        "events published=%d delivered=%d dropped=%d; logger wrote %d lines"
        % (s["published"], s["delivered"], s["dropped"], m.get_worker("logger").lines)
    )


main()
