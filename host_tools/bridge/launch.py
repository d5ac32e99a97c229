"""Running a bridge with one of the three sinks until a time limit: what `zoo-micro bridge` does."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
from pathlib import Path
from typing import IO, Any

from host_tools.bridge.bridge import Bridge
from host_tools.bridge.json_sink import JsonSink
from host_tools.errors import UserError

SINKS = ("framework", "twin", "json")
log = logging.getLogger("zoo_micro.bridge")


def launch(
    port: str,
    sink: str = "json",
    seconds: float | None = None,
    baudrate: int = 115200,
    down: list[str] | None = None,
    state_file: str | None = None,
    app: str | None = None,
    commands: IO[str] | None = None,
    out: IO[str] | None = None,
) -> dict[str, Any]:
    """Bridge `port` to `sink` for `seconds` (until Ctrl-C when None); returns the bridge's stats.

    json: events as JSON lines on `out`; JSON lines read from `commands` ({"topic", "content",
    "node"?}) go down to the nodes. twin: a host-side zoo_micro Master; events are logged.
    framework: a zoo-framework Master runs `app` (a Python file with @event reactors) in this process.
    """
    down = list(down or [])
    if sink not in SINKS:
        raise UserError(f"unknown sink {sink!r}; choose one of {', '.join(SINKS)}")
    if app is not None and sink != "framework":
        raise UserError("--app goes with --sink framework (it names the zoo-framework app to run)")
    if sink == "json":
        return _run_json(port, seconds, baudrate, state_file, commands, out)
    if sink == "twin":
        return _run_twin(port, seconds, baudrate, down, state_file)
    return _run_framework(port, seconds, baudrate, down, state_file, app)


def _bridge(port: str, sinks: list, baudrate: int, state_file: str | None) -> Bridge:
    return Bridge(port, sinks, baudrate=baudrate, state_path=state_file)


def _run_json(port, seconds, baudrate, state_file, commands, out) -> dict[str, Any]:
    bridge = _bridge(port, [JsonSink(out)], baudrate, state_file)
    bridge.start()
    if commands is not None:
        threading.Thread(target=_read_commands, args=(bridge, commands), daemon=True).start()
    try:
        bridge.run(seconds)
    finally:
        bridge.stop()
    return bridge.stats()


def _read_commands(bridge: Bridge, commands: IO[str]) -> None:
    for line in commands:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            bridge.send(cmd["topic"], cmd.get("content"), node=cmd.get("node"))
        except (ValueError, KeyError, TypeError) as e:
            log.error('input line not sent: %s (write {"topic": "led.set", "content": 1})', e)


def _run_twin(port, seconds, baudrate, down, state_file) -> dict[str, Any]:
    from host_tools.bridge.twin_sink import TwinSink

    twin = TwinSink(down=down)
    twin.master.subscribe(
        "#", lambda ev: log.info("%s %s %s", getattr(ev, "node", "twin"), ev.topic, ev.content)
    )
    bridge = _bridge(port, [twin], baudrate, state_file)
    bridge.run(seconds)
    return bridge.stats()


def _run_framework(port, seconds, baudrate, down, state_file, app) -> dict[str, Any]:
    if not Path("config.json").exists():
        log.warning("no config.json here: zoo-framework runs on its defaults (events dispatched every 5 s)")
    from zoo_framework.core import Master

    from host_tools.bridge.framework_sink import FrameworkSink

    if app is not None:
        _load_app(app)
    bridge = _bridge(port, [FrameworkSink(down=down)], baudrate, state_file)
    master = Master()
    bridge.start()
    if seconds is not None:
        timer = threading.Timer(seconds, master.shutdown)
        timer.daemon = True
        timer.start()
    try:
        master.run()
    finally:
        bridge.stop()
    return bridge.stats()


def _load_app(path: str) -> None:
    file = Path(path)
    if not file.is_file():
        raise UserError(f"app {path} not found; give the Python file that declares your @event reactors")
    spec = importlib.util.spec_from_file_location(file.stem, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    spec.loader.exec_module(module)
