"""Everything a virtual board printed, kept for tests and tools to read and wait on."""

from __future__ import annotations

import codecs
import re
import threading
import time

KEEP_CHARS = 4_000_000  # a board left printing for hours must not fill the host's memory


class OutputLog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""
        self._base = 0  # characters dropped from the front
        self._read = 0  # read_output() cursor, absolute
        self._search = 0  # wait_for_output() cursor, absolute
        self._lines = 0  # wait_for_line() cursor: absolute offset of the next unread line

    def append(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if not text:
            return
        with self._cond:
            self._text += text
            if len(self._text) > KEEP_CHARS:
                cut = len(self._text) - KEEP_CHARS // 2
                self._text = self._text[cut:]
                self._base += cut
            self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return self._text

    def read_new(self) -> str:
        """What was printed since the last call."""
        with self._cond:
            start = max(self._read, self._base)
            self._read = self._base + len(self._text)
            return self._text[start - self._base :]

    def _wait(self, find, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = find()
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = self._text[-600:]
                    raise TimeoutError(
                        f"timed out after {timeout}s waiting for {what}; the board printed:\n{tail}"
                    )
                self._cond.wait(left)

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 10.0) -> re.Match:
        """Wait until pattern (a literal string, or a compiled regex) appears after the previous match."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))

        def find():
            start = max(self._search, self._base)
            m = regex.search(self._text, start - self._base)
            if m is not None:
                self._search = self._base + m.end()
            return m

        return self._wait(find, timeout, repr(pattern if isinstance(pattern, str) else regex.pattern))

    def wait_for_line(self, pattern: str | re.Pattern, timeout: float = 10.0) -> str:
        """Wait for a complete printed line containing pattern (literal, or a compiled regex); returns it.
        Lines are consumed in order, so successive calls find successive lines."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))

        def find():
            while True:
                start = max(self._lines, self._base) - self._base
                end = self._text.find("\n", start)
                if end < 0:
                    return None
                line = self._text[start:end].rstrip("\r")
                self._lines = self._base + end + 1
                if regex.search(line):
                    return line

        shown = pattern if isinstance(pattern, str) else regex.pattern
        return self._wait(find, timeout, f"a line with {shown!r}")
