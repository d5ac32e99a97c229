"""One MicroPython node with the MqttPlugin against a real Mosquitto: the outbox across an outage,
the loop runner, commands, and user/password."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from mqtt_apps.broker import Mosquitto, free_port, micropython_node
from mqtt_apps.collect import Collect

from host_tools.errors import UserError
from host_tools.fleet import Fleet
from host_tools.sources.mqtt_source import MqttSource


def wait_line(proc: subprocess.Popen, text: str, timeout: float = 20.0) -> list[str]:
    """Lines the node printed up to the first one containing `text` (a silent node fails it)."""
    import queue
    import threading

    lines = getattr(proc, "lines", None)
    if lines is None:
        lines = proc.lines = queue.Queue()

        def pump() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line.rstrip())
        if text in line:
            return seen
    raise AssertionError(f"node never printed {text!r}; it printed: {seen}")


def finish(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_events_made_while_the_broker_is_away_wait_in_the_outbox_which_keeps_the_newest(tmp_path):
    broker = Mosquitto(tmp_path / "broker", port=free_port())
    sink = Collect()
    # The host's persistent session exists first, so the broker keeps the node's events for it.
    broker.start()
    MqttSource(broker.url, [Collect()], client_id="host-o").run(0.2)
    broker.stop()
    node = micropython_node(["o1", str(broker.port), "20", "100", "thread", "5"], cwd=tmp_path)
    try:
        wait_line(node, "produced 20")  # all made with no broker to take them
        broker.start()
        with MqttSource(broker.url, [sink], client_id="host-o") as source, Fleet(broker.url) as fleet:
            assert sink.wait(lambda: len(sink.ticks("o1")) >= 5)
            assert fleet.wait(
                lambda f: f.node("o1") is not None and f.node("o1").mqtt.get("dropped") == 15, 10
            )
            assert sink.ticks("o1") == [16, 17, 18, 19, 20]  # the oldest 15 were dropped, in order
            assert [seq for n, t, _, seq in sink.events if t == "fleet.tick"] == [16, 17, 18, 19, 20]
            assert source.stats()["duplicates"] == 0
            assert fleet.node("o1").mqtt["seq"] == 20
    finally:
        finish(node)
        broker.stop()


def test_loop_runner_carries_events_and_allowed_commands_and_refuses_the_rest(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    sink = Collect()
    node = None
    try:
        with MqttSource(broker.url, [sink], client_id="host-l") as source, Fleet(broker.url) as fleet:
            node = micropython_node(["l1", str(broker.port), "30", "200", "loop"], cwd=tmp_path)
            assert sink.wait(lambda: sink.ticks("l1") == list(range(1, 31))), sink.ticks("l1")
            assert fleet.wait(
                lambda f: f.node("l1") is not None and f.node("l1").info.get("runner") == "loop"
            )
            assert sink.states[("l1", "app", "role")]["value"] == "fleet-test"

            source.send("fleet.ping", {"n": 1}, node="l1")
            source.send("fleet.reboot", {"n": 2}, node="l1")  # not in the node's `down` list
            pong = [c for n, t, c, _ in sink.events if t == "fleet.pong"]
            assert sink.wait(lambda: any(t == "fleet.pong" for _, t, _, _ in sink.events)), sink.events[-3:]
            pong = [c for n, t, c, _ in sink.events if t == "fleet.pong"]
            assert pong == [{"n": 1}]
            assert fleet.wait(lambda f: f.node("l1").mqtt.get("refused") == 1, 10)

            source.send("fleet.stop", None, node="l1")
            assert node.wait(20) == 0
            assert fleet.wait(lambda f: f.node("l1").online is False, 10)
            assert sink.wait(lambda: "l1" in sink.downs)
    finally:
        if node is not None:
            finish(node)
        broker.stop()


def test_user_and_password_reach_the_broker_and_a_wrong_one_is_reported(tmp_path):
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "zoo", "s3cret"], check=True)
    broker = Mosquitto(tmp_path / "broker", extra=f"password_file {passwd}\n")
    broker.conf.write_text(broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false"))
    broker.start()
    good = bad = None
    try:
        creds = json.dumps({"user": "zoo", "password": "s3cret"})
        good = micropython_node(["a1", str(broker.port), "1", "10", "thread", "8", creds], cwd=tmp_path)
        wrong = json.dumps({"user": "zoo", "password": "nope"})
        bad = micropython_node(["a2", str(broker.port), "1", "10", "thread", "8", wrong], cwd=tmp_path)
        with Fleet(broker.url.replace("mqtt://", "mqtt://zoo:s3cret@")) as fleet:
            assert fleet.wait(lambda f: f.node("a1") is not None and f.node("a1").online)
        lines = wait_line(bad, "cannot connect")
        assert "bad user name or password" in lines[-1] or "not authorised" in lines[-1], lines[-1]
    finally:
        for p in (good, bad):
            if p is not None:
                finish(p)
        broker.stop()


def tls_broker(tmp_path, client_certs=False):
    """Mosquitto with a TLS listener, a certificate from a test CA, and a password file (or, with
    client_certs, a certificate from the same CA required of every client)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    chain, key = tmp_path / "broker.pem", tmp_path / "broker.key"
    cert.private_key_pem.write_to_path(str(key))
    for i, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(chain), append=i > 0)
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "zoo", "s3cret"], check=True)
    extra = f"cafile {ca_pem}\ncertfile {chain}\nkeyfile {key}\n"
    if client_certs:
        extra += "require_certificate true\n"
        client = ca.issue_cert("t3")
        client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
        client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    else:
        extra += f"password_file {passwd}\n"
    broker = Mosquitto(tmp_path / "broker", extra=extra)
    if not client_certs:
        conf = broker.conf.read_text()
        broker.conf.write_text(conf.replace("allow_anonymous true", "allow_anonymous false"))
    return broker.start(), ca_pem


