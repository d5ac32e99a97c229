# FIFOs (feeders): overflow policies, delays, keyed values, waiting, threads and interrupts.
import asyncio

from helpers import raises
from zoo_micro import FIFO, DelayFIFO, FIFOFull, SingleFIFO, port

HEAPSIZE = "88K"  # the test module itself is large; the runtime's share is what shrank


def test_fifo_keeps_order_and_drop_oldest_by_default():
    f = FIFO(3)
    assert [f.push_value(i) for i in range(5)] == [True, True, True, False, False]
    assert f.size() == 3 and f.dropped == 2
    assert [f.pop_value() for _ in range(4)] == [2, 3, 4, None]
    assert f.pop_value("empty") == "empty"


def test_fifo_drop_newest_and_error_policies():
    f = FIFO(2, "drop_newest")
    assert [f.push_value(i) for i in range(4)] == [True, True, False, False]
    assert [f.pop_value(), f.pop_value()] == [0, 1] and f.dropped == 2
    e = FIFO(1, "error")
    e.push_value("a")
    raises(FIFOFull, e.push_value, "b")
    assert e.pop_value() == "a"
    raises(ValueError, FIFO, 0)
    raises(ValueError, FIFO, 4, "drop_random")


def test_fifo_ring_wraps_many_times():
    f = FIFO(4)
    out = []
    for i in range(1000):
        f.push_value(i)
        if i % 3 == 0:
            out.append(f.pop_value())
    while f.size():
        out.append(f.pop_value())
    assert out == sorted(out) and f.dropped + len(out) == 1000


def test_fifo_push_does_not_allocate():
    import gc

    f = FIFO(8)
    values = list(range(8))

    def churn():
        for _ in range(20):
            for v in values:
                f.push_value(v)
                f.pop_value()
        for v in values:
            f.push_isr(v)
        while f.pop_value() is not None:
            pass

    churn()  # warm up
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        churn()
        grown = gc.mem_alloc() - before
        gc.enable()
    else:
        import tracemalloc

        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        churn()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    assert grown == 0, grown


async def test_get_waits_for_a_push():
    f = FIFO(4)
    got = []

    async def consumer():
        for _ in range(3):
            got.append(await f.get())

    t = asyncio.create_task(consumer())
    for i in range(3):
        await asyncio.sleep(0.01)
        f.push_value(i)
    await t
    assert got == [0, 1, 2]


async def test_threadsafe_fifo_wakes_get_from_another_thread():
    f = FIFO(64, threadsafe=True)
    got = []

    async def consumer():
        while len(got) < 40:
            got.append(await f.get())

    t = asyncio.create_task(consumer())
    await asyncio.sleep(0.01)

    def producer():
        for i in range(40):
            f.push_value(i)
            port.sleep_ms(1)

    port.start_thread(producer, ())
    await asyncio.wait_for(t, 5)
    f.close()
    assert got == list(range(40))


def test_push_isr_drops_newest_when_full():
    f = FIFO(2)
    assert [f.push_isr(i) for i in range(3)] == [True, True, False]
    assert f.dropped == 1 and f.pop_value() == 0


async def test_delay_fifo_releases_after_each_delay():
    d = DelayFIFO(8)
    d.push_value("late", 0.08)
    d.push_value("soon", 0.02)
    d.push_value("now", 0)
    assert d.pop_value() == "now"
    assert d.pop_value() is None  # nothing else due yet
    assert await d.get() == "soon"
    assert await d.get() == "late"
    assert d.size() == 0


def test_delay_fifo_overflow():
    d = DelayFIFO(2, "drop_newest")
    assert [d.push_value(i, 1) for i in range(3)] == [True, True, False] and d.dropped == 1
    e = DelayFIFO(1, "error")
    e.push_value(1)
    raises(FIFOFull, e.push_value, 2)


def test_single_fifo_keeps_newest_value_per_key():
    s = SingleFIFO(2)
    assert s.push_value(1, "t") == 0
    assert s.push_value(10, "h") == 1
    assert s.push_value(2, "t") == 0  # replaces, keeps its place
    assert s.size() == 2 and s.get_value("t") == 2
    assert s.push_value(99, "p") == 1  # full: drops the oldest key
    assert s.dropped == 1
    assert s.pop_value() == 10
    assert s.pop_value() == 99
    assert s.pop_value(None) is None
    raises(IndexError, s.pop_value)
    n = SingleFIFO(1, "drop_newest")
    assert n.push_value("a") == 0 and n.push_value("b") == -1 and n.dropped == 1


def test_single_fifo_queues_each_value_once_as_the_full_framework():
    s = SingleFIFO()
    assert [s.push_value("a"), s.push_value("b"), s.push_value("a")] == [0, 1, 0]
    assert s.size() == 2 and s.pop_value() == "a" and s.pop_value() == "b"
    e = raises(IndexError, s.pop_value)
    assert isinstance(e, Exception) and "no value" in str(e)
