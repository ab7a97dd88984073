"""The real board: Raspberry Pi GPIO through the `RPi.GPIO` module.

On a Pi 4 that is RPi.GPIO itself; on a Pi 5 the `rpi-lgpio` package provides a module of
the same name on top of the kernel's GPIO character device. The module is imported only
here, only when this backend is chosen, and may be handed in (`gpio=`) so the pin set-up
can be tested off the Pi with a stand-in.

RPi.GPIO calls edge callbacks on its own thread: each one is handed to the asyncio loop
with `call_soon_threadsafe`, and debouncing happens there (see `BoardBase.on_press`), so
RPi.GPIO's own `bouncetime` is not used (it can swallow the release edge).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from typing import Any

from firmware.board.base import BoardBase
from firmware.board.pins import BoardSpec, PinSpec

logger = logging.getLogger(__name__)


def import_gpio() -> Any:
    """The `RPi.GPIO` module; raises ImportError off the Pi (RuntimeError is mapped to it:
    RPi.GPIO raises that on import on a machine that is not a Pi)."""
    try:
        return importlib.import_module("RPi.GPIO")
    except RuntimeError as exc:
        raise ImportError(str(exc)) from exc


class GpioBoard(BoardBase):
    """A board on the Pi's GPIO header (BCM numbering)."""

    backend = "gpio"

    def __init__(self, spec: BoardSpec, gpio: Any | None = None) -> None:
        super().__init__(spec)
        self._gpio = gpio if gpio is not None else import_gpio()
        self._set_up()

    def _set_up(self) -> None:
        """BCM numbering; outputs start inactive; inputs get their pull resistor."""
        gpio = self._gpio
        gpio.setwarnings(False)  # pins left configured by an earlier run are ours to take
        gpio.setmode(gpio.BCM)
        for pin in self.spec.outputs():
            gpio.setup(pin.bcm, gpio.OUT, initial=self._level(pin, False))
        pulls = {"up": gpio.PUD_UP, "down": gpio.PUD_DOWN, "off": gpio.PUD_OFF}
        for pin in self.spec.inputs():
            gpio.setup(pin.bcm, gpio.IN, pull_up_down=pulls[pin.pull])
        logger.debug("board %s: %d outputs, %d inputs set up", self.spec.name,
                     len(self.spec.outputs()), len(self.spec.inputs()))  # fmt: skip

    def _level(self, pin: PinSpec, active: bool) -> int:
        high = active != pin.active_low
        return int(self._gpio.HIGH if high else self._gpio.LOW)

    def _write(self, pin: PinSpec, active: bool) -> None:
        self._gpio.output(pin.bcm, self._level(pin, active))

    def _read(self, pin: PinSpec) -> bool:
        high = bool(self._gpio.input(pin.bcm))
        return high != pin.active_low

    def _watch_edges(self, pin: PinSpec) -> None:
        loop = self._running_loop()

        def from_gpio_thread(channel: int) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the service stopped
                loop.call_soon_threadsafe(self._edge, channel)

        self._gpio.add_event_detect(pin.bcm, self._gpio.BOTH, callback=from_gpio_thread)

    def _release(self) -> None:
        for pin in self.spec.inputs():
            with contextlib.suppress(RuntimeError, ValueError):  # never watched
                self._gpio.remove_event_detect(pin.bcm)
        self._gpio.cleanup([pin.bcm for pin in [*self.spec.outputs(), *self.spec.inputs()]])
