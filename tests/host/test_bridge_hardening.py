"""The host bridge against hostile and broken input: forged frames with valid CRCs (JSON nested
1,500 deep, huge fields, wrong types, a low mark or count that would end the stream), floods of
hellos from new names, node text with terminal escapes, sinks that raise, a state file in a folder
that does not exist, and an I/O thread that ends anyway. Frames go straight into the bridge's
turn(), without a port, so each case is exact and quick."""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import textwrap
import time
import tty
from pathlib import Path

import pytest

from host_tools.bridge import Bridge, Sink
from host_tools.interpreter import PROJECT_ROOT
from host_tools.link.cursor_store import CursorStore
from host_tools.link.flow import LinkFailed, printable
from host_tools.link.session import HostSession
from host_tools.sources import serial_source
from zoo_micro import port as zport
from zoo_micro.link import frame

DEEP = "[" * 1500 + "]" * 1500


def hello(
    name: object = "n1", stream: int = 0x51, first: int = 0, nonce: int = 7, payload: str | None = None
):
    body = json.dumps([name, "rp2", "0.1.0"]) if payload is None else payload
    return frame.encode("h", [2, stream, first, None, None, 512, nonce], body)


def data(seq: int, contents: list, topic: str = "t.a", count: int | None = None, low: int | None = None):
    body = [[topic]]
    for c in contents:
        body += [0, c]
    fields = [seq, None, len(contents) if count is None else count, 0] + ([low] if low is not None else [])
    return frame.encode("d", fields, json.dumps(body))


def raw(body: bytes) -> bytes:
    """A frame around any bytes, with its CRC right."""
    from binascii import crc32

    return b"\x1e%08x%s\n" % (crc32(body) & 0xFFFFFFFF, body)


class Collect(Sink):
    def __init__(self) -> None:
        self.events: list = []
        self.ups: list = []
        self.texts: list = []

    def event(self, node, topic, content, channel, priority, seq):
        self.events.append((node, topic, content, seq))
        return True

    def node_up(self, node, info):
        self.ups.append(node)

    def text(self, port, line):
        self.texts.append(line)


class Raises(Sink):
    def event(self, node, topic, content, channel, priority, seq):
        raise KeyError("a sink with a bug")


def warnings(caplog, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and word in r.getMessage()]


def test_frames_nested_1500_deep_huge_or_wrongly_typed_are_counted_logged_once_and_the_stream_goes_on(caplog):
    sink = Collect()
    b = Bridge("loop://", [sink])
    b.turn(hello() + data(0, [0]))
    # Data frames a little ahead of the stream: one at the very next seq with unreadable events
    # would be skipped (and counted lost), as a node's own damaged frame must be.
    forged = [
        hello(payload=DEEP),  # RecursionError in the hello's JSON
        hello(payload='["n1", ' + DEEP + "]"),
        frame.encode("d", [5, None, 1, 0], '[["t.a"],0,' + DEEP + "]"),
        hello(name="x" * 2000),  # a node name of 2,000 characters (the frame itself is sound)
        hello(payload='{"name": "n9"}'),  # wrong types: a dict, a number, a list of lists
        hello(payload="42"),
        hello(name=["n", 1]),
        frame.encode("d", [(1, 2), None, 1, 0], '[["t.a"],0,1]'),
        frame.encode("d", [5, None, 1, 0], '{"t.a": 1}'),
        raw(b"d5,,1,0 \xff\xfe[\x80]"),  # not UTF-8
    ]
    for _ in range(50):
        for line in forged:
            b.turn(line)
    b.turn(data(1, [1]) + data(2, [2]))
    assert [e[2] for e in sink.events] == [0, 1, 2]  # the node's own stream went on, in order
    st = b.stats()
    assert st["malformed"] >= 50 * 6 and st["nodes"]["n1"]["malformed"] >= 50 * 3
    assert list(st["nodes"]) == ["n1"] and st["nodes"]["n1"]["lost"] == 0
    # Logged once per kind (frames the bridge refused, frames the node's session refused), not per frame.
    assert 1 <= len(warnings(caplog, "malformed")) <= 2, warnings(caplog, "malformed")


def test_a_sink_that_raises_is_logged_once_and_the_other_sinks_get_every_event(caplog):
    sink = Collect()
    b = Bridge("loop://", [Raises(), sink])
    b.turn(hello())
    for i in range(100):
        b.turn(data(i, [i]))
    assert [e[2] for e in sink.events] == list(range(100))
    assert b.stats()["sink_errors"] == 100
    assert len(warnings(caplog, "sink Raises failed")) == 1


