# A node near the end of its heap degrades, it does not stall: the loop's long-lived tasks survive
# a MemoryError in their own waiting.
import asyncio

from helpers import Counter, no_heap, wait_until
from zoo_micro import Master

HEAPSIZE = "80K"  # the handler retry test loads reactors.py, compiled from .py in one variant


def _failing_wait(event, times):
    # The event's wait() raises MemoryError `times` times, as on a heap too full for its frame.
    event.wait, left = no_heap(event.wait, times)
    return left


async def test_the_pause_a_task_takes_on_a_full_heap_allocates_nothing():
    from zoo_micro import port

    if port.MICROPYTHON:
        import micropython

        micropython.heap_lock()  # any allocation raises MemoryError until heap_unlock()
        try:
            pause = port.pause_ms(10)
        finally:
            micropython.heap_unlock()
    else:
        pause = port.pause_ms(10)
    await pause


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
    bus_module.matches, left = no_heap(real, 1)  # the lookup of a topic not seen before, once
    try:
        m.publish("t.a", 1)  # lost to the full heap, and counted
        await wait_until(lambda: not left[0])
        m.publish("t.b", 2)
        await wait_until(lambda: got == [2])
    finally:
        bus_module.matches = real
    assert m.bus.dropped == 1
    await m.stop()


async def test_the_dispatcher_outlives_a_heap_too_full_to_go_idle():
    from zoo_micro import bus as bus_module

    m = Master({"svm_check_interval": 0})
    got = []
    m.subscribe("t", lambda r: got.append(r.content))
    real = bus_module._scrub
    bus_module._scrub, left = no_heap(real, 3)  # going idle (a call's frame, the queues' view)
    try:
        await m.start()
        await wait_until(lambda: not left[0])
        m.publish("t", 1)
        await wait_until(lambda: got == [1])
    finally:
        bus_module._scrub = real
    await m.stop()


class AsyncCounter(Counter):
    async def _execute(self):
        self.n += 1


async def test_an_async_worker_outlives_a_heap_too_full_to_book_its_run():
    from zoo_micro import workers

    m = Master({"svm_check_interval": 0})
    w = m.register_worker("w", AsyncCounter, props={"delay_time": 0.01})
    await m.start()
    await wait_until(lambda: w.n >= 2)
    real = workers.finish
    workers.finish, left = no_heap(real, 2)  # booking two runs
    try:
        await wait_until(lambda: not left[0])
        n = w.n
        await wait_until(lambda: w.n > n + 3)  # it runs on, and so does the loop
    finally:
        workers.finish = real
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
    # Queueing one event from the thread finds no heap, once.
    m.bus._put, left = no_heap(m.bus._put, 1, lambda ch, e, priority: e[0] == "pub_result")
    await wait_until(lambda: not left[0])
    n = len(got)
    await wait_until(lambda: len(got) > n + 3)  # the pump lives on: thread events still arrive
    await m.stop()
    assert m.bus.dropped == 1


async def test_a_handler_retry_that_finds_no_heap_ends_without_an_error():
    # A task that ends on an error needs heap for the loop to report it; on a full heap that ends
    # the loop. A retry whose failure cannot be handled for lack of heap ends quietly.
    from helpers import Quiet
    from zoo_micro import EventRetryStrategy, reactors

    ended = []
    loop = asyncio.get_event_loop()
    loop.set_exception_handler(lambda loop, context: ended.append(context))
    m = Master({"retry_delay": 0.01, "svm_check_interval": 0})
    tries = []

    def bad(req):
        tries.append(1)
        raise ValueError("nope")

    m.subscribe("t", bad, retry_time=3, retry_strategy=EventRetryStrategy.RetryTimes)
    real = reactors.failed
    # Handling the retry's failure finds no heap.
    reactors.failed, _ = no_heap(real, 1, lambda bus, h, ev, exc, attempt: attempt > 1)
    try:
        with Quiet():
            await m.start()
            m.publish("t", 1)
            await wait_until(lambda: len(tries) == 2)
            await asyncio.sleep(0.05)
    finally:
        reactors.failed = real
        loop.set_exception_handler(None)
    await m.stop()
    assert ended == []


async def test_a_task_that_ends_on_an_error_is_a_log_line_that_a_full_heap_can_skip():
    # On MicroPython, asyncio prints such a task's error, and on a full heap that printing fails
    # and ends the loop; the Master puts a log line in its place that a full heap can skip. An
    # app's own handler is left alone. (CPython's report is a traceback, and stays.)
    from zoo_micro import log, port

    loop = asyncio.get_event_loop()
    lines = []
    log.sinks.append(lambda level, msg: lines.append(msg))
    try:
        m = Master({"svm_check_interval": 0})
        await m.start()
        if not port.MICROPYTHON:
            assert loop.get_exception_handler() is None
            await m.stop()
            return
        assert loop.get_exception_handler() is port.task_failed

        async def dies():
            raise ValueError("gone")

        asyncio.create_task(dies())
        await wait_until(lambda: any("ended: ValueError" in line for line in lines))
        said = log.error
        log.error, _ = no_heap(said, 1)
        try:
            asyncio.create_task(dies())  # its report finds no heap: the loop goes on all the same
            await asyncio.sleep(0.02)
        finally:
            log.error = said
        await m.stop()

        def mine(loop, context):
            pass

        loop.set_exception_handler(mine)
        m = Master({"svm_check_interval": 0})
        await m.start()
        assert loop.get_exception_handler() is mine
        await m.stop()
    finally:
        loop.set_exception_handler(None)
        log.sinks.pop()
