"""Broker URLs (`mqtt://user:pass@host:port`, `mqtts://...` for TLS) and paho clients made from them."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt

from host_tools.errors import UserError


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool = False
    user: str | None = None
    password: str | None = None
    ca: str | None = None  # a CA file for mqtts; the system's CAs otherwise
    insecure: bool = False  # mqtts without checking the broker's certificate
    cert: str | None = None  # a client certificate, for brokers that require one (AWS IoT, ...)
    key: str | None = None  # its private key, unless the cert file holds it

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_url(url: str) -> BrokerUrl:
    """`mqtt://[user[:password]@]host[:port]`, or `mqtts://...[?ca=FILE][&cert=FILE&key=FILE][&insecure=1]`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise UserError(f"broker URL {url!r}: write mqtt://HOST:PORT (or mqtts://HOST:PORT for TLS)")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise UserError(f"broker URL {url!r}: the port must be a number from 1 to 65535") from None
    query = parse_qs(parts.query)
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        tls=tls,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ca=query.get("ca", [None])[0],
        insecure=query.get("insecure", ["0"])[0] in ("1", "true", "yes"),
        cert=query.get("cert", [None])[0],
        key=query.get("key", [None])[0],
    )


def make_client(
    url: BrokerUrl, client_id: str, *, clean_session: bool = True, manual_ack: bool = False
) -> mqtt.Client:
    """A paho 2.x client set up for `url` (auth, TLS) that reconnects by itself with backoff."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        manual_ack=manual_ack,
    )
    if url.user is not None:
        client.username_pw_set(url.user, url.password)
    if url.tls:
        try:
            client.tls_set(
                ca_certs=url.ca,
                certfile=url.cert,
                keyfile=url.key,
                cert_reqs=ssl.CERT_NONE if url.insecure else ssl.CERT_REQUIRED,
            )
        except (OSError, ssl.SSLError) as e:
            raise UserError(f"broker URL {url}: cannot load its TLS files ({e})") from None
        client.tls_insecure_set(url.insecure)
    client.reconnect_delay_set(0.1, 5)  # type: ignore[arg-type]  # paho accepts float seconds
    return client


def connect(client: mqtt.Client, url: BrokerUrl, timeout: float = 5.0, keepalive: int = 30) -> None:
    """Connect and start the network thread; a broker that cannot be reached is one UserError line."""
    connected = threading.Event()
    refused: list[str] = []
    previous = client.on_connect

    def on_connect(c, userdata, flags, reason, properties):  # type: ignore[no-untyped-def]
        if reason.is_failure:
            refused.append(str(reason))
        connected.set()
        if previous is not None:
            previous(c, userdata, flags, reason, properties)

    client.on_connect = on_connect
    try:
        client.connect(url.host, url.port, keepalive)
    except (OSError, socket.gaierror, ssl.SSLError) as e:
        raise UserError(f"cannot reach the MQTT broker at {url} ({e}); start it or check the URL") from None
    client.loop_start()
    if not connected.wait(timeout):
        client.loop_stop()
        raise UserError(
            f"the MQTT broker at {url} did not answer within {timeout:g}s; check the URL and port"
        )
    client.on_connect = previous
    if refused:
        client.loop_stop()
        raise UserError(
            f"the MQTT broker at {url} refused the connection: {refused[0]}; check user and password"
        )
