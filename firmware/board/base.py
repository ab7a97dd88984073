"""The board I/O interface, and the timing every backend shares.

`Board` is what the application sees: output pins switched on, off or blinking, pulses of
a given length (a modem's power key), input pins read, and debounced press callbacks (an
answer button). Pins are BCM numbers from the board's pin map; `active` means the pin's
logical meaning (LED lit, button pressed), its polarity applied by the backend.

All timing (blinking, pulses, debouncing) goes through the running asyncio loop
(`loop.call_later`, `asyncio.sleep`), never `time.sleep` or a thread: the same code runs
in real time on the Pi and in virtual time in the tests. A backend provides only the
three primitives `_write`, `_read` and `_watch_edges`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from firmware.board.pins import BoardSpec, PinSpec

logger = logging.getLogger(__name__)

DEBOUNCE_S = 0.05  # a button's level must hold this long to count as pressed or released


class Board(Protocol):
    """Board I/O as the application uses it (implemented by every backend)."""

    spec: BoardSpec
    backend: str  # "gpio" or "simulated"
    powers_modems: bool  # its power keys and STATUS pins reach real (or stand-in) modems

    def set(self, pin: int, active: bool) -> None:
        """Switch an output on or off (and stop it blinking)."""
        ...

    def blink(self, pin: int, on_s: float, off_s: float) -> None:
        """Blink an output: `on_s` active, `off_s` inactive, until set or blinked anew."""
        ...

    async def pulse(self, pin: int, duration_s: float) -> None:
        """Hold an output active for `duration_s`, then release it."""
        ...

    def read(self, pin: int) -> bool:
        """True when an input (or output) is active."""
        ...

    def on_press(
        self, pin: int, callback: Callable[[], None], debounce_s: float = DEBOUNCE_S
    ) -> None:
        """Call `callback` in the loop each time the input is pressed (debounced)."""
        ...

    def close(self) -> None:
        """Stop blinking and watching, switch every output off, release the pins."""
        ...


@dataclass
class _Watched:
    """A debounced input: its settled level and the timer waiting for it to settle."""

    callback: Callable[[], None]
    debounce_s: float
    settled: bool = False
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class BoardBase:
    """Shared timing over three primitives a backend implements."""

    backend = "base"
    powers_modems = True

    def __init__(self, spec: BoardSpec) -> None:
        self.spec = spec
        self._pins: dict[int, PinSpec] = {pin.bcm: pin for pin in [*spec.outputs(), *spec.inputs()]}
        self._outputs = {pin.bcm for pin in spec.outputs()}
        self._blinks: dict[int, asyncio.TimerHandle] = {}
        self._watched: dict[int, _Watched] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # ----------------------------------------------------------------- primitives

    def _write(self, pin: PinSpec, active: bool) -> None:
        """Drive an output to its active or inactive level."""
        raise NotImplementedError

    def _read(self, pin: PinSpec) -> bool:
        """Read a pin: True when active."""
        raise NotImplementedError

    def _watch_edges(self, pin: PinSpec) -> None:
        """Arrange for `self._edge(bcm)` to run in the loop on every change of the input."""
        raise NotImplementedError

    def _release(self) -> None:
        """Give the pins back (backend specific)."""

    # ----------------------------------------------------------------- outputs

    def set(self, pin: int, active: bool) -> None:
        """Switch an output on or off (and stop it blinking)."""
        spec = self._output(pin)
        self._stop_blink(pin)
        self._write(spec, active)

    def blink(self, pin: int, on_s: float, off_s: float) -> None:
        """Blink an output: `on_s` active, `off_s` inactive, until set or blinked anew."""
        spec = self._output(pin)
        self._stop_blink(pin)
        self._blink_phase(spec, True, on_s, off_s)

    def _blink_phase(self, spec: PinSpec, active: bool, on_s: float, off_s: float) -> None:
        if self._closed:
            return
        self._write(spec, active)
        self._blinks[spec.bcm] = self._running_loop().call_later(
            on_s if active else off_s, self._blink_phase, spec, not active, on_s, off_s
        )

    def _stop_blink(self, pin: int) -> None:
        handle = self._blinks.pop(pin, None)
        if handle is not None:
            handle.cancel()

    async def pulse(self, pin: int, duration_s: float) -> None:
        """Hold an output active for `duration_s`, then release it (also if cancelled)."""
        spec = self._output(pin)
        self._stop_blink(pin)
        self._write(spec, True)
        try:
            await asyncio.sleep(duration_s)
        finally:
            self._write(spec, False)

    def _output(self, pin: int) -> PinSpec:
        if pin not in self._outputs:
            raise ValueError(f"BCM {pin} is not an output of board {self.spec.name!r}")
        return self._pins[pin]

    # ----------------------------------------------------------------- inputs

    def read(self, pin: int) -> bool:
        """True when the pin is active."""
        spec = self._pins.get(pin)
        if spec is None:
            raise ValueError(f"BCM {pin} is not a pin of board {self.spec.name!r}")
        return self._read(spec)

    def on_press(
        self, pin: int, callback: Callable[[], None], debounce_s: float = DEBOUNCE_S
    ) -> None:
        """Call `callback` in the loop each time the input is pressed.

        Debounced by settling: every edge restarts a `debounce_s` timer, and only a level
        that held that long counts. A contact that bounces (several edges within a few
        milliseconds) is one press; a glitch shorter than `debounce_s` is none.
        """
        spec = self._pins.get(pin)
        if spec is None or pin in self._outputs:
            raise ValueError(f"BCM {pin} is not an input of board {self.spec.name!r}")
        self._loop = self._running_loop()
        self._watched[pin] = _Watched(callback, debounce_s, settled=self._read(spec))
        self._watch_edges(spec)

    def _edge(self, pin: int) -> None:
        """An input changed (in the loop): wait for it to settle."""
        watched = self._watched.get(pin)
        if watched is None or self._closed:
            return
        if watched.timer is not None:
            watched.timer.cancel()
        watched.timer = self._running_loop().call_later(watched.debounce_s, self._settle, pin)

    def _settle(self, pin: int) -> None:
        watched = self._watched[pin]
        watched.timer = None
        level = self._read(self._pins[pin])
        if level == watched.settled:
            return
        watched.settled = level
        if level:
            try:
                watched.callback()
            except Exception:  # a button handler's bug must not stop the board
                logger.exception("board: press handler of BCM %d failed", pin)

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Stop blinking and watching, switch every output off, release the pins."""
        if self._closed:
            return
        for pin in list(self._blinks):
            self._stop_blink(pin)
        for watched in self._watched.values():
            if watched.timer is not None:
                watched.timer.cancel()
        self._watched.clear()
        for pin in sorted(self._outputs):
            self._write(self._pins[pin], False)
        self._closed = True
        self._release()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None:
                raise
            return self._loop
