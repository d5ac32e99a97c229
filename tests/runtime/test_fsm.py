# State machines: transitions, conditions, actions, events, persistence.
import asyncio

from helpers import Quiet, raises, wait_until
from zoo_micro import MachineError, Master, StateMachine, StateMachineManager

HEAPSIZE = "96K"  # the test module itself is large; the runtime's share is what shrank

TRANSITIONS = [
    {"trigger": "booted", "source": "boot", "dest": "sampling"},
    {
        "trigger": "sensor_error",
        "source": "sampling",
        "dest": "degraded",
        "conditions": lambda d: d["errors"] >= 3,
    },
    {"trigger": "recovered", "source": ["degraded"], "dest": "sampling"},
    {"trigger": "reset", "source": "*", "dest": "boot"},
]
STATES = ["boot", "sampling", "degraded"]


def machine(**kw):
    return StateMachine("node", STATES, "boot", TRANSITIONS, **kw)


def setup():
    StateMachineManager.reset()
    return Master({"svm_check_interval": 0})


def test_transitions_follow_sources_and_conditions():
    setup()
    sm = machine()
    assert sm.state == "boot"
    assert sm.trigger("booted") is True and sm.state == "sampling"
    assert sm.trigger("sensor_error", {"errors": 1}) is False  # held back by its condition
    assert sm.state == "sampling"
    assert sm.trigger("sensor_error", {"errors": 3}) is True and sm.state == "degraded"
    assert sm.trigger("recovered") is True and sm.state == "sampling"
    assert sm.trigger("reset") is True and sm.state == "boot"  # "*" matches any state


def test_invalid_trigger_raises_a_clear_error_and_is_announced():
    m = setup()
    got = []
    m.subscribe("zoo.fsm.invalid", lambda r: got.append(r.content))
    sm = machine(master=m)
    e = raises(MachineError, sm.trigger, "recovered")
    assert "'recovered' is not valid in state 'boot'" in str(e) and "booted" in str(e)
    e = raises(MachineError, sm.trigger, "fly")
    assert "no trigger 'fly'" in str(e)
    assert sm.state == "boot"

    async def deliver():
        await m.start()
        await wait_until(lambda: got)
        await m.stop()

    asyncio.run(deliver())
    assert got == [{"machine": "node", "trigger": "recovered", "state": "boot"}]


def test_bad_definitions_are_refused():
    setup()
    raises(MachineError, StateMachine, "x", ["a"], "b", [])
    raises(MachineError, StateMachine, "x", ["a"], "a", [{"trigger": "t", "source": "a", "dest": "zz"}])
    raises(MachineError, StateMachine, "x", ["a"], "a", [{"trigger": "t", "source": "q", "dest": "a"}])


async def test_on_enter_and_on_exit_actions_get_the_data_plain_and_async():
    setup()
    calls = []

    async def enter_degraded(data):
        await asyncio.sleep(0)
        calls.append(("enter degraded", data["errors"]))

    sm = machine(
        on_exit={"sampling": lambda d: calls.append(("exit sampling", d["errors"]))},
        on_enter={"degraded": enter_degraded, "sampling": lambda d: calls.append(("enter sampling", d))},
    )
    sm.trigger("booted", "hello")
    sm.trigger("sensor_error", {"errors": 4})
    await wait_until(lambda: len(calls) == 3)
    assert calls == [("enter sampling", "hello"), ("exit sampling", 4), ("enter degraded", 4)]


async def test_bus_events_fire_bound_triggers_and_transitions_are_published():
    m = setup()
    seen = []
    sm = machine(master=m)
    sm.bind("node.ready", "booted")
    sm.bind("sensor.failures", "sensor_error")
    m.subscribe("zoo.fsm.transition", lambda r: seen.append((r.content["from"], r.content["to"])))
    await m.start()
    m.publish("node.ready")
    m.publish("sensor.failures", {"errors": 5})
    with Quiet():
        m.publish("node.ready")  # not valid in "degraded": raises inside the handler, counted
        await wait_until(lambda: len(seen) == 2 and m.stats()["dead_lettered"] == 1)
    await m.stop()
    assert sm.state == "degraded"
    assert seen == [("boot", "sampling"), ("sampling", "degraded")]


def test_persisted_machine_resumes_in_its_last_state_after_a_reset():
    setup()
    s = StateMachineManager()
    s.configure(path="state.json")
    sm = machine(persist=True)
    sm.trigger("booted")
    s.save()
    # A reset: the process forgets everything but the flash.
    StateMachineManager.reset()
    s = StateMachineManager()
    s.configure(path="state.json")
    s.load()
    assert machine(persist=True).state == "sampling"
    assert machine(persist=False).state == "boot"  # not asked to resume
