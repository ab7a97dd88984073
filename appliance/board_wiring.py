"""What the board shows and does for each line: status LED, desk lamp, answer button, power key.

The service hands every line state change to `BoardWiring` (an observer, like the console's
status row); the line and the modem code never see a pin. Slot n of the board's pin map
serves the n-th configured line.

Status LED patterns (on/off seconds):

| line state | LED |
| --- | --- |
| idle, registered on the network (or not polled yet) | steady on |
| a call before an operator has it (ringing ... waiting for an operator) | fast blink, 0.1 / 0.1 |
| connected to an operator | on with a short wink, 1.9 / 0.1 |
| initialising, failed, or idle but not registered | slow blink, 1.0 / 1.0 |
| disabled by a technician (the lines page: modem or SIM may be out) | short flash, 0.1 / 1.9 |
| down (the service stopped) | off |

The desk lamp (or buzzer) is on while a call waits for an operator (`operator_ringing`)
and off otherwise. The answer button answers the waiting call as operator
`<the line's desk>` (`desk<n>` without one); pressed during a connected call it hangs up;
in any other state it is ignored (logged). Presses are debounced (50 ms).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from appliance.config import LineConfig
from appliance.line import Line
from appliance.model import LineState
from appliance.recovery import RecoverySkipped
from firmware.board import Board, SlotPins, power_cycle, timing_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedPattern:
    """Steady (`off_s` 0), off (`on_s` 0), or blinking `on_s` / `off_s` seconds."""

    on_s: float
    off_s: float


LED_ON = LedPattern(1.0, 0.0)
LED_OFF = LedPattern(0.0, 1.0)
LED_FAST = LedPattern(0.1, 0.1)
LED_IN_CALL = LedPattern(1.9, 0.1)
LED_SLOW = LedPattern(1.0, 1.0)
LED_DISABLED = LedPattern(0.1, 1.9)
REGISTERED = frozenset({None, "home", "roaming"})  # None: not polled yet

_PATTERNS: dict[LineState, LedPattern] = {
    LineState.DOWN: LED_OFF,
    LineState.INITIALISING: LED_SLOW,
    LineState.IDLE: LED_ON,
    LineState.CONNECTED: LED_IN_CALL,
    LineState.FAILED: LED_SLOW,
    LineState.DISABLED: LED_DISABLED,
}


def led_pattern(line: Line) -> LedPattern:
    """The status LED pattern for the line's state (and, when idle, its registration)."""
    if line.state is LineState.IDLE and line.health.registration not in REGISTERED:
        return LED_SLOW
    return _PATTERNS.get(line.state, LED_FAST)


class BoardWiring:
    """Maps each line to its board slot and keeps the slot's pins in step with the line."""

    def __init__(self, board: Board, lines: Mapping[str, Line]) -> None:
        """`lines`: the running lines by name (the line supervisor's); no line has a slot
        until `assign_slots`."""
        self.board = board
        self._lines = lines
        self.slots: dict[str, SlotPins] = {}
        self._shown: dict[int, LedPattern] = {}

    def assign_slots(self, line_configs: Iterable[LineConfig]) -> None:
        """Slot n to the n-th of `line_configs` (the lines in force at start, in their
        order), if it runs; before `start()`."""
        board = self.board
        self.slots = {}
        for number, line_config in enumerate(line_configs, 1):
            slot = board.spec.slot(number)
            if slot is None:
                logger.warning(
                    "board %s has %d slot(s): line %s (number %d in the configuration) gets "
                    "no LED, lamp, button or power key",
                    board.spec.name, len(board.spec.slots), line_config.name, number,
                )  # fmt: skip
            elif line_config.name in self._lines:
                self.slots[line_config.name] = slot

    def start(self) -> None:
        """Watch the answer buttons (in the running loop) and show every line's state."""
        for name, slot in self.slots.items():
            self.board.on_press(slot.answer_button.bcm, functools.partial(self._pressed, name))
            self.show(self._lines[name])

    def close(self) -> None:
        """Switch the LEDs and lamps off (the service stopped)."""
        for slot in self.slots.values():
            for pin in (slot.status_led.bcm, slot.desk_lamp.bcm):
                self._apply(pin, LED_OFF)

    # ----------------------------------------------------------------- LineListener side

    def line_state_changed(self, line: Line, old: LineState, new: LineState) -> None:
        """A line changed state: update its LED and lamp."""
        self.show(line)

    def show(self, line: Line) -> None:
        """Put the line's LED pattern and lamp on its slot; board errors are logged only."""
        slot = self.slots.get(line.name)
        if slot is None:
            return
        try:
            self._apply(slot.status_led.bcm, led_pattern(line))
            waiting = line.state is LineState.OPERATOR_RINGING
            self._apply(slot.desk_lamp.bcm, LED_ON if waiting else LED_OFF)
        except Exception:  # a GPIO fault must never reach the line's state machine
            logger.exception("board: showing line %s failed", line.name)

    def _apply(self, pin: int, pattern: LedPattern) -> None:
        if self._shown.get(pin) == pattern:
            return  # unchanged: do not restart a blink in mid-phase
        self._shown[pin] = pattern
        if pattern.off_s == 0:
            self.board.set(pin, True)
        elif pattern.on_s == 0:
            self.board.set(pin, False)
        else:
            self.board.blink(pin, pattern.on_s, pattern.off_s)

    # ----------------------------------------------------------------- the answer button

    def operator_name(self, line: Line) -> str:
        """Who the desk button answers as: the line's desk, else `desk<slot>`."""
        slot = self.slots[line.name]
        return line.config.desk or f"desk{slot.number}"

    def _pressed(self, name: str) -> None:
        line = self._lines[name]
        state = line.state
        if state is LineState.OPERATOR_RINGING:
            operator = self.operator_name(line)
            answered = line.operator_answer(operator)
            logger.info("desk button: line %s answered by %s: %s", name, operator, answered)
        elif state is LineState.CONNECTED:
            hung_up = line.operator_hang_up()
            logger.info("desk button: line %s hung up: %s", name, hung_up)
        else:
            logger.info("desk button of line %s pressed while %s: ignored", name, state.value)

    # ----------------------------------------------------------------- the power key

    async def power_cycle(self, line: Line) -> str:
        """Power-cycle the line's modem with its power key; RecoverySkipped if it has none."""
        slot = self.slots.get(line.name)
        if slot is None:
            raise RecoverySkipped("no board slot for this line")
        if not self.board.powers_modems:
            raise RecoverySkipped(f"the {self.board.backend} board has no power keys wired")
        family = line.family.name if line.family is not None else line.config.family
        timing = timing_for(None if family == "auto" else family)
        if timing is None:
            raise RecoverySkipped(f"a {family} modem has no power key")
        result = await power_cycle(self.board, slot, timing)
        return f"{timing.family} power key (slot {slot.number}): {result.describe()}"
