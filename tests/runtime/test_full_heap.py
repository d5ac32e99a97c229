# A node near the end of its heap degrades, it does not stall: the loop's long-lived tasks survive
# a MemoryError in their own waiting.
import asyncio

from helpers import Counter, wait_until
from zoo_micro import Master


def _failing_wait(event, times):
    # The event's wait() raises MemoryError `times` times, as on a heap too full for its frame.
    real = event.wait
    left = [times]

    def wait():
        if left[0]:
            left[0] -= 1
            raise MemoryError
        return real()

    event.wait = wait
    return left


async def test_the_supervisor_and_the_dispatcher_outlive_a_heap_too_full_to_wait():
    m = Master()
    w = m.register_worker("w", Counter, props={"delay_time": 0.01})
    got = []
    m.subscribe("t", got.append)
    await m.start()
    await asyncio.sleep(0.02)
    left = _failing_wait(m._wake, 3)
    bus_left = _failing_wait(m.bus._wake, 3)
    n = w.n
    await wait_until(lambda: not left[0] and w.n > n + 3)
    for i in range(5):
        m.publish("t", i)
        await asyncio.sleep(0.02)
    await wait_until(lambda: len(got) == 5)
    await m.stop()
    assert bus_left[0] == 0 and [e.content for e in got] == [0, 1, 2, 3, 4]


async def test_the_dispatcher_outlives_a_heap_too_full_for_an_event():
    from zoo_micro import bus as bus_module

    m = Master()
    got = []
    m.subscribe("t.#", lambda r: got.append(r.content))
    await m.start()
    real = bus_module.matches
    left = [1]

    def full(pattern, topic):
        # The handler lookup of a topic not seen before finds no heap, once.
        if left[0]:
            left[0] -= 1
            raise MemoryError
        return real(pattern, topic)

    bus_module.matches = full
    try:
        m.publish("t.a", 1)  # lost to the full heap, and counted
        await wait_until(lambda: not left[0])
        m.publish("t.b", 2)
        await wait_until(lambda: got == [2])
    finally:
        bus_module.matches = real
    assert m.bus.dropped == 1
    await m.stop()


class Publisher(Counter):
    mode = "thread"

    def _execute(self):
        Counter._execute(self)
        return self.n  # published from its thread, through the inbox


async def test_the_thread_inbox_outlives_a_heap_too_full_to_wait():
    m = Master()
    got = []
    m.subscribe("pub_result", lambda r: got.append(r.content))
    m.register_worker("pub", Publisher, props={"delay_time": 0.01})
    await m.start()
    await wait_until(lambda: m.bus.inbox is not None and got)
    left = _failing_wait(m.bus.inbox.waker, 3)
    await wait_until(lambda: not left[0])
    n = len(got)
    await wait_until(lambda: len(got) > n + 3)  # thread events still reach the handler
    await m.stop()


async def test_the_thread_inbox_outlives_a_heap_too_full_to_queue_an_event():
    m = Master({"svm_check_interval": 0})
    got = []
    m.subscribe("pub_result", lambda r: got.append(r.content))
    m.register_worker("pub", Publisher, props={"delay_time": 0.01})
    await m.start()
    await wait_until(lambda: m.bus.inbox is not None and got)
    real = m.bus._put
    left = [1]

    def full(ch, e, priority):
        # Queueing one event from the thread finds no heap, once.
        if left[0] and e[0] == "pub_result":
            left[0] -= 1
            raise MemoryError
        return real(ch, e, priority)

    m.bus._put = full
    await wait_until(lambda: not left[0])
    n = len(got)
    await wait_until(lambda: len(got) > n + 3)  # the pump lives on: thread events still arrive
    await m.stop()
    assert m.bus.dropped == 1
