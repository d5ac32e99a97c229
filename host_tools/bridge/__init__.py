"""The host end of the serial bridge: ports, sessions with each node, and sinks for their events.

`Bridge(port, sinks=[...])` keeps one port open (reopening it when it comes back) and speaks the
protocol of `docs/protocol.md` with the node behind it. Sinks: `JsonSink`, `TwinSink` (a host-side
zoo_micro Master) and `FrameworkSink` (a running zoo-framework app, imported only when used).
"""

from host_tools.bridge.bridge import Bridge
from host_tools.bridge.json_sink import JsonSink
from host_tools.bridge.sink import Sink

__all__ = ["Bridge", "JsonSink", "Sink", "FrameworkSink", "TwinSink"]


def __getattr__(name: str):
    # The twin and framework sinks pull in their runtimes only when asked for.
    if name == "TwinSink":
        from host_tools.bridge.twin_sink import TwinSink

        return TwinSink
    if name == "FrameworkSink":
        from host_tools.bridge.framework_sink import FrameworkSink

        return FrameworkSink
    raise AttributeError(name)
