"""The simulated board: off the Pi and in tests, with the same timing as the real one.

Every output change is recorded with the loop's time (virtual time in tests), so a test
can read back a blink period or a power-key pulse length; inputs are levels a test (or a
simulated modem) sets, and `press()` works a button with the same debouncing the real
board applies. `watch()` lets a stand-in for the hardware react to an output, e.g. a
virtual modem that reboots when its power key is pulsed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from firmware.board.base import BoardBase
from firmware.board.pins import BoardSpec, PinSpec

logger = logging.getLogger(__name__)

RECORD_MAX = 100_000  # pin changes kept (a long run must not grow without bound)


@dataclass(frozen=True)
class PinChange:
    """An output or input took `active` at loop time `at`."""

    at: float
    pin: int
    active: bool


class SimulatedBoard(BoardBase):
    """A board whose pins live in memory."""

    backend = "simulated"

    def __init__(self, spec: BoardSpec) -> None:
        super().__init__(spec)
        self.changes: deque[PinChange] = deque(maxlen=RECORD_MAX)
        self._levels: dict[int, bool] = {bcm: False for bcm in self._pins}
        self._watchers: dict[int, list[Callable[[bool], None]]] = {}
        self._edge_watched: set[int] = set()
        # No modem hangs on a simulated power key unless a stand-in is attached (tests):
        # power cycles are skipped until then instead of waiting for a STATUS that never comes.
        self.powers_modems = False

    # ----------------------------------------------------------------- primitives

    def _write(self, pin: PinSpec, active: bool) -> None:
        if self._levels[pin.bcm] == active:
            return
        self._levels[pin.bcm] = active
        self.changes.append(PinChange(self._now(), pin.bcm, active))
        for watcher in self._watchers.get(pin.bcm, []):
            watcher(active)

    def _read(self, pin: PinSpec) -> bool:
        return self._levels[pin.bcm]

    def _watch_edges(self, pin: PinSpec) -> None:
        self._edge_watched.add(pin.bcm)

    # ----------------------------------------------------------------- the test side

    def set_input(self, pin: int, active: bool) -> None:
        """Drive an input (a button contact, a modem's STATUS line) to a level."""
        if pin in self._outputs or pin not in self._pins:
            raise ValueError(f"BCM {pin} is not an input of board {self.spec.name!r}")
        if self._levels[pin] == active:
            return
        self._levels[pin] = active
        self.changes.append(PinChange(self._now(), pin, active))
        if pin in self._edge_watched:
            self._edge(pin)

    async def press(self, pin: int, hold_s: float = 0.2, bounce_s: float = 0.0) -> None:
        """Press and release a button; with `bounce_s`, its contact bounces once on the way
        down (made, broken after `bounce_s / 2`, made again after `bounce_s`)."""
        self.set_input(pin, True)
        if bounce_s > 0:
            await asyncio.sleep(bounce_s / 2)
            self.set_input(pin, False)
            await asyncio.sleep(bounce_s / 2)
            self.set_input(pin, True)
        await asyncio.sleep(hold_s)
        self.set_input(pin, False)

    def watch(self, pin: int, callback: Callable[[bool], None]) -> None:
        """Call `callback(active)` whenever output `pin` changes."""
        self._watchers.setdefault(pin, []).append(callback)

    def level(self, pin: int) -> bool:
        """The pin's current level (True: active)."""
        return self._levels[pin]

    def history(self, pin: int, since: float = float("-inf")) -> list[PinChange]:
        """The recorded changes of `pin` at or after loop time `since`."""
        return [change for change in self.changes if change.pin == pin and change.at >= since]

    def pulses(self, pin: int, since: float = float("-inf")) -> list[tuple[float, float]]:
        """(start, duration_s) of every completed active period of `pin` since `since`."""
        found: list[tuple[float, float]] = []
        started: float | None = None
        for change in self.history(pin, since):
            if change.active:
                started = change.at
            elif started is not None:
                found.append((started, change.at - started))
                started = None
        return found

    def _now(self) -> float:
        try:
            return self._running_loop().time()
        except RuntimeError:
            return float("nan")  # before any loop ran: no meaningful time
