"""Value types shared by the policy, the call log and the line state machines.

Plain immutable data with no I/O, so the screening policy can import it freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What a line does with an incoming call (call-log column `decision`)."""

    PASS = "pass"  # alert an operator, let the operator answer
    CHALLENGE = "challenge"  # answer, play the prompt, wait for the escape key
    ANNOUNCE = "announce"  # answer, play a message, hang up
    REJECT = "reject"  # release before answering


class Reason(StrEnum):
    """Why the policy chose an action (call-log column `reason`)."""

    ALLOWLIST = "allowlist"
    BLOCKLIST = "blocklist"
    THROTTLE = "throttle"
    ABUSE = "abuse"
    WITHHELD = "withheld"
    UNAVAILABLE = "unavailable"
    UNPARSEABLE = "unparseable"
    FLOOD = "flood"
    IMMUNE = "immune"  # a recent genuine call lifted every automatic restriction
    NO_HISTORY = (
        "no_history"  # a number with no good history is screened (policy.challenge_unknown)
    )
    DEFAULT = "default"
    FAIL_OPEN = "fail_open"


class NumberClass(StrEnum):
    """What kind of caller ID a call carried."""

    NUMBER = "number"  # a number that normalised to E.164
    WITHHELD = "withheld"  # caller withheld it (CLI validity 1, or "private"/"restricted")
    UNAVAILABLE = "unavailable"  # network did not deliver one (validity 2+, or empty)
    UNPARSEABLE = "unparseable"  # a string that is not a valid phone number


class ChallengeResult(StrEnum):
    """Outcome of a challenge (call-log column `challenge_result`)."""

    PASSED = "passed"
    FAILED = "failed"  # wrong keys on every attempt
    TIMEOUT = "timeout"  # no key at all; see the line state machine for what follows
    CALLER_HUNG_UP = "caller_hung_up"


@dataclass(frozen=True, slots=True)
class CallerNumber:
    """A caller as the policy sees it: the raw string, its E.164 form and its class."""

    raw: str | None
    e164: str | None
    number_class: NumberClass

    @property
    def is_number(self) -> bool:
        """True when there is an E.164 number to key rules and counters on."""
        return self.number_class is NumberClass.NUMBER and self.e164 is not None


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict on one call; `rule` names the rule or ladder step that fired."""

    action: Action
    reason: Reason
    rule: str | None = None


# Operator dispositions. `genuine:<kind>` for valid calls; the rest are junk or neutral.
GENUINE_KINDS: tuple[str, ...] = (
    "electrical",  # korsleting listrik / PLN
    "accident",  # kecelakaan
    "fire",  # kebakaran
    "ambulance",  # ambulans
    "fallen_tree",  # pohon tumbang
    "flood_disaster",  # banjir / bencana
    "health",  # kesehatan
    "crime",  # kriminal
    "other",  # lainnya
)
JUNK_DISPOSITIONS: frozenset[str] = frozenset({"prank", "ghost"})
NEUTRAL_DISPOSITIONS: frozenset[str] = frozenset({"info", "wrong_number"})


def is_genuine(disposition: str | None) -> bool:
    """True for `genuine:<kind>` dispositions."""
    return disposition is not None and disposition.startswith("genuine:")


def is_valid_disposition(disposition: str) -> bool:
    """True for a disposition an operator may record."""
    if disposition.startswith("genuine:"):
        return disposition.removeprefix("genuine:") in GENUINE_KINDS
    return disposition in JUNK_DISPOSITIONS or disposition in NEUTRAL_DISPOSITIONS
