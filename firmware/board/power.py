"""A modem's power key: pulse timings per family, and the power-cycle sequence.

The modules are switched on and off by holding their PWRKEY low for a while (our boards
drive it through a transistor, so the Pi's pin is *active* for the pulse). The STATUS pin
says whether the module is on; it is read before and after each pulse to confirm.

Timings below are taken from the vendors' hardware design manuals as far as they could
be checked here; each one says where it comes from. They are data for the bench, not
gospel: check them against the manual of the exact module revision on the board.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from firmware.board.base import Board
from firmware.board.pins import SlotPins

logger = logging.getLogger(__name__)

STATUS_POLL_S = 0.1


@dataclass(frozen=True)
class PowerKeyTiming:
    """How one modem family's PWRKEY and STATUS behave (seconds)."""

    family: str
    on_pulse_s: float  # PWRKEY held low this long to switch the module on
    off_pulse_s: float  # ... and this long to switch it off
    off_wait_s: float  # longest wait for STATUS to fall after the off pulse (network log-off)
    boot_wait_s: float  # longest wait for STATUS to rise after the on pulse
    status_high_when_on: bool = True  # Quectel LTE modules pull an open-drain STATUS low
    source: str = ""


POWER_KEY_TIMINGS: dict[str, PowerKeyTiming] = {
    timing.family: timing
    for timing in (
        PowerKeyTiming(
            "sim800",
            on_pulse_s=1.5,
            off_pulse_s=2.0,
            off_wait_s=5.0,
            boot_wait_s=5.0,
            source=(
                "SIM800 Hardware Design V1.09 §4.2: on, PWRKEY low >1 s; off, low for "
                "1.5 s < t < 33 s (33 s or more powers it up again); STATUS high when on"
            ),
        ),
        PowerKeyTiming(
            "sim7600",
            on_pulse_s=0.5,
            off_pulse_s=2.5,
            off_wait_s=30.0,
            boot_wait_s=20.0,
            source=(
                "per the vendor hardware design manual (SIM7600 series): on, PWRKEY low "
                "typically 500 ms; off, low at least 2.5 s, STATUS falls about 26 s later; "
                "check on the bench"
            ),
        ),
        PowerKeyTiming(
            "ec25",
            on_pulse_s=0.6,
            off_pulse_s=0.8,
            off_wait_s=30.0,
            boot_wait_s=15.0,
            status_high_when_on=False,
            source=(
                "per the vendor hardware design manual (Quectel EC25): on, PWRKEY low at "
                "least 500 ms; off, at least 650 ms; STATUS is open drain and low once the "
                "module runs (about 2.5 s after the on pulse, per Quectel's forum); check "
                "on the bench"
            ),
        ),
        PowerKeyTiming(
            "m95",
            on_pulse_s=1.2,
            off_pulse_s=0.85,
            off_wait_s=12.0,
            boot_wait_s=5.0,
            source=(
                "M95 Hardware Design V1.0 §3.4: on, PWRKEY low more than 1 s when STATUS is "
                "not watched; off, 0.7 s < pull-down < 1 s (same figure in the M85 manual), "
                "network log-off 2-12 s"
            ),
        ),
        # A modem whose family is not known (family = "auto", never identified): a 1.2 s
        # pulse switches every module above on; switching off is tried with SIMCom's
        # longer pulse, which an M95 ignores (its window ends at 1 s): STATUS tells.
        PowerKeyTiming(
            "unknown",
            on_pulse_s=1.2,
            off_pulse_s=2.5,
            off_wait_s=30.0,
            boot_wait_s=20.0,
            source="the longest safe values of the families above",
        ),
    )
}
NO_POWER_KEY = frozenset({"huawei"})  # USB sticks: no PWRKEY to reach, only USB power


def timing_for(family: str | None) -> PowerKeyTiming | None:
    """The timing of `family`, the fallback for an unknown one, None for USB sticks."""
    if family in NO_POWER_KEY:
        return None
    return POWER_KEY_TIMINGS.get(family or "unknown", POWER_KEY_TIMINGS["unknown"])


@dataclass(frozen=True)
class PowerCycleResult:
    """What a power cycle did, for the log and the `recovery` event."""

    was_on: bool | None  # STATUS before (None: not confirmed)
    off_pulse_s: float | None  # None: the modem was already off
    on_pulse_s: float
    is_on: bool  # STATUS after the on pulse and the boot wait

    def describe(self) -> str:
        """One line for the log."""
        off = f"off pulse {self.off_pulse_s:.2f} s, " if self.off_pulse_s is not None else ""
        after = "STATUS on" if self.is_on else "STATUS still off"
        return f"{off}on pulse {self.on_pulse_s:.2f} s, {after}"


def modem_is_on(board: Board, slot: SlotPins, timing: PowerKeyTiming) -> bool:
    """The STATUS pin read as 'the module is on'."""
    return board.read(slot.modem_status.bcm) == timing.status_high_when_on


async def power_cycle(board: Board, slot: SlotPins, timing: PowerKeyTiming) -> PowerCycleResult:
    """Switch the modem off (if STATUS says it is on), then on; confirm each with STATUS."""
    pin = slot.power_key.bcm
    was_on = modem_is_on(board, slot, timing)
    off_pulse_s: float | None = None
    if was_on:
        await board.pulse(pin, timing.off_pulse_s)
        off_pulse_s = timing.off_pulse_s
        if not await _wait_status(board, slot, timing, on=False, limit_s=timing.off_wait_s):
            logger.warning("board slot %d: STATUS still on after the off pulse", slot.number)
    await board.pulse(pin, timing.on_pulse_s)
    is_on = await _wait_status(board, slot, timing, on=True, limit_s=timing.boot_wait_s)
    return PowerCycleResult(was_on, off_pulse_s, timing.on_pulse_s, is_on)


async def _wait_status(
    board: Board, slot: SlotPins, timing: PowerKeyTiming, *, on: bool, limit_s: float
) -> bool:
    """Poll STATUS until it says `on` (or off); False after `limit_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while modem_is_on(board, slot, timing) != on:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(STATUS_POLL_S)
    return True
