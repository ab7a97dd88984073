"""Test helpers for the AT layer: a raw pseudo-terminal playing the modem, and dialects.

`RawPty` is deliberately dumb (no AT state machine): each test writes exactly the bytes a
modem would send, so line framing, timing splits and noise are under the test's control.
The real serial code (pyserial + the loop's reader) runs unchanged on the slave side.
"""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

# Generous: the suite shares a small 2-core box; no test relies on these being tight.
TEST_TIMEOUT_S = 30.0
WAIT_S = 10.0


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test coroutine on a fresh event loop, bounded by a timeout."""
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT_S))


async def wait_until(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Poll `predicate` on the loop until it holds (fails the test after WAIT_S)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class RawPty:
    """The modem end (master) of a pseudo-terminal; `path` is the slave the host opens."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        os.set_blocking(self.master, False)
        self.received = bytearray()
        self.bytes_sent = 0
        self._partial = b""
        self._commands: asyncio.Queue[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.unplugged = False

    def attach(self) -> None:
        """Start collecting what the host writes (call inside the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._commands = asyncio.Queue()
        self._loop.add_reader(self.master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._detach()
            return
        self.received += data
        *commands, self._partial = (self._partial + data).split(b"\r")
        assert self._commands is not None
        for command in commands:
            self._commands.put_nowait(command.decode("ascii", "replace"))

    def _detach(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.master)
            self._loop = None

    async def next_command(self) -> str:
        """The next command line the host sent (without its CR)."""
        assert self._commands is not None, "attach() first"
        return await asyncio.wait_for(self._commands.get(), WAIT_S)

    def send(self, data: bytes) -> None:
        """Write modem bytes to the host, all at once."""
        view = memoryview(data)
        while view:
            written = os.write(self.master, view)
            self.bytes_sent += written
            view = view[written:]

    def unplug(self) -> None:
        """Close the master: the host's next read sees EOF/EIO, like a USB unplug."""
        self._detach()
        if not self.unplugged:
            os.close(self.master)
            self.unplugged = True

    def close(self) -> None:
        """Release both ends."""
        self.unplug()
        os.close(self.slave)


@pytest.fixture
def pty() -> Iterator[RawPty]:
    """A fresh raw pseudo-terminal per test."""
    raw = RawPty()
    yield raw
    raw.close()


@dataclass(frozen=True)
class Dialect:
    """How one modem family frames and spells the lines a call produces."""

    family: str
    eol: bytes
    ring: str
    clip: str
    caller_raw: str | None
    hangup: str
    dtmf: str
    dtmf_key: str

    def frame(self, *lines: str) -> bytes:
        """Lines in V1 verbose framing: `<eol><text><eol>` each."""
        return b"".join(self.eol + line.encode("latin-1") + self.eol for line in lines)


DIALECTS = [
    Dialect(
        "sim800",
        b"\r\n",
        "RING",
        '+CLIP: "+441234567890",145,"",0,"",0',
        "+441234567890",
        "NO CARRIER",
        "+DTMF: 5",
        "5",
    ),
    Dialect(
        "sim7600",
        b"\r\r\n",
        "+CRING: VOICE",
        '+CLIP: "+6281234567890",145,"",0,"",0',
        "+6281234567890",
        "VOICE CALL: END: 000008",
        "+RXDTMF: 5",
        "5",
    ),
    Dialect(
        "ec25",
        b"\r\n",
        "RING",
        '+CLIP: "02151082965",129,,,"QUECTEL",0',
        "02151082965",
        "NO CARRIER",
        "+QTONEDET: 53",
        "5",
    ),
    Dialect(
        "m95",
        b"\r\n",
        "RING",
        '+CLIP: "081234567890",129,"",0,"",0',
        "081234567890",
        "NO CARRIER",
        "+QTONEDET: 35",
        "#",
    ),
    Dialect(
        "huawei",
        b"\r\n",
        "RING",
        '+CLIP: "82882690",129,,,,0',
        "82882690",
        "^CEND:1,5,29,16",
        "^DDTMF: 5",
        "5",
    ),
    Dialect(
        "generic",
        b"\r",
        "+CRING: VOICE",
        '+CLIP: "6281234567890",145',
        "6281234567890",
        "NO CARRIER",
        "+DTMF: 5,160",
        "5",
    ),
]
