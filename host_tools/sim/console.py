"""The virtual board's serial console: what the interpreter prints, made to look like a board's port.

The unix port's REPL is the real one (raw REPL and raw-paste included), but a board and the unix port
differ at boot: after a soft reset from the raw REPL a board goes straight back to the raw REPL, with
no banner. The boot script prints an in-band marker before the REPL starts; from there this filter
swallows the unix port's banner and prompt and asks the supervisor to send Ctrl-A.
"""

from __future__ import annotations

MARKER = b"\x1b_zoo-sim:repl\x1b\\"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_BANNER = b'Type "help()" for more information.\r\n>>> '
PROMPT = b">>> "


class ConsoleFilter:
    def __init__(self) -> None:
        self.mode = "friendly"  # the REPL the board is in: "friendly" or "raw"
        self.boot_mode = "friendly"
        self._held = b""  # a tail that may be the start of the marker or the prompt
        self._swallowing = False
        self._newline_next = False  # the unix port answers Ctrl-A with "\r\n" first; a board does not
        self._seen = b""  # the last bytes shown, to find banners split across reads

    def boot(self, mode: str) -> None:
        """A new interpreter starts; after its boot it must end up in this REPL mode."""
        self.boot_mode = mode
        self._held = b""
        self._swallowing = False
        self._newline_next = False

    def feed(self, data: bytes) -> tuple[bytes, bool, bool]:
        """Interpreter output in; returns (bytes to show on the port, whether to send Ctrl-A now,
        whether the boot ended and the REPL starts)."""
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
