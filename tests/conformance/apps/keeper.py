# What every conformance app shares: notes kept per actor (threads of the full framework run
# workers and reactors at once, so output is gathered and printed in one order at the end) and a
# loop worker that ends the app once it has seen what it waits for.
import time

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.workers import BaseWorker

# ---

GIVE_UP_S = 10  # every app is done within 4 s on zoo-framework (1 s rounds), sooner on zoo_micro
notes = {}
_app = {"master": None, "until": None, "stopped": False}


def note(who, *words):
    """Record one line for `who` (one worker or one reactor: its lines keep their order)."""
    line = " ".join([str(w) for w in words])
    if who in notes:
        notes[who].append(line)
    else:
        notes[who] = [line]


def seen(who):
    return len(notes.get(who, ()))


def until(master, cond):
    """End the app (master.shutdown() from a worker, as a zoo-framework app does) once cond()."""
    _app["master"] = master
    _app["until"] = cond
    master.register_worker("Keeper", Keeper)


class Keeper(BaseWorker):
    def __init__(self):
        super().__init__({"is_loop": True, "delay_time": 0.05, "name": "Keeper"})
        self.checks = 0
        self.since = time.time()

    def _execute(self):
        if _app["stopped"]:
            return
        self.checks += 1
        done = _app["until"]()
        if done or time.time() - self.since > GIVE_UP_S:
            if not done:
                note("~keeper", "gave up waiting after", GIVE_UP_S, "s")
            _app["stopped"] = True
            _app["master"].shutdown()
            _app["stopped"] = "shut down"


def report():
    """After master.run(): print every actor's lines, actors in name order."""
    for _ in range(500):  # the full framework may still be in its shutdown on the Keeper's thread
        if _app["master"] is None or _app["stopped"] == "shut down":
            break
        time.sleep(0.01)
    for who in sorted(notes):
        for line in notes[who]:
            print("%s: %s" % (who, line))
    print("end")
