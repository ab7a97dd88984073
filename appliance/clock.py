"""Clocks: real time on the box, virtual time in simulation.

Everything above the policy waits through the running asyncio loop (`loop.call_later`,
`asyncio.sleep`, `loop.time()`), never `time.sleep`. Wall-clock timestamps come from a
`Clock`. In simulation `VirtualTimeLoop` makes `loop.time()` virtual, and `LoopClock` maps
it to the scenario's calendar, so the same line code runs on both.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Source of wall-clock time for timestamps and the policy."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    def timestamp(self) -> float:
        """The current time as POSIX seconds."""
        ...


class SystemClock:
    """The machine's real clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        return datetime.now(UTC)

    def timestamp(self) -> float:
        """The current time as POSIX seconds."""
        return time.time()


class LoopClock:
    """Wall-clock time derived from an event loop's monotonic clock.

    `epoch` is the calendar time at which `loop.time()` read `loop_origin`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, epoch: datetime) -> None:
        self._loop = loop
        self._epoch_ts = epoch.timestamp()
        self._origin = loop.time()

    def timestamp(self) -> float:
        """POSIX seconds at the loop's current time."""
        return self._epoch_ts + (self._loop.time() - self._origin)

    def now(self) -> datetime:
        """The loop's current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def to_loop_time(self, moment: datetime) -> float:
        """The `loop.time()` value at which `moment` will be reached."""
        return self._origin + (moment.timestamp() - self._epoch_ts)


class _VirtualSelector(selectors.DefaultSelector):
    """A selector that jumps virtual time forward instead of sleeping when all is quiet.

    `in_flight()` says whether bytes are still travelling between two endpoints inside this
    process (pseudo-terminal delivery is asynchronous in the kernel): while it is True the
    selector waits for real, briefly, instead of advancing the virtual clock.
    """

    def __init__(self, loop_ref: Callable[[], VirtualTimeLoop]) -> None:
        super().__init__()
        self._loop_ref = loop_ref

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop_ref()
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        while loop.bytes_in_flight():
            ready = super().select(0.05)
            if ready:
                return ready
        if timeout is None:
            # Nothing scheduled and nothing in flight: wait for real (a thread may wake us).
            return super().select(None)
        loop.advance(timeout)
        return super().select(0)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is virtual: idle waits take no real time.

    Real file descriptors (pseudo-terminals) still work; only timer waits are skipped.
    Register a probe with `add_in_flight_probe` for each pair of in-process endpoints so
    the clock never jumps while bytes are still on their way.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = start
        self._probes: list[Callable[[], bool]] = []
        super().__init__(selector=_VirtualSelector(lambda: self))

    def time(self) -> float:
        """Virtual monotonic seconds."""
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward."""
        if seconds > 0:
            self._virtual_now += seconds

    def add_in_flight_probe(self, probe: Callable[[], bool]) -> None:
        """Register a function that returns True while bytes are undelivered."""
        self._probes.append(probe)

    def bytes_in_flight(self) -> bool:
        """True while any registered probe reports undelivered bytes."""
        return any(probe() for probe in self._probes)
