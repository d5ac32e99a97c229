# Events: delivery order, wildcards, channels, retries, dead letters, counters.
import asyncio

from helpers import Quiet, raises, wait_until
from zoo_micro import EventNode, EventRetryStrategy, Master, event
from zoo_micro.bus import matches

HEAPSIZE = "96K"  # the test module itself is large; the runtime's share is what shrank


async def test_priority_order_per_channel_and_publish_order_within_a_priority():
    got = []
    m = Master()
    m.subscribe("job", lambda r: got.append(r.content))
    # Published before start, so all are queued together and order is decided by priority.
    for name, prio in (("a", 0), ("b", 5), ("c", 0), ("d", 9), ("e", 5), ("f", 0)):
        m.publish("job", name, priority=prio)
    await m.start()
    await wait_until(lambda: len(got) == 6)
    await m.stop()
    assert got == ["d", "b", "e", "a", "c", "f"], got


def test_wildcards_match_one_segment_or_any_depth():
    assert matches("sensor.*", "sensor.t")
    assert not matches("sensor.*", "sensor.t.raw")
    assert not matches("sensor.*", "sensor")
    assert matches("sensor.#", "sensor.t.raw")
    assert matches("sensor.#", "sensor")
    assert matches("*.t", "sensor.t")
    assert matches("a.*.c", "a.b.c")
    assert not matches("a.*.c", "a.b.d")
    assert not matches("sensor.#", "sensors.t")


async def test_wildcard_and_exact_subscribers_all_receive_in_subscription_order():
    got = []
    m = Master()
    m.subscribe("sensor.#", lambda r: got.append(("deep", r.topic)))
    m.subscribe("sensor.temp", lambda r: got.append(("exact", r.topic)))
    m.subscribe("sensor.*", lambda r: got.append(("one", r.topic)))
    m.publish("sensor.temp")
    m.publish("sensor.temp.raw")
    m.publish("other")
    await m.start()
    await wait_until(lambda: m.stats()["no_subscriber"] == 1)
    await m.stop()
    assert got == [
        ("deep", "sensor.temp"),
        ("exact", "sensor.temp"),
        ("one", "sensor.temp"),
        ("deep", "sensor.temp.raw"),
    ], got


async def test_request_carries_the_full_framework_fields():
    seen = []
    m = Master()
    m.subscribe("t", seen.append, channel="ctl")
    m.publish("t", {"v": 1}, channel="ctl", priority=3)
    await m.start()
    await wait_until(lambda: seen)
    await m.stop()
    r = seen[0]
    assert (r.topic, r.content, r.channel, r.channel_name, r.priority) == ("t", {"v": 1}, "ctl", "ctl", 3)


async def test_channels_are_separate():
    got = []
    m = Master()
    m.subscribe("t", lambda r: got.append("default"))
    m.subscribe("t", lambda r: got.append("ctl"), channel="ctl")
    m.publish("t", channel="ctl")
    await m.start()
    await wait_until(lambda: got)
    await asyncio.sleep(0.02)
    await m.stop()
    assert got == ["ctl"]


async def test_async_handlers_are_awaited():
    got = []

    async def slow(req):
        await asyncio.sleep(0.01)
        got.append(req.content)

    m = Master()
    m.subscribe("t", slow)
    for i in range(3):
        m.publish("t", i)
    await m.start()
    await wait_until(lambda: len(got) == 3)
    await m.stop()
    assert got == [0, 1, 2]


async def test_event_decorator_reaches_every_master_created_afterwards():
    got = []

    @event("decorated.topic")
    def on_it(req):
        got.append(req.content)

    for i in range(2):
        m = Master()
        m.publish("decorated.topic", i)
        await m.start()
        await wait_until(lambda n=i + 1: len(got) == n)
        await m.stop()
    assert got == [0, 1]


async def test_event_decorator_after_the_master_is_made_subscribes_it_too():
    got = []
    m = Master()

    @event("late.topic")
    def on_it(req):
        got.append(req.content)

    m.publish("late.topic", "front")
    await m.start()
    await wait_until(lambda: got)
    await m.stop()
    assert got == ["front"]


async def test_retry_counts_and_callbacks_are_the_full_frameworks():
    # RetryOnce: one try in all; RetryTimes(3): three. The error callback runs at every failed
    # try, done once at the end, success never; then the event is dead-lettered.
    calls = []
    errors = []
    done = []
    ok = []
    dead = []

    def bad(req):
        calls.append((req.topic, req.reactor_name))
        raise ValueError("nope")

    m = Master({"retry_delay": 0.01})
    strategies = (("once", EventRetryStrategy.RetryOnce), ("thrice", EventRetryStrategy.RetryTimes))
    for topic, strategy in strategies:
        m.subscribe(
            topic,
            bad,
            retry_time=3,
            retry_strategy=strategy,
            error_callback=lambda name, topic, content, exc: errors.append((name, topic, content, str(exc))),
            done_callback=lambda name, topic, content: done.append(topic),
            success_callback=lambda name, topic, content: ok.append(topic),
        )
    m.subscribe("zoo.dead_letter", lambda r: dead.append(r.content))
    m.publish("once", 7)
    m.publish("thrice", 8)
    with Quiet():
        await m.start()
        await wait_until(lambda: len(dead) == 2)
        await m.stop()
    assert calls == [("once", "bad"), ("thrice", "bad")] + [("thrice", "bad")] * 2, calls
    assert errors == [("bad", "once", 7, "nope")] + [("bad", "thrice", 8, "nope")] * 3, errors
    assert sorted(done) == ["once", "thrice"] and ok == []
    assert dead[0]["topic"] == "once" and dead[0]["content"] == 7 and dead[0]["handler"] == "bad"
    s = m.stats()
    assert s["retries"] == 2 and s["dead_lettered"] == 2


