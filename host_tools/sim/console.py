"""The virtual board's serial console: what the interpreter prints, made to look like a board's port.

The unix port's REPL is the real one (raw REPL and raw-paste included), but a board and the unix port
differ at boot: after a soft reset from the raw REPL a board goes straight back to the raw REPL, with
no banner. The boot script prints an in-band marker before the REPL starts; from there this filter
swallows the unix port's banner and prompt and asks the supervisor to send Ctrl-A.

Before that, the output is cooked as a board's is: text lines end with CRLF (the unix port leaves that
to a terminal), the banner names the board instead of "linux [GCC ...]", and traceback lines in the
simulator's own modules are dropped. Raw bytes (sys.stdout.buffer: mpremote mount, the bridge link)
come marked by board/simsys.py and pass untouched.
"""

from __future__ import annotations

import re

BINARY = b"\x1b_zb"  # then four hex digits, the length of the raw bytes that follow
BINARY_HEAD = len(BINARY) + 4
LINUX = re.compile(rb"; linux \[[^\]\r\n]*\] version")
# A line may arrive in pieces: these are held until it ends, to be rewritten or dropped whole.
WHOLE_LINES = (b"MicroPython ", b'  File "')
MAX_HOLD = 512
BARE_LF = re.compile(rb"(?<!\r)\n")
MARKER = b"\x1b_zoo-sim:repl\x1b\\"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_BANNER = b'Type "help()" for more information.\r\n>>> '
PROMPT = b">>> "


class ConsoleFilter:
    def __init__(self) -> None:
        self.machine = b""  # the board's name for the banner
        self._own_frames: re.Pattern | None = None  # traceback lines in the simulator's modules
        self._raw = b""  # output not cooked yet: a partial mark or a partial line
        self._binary_left = 0  # raw bytes still to pass untouched
        self._cr = False  # the last text byte was CR
        self._bol = True  # the last text byte ended a line
        self.mode = "friendly"  # the REPL the board is in: "friendly" or "raw"
        self.boot_mode = "friendly"
        self._held = b""  # a tail that may be the start of the marker or the prompt
        self._swallowing = False
        self._newline_next = False  # the unix port answers Ctrl-A with "\r\n" first; a board does not
        self._seen = b""  # the last bytes shown, to find banners split across reads

    def boot(self, mode: str, machine: str = "", own_dir: str = "") -> None:
        """A new interpreter starts; after its boot it must end up in this REPL mode. machine: the
        board's name for the banner; own_dir: the folder of the simulator's board-side modules."""
        self.machine = machine.encode()
        self._own_frames = None
        if own_dir:
            own = re.escape(own_dir.encode())
            self._own_frames = re.compile(rb'(?m)^  File "' + own + rb'/[^"\r\n]*"[^\r\n]*\r?\n')
        self._raw = b""
        self._binary_left = 0
        self._cr = False
        self._bol = True
        self.boot_mode = mode
        self._held = b""
        self._swallowing = False
        self._newline_next = False

    def feed(self, data: bytes) -> tuple[bytes, bool, bool]:
        """Interpreter output in; returns (bytes to show on the port, whether to send Ctrl-A now,
        whether the boot ended and the REPL starts)."""
        return self._filter(self._cook(data))

    @property
    def holding(self) -> bool:
        """Part of a line is held back, waiting for the rest of it."""
        return bool(self._raw)

    def flush(self) -> tuple[bytes, bool, bool]:
        """No more output came: what was held, as feed() gives it."""
        return self._filter(self._cook(b"", final=True))

    def _cook(self, data: bytes, final: bool = False) -> bytes:
        data = self._raw + data
        self._raw = b""
        out = bytearray()
        while data:
            if self._binary_left:
                piece = data[: self._binary_left]
                out += piece
                self._binary_left -= len(piece)
                data = data[len(piece) :]
                self._cr = False
                continue
            i = data.find(BINARY)
            if i < 0:
                keep = 0 if final else _partial_suffix(data, BINARY)
                text, self._raw = data[: len(data) - keep], data[len(data) - keep :]
                out += self._text(text, final)
                break
            out += self._text(data[:i], True)
            head = data[i : i + BINARY_HEAD]
            if len(head) < BINARY_HEAD and not final:
                self._raw = data[i:]
                break
            try:
                self._binary_left = int(head[len(BINARY) :], 16)
            except ValueError:
                out += self._text(data[i : i + 1], True)  # not a mark after all
                data = data[i + 1 :]
                continue
            data = data[i + BINARY_HEAD :]
        return bytes(out)

    def _text(self, text: bytes, final: bool) -> bytes:
        """Text the interpreter printed, as a board prints it; the start of a line that may still
        need rewriting is held (added to _raw) unless final."""
        if not text:
            return b""
        if not final:
            start = text.rfind(b"\n") + 1
            tail = text[start:]
            at_line_start = start > 0 or self._bol
            if (
                at_line_start
                and len(tail) < MAX_HOLD
                and any(t.startswith(tail) or tail.startswith(t) for t in WHOLE_LINES)
            ):
                self._raw = tail + self._raw
                text = text[:start]
        if self._own_frames is not None and b'  File "' in text:
            text = self._own_frames.sub(b"", text)
        if b"; linux [" in text:
            text = LINUX.sub(b"; " + self.machine, text)
        cooked = BARE_LF.sub(b"\r\n", text)
        if self._cr and text.startswith(b"\n"):
            cooked = cooked[1:]  # its CR came at the end of the previous piece
        if text:
            self._cr = text.endswith(b"\r")
            self._bol = text.endswith(b"\n")
        return cooked

    def _filter(self, data: bytes) -> tuple[bytes, bool, bool]:
        data = self._held + data
        self._held = b""
        shown = b""
        enter_raw = False
        at_repl = False
        while data:
            if self._newline_next:
                if len(data) < 2 and b"\r\n".startswith(data):
                    self._held = data
                    break
                self._newline_next = False
                if data.startswith(b"\r\n"):
                    data = data[2:]
                continue
            if self._swallowing:
                i = data.find(PROMPT)
                if i < 0:
                    self._held = data[-(len(PROMPT) - 1) :]
                    break
                data = data[i + len(PROMPT) :]
                self._swallowing = False
                self._newline_next = True
                enter_raw = True
                continue
            i = data.find(MARKER)
            if i < 0:
                keep = _partial_suffix(data, MARKER)
                shown += data[: len(data) - keep]
                self._held = data[len(data) - keep :]
                break
            shown += data[:i]
            data = data[i + len(MARKER) :]
            self._swallowing = self.boot_mode == "raw"
            at_repl = True
        self._track(shown)
        return shown, enter_raw, at_repl

    def _track(self, shown: bytes) -> None:
        if not shown:
            return
        seen = self._seen + shown
        raw_at = seen.rfind(RAW_BANNER)
        friendly_at = seen.rfind(FRIENDLY_BANNER)
        if raw_at > friendly_at:
            self.mode = "raw"
        elif friendly_at > raw_at:
            self.mode = "friendly"
        self._seen = seen[-64:]


def _partial_suffix(data: bytes, token: bytes) -> int:
    """Length of the longest tail of data that is a proper prefix of token."""
    for n in range(min(len(token) - 1, len(data)), 0, -1):
        if data.endswith(token[:n]):
            return n
    return 0
