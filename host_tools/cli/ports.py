"""Which port a command talks to when --port is left out: the one board on USB (by the USB ids in
boards/) or the one virtual board running (zoo-micro sim --link), else one line saying what to give."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from host_tools.boards import connected_boards, list_serial_ports, running_virtual
from host_tools.errors import UserError


@dataclass(frozen=True)
class Candidate:
    port: str
    boards: tuple[str, ...]  # the board ids it may be
    what: str  # "pico, USB 2e8a:0005" or "virtual esp32 running blink"


def candidates(port_lister: Callable[[], list] | None = None, usb_only: bool = False) -> list[Candidate]:
    """Every board a command could mean: known boards on USB, then running virtual boards."""
    port_lister = port_lister or list_serial_ports
    found = [
        Candidate(
            c.port, tuple(b.id for b in c.boards), f"{'/'.join(b.id for b in c.boards)}, USB {c.usb_id}"
        )
        for c in connected_boards(port_lister)
    ]
    for v in () if usb_only else running_virtual():
        what = f"virtual {v.board or 'board'}" + (f" running {v.app}" if v.app else "")
        found.append(Candidate(v.port, (v.board,) if v.board else (), what))
    return found


def check_url(port: str) -> None:
    """A pyserial URL port (socket://, rfc2217://) that cannot be opened is one line, before any work."""
    if "://" not in port:
        return
    import serial

    try:
        serial.serial_for_url(port, timeout=2).close()
    except ValueError as e:  # an unknown scheme, or a malformed URL
        raise UserError(
            f"{port} is not a port pyserial can open ({e}); give a device path or socket://HOST:PORT"
        ) from None
    except (serial.SerialException, OSError) as e:
        why = str(e).split("] ")[-1] if "] " in str(e) else str(e)
        raise UserError(
            f"cannot connect to {port}: {why}; is the board's serial-over-network server running?"
        ) from None


def choose_port(
    port: str | None,
    board: str | None = None,
    port_lister: Callable[[], list] | None = None,
    say: Callable[[str], None] | None = None,
    usb_only: bool = False,
) -> str:
    """port if given; else the only board found (the only one that can be `board`, the app's board,
    when there are several); else a UserError listing what was found. usb_only: no virtual boards."""
    if port:
        check_url(port)
        return port
    found = candidates(port_lister, usb_only)
    fits = [c for c in found if board in c.boards] if board else []
    chosen = fits if len(fits) == 1 else found
    if len(chosen) == 1:
        (say or _stderr)(f"using {chosen[0].port} ({chosen[0].what})")
        return chosen[0].port
    if not found:
        virtual = "" if usb_only else "start a virtual one with zoo-micro sim APP --link PATH, "
        raise UserError(f"no board found: plug one in (zoo-micro detect lists them), {virtual}or give --port")
    listed = "; ".join(f"{c.port} ({c.what})" for c in found)
    raise UserError(f"{len(found)} boards found: {listed}; choose one with --port")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


PORT_HELP = (
    "serial port or pyserial URL of the board (default: the one board on USB or running in zoo-micro sim)"
)


def check_positive(args: object, *names: str) -> None:
    """Options that must be positive numbers when given (--timeout, --seconds...): one line if not."""
    for name in names:
        value = getattr(args, name, None)
        if value is not None and not value > 0:  # NaN too
            raise UserError(f"--{name.replace('_', '-')} must be a positive number, not {value:g}")