def test_an_exception_no_handler_foresaw_stays_with_its_frame(monkeypatch):
    original = HostSession.on_frame

    def buggy(self, kind, fields, payload):
        if payload and b"boom" in payload:
            raise ArithmeticError("a bug in the session")
        return original(self, kind, fields, payload)

    monkeypatch.setattr(HostSession, "on_frame", buggy)
    sink = Collect()
    b = Bridge("loop://", [sink])
    b.turn(hello() + data(0, ["boom"]) + data(0, [0]) + data(1, [1]))
    assert [e[2] for e in sink.events] == [0, 1]
    assert b.stats()["malformed"] == 1


def test_a_forged_low_mark_or_count_is_malformed_and_does_not_end_the_stream():
    sink = Collect()
    b = Bridge("loop://", [sink])
    b.turn(hello() + data(0, [0]) + data(1, [1]))
    b.turn(data(2, [2], low=2**48))  # a low mark far past the window
    b.turn(data(2, [2], low=3))  # a low mark past the frame's own first event
    b.turn(frame.encode("d", [2, None, 2**48, 0], "not json"))  # a count that would skip 2**48 events
    b.turn(data(2, [2]) + data(3, [3], low=3))  # the node's outbox dropped nothing: low is its own seq
    n1 = b.stats()["nodes"]["n1"]
    assert [e[2] for e in sink.events] == [0, 1, 2, 3]
    assert n1["lost"] == 0 and n1["malformed"] == 3
    assert b.links["n1"].session.rx.next == 4
    # A low mark inside the window still skips what the node's outbox dropped, and counts it lost.
    b.turn(data(10, [10], low=10))
    assert [e[2] for e in sink.events][-1] == 10 and b.stats()["nodes"]["n1"]["lost"] == 6


def test_forged_hellos_from_20000_new_names_are_bounded_refused_counted_and_idle_links_expire(caplog):
    sink = Collect()
    b = Bridge("loop://", [sink], max_links=8, link_idle=60)
    for i in range(20000):
        b.turn(hello(f"forged{i}", stream=i + 1))
    st = b.stats()
    assert len(b.links) == 8 and len(st["nodes"]) == 8
    assert st["links_refused"] == 20000 - 8
    assert sink.ups == [f"forged{i}" for i in range(8)]  # the sinks never heard of the refused ones
    assert len(warnings(caplog, "refused")) == 1
    # Links that went quiet for link_idle make room for a new node; the one talking now stays.
    for link in b.links.values():
        link.session.last_rx = zport.ticks_add(link.session.clock(), -61000)
    b.turn()  # the liveness check marks them offline
    b.turn(hello("real", stream=0xABC))
    st = b.stats()
    assert "real" in st["nodes"] and st["links_expired"] == 7 and "forged7" in st["nodes"]
    assert st["nodes"]["real"]["online"]


def test_the_state_file_keeps_a_bounded_number_of_nodes_and_a_failed_save_does_not_stop_the_bridge(
    tmp_path: Path, caplog
):
    folder = tmp_path / "state"
    folder.mkdir()
    store = CursorStore(folder / "cursors.json", every=0, max_nodes=4)
    for i in range(10):
        store.set(f"n{i}", 1, i)
    store.save()
    assert sorted(json.loads((folder / "cursors.json").read_text())) == ["n6", "n7", "n8", "n9"]
    (folder / "cursors.json").unlink()
    folder.rmdir()  # the folder went away while the bridge runs
    store.set("n9", 1, 100)
    store.save()
    store.set("n9", 1, 101)
    store.save()
    assert store.failed_saves == 2 and len(warnings(caplog, "not saved")) == 1


