# The virtual board's wires to its supervisor (zoo-micro sim on the host). MicroPython unix port only.
# Host commands arrive on one socket and become soft interrupts on the main thread; notifications and
# requests (I2C transfers, WDT feeds, pin changes) leave on another.
import _thread
import json
import os
import socket
import struct
import sys

import micropython
import uselect
import utime

cfg = json.loads(os.getenv("ZOO_SIM"))
MAIN = _thread.get_ident()
handlers = {}  # host command op -> fn(msg), run as a soft interrupt; filled by machine.py
on_state = None  # fn(state): takes the host's peripheral state at boot; set by machine.py
ballast = []  # heap held back so the app gets the board's heap, not the interpreter's

_RING = 64
_ring = [None] * _RING  # link thread -> main thread; one producer, one consumer, so no lock
_head = 0
_tail = 0
_scheduled = False
dropped = 0


def _dgram(suffix):
    # Abstract unix sockets: unique per boot by the token, nothing to clean up, no port to find.
    addr = struct.pack("<H", socket.AF_UNIX) + b"\0zoo-sim-" + cfg["token"].encode() + suffix
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(addr)
    s.setblocking(False)
    return s, addr


main_wake, _main_addr = _dgram(b"-main")
_link_wake, _link_addr = _dgram(b"-link")
_tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)


def _connect(kind):
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", cfg["port"])[0][-1])
    s.write(json.dumps({"hello": kind, "token": cfg["token"]}) + "\n")
    return s


_cmd = None
_rpc = None
_req_lock = _thread.allocate_lock()
_req_owner = None
_req_depth = 0
_req_id = 0
_replies = {}


def is_main():
    return _thread.get_ident() == MAIN


def notify(msg):
    """Tell the host something; one write per line, so safe from any thread or soft interrupt."""
    try:
        _rpc.write(json.dumps(msg) + "\n")
    except OSError:
        pass


def request(msg):
    """Ask the host and wait for its answer (a dict)."""
    global _req_owner, _req_depth, _req_id
    me = _thread.get_ident()
    if _req_owner != me:
        _req_lock.acquire()
        _req_owner = me
    _req_depth += 1
    try:
        _req_id += 1
        rid = msg["id"] = _req_id
        _rpc.write(json.dumps(msg) + "\n")
        # A soft interrupt may issue its own request while this one waits: replies carry ids.
        while rid not in _replies:
            line = _rpc.readline()
            if not line:
                raise OSError(5)  # EIO: the host went away
            reply = json.loads(line)
            _replies[reply["id"]] = reply
        return _replies.pop(rid)
    finally:
        _req_depth -= 1
        if _req_depth == 0:
            _req_owner = None
            _req_lock.release()


def soft_irq(fn, arg):
    """Queue fn(arg) to run on the main thread as a soft interrupt (link thread only)."""
    global _tail, _scheduled, dropped
    nxt = (_tail + 1) % _RING
    if nxt == _head:
        dropped += 1
        return
    _ring[_tail] = (fn, arg)
    _tail = nxt
    _kick()


def _kick():
    global _scheduled
    if not _scheduled:
        _scheduled = True
        try:
            micropython.schedule(_drain, None)
        except RuntimeError:
            _scheduled = False  # the schedule queue is full; the link loop retries
    wake_main()


def wake_main():
    try:
        _tx.sendto(b"!", _main_addr)
    except OSError:
        pass


def _drain(_):
    global _head, _scheduled
    _scheduled = False  # cleared first, so a push during the drain schedules another one
    while _head != _tail:
        fn, arg = _ring[_head]
        _ring[_head] = None
        _head = (_head + 1) % _RING
        try:
            fn(arg)
        except Exception as e:
            print("Uncaught exception in IRQ callback handler")
            sys.print_exception(e)


def clear_main_wake():
    try:
        while main_wake.recv(64):
            pass
    except OSError:
        pass


_main_poll = uselect.poll()
_main_poll.register(main_wake, uselect.POLLIN)


def wait_main(ms):
    """Block the main thread up to ms, returning early when the link has soft interrupts for it."""
    _main_poll.poll(ms)
    clear_main_wake()


# Timers live in the link thread; the main thread arms and disarms them with datagrams, lock-free.
def arm_timer(key, gen, period_us, periodic):
    _tx.sendto(b"T %d %d %d %d" % (key, gen, period_us, 1 if periodic else 0), _link_addr)


def disarm_timer(key):
    _tx.sendto(b"D %d" % key, _link_addr)


timer_fired = None  # fn((key, gen)) set by machine.py


def _die():
    # The host end closed: nothing may outlive its supervisor. The shell's parent is this process.
    os.system("kill -9 $PPID")


def _run():
    p = uselect.poll()
    p.register(_cmd, uselect.POLLIN)
    p.register(_link_wake, uselect.POLLIN)
    timers = {}  # key -> [due_us, gen, period_us or 0]
    buf = b""
    while True:
        timeout = -1
        if timers:
            now = utime.ticks_us()
            soonest = min(utime.ticks_diff(t[0], now) for t in timers.values())
            timeout = 0 if soonest <= 0 else (soonest + 999) // 1000
        if _scheduled is False and _head != _tail:
            timeout = 1  # an earlier schedule() found the queue full
            _kick()
        try:
            for obj, _ev in p.ipoll(timeout):
                if obj is _cmd:
                    data = _cmd.recv(4096)
                    if not data:
                        _die()
                        return
                    buf += data
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        msg = json.loads(line)
                        fn = handlers.get(msg.get("op"))
                        if fn is not None:
                            soft_irq(fn, msg)
                else:
                    while True:
                        try:
                            d = _link_wake.recv(64)
                        except OSError:
                            break
                        parts = d.split()
                        if parts[0] == b"T":
                            period = int(parts[3])
                            due = utime.ticks_add(utime.ticks_us(), period)
                            timers[int(parts[1])] = [due, int(parts[2]), period if parts[4] == b"1" else 0]
                        else:
                            timers.pop(int(parts[1]), None)
            now = utime.ticks_us()
            for key in list(timers):
                t = timers[key]
                if utime.ticks_diff(t[0], now) <= 0:
                    soft_irq(timer_fired, (key, t[1]))
                    if t[2]:
                        t[0] = utime.ticks_add(t[0], t[2])
                        if utime.ticks_diff(t[0], now) <= 0:
                            t[0] = utime.ticks_add(now, t[2])  # fell behind: skip, as a busy board would
                    else:
                        del timers[key]
        except MemoryError:
            pass  # the app has the heap full; try again on the next turn


def hello():
    """Connect to the host, take its peripheral state, and start the link thread."""
    global _cmd, _rpc
    _cmd = _connect("cmd")
    _rpc = _connect("rpc")
    state = request({"op": "hello"}).get("state", {})
    if on_state is not None:
        on_state(state)
    _thread.start_new_thread(_run, ())
