"""The twin: a host-side zoo_micro Master that receives a node's events as if it were the node."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from host_tools.errors import UserError
from host_tools.link.flow import Sink, Source, printable
from zoo_micro import Master
from zoo_micro.bus import EventNode, matches

log = logging.getLogger("zoo_micro.bridge")


class TwinSink(Sink):
    """Node events arrive on the twin's bus unchanged, with `req.node` and `req.seq` added.

    Twin events on a `down` topic (wildcards as on the node) go to the nodes; content shaped
    {"node": id, "content": c} goes to that node only, with content c. The node's state is mirrored
    in the twin's state store under the node's name as scope, keys "<node scope>.<key>".
    What the twin sees besides events (nodes coming and going, state changes, zoo log lines) is
    logged at INFO on `zoo_micro.bridge`, which `zoo-micro bridge --sink twin` shows.
    """

    def __init__(
        self, master: Master | None = None, down: list[str] | tuple[str, ...] = (), timeout: float = 5.0
    ):
        # threads: host code publishes into the twin from its own threads.
        self.master = master or Master(
            {"name": "twin", "state_path": None, "svm_check_interval": 0, "threads": True}
        )
        self.down = list(down)
        self.timeout = timeout
        self.received = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._done: asyncio.Event | None = None
        self._store: Any = None

    def attach(self, source: Source) -> None:
        super().attach(source)
        for topic in self.down:
            self.master.subscribe(topic, self._forward)
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), name="zoo-twin", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(self.timeout):
            raise UserError("the twin Master did not start; see the log above")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        await self.master.start()
        self._ready.set()
        try:
            await self._done.wait()
        finally:
            await self.master.stop()

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    # Node -> twin, run on the twin's loop so its handlers see one thread as on a node.

    def event(self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int) -> bool:
        return self._call(self._offer(node, topic, content, channel, priority, seq))

    async def _offer(
        self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int
    ) -> bool:
        m = self.master
        if m.bus.pending >= m.config["queue_size"]:
            return False  # the twin's bus is full: the source offers it again shortly
        ev = EventNode(topic, content, channel, priority)
        ev.node = node
        ev.seq = seq
        ev.remote = True
        m.emit(ev)
        self.received += 1
        return True

    def node_up(self, node: str, info: dict) -> None:
        log.info("%s is up (%s)", printable(node), printable(", ".join(f"{k} {v}" for k, v in info.items())))

    def node_down(self, node: str) -> None:
        log.info("%s is down", printable(node))

    def log(self, node: str, level: str, msg: str) -> None:
        log.info("%s log %s: %s", printable(node), printable(str(level)), printable(str(msg)))

    def state(self, node: str, scope: str, key: str, payload: dict | None) -> None:
        value = "removed" if payload is None else f"= {payload.get('value')!r}"
        value = printable(value)[:200]
        log.info("%s state %s.%s %s", printable(node), printable(scope), printable(key), value)
        self._call(self._state(node, f"{scope}.{key}", payload))

    async def _state(self, node: str, key: str, payload: dict | None) -> None:
        store = self._state_store()
        if payload is None:
            store.remove_state(node, key)
        else:
            store.set_state(node, key, payload.get("value"))

    def state_reset(self, node: str) -> None:
        log.info("%s sends its whole state again", printable(node))
        self._call(self._state_reset(node))

    async def _state_reset(self, node: str) -> None:
        store = self._state_store()
        for key in list(store.get_state(node) or {}):
            store.remove_state(node, key)

    def _state_store(self) -> Any:
        if self._store is None:
            from zoo_micro.state import StateMachineManager

            self._store = StateMachineManager()
        return self._store

    # Twin -> nodes

    def _forward(self, ev: EventNode) -> None:
        if getattr(ev, "remote", False) or self.source is None:
            return  # it came from a node: never echoed back down
        if not any(matches(t, ev.topic) for t in self.down):
            return
        node, content = None, ev.content
        if isinstance(content, dict) and set(content) == {"node", "content"}:
            node, content = content["node"], content["content"]
        self.source.send(ev.topic, content, node=node, channel=ev.channel, priority=ev.priority)

    def close(self) -> None:
        if self._loop is not None and self._done is not None:
            self._loop.call_soon_threadsafe(self._done.set)
        if self._thread is not None:
            self._thread.join(self.timeout)
            self._thread = None
