"""The zoo-framework sink: node events enter a running zoo-framework app's event pipeline.

A reactor reads a node's event as it reads any other: `req.content` is the node's content,
unchanged; `req.node`, `req.seq` (its place in the node's stream) and `req.channel` say where it
came from (None on the app's own events). zoo-framework builds each request itself, from the topic
and content only, so this module teaches it once per process: the event travels the pipeline
wrapped, and `EventReactor.execute` unwraps it into a request of the subclass `NodeRequest`.

zoo-framework reads ./config.json from the working directory when it is first imported, so import
this module from the app's directory (the `zoo-micro bridge` command does so from its cwd).
See docs/framework-bridge.md.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.reactor import EventReactor, EventReactorManager
from zoo_framework.reactor import event_reactor as _reactor_module
from zoo_framework.reactor.event_reactor_req import EventReactorReq
from zoo_framework.statemachine.state_machine_manager import StateMachineManager
from zoo_framework.utils import LogUtils

from host_tools.errors import UserError
from host_tools.link.flow import Sink, Source

_delivering = threading.local()  # the node event whose reactor runs on this thread


class _FromNode:
    """A node's event on its way through zoo-framework's queues; never seen by a reactor."""

    __slots__ = ("content", "node", "seq", "channel", "priority")

    def __init__(self, content: Any, node: str, seq: int, channel: str, priority: int) -> None:
        self.content = content
        self.node = node
        self.seq = seq
        self.channel = channel
        self.priority = priority


class NodeRequest(EventReactorReq):
    """zoo-framework's reactor request, plus the node and sequence number of a node's event."""

    node: str | None = None
    seq: int | None = None

    def __init__(
        self, topic: str, content: Any, reactor_name: str, channel: str = "default", priority: int = 0
    ):
        ev = getattr(_delivering, "event", None)
        if ev is not None:
            channel, priority = ev.channel, ev.priority
        super().__init__(topic, content, reactor_name, channel, priority)
        if ev is not None:
            self.node = ev.node
            self.seq = ev.seq


def _teach_zoo_framework() -> None:
    """Unwrap node events where zoo-framework calls a reactor (its worker pool and its batches
    alike): the request, and the success, error and done callbacks, get the node's content."""
    if getattr(EventReactor, "_zoo_micro_nodes", False):
        return
    execute = EventReactor.execute

    def execute_node_event(self: EventReactor, topic: str, content: Any) -> None:
        if type(content) is not _FromNode:
            return execute(self, topic, content)
        before = getattr(_delivering, "event", None)
        _delivering.event = content
        try:
            return execute(self, topic, content.content)
        finally:
            _delivering.event = before

    EventReactor.execute = execute_node_event  # type: ignore[method-assign]
    _reactor_module.EventReactorReq = NodeRequest  # type: ignore[misc]  # what EventReactor._execute builds
    EventReactor._zoo_micro_nodes = True  # type: ignore[attr-defined]


