"""Board I/O: LEDs, desk lamps or buzzers, answer buttons, and each modem's power key.

One interface (`Board`), two backends: `GpioBoard` on the Pi (RPi.GPIO, or rpi-lgpio's
module of the same name on a Pi 5) and `SimulatedBoard` everywhere else and in tests.
`open_board` picks one and says which, and why, in one INFO log line. Pin maps are data
files under `firmware/boards/` (`pins.py`); power-key timings per modem family are in
`power.py`; `usb.py` resets a USB port through sysfs.

Nothing here knows about calls or lines: `appliance/board_wiring.py` decides what the
pins show.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from firmware.board.base import DEBOUNCE_S, Board, BoardBase
from firmware.board.gpio import GpioBoard, import_gpio
from firmware.board.pins import (
    BoardSpec,
    BoardSpecError,
    PinSpec,
    SlotPins,
    load_board_spec,
    parse_board_spec,
)
from firmware.board.power import (
    POWER_KEY_TIMINGS,
    PowerCycleResult,
    PowerKeyTiming,
    modem_is_on,
    power_cycle,
    timing_for,
)
from firmware.board.simulated import PinChange, SimulatedBoard
from firmware.board.usb import UsbPortReset, UsbResetError

logger = logging.getLogger(__name__)

Backend = Literal["auto", "gpio", "simulated"]

__all__ = [
    "DEBOUNCE_S",
    "POWER_KEY_TIMINGS",
    "Backend",
    "Board",
    "BoardBase",
    "BoardSpec",
    "BoardSpecError",
    "GpioBoard",
    "PinChange",
    "PinSpec",
    "PowerCycleResult",
    "PowerKeyTiming",
    "SimulatedBoard",
    "SlotPins",
    "UsbPortReset",
    "UsbResetError",
    "load_board_spec",
    "modem_is_on",
    "open_board",
    "parse_board_spec",
    "power_cycle",
    "timing_for",
]


def open_board(name: str, backend: Backend = "auto", *, gpio: Any | None = None) -> Board:
    """The board `name` on the chosen backend, said in one INFO line (WARNING if forced
    to fall back). Screening never stops for the board: when the GPIO backend cannot be
    used, the simulated one takes its place, with an ALARM if `gpio` was asked for.
    `gpio` hands in an RPi.GPIO module object (tests)."""
    spec = load_board_spec(name)
    if backend == "simulated":
        logger.info("board %s: simulated board (board.backend = simulated)", spec.name)
        return SimulatedBoard(spec)
    try:
        module = gpio if gpio is not None else import_gpio()
        board = GpioBoard(spec, gpio=module)
    except (ImportError, RuntimeError, OSError) as exc:
        if backend == "gpio":
            logger.warning(
                "ALARM board: board.backend = gpio but GPIO is unusable (%s): simulated "
                "board, no LEDs, lamps, buttons or power keys",
                exc,
            )
        else:
            logger.info("board %s: RPi.GPIO not usable (%s): simulated board", spec.name, exc)
        return SimulatedBoard(spec)
    logger.info("board %s: RPi.GPIO backend (%d line slots)", spec.name, len(spec.slots))
    return board
