"""A sink that keeps what it is given, for tests of the MQTT source."""

from __future__ import annotations

import threading
import time
from typing import Any

from host_tools.link.flow import Sink


class Collect(Sink):
    def __init__(self, refuse_first: int = 0) -> None:
        self.events: list[tuple] = []
        self.states: dict[tuple, Any] = {}
        self.logs: list[tuple] = []
        self.ups: list[str] = []
        self.downs: list[str] = []
        self.refusals = refuse_first  # say "no room" this many times first
        self._lock = threading.Lock()

    def event(self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int) -> bool:
        if self.refusals > 0:
            self.refusals -= 1
            return False
        with self._lock:
            self.events.append((node, topic, content, seq))
        return True

    def state(self, node: str, scope: str, key: str, payload: dict | None) -> None:
        self.states[(node, scope, key)] = payload

    def log(self, node: str, level: str, msg: str) -> None:
        self.logs.append((node, level, msg))

    def node_up(self, node: str, info: dict) -> None:
        self.ups.append(node)

    def node_down(self, node: str) -> None:
        self.downs.append(node)

    def ticks(self, node: str) -> list[int]:
        with self._lock:
            return [c["i"] for n, t, c, _ in self.events if n == node and t == "fleet.tick"]

    def wait(self, cond, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True
