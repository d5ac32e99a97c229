"""An app's twin: its main.py and workers on CPython, in this process, with the same zoo_micro files.

The twin runs main.py with Master.run() caught: main.py builds its Master as on the board, and the
twin then drives that Master on an asyncio loop of its own thread, so a test can publish to it and
wait for the events it publishes.
"""

from __future__ import annotations

import asyncio
import os
import runpy
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

from host_tools.deploy import check_app
from host_tools.errors import UserError

_load_lock = threading.Lock()  # main.py runs with process-wide patches (cwd, sys.path, Master.run)


class Twin:
    """app: the app folder. modules: stand-ins put in sys.modules while the twin lives, for what
    CPython lacks (e.g. {"machine": fake_machine}); main.py runs with the app folder as cwd."""

    def __init__(self, app: str | Path, modules: dict[str, ModuleType] | None = None) -> None:
        self.app = check_app(app).resolve()
        self.modules = dict(modules or {})
        self.master = None
        self.events: list = []
        self._cond = threading.Condition()
        self._cursor = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._saved_modules: dict[str, ModuleType | None] = {}

    def start(self, timeout: float = 10.0) -> Twin:
        self.master = self._load()
        self._watch_bus()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="zoo-twin", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise TimeoutError(f"the twin's Master did not start within {timeout}s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread is not None and self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        self._thread = None
        for name, module in self._saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None) or ""
            if path and Path(path).resolve().is_relative_to(self.app):
                del sys.modules[name]  # the next twin of this app imports it afresh
        if str(self.app) in sys.path:
            sys.path.remove(str(self.app))

    def __enter__(self) -> Twin:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _load(self):
        from zoo_micro import decorators
        from zoo_micro.master import Master

        caught = []

        def run(master, duration=None):
            caught.append(master)

        for name, module in self.modules.items():
            self._saved_modules[name] = sys.modules.get(name)
            sys.modules[name] = module
        sys.path.insert(0, str(self.app))
        with _load_lock:
            saved = (list(decorators.workers), list(decorators.handlers), Master.run, os.getcwd())
            decorators.workers[:] = []
            decorators.handlers[:] = []
            Master.run = run
            try:
                os.chdir(self.app)
                runpy.run_path(str(self.app / "main.py"), run_name="__main__")
            except ModuleNotFoundError as e:
                raise UserError(
                    f"{self.app.name}/main.py imports {e.name}, which CPython does not have; give the twin "
                    f"a stand-in: zoo_twin(app, modules={{{e.name!r}: ...}})"
                ) from None
            finally:
                decorators.workers[:], decorators.handlers[:], Master.run, cwd = saved
                os.chdir(cwd)
        if not caught:
            raise UserError(
                f"{self.app.name}/main.py never called master.run(); the twin runs the Master that main.py "
                "builds and runs"
            )
        return caught[-1]

    def _watch_bus(self) -> None:
        # Every event queued on the loop thread; a thread's publish is seen when the bus takes it in.
        from zoo_micro.bus import EventNode

        bus = self.master.bus
        put = bus._put

        def recording_put(channel, e, priority):
            if self._loop is not None and self._thread is threading.current_thread():
                # queued as (topic, content[, priority]), or (None, node, priority) for a prepared node
                ev = e[1] if e[0] is None else EventNode(e[0], e[1], channel, priority)
                with self._cond:
                    self.events.append(ev)
                    self._cond.notify_all()
            return put(channel, e, priority)

        bus._put = recording_put

        def publish(topic, content=None, channel="default", priority=0):
            # The bus's own publish appends the common event without _put; here every event takes
            # the full path, which ends in _put, where it is recorded.
            return bus._publish(topic, content, channel, priority)

        bus.publish = self.master.publish = publish

    def _run(self, started: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.master.start()
            except BaseException as e:
                self._error = e
                started.set()
                return
            started.set()
            await self._stop.wait()
            await self.master.stop()

        asyncio.run(main())

    def publish(self, topic: str, content=None, channel: str = "default", priority: int = 0) -> None:
        """Publish into the running Master from the test's thread."""
        assert self._loop is not None, "start the twin first"
        self._loop.call_soon_threadsafe(self.master.publish, topic, content, channel, priority)

    def wait_for_event(self, topic: str, timeout: float = 10.0):
        """The next event (an EventNode) whose topic matches (exact, or a pattern like "sensor.#"),
        after the last one returned."""
        from zoo_micro.bus import matches

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._cursor < len(self.events):
                    ev = self.events[self._cursor]
                    self._cursor += 1
                    if matches(topic, ev.topic):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({e.topic for e in self.events})
                    raise TimeoutError(f"timed out after {timeout}s waiting for {topic!r}; seen: {seen}")
                self._cond.wait(left)
