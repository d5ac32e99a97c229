"""Nodes on a broker into the sinks: what `zoo-micro bridge --from mqtt://HOST:PORT` runs.

Each node's events reach the sinks once and in order: the broker may deliver a QoS 1 event twice
around an outage, so events are de-duplicated by the (stream, seq) the node puts in each one, and a
message is acknowledged to the broker only after every sink took it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import paho.mqtt.client as mqtt

from host_tools.link.broker import BrokerUrl, connect, make_client, parse_url
from host_tools.link.cursor_store import CursorStore
from host_tools.link.flow import Quiet, Sink, Source, printable
from zoo_micro.link.uplink import HEALTH
from zoo_micro.mqtt import layout

STREAMS_KEPT = 4  # streams remembered per node, so a late duplicate from before a reboot is still caught

log = logging.getLogger("zoo_micro.mqtt")


class Dedupe:
    """Per node and stream, the highest seq delivered; what is not above it was delivered before."""

    def __init__(self, cursors: CursorStore | None = None) -> None:
        self.cursors = cursors
        self.seen: dict[str, dict[int, int]] = {}
        self.duplicates = 0
        self.missed = 0  # seqs that never arrived: the node's outbox dropped them

    def _streams(self, node: str) -> dict[int, int]:
        streams = self.seen.get(node)
        if streams is None:
            streams = self.seen[node] = {}
            saved = self.cursors.get(node) if self.cursors is not None else None
            if saved is not None:
                streams[saved[0]] = saved[1] - 1
        return streams

    def is_new(self, node: str, stream: int, seq: int) -> bool:
        last = self._streams(node).get(stream)
        if last is not None and seq <= last:
            self.duplicates += 1
            return False
        return True

    def delivered(self, node: str, stream: int, seq: int) -> None:
        streams = self._streams(node)
        last = streams.pop(stream, None)
        if last is not None and seq > last + 1:
            self.missed += seq - last - 1
        streams[stream] = seq  # re-inserted last: the newest stream is the last key
        while len(streams) > STREAMS_KEPT:
            streams.pop(next(iter(streams)))
        if self.cursors is not None:
            self.cursors.set(node, stream, seq + 1)


class NodeState:
    def __init__(self) -> None:
        self.online = False
        self.info: dict[str, Any] = {}


class MqttSource(Source):
    """Carries the nodes on `url` into `sinks` the way the serial Bridge does, and sends sinks'
    events down to nodes (`send`). `state_path` keeps each node's place across host restarts."""

    def __init__(
        self,
        url: str | BrokerUrl,
        sinks: Iterable[Sink] = (),
        *,
        root: str = layout.ROOT,
        nodes: Iterable[str] = (),
        client_id: str = "zoo-micro-host",
        state_path: str | Path | None = None,
        retry: float = 0.05,
    ) -> None:
        self.url = parse_url(url) if isinstance(url, str) else url
        self.sinks = list(sinks)
        self.root = layout.check_name("root", root)
        self.only = [layout.check_name("node", n) for n in nodes]
        self.client_id = client_id
        self.retry = retry
        self.dedupe = Dedupe(CursorStore(state_path) if state_path else None)
        self.nodes: dict[str, NodeState] = {}
        self.received = 0
        self.delivered = 0
        self.bad = 0
        self.sink_errors = 0
        self.unsendable = 0
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._changed = threading.Condition()
        self._partial: tuple[tuple, set[int]] | None = None
        self._quiet = Quiet(log)

    # Life cycle

    def start(self) -> MqttSource:
        if self._thread is not None:
            return self
        for s in self.sinks:
            s.attach(self)
        # A persistent session: the broker keeps QoS 1 events for us while we are away.
        client = make_client(self.url, self.client_id, clean_session=False, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self._client = client
        self._stop.clear()
        self._thread = threading.Thread(target=self._deliver_loop, name="zoo-mqtt-source", daemon=True)
        self._thread.start()
        connect(client, self.url)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stop.set()
        self._thread.join(max(0.1, deadline - time.monotonic()))
        self._thread = None
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self.dedupe.cursors is not None:
            self.dedupe.cursors.save(force=True)
        self._close_sinks()
        self._raise_failure()

    # Broker -> sinks

    def _filters(self) -> list[str]:
        nodes = self.only or ["+"]
        subs = []
        for n in nodes:
            base = f"{self.root}/{n}/"
            subs += [base + layout.STATUS, base + layout.INFO, base + layout.HEALTH, base + layout.LOG]
            subs += [base + layout.EVT + "/#", base + layout.STATE + "/#"]
        return subs

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if not reason.is_failure:
            client.subscribe([(f, 1) for f in self._filters()])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        self._queue.put(msg)

    def _deliver_loop(self) -> None:
        try:
            self._deliver_all()
        except BaseException as e:
            # Not contained anywhere below: a bug. The process must not go on looking alive.
            self._failed(e, f"the MQTT source on {self.url}")
            raise

    def _deliver_all(self) -> None:
        # One thread calls the sinks, so each node's messages reach them in the order they came.
        while not self._stop.is_set():
            try:
                msg = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                while not self._contained(msg):
                    if self._stop.wait(self.retry):
                        return
                if msg.qos and self._client is not None:
                    self._client.ack(msg.mid, msg.qos)
            finally:
                self._queue.task_done()
            if self.dedupe.cursors is not None:
                self.dedupe.cursors.save()

    def _contained(self, msg: mqtt.MQTTMessage) -> bool:
        # Whatever a message holds, the trouble stays with it: counted, logged once, acknowledged.
        try:
            return self._handle(msg)
        except Exception as e:
            self.bad += 1
            topic, kind = printable(str(msg.topic)), type(e).__name__
            self._quiet("bad", "a malformed message on %s was dropped (%s: %.80s)", topic, kind, e)
            return True

    def _handle(self, msg: mqtt.MQTTMessage) -> bool:
        """False when a sink had no room: the same message is offered again."""
        parts = layout.split(msg.topic)
        if parts is None or parts[0] != self.root:
            return True
        _, node, kind, rest = parts
        try:
            body = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            body = msg.payload.decode("utf-8", "replace") if kind == layout.STATUS else None
            if kind != layout.STATUS:
                self.bad += 1
                return True
        if kind == layout.STATUS:
            self._status(node, body)
        elif kind == layout.INFO:
            self._node(node).info = body if isinstance(body, dict) else {}
        elif kind == layout.EVT and isinstance(body, dict) and rest:
            return self._event(node, rest, body)
        elif kind == layout.HEALTH and isinstance(body, dict):
            return self._to_sinks("event", node, HEALTH, body, "default", 0, 0)
        elif kind == layout.STATE and "/" in rest:
            scope, key = (unquote(p) for p in rest.split("/", 1))  # the node escapes / + # % in them
            self._to_sinks("state", node, scope, key, body if isinstance(body, dict) else None)
        elif kind == layout.LOG and isinstance(body, list) and len(body) == 2:
            self._to_sinks("log", node, str(body[0]), str(body[1]))
        return True

    def _event(self, node: str, topic: str, body: dict) -> bool:
        try:
            stream, seq = int(body["stream"]), int(body["seq"])
        except (KeyError, TypeError, ValueError):
            self.bad += 1
            return True
        if not self.dedupe.is_new(node, stream, seq):
            return True
        channel = body.get("channel", "default")
        priority = body.get("priority", 0)
        if not self._to_sinks("event", node, topic, body.get("content"), channel, priority, seq):
            return False
        self.dedupe.delivered(node, stream, seq)
        self.delivered += 1
        return True

    def _node(self, node: str) -> NodeState:
        st = self.nodes.get(node)
        if st is None:
            st = self.nodes[node] = NodeState()
        return st

    def _status(self, node: str, body: Any) -> None:
        st = self._node(node)
        online = body == layout.ONLINE.decode()
        if online and not st.online:
            st.online = True
            self._to_sinks("node_up", node, dict(st.info, broker=str(self.url)))
        elif not online and st.online:
            st.online = False
            self._to_sinks("node_down", node)
        with self._changed:
            self._changed.notify_all()

    def _to_sinks(self, method: str, *args: Any) -> bool:
        # An event some sinks took before another said "no room" must not reach them twice.
        done = self._partial
        skip = done[1] if done is not None and done[0] == args else set()
        for i, sink in enumerate(self.sinks):
            if i in skip:
                continue
            try:
                taken = getattr(sink, method)(*args)
            except Exception:
                self.sink_errors += 1
                name = type(sink).__name__
                self._quiet("sink-" + name, "sink %s failed in %s for %s", name, method, args[0], exc=True)
                taken = True
            if taken is False:
                self._partial = (args, skip)
                return False
            skip.add(i)
        self._partial = None
        return True

    # Sinks -> nodes

    def send(
        self,
        topic: str,
        content: Any = None,
        node: str | None = None,
        channel: str = "default",
        priority: int = 0,
    ) -> None:
        """Publish a command for `node` (every node seen so far when None) on <root>/<node>/cmd/<topic>.

        A node that is offline gets it when it reconnects: its broker session keeps QoS 1 messages.
        """
        if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
            raise ValueError(
                f"command topic must be a non-empty string without MQTT wildcards, got {topic!r}"
            )
        try:
            payload = json.dumps(content, allow_nan=False, ensure_ascii=False).encode()
        except (TypeError, ValueError) as e:
            raise ValueError(f"event on {topic}: content must be JSON: {e}") from None
        targets = [node] if node is not None else list(self.nodes)
        if not targets:
            self.unsendable += 1
            log.warning("no node known yet; %s not sent", topic)
        for n in targets:
            layout.check_name("node", n)
            assert self._client is not None, "start() the source before send()"
            where = topic if channel == "default" else f"{topic}/{channel}"  # cmd/<topic>[/<channel>]
            self._client.publish(f"{self.root}/{n}/{layout.CMD}/{where}", payload, qos=1)

    # Looking in

    def wait_for_node(self, node: str | None = None, timeout: float = 10.0) -> str | None:
        """Block until `node` (any node when None) is online; its name, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for name, st in list(self.nodes.items()):
                    if st.online and (node is None or name == node):
                        return name
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(min(left, 0.1))

    def stats(self) -> dict[str, Any]:
        return {
            "broker": str(self.url),
            "connected": bool(self._client is not None and self._client.is_connected()),
            "received": self.received,
            "delivered": self.delivered,
            "duplicates": self.dedupe.duplicates,
            "missed": self.dedupe.missed,
            "bad": self.bad,
            "sink_errors": self.sink_errors,
            "unsendable": self.unsendable,
            "queued": self._queue.qsize(),
            "nodes": {n: dict(st.info, online=st.online) for n, st in self.nodes.items()},
        }