def tls_node(name: str, broker: Mosquitto, count: int, options: dict, cwd) -> subprocess.Popen:
    """A node publishing `count` ticks at 50/s, with these MQTT options (tls, host, user, ...).

    TLS files are named relative to the node's folder, as on a board: the unix port dies on a
    command-line argument of 256 bytes or more."""
    args = [name, str(broker.port), str(count), "50", "thread", "64", json.dumps(options)]
    return micropython_node(args, cwd)


def test_tls_with_a_checked_broker_certificate_carries_events_and_a_wrong_ca_is_refused(tmp_path):
    import trustme

    broker, ca_pem = tls_broker(tmp_path)
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    url = f"mqtts://zoo:s3cret@127.0.0.1:{broker.port}?ca={ca_pem}"
    creds = {"user": "zoo", "password": "s3cret"}
    sink = Collect()
    good = bad = None
    try:
        with MqttSource(url, [sink], client_id="host-t") as source, Fleet(url) as fleet:
            opts = dict(creds, tls={"ca": "ca.pem", "verify": True}, host="localhost")
            good = tls_node("t1", broker, 10, opts, tmp_path)
            assert sink.wait(lambda: sink.ticks("t1") == list(range(1, 11))), sink.ticks("t1")
            assert fleet.wait(lambda f: f.node("t1") is not None and f.node("t1").online)
            assert source.stats()["duplicates"] == 0
        wrong = dict(creds, tls={"ca": "other-ca.pem", "verify": True}, host="localhost")
        bad = tls_node("t2", broker, 1, wrong, tmp_path)
        lines = wait_line(bad, "cannot connect")
        assert "t2" not in {n for n, *_ in sink.events}
        assert "certificate is not correctly signed" in lines[-1], lines[-1]  # the reason, on one line
    finally:
        for p in (good, bad):
            if p is not None:
                finish(p)
        broker.stop()


