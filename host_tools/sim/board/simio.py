# I2C buses, UARTs and ADC signals of the virtual board: data to and from models on the host
# (zoo-micro sim). machine.py exports the classes and reads the ADC signals, as a board's machine does.
import binascii

import simlink


class _Rand:
    # xorshift32: reproducible noise per ADC, untouched by the app's own use of random
    def __init__(self, seed):
        self.x = (seed or 1) & 0xFFFFFFFF

    def uniform(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x / 4294967296 * 2 - 1


_adc = {}  # id -> spec from the host: {"value"}, {"seq", "loop"} or {"mean", "noise", "seed"}


def on_adc(msg):
    spec = msg["spec"]
    if "noise" in spec:
        spec["rand"] = _Rand(spec.get("seed", 1))
    _adc[msg["id"]] = spec


def adc_read(id):
    spec = _adc.get(id)
    if spec is None:
        return 0
    seq = spec.get("seq")
    if seq:
        i = spec.get("i", 0)
        if i >= len(seq):
            i = 0 if spec.get("loop") else len(seq) - 1
        spec["i"] = i + 1
        v = seq[i]
    elif "noise" in spec:
        r = spec["rand"]
        # four uniforms make a near-normal sample with unit spread
        g = (r.uniform() + r.uniform() + r.uniform() + r.uniform()) * 0.866
        v = int(spec["mean"] + spec["noise"] * g + 0.5)
    else:
        v = spec.get("value", 0)
    return 0 if v < 0 else 65535 if v > 65535 else v


class I2C:
    """An I2C bus whose devices are models on the host (zoo-micro sim's i2c_device)."""

    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self._bus = id

    def init(self, *, scl=None, sda=None, freq=400000, timeout=50000):
        pass

    def deinit(self):
        pass

    def scan(self):
        return simlink.request({"op": "i2c_scan", "bus": self._bus})["addrs"]

    def _xfer(self, addr, write, nread):
        reply = simlink.request(
            {"op": "i2c", "bus": self._bus, "addr": addr, "w": binascii.hexlify(write).decode(), "r": nread}
        )
        if "err" in reply:
            raise OSError(reply["err"])
        return binascii.unhexlify(reply["data"])

    def readfrom(self, addr, nbytes, stop=True):
        return self._xfer(addr, b"", nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        data = self._xfer(addr, b"", len(buf))
        for i in range(len(data)):
            buf[i] = data[i]

    def writeto(self, addr, buf, stop=True):
        self._xfer(addr, bytes(buf), 0)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        return self.writeto(addr, b"".join(bytes(v) for v in vector))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        return self._xfer(addr, _memaddr(memaddr, addrsize), nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        data = self._xfer(addr, _memaddr(memaddr, addrsize), len(buf))
        for i in range(len(data)):
            buf[i] = data[i]

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._xfer(addr, _memaddr(memaddr, addrsize) + bytes(buf), 0)


class SoftI2C(I2C):
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        self._bus = "soft"


def _memaddr(memaddr, addrsize):
    n = addrsize // 8
    return bytes((memaddr >> (8 * (n - 1 - i))) & 0xFF for i in range(n))


uart_loop = set()  # UARTs whose writes come back as their own input


def _on_uart(msg):
    u = _uarts.get(msg["id"])
    if u is not None:
        u._take(binascii.unhexlify(msg["data"]))


def _on_uart_loop(msg):
    if msg["on"]:
        uart_loop.add(msg["id"])
    else:
        uart_loop.discard(msg["id"])


_uarts = {}


class UART:
    """A UART wired to the host: what the app writes goes to the host (and back to itself in loopback)."""

    def __init__(self, id, baudrate=115200, *, bits=8, parity=None, stop=1, tx=None, rx=None, rxbuf=256,
                 timeout=0, **kw):  # fmt: skip
        self._id = id
        self._rx = bytearray()
        self._rxbuf = rxbuf
        self.overruns = 0
        self._baud = baudrate
        _uarts[id] = self

    def init(self, baudrate=115200, **kw):
        self._baud = baudrate

    def deinit(self):
        _uarts.pop(self._id, None)

    def _take(self, data):
        room = self._rxbuf - len(self._rx)
        if len(data) > room:
            self.overruns += len(data) - room
            data = data[:room]
        self._rx.extend(data)

    def any(self):
        return len(self._rx)

    def read(self, nbytes=None):
        if not self._rx:
            return None
        n = len(self._rx) if nbytes is None else min(nbytes, len(self._rx))
        data = bytes(self._rx[:n])
        self._rx = self._rx[n:]
        return data

    def readinto(self, buf, nbytes=None):
        data = self.read(len(buf) if nbytes is None else nbytes)
        if data is None:
            return None
        for i in range(len(data)):
            buf[i] = data[i]
        return len(data)

    def readline(self):
        i = self._rx.find(b"\n")
        return self.read(i + 1 if i >= 0 else None)

    def write(self, buf):
        data = bytes(buf)
        if self._id in uart_loop:
            self._take(data)
        # the host sees the TX line in loopback too, as a probe on the wire would
        simlink.notify({"op": "uart", "id": self._id, "data": binascii.hexlify(data).decode()})
        return len(data)

    def flush(self):
        pass

    def txdone(self):
        return True

    def sendbreak(self):
        pass


simlink.handlers.update({"adc": on_adc, "uart": _on_uart, "uart_loop": _on_uart_loop})
