"""The serial bridge as one import: `Bridge(port, sinks=[...])` (`host_tools.sources.serial_source`)
keeps one port open, reopening it when it comes back, and speaks the protocol of `docs/protocol.md`
with the node behind it. Sinks: `JsonSink`, `TwinSink` (a host-side zoo_micro Master) and
`FrameworkSink` (a running zoo-framework app, imported only when used). `launch` runs one until a
time limit, as `zoo-micro bridge` does. `LinkFailed` is what `run()` and `stop()` raise when the
bridge's I/O thread ended on an error it could not contain.
"""

from host_tools.link.flow import LinkFailed, Sink, Source
from host_tools.sinks.json_sink import JsonSink
from host_tools.sources.serial_source import Bridge

__all__ = ["Bridge", "JsonSink", "LinkFailed", "Sink", "Source", "FrameworkSink", "TwinSink"]


def __getattr__(name: str):
    # The twin and framework sinks pull in their runtimes only when asked for.
    if name == "TwinSink":
        from host_tools.sinks.twin_sink import TwinSink

        return TwinSink
    if name == "FrameworkSink":
        from host_tools.sinks.framework_sink import FrameworkSink

        return FrameworkSink
    raise AttributeError(name)
