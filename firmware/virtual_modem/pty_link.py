"""One pseudo-terminal served from the running asyncio loop: the modem's end of the wire.

The modem owns the master side; the host opens the slave *path* with pyserial like a
real /dev/ttyUSB*. We keep our own slave fd open so the master never sees EIO while no
host is attached (bytes then wait in the kernel, as on a real UART with nobody reading).
Reads and writes are non-blocking and driven by `loop.add_reader`/`add_writer`; gaps
between chunks (split writes) are `loop.call_later`, so under a virtual-time loop they
cost no real time. Output is one FIFO of (gap_before_s, bytes) so a line split into
chunks is never overtaken by a later line.
"""

from __future__ import annotations

import array
import asyncio
import fcntl
import logging
import os
import termios
import tty
from collections import deque
from collections.abc import Callable, Iterable

log = logging.getLogger("firmware.virtual_modem")

# A real UART drops bytes nobody reads; we keep this much queued before we drop too.
MAX_QUEUED_BYTES = 256 * 1024
_READ_SIZE = 4096


class PtyLink:
    """A raw pseudo-terminal pair; `path` is what the host opens.

    `bytes_received` counts bytes read from the master (written by the host),
    `bytes_sent` bytes written to the master (for the host to read).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        tag: str,
        on_data: Callable[[bytes], None],
        logger: logging.Logger = log,
    ) -> None:
        self._loop = loop
        self._log = logger
        self._tag = tag
        self._on_data = on_data
        self.master_fd, self.slave_fd = os.openpty()
        # Raw mode: no echo, no CR/LF translation, no line buffering: bytes as on a UART.
        tty.setraw(self.slave_fd)
        os.set_blocking(self.master_fd, False)
        self.path = os.ttyname(self.slave_fd)
        self.bytes_received = 0
        self.bytes_sent = 0
        self.closed = False
        self._queue: deque[tuple[float, bytes]] = deque()
        self._queued_bytes = 0
        self._pending = bytearray()  # chunk partly written when the kernel buffer filled
        self._gap_timer: asyncio.TimerHandle | None = None
        self._writer_armed = False
        loop.add_reader(self.master_fd, self._on_readable)

    @property
    def queued_bytes(self) -> int:
        """Bytes queued here, not yet handed to the kernel."""
        return self._queued_bytes + len(self._pending)

    @property
    def unread_bytes(self) -> int:
        """Bytes on their way to the host: queued here or waiting in the kernel."""
        if self.closed:
            return 0
        waiting = array.array("i", [0])
        fcntl.ioctl(self.slave_fd, termios.FIONREAD, waiting)
        return self.queued_bytes + waiting[0]

    def send(self, chunks: Iterable[tuple[float, bytes]]) -> None:
        """Queue chunks, each written `gap_before_s` after the previous one went out."""
        if self.closed:
            return
        for gap_s, chunk in chunks:
            if self._queued_bytes + len(chunk) > MAX_QUEUED_BYTES:
                log.warning("%s: output overrun, dropping %d bytes", self._tag, len(chunk))
                continue
            self._queue.append((gap_s, chunk))
            self._queued_bytes += len(chunk)
        self._pump()

    def close(self) -> None:
        """Close both ends: a host holding the slave sees a hang-up (like a USB unplug)."""
        if self.closed:
            return
        self.closed = True
        self._loop.remove_reader(self.master_fd)
        if self._writer_armed:
            self._loop.remove_writer(self.master_fd)
        if self._gap_timer is not None:
            self._gap_timer.cancel()
        self._queue.clear()
        self._pending.clear()
        # Master first: the hang-up reaches the host's open slave fd.
        os.close(self.master_fd)
        os.close(self.slave_fd)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master_fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:  # cannot happen while we hold the slave; log, don't spin
            log.error("%s: read failed: %s", self._tag, exc)
            self._loop.remove_reader(self.master_fd)
            return
        if not data:
            return
        self.bytes_received += len(data)
        self._log.debug("%s rx %r", self._tag, data)
        self._on_data(data)

    def _pump(self) -> None:
        while not self.closed and self._gap_timer is None:
            if self._pending:
                if not self._write_pending():
                    return  # the writer callback resumes us when the kernel has room
                continue
            if not self._queue:
                return
            gap_s, chunk = self._queue[0]
            if gap_s > 0:
                self._queue[0] = (0.0, chunk)
                self._gap_timer = self._loop.call_later(gap_s, self._end_gap)
                return
            self._queue.popleft()
            self._queued_bytes -= len(chunk)
            self._pending += chunk

    def _end_gap(self) -> None:
        self._gap_timer = None
        self._pump()

    def _write_pending(self) -> bool:
        """Write what the kernel takes; True when nothing is left pending."""
        try:
            written = os.write(self.master_fd, self._pending)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            log.error("%s: write failed, dropping %d bytes: %s", self._tag, len(self._pending), exc)
            self._pending.clear()
            written = 0
        if written:
            self._log.debug("%s tx %r", self._tag, bytes(self._pending[:written]))
            self.bytes_sent += written
            del self._pending[:written]
        if self._pending:
            if not self._writer_armed:
                self._loop.add_writer(self.master_fd, self._pump)
                self._writer_armed = True
            return False
        if self._writer_armed:
            self._loop.remove_writer(self.master_fd)
            self._writer_armed = False
        return True
