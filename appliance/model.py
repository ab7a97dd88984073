"""Value types shared by the policy, the call log and the line state machines.

Plain immutable data with no I/O, so the screening policy can import it freely.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
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


class LineState(StrEnum):
    """Where a line is (`appliance.line`; `line_status.state`, which the web UI reads);
    `CALL_STATES` are the ones that hold a call."""

    DOWN = "down"
    INITIALISING = "initialising"
    IDLE = "idle"
    RINGING = "ringing"  # a call is alerting, caller ID not known yet
    SCREENING = "screening"  # caller ID known, policy deciding
    REJECTING = "rejecting"
    ANNOUNCING = "announcing"
    CHALLENGING = "challenging"
    HOLDING = "holding"  # a reported number passed the challenge: warning, then a wait
    OPERATOR_RINGING = "operator_ringing"  # waiting for an operator to answer
    CONNECTED = "connected"  # an operator is talking to the caller
    FAILED = "failed"
    DISABLED = "disabled"  # a technician took the line out of service: its port is free


# The states in which a line holds a call (members compare equal to their names, so the
# web UI tests `line_status.state` strings against it as they are).
CALL_STATES = frozenset(
    {
        LineState.RINGING,
        LineState.SCREENING,
        LineState.REJECTING,
        LineState.ANNOUNCING,
        LineState.CHALLENGING,
        LineState.HOLDING,
        LineState.OPERATOR_RINGING,
        LineState.CONNECTED,
    }
)


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


# Operator dispositions: `genuine:<kind>` for valid calls; the rest are junk or neutral.
# A centre names its own kinds (`site.genuine_kinds`); these, the kinds the centre's
# monthly report has always used, are the default.
GENUINE_PREFIX = "genuine:"
DEFAULT_GENUINE_KINDS: tuple[str, ...] = (
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
# A kind is a slug, so it can name a report column and a message key as it is.
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_KIND = re.compile(KIND_PATTERN)
JUNK_DISPOSITIONS: frozenset[str] = frozenset({"prank", "ghost"})
NEUTRAL_DISPOSITIONS: frozenset[str] = frozenset({"info", "wrong_number"})


def is_genuine(disposition: str | None) -> bool:
    """True for `genuine:<kind>` dispositions."""
    return disposition is not None and disposition.startswith(GENUINE_PREFIX)


def is_kind(kind: str) -> bool:
    """True for a well-formed kind slug (`fire`, `fallen_tree`, `flood`)."""
    return _KIND.fullmatch(kind) is not None


def genuine_kind(disposition: str | None) -> str | None:
    """The kind of a `genuine:<kind>` disposition (as written, slug or not); else None."""
    if disposition is None or not disposition.startswith(GENUINE_PREFIX):
        return None
    return disposition.removeprefix(GENUINE_PREFIX)


def is_well_formed_disposition(disposition: str) -> bool:
    """True for `genuine:<slug>` with any slug, or a junk or neutral disposition.

    What the scenario loader and the line service accept, and so what reaches the call
    log: a kind the configuration lacks is still a genuine call of that kind.
    """
    kind = genuine_kind(disposition)
    if kind is not None:
        return is_kind(kind)
    return disposition in JUNK_DISPOSITIONS or disposition in NEUTRAL_DISPOSITIONS


def is_valid_disposition(disposition: str, kinds: Collection[str] = DEFAULT_GENUINE_KINDS) -> bool:
    """True for a disposition an operator may record at a desk configured with `kinds`."""
    if not is_well_formed_disposition(disposition):
        return False
    kind = genuine_kind(disposition)
    return kind is None or kind in kinds


# A line's last error as the line service words it (`LineHealth.last_error`, the lines page
# and the recovery events): one template per kind, which the web UI reads back into the
# user's language. `{inner}` is the error that caused it, worded in turn.
LINE_ERRORS: Mapping[str, str] = {
    "health_poll": "health poll: {inner}",
    "port_lost": "port lost: {inner}",
    "reinit": "re-initialisation: {inner}",
    "errors_to_all": "the modem answers {reply} to every command, even AT",
    "hung_in_call": "the modem stopped answering during call {call} ({polls} polls unanswered)",
    "stopped_in_call": "the modem stopped answering during call {call}",
}


def line_error(kind: str, **values: object) -> str:
    """The error text of `kind` (`LINE_ERRORS`) with its values."""
    return LINE_ERRORS[kind].format(**values)
