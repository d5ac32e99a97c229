"""Serial-attached nodes out to a broker: what `zoo-micro bridge --sink mqtt://HOST:PORT` adds.

A node behind the serial bridge appears on the broker exactly like a node that speaks MQTT itself
(the topics of `zoo_micro.mqtt.layout`), and its allowed commands come back through the bridge.
The bridge's own connection carries a last will on <root>/<bridge name>/status, and its retained
info says {"role": "bridge"}: `zoo-micro fleet` lists it as no node, and shows every node whose
info says `"via": <bridge name>` offline once the bridge is (killed, unplugged from the network).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from typing import Any

import paho.mqtt.client as mqtt

from host_tools.link.broker import BrokerUrl, connect, make_client, parse_url
from host_tools.link.flow import Sink, Source
from zoo_micro.link.uplink import HEALTH, rand24
from zoo_micro.mqtt import layout

log = logging.getLogger("zoo_micro.mqtt")


class MqttSink(Sink):
    """`max_queued`: messages paho may hold while the broker is away before event() says "no room"
    (the bridge then keeps the node's events unacknowledged on the serial link). `name`: the
    bridge's name on the broker and in its nodes' `via` (also its client id, so two bridges on one
    broker need two names); by default `bridge-<host>-<port>`, e.g. `bridge-lab1-ttyACM0`."""

    def __init__(
        self,
        url: str | BrokerUrl,
        *,
        root: str = layout.ROOT,
        name: str | None = None,
        max_queued: int = 1000,
    ) -> None:
        self.url = parse_url(url) if isinstance(url, str) else url
        self.root = layout.check_name("root", root)
        self.name = layout.check_name("node", name) if name is not None else None
        self.max_queued = max_queued
        self.published = 0
        self.refused = 0
        self.commands = 0
        self._streams: dict[str, int] = {}
        self._nodes: set[str] = set()
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None

    def _topic(self, node: str, *rest: str) -> str:
        return "/".join((self.root, layout.check_name("node", node)) + rest)

    def attach(self, source: Source) -> None:
        super().attach(source)
        if self.name is None:
            port = getattr(getattr(source, "port", None), "url", "") or ""
            where = f"{socket.gethostname()}-{port.rstrip('/').rsplit('/', 1)[-1]}".strip("-")
            self.name = "bridge-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", where)
        client = make_client(self.url, f"{self.root}-{self.name}", clean_session=True)
        client.max_queued_messages_set(self.max_queued)
        client.will_set(self._topic(self.name, layout.STATUS), layout.OFFLINE, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_message = self._on_command
        self._client = client
        connect(client, self.url)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            return
        client.publish(self._topic(self.name, layout.INFO), _json({"role": "bridge"}), qos=1, retain=True)
        client.publish(self._topic(self.name, layout.STATUS), layout.ONLINE, qos=1, retain=True)
        client.subscribe(f"{self.root}/+/{layout.CMD}/#", qos=1)

    def _publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        assert self._client is not None, "the source attaches its sinks before it starts"
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.refused += 1
            return False
        self.published += 1
        return True

    def event(self, node: str, topic: str, content: Any, channel: str, priority: int, seq: int) -> bool:
        if topic == HEALTH and isinstance(content, dict):
            return self._publish(self._topic(node, layout.HEALTH), _json(content), retain=True)
        payload = layout.encode_event(self._stream(node), seq, content, channel, priority)
        try:
            mqtt_topic = layout.event_topic(self._topic(node), topic)
        except ValueError as e:
            log.error("%s from %s not published: %s", topic, node, e)
            return True
        return self._publish(mqtt_topic, payload)

    def _stream(self, node: str) -> int:
        # The node's serial stream id where the source knows it: seqs restart with it.
        stream = self.source.node_stream(node) if self.source is not None else None
        if stream is None:
            stream = self._streams.setdefault(node, rand24())
        return int(stream)

    def state(self, node: str, scope: str, key: str, payload: dict | None) -> None:
        body = b"" if payload is None else _json(payload)
        self._publish(layout.state_topic(self._topic(node), scope, key), body, retain=True)

    def log(self, node: str, level: str, msg: str) -> None:
        self._publish(self._topic(node, layout.LOG), _json([level, msg]), qos=0)

    def node_up(self, node: str, info: dict) -> None:
        with self._lock:
            self._nodes.add(node)
        body = {k: v for k, v in info.items() if k in ("board", "version", "port")}
        body["stream"] = self._stream(node)
        body["via"] = self.name
        self._publish(self._topic(node, layout.INFO), _json(body), retain=True)
        self._publish(self._topic(node, layout.STATUS), layout.ONLINE, retain=True)

    def node_down(self, node: str) -> None:
        self._publish(self._topic(node, layout.STATUS), layout.OFFLINE, retain=True)

    def _on_command(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        parts = layout.split(msg.topic)
        if parts is None or parts[2] != layout.CMD or not parts[3]:
            return
        node, topic = parts[1], parts[3]
        topic, _, channel = topic.partition("/")  # cmd/<topic>[/<channel>], as a node takes them
        with self._lock:
            known = node in self._nodes
        if not known or self.source is None:
            return  # a node that speaks MQTT itself takes its own commands
        try:
            content = json.loads(msg.payload) if msg.payload else None
            self.source.send(topic, content, node=node, channel=channel or "default")
            self.commands += 1
        except ValueError as e:
            log.error("command %s for %s not sent: %s", topic, node, e)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with self._lock:
            nodes = list(self._nodes)
        infos = [
            client.publish(self._topic(n, layout.STATUS), layout.OFFLINE, qos=1, retain=True) for n in nodes
        ]
        infos.append(
            client.publish(self._topic(self.name, layout.STATUS), layout.OFFLINE, qos=1, retain=True)
        )
        if client.is_connected():
            for info in infos:
                try:
                    info.wait_for_publish(2)
                except (ValueError, RuntimeError):
                    pass  # not queued, or the connection went: the bridge's will says offline
        client.disconnect()
        client.loop_stop()


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
