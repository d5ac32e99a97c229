# State machines shaped like pytransitions; the current state lives in the state store.
import asyncio

from zoo_micro import log, port
from zoo_micro.state import StateMachineManager

SCOPE = "fsm"  # state-store scope holding each machine's current state
TRANSITION_TOPIC = "zoo.fsm.transition"
INVALID_TOPIC = "zoo.fsm.invalid"


class MachineError(Exception):
    pass


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


class StateMachine:
    """StateMachine(name, states, initial, transitions, on_enter=None, on_exit=None, persist=False).

    transitions: [{"trigger", "source" (a state, a list, or "*"), "dest", "conditions"?}].
    on_enter/on_exit: {state: action}; actions (plain or async) receive the trigger's data.
    persist=True resumes in the last saved state after a reset. With master=, transitions and
    invalid triggers are announced on zoo.fsm.transition and zoo.fsm.invalid.
    """

    def __init__(
        self, name, states, initial, transitions, on_enter=None, on_exit=None, persist=False, master=None
    ):
        self.name = name
        self.states = list(states)
        if initial not in self.states:
            raise MachineError("machine %s: initial state %r is not one of %r" % (name, initial, self.states))
        self._by_trigger = {}
        for t in transitions:
            trigger, dest = t.get("trigger"), t.get("dest")
            if not trigger or dest not in self.states:
                raise MachineError("machine %s: transition %r needs a trigger and a known dest" % (name, t))
            src = t.get("source", "*")
            sources = "*" if src == "*" else _as_list(src)
            for s in sources if sources != "*" else ():
                if s not in self.states:
                    raise MachineError("machine %s: transition %r has unknown source %r" % (name, trigger, s))
            conditions = _as_list(t.get("conditions"))
            self._by_trigger.setdefault(trigger, []).append((sources, dest, conditions))
        self.on_enter = on_enter or {}
        self.on_exit = on_exit or {}
        self.master = master
        self._store = StateMachineManager()
        saved = self._store.get_state(SCOPE, name) if persist else None
        start = saved if saved in self.states else initial
        self._store.set_state(SCOPE, name, start)

    @property
    def state(self):
        return self._store.get_state(SCOPE, self.name)

    def triggers(self, state=None):
        """Triggers valid from `state` (default: the current one)."""
        state = self.state if state is None else state
        out = []
        for t in self._by_trigger:
            for o in self._by_trigger[t]:
                if o[0] == "*" or state in o[0]:
                    out.append(t)
                    break
        return out

    def trigger(self, name, data=None):
        """True when a transition happened, False when a condition held it back."""
        cur = self.state
        options = self._by_trigger.get(name)
        if options is None:
            raise MachineError(
                "machine %s has no trigger %r (known: %s)" % (self.name, name, ", ".join(self._by_trigger))
            )
        valid = []
        for o in options:
            if o[0] == "*" or cur in o[0]:
                valid.append(o)
        if not valid:
            self._announce(INVALID_TOPIC, {"machine": self.name, "trigger": name, "state": cur})
            raise MachineError(
                "machine %s: trigger %r is not valid in state %r (valid here: %s)"
                % (self.name, name, cur, ", ".join(self.triggers(cur)) or "none")
            )
        for _, dest, conditions in valid:
            for c in conditions:
                if not c(data):
                    break
            else:
                self._act(self.on_exit.get(cur), data)
                self._store.set_state(SCOPE, self.name, dest)
                self._act(self.on_enter.get(dest), data)
                self._announce(
                    TRANSITION_TOPIC, {"machine": self.name, "trigger": name, "from": cur, "to": dest}
                )
                return True
        return False

    def _act(self, action, data):
        if action is None:
            return
        r = action(data)
        if type(r) is port.CORO:
            try:
                asyncio.create_task(r)
            except RuntimeError:
                r.close()
                log.warn("machine %s: async action %r needs a running loop; skipped" % (self.name, action))

    def _announce(self, topic, content):
        if self.master is not None:
            self.master.publish(topic, content)

    def bind(self, topic, trigger, master=None):
        """Fire `trigger` with the event's content whenever `topic` is published."""
        m = master or self.master
        if m is None:
            raise MachineError("machine %s: bind() needs a Master (pass master=...)" % self.name)
        # A plain handler gets one try, so a refused trigger is not retried; no options, so the
        # node does not load reactors.py for it.
        return m.subscribe(topic, lambda req: self.trigger(trigger, req.content))
