"""The policy as the lines see it: the line service's screening part.

`PolicyGateway` is what every line asks (`appliance.line.Screener`): it screens a caller,
records a challenge's outcome, a caller seen waiting on a busy line and an operator's
contact in the policy's memory (`appliance.policy.PolicyState`), turns the flood
detector's changes into alarms and events, releases the challenges a flood would now
reject on its signature, and keeps the call-back list. It fails open everywhere: an error
inside means the caller is passed. The line service (`appliance.service.LineService`)
builds it, hands it the lines it runs (for what they hold) and the desks it tells about
the call-back list, and keeps `config` current when settings change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from appliance.clock import Clock
from appliance.config import Config
from appliance.housekeeping import Housekeeping
from appliance.line import FLOOD_RELEASED_CAUSE, ActiveCall, Line
from appliance.model import Action, CallerNumber, ChallengeResult, Decision, LineState, Reason
from appliance.policy import (
    FLOOD_RESERVE_RULE,
    FloodChange,
    PolicyState,
    decide_safely,
    is_flood_signature_rule,
    release_unverified,
)
from appliance.store import CallLog

logger = logging.getLogger(__name__)


class CallBackListener(Protocol):
    """Who is told when a caller goes on the call-back list (a desk that calls back)."""

    def call_back_listed(self, caller: CallerNumber, reason: str, ts: float) -> None: ...


class PolicyGateway:
    """Screening for every line of one service, over one policy state."""

    def __init__(
        self,
        config: Config,
        policy: PolicyState,
        *,
        call_log: CallLog,
        clock: Clock,
        housekeeping: Housekeeping,
        lines: Mapping[str, Line],
        desks: Sequence[CallBackListener],
    ) -> None:
        self.config = config  # in force; the service replaces it when settings change
        self.policy = policy
        self.call_log = call_log
        self.clock = clock
        self.housekeeping = housekeeping
        self.lines = lines
        self.desks = desks

    def screen(self, caller: CallerNumber, now_ts: float) -> Decision:
        """Record the arrival, then decide (fails open inside `decide_safely`)."""
        try:
            self.flood_changes(self.policy.record_arrival(caller, now_ts))
        except Exception:
            logger.exception("recording an arrival failed; deciding anyway")
        decision = decide_safely(caller, self.policy, self.config.policy, now_ts)
        if self.policy.flood_active:
            # After this call's decision, off its path: the arrival may have made a block hot.
            asyncio.get_running_loop().call_soon(self.release_flood_callers, now_ts)
        return decision

    def decide_again(self, caller: CallerNumber, now_ts: float) -> Decision:
        """Decide without recording an arrival: a call that rang on through a restart was
        counted when the policy's memory was rebuilt from its row (fails open)."""
        return decide_safely(caller, self.policy, self.config.policy, now_ts)

    def note_challenge(
        self,
        caller: CallerNumber,
        result: ChallengeResult,
        now_ts: float,
        voice_heard: bool | None = None,
    ) -> None:
        """Record a challenge outcome (and whether a voice was heard) in the policy's memory."""
        self.policy.record_challenge_result(caller, result, now_ts, voice_heard=voice_heard)

    def note_waiting(self, caller: CallerNumber, now_ts: float) -> None:
        """A caller seen waiting on a busy line and released busy: a flood signal, and a
        caller for the call-back list (never raises)."""
        try:
            self.flood_changes(self.policy.record_waiting(caller, now_ts))
            reason = "waiting_during_flood" if self.policy.flood_active else "found_lines_busy"
            self.list_for_call_back(caller, None, None, reason, {}, now_ts)
        except Exception:
            logger.exception("recording a waiting caller failed")

    def note_operator_contact(self, caller: CallerNumber, now_ts: float) -> None:
        """Record that an operator answered this caller."""
        self.policy.record_operator_contact(caller, now_ts)

    def is_reported(self, caller: CallerNumber, now_ts: float) -> bool:
        """A prank or ghost disposition on the number within `policy.junk_evidence_s`;
        False on any internal error (the caller is then put through without delay)."""
        try:
            e164 = caller.e164 if caller.is_number else None
            return e164 is not None and self.policy.has_junk_evidence(
                e164, now_ts, self.config.policy.junk_evidence_s
            )
        except Exception:
            logger.exception("reported-number check failed; no hold")
            return False

    def release_unverified(
        self,
        caller: CallerNumber,
        decision: Decision,
        now_ts: float,
        voice_heard: bool | None = None,
    ) -> bool:
        """Release a challenged caller who never pressed the key on junk evidence, or (by
        default) when the line listened and heard no voice."""
        try:
            challenge = self.config.challenge
            without_evidence = challenge.unverified_without_evidence
            if challenge.silent_to_idle_operator and self._operators_idle():
                # With no evidence against the caller, an idle operator can take the call.
                without_evidence = "operator"
            return release_unverified(
                caller,
                decision,
                self.policy,
                self.config.policy,
                challenge.hang_up_unverified_for,
                now_ts,
                without_evidence=without_evidence,
                voice_heard=voice_heard,
            )
        except Exception:
            logger.exception("release decision failed; passing the caller to an operator")
            return False

    def _operators_idle(self) -> bool:
        """No call is waiting for an operator (the service cannot see the operators
        themselves, only the calls that wait for one)."""
        waiting = (LineState.OPERATOR_RINGING, LineState.HOLDING)
        return not any(line.state in waiting for line in self.lines.values())

    def release_flood_callers(self, now_ts: float) -> None:
        """Release the calls still in the challenge that flood mode would now reject on a
        flood signature (a hot number or block, or the withheld class): the first calls
        of a flood arrive before anything can recognise it, and each holds a line through
        the challenge. The policy's own exemptions (allowlist, immunity, good history)
        stand; a caller who pressed the key has left the challenge."""
        if not self.policy.flood_active:
            return
        for line in self.lines.values():
            call = line.call
            if line.state is not LineState.CHALLENGING or call is None or call.caller is None:
                continue
            try:
                now = decide_safely(call.caller, self.policy, self.config.policy, now_ts)
                if now.action is Action.REJECT and is_flood_signature_rule(now.rule):
                    line.release_in_flood(now.rule or "flood")
            except Exception:  # the call goes on as it was: failing open
                logger.exception("line %s: releasing a flood's call failed", line.name)

    # ----------------------------------------------------------------- flood

    def flood_changes(self, changes: list[FloodChange]) -> None:
        for change in changes:
            kind = "flood_on" if change.entered else "flood_off"
            logger.warning("ALARM %s: %s", kind, change)
            if change.entered:
                self.housekeeping.text_supervisors(
                    "flood_on", f"flood mode: {change.reason}; hot prefix {change.hot_prefix}"
                )
            now_ts = self.clock.timestamp()
            self.call_log.add_event(
                kind,
                detail={"reason": change.reason, "hot_prefix": change.hot_prefix},
                ts=now_ts,
            )
            self.call_log.set_service_state(
                {
                    "flood_active": int(change.entered),
                    "flood_since_ts": now_ts if change.entered else None,
                    "flood_reason": change.reason if change.entered else None,
                },
                now_ts,
            )

    # ----------------------------------------------------------------- call-back list

    def call_back_if_unserved(self, line: Line, call: ActiveCall) -> None:
        assert call.caller is not None
        reason = call_back_reason(call)
        if reason is None:
            return
        detail = {
            "decision": str(call.decision.action) if call.decision else None,
            "challenge_result": call.challenge_result,
            "voice_heard": call.voice_heard,
            "keys": call.keys,
            "end_cause": call.end_cause,
            "held_s": round((call.ended_ts or call.started_ts) - call.started_ts, 1),
        }
        ended_ts = call.ended_ts if call.ended_ts is not None else self.clock.timestamp()
        self.list_for_call_back(call.caller, line.name, call.call_id, reason, detail, ended_ts)

    def list_for_call_back(
        self,
        caller: CallerNumber,
        line_name: str | None,
        call_id: int | None,
        reason: str,
        detail: dict[str, Any],
        ts: float,
    ) -> None:
        """Put a caller released without an operator on the call-back list, unless the
        number has a junk record (a prank or ghost verdict within `junk_evidence_s`, or a
        reputation at the restriction threshold). No number, no call-back."""
        if not caller.is_number or caller.e164 is None:
            return
        if self._has_junk_record(caller.e164, ts):
            return
        self.call_log.add_callback(
            caller=caller.e164,
            caller_raw=caller.raw,
            line=line_name,
            call_id=call_id,
            reason=reason,
            detail=detail,
            ts=ts,
        )
        for desk in self.desks:
            desk.call_back_listed(caller, reason, ts)

    def _has_junk_record(self, e164: str, now_ts: float) -> bool:
        policy_config = self.config.policy
        threshold = policy_config.abuse.reputation_threshold
        return self.policy.has_junk_evidence(e164, now_ts, policy_config.junk_evidence_s) or (
            threshold > 0 and self.policy.reputation(e164, now_ts) >= threshold
        )


