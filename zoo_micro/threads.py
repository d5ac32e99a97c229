# What only nodes with thread workers or interrupt publishers load: the inbox that carries their
# events to the loop, and the body of a thread worker's _thread.
import asyncio

from zoo_micro import log, port
from zoo_micro.waker import Waker
from zoo_micro.workers import run_once


def push(bus, ch, e, isr=False):
    """Queue an event published off the loop's thread (or from an interrupt) for the pump."""
    if bus.inbox is None:
        raise RuntimeError(
            "publish from another thread or an interrupt needs the thread wake-up: "
            "add a thread worker or set config 'threads': true"
        )
    return bus.inbox.push((ch, e), isr)


def arm(master):
    """Accept publishes from other threads and interrupts (call on the running loop, before any
    thread of the node starts); returns the pump's task, or None when it runs already."""
    bus = master.bus
    if bus.inbox is None:
        settle(master)
        settle(bus)
        bus.inbox = Inbox(bus)
        return asyncio.create_task(bus.inbox.pump())
    return None


def settle(obj):
    # Without a GIL (RP2040, the unix port) a thread that reads an attribute while the loop adds
    # another to the same object can miss it, as the object's dict is rebuilt in place to grow:
    # the class's plain defaults become the object's own now, so its dict never grows again.
    for k, v in type(obj).__dict__.items():
        if (v is None or type(v) is int or type(v) is bool) and k[:2] != "__":
            setattr(obj, k, getattr(obj, k))


class Inbox:
    """Events published off the loop's thread wait here until the pump moves them onto the bus.
    Threads queue under a lock; interrupts get a preallocated ring of their own, lock-free and
    allocation-free (a soft IRQ may run while a thread holds the lock; its one producer owns
    `tail`). Each holds up to the bus's queue_size; beyond that a new event is dropped."""

    wait_ms = 100  # how long a thread may wait for room (backpressure) before its event is dropped

    def __init__(self, bus):
        self.bus = bus
        self.waker = Waker()
        self.lock = port.allocate_lock()
        self.items = []
        self.ring = [None] * (bus.queue_size + 1)  # one slot stays empty to tell full from empty
        self.head = self.tail = 0
        self.dropped_threads = self.dropped_isr = 0  # set here: an interrupt must not grow the object

    def push(self, item, isr=False):
        if isr:
            ring = self.ring
            nxt = (self.tail + 1) % len(ring)
            if nxt == self.head:
                self.dropped_isr += 1
                return False
            ring[self.tail] = item
            self.tail = nxt
            self.waker.set()
            return True
        items = self.items
        for _ in range(self.wait_ms):
            if len(items) < self.bus.queue_size:
                break
            self.waker.set()
            port.sleep_ms(1)
        with self.lock:
            ok = len(items) < self.bus.queue_size
            if ok:
                items.append(item)
            else:
                self.dropped_threads += 1
        self.waker.set()
        return ok

    def take(self):
        """The oldest event from threads, else from interrupts; None when there is none."""
        with self.lock:
            if self.items:
                return self.items.pop(0)
        if self.head == self.tail:
            return None
        ring = self.ring
        item = ring[self.head]
        ring[self.head] = None
        self.head = (self.head + 1) % len(ring)
        return item

    async def pump(self):
        # Runs on the loop's thread, so the bus takes the local path.
        bus = self.bus
        while True:
            item = self.take()
            if item is None:
                try:
                    await self.waker.wait()
                except MemoryError:  # no heap even for the wait: look again shortly
                    port.collect()
                    await port.pause_ms(10)
                continue
            ch, e = item
            tries = 0
            while bus.room(ch) <= 0 and tries < self.wait_ms:
                # The dispatcher makes room rather than a backlog being dropped (bounded wait).
                await port.pause_ms(1 if tries else 0)
                tries += 1
            try:
                bus._put(ch, e, e[2] if len(e) > 2 else 0)
            except MemoryError:  # no heap to queue it: that event is lost and counted, the pump lives on
                bus.dropped += 1
                port.collect()

    def dropped(self):
        return self.dropped_threads + self.dropped_isr

    def close(self):
        self.waker.close()


lock = port.allocate_lock()  # guards master._threads, which thread workers leave from their thread


def launch(master, w):
    """Start a thread worker's _thread (and the inbox that carries its events to the loop)."""
    task = arm(master)
    if task is not None:
        master._tasks.append(task)
    w._zoo_error = getattr(w, "_zoo_error", None)  # a failure on its thread then adds no key (settle)
    with lock:
        master._threads.append(w)
    port.start_thread(run_thread, (master, w))


def left_running(master):
    for w in master._threads:
        log.error("worker %s: thread still running at stop; threads cannot be killed" % w.name)


def run_thread(master, w):
    """Body of a thread-mode worker's _thread; stops when master._stopping is set."""
    r = w._zoo
    try:
        while not master._stopping:
            try:
                delay = run_once(master, w, True)
                if delay is None:
                    break
                left = int(delay * 1000)  # a float: even this allocates
            except MemoryError:
                port.collect()
                left = 100  # a full heap: try again shortly rather than end the thread
            # Sleep in slices so shutdown is noticed quickly.
            while left > 0 and not master._stopping:
                step = left if left < 20 else 20
                port.sleep_ms(step)
                left -= step
    finally:
        if r[0] not in ("done", "failed"):
            r[0] = "stopped"  # the status, in the worker's record (workers.py)
        with lock:
            if w in master._threads:
                master._threads.remove(w)
