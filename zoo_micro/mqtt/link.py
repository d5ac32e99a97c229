# Keeps a node connected to its broker across Wi-Fi and broker outages: connect, last will,
# subscribe, publish what the outbox holds (each QoS 1 entry stays queued until its PUBACK, so an
# outage re-sends it after the reconnect), keepalive pings, and back off between failed attempts.
# step() does one bounded piece of work; a thread or an asyncio task calls it (see plugin.py).
import errno
import json

from zoo_micro import log, port
from zoo_micro.link.uplink import rand24
from zoo_micro.mqtt import layout
from zoo_micro.mqtt.outbox import RETAINED


def wifi_up(cfg):
    """True when the station interface is connected; otherwise start joining and return False."""
    import network

    w = network.WLAN(network.STA_IF)
    if w.isconnected():
        return True
    if not w.active():
        w.active(True)
    if w.status() != getattr(network, "STAT_CONNECTING", -99):
        w.connect(cfg["ssid"], cfg.get("password"))
    return False


class Link:
    def __init__(self, opts, base_topic, outbox, on_message, info):
        self.o = opts
        self.outbox = outbox
        self.on_message = on_message
        self.info = info
        self.client_id = opts["client_id"] or base_topic.replace("/", "-")
        self.status_topic = (base_topic + "/" + layout.STATUS).encode()
        self.info_topic = (base_topic + "/" + layout.INFO).encode()
        self.cmd_filter = (base_topic + "/" + layout.CMD + "/#").encode()
        self.keepalive_ms = int(opts["keepalive"] * 1000)
        self.timeout_ms = int(opts["timeout"] * 1000)
        self.client = None
        self.session_present = False
        self.failures = 0
        self.next_try = port.ticks_ms()
        self.stopping = False
        self.exited = False
        self._tried = None  # the entry last handed to publish(); seen again means a re-send
        self.attempts = 0
        self.connects = 0
        self.outages = 0
        self.resent = 0
        self.last_error = None

    @property
    def connected(self):
        return self.client is not None

    def step(self):
        """One bounded piece of work; True when there may be more to do right away."""
        c = self.client
        if c is None:
            if port.ticks_diff(port.ticks_ms(), self.next_try) < 0:
                return False
            self._connect()
            return self.client is not None
        try:
            e = self.outbox.peek()
            if e is not None:
                if e is self._tried:
                    self.resent += 1
                self._tried = e
                c.publish(e[1], e[2], e[0] == RETAINED, e[3])
                c.sock.flush()  # QoS 0 publishes read nothing back, so nothing else sends them
                self.outbox.done(e)
                return True
            conn = c.sock
            if conn.wait(0):
                c.check_msg()
                c.sock.flush()  # the PUBACK for a command
                return True
            if self.keepalive_ms:
                now = port.ticks_ms()
                quiet = port.ticks_diff(now, conn.last_rx)
                if quiet > self.keepalive_ms:
                    raise OSError(errno.ETIMEDOUT)  # a ping went unanswered: the broker is gone
                if (
                    quiet > self.keepalive_ms >> 1
                    and port.ticks_diff(now, self._pinged) > self.keepalive_ms >> 1
                ):
                    self._pinged = now
                    c.ping()
                    c.sock.flush()
        except Exception as ex:
            self._lost(ex)
        return False

    _pinged = 0

    def idle(self, ms):
        """Wait up to `ms` for the broker to say something (or just sleep while disconnected)."""
        c = self.client
        if c is not None:
            try:
                c.sock.wait(ms)
            except Exception as ex:
                self._lost(ex)
        else:
            left = port.ticks_diff(self.next_try, port.ticks_ms())
            port.sleep_ms(max(1, min(ms, left)))

    def _connect(self):
        o = self.o
        self.attempts += 1
        c = None
        try:
            if o["wifi"] and not wifi_up(o["wifi"]):
                raise OSError(errno.ENETUNREACH)
            from zoo_micro.mqtt.client import Client

            c = Client(
                self.client_id.encode(),
                o["host"],
                o["port"],
                None if o["user"] is None else o["user"].encode(),
                None if o["password"] is None else o["password"].encode(),
                int(o["keepalive"]),
                o["tls"],
                self.timeout_ms,
                o["payload_max"],
            )
            c.set_callback(self.on_message)
            c.set_last_will(self.status_topic, layout.OFFLINE, True, 1)
            self.session_present = c.connect(o["clean"])
            self._pinged = port.ticks_ms()
            c.subscribe(self.cmd_filter, 1)
            c.publish(self.info_topic, json.dumps(self.info).encode(), True, 1)
            c.publish(self.status_topic, layout.ONLINE, True, 1)
        except Exception as ex:
            self.client = c
            self._lost(ex)
            return
        self.client = c
        self.failures = 0
        self.connects += 1
        log.info("mqtt: connected to %s as %s" % (o["host"], self.client_id))

    def _lost(self, ex):
        c, self.client = self.client, None
        if c is not None and c.sock is not None:
            try:
                c.sock.close()
            except Exception:
                pass
        was_up = c is not None and self.failures == 0 and self.connects
        self.failures += 1
        why = " ".join(str(ex).split()) or repr(ex)  # TLS errors come wrapped in newlines
        self.last_error = why
        if was_up:
            self.outages += 1
        # Exponential backoff with jitter, so a fleet does not reconnect to a restarted broker at once.
        base = self.o["backoff_min"] * (1 << min(self.failures - 1, 16))
        delay = int(min(base, self.o["backoff_max"]) * 1000)
        delay = delay // 2 + (rand24() % (delay // 2 + 1))
        self.next_try = port.ticks_add(port.ticks_ms(), delay)
        if was_up or self.failures == 1:
            log.warn(
                "mqtt: %s (%s); retrying in %d ms"
                % ("connection lost" if was_up else "cannot connect", why, delay)
            )

    def close(self, linger_ms=0):
        """Flush for up to `linger_ms`, then say offline and disconnect (no last will is sent)."""
        deadline = port.ticks_add(port.ticks_ms(), linger_ms)
        while (
            self.client is not None
            and self.outbox.events()
            and port.ticks_diff(deadline, port.ticks_ms()) > 0
        ):
            if not self.step():
                self.idle(5)
        c, self.client = self.client, None
        if c is None:
            return
        try:
            c.publish(self.status_topic, layout.OFFLINE, True, 1)
            c.disconnect()
        except Exception:
            try:
                c.sock.close()
            except Exception:
                pass

    def stats(self):
        return {
            "connected": self.client is not None,
            "connects": self.connects,
            "outages": self.outages,
            "attempts": self.attempts,
            "resent": self.resent,
            "last_error": self.last_error,
        }

    def run_thread(self, poll_ms, linger_ms):
        # The link's own thread: blocking socket work happens here, never on the asyncio loop.
        try:
            while not self.stopping:
                if not self.step():
                    self.idle(poll_ms)
            self.close(linger_ms)
        except Exception as ex:
            log.error("mqtt: link thread ended: %r" % (ex,))
        finally:
            self.exited = True
