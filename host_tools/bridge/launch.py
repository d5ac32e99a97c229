"""Running a bridge with one sink until a time limit: what `zoo-micro bridge` does.

The events come from a serial port (`Bridge`) or, with `source`, from nodes on an MQTT broker
(`MqttSource`); both are `host_tools.link.flow.Source`s, feed the same sinks and take the same `send()`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from host_tools.errors import UserError
from host_tools.link.flow import Source
from host_tools.sinks.json_sink import JsonSink
from host_tools.sources.serial_source import Bridge

SINKS = ("framework", "twin", "json")
log = logging.getLogger("zoo_micro.bridge")


def launch(
    port: str | None,
    sink: str = "json",
    seconds: float | None = None,
    baudrate: int = 115200,
    down: list[str] | None = None,
    state_file: str | None = None,
    app: str | None = None,
    commands: IO[str] | None = None,
    out: IO[str] | None = None,
    source: str | None = None,
    max_links: int = 8,
    link_idle: float = 60.0,
) -> dict[str, Any]:
    """Carry events from `port` (or the broker `source`) to `sink` for `seconds` (until Ctrl-C when
    None); returns the carrier's stats.

    json: events as JSON lines on `out`; JSON lines read from `commands` ({"topic", "content",
    "node"?}) go down to the nodes. twin: a host-side zoo_micro Master; events are logged.
    framework: `app` (a Python file with @event reactors, and maybe workers and its own zoo-framework
    Master) runs in this process with the nodes' events; see docs/framework-bridge.md.
    mqtt://HOST:PORT: the port's nodes appear on that broker (see docs/fleet.md).
    max_links, link_idle: node names one serial port keeps sessions for, and how long an offline
    one is kept when a new name needs its place.
    """
    if (port is None) == (source is None):
        raise UserError("give a serial --port, or --from mqtt://HOST:PORT for nodes on a broker")
    if app is not None and sink != "framework":
        raise UserError("--app goes with --sink framework (it names the zoo-framework app to run)")
    if sink.startswith(("mqtt://", "mqtts://")):
        if source is not None:
            raise UserError("--from a broker and --sink a broker: pick one end on the broker")
        from host_tools.sinks.mqtt_sink import MqttSink

        sinks: list = [MqttSink(sink)]
    elif sink == "json":
        sinks = [JsonSink(out)]
    elif sink == "twin":
        from host_tools.sinks.twin_sink import TwinSink

        twin = TwinSink(down=list(down or []))
        twin.master.subscribe(
            "#", lambda ev: log.info("%s %s %s", getattr(ev, "node", "twin"), ev.topic, ev.content)
        )
        sinks = [twin]
    elif sink == "framework":
        carrier = _carrier(port, source, baudrate, state_file, max_links, link_idle)
        return _run_framework(carrier, seconds, down, app)
    else:
        raise UserError(
            f"unknown sink {sink!r}; choose one of {', '.join(SINKS)}, or a broker mqtt://HOST:PORT"
        )
    carrier = _carrier(port, source, baudrate, state_file, max_links, link_idle)
    carrier.sinks = sinks
    carrier.start()
    if commands is not None:
        threading.Thread(target=_read_commands, args=(carrier, commands), daemon=True).start()
    carrier.run(seconds)
    return carrier.stats()


def _carrier(
    port: str | None,
    source: str | None,
    baudrate: int,
    state_file: str | None,
    max_links: int,
    link_idle: float,
) -> Source:
    if source is not None:
        from host_tools.sources.mqtt_source import MqttSource

        return MqttSource(source, state_path=state_file)
    return Bridge(  # type: ignore[arg-type]
        port, baudrate=baudrate, state_path=state_file, max_links=max_links, link_idle=link_idle
    )


def _read_commands(carrier: Source, commands: IO[str]) -> None:
    for line in commands:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            carrier.send(cmd["topic"], cmd.get("content"), node=cmd.get("node"))
        except (ValueError, KeyError, TypeError) as e:
            log.error('input line not sent: %s (write {"topic": "led.set", "content": 1})', e)


def _run_framework(
    carrier: Source, seconds: float | None, down: list[str] | None, app: str | None
) -> dict[str, Any]:
    if not Path("config.json").exists():
        log.warning("no config.json here: zoo-framework runs on its defaults (events dispatched every 5 s)")
    from zoo_framework.core import Master

    from host_tools.sinks.framework_sink import FrameworkSink, run_app

    module = _load_app(app) if app is not None else None
    masters = [v for v in vars(module).values() if isinstance(v, Master)] if module is not None else []
    if len(masters) > 1:
        raise UserError(f"app {app} makes {len(masters)} zoo-framework Masters; the bridge joins one")
    # The app's own Master, with the workers it registered, or one for an app of reactors only.
    master = masters[0] if masters else Master()
    # The app's own FrameworkSink (its down topics, and the unheard events it reads), or a new one.
    sinks = [v for v in vars(module).values() if isinstance(v, FrameworkSink)] if module is not None else []
    if len(sinks) > 1:
        raise UserError(f"app {app} makes {len(sinks)} FrameworkSinks; the bridge feeds one")
    if sinks and down:
        raise UserError(f"app {app} makes its own FrameworkSink: list the down topics there, not in --down")
    if sinks and sinks[0].master not in (None, master):
        raise UserError(f"app {app}: its FrameworkSink joins another Master than the app's")
    if sinks:
        sinks[0].master = master
    carrier.sinks = [sinks[0] if sinks else FrameworkSink(master, down=list(down or []))]
    return run_app(master, carrier, seconds)


def _load_app(path: str) -> ModuleType:
    """Import the app file as a module (not as __main__: its own `if __name__ == "__main__":` block,
    which would start a bridge or run its Master, stays out)."""
    file = Path(path)
    if not file.is_file():
        raise UserError(
            f"app {path} not found; give the Python file with your @event reactors (and workers and Master)"
        )
    spec = importlib.util.spec_from_file_location(file.stem, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    spec.loader.exec_module(module)
    return module
