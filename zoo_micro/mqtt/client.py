# umqtt.simple underneath, with the parts it leaves out: a timeout on every socket wait (its
# reads block forever once check_msg() has run), TLS from an SSLContext, and an outage that
# surfaces as OSError instead of a hang. Imported only when a node connects.
import errno
import select
import socket
import struct

from umqtt.simple import MQTTClient

from zoo_micro import port


class Conn:
    """The socket umqtt talks through: its own read()/write() wait at most `timeout_ms`.

    umqtt writes one packet in four or five small pieces; sent one by one, Nagle's algorithm holds
    each piece until the broker acknowledges the one before (~40 ms of delayed ACK per publish).
    Writes are gathered here and go out as one segment before the next read or at flush().
    """

    def __init__(self, sock, timeout_ms):
        self.sock = sock
        self.timeout_ms = timeout_ms
        self.blocking = True
        self.last_rx = port.ticks_ms()
        self.bytes_in = 0
        self.bytes_out = 0
        self._out = bytearray()
        sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def setblocking(self, flag):
        self.blocking = flag  # umqtt flips this around check_msg(); the socket stays non-blocking

    def wait(self, ms):
        """True when something arrived (or the peer closed) within `ms`."""
        return any(ev[1] & (select.POLLIN | select.POLLHUP | select.POLLERR) for ev in self._poll.poll(ms))

    def read(self, n):
        if self._out:
            self.flush()
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.read(n - len(buf))
            except OSError as e:
                if e.args[0] != errno.EAGAIN:
                    raise
                chunk = None
            if chunk is None:
                if not self.blocking and not buf:
                    return None
                if not self.wait(self.timeout_ms):
                    raise OSError(errno.ETIMEDOUT)
                continue
            if not chunk:
                if not buf:
                    return b""  # umqtt turns this into OSError(-1)
                raise OSError(errno.ECONNRESET)
            buf += chunk
            self.last_rx = port.ticks_ms()
            self.bytes_in += len(chunk)
        return buf

    def write(self, data, n=-1):
        if n >= 0:
            data = memoryview(data)[:n]
        self._out.extend(data.encode() if type(data) is str else data)
        if len(self._out) >= 1024:
            self.flush()
        return len(data)

    def flush(self):
        out = self._out
        if not out:
            return
        self._out = bytearray()
        mv = memoryview(out)
        sent = 0
        end = len(mv)
        wpoll = None
        while sent < end:
            try:
                k = self.sock.write(mv[sent:])
            except OSError as e:
                if e.args[0] != errno.EAGAIN:
                    raise
                k = None
            if not k:
                if wpoll is None:
                    wpoll = select.poll()
                    wpoll.register(self.sock, select.POLLOUT)
                if not wpoll.poll(self.timeout_ms):
                    raise OSError(errno.ETIMEDOUT)
                continue
            sent += k
        self.bytes_out += end

    def close(self):
        try:
            self.flush()
        except OSError:
            pass
        try:
            self._poll.unregister(self.sock)
        except (OSError, ValueError, KeyError):
            pass
        self.sock.close()


def tls_context(tls, host):
    """An SSLContext from the `tls` option: True, or {"ca", "cert", "key", "verify"} (PEM or DER files)."""
    import ssl

    opts = tls if isinstance(tls, dict) else {}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca = opts.get("ca")
    if ca:
        if port.MICROPYTHON:
            for der in _der_blocks(ca):
                ctx.load_verify_locations(cadata=der)  # each call adds one CA
        else:
            ctx.load_verify_locations(cafile=ca)
    verify = opts.get("verify", bool(ca))
    ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    cert = opts.get("cert")
    if cert:
        key = opts.get("key")
        if port.MICROPYTHON:
            ctx.load_cert_chain(_der_blocks(cert)[0], _der_blocks(key or cert)[-1])
        else:
            ctx.load_cert_chain(cert, key)
    return ctx


def _der_blocks(path):
    # MicroPython's TLS reads DER only, and brokers hand out PEM: decode each PEM block (a CA
    # bundle holds several). A DER file comes back whole.
    from binascii import a2b_base64

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise OSError("tls file %s: %s" % (path, e)) from None
    if b"-----BEGIN" not in data:
        return [data]
    out = []
    body = None
    for line in data.split(b"\n"):
        line = line.strip()
        if line.startswith(b"-----BEGIN"):
            body = []
        elif line.startswith(b"-----END"):
            if body is not None:
                out.append(a2b_base64(b"".join(body)))
            body = None
        elif body is not None:
            body.append(line)
    if not out:
        raise ValueError("tls file %s: no complete PEM block" % path)
    return out