async def test_plain_handler_gets_one_try_and_its_reactor_name():
    seen = []
    dead = []

    def on_job(req):
        seen.append(req.reactor_name)
        raise ValueError()

    m = Master()
    m.subscribe("job", on_job)
    m.subscribe("job", lambda req: seen.append(req.reactor_name is not None))
    m.subscribe("zoo.dead_letter", lambda r: dead.append(r.content["handler"]))
    m.publish("job")
    with Quiet():
        await m.start()
        await wait_until(lambda: dead)
        await asyncio.sleep(0.05)
        await m.stop()
    assert seen == ["on_job", True] and dead == ["on_job"]  # no retry for a plain handler


async def test_retry_times_with_backoff_then_success():
    from zoo_micro.port import ticks_diff, ticks_ms

    times = []
    ok = []

    def flaky(req):
        times.append(ticks_ms())
        if len(times) < 4:
            raise ValueError("not yet")

    m = Master({"retry_delay": 0.04})
    m.subscribe(
        "job",
        flaky,
        retry_time=5,
        retry_strategy=EventRetryStrategy.RetryTimes,
        success_callback=lambda name, topic, content: ok.append(content),
    )
    m.publish("job", "x")
    with Quiet():
        await m.start()
        await wait_until(lambda: ok, timeout=5)
        await m.stop()
    gaps = [ticks_diff(times[i + 1], times[i]) for i in range(3)]
    assert 35 <= gaps[0] < 80 and 75 <= gaps[1] < 140 and 155 <= gaps[2] < 280, gaps
    assert ok == ["x"] and m.stats()["dead_lettered"] == 0 and m.stats()["retries"] == 3
    assert len(times) == 4


async def test_retry_never_dead_letters_at_once_and_forever_keeps_trying():
    never = []
    forever = []

    def bad_never(req):
        never.append(1)
        raise ValueError()

    def bad_forever(req):
        forever.append(1)
        if len(forever) < 6:
            raise ValueError()

    m = Master({"retry_delay": 0.005, "retry_backoff_max": 0.02})
    m.subscribe("a", bad_never, retry_strategy=EventRetryStrategy.RetryNever)
    m.subscribe("b", bad_forever, retry_strategy=EventRetryStrategy.RetryForever)
    m.publish("a")
    m.publish("b")
    with Quiet():
        await m.start()
        await wait_until(lambda: len(forever) == 6)
        await asyncio.sleep(0.05)
        await m.stop()
    assert len(never) == 1 and len(forever) == 6
    assert m.stats()["dead_lettered"] == 1


async def test_a_failing_handler_does_not_stop_the_others():
    got = []

    def bad(req):
        raise RuntimeError()

    m = Master()
    m.subscribe("t", bad, retry_strategy=EventRetryStrategy.RetryNever)
    m.subscribe("t", lambda r: got.append(r.content))
    m.publish("t", 1)
    with Quiet():
        await m.start()
        await wait_until(lambda: got)
        await m.stop()
    assert got == [1]


async def test_response_mechanisms_first_priority_all_named():
    got = []
    m = Master()

    def h1(r):
        got.append("h1")

    def h2(r):
        got.append("h2")

    m.subscribe("t", h1, priority=1)
    m.subscribe("t", h2, priority=5)
    for mech, name in ((1, None), (2, None), (3, None), (4, "h2")):
        node = EventNode("t", None)
        node.set_response_mechanism(mech, name)
        m.emit(node)
    await m.start()
    await wait_until(lambda: len(got) == 6)
    await m.stop()
    assert got == ["h1", "h2", "h1", "h1", "h2", "h2"], got
    raises(ValueError, EventNode("t").set_response_mechanism, 4)
    raises(ValueError, EventNode("t").set_response_mechanism, 9)


async def test_overflow_and_unsubscribed_events_are_counted():
    got = []
    m = Master({"queue_size": 4})
    m.subscribe("t", lambda r: got.append(r.content))
    results = [m.publish("t", i) for i in range(6)]
    m.publish("nobody")  # dropped too: the queue is full of equal priority
    assert m.publish("t", "urgent", priority=9) is False  # evicts the newest low-priority event
    assert results == [True, True, True, True, False, False]
    await m.start()
    m.publish("nobody.here")
    await wait_until(lambda: m.stats()["no_subscriber"] == 1)
    await m.stop()
    s = m.stats()
    assert got == ["urgent", 0, 1, 2], got
    assert s["dropped"] == 4 and s["published"] == 9 and s["delivered"] == 4


