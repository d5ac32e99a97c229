"""The zoo-framework sink: node events enter a running zoo-framework app's event pipeline.

zoo-framework reads ./config.json from the working directory when it is first imported, so import
this module from the app's directory (the `zoo-micro bridge` command does so from its cwd).
"""

from __future__ import annotations

from typing import Any

from zoo_framework.event.event_channel_manager import EventChannelManager
from zoo_framework.fifo.node import EventNode
from zoo_framework.reactor import EventReactor, EventReactorManager
from zoo_framework.statemachine.state_machine_manager import StateMachineManager
from zoo_framework.utils import LogUtils

from host_tools.errors import UserError
from host_tools.link.flow import Sink, Source


class FrameworkSink(Sink):
    """A node event on topic T reaches `@event(T, channel=...)` reactors with content
    {"node": id, "content": c, "seq": n}: the node's content c, and its place n in the node's stream.

    App events on the `down` topics go to the nodes (content {"node": id, "content": c} goes to that
    node only, with content c). zoo-framework matches whole topics, so `down` lists topics, not
    patterns. The node's state is mirrored in the framework's StateMachineManager: scope = node id,
    key = "<node scope>.<key>", value = the node's value. Events on topics no reactor listens to are
    counted in `unheard` rather than queued (the framework would dead-letter each one).
    """

    def __init__(self, down: list[str] | tuple[str, ...] = (), state: bool = True) -> None:
        for topic in down:
            if "*" in topic or "#" in topic:
                raise UserError(
                    f"down topic {topic!r}: zoo-framework reactors match whole topics; list each one "
                    "(led.set, led.off) instead of a pattern"
                )
        self.down = list(down)
        self.mirror_state = state
        self.received = 0
        self.forwarded = 0
        self.unheard = 0  # events on topics no reactor listens to
        self._unheard_topics: set[str] = set()

    def attach(self, source: Source) -> None:
        super().attach(source)
        manager = EventChannelManager()
        for topic in self.down:
            reactor = EventReactor(f"zoo_micro_bridge:{topic}")
            reactor.set_event_callback(self._forward)
            manager.refresh_channel("default", topic, reactor)

    def event(self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int) -> bool:
        if not EventReactorManager.get_reactor(topic):
            # zoo-framework dead-letters (and logs an error for) every event no reactor takes.
            self.unheard += 1
            if topic not in self._unheard_topics:
                self._unheard_topics.add(topic)
                LogUtils.info(f"zoo-micro bridge: no reactor for {topic}; its events are counted, not queued")
            return True
        ev = EventNode(
            topic, {"node": node, "content": content, "seq": seq}, channel_name=channel, priority=priority
        )
        EventChannelManager.get_channel(channel).push_event(ev)
        self.received += 1
        return True

    def _forward(self, req: Any) -> None:
        content = req.content
        if isinstance(content, dict) and "node" in content and "seq" in content:
            return  # a node's own event: never echoed back down
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