class FrameworkSink(Sink):
    """A node event on topic T reaches `@event(T, channel=...)` reactors with `req.content` the
    node's content and `req.node`, `req.seq` set.

    `master`: the app's zoo-framework Master this sink joins (optional; `run_app` runs it). App
    events on the `down` topics go to the nodes (content {"node": id, "content": c} goes to that
    node only, with content c). zoo-framework matches whole topics, so `down` lists topics, not
    patterns. The node's state is mirrored in the framework's StateMachineManager: scope = node id,
    key = "<node scope>.<key>", value = the node's value.

    Events on topics no reactor listens to are acknowledged to the node and kept: the newest
    event of each (node, topic), for at most `keep` pairs (the pair updated longest ago goes
    first); read them with `unheard_events()` and `latest()`. `unheard` counts them all.
    """

    def __init__(
        self,
        master: Any = None,
        down: list[str] | tuple[str, ...] = (),
        state: bool = True,
        keep: int = 100,
    ) -> None:
        if master is not None:
            from zoo_framework.core.master import Master

            if not isinstance(master, Master):
                raise UserError(
                    f"FrameworkSink joins a zoo-framework Master, got {type(master).__module__}."
                    f"{type(master).__name__}; a zoo_micro Master on the host is a TwinSink's"
                )
        if isinstance(down, str):
            raise UserError(f"down is a list of topics, got the string {down!r}")
        for topic in down:
            if "*" in topic or "#" in topic:
                raise UserError(
                    f"down topic {topic!r}: zoo-framework reactors match whole topics; list each one "
                    "(led.set, led.off) instead of a pattern"
                )
        if keep < 0:
            raise UserError(f"keep must be 0 or more (events kept per node and topic), got {keep}")
        self.master = master
        self.down = list(down)
        self.mirror_state = state
        self.keep = keep
        self.received = 0
        self.forwarded = 0
        self.unheard = 0  # events on topics no reactor listens to
        self._unheard: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self._lock = threading.Lock()
        _teach_zoo_framework()

    def attach(self, source: Source) -> None:
        super().attach(source)
        manager = EventChannelManager()
        for topic in self.down:
            reactor = EventReactor(f"zoo_micro_bridge:{topic}")
            reactor.set_event_callback(self._forward)
            manager.refresh_channel("default", topic, reactor)

    def event(self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int) -> bool:
        if not any(
            not r.reactor_name.startswith("zoo_micro_bridge:") for r in EventReactorManager.get_reactor(topic)
        ):
            # zoo-framework would re-queue, then dead-letter (and log an error for) each of them.
            with self._lock:
                self.unheard += 1
                if self.keep:
                    key = (node, topic)
                    self._unheard.pop(key, None)
                    self._unheard[key] = {
                        "node": node,
                        "topic": topic,
                        "content": content,
                        "seq": seq,
                        "channel": channel,
                    }
                    while len(self._unheard) > self.keep:
                        self._unheard.popitem(last=False)
            return True
        ev = EventNode(
            topic, _FromNode(content, node, seq, channel, priority), channel_name=channel, priority=priority
        )
        EventChannelManager.get_channel(channel).push_event(ev)
        self.received += 1
        return True

    def unheard_events(self, node: str | None = None, topic: str | None = None) -> list[dict]:
        """The kept events no reactor took, oldest first: {"node", "topic", "content", "seq", "channel"}."""
        with self._lock:
            return [
                dict(e)
                for e in self._unheard.values()
                if (node is None or e["node"] == node) and (topic is None or e["topic"] == topic)
            ]

    def latest(self, topic: str, node: str | None = None) -> dict | None:
        """The newest kept event on `topic` (from `node`, or from any node), or None."""
        found = self.unheard_events(node, topic)
        return found[-1] if found else None

    def _forward(self, req: Any) -> None:
        if getattr(req, "node", None) is not None:
            return  # a node's own event: never echoed back down
        content = req.content
        node = None
        if isinstance(content, dict) and set(content) == {"node", "content"}:
            node, content = content["node"], content["content"]
        try:
            self.source.send(req.topic, content, node=node)  # type: ignore[union-attr]
            self.forwarded += 1
        except ValueError as e:
            LogUtils.error(f"zoo-micro bridge: {req.topic} not sent down: {e}")

    def state(self, node: str, scope: str, key: str, payload: dict | None) -> None:
        if not self.mirror_state:
            return
        if payload is None:
            StateMachineManager().remove_state(node, f"{scope}.{key}")
        else:
            StateMachineManager().set_state(node, f"{scope}.{key}", payload.get("value"))

    def state_reset(self, node: str) -> None:
        if self.mirror_state:
            machines = StateMachineManager().get_state_machines()
            if node in machines:
                machines.pop(node)

    def log(self, node: str, level: str, msg: str) -> None:
        text = f"[{node}] {msg}"
        if level == "error":
            LogUtils.error(text)
        elif level == "warn":
            LogUtils.warning(text)
        else:
            LogUtils.info(text)


def run_app(master: Any, source: Source, seconds: float | None = None) -> dict[str, Any]:
    """Start `source`, run the zoo-framework `master` until its shutdown(), Ctrl-C or `seconds`,
    then stop the source; returns the source's stats. What `zoo-micro bridge --sink framework` does."""
    source.start()
    timer = None
    if seconds is not None:
        timer = threading.Timer(seconds, master.shutdown)
        timer.daemon = True
        timer.start()
    try:
        master.run()
    finally:
        if timer is not None:
            timer.cancel()
        source.stop()
    source._raise_failure()
    return source.stats()