class Client(MQTTClient):
    """umqtt.simple's MQTTClient with a connect() that keeps every wait bounded, and a wait_msg()
    that never allocates a message larger than `payload_max`."""

    def __init__(self, client_id, host, port_no, user, password, keepalive, tls, timeout_ms, payload_max):
        MQTTClient.__init__(
            self, client_id, host, port_no or (8883 if tls else 1883), user, password, keepalive
        )
        self.tls = tls
        self.timeout_ms = timeout_ms
        self.payload_max = payload_max

    def wait_msg(self):
        """umqtt's, except that a PUBLISH whose topic or payload is over payload_max bytes is read
        and thrown away in small pieces, reported to the callback as (None, its size), and still
        acknowledged: the broker would otherwise send it again at every reconnect."""
        sock = self.sock
        res = sock.read(1)
        sock.setblocking(True)
        if res is None:
            return None
        if res == b"":
            raise OSError(-1)
        op = res[0]
        if op == 0xD0:  # PINGRESP
            sock.read(1)
            return None
        if op & 0xF0 != 0x30:
            return op
        sz = self._recv_len()
        n = sock.read(2)
        n = (n[0] << 8) | n[1]
        sz -= n + 2
        limit = self.payload_max
        topic = sock.read(n) if n <= limit else skip(sock, n)
        pid = None
        if op & 6:
            pid = sock.read(2)
            sz -= 2
        if topic is None or sz > limit:
            skip(sock, sz)  # too large: read in passing, never held whole
            self.cb(None, n + sz)
        else:
            self.cb(topic, sock.read(sz))
        if pid is not None:
            sock.write(b"\x40\x02" + pid)  # PUBACK (we subscribe at QoS 1, so no QoS 2 arrives)

    def connect(self, clean_session=False, timeout=None):
        """Open the socket (and TLS), send CONNECT; True when the broker kept our session."""
        addr = socket.getaddrinfo(self.server, self.port, 0, socket.SOCK_STREAM)[0][-1]
        s = socket.socket()
        try:
            s.settimeout(self.timeout_ms / 1000)
            s.connect(addr)
            if self.tls:
                s = tls_context(self.tls, self.server).wrap_socket(s, server_hostname=self.server)
        except Exception:
            s.close()
            raise
        self.sock = Conn(s, self.timeout_ms)
        flags = clean_session << 1
        sz = 10 + 2 + len(self.client_id)
        if self.user is not None:
            sz += 2 + len(self.user) + 2 + len(self.pswd or "")
            flags |= 0xC0 if self.pswd is not None else 0x80
        if self.lw_topic:
            sz += 2 + len(self.lw_topic) + 2 + len(self.lw_msg)
            flags |= 0x4 | (self.lw_qos & 0x3) << 3 | self.lw_retain << 5
        head = bytearray(b"\x10")
        while sz > 0x7F:
            head.append((sz & 0x7F) | 0x80)
            sz >>= 7
        head.append(sz)
        self.sock.write(head)
        self.sock.write(b"\x00\x04MQTT\x04" + bytes([flags]) + struct.pack("!H", self.keepalive))
        self._send_str(self.client_id)
        if self.lw_topic:
            self._send_str(self.lw_topic)
            self._send_str(self.lw_msg)
        if self.user is not None:
            self._send_str(self.user)
            if self.pswd is not None:
                self._send_str(self.pswd)
        resp = self.sock.read(4)
        if not resp or resp[0] != 0x20 or resp[1] != 0x02:
            raise OSError(errno.ECONNRESET)
        if resp[3] != 0:
            raise refused(resp[3])
        return bool(resp[2] & 1)


class Refused(Exception):
    pass


# CONNACK return codes of MQTT 3.1.1.
_WHY = {
    1: "protocol version refused",
    2: "client id refused",
    3: "broker unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def refused(code):
    return Refused("broker refused the connection: %s" % _WHY.get(code, "code %d" % code))


def skip(sock, n):
    """Read and drop n bytes, 256 at a time; None."""
    while n > 0:
        n -= len(sock.read(min(n, 256)))
