"""Where each node's stream stood when the host stopped, so a restarted host resumes it exactly."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from host_tools.errors import UserError

log = logging.getLogger("zoo_micro.bridge")


class CursorStore:
    """{node: [stream, next_seq]} in a JSON file, replaced atomically; saved at most every `every` s.

    It keeps the `max_nodes` nodes set most recently. A save that fails (disk full, folder gone)
    is logged once and tried again later; the bridge goes on.
    """

    def __init__(self, path: str | Path, every: float = 0.05, max_nodes: int = 256) -> None:
        self.path = Path(path)
        self.every = every
        self.max_nodes = max_nodes
        self.failed_saves = 0
        self._data: dict[str, list[int]] = {}
        self._saved: dict[str, list[int]] = {}
        self._last = 0.0
        folder = self.path.parent
        if not folder.is_dir():
            raise UserError(
                f"bridge state file {self.path}: folder {folder} does not exist; "
                "create it or give another path"
            )
        if self.path.is_dir():
            raise UserError(f"bridge state file {self.path} is a folder; give a file path")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(f"bridge state file {self.path}: folder {folder} is not writable")
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self._data = {str(k): [int(v[0]), int(v[1])] for k, v in data.items()}
            except (ValueError, TypeError, IndexError, AttributeError, KeyError, OSError):
                raise UserError(
                    f"bridge state file {self.path} is damaged; move it away to start afresh"
                ) from None
            self._saved = {k: list(v) for k, v in self._data.items()}

    def get(self, node: str) -> tuple[int, int] | None:
        v = self._data.get(node)
        return (v[0], v[1]) if v else None

    def set(self, node: str, stream: int, nxt: int) -> None:
        data = self._data
        if data.get(node) == [stream, nxt]:
            return
        data.pop(node, None)  # re-inserted last: the oldest entry is the first key
        data[node] = [stream, nxt]
        while len(data) > self.max_nodes:
            del data[next(iter(data))]

    def save(self, force: bool = False) -> None:
        if self._data == self._saved:
            return
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self._data))
            os.replace(tmp, self.path)
        except OSError as e:
            self.failed_saves += 1
            if self.failed_saves == 1:
                log.error("bridge state file %s not saved (%s); trying again as it moves", self.path, e)
            return
        self._saved = {k: list(v) for k, v in self._data.items()}
