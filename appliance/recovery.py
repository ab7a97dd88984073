"""The modem recovery ladder: what a line does, step by step, when its modem stops answering.

A line whose modem fails (health polls time out, initialisation times out, the port
vanishes) reconnects with a growing back-off (`appliance.line`). Reconnecting alone does
not revive a hung module, so each failed attempt may also climb one step of this ladder:

1. `reinitialise`: close the port, open it again and initialise the modem (the reconnect
   itself; taken at the first failure).
2. `power_cycle`: switch the modem off and on with its power key, confirmed on its STATUS
   pin (the service does it through the board: the line knows no pins). Skipped when the
   line has no power key (no board slot, a USB stick, a simulated board).
3. `usb_reset`: de-authorise and re-authorise the modem's USB device in sysfs (the
   line's `usb_port`); skipped without one.

A step that acted is given `STEP_GRACE_S` (a modem takes up to about 25 s to boot and
enumerate on USB) before the next one is taken. Every step is logged as an ALARM and
stored as a `recovery` event (`detail.step`); so is the end of the ladder (`exhausted`),
after which the line keeps reconnecting on its back-off and the ladder is climbed again
from step 2 after `LADDER_REPEAT_S`, at most `LADDER_ROUNDS_MAX` times per outage: bounded,
and never silent. When the modem answers again the ladder starts over, and a `recovered`
event says after which step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from appliance.clock import Clock

logger = logging.getLogger(__name__)

STEPS = ("reinitialise", "power_cycle", "usb_reset")
STEP_GRACE_S = 30.0  # after a power cycle or USB reset, before the next step
LADDER_REPEAT_S = 3600.0  # an exhausted ladder is climbed again (from step 2) after this
LADDER_ROUNDS_MAX = 3  # ... at most this many times per outage
# A step's detail when it has nothing of its own to say (the web UI words each by its key).
RECOVERY_DETAILS = {
    "reconnecting": "reconnecting",
    "no_actions": "no recovery actions wired",
}


class RecoverySkipped(Exception):
    """A step cannot be taken on this line (no power key, no USB port); the reason."""


class LastError(Protocol):
    last_error: str | None


class RecoveringLine(Protocol):
    """What the ladder reads of a line (`appliance.line.Line`): its last error."""

    @property
    def health(self) -> LastError: ...


class EventRecorder(Protocol):
    """Where the ladder notes its steps (the call log)."""

    def add_event(
        self, kind: str, *, line: str | None = None, detail: dict[str, Any] | None = None, ts: float
    ) -> None: ...


LineT = TypeVar("LineT", bound=RecoveringLine)
LineT_contra = TypeVar("LineT_contra", bound=RecoveringLine, contravariant=True)


class ModemRecovery(Protocol[LineT_contra]):
    """The steps a line cannot take by itself (implemented by the service)."""

    async def power_cycle(self, line: LineT_contra) -> str:
        """Power-cycle the line's modem; a description, or RecoverySkipped."""
        ...

    async def usb_reset(self, line: LineT_contra) -> str:
        """Reset the line's USB port; a description, or RecoverySkipped."""
        ...


class RecoveryLadder(Generic[LineT]):
    """One line's position on the ladder during an outage."""

    def __init__(
        self,
        line_name: str,
        recorder: EventRecorder,
        clock: Clock,
        actions: ModemRecovery[LineT] | None,
    ) -> None:
        self._line_name = line_name
        self._recorder = recorder
        self._clock = clock
        self._actions = actions
        self._next = 0  # index into STEPS of the next step
        self._round = 1
        self._not_before = 0.0  # loop time before which no further step is taken
        self._taken: list[str] = []
        self._exhausted_at: float | None = None

    async def climb(self, line: LineT) -> None:
        """After a failed (re)connection: take the next step when it is due."""
        now = asyncio.get_running_loop().time()
        if now < self._not_before:
            return  # the last step's modem may still be booting
        if self._next >= len(STEPS):
            if self._exhausted_at is None:
                self._exhausted(line, now)
                return
            if not self._start_next_round(now):
                return
        step = STEPS[self._next]
        self._next += 1
        self._taken.append(step)
        if await self._take(step, line):
            self._not_before = asyncio.get_running_loop().time() + STEP_GRACE_S

    def recovered(self) -> None:
        """The modem answered again: say so if the ladder was climbed, and start over."""
        if self._taken:
            steps = ", ".join(self._taken)
            logger.warning("line %s: the modem answers again (after %s)", self._line_name, steps)
            self._event({"step": "recovered", "after": self._taken[-1], "steps": self._taken})
        self._next = 0
        self._round = 1
        self._not_before = 0.0
        self._taken = []
        self._exhausted_at = None

    # ----------------------------------------------------------------- internals

    def _start_next_round(self, now: float) -> bool:
        assert self._exhausted_at is not None
        if self._round >= LADDER_ROUNDS_MAX or now - self._exhausted_at < LADDER_REPEAT_S:
            return False
        self._round += 1
        self._next = 1  # re-initialising is what every reconnect does anyway
        self._not_before = 0.0
        self._exhausted_at = None
        return True

    async def _take(self, step: str, line: LineT) -> bool:
        """Take `step`; True if it acted on the modem (so the next one waits)."""
        number = STEPS.index(step) + 1
        outcome, detail = "done", RECOVERY_DETAILS["reconnecting"]
        action = self._action(step)
        if action is not None:
            try:
                detail = await action(line)
            except RecoverySkipped as skipped:
                outcome, detail = "skipped", str(skipped)
            except Exception as exc:  # a step's failure must not stop the line's loop
                logger.exception("line %s: recovery step %s failed", self._line_name, step)
                outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
        logger.warning(
            "ALARM line_recovery: line %s not answering (%s): step %d/%d %s %s: %s",
            self._line_name, line.health.last_error, number, len(STEPS), step, outcome, detail,
        )  # fmt: skip
        self._event(
            {
                "step": step,
                "outcome": outcome,
                "detail": detail,
                "round": self._round,
                "error": line.health.last_error,
            }
        )
        return outcome == "done" and step != "reinitialise"

    def _action(self, step: str) -> Callable[[LineT], Awaitable[str]] | None:
        if step == "reinitialise":
            return None  # the reconnect that follows is the re-initialisation
        if self._actions is None:
            return _skip(RECOVERY_DETAILS["no_actions"])
        return self._actions.power_cycle if step == "power_cycle" else self._actions.usb_reset

    def _exhausted(self, line: LineT, now: float) -> None:
        self._exhausted_at = now
        again = (
            f"the ladder is climbed again in {LADDER_REPEAT_S:.0f} s"
            if self._round < LADDER_ROUNDS_MAX
            else "no more power cycles or USB resets in this outage"
        )
        logger.warning(
            "ALARM line_recovery: line %s still not answering after %s; it keeps reconnecting "
            "and %s",
            self._line_name,
            ", ".join(self._taken),
            again,
        )
        self._event({"step": "exhausted", "round": self._round, "error": line.health.last_error})

    def _event(self, detail: dict[str, object]) -> None:
        self._recorder.add_event(
            "recovery", line=self._line_name, detail=detail, ts=self._clock.timestamp()
        )


def _skip(reason: str) -> Callable[[Any], Awaitable[str]]:
    async def skipped(line: Any) -> str:
        raise RecoverySkipped(reason)

    return skipped
