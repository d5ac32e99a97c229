"""End to end: a zoo_micro node on the MicroPython unix port, a pty, a relay, and a zoo-framework app
on the host whose reactors count what arrives. With a clean line, then with a line that corrupts,
drops and repeats bytes, is unplugged three times, and a node that restarts mid-stream."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from bridge_apps.nodes import Node, device_node, framework_app
from bridge_apps.relay import Faults, Relay


def drive(node: Node, relay: Relay, app, timeout: float, unplugs: list[tuple[float, float]] = ()) -> float:
    """Keep the node running (restarting it when it asks) until the app exits; the app's wall time."""
    t0 = time.monotonic()
    pending = sorted(unplugs)
    while app.poll() is None:
        now = time.monotonic() - t0
        if now > timeout:
            app.kill()
            pytest.fail(f"the framework app did not finish within {timeout}s:\n{app.stdout.read()[-4000:]}")
        if pending and now >= pending[0][0]:
            relay.unplug(pending.pop(0)[1])
        rc = node.exited()
        if rc is not None:
            node.close_fd()
            assert rc == 3, f"the node ended with exit code {rc}"
            relay.set_device(node.start())  # a reset: the same app boots again on a fresh pty
        time.sleep(0.02)
    assert app.returncode == 0, app.stdout.read()[-4000:]
    return time.monotonic() - t0


def test_node_events_reach_zoo_framework_reactors_and_app_events_reach_the_node(tmp_path: Path):
    node = device_node(tmp_path, up=2000, journal=False)
    relay = Relay(node.start()).start()
    app, result_path = framework_app(tmp_path, relay.url, up=2000, down=200, timeout=60, wait_health=True)
    try:
        drive(node, relay, app, timeout=90)
    finally:
        node.stop()
        relay.stop()
    r = json.loads(result_path.read_text())
    assert r["up"] == list(range(2000))  # every event, once, in order, through the framework pipeline
    assert r["got"] == list(range(200))  # app events went down and the node saw each once, in order
    assert r["nodes"] == ["n1"] and r["envelope_ok"]  # reactors see the node id and the node's content
    assert r["state"] == 2000  # the node's state store, mirrored under scope "n1"
    assert ["n1", "warn", "half a thousand sent"] in r["logs"]  # zoo log lines arrive as log lines
    link = r["health"]["plugins"]["bridge"]  # the node's health report carries its link counters
    assert link["dropped"] == 0 and link["state"] == "up"
    stats = r["bridge"]
    assert stats["bad_frames"] == 0 and stats["text_bytes"] > 0  # print() output and a traceback: text only
    assert stats["nodes"]["n1"]["board"] == "linux" and stats["nodes"]["n1"]["version"]


def test_bad_line_unplugs_and_a_restart_lose_and_repeat_nothing(tmp_path: Path):
    """10,000 events up and 1,000 down, exactly once and in order, through 1% corrupted bytes,
    dropped bytes, repeated frames, three unplugs (the last long enough for the node to give up
    and say hello again) and a node restart with events still unacknowledged."""
    node = device_node(tmp_path, up=10000, journal=True)
    noise = Faults(corrupt=0.01, drop=0.001, duplicate=0.01)
    relay = Relay(node.start(), up=noise, down=noise, seed=7).start()
    app, result_path = framework_app(tmp_path, relay.url, up=10000, down=1000, restart_at=5000, timeout=100)
    try:
        drive(node, relay, app, timeout=110, unplugs=[(3, 2.0), (7, 2.0), (11, 4.5)])
    finally:
        node.stop()
        relay.stop()
    r = json.loads(result_path.read_text())
    assert r["up"] == list(range(10000))
    assert r["got"] == list(range(1000))
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert node.starts == 2 and progress["restarts"] == 1
    assert progress["unacked"] >= 10  # the reset happened with events in flight: the journal replayed them
    n1 = r["bridge"]["nodes"]["n1"]
    assert r["bridge"]["losses"] == 3 and relay.unplugs == 3  # the host saw the port vanish three times
    # The first hello and the restart's at least; whether the long unplug also ended the session
    # depends on where the node's timeout falls on a loaded machine, so it is not counted on.
    assert n1["sessions"] >= 2
    assert n1["lost"] == 0 and r["health"]["plugins"]["bridge"]["dropped"] == 0
    # The faults really happened, and were caught rather than delivered.
    assert relay.up.corrupted > 1000 and relay.up.dropped > 100 and relay.up.duplicated > 10
    assert r["bridge"]["bad_frames"] > 1000 and n1["duplicates"] > 0
