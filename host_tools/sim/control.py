"""Scripting a running virtual board from another process: JSON lines over a unix socket.

`zoo-micro sim APP --control PATH` listens on PATH. Each request is one JSON object on one line,
{"op": ..., ...}; each answer is one line, {"ok": result} or {"error": "what went wrong"}:

  set_pin pin value         drive an input (value null lets it float)
  pin pin                   the level the board drives on a pin, or null
  set_adc pin value | sequence [loop] | mean noise [seed]
  i2c_device address kind [temperature]   attach a model; kind "tmp102"
  i2c_set address name value              set a model's attribute (e.g. temperature)
  uart_send uart data       bytes (as a string) arriving on the board's UART
  uart_received uart        what the board wrote on it since the last call
  uart_loopback uart [on]
  set_rtc iso               e.g. "2030-01-02T03:04:05"
  reset | soft_reset | interrupt
  resets                    the causes of every boot so far
  output                    what the board printed since the last call

For example: echo '{"op": "set_pin", "pin": 4, "value": 0}' | socat - UNIX-CONNECT:board.ctl
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import threading
from pathlib import Path

from host_tools.sim.devices import TMP102
from host_tools.sim.virtual_board import VirtualBoard

DEVICES = {"tmp102": TMP102}


class ControlServer:
    def __init__(self, board: VirtualBoard, path: str | Path) -> None:
        self.board = board
        self.path = Path(path)
        if self.path.is_socket():
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.sock.listen()
        self._thread = threading.Thread(target=self._serve, name="zoo-sim-control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rw", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    answer = {"ok": self.handle(json.loads(line))}
                except Exception as e:  # a bad request is answered, not fatal
                    answer = {"error": f"{type(e).__name__}: {e}"}
                f.write(json.dumps(answer) + "\n")
                f.flush()

    def handle(self, req: dict):
        b = self.board
        op = req.get("op")
        if op == "set_pin":
            return b.set_pin(req["pin"], req["value"])
        if op == "pin":
            return b.pin(req["pin"])
        if op == "set_adc":
            args = {k: req[k] for k in ("sequence", "loop", "mean", "noise", "seed") if k in req}
            return b.set_adc(req["pin"], req.get("value"), **args)
        if op == "i2c_device":
            kind = DEVICES[req["kind"]]
            extra = {k: v for k, v in req.items() if k not in ("op", "kind", "address")}
            b.i2c_device(req["address"], kind(**extra))
            return None
        if op == "i2c_set":
            setattr(b.peripherals.i2c[req["address"]], req["name"], req["value"])
            return None
        if op == "uart_send":
            return b.uart_send(req["uart"], req["data"].encode())
        if op == "uart_received":
            return b.uart_received(req["uart"]).decode(errors="replace")
        if op == "uart_loopback":
            return b.uart_loopback(req["uart"], req.get("on", True))
        if op == "set_rtc":
            return b.set_rtc(datetime.datetime.fromisoformat(req["iso"]))
        if op in ("reset", "soft_reset", "interrupt"):
            return getattr(b, op)()
        if op == "resets":
            return list(b.resets)
        if op == "output":
            return b.read_output()
        raise ValueError(f"unknown op {op!r}")


class ControlClient:
    """The other end, for Python scripts: ControlClient(path).call("set_pin", pin=4, value=0)."""

    def __init__(self, path: str | Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rw", encoding="utf-8")

    def call(self, op: str, **args):
        self.file.write(json.dumps({"op": op, **args}) + "\n")
        self.file.flush()
        answer = json.loads(self.file.readline())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["ok"]

    def close(self) -> None:
        self.file.close()
        self.sock.close()