def test_tls_client_certificate_is_presented_and_required(tmp_path):
    broker, ca_pem = tls_broker(tmp_path, client_certs=True)
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    url = f"mqtts://localhost:{broker.port}?ca={ca_pem}&cert={cert}&key={key}"
    sink = Collect()
    good = bad = None
    try:
        with MqttSource(url, [sink], client_id="host-c"):
            opts = {"tls": {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"}, "host": "localhost"}
            good = tls_node("t3", broker, 5, opts, tmp_path)
            assert sink.wait(lambda: sink.ticks("t3") == [1, 2, 3, 4, 5]), sink.ticks("t3")
            no_cert = {"tls": {"ca": "ca.pem"}, "host": "localhost"}
            bad = tls_node("t4", broker, 1, no_cert, tmp_path)
            wait_line(bad, "cannot connect")
            assert "t4" not in {n for n, *_ in sink.events}
        with pytest.raises(UserError, match="cannot load its TLS files"):
            MqttSource(f"mqtts://localhost:{broker.port}?cert={tmp_path}/missing.pem", [sink]).start()
    finally:
        for p in (good, bad):
            if p is not None:
                finish(p)
        broker.stop()


class Watch:
    """Everything one node puts on the broker, seen by a plain paho client (QoS 1, clean session)."""

    def __init__(self, broker: Mosquitto, node: str) -> None:
        import threading

        import paho.mqtt.client as mqtt

        self.node = node
        self.events: list[tuple[str, dict]] = []
        self.states: dict[str, bytes] = {}
        self.health: dict = {}
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{node}")
        self.client.on_connect = lambda c, *_: c.subscribe(f"zoo/{node}/#", 1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.wait(lambda: self.client.is_connected(), 10)

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            rest = msg.topic.split("/", 2)[2]
            if rest.startswith("evt/"):
                self.events.append((rest[4:], json.loads(msg.payload)["content"]))
            elif rest.startswith("state/"):
                self.states[rest[6:]] = msg.payload
            elif rest == "health":
                self.health = json.loads(msg.payload)
            self._cond.notify_all()

    def mqtt(self) -> dict:
        return self.health.get("plugins", {}).get("mqtt", {})

    def contents(self, topic: str) -> list:
        with self._cond:
            return [c for t, c in self.events if t == topic]

    def wait(self, cond, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def send(self, topic: str, payload: bytes) -> None:
        self.client.publish(f"zoo/{self.node}/cmd/{topic}", payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def board_code(tmp: Path) -> Path:
    """zoo_micro, umqtt and the guard app compiled to .mpy, as a board runs them."""
    from mqtt_apps.broker import APPS, ROOT

    from host_tools.mpy import compile_file
    from host_tools.mqtt.umqtt_lib import umqtt_path

    out = tmp / "lib"
    if not out.exists():
        for base, src in [(ROOT, p) for p in (ROOT / "zoo_micro").rglob("*.py")] + [
            (umqtt_path(), umqtt_path() / "umqtt" / "simple.py"),
            (APPS, APPS / "guard_app.py"),
        ]:
            rel = src.relative_to(base)
            compile_file(src, out / rel.with_suffix(".mpy"), None, rel.as_posix())
    return out


def guard_node(name: str, broker: Mosquitto, cwd, options: dict | None = None, heap: str = "128K"):
    """tests/host/mqtt_apps/guard_app.py on the unix port at a capped heap; returns once connected."""
    from host_tools.interpreter import micropython_env, micropython_path

    lib = board_code(Path(cwd))
    env = micropython_env([lib])
    cmd = [micropython_path(), "-X", f"heapsize={heap}", "-m", "guard_app", name, str(broker.port)]
    cmd.append(json.dumps(options or {}))
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_line(proc, "connected to")
    except AssertionError:
        finish(proc)
        raise
    return proc


class Guarded:
    """A broker, a Watch on one node name, and guard_app nodes on the unix port; closed by the
    fixture, nodes the test started again included."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.broker = Mosquitto(tmp_path / "broker").start()
        self.watch: Watch | None = None
        self.nodes: list[subprocess.Popen] = []

    def start(self, name: str, options: dict | None = None) -> tuple[Watch, subprocess.Popen]:
        if self.watch is None:
            self.watch = Watch(self.broker, name)
        node = guard_node(name, self.broker, self.tmp_path, options)
        self.nodes.append(node)
        return self.watch, node

    def close(self) -> None:
        for node in self.nodes:
            finish(node)
        if self.watch is not None:
            self.watch.close()
        self.broker.stop()


@pytest.fixture
def guarded(tmp_path):
    g = Guarded(tmp_path)
    yield g
    g.close()


def test_an_oversize_command_is_discarded_unread_acknowledged_and_never_sent_again(guarded):
    # 60 KB does not fit beside the node in its 128K heap: umqtt would allocate it whole, fail,
    # drop the connection, and the broker would send it again at every reconnect.
    watch, node = guarded.start("g1")
    watch.send("app.ping", json.dumps({"pad": "x" * 60000}).encode())
    watch.send("app.ping", b'{"n": 1}')
    assert watch.wait(lambda: watch.contents("app.pong")), node.poll()
    assert [p["content"] for p in watch.contents("app.pong")] == [{"n": 1}]
    assert watch.wait(lambda: watch.mqtt().get("oversize") == 1)
    assert watch.mqtt()["connects"] == 1 and watch.mqtt()["outages"] == 0
    watch.send("app.ping", json.dumps("y" * 513).encode())  # just over the default payload_max
    watch.send("app.ping", json.dumps("y" * 400).encode())  # under it
    assert watch.wait(lambda: watch.mqtt().get("oversize") == 2 and len(watch.contents("app.pong")) == 2)
    finish(node)
    # The same node again, on its persistent session: nothing is waiting for it.
    _, node = guarded.start("g1")
    watch.health = {}
    watch.send("app.ping", b'{"n": 2}')
    assert watch.wait(lambda: watch.mqtt().get("connects") == 1 and watch.mqtt().get("received") == 1)
    assert watch.mqtt()["oversize"] == 0


def test_state_keys_with_wildcards_and_slashes_are_escaped_and_the_link_stays_up(guarded):
    from urllib.parse import unquote

    watch, node = guarded.start("g2")
    assert watch.wait(lambda: len(watch.states) == 2), watch.states
    assert sorted(watch.states) == ["app/a%2Fb%23c%2Bd%25", "app/plain"]
    level = next(t for t in watch.states if t != "app/plain").split("/")[1]
    assert unquote(level) == "a/b#c+d%"  # how a host reads the key back
    assert json.loads(watch.states["app/a%2Fb%23c%2Bd%25"])["value"] == 1
    watch.send("app.ping", b'"still here"')
    assert watch.wait(lambda: watch.contents("app.pong"))
    assert watch.wait(lambda: watch.mqtt().get("sent", 0) >= 1)
    assert watch.mqtt()["connects"] == 1 and watch.mqtt()["outages"] == 0


def test_commands_reach_only_the_channels_the_node_allows_and_the_rest_are_counted(guarded):
    watch, node = guarded.start("g3", {"channels": ["default", "fast"]})
    watch.send("app.ping", b"1")
    watch.send("app.ping/fast", b"2")
    assert watch.wait(lambda: len(watch.contents("app.pong")) == 2)
    pongs = watch.contents("app.pong")
    assert [(p["content"], p["channel"]) for p in pongs] == [(1, "default"), (2, "fast")]
    queues = pongs[-1]["queues"]
    for i in range(200):  # each would be a bus queue kept for good
        watch.send(f"app.ping/c{i}", b"3")
    watch.send("app.ping", b"4")
    assert watch.wait(lambda: len(watch.contents("app.pong")) == 3)
    assert watch.contents("app.pong")[-1] == {"content": 4, "channel": "default", "queues": queues}
    assert watch.wait(lambda: watch.mqtt().get("channel_refused") == 200)


def test_an_app_that_waits_for_room_loses_nothing_where_one_that_does_not_drops(guarded):
    watch, node = guarded.start("g4", {"outbox": 4})
    watch.send("app.burst", b'{"n": 300, "wait": true}')
    wait_line(node, "burst done")
    assert watch.wait(lambda: len(watch.contents("app.evt")) == 300), len(watch.contents("app.evt"))
    assert [c["i"] for c in watch.contents("app.evt")] == list(range(300))
    assert watch.wait(lambda: watch.mqtt().get("sent", 0) >= 300)
    assert watch.mqtt()["dropped"] == 0
    # The same burst without waiting: the outbox of 4 overflows, and says so.
    watch.send("app.burst", b'{"n": 300, "wait": false}')
    wait_line(node, "burst done")
    assert watch.wait(lambda: watch.mqtt().get("dropped", 0) > 0)
    assert watch.wait(lambda: len(watch.contents("app.evt")) == 600 - watch.mqtt()["dropped"])
