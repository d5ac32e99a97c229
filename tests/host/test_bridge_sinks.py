"""The bridge's sinks and command line against a real node: JSON lines both ways, the twin, a host
restart that resumes from its state file, and the one-line errors a person sees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from bridge_apps.nodes import device_node
from bridge_apps.relay import Relay

from host_tools.bridge import Bridge, TwinSink
from host_tools.interpreter import PROJECT_ROOT
from host_tools.link.session import TooLarge

CLI = [sys.executable, "-m", "host_tools.cli.main", "bridge"]


def cli(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.Popen(
        CLI + args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def events(stdout: str, topic: str) -> list:
    out = []
    for line in stdout.splitlines():
        obj = json.loads(line)  # every stdout line is one JSON object
        assert {"node", "topic", "content"} <= set(obj)
        if obj["topic"] == topic:
            out.append(obj["content"])
    return out


@pytest.fixture
def node_on_relay(tmp_path: Path):
    node = device_node(tmp_path, up=1000, journal=False)
    relay = Relay(node.start()).start()
    yield node, relay
    node.stop()
    relay.stop()


def test_json_sink_prints_events_and_sends_stdin_lines_down(tmp_path: Path, node_on_relay):
    _, relay = node_on_relay
    proc = cli(["--port", relay.url, "--sink", "json", "--seconds", "6"], tmp_path, stdin=subprocess.PIPE)
    down = list(range(20)) + ["caf\u00e9 \U0001f600 \x7f"]  # UTF-8 both ways, astral and DEL included
    lines = "".join(json.dumps({"topic": "test.down", "content": c}) + "\n" for c in down)
    out, err = proc.communicate(lines + "not json\n", timeout=30)
    assert proc.returncode == 0, err
    assert events(out, "test.up") == list(range(1000))
    assert events(out, "test.got") == down  # sent down from stdin, echoed back by the node
    assert all(json.loads(line)["node"] == "n1" for line in out.splitlines())
    assert "[n1] progress 1000" in err  # the node's print() output, shown as a log line, not an event
    assert "input line not sent" in err
    assert "1 node(s)" in err


def test_twin_receives_events_with_the_node_id_and_its_events_go_down(node_on_relay):
    _, relay = node_on_relay
    twin = TwinSink(down=["test.down"])
    seen, got = [], []
    twin.master.subscribe("test.up", lambda req: seen.append((req.node, req.content)))
    twin.master.subscribe("test.got", lambda req: got.append(req.content))
    bridge = Bridge(relay.url, [twin]).start()
    try:
        assert bridge.wait_for_node("n1", timeout=10)
        for i in range(10):
            twin.master.publish("test.down", i)  # twin events on a down topic reach the node
        deadline = time.monotonic() + 20
        while (len(seen) < 1000 or len(got) < 10) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        bridge.stop()
    assert seen == [("n1", i) for i in range(1000)]
    assert got == list(range(10))
    from zoo_micro.state import StateMachineManager

    assert StateMachineManager().get_state("n1", "app.progress") == 1000  # the node's state, mirrored


def test_twin_on_the_command_line_shows_what_the_twin_sees(tmp_path: Path, node_on_relay):
    _, relay = node_on_relay
    proc = cli(["--port", relay.url, "--sink", "twin", "--seconds", "6"], tmp_path)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert "n1 is up (board linux" in err  # the node came
    assert [line for line in lines if line.startswith("n1 test.up ")][:3] == [
        "n1 test.up 0",
        "n1 test.up 1",
        "n1 test.up 2",
    ]  # its events, as the twin's bus has them
    assert "n1 sends its whole state again" in lines  # its state store, mirrored in the twin
    assert "n1 log warn: half a thousand sent" in lines  # its zoo log lines
    assert "n1 state app.progress = 1000" in lines  # its state, mirrored in the twin
    assert lines.count("[n1] progress 1000") == 1  # its print() output, once


def test_restarted_host_resumes_from_its_state_file_without_loss_or_repeat(tmp_path: Path):
    node = device_node(tmp_path, up=3000, journal=False)
    relay = Relay(node.start(), baud=38400).start()  # paced, so the stream is still flowing at the stop
    state = tmp_path / "bridge-state.json"
    outputs = []
    try:
        for seconds in (2.5, 12):
            proc = cli(["--port", relay.url, "--state-file", str(state), "--quiet"], tmp_path)
            threading.Timer(seconds, proc.send_signal, args=(signal.SIGINT,)).start()
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 130, err  # Ctrl-C: a clean stop that saves where it was
            outputs.append(events(out, "test.up"))
    finally:
        node.stop()
        relay.stop()
    first, second = outputs
    assert 0 < len(first) < 3000  # the first host stopped mid-stream
    assert first + second == list(range(3000))  # the second took over exactly where it stopped
    assert json.loads(state.read_text())["n1"][1] > 0


def test_too_large_event_is_refused_with_a_clear_error(node_on_relay):
    _, relay = node_on_relay
    bridge = Bridge(relay.url).start()
    try:
        assert bridge.wait_for_node("n1", timeout=10)
        with pytest.raises(TooLarge, match="frame_max"):
            bridge.send("test.down", "x" * 600)
        with pytest.raises(ValueError, match="must be JSON"):
            bridge.send("test.down", float("nan"))
    finally:
        bridge.stop()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "nope://x"], "protocol 'nope' not known"),
        (["--port", "loop://", "--sink", "nope"], "unknown sink 'nope'"),
        (["--port", "loop://", "--sink", "json", "--app", "a.py"], "--app goes with --sink framework"),
        (["--port", "loop://", "--sink", "framework", "--down", "led.*"], "list each one"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str):
    proc = cli(args + ["--seconds", "0.2"], tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    lines = [line for line in err.splitlines() if line.startswith("zoo-micro bridge:")]
    assert len(lines) == 1 and message in lines[0], err