def test_node_text_is_escaped_before_it_reaches_a_terminal(caplog):
    caplog.set_level(logging.INFO, logger="zoo_micro.bridge")
    sink = Collect()
    b = Bridge("loop://", [sink])
    b.turn(hello() + b"beat 4 \x1b[2J\x1b]0;owned\x07 \x9b31m\r\n" + "caf\u00e9 \u009b1m\n".encode())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[")]
    # A raw 0x9b byte is not UTF-8 (it shows as U+FFFD); U+009B, the same control in UTF-8, is escaped.
    assert lines == ["[n1] beat 4 \\x1b[2J\\x1b]0;owned\\x07 \ufffd31m", "[n1] caf\u00e9 \\x9b1m"]
    assert sink.texts == [line.split("] ", 1)[1] for line in lines]
    assert printable("tab\tstays") == "tab\tstays"


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)  # the thread's own traceback
def test_run_raises_one_line_when_the_io_thread_ends_anyway(monkeypatch):
    def broken(self):
        raise RuntimeError("a bug in the I/O path")

    monkeypatch.setattr(serial_source.SerialPort, "read", broken)
    b = Bridge("loop://")
    t0 = time.monotonic()
    with pytest.raises(LinkFailed) as e:
        b.run(30)
    assert time.monotonic() - t0 < 10  # it did not wait out the 30 s with a dead thread
    assert "\n" not in str(e.value) and "RuntimeError: a bug in the I/O path" in str(e.value)
    assert b.stats()["failure"] == str(e.value)


BROKEN_CLI = textwrap.dedent(
    """
    import sys
    from host_tools.link.serial_port import SerialPort
    from host_tools.cli.main import main

    def broken(self):
        raise RuntimeError("a bug in the I/O path")

    SerialPort.read = broken
    sys.exit(main(sys.argv[1:]))
    """
)


def cli(
    args: list[str], cwd: Path, code: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    pre = [sys.executable, "-c", code] if code else [sys.executable, "-m", "host_tools.cli.main"]
    return subprocess.run(pre + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("sink", ["json", "framework"])
def test_the_command_exits_1_with_one_line_when_the_io_thread_ends(tmp_path: Path, sink: str):
    (tmp_path / "config.json").write_text("{}")
    proc = cli(
        ["bridge", "--port", "loop://", "--sink", sink, "--seconds", "30", "--quiet"], tmp_path, BROKEN_CLI
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    failed = [line for line in proc.stderr.splitlines() if "stopped on an internal error" in line]
    assert failed == [
        "zoo-micro bridge: the bridge on loop:// stopped on an internal error "
        "(RuntimeError: a bug in the I/O path); its nodes get no more events"
    ]


def test_a_state_file_in_a_folder_that_does_not_exist_is_one_line_and_exit_2(tmp_path: Path):
    proc = cli(
        ["bridge", "--port", "loop://", "--seconds", "5", "--state-file", str(tmp_path / "nope" / "c.json")],
        tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "folder" in proc.stderr and "does not exist" in proc.stderr


def read_frames(fd: int, until: float) -> bytes:
    got = b""
    while time.monotonic() < until:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                got += os.read(fd, 65536)
            except OSError:
                break
    return got


def text_through_a_pty(tmp_path: Path, *flags: str) -> str:
    """Run `zoo-micro bridge` on a pty the test speaks to as a node: hello, then text lines, then
    hellos from nine more names (one port keeps eight by default)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host_tools.cli.main",
            "bridge",
            "--port",
            os.ttyname(slave),
            "--seconds",
            "3",
            *flags,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A data frame before any hello makes the bridge ask for one: then its port is open.
        deadline = time.monotonic() + 10
        while b"\x1e" not in read_frames(master, time.monotonic() + 0.1):
            assert time.monotonic() < deadline, "the bridge never answered"
            os.write(master, data(0, [0]))
        os.write(master, hello())
        os.write(master, b"beat 4 \x1b[2J\x1b[31mred\r\nbeat 5\r\n")
        os.write(master, b"".join(hello(f"f{i}", stream=i + 2) for i in range(9)))
        read_frames(master, time.monotonic() + 1.0)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    return err


def test_the_command_prints_each_node_text_line_once_escaped_and_quiet_silences_it(tmp_path: Path):
    err = text_through_a_pty(tmp_path)
    assert err.count("beat 4") == 1 and err.count("beat 5") == 1, err
    assert "[n1] beat 4 \\x1b[2J\\x1b[31mred\n" in err and "\x1b" not in err
    assert "a hello from new node f7" in err and "f8" not in err  # refused: logged once, then counted
    assert err.splitlines()[-1].endswith('counted {"links_refused": 2}')  # in the summary line
    quiet = text_through_a_pty(tmp_path, "--quiet")
    assert "beat" not in quiet and "8 node(s)" in quiet  # warnings (the refused hello) still show
