# The node end of the wire: a stream read and written without blocking the asyncio loop.
# Works with stdin/stdout, a machine.UART, or any object with readinto() and write() that
# select.poll accepts. Only what both interpreters have: poll, and a short sleep while idle.
import asyncio
import select

from zoo_micro import port


class Wire:
    def __init__(self, rx, tx, chunk=128):
        self.rx = rx
        self.tx = tx
        self.buf = bytearray(chunk)
        self._one = bytearray(1)
        self._any = getattr(rx, "any", None)  # a UART says how many bytes wait
        self._flush = getattr(tx, "flush", None)
        self._poll = select.poll()
        self._poll.register(rx, select.POLLIN)
        self._idle = 1
        self.fast = False  # set while an answer is awaited: idle polling stays at 1 ms
        self.bytes_in = 0
        self.bytes_out = 0

    async def read(self):
        """Wait for input; returns how many bytes are now at the start of self.buf."""
        wait = getattr(port, "wait_readable", None)
        while True:
            n = self._take()
            if n:
                self._idle = 1
                self.bytes_in += n
                return n
            if wait is not None:
                await wait(self.rx)
            else:
                # Idle polling starts at 1 ms and slows to 16 ms, so a quiet line costs little.
                await asyncio.sleep(self._idle / 1000)
                if self._idle < 16 and not self.fast:
                    self._idle <<= 1

    def _take(self):
        buf = self.buf
        if self._any is not None:
            k = self._any()
            if not k:
                return 0
            return self.rx.readinto(buf, min(k, len(buf))) or 0
        one = self._one
        poll = self._poll.poll
        n = 0
        while n < len(buf) and poll(0):
            # One byte per read: a blocking stdin would otherwise wait for a full buffer.
            if not self.rx.readinto(one):
                break
            buf[n] = one[0]
            n += 1
        return n

    def write(self, data):
        self.tx.write(data)
        if self._flush is not None:
            self._flush()
        self.bytes_out += len(data)

    def close(self):
        try:
            self._poll.unregister(self.rx)
        except (OSError, ValueError, KeyError):
            pass
