# A node for the bridge tests (MicroPython): it sends test.up 0..N-1 as fast as its outbox takes
# them, echoes every test.down back as test.got, mirrors its progress in the state store, prints
# text and a traceback between frames, and restarts itself when the host asks. With "wait_room" it
# publishes from an async worker that awaits the bridge's wait_room() before each event instead.
# usage: micropython device_app.py SETTINGS.json
import json
import sys

from zoo_micro import BaseWorker, Master, log, port

with open(sys.argv[1]) as f:
    settings = json.load(f)
N = settings["up"]
progress_path = settings["progress"]
try:
    with open(progress_path) as f:
        progress = json.load(f)
except OSError:
    progress = {"next": 0, "restarts": 0}

bridge_cfg = {
    "stream": "stdio",
    "up": ["test.#"],
    "down": ["test.down", "test.restart"],
    "outbox": settings.get("outbox", 256),
}
if settings.get("journal"):
    bridge_cfg["journal"] = settings["journal"]
bridge_cfg.update(settings.get("bridge", {}))  # more bridge options, as a test needs them
master = Master(
    {
        "name": settings["node"],
        "state_path": None,
        "svm_check_interval": settings.get("health_every", 5),
        "bridge": bridge_cfg,
    }
)
store = None
if settings.get("state", True):  # off: a leaner node, for the tests at a board's heap
    from zoo_micro.state import StateMachineManager

    store = StateMachineManager()
    for i in range(settings.get("state_keys", 0)):  # a store with many keys, all there at start
        store.set_state("many", "k%d" % i, i)
dispatched = [progress["next"]]  # test.up events that went through the bus (and so into the outbox)


class Generator(BaseWorker):
    is_loop = True
    delay_time = 0.002

    def __init__(self, props=None):
        super().__init__(props)
        self.i = progress["next"]

    def _execute(self):
        b = master.plugins.get("bridge")
        tx = b.session
        # room() counts what the bus holds and its queue's room; half the outbox is left for
        # what the app adds besides: echoes of a burst of host events.
        free = tx.box - (tx.next - tx.low - tx.nside) - master.bus.pending - tx.box // 2
        k = min(b.room() - 8, free, 16, N - self.i)
        for _ in range(k):
            if not master.publish("test.up", self.i):
                raise RuntimeError("the bus dropped test.up %d" % self.i)
            self.i += 1
            if self.i % 1000 == 0:
                print("progress", self.i)  # text on the same line as the frames
            if self.i == 500 and not progress["restarts"]:
                port.print_exception(ValueError("a traceback printed between frames"))
                log.warn("half a thousand sent")


LOG_EVERY = settings.get("log_every")


def counted(ev):
    dispatched[0] = ev.content + 1
    if LOG_EVERY and dispatched[0] % LOG_EVERY == 0:
        log.info("sent %d" % dispatched[0])
        store.set_state("app", "progress", dispatched[0])
    if dispatched[0] % 1000 == 0 and store:
        store.set_state("app", "progress", dispatched[0])


def echo(ev):
    if not master.publish("test.got", ev.content):
        raise RuntimeError("the bus dropped test.got %r" % (ev.content,))


restart = []


def on_restart(ev):
    restart.append(ev.content["unacked_at_least"])


class Restarter(BaseWorker):
    # Ends the process abruptly, as a reset would, once enough events wait unacknowledged. It waits
    # for an idle bus: a host event is acknowledged as it enters the bus, so one whose echo is not
    # yet in the outbox would be lost to the reset (docs/bridge.md says so), not to the link.
    is_loop = True
    delay_time = 0.01

    def _execute(self):
        tx = master.plugins.get("bridge").session
        if restart and tx.next - tx.low >= restart[0] and not master.bus.pending:
            with open(progress_path, "w") as f:
                unacked = tx.next - tx.low
                json.dump(
                    {"next": dispatched[0], "restarts": progress["restarts"] + 1, "unacked": unacked}, f
                )
            raise SystemExit(3)


class RoomWaiter(BaseWorker):
    # What docs/bridge.md asks of an app that must not lose events: wait for room, then publish.
    is_loop = False

    async def _execute(self):
        b = master.plugins.get("bridge")
        i = progress["next"]
        while i < N:
            await b.wait_room()
            if not master.publish("test.up", i):
                raise RuntimeError("the bus dropped test.up %d" % i)
            i += 1


class Flooder(BaseWorker):
    # Publishes as fast as the bus takes events, whatever the outbox's room; then, once there is
    # room, says how many it published (test.end).
    is_loop = False

    async def _execute(self):
        import asyncio

        i = 0
        while i < N:
            for _ in range(min(master.bus.room() - 8, 16, N - i)):
                if not master.publish("test.up", i):
                    raise RuntimeError("the bus dropped test.up %d" % i)
                i += 1
            await asyncio.sleep_ms(1)
        await master.plugins.get("bridge").wait_room()
        master.publish("test.end", N)


SIDE_NO_HEAP = settings.get("side_no_heap", 0)
UP_NO_HEAP = settings.get("up_no_heap", [])  # test.up contents that find no heap to be encoded in


class NoHeap(BaseWorker):
    # Until `side_no_heap` test.up events went through the bus, every health report, state change
    # and log line finds no heap to be encoded in, as on a node at the end of its heap; so do the
    # test.up events listed in `up_no_heap`.
    is_loop = False

    def _execute(self):
        tx = master.plugins.get("bridge").session
        send = tx.send

        def no_heap(topic, content=None, channel="default", priority=0, side=False, text=None):
            if side and dispatched[0] < SIDE_NO_HEAP:
                raise MemoryError
            if topic == "test.up" and content in UP_NO_HEAP:
                raise MemoryError
            return send(topic, content, channel, priority, side, text)

        tx.send = no_heap


if SIDE_NO_HEAP or UP_NO_HEAP:
    master.register_worker("no_heap", NoHeap)
master.subscribe("test.up", counted)
master.subscribe("test.down", echo)
master.subscribe("test.restart", on_restart)
master.register_worker(
    "gen", RoomWaiter if settings.get("wait_room") else Flooder if settings.get("flood") else Generator
)
master.register_worker("restarter", Restarter)
master.run()
