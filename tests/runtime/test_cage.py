# Cages: one lock shared by _thread workers and asyncio tasks.
import asyncio

from helpers import raises, st, wait_until
from zoo_micro import BaseWorker, Cage, Master, cage, port

HEAPSIZE = "80K"  # the test module itself is large; the runtime's share is what shrank

N_THREAD = 3000
N_TASK = 3000


@cage
class Tally:
    def __init__(self, start=0):
        self.value = start
        self.log = []

    def add(self, n=1):
        v = self.value
        for _ in range(3):  # widen the window between read and write
            pass
        self.value = v + n

    def add_twice(self):
        self.add()  # a caged method calling another must not deadlock
        self.add()


class Hammer(BaseWorker):
    mode = "thread"
    is_loop = False

    def __init__(self, props=None):
        super().__init__(props)
        self.tally = None

    def _execute(self):
        for _ in range(N_THREAD):
            self.tally.add()


async def test_thread_worker_and_tasks_hammering_one_caged_object_lose_nothing():
    tally = Tally()
    m = Master()
    h = m.register_worker("hammer", Hammer)
    h.tally = tally

    async def task_side():
        for i in range(N_TASK):
            tally.add()
            if i % 50 == 0:
                await asyncio.sleep(0)

    await m.start()
    await asyncio.gather(task_side(), task_side())
    await wait_until(lambda: st(m, h)["status"] == "done", timeout=20)
    await m.stop()
    assert tally.value == N_THREAD + 2 * N_TASK, tally.value


def test_caged_class_stays_a_class():
    class Sub(Tally):
        def extra(self):
            return self.value * 2

    s = Sub(5)
    assert isinstance(s, Tally) and isinstance(s, Sub)
    s.add_twice()
    assert s.value == 7 and s.extra() == 14
    assert isinstance(s._zoo_cage, Cage)
    assert Tally(0)._zoo_cage is not Tally(0)._zoo_cage  # one cage per instance


async def test_async_with_does_not_block_the_loop_while_a_thread_holds_the_cage():
    c = Cage()
    order = []
    held = []  # one entry per tick of the loop taken while the thread held the cage

    def holder():
        with c:
            order.append("thread in")
            port.sleep_ms(150)
            order.append("thread out")

    async def ticker():
        while "task in" not in order:
            if order and order[-1] == "thread in":
                held.append(1)
            await asyncio.sleep(0.01)

    port.start_thread(holder, ())
    await wait_until(lambda: order)
    t = asyncio.create_task(ticker())

    async def taker():
        async with c:
            order.append("task in")

    await taker()
    await t
    assert order == ["thread in", "thread out", "task in"], order
    # 150 ms held, a tick every 10 ms: a task blocking the loop while it waits would allow none.
    assert len(held) >= 3, held


async def test_async_with_is_reentrant_for_its_task_and_excludes_others():
    c = Cage()
    inside = []

    async def user(name):
        async with c, c:
            inside.append(name + " in")
            await asyncio.sleep(0.02)
            inside.append(name + " out")

    await asyncio.gather(user("a"), user("b"))
    assert inside in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"]), inside
    assert not c.locked()


async def test_sync_entry_while_a_task_holds_it_fails_loudly_instead_of_hanging():
    c = Cage()
    got = []

    async def holder():
        async with c:
            await asyncio.sleep(0.05)

    t = asyncio.create_task(holder())
    await asyncio.sleep(0.01)

    def enter():
        with c:
            pass

    got.append(raises(RuntimeError, enter))
    await t
    assert "async with" in str(got[0])
    with c:  # free again
        pass
