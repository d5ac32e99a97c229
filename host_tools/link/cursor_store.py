"""Where each node's stream stood when the host stopped, so a restarted host resumes it exactly."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from host_tools.errors import UserError


class CursorStore:
    """{node: [stream, next_seq]} in a JSON file, replaced atomically; saved at most every `every` s."""

    def __init__(self, path: str | Path, every: float = 0.05) -> None:
        self.path = Path(path)
        self.every = every
        self._data: dict[str, list[int]] = {}
        self._saved: dict[str, list[int]] = {}
        self._last = 0.0
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self._data = {str(k): [int(v[0]), int(v[1])] for k, v in data.items()}
            except (ValueError, TypeError, IndexError, AttributeError):
                raise UserError(
                    f"bridge state file {self.path} is damaged; move it away to start afresh"
                ) from None
            self._saved = {k: list(v) for k, v in self._data.items()}

    def get(self, node: str) -> tuple[int, int] | None:
        v = self._data.get(node)
        return (v[0], v[1]) if v else None

    def set(self, node: str, stream: int, nxt: int) -> None:
        self._data[node] = [stream, nxt]

    def save(self, force: bool = False) -> None:
        if self._data == self._saved:
            return
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self._data))
        os.replace(tmp, self.path)
        self._saved = {k: list(v) for k, v in self._data.items()}
