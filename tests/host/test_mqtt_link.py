"""One MicroPython node with the MqttPlugin against a real Mosquitto: the outbox across an outage,
the loop runner, commands, and user/password."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from mqtt_apps.broker import Mosquitto, free_port, micropython_node
from mqtt_apps.collect import Collect

from host_tools.errors import UserError
from host_tools.fleet import Fleet
from host_tools.sources.mqtt_source import MqttSource


def wait_line(proc: subprocess.Popen, text: str, timeout: float = 20.0) -> list[str]:
    """Lines the node printed up to the first one containing `text`."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
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
