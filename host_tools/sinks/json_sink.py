"""JSON lines: one object per event on stdout (node, topic, content, channel, priority, seq, time).
Node text is not among them: the bridge logs each text line once, as `[node] line`."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

from host_tools.link.flow import Sink, printable


class JsonSink(Sink):
    """State changes and log lines are events too, on zoo.state, zoo.state.sync and zoo.log."""

    def __init__(self, out: IO[str] | None = None, text_out: IO[str] | None = None) -> None:
        """text_out: where node text lines go as `[port] line` (nowhere when None)."""
        self.out = out or sys.stdout
        self.text_out = text_out
        self.count = 0

    def _write(self, obj: dict) -> None:
        self.out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
        self.out.flush()
        self.count += 1

    def event(self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int) -> bool:
        obj = {"node": node, "topic": topic, "content": content, "seq": seq, "time": round(time.time(), 3)}
        if channel != "default":
            obj["channel"] = channel
        if priority:
            obj["priority"] = priority
        self._write(obj)
        return True

    def state(self, node: str, scope: str, key: str, payload: dict | None) -> None:
        self._write({"node": node, "topic": "zoo.state", "content": [scope, key, payload]})

    def state_reset(self, node: str) -> None:
        self._write({"node": node, "topic": "zoo.state.sync", "content": None})

    def log(self, node: str, level: str, msg: str) -> None:
        self._write({"node": node, "topic": "zoo.log", "content": [level, msg]})

    def text(self, port: str, line: str) -> None:
        if self.text_out is not None:
            self.text_out.write(f"[{port}] {printable(line)}\n")
            self.text_out.flush()
