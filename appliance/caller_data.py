"""One call, one row, one number: what a line makes of doubtful caller data.

A modem's RING, +CLIP and NO CARRIER lines are not always what they seem (docs/faults.md,
"one call, one row, one number"):

- RING without +CLIP may be a call whose number is late or lost, or noise: a firmware
  that prints bare RINGs by the thousand with no call behind them. The line asks the modem
  (`AT+CLCC`) before it makes a row: `ringing_call` reads the answer.
- A burst of such RINGs is one `phantom_ring` event, not rows: `PhantomRings` counts
  them and says when a burst starts (an event) and when a bare RING is noise.
- A NO CARRIER between RING and +CLIP may be stale (an earlier call's, delivered late):
  the same `AT+CLCC` says whether the call still rings.
- A second, different +CLIP number in one ring cycle is kept in the row beside the first
  (`other_caller_raw`, `other_caller`; migration 0015).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from firmware.at.parser import parse_line
from firmware.at.urc import CallerId, CallStatus, CliValidity

logger = logging.getLogger(__name__)

CLCC_MOBILE_TERMINATED = 1  # <dir> 1: a call to us
CLCC_RINGING_STATES = frozenset({4, 5})  # <stat> 4 incoming (alerting), 5 waiting
PHANTOM_QUIET_S = 60.0  # a burst of bare RINGs ends after this long without one
RING_GAP_MIN_S = 1.0  # during a burst, bare RINGs closer together than this are noise


@dataclass(frozen=True)
class RingingCall:
    """An incoming call the modem lists as alerting (`AT+CLCC`), and its caller ID."""

    caller_id: CallerId


def ringing_call(lines: list[str]) -> RingingCall | None:
    """The alerting incoming call in an `AT+CLCC` reply, or None when the modem lists none.

    The number is taken when the modem gives it (most list it whatever `+CLIP` says);
    otherwise the caller ID is 'unavailable'.
    """
    for line in lines:
        status = parse_line(line.strip())
        if not isinstance(status, CallStatus):
            continue
        if status.direction != CLCC_MOBILE_TERMINATED:
            continue
        if status.state not in CLCC_RINGING_STATES:
            continue
        if status.number:
            return RingingCall(CallerId(status.number, status.number_type, CliValidity.VALID))
        return RingingCall(CallerId(None, None, CliValidity.UNAVAILABLE))
    return None


class PhantomRings:
    """Bare RINGs with no call behind them (confirmed with `AT+CLCC`): counted, one event
    per burst, and while a burst lasts a bare RING too soon after the last one is noise.

    Times are the line's loop time (monotonic seconds).
    """

    def __init__(self) -> None:
        self.rings = 0  # bare RINGs of the burst under way
        self.total = 0  # every bare RING taken for noise since the line started
        self._last_ring: float | None = None  # loop time of the last bare RING heard
        self._burst_until = float("-inf")  # a burst lasts until this loop time

    def in_burst(self, now: float) -> bool:
        """True while a burst of phantom RINGs is under way."""
        return now < self._burst_until

    def is_noise(self, now: float) -> bool:
        """A bare RING heard while the line is idle: True when it is part of a burst (a
        plausible ring cadence is seconds apart), counted; False: it may be a call."""
        last, self._last_ring = self._last_ring, now
        if not self.in_burst(now) or last is None or now - last >= RING_GAP_MIN_S:
            return False
        self.count(1, now)
        return True

    def count(self, rings: int, now: float) -> None:
        """`rings` more bare RINGs of the burst under way."""
        self.rings += rings
        self.total += rings
        self._burst_until = now + PHANTOM_QUIET_S

    def confirmed(self, rings: int, now: float) -> bool:
        """The modem listed no call behind `rings` bare RINGs; True when this starts a new
        burst (worth an ALARM and an event), False while one is under way."""
        new_burst = not self.in_burst(now)
        if new_burst:
            self.rings = 0
        self._last_ring = now
        self.count(rings, now)
        return new_burst