def test_bad_topic_is_refused():
    m = Master()
    raises(ValueError, m.publish, "")
    raises(ValueError, m.publish, None)
    raises(ValueError, m.emit, EventNode(""))
    raises(TypeError, m.subscribe, "t", 42)


async def test_unsubscribe_stops_delivery():
    got = []
    m = Master()
    h = m.subscribe("t", lambda r: got.append(r.content))
    await m.start()
    m.publish("t", 1)
    await wait_until(lambda: got == [1])
    m.unsubscribe(h)
    m.publish("t", 2)
    await wait_until(lambda: m.stats()["no_subscriber"] == 1)
    await m.stop()
    assert got == [1]


def test_room_tells_how_many_events_a_channel_takes_before_dropping():
    m = Master({"queue_size": 4})
    assert m.bus.room() == 4 and m.bus.room("ctl") == 4
    m.publish("t", 1)
    m.publish("t", 2, channel="ctl")
    m.publish("t", 3, channel="ctl")
    assert m.bus.room() == 3 and m.bus.room("ctl") == 2


async def test_the_bus_outlives_a_failure_it_has_no_heap_to_handle():
    import sys

    got = []
    m = Master({"svm_check_interval": 0})

    def bad(req):
        raise ValueError("bad")

    m.subscribe("t", bad)
    m.subscribe("t", lambda r: got.append(r.content))
    saved = sys.modules.pop("zoo_micro.reactors", None)
    sys.modules["zoo_micro.reactors"] = None  # importing it now fails, as on a full heap

    def full_heap(*args):
        raise MemoryError("heap full")

    import zoo_micro

    real_getattr = zoo_micro.__getattr__
    zoo_micro.__getattr__ = full_heap
    try:
        with Quiet():
            await m.start()
            m.publish("t", 1)
            m.publish("t", 2)
            await wait_until(lambda: got == [1, 2])
            await m.stop()
    finally:
        zoo_micro.__getattr__ = real_getattr
        del sys.modules["zoo_micro.reactors"]
        if saved is not None:
            sys.modules["zoo_micro.reactors"] = saved
    assert m.stats()["handler_errors"] == 2


async def test_publish_the_full_frameworks_way_through_event_channel_manager():
    from zoo_micro import EventChannelManager

    got = []
    m = Master()
    m.subscribe(
        "order.created", lambda req: got.append((req.topic, req.content, req.channel_name)), "business"
    )
    ch = EventChannelManager.get_channel("business")
    assert ch.get_channel_name() == "business"
    ch.push_event(EventNode("order.created", {"id": 1}, channel_name="business"))
    ch.dispatch("order.created", {"id": 2})
    assert ch.size() == 2 and "business" in EventChannelManager.get_all_channel_name()
    await m.start()
    await wait_until(lambda: len(got) == 2)
    await m.stop()
    assert got == [("order.created", {"id": 1}, "business"), ("order.created", {"id": 2}, "business")]


async def test_the_full_frameworks_timeout_option_is_accepted():
    got = []
    m = Master()
    m.subscribe("report.build", lambda req: got.append(req.content), timeout=5)
    m.publish("report.build", "daily")
    await m.start()
    await wait_until(lambda: got)
    await m.stop()
    assert got == ["daily"]


async def test_reactor_objects_and_the_channel_census_of_the_full_framework():
    from zoo_micro import EventChannelManager, EventReactor
    from zoo_micro.decorators import handlers

    seen = []

    def audit(req):
        seen.append(("try", req.content, req.reactor_name))
        if len(seen) == 1:
            raise ValueError("disk busy")

    reactor = EventReactor("audit")
    reactor.set_event_callback(audit)
    reactor.set_retry_strategy(EventRetryStrategy.RetryTimes, 2)
    reactor.set_error_callback(lambda name, topic, content, e: seen.append(("error", name, str(e))))
    reactor.set_done_callback(lambda name, topic, content: seen.append(("done", name)))
    EventChannelManager().refresh_channel("audit", "audit.entry", reactor)
    try:
        m = Master({"retry_delay": 0.01})  # made afterwards: it subscribes the reactor, as @event
    finally:
        handlers.remove(("audit.entry", "audit", reactor, {}))  # later tests' Masters go without it
    assert reactor.reactor_name == "audit"
    assert EventChannelManager.get_all_channel_name() == ["audit"]
    EventChannelManager.get_channel("audit").push_event(EventNode("audit.entry", "login"))
    with Quiet():
        await m.start()
        await wait_until(lambda: len(seen) == 4)
        await m.stop()
    assert seen == [
        ("try", "login", "audit"),
        ("error", "audit", "disk busy"),
        ("try", "login", "audit"),
        ("done", "audit"),
    ]
    assert EventChannelManager.get_all_channel_count() == 1