# End causes that say the line or its modem failed the call, not the caller.
LINE_FAULT_CAUSES = frozenset(
    {"line_failed", "modem_rebooted", "modem_reset", "modem_not_answering"}
)

# Restrictions that rest on a junk record: a caller released under one is not called back.
_JUNK_RECORD_REASONS = frozenset({Reason.BLOCKLIST, Reason.ABUSE})
_CHALLENGE_CALL_BACK_REASONS = {
    ChallengeResult.TIMEOUT: "silent_after_challenge",
    ChallengeResult.CALLER_HUNG_UP: "hung_up_during_prompt",
    ChallengeResult.FAILED: "wrong_keys",
}


def call_back_reason(call: ActiveCall) -> str | None:
    """Why an ended call's caller belongs on the call-back list, or None.

    Every caller who never reached an operator is listed, except those released on a junk
    record: a block rule, the abuse ladder or reputation, or a flood signature (a hot
    number, block or the withheld class). The caller's own junk evidence is checked by
    the service. `flood:reserve` releases (a first attempt kept off the last free line
    in a flood) are listed: nothing is known against them.
    """
    decision = call.decision
    if call.operator_ts is not None or decision is None:
        return None
    if decision.reason in _JUNK_RECORD_REASONS:
        return None
    if decision.action is Action.REJECT:
        return "released_in_flood" if decision.rule == FLOOD_RESERVE_RULE else None
    if call.end_cause == FLOOD_RELEASED_CAUSE:
        return None  # released on a flood signature, a junk record
    if call.end_cause in LINE_FAULT_CAUSES or (call.end_cause or "").startswith("watchdog_"):
        return "line_fault"
    if call.challenge_result is ChallengeResult.TIMEOUT and call.voice_heard:
        # Heard speaking: released on `policy.heard_after_unheard_s`, or passed to the
        # operators and gone before one answered.
        released = call.end_cause == f"challenge_{ChallengeResult.TIMEOUT.value}"
        return "spoke_without_key" if released else "hung_up_waiting"
    if call.challenge_result is not None:
        return _CHALLENGE_CALL_BACK_REASONS.get(call.challenge_result, "hung_up_waiting")
    return "hung_up_waiting"
