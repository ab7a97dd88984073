"""The screening policy: one test per rule and behaviour, time advanced by hand."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Callable
from functools import partial

import pytest

from appliance.config import (
    AbuseConfig,
    FloodConfig,
    LadderStep,
    PolicyConfig,
    ThrottleConfig,
)
from appliance.model import Action, CallerNumber, ChallengeResult, Decision, NumberClass, Reason
from appliance.policy import (
    SITE_FLOOD_MAX_S,
    FloodChange,
    FloodMonitor,
    HistoryRow,
    LadderStatus,
    PolicyState,
    SharedFact,
    decide,
    decide_safely,
    release_unverified,
)
from appliance.rules import MatchKind, Rule, RuleIndex

T0 = 1_700_000_000.0
MINUTE = 60.0
HOUR = 3600.0
DAY = 86_400.0
NUMBER = "+6281234567890"
# Most tests isolate one rule; screening of numbers with no good history is tested on its own.
BASE = PolicyConfig(challenge_unknown=False)


def number(e164: str = NUMBER) -> CallerNumber:
    return CallerNumber(raw=e164, e164=e164, number_class=NumberClass.NUMBER)


WITHHELD = CallerNumber(raw=None, e164=None, number_class=NumberClass.WITHHELD)
UNAVAILABLE = CallerNumber(raw=None, e164=None, number_class=NumberClass.UNAVAILABLE)
UNPARSEABLE = CallerNumber(raw="<b>", e164=None, number_class=NumberClass.UNPARSEABLE)


def rule(
    rule_id: str,
    pattern: str,
    kind: str = "block",
    match: MatchKind = "exact",
    action: Action = Action.CHALLENGE,
    expires_at: float | None = None,
) -> Rule:
    return Rule(
        id=rule_id,
        kind="allow" if kind == "allow" else "block",
        pattern=pattern,
        match=match,
        action=Action.PASS if kind == "allow" else action,
        reason="test",
        created_by="supervisor",
        created_at=T0 - DAY,
        expires_at=expires_at,
    )


def call(state: PolicyState, caller: CallerNumber, now: float) -> Decision:
    """A call as the line service makes it: record the arrival, then decide."""
    state.record_arrival(caller, now)
    return decide(caller, state, state.config, now)


def pranks(state: PolicyState, caller: CallerNumber, times: list[float]) -> None:
    for at in times:
        state.record_disposition(caller, "prank", at)


def flood_state(config: PolicyConfig | None = None) -> PolicyState:
    """A state in flood mode by rate: 61 calls in a minute, 40 of them from +628123456xxxx."""
    state = PolicyState(config if config is not None else BASE)
    callers = [number(f"+628123456{i:04d}") for i in range(40)]
    callers += [number(f"+6285{i:09d}") for i in range(21)]
    for i, caller in enumerate(callers):
        state.record_arrival(caller, T0 + i)
    assert state.flood_active
    return state


# ---------------------------------------------------------------------------- allowlist


def test_allowlist_beats_everything() -> None:
    caller = number("+628123456" + "0001")
    state = flood_state()
    state.allow.add(rule("rsud", caller.e164 or "", kind="allow"))
    state.block.add(rule("b", caller.e164 or "", action=Action.REJECT))
    pranks(state, caller, [T0 + i for i in range(12)])
    for i in range(10):
        decision = call(state, caller, T0 + 70 + i)
    assert decision == Decision(Action.PASS, Reason.ALLOWLIST, "rsud")


def test_allowlist_prefix_passes_a_whole_number_block() -> None:
    state = PolicyState(BASE)
    state.allow.add(rule("polres", "+62254", kind="allow", match="prefix"))
    state.block.add(rule("b", "+62254123456", action=Action.REJECT))
    assert call(state, number("+62254123456"), T0) == Decision(
        Action.PASS, Reason.ALLOWLIST, "polres"
    )


# ---------------------------------------------------------------------------- block rules


@pytest.mark.parametrize("action", [Action.CHALLENGE, Action.ANNOUNCE, Action.REJECT])
def test_block_rule_action_is_honoured(action: Action) -> None:
    state = PolicyState(BASE)
    state.block.add(rule("b7", NUMBER, action=action))
    assert call(state, number(), T0) == Decision(action, Reason.BLOCKLIST, "b7")


def test_block_prefix_rule_applies_to_the_block() -> None:
    state = PolicyState(BASE)
    state.block.add(rule("p", "+62812", match="prefix", action=Action.ANNOUNCE))
    assert call(state, number(), T0) == Decision(Action.ANNOUNCE, Reason.BLOCKLIST, "p")
    assert call(state, number("+6281312345678"), T0).reason is Reason.DEFAULT


def test_expired_block_rule_is_ignored() -> None:
    state = PolicyState(BASE)
    state.block.add(rule("b", NUMBER, action=Action.REJECT, expires_at=T0 + HOUR))
    assert call(state, number(), T0).action is Action.REJECT
    assert call(state, number(), T0 + HOUR) == Decision(Action.PASS, Reason.DEFAULT)


def test_block_rule_beats_immunity_because_it_is_a_supervisor_decision() -> None:
    state = PolicyState(BASE)
    state.record_disposition(number(), "genuine:fire", T0)
    state.block.add(rule("b", NUMBER))
    assert call(state, number(), T0 + HOUR) == Decision(Action.CHALLENGE, Reason.BLOCKLIST, "b")


# ---------------------------------------------------------------------------- no number


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (WITHHELD, Reason.WITHHELD),
        (UNAVAILABLE, Reason.UNAVAILABLE),
        (UNPARSEABLE, Reason.UNPARSEABLE),
    ],
)
def test_no_number_is_challenged_by_default(caller: CallerNumber, reason: Reason) -> None:
    assert call(PolicyState(BASE), caller, T0) == Decision(Action.CHALLENGE, reason)


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (WITHHELD, Reason.WITHHELD),
        (UNAVAILABLE, Reason.UNAVAILABLE),
        (UNPARSEABLE, Reason.UNPARSEABLE),
    ],
)
def test_no_number_action_is_configurable_to_pass(caller: CallerNumber, reason: Reason) -> None:
    config = PolicyConfig(
        challenge_unknown=False,
        withheld_action="pass",
        unavailable_action="pass",
        unparseable_action="pass",
    )
    assert call(PolicyState(config), caller, T0) == Decision(Action.PASS, reason)


def test_no_number_configured_to_pass_is_challenged_during_a_flood() -> None:
    config = PolicyConfig(challenge_unknown=False, withheld_action="pass")
    state = flood_state(config)
    assert call(state, WITHHELD, T0 + 62) == Decision(Action.CHALLENGE, Reason.FLOOD, "flood")


def test_no_number_is_never_a_rule_or_ladder_key() -> None:
    state = PolicyState(BASE)
    for i in range(20):  # one a minute: not a withheld flood
        state.record_disposition(WITHHELD, "prank", T0 + i * MINUTE)
        decision = call(state, WITHHELD, T0 + i * MINUTE)
    assert decision == Decision(Action.CHALLENGE, Reason.WITHHELD)
    assert len(state) == 0


# ---------------------------------------------------------------------------- throttle


def test_throttle_challenges_the_fourth_call_in_ten_minutes_not_the_third() -> None:
    state = PolicyState(BASE)
    decisions = [call(state, number(), T0 + i * MINUTE) for i in range(4)]
    assert [d.action for d in decisions[:3]] == [Action.PASS] * 3
    assert decisions[3] == Decision(Action.CHALLENGE, Reason.THROTTLE, "throttle")


def test_throttle_window_slides() -> None:
    state = PolicyState(BASE)
    for i in range(3):
        call(state, number(), T0 + i * MINUTE)
    # The first call (T0) has left the 600 s window by T0 + 600.
    assert call(state, number(), T0 + 600).reason is Reason.DEFAULT
    assert call(state, number(), T0 + 601).reason is Reason.THROTTLE


def test_operator_contact_resets_the_throttle_window() -> None:
    state = PolicyState(BASE)
    for i in range(3):
        call(state, number(), T0 + i * MINUTE)
    state.record_operator_contact(number(), T0 + 3 * MINUTE)
    for i in range(3):
        assert call(state, number(), T0 + (4 + i) * MINUTE).reason is Reason.DEFAULT
    assert call(state, number(), T0 + 8 * MINUTE).reason is Reason.THROTTLE


def test_throttle_action_and_limits_are_configurable() -> None:
    config = PolicyConfig(
        challenge_unknown=False,
        throttle=ThrottleConfig(max_calls=1, window_s=60, action="announce"),
    )
    state = PolicyState(config)
    assert call(state, number(), T0).action is Action.PASS
    assert call(state, number(), T0 + 30) == Decision(Action.ANNOUNCE, Reason.THROTTLE, "throttle")


def test_throttle_counts_numbers_separately() -> None:
    state = PolicyState(BASE)
    for i in range(3):
        call(state, number(), T0 + i)
    assert call(state, number("+6281300000000"), T0 + 4).reason is Reason.DEFAULT


def test_rapid_redials_never_put_a_number_on_the_ladder() -> None:
    # R6: only operator dispositions count as abuse, never raw attempts.
    state = PolicyState(BASE)
    for i in range(50):
        call(state, number(), T0 + i)
    assert state.ladder_status(NUMBER, T0 + 50) is None
    assert call(state, number(), T0 + HOUR) == Decision(Action.PASS, Reason.DEFAULT)


# ---------------------------------------------------------------------------- ladder


def test_ladder_level_1_after_three_junk_dispositions_in_a_day_for_24_hours() -> None:
    state = PolicyState(BASE)
    state.record_disposition(number(), "prank", T0)
    state.record_disposition(number(), "ghost", T0 + HOUR)
    assert state.ladder_status(NUMBER, T0 + HOUR) is None
    state.record_disposition(number(), "prank", T0 + 2 * HOUR)
    triggered = T0 + 2 * HOUR
    assert state.ladder_status(NUMBER, triggered) == LadderStatus(
        level=1, since=triggered, until=triggered + DAY, flag_supervisor=False
    )
    assert call(state, number(), triggered + HOUR) == Decision(
        Action.CHALLENGE, Reason.ABUSE, "ladder:1"
    )
    assert state.ladder_status(NUMBER, triggered + DAY - 1) is not None
    assert state.ladder_status(NUMBER, triggered + DAY) is None
    assert call(state, number(), triggered + DAY).reason is Reason.DEFAULT


def test_each_further_junk_disposition_extends_the_restriction() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0, T0 + 1, T0 + 2, T0 + 10 * HOUR])
    assert state.ladder_status(NUMBER, T0 + 30 * HOUR) == LadderStatus(
        level=1, since=T0 + 2, until=T0 + 34 * HOUR, flag_supervisor=False
    )


def test_ladder_counts_only_dispositions_within_the_window() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0, T0 + 13 * HOUR, T0 + 25 * HOUR])
    assert state.ladder_status(NUMBER, T0 + 25 * HOUR) is None


def test_neutral_dispositions_do_not_count() -> None:
    state = PolicyState(BASE)
    for i, disposition in enumerate(["info", "wrong_number", "pocket", "info", "abandoned"]):
        state.record_disposition(number(), disposition, T0 + i)
    assert state.ladder_status(NUMBER, T0 + 10) is None


def test_ladder_level_2_after_six_lasts_three_days() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0 + i * HOUR for i in range(6)])
    triggered = T0 + 5 * HOUR
    status = state.ladder_status(NUMBER, triggered)
    assert status is not None and (status.level, status.until) == (2, triggered + 3 * DAY)
    assert call(state, number(), triggered + 2 * DAY).rule == "ladder:2"
    assert state.ladder_status(NUMBER, triggered + 3 * DAY) is None


def test_ladder_level_3_after_ten_lasts_seven_days_and_flags_the_supervisor() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0 + i * HOUR for i in range(10)])
    triggered = T0 + 9 * HOUR
    status = state.ladder_status(NUMBER, triggered + 6 * DAY)
    assert status == LadderStatus(3, triggered, triggered + 7 * DAY, flag_supervisor=True)
    assert call(state, number(), triggered + 6 * DAY).rule == "ladder:3"
    assert state.ladder_status(NUMBER, triggered + 7 * DAY) is None
    # Ten pranks in a day are not forgotten when the ladder's last step ends: the
    # reputation (10 halved 0.7 times) still restricts the number.
    assert call(state, number(), triggered + 7 * DAY).rule == "reputation"


def test_higher_ladder_level_overrides_a_lower_one() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0 + i * MINUTE for i in range(7)])
    status = state.ladder_status(NUMBER, T0 + HOUR)
    assert status is not None and status.level == 2


def test_lower_level_still_applies_when_a_shorter_higher_level_ends() -> None:
    config = PolicyConfig(
        challenge_unknown=False,
        abuse=AbuseConfig(
            ladder=(LadderStep(count=2, restrict_s=10 * HOUR), LadderStep(count=3, restrict_s=HOUR))
        ),
    )
    state = PolicyState(config)
    pranks(state, number(), [T0, T0 + 1, T0 + 2])
    assert state.ladder_status(NUMBER, T0 + 30 * MINUTE) == LadderStatus(
        2, T0 + 2, T0 + 2 + HOUR, False
    )
    later = state.ladder_status(NUMBER, T0 + 2 * HOUR)
    assert later is not None and later.level == 1 and later.until == T0 + 2 + 10 * HOUR


def test_ladder_action_is_configurable() -> None:
    state = PolicyState(PolicyConfig(challenge_unknown=False, abuse=AbuseConfig(action="announce")))
    pranks(state, number(), [T0, T0 + 1, T0 + 2])
    assert call(state, number(), T0 + 3) == Decision(Action.ANNOUNCE, Reason.ABUSE, "ladder:1")


def test_ladder_beats_throttle() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0, T0 + 1, T0 + 2])
    decisions = [call(state, number(), T0 + 10 + i) for i in range(5)]
    assert {d.reason for d in decisions} == {Reason.ABUSE}


def test_ghost_count_counts_only_ghosts_in_the_window() -> None:
    state = PolicyState(BASE)
    for at, disposition in [(T0, "ghost"), (T0 + 1, "prank"), (T0 + 2, "ghost")]:
        state.record_disposition(number(), disposition, at)
    assert state.ghost_count(NUMBER, T0 + 3, DAY) == 2
    assert state.ghost_count(NUMBER, T0 + DAY + 1, DAY) == 1
    assert state.junk_count(NUMBER, T0 + 3, DAY) == 3
    assert state.ghost_count("+6289999999999", T0, DAY) == 0


# ---------------------------------------------------------------------------- immunity


def test_genuine_call_grants_immunity_for_30_days_then_lapses() -> None:
    state = PolicyState(BASE)
    state.record_disposition(number(), "genuine:fire", T0)
    assert state.is_immune(NUMBER, T0 + 30 * DAY - 1)
    assert not state.is_immune(NUMBER, T0 + 30 * DAY)
    for i in range(6):
        decision = call(state, number(), T0 + 30 * DAY - 600 + i)
    assert decision == Decision(Action.PASS, Reason.IMMUNE)
    for i in range(6):
        decision = call(state, number(), T0 + 30 * DAY + i)
    assert decision.reason is Reason.THROTTLE


def test_genuine_call_clears_the_ladder() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0 + i for i in range(10)])
    state.record_disposition(number(), "genuine:accident", T0 + HOUR)
    assert state.ladder_status(NUMBER, T0 + HOUR) is None
    assert call(state, number(), T0 + HOUR + 1) == Decision(Action.PASS, Reason.IMMUNE)


def test_a_prank_after_a_genuine_call_revokes_immunity() -> None:
    """One real emergency must not shield the next ten pranks from the phone for a month."""
    state = PolicyState(BASE)
    state.record_disposition(number(), "genuine:health", T0)
    assert call(state, number(), T0 + HOUR) == Decision(Action.PASS, Reason.IMMUNE)
    pranks(state, number(), [T0 + DAY])
    assert not state.is_immune(NUMBER, T0 + DAY + 1)
    pranks(state, number(), [T0 + DAY + i for i in range(1, 10)])
    assert state.ladder_status(NUMBER, T0 + DAY + 20) is not None
    assert call(state, number(), T0 + DAY + 30).reason is Reason.ABUSE


# ---------------------------------------------------------------------------- reputation


def test_pranks_spread_over_weeks_restrict_a_number_the_daily_ladder_never_sees() -> None:
    state = PolicyState(BASE)
    every_three_days = [T0 + i * 3 * DAY for i in range(5)]
    pranks(state, number(), every_three_days)
    now = every_three_days[-1] + HOUR
    assert state.ladder_status(NUMBER, now) is None  # never three in a day
    expected = sum(0.5 ** (i * 0.3) for i in range(5))
    assert state.reputation(NUMBER, now) == pytest.approx(expected, 1e-2)
    assert call(state, number(), now) == Decision(
        Action(BASE.abuse.action), Reason.ABUSE, "reputation"
    )


def test_reputation_decays_and_old_verdicts_are_forgotten() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0, T0 + 1, T0 + 2])
    assert state.reputation(NUMBER, T0 + 3) == pytest.approx(3.0, 1e-3)
    assert state.reputation(NUMBER, T0 + 10 * DAY) == pytest.approx(1.5, 1e-2)  # a half-life
    assert state.reputation(NUMBER, T0 + 31 * DAY) == 0.0
    assert call(state, number(), T0 + 10 * DAY).reason is Reason.DEFAULT


def test_reputation_can_be_switched_off() -> None:
    config = PolicyConfig(challenge_unknown=False, abuse=AbuseConfig(reputation_threshold=0))
    state = PolicyState(config)
    pranks(state, number(), [T0 + i * 3 * DAY for i in range(6)])
    assert call(state, number(), T0 + 16 * DAY).reason is Reason.DEFAULT


def test_reputation_survives_a_restart() -> None:
    state = PolicyState(BASE)
    rows = [
        HistoryRow(NUMBER, NumberClass.NUMBER, T0 + i * 3 * DAY, True, T0 + i * 3 * DAY + 5,
                   "prank", T0 + i * 3 * DAY + 60, None)
        for i in range(5)
    ]  # fmt: skip
    state.replay(rows, T0 + 13 * DAY)
    assert state.reputation(NUMBER, T0 + 13 * DAY) >= 3.0


def test_immune_number_passes_in_a_flood_even_from_a_hot_prefix() -> None:
    state = flood_state()
    hot_caller = number("+6281234560001")
    assert state.flood.is_hot(hot_caller.e164 or "") == "+62812345600"  # the narrowest
    state.record_disposition(hot_caller, "genuine:fire", T0 - DAY)
    assert call(state, hot_caller, T0 + 62) == Decision(Action.PASS, Reason.IMMUNE)


# ---------------------------------------------------------------------------- flood


def spread_numbers(count: int) -> list[str]:
    """Numbers in as many different blocks as possible: no concentration signal."""
    return [f"+628{i % 10}{(i * 7_919_993) % 10**8:08d}{i % 7}" for i in range(count)]


def known(state: PolicyState, numbers: list[str]) -> None:
    """Give each number a memory in the policy (no longer a new number), with no arrival."""
    for each in numbers:
        state.record_challenge_result(number(each), ChallengeResult.PASSED, T0 - 2 * DAY)


def test_flood_entered_by_rate() -> None:
    state = PolicyState(BASE)
    callers = spread_numbers(61)
    known(state, callers)
    changes: list[FloodChange] = []
    for i, caller in enumerate(callers[:60]):
        changes += state.record_arrival(number(caller), T0 + i)
    assert changes == [] and not state.flood_active
    changes = state.record_arrival(number(callers[60]), T0 + 60)
    assert state.flood_active
    assert [c.kind for c in changes] == ["entered"]
    assert changes[0].entered
    assert changes[0].reason.startswith("rate: 61 calls")
    assert changes[0].at == T0 + 60


def test_withheld_calls_count_towards_the_flood_rate() -> None:
    state = PolicyState(BASE)
    for i in range(61):
        state.record_arrival(WITHHELD, T0 + i)
    assert state.flood_active
    assert len(state) == 0


def reseize(state: PolicyState, at: float, total: int = 4) -> list[FloodChange]:
    """A line freed at `at` and seized again half a second later."""
    return state.record_line_occupancy(total - 1, total, at) + state.record_line_occupancy(
        total, total, at + 0.5
    )


def test_flood_entered_by_saturation_with_quick_reseizures() -> None:
    state = PolicyState(BASE)
    assert state.record_line_occupancy(4, 4, T0) == []
    assert reseize(state, T0 + 10) == []
    assert state.tick(T0 + 29) == []  # busy enough, but one quick re-seizure is not two
    changes = reseize(state, T0 + 20) + state.tick(T0 + 30)
    assert [c.kind for c in changes] == ["entered"]
    assert changes[0].reason.startswith("saturation")


def test_lines_busy_without_quick_reseizures_are_not_a_flood() -> None:
    """Four long calls, or one call on a one-line site, keep the lines busy: no flood."""
    state = PolicyState(BASE)
    state.record_line_occupancy(4, 4, T0)
    assert state.tick(T0 + 600) == [] and not state.flood_active
    single = PolicyState(BASE)
    single.record_line_occupancy(1, 1, T0)
    single.record_line_occupancy(0, 1, T0 + 200)
    single.record_line_occupancy(1, 1, T0 + 210)  # the next caller, 10 s later
    assert single.tick(T0 + 400) == [] and not single.flood_active


def test_a_half_second_break_does_not_hide_saturation() -> None:
    """The old rule wanted every line busy without a break: a flood freeing a line for half
    a second between two junk calls restarted its clock for ever."""
    state = PolicyState(BASE)
    state.record_line_occupancy(4, 4, T0)
    for second in range(5, 60, 5):
        reseize(state, T0 + second)
    assert state.flood_active


def test_callers_seen_waiting_enter_flood_mode_within_seconds() -> None:
    state = PolicyState(BASE)
    changes: list[FloodChange] = []
    for i, caller in enumerate(spread_numbers(3)):
        changes += state.record_waiting(number(caller), T0 + i)
    assert [c.kind for c in changes] == ["entered"]
    assert changes[0].reason.startswith("waiting: 3 callers")
    assert changes[0].at == T0 + 2


def test_a_surge_of_new_numbers_enters_flood_mode() -> None:
    state = PolicyState(BASE)
    changes: list[FloodChange] = []
    for i, caller in enumerate(spread_numbers(20)):
        changes += state.record_arrival(number(caller), T0 + i * 10)
    assert [c.kind for c in changes] == ["entered"]
    assert changes[0].reason.startswith("new numbers: 20")


def test_one_number_hammering_enters_flood_mode_and_is_rejected() -> None:
    state = PolicyState(BASE)
    known(state, spread_numbers(5))
    for i, caller in enumerate(spread_numbers(5)):
        call(state, number(caller), T0 + i)
    for i in range(30):
        call(state, number(), T0 + 10 + i)
    assert state.flood_active
    assert call(state, number(), T0 + 30) == Decision(
        Action.REJECT, Reason.FLOOD, f"flood:{NUMBER}"
    )
    assert call(state, number(spread_numbers(1)[0]), T0 + 31).action is Action.CHALLENGE


def test_withheld_flood_rejects_withheld_callers_and_challenges_numbers() -> None:
    state = PolicyState(BASE)
    for i in range(12):
        call(state, WITHHELD, T0 + i * 5)
    assert state.flood_active and state.flood.withheld_is_hot()
    assert call(state, WITHHELD, T0 + 61) == Decision(
        Action.REJECT, Reason.FLOOD, "flood:no_number"
    )
    assert call(state, number(), T0 + 62) == Decision(Action.CHALLENGE, Reason.FLOOD, "flood")


def test_a_crew_in_one_block_enters_flood_mode_from_concentration_alone() -> None:
    state = PolicyState(BASE)
    changes: list[FloodChange] = []
    crew = [f"+628123456{i:04d}" for i in range(0, 2000, 97)]  # one 10,000-number block
    for i, caller in enumerate(crew[:6]):
        changes += state.record_arrival(number(caller), T0 + i * 6)
    assert [c.kind for c in changes] == ["entered"]
    assert changes[0].reason.startswith("number block +628123456xxxx: 6 calls from 6 numbers")
    assert changes[0].hot_prefix == "+628123456"


def test_the_last_free_line_is_kept_for_callers_who_try_again() -> None:
    """Trunk reservation in a flood with no signature: a first attempt that would take the
    last free line is released; a number that tried before, or was seen waiting, is not."""
    state = PolicyState(BASE)
    for i, caller in enumerate(spread_numbers(3)):
        state.record_waiting(number(caller), T0 + i)
    assert state.flood_active
    state.record_line_occupancy(4, 4, T0 + 10)  # this call took the last free line
    stranger, redialler = spread_numbers(5)[3:]
    assert call(state, number(stranger), T0 + 11) == Decision(
        Action.REJECT, Reason.FLOOD, "flood:reserve"
    )
    assert call(state, number(stranger), T0 + 50) == Decision(
        Action.CHALLENGE, Reason.FLOOD, "flood:retry"
    )  # the same caller, trying again: the full challenge, though lines are scarce
    state.record_waiting(number(redialler), T0 + 60)
    assert call(state, number(redialler), T0 + 80).rule == "flood:retry"
    state.record_line_occupancy(3, 4, T0 + 90)  # a line stays free: no reservation
    assert call(state, number("+6289900000001"), T0 + 91).action is Action.CHALLENGE


def test_the_flood_challenge_is_short_only_while_lines_are_scarce() -> None:
    """A slow caller is hurried only when the lines are needed for others."""
    state = PolicyState(BASE)
    for i, caller in enumerate(spread_numbers(3)):
        state.record_waiting(number(caller), T0 + i)
    state.record_line_occupancy(1, 4, T0 + 10, screening=1)  # three lines free
    assert call(state, number(), T0 + 11).rule == "flood"
    state.record_line_occupancy(3, 4, T0 + 20, screening=3)  # one left after this call
    assert call(state, number("+6289900000001"), T0 + 21).rule == "flood:short"


def test_lines_held_by_operators_are_not_kept_from_first_attempts() -> None:
    """The reservation is against the flood: three operators' conversations are not it."""
    state = PolicyState(BASE)
    for i, caller in enumerate(spread_numbers(3)):
        state.record_waiting(number(caller), T0 + i)
    state.record_line_occupancy(4, 4, T0 + 10, screening=1)  # only this call is screening
    assert call(state, number("+6289900000001"), T0 + 11).action is Action.CHALLENGE


def test_a_one_line_site_reserves_no_line() -> None:
    state = PolicyState(BASE)
    for i, caller in enumerate(spread_numbers(3)):
        state.record_waiting(number(caller), T0 + i)
    state.record_line_occupancy(1, 1, T0 + 10)
    assert call(state, number("+6289900000001"), T0 + 11).action is Action.CHALLENGE


def test_flood_detection_can_be_switched_off() -> None:
    state = PolicyState(PolicyConfig(challenge_unknown=False, flood=FloodConfig(enabled=False)))
    for i, caller in enumerate(spread_numbers(70)):
        state.record_waiting(number(caller), T0 + i)
        state.record_arrival(number(caller), T0 + i)
    assert not state.flood_active


def test_hot_prefix_is_rejected_in_a_flood() -> None:
    state = flood_state()
    assert call(state, number("+6281234569999"), T0 + 62) == Decision(
        Action.REJECT, Reason.FLOOD, "flood:+628123456"
    )
    assert state.flood.hot_prefixes() == ["+628123456", "+62812345600"]


def test_flood_entry_reports_the_hot_prefix() -> None:
    state = PolicyState(BASE)
    changes: list[FloodChange] = []
    for i in range(61):
        changes += state.record_arrival(number(f"+628123456{i * 97:04d}"), T0 + i)
    assert changes[0].hot_prefix == "+628123456"


def test_prefix_below_the_minimum_share_is_not_hot() -> None:
    state = flood_state()
    # +6285000000xxxx: 21 numbers spread over many blocks, none has 10 calls
    assert call(state, number("+6285000000001"), T0 + 62).action is Action.CHALLENGE


def test_other_numbers_without_good_history_are_challenged_in_a_flood() -> None:
    state = flood_state()
    assert call(state, number("+6287700000000"), T0 + 62) == Decision(
        Action.CHALLENGE, Reason.FLOOD, "flood"
    )


def test_a_passed_challenge_is_good_history_in_a_flood_until_it_lapses() -> None:
    state = flood_state()
    caller = number("+6287700000000")
    state.record_challenge_result(caller, ChallengeResult.PASSED, T0 - HOUR)
    assert state.has_good_history(caller.e164 or "", T0 + 62)
    assert call(state, caller, T0 + 62) == Decision(Action.PASS, Reason.DEFAULT)
    assert not state.has_good_history(caller.e164 or "", T0 - HOUR + DAY)


def test_a_reported_number_pressing_the_key_earns_no_good_history() -> None:
    """A child who learned the key must not buy a day of unchallenged calls with it."""
    state = PolicyState()
    caller = number()
    state.record_disposition(caller, "prank", T0)
    state.record_challenge_result(caller, ChallengeResult.PASSED, T0 + HOUR)
    assert not state.has_good_history(NUMBER, T0 + 2 * HOUR)
    assert call(state, caller, T0 + 2 * HOUR).action is Action.CHALLENGE
    # A week and a day after the prank, a pass counts again.
    state.record_challenge_result(caller, ChallengeResult.PASSED, T0 + 8 * DAY)
    assert state.has_good_history(NUMBER, T0 + 8 * DAY + HOUR)
    assert call(state, caller, T0 + 8 * DAY + HOUR) == Decision(Action.PASS, Reason.DEFAULT)


def test_a_failed_challenge_is_not_good_history() -> None:
    state = flood_state()
    caller = number("+6287700000000")
    state.record_challenge_result(caller, ChallengeResult.FAILED, T0)
    state.record_challenge_result(caller, ChallengeResult.TIMEOUT, T0)
    assert call(state, caller, T0 + 62).reason is Reason.FLOOD


def test_a_passed_challenge_exempts_a_number_in_a_hot_prefix_from_rejection() -> None:
    state = flood_state()
    caller = number("+6281234569999")
    state.record_challenge_result(caller, ChallengeResult.PASSED, T0 - HOUR)
    assert call(state, caller, T0 + 62) == Decision(Action.PASS, Reason.DEFAULT)


def test_one_number_redialling_never_makes_a_hot_prefix() -> None:
    # A desperate caller redialling during a saturation flood must hear the challenge.
    state = PolicyState(BASE)
    for i, caller in enumerate(spread_numbers(3)):
        state.record_waiting(number(caller), T0 + i)
    assert state.flood_active
    decisions = [call(state, number(), T0 + 61 + i * 20) for i in range(9)]
    assert {d.action for d in decisions} == {Action.CHALLENGE}
    assert state.flood.hot_prefixes() == []


def test_a_few_numbers_of_one_block_are_not_a_flood() -> None:
    state = PolicyState(BASE)
    for i in range(9):  # three numbers of one block, three calls each
        state.record_arrival(number(f"+628123456{i % 3:04d}"), T0 + i * 30)
    assert not state.flood_active
    assert call(state, number("+6281234569999"), T0 + 300).reason is Reason.DEFAULT


def test_flood_left_after_quiet_period() -> None:
    state = flood_state()  # 61st call at T0 + 60; the first (T0) ages out at T0 + 300
    assert state.tick(T0 + 300 + 299) == []
    assert state.flood_active
    changes = state.tick(T0 + 300 + 300)
    assert [c.kind for c in changes] == ["left"]
    assert not changes[0].entered
    assert not state.flood_active
    assert call(state, number("+6281234569999"), T0 + 700).reason is Reason.DEFAULT


def test_flood_exit_time_does_not_depend_on_how_often_tick_runs() -> None:
    state = flood_state()
    assert [c.kind for c in state.tick(T0 + 600)] == ["left"]


def test_flood_is_not_left_while_lines_are_saturated() -> None:
    state = flood_state()
    state.record_line_occupancy(4, 4, T0 + 100)
    for second in range(110, 2000, 10):
        assert reseize(state, T0 + second) == []
    assert state.flood_active
    assert state.record_line_occupancy(2, 4, T0 + 2001) == []
    assert [c.kind for c in state.tick(T0 + 2001 + 300)] == ["left"]


def test_flood_monitor_alone() -> None:
    monitor = FloodMonitor(FloodConfig(max_calls_in_window=2, rate_window_s=10, quiet_s=5))
    assert monitor.record_arrival("+6281234567890", T0) == []
    assert monitor.record_arrival(None, T0 + 1) == []
    assert monitor.record_arrival("+6281234567891", T0 + 2)[0].kind == "entered"
    assert monitor.arrivals_in_window() == 3
    assert monitor.tick(T0 + 14) == []
    assert monitor.tick(T0 + 15)[0].kind == "left"


# ---------------------------------------------------------------------------- fail open


class ExplodingIndex(RuleIndex):
    def match(self, e164: str, now: float) -> Rule | None:
        raise RuntimeError("index corrupted")


def test_decide_safely_fails_open_when_something_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = PolicyState(allow=ExplodingIndex(kind="allow"))
    state.record_arrival(number(), T0)
    with pytest.raises(RuntimeError):
        decide(number(), state, state.config, T0)
    with caplog.at_level(logging.ERROR, logger="appliance.policy"):
        decision = decide_safely(number(), state, state.config, T0)
    assert decision == Decision(Action.PASS, Reason.FAIL_OPEN)
    assert "failing open" in caplog.text
    assert "index corrupted" in caplog.text


def test_decide_safely_returns_the_normal_decision_when_nothing_raises() -> None:
    state = PolicyState(BASE)
    state.block.add(rule("b", NUMBER))
    state.record_arrival(number(), T0)
    assert decide_safely(number(), state, state.config, T0).reason is Reason.BLOCKLIST


# ---------------------------------------------------------------------------- state upkeep


def test_decide_does_not_change_the_state() -> None:
    state = PolicyState(BASE)
    stranger = number("+6281111111111")
    assert decide(stranger, state, state.config, T0) == Decision(Action.PASS, Reason.DEFAULT)
    assert len(state) == 0


def test_per_number_memory_is_bounded() -> None:
    state = PolicyState(BASE)
    for i in range(10_000):
        state.record_arrival(number(), T0 + i * 0.01)
        state.record_disposition(number(), "ghost", T0 + i * 0.01)
    assert state.calls_in_window(NUMBER, T0 + 100, 600) <= 32
    assert state.ghost_count(NUMBER, T0 + 100, DAY) <= 64
    status = state.ladder_status(NUMBER, T0 + 100)
    assert status is not None and status.level == 3


def test_prune_forgets_stale_numbers_but_keeps_what_still_matters() -> None:
    state = PolicyState(BASE)
    call(state, number("+6281100000001"), T0)  # throttle only
    state.record_disposition(number("+6281100000002"), "genuine:fire", T0)  # immune 30 days
    pranks(state, number("+6281100000003"), [T0, T0 + 1, T0 + 2])  # ladder 24 h
    assert len(state) == 3
    assert state.prune(T0 + HOUR) == 1
    assert state.prune(T0 + 2 * DAY) == 0  # junk evidence is kept for 7 days
    assert state.prune(T0 + 8 * DAY) == 0  # and the reputation for 30
    assert state.prune(T0 + 31 * DAY) == 2
    assert len(state) == 0


def test_tick_prunes_periodically() -> None:
    state = PolicyState(BASE)
    call(state, number(), T0)
    state.tick(T0 + 1)
    state.tick(T0 + HOUR)
    assert len(state) == 0


# ---------------------------------------------------------------------------- replay


PROBES = [number(f"+628190000{i:04d}") for i in range(40)] + [WITHHELD]


def _caller_for(rng: random.Random, callers: list[CallerNumber]) -> CallerNumber:
    # A few heavy pranksters, many occasional callers, some withheld.
    weights = [12, 8, 5] + [1] * (len(callers) - 3)
    return rng.choices(callers, weights=weights)[0]


Snapshot = list[tuple[Decision, LadderStatus | None, bool, bool, int]]


def snapshot(state: PolicyState, now: float) -> Snapshot:
    """Everything observable about every probe number at `now` (decide does not mutate)."""
    rows = []
    for probe in PROBES:
        e164 = probe.e164 or ""
        rows.append(
            (
                decide(probe, state, state.config, now),
                state.ladder_status(e164, now),
                state.is_immune(e164, now),
                state.has_good_history(e164, now),
                state.calls_in_window(e164, now, state.config.throttle.window_s),
            )
        )
    return rows


# The day's callers are consecutive numbers of one block, which flood detection would
# rightly take for a crew; the replay must rebuild the rest, so that signal is out of reach.
REPLAY_BASE = PolicyConfig(challenge_unknown=False, flood=FloodConfig(block_min_numbers=100))


def live_day(
    seed: int,
) -> tuple[list[HistoryRow], list[tuple[float, int, Snapshot]], list[Decision]]:
    """Live through a day of traffic as the service would, writing call-log rows.

    Returns the rows, snapshots of the live state taken every 25 calls (just before a
    call arrives, with challenge results, operator contacts and dispositions still
    pending for earlier calls), and every decision made.
    """
    rng = random.Random(seed)
    state = PolicyState(REPLAY_BASE)
    state.block.add(rule("b", "+6281900000005", action=Action.ANNOUNCE))
    callers = PROBES
    pending: list[tuple[float, int, Callable[[], None]]] = []
    sequence = itertools.count()
    rows: list[HistoryRow] = []
    snapshots: list[tuple[float, int, Snapshot]] = []
    decisions: list[Decision] = []

    def schedule(at: float, action: Callable[[], None]) -> None:
        heapq.heappush(pending, (at, next(sequence), action))

    def run_until(moment: float) -> None:
        while pending and pending[0][0] <= moment:
            heapq.heappop(pending)[2]()

    now = T0
    caller = callers[-2]
    for index in range(500):
        if rng.random() < 0.5:  # a redial burst: same caller again within a minute or two
            now += rng.uniform(10, 120)
        else:
            now += rng.expovariate(1 / 200)
            caller = _caller_for(rng, callers)
        run_until(now)
        if index % 25 == 24:
            snapshots.append((now, len(rows), snapshot(state, now)))
        decision = call(state, caller, now)
        decisions.append(decision)
        challenge: ChallengeResult | None = None
        challenge_at: float | None = None
        if decision.action is Action.CHALLENGE:
            challenge = rng.choice(list(ChallengeResult))
            challenge_at = now + rng.uniform(3, 40)
            schedule(
                challenge_at,
                partial(state.record_challenge_result, caller, challenge, challenge_at),
            )
        reached = (
            decision.action is Action.PASS or challenge is ChallengeResult.PASSED
        ) and rng.random() < 0.4
        operator_at: float | None = None
        disposition: str | None = None
        disposition_at: float | None = None
        if reached:
            operator_at = (challenge_at or now) + rng.uniform(1, 10)
            heavy = caller in callers[:3]
            disposition = rng.choice(
                ["prank", "ghost", "prank"] if heavy else ["ghost", "info", "genuine:fire", "prank"]
            )
            disposition_at = operator_at + rng.uniform(10, 90)
            schedule(operator_at, partial(state.record_operator_contact, caller, operator_at))
            schedule(
                disposition_at,
                partial(state.record_disposition, caller, disposition, disposition_at),
            )
        rows.append(
            HistoryRow(
                caller_e164=caller.e164,
                number_class=caller.number_class,
                started_at=now,
                reached_operator=reached,
                operator_at=operator_at,
                disposition=disposition,
                disposition_at=disposition_at,
                challenge_result=None if challenge is None else challenge.value,
                challenge_at=challenge_at,
            )
        )
    for later in (5 * MINUTE, HOUR, DAY, 3 * DAY, 8 * DAY, 31 * DAY):
        run_until(now + later)
        snapshots.append((now + later, len(rows), snapshot(state, now + later)))
    return rows, snapshots, decisions


@pytest.mark.parametrize("seed", [1, 3, 4, 5])
def test_replaying_history_gives_the_same_decisions_as_living_through_it(seed: int) -> None:
    rows, snapshots, decisions = live_day(seed)
    reasons = {d.reason for d in decisions}
    assert {Reason.ABUSE, Reason.THROTTLE, Reason.WITHHELD, Reason.IMMUNE} <= reasons
    for moment, logged, lived in snapshots:
        # A restart at `moment`: the log holds the rows written so far; events in them
        # that lie after `moment` (a disposition still to come) must be ignored.
        replayed = PolicyState(REPLAY_BASE)
        replayed.block.add(rule("b", "+6281900000005", action=Action.ANNOUNCE))
        replayed.replay(rows[:logged], moment)
        assert not replayed.flood_active
        assert snapshot(replayed, moment) == lived, moment - T0


def test_replay_rebuilds_the_throttle_window() -> None:
    rows = [
        HistoryRow(NUMBER, NumberClass.NUMBER, T0 + i * MINUTE, False, None, None, None, None)
        for i in range(3)
    ]
    state = PolicyState(BASE)
    state.replay(rows, T0 + 4 * MINUTE)
    assert call(state, number(), T0 + 4 * MINUTE).reason is Reason.THROTTLE


def test_replay_ignores_rows_after_now_and_unknown_challenge_results() -> None:
    rows = [
        HistoryRow(NUMBER, NumberClass.NUMBER, T0, True, T0 + 5, "genuine:fire", T0 + 60, "odd"),
        HistoryRow(NUMBER, NumberClass.NUMBER, T0 + DAY, True, T0 + DAY, "prank", None, None),
    ]
    state = PolicyState(BASE)
    assert state.replay(rows, T0 + HOUR) == 1
    assert state.is_immune(NUMBER, T0 + HOUR)
    assert state.junk_count(NUMBER, T0 + HOUR, DAY) == 0


def test_replay_skips_malformed_rows_and_accepts_plain_strings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [
        HistoryRow(NUMBER, "number", T0, True, T0 + 5, "genuine:fire", T0 + 60, None),  # type: ignore[arg-type]
        HistoryRow(NUMBER, NumberClass.NUMBER, None, False, None, None, None, None),  # type: ignore[arg-type]
        HistoryRow(NUMBER, "martian", T0, False, None, None, None, None),  # type: ignore[arg-type]
    ]
    state = PolicyState(BASE)
    with caplog.at_level(logging.WARNING, logger="appliance.policy"):
        assert state.replay(rows, T0 + HOUR) == 1
    assert state.is_immune(NUMBER, T0 + HOUR)
    assert "skipped 2 malformed" in caplog.text


def test_replay_up_to_a_flood_in_progress_leaves_flood_mode_on() -> None:
    rows = [
        HistoryRow(None, NumberClass.WITHHELD, T0 + i, False, None, None, None, None)
        for i in range(80)
    ]
    state = PolicyState(BASE)
    assert state.replay(rows, T0 + 100) == 80
    assert state.flood_active


def test_replay_of_an_old_flood_leaves_flood_mode_off() -> None:
    rows = [
        HistoryRow(None, NumberClass.WITHHELD, T0 + i, False, None, None, None, None)
        for i in range(80)
    ]
    state = PolicyState(BASE)
    assert state.replay(rows, T0 + DAY) == 80
    assert not state.flood_active


# ---------------------------------------------------------------- numbers with no history


def test_number_with_no_good_history_is_challenged_by_default() -> None:
    state = PolicyState()
    assert call(state, number(), T0) == Decision(Action.CHALLENGE, Reason.NO_HISTORY)


def test_passing_a_challenge_gives_good_history_for_a_day() -> None:
    state = PolicyState()
    state.record_challenge_result(number(), ChallengeResult.PASSED, T0)
    assert call(state, number(), T0 + HOUR).reason is Reason.DEFAULT
    assert call(state, number(), T0 + DAY + HOUR).reason is Reason.NO_HISTORY


def test_a_prank_after_a_passed_challenge_voids_the_good_history() -> None:
    state = PolicyState()
    state.record_challenge_result(number(), ChallengeResult.PASSED, T0)
    pranks(state, number(), [T0 + MINUTE])
    assert call(state, number(), T0 + HOUR).reason is Reason.NO_HISTORY


def test_genuine_caller_is_not_challenged_for_thirty_days() -> None:
    state = PolicyState()
    state.record_disposition(number(), "genuine:fire", T0)
    assert call(state, number(), T0 + 29 * DAY).reason is Reason.IMMUNE
    assert call(state, number(), T0 + 31 * DAY).reason is Reason.NO_HISTORY


def test_unverified_caller_is_passed_unless_there_is_junk_evidence() -> None:
    state = PolicyState()
    config = state.config
    decision = Decision(Action.CHALLENGE, Reason.NO_HISTORY)
    hang_up = ("abuse", "blocklist", "flood")
    assert not release_unverified(number(), decision, state, config, hang_up, T0)
    state.record_disposition(number(), "ghost", T0)
    assert release_unverified(number(), decision, state, config, hang_up, T0 + DAY)
    assert not release_unverified(number(), decision, state, config, hang_up, T0 + 8 * DAY)


def test_unverified_caller_is_released_for_junk_reasons_but_withheld_never_by_option() -> None:
    state = PolicyState()
    config = state.config
    hang_up = ("abuse", "blocklist", "flood")
    abuse = Decision(Action.CHALLENGE, Reason.ABUSE, "ladder:1")
    assert release_unverified(number(), abuse, state, config, hang_up, T0)
    no_history = Decision(Action.CHALLENGE, Reason.NO_HISTORY)
    assert release_unverified(
        number(), no_history, state, config, hang_up, T0, without_evidence="release"
    )
    withheld = Decision(Action.CHALLENGE, Reason.WITHHELD)
    assert not release_unverified(
        WITHHELD, withheld, state, config, hang_up, T0, without_evidence="release"
    )


@pytest.mark.parametrize(
    ("voice_heard", "released"),
    [(False, True), (True, False), (None, False)],
    ids=["silence-released", "voice-passed", "not-listening-passed"],
)
def test_listening_releases_only_callers_in_whom_no_voice_was_heard(
    voice_heard: bool | None, released: bool
) -> None:
    state = PolicyState()
    config = state.config
    hang_up = ("abuse", "blocklist", "flood")
    for caller, decision in (
        (number(), Decision(Action.CHALLENGE, Reason.NO_HISTORY)),
        (WITHHELD, Decision(Action.CHALLENGE, Reason.WITHHELD)),
    ):
        result = release_unverified(
            caller,
            decision,
            state,
            config,
            hang_up,
            T0,
            without_evidence="listen",
            voice_heard=voice_heard,
        )
        assert result is released


def heard_speaking(state: PolicyState, now: float) -> bool:
    """Whether a challenged caller from `number()` heard speaking, key unpressed, is released."""
    decision = Decision(Action.CHALLENGE, Reason.NO_HISTORY)
    return release_unverified(
        number(), decision, state, state.config, (), now,
        without_evidence="listen", voice_heard=True,
    )  # fmt: skip


def test_a_voice_after_a_challenge_that_heard_nobody_is_released() -> None:
    state = PolicyState()
    window = state.config.heard_after_unheard_s
    assert not heard_speaking(state, T0)  # a voice passes a number with no past
    state.record_challenge_result(number(), ChallengeResult.TIMEOUT, T0, voice_heard=False)
    assert heard_speaking(state, T0 + 5 * MINUTE)  # the pocket again, its owner talking
    assert not heard_speaking(state, T0 + window + 1)  # long after: a voice passes again
    other = PolicyState()  # a line that could not listen, or a hang-up, proves nothing
    other.record_challenge_result(number(), ChallengeResult.TIMEOUT, T0, voice_heard=None)
    other.record_challenge_result(number(), ChallengeResult.CALLER_HUNG_UP, T0, voice_heard=False)
    assert not heard_speaking(other, T0 + MINUTE)


def test_a_voice_after_an_unheard_challenge_passes_when_the_setting_is_off() -> None:
    config = PolicyConfig(heard_after_unheard_s=0)
    state = PolicyState(config)
    state.record_challenge_result(number(), ChallengeResult.TIMEOUT, T0, voice_heard=False)
    assert not heard_speaking(state, T0 + MINUTE)


def test_an_unheard_challenge_is_remembered_across_a_restart() -> None:
    rows = [
        HistoryRow(NUMBER, NumberClass.NUMBER, T0, False, None, None, None, "timeout",
                   T0 + 20, voice_heard=False),
    ]  # fmt: skip
    state = PolicyState()
    state.replay(rows, T0 + MINUTE)
    assert heard_speaking(state, T0 + 2 * MINUTE)


def test_a_voice_does_not_outweigh_junk_evidence() -> None:
    state = PolicyState()
    config = state.config
    decision = Decision(Action.CHALLENGE, Reason.NO_HISTORY)
    state.record_disposition(number(), "prank", T0)
    assert release_unverified(
        number(),
        decision,
        state,
        config,
        (),
        T0 + 60,
        without_evidence="listen",
        voice_heard=True,
    )


def test_a_withdrawn_prank_stops_counting_and_its_restriction_goes() -> None:
    """An operator clicked Prank on a genuine caller and corrected it to Information: the
    number is where it would be without the wrong click."""
    state = PolicyState(BASE)
    state.record_disposition(number(), "prank", T0)
    state.record_disposition(number(), "ghost", T0 + HOUR)
    state.record_disposition(number(), "prank", T0 + 2 * HOUR)
    assert state.ladder_status(NUMBER, T0 + 2 * HOUR) is not None
    state.withdraw_disposition(number(), "prank", T0 + 2 * HOUR + MINUTE)
    state.record_disposition(number(), "info", T0 + 2 * HOUR + MINUTE)
    assert state.ladder_status(NUMBER, T0 + 2 * HOUR + MINUTE) is None
    later = T0 + 3 * HOUR
    assert state.reputation(NUMBER, later) == pytest.approx(_reputation_of([T0, T0 + HOUR], later))
    # The next junk verdict counts from what is left: three again, a restriction again.
    state.record_disposition(number(), "prank", T0 + 4 * HOUR)
    assert state.ladder_status(NUMBER, T0 + 4 * HOUR) is not None


def _reputation_of(junk_times: list[float], now: float) -> float:
    state = PolicyState(BASE)
    for at in junk_times:
        state.record_disposition(number(), "prank", at)
    return state.reputation(NUMBER, now)


def test_a_withdrawn_ghost_leaves_the_pranks_and_a_withdrawn_genuine_ends_immunity() -> None:
    state = PolicyState(BASE)
    pranks(state, number(), [T0, T0 + 1])
    state.record_disposition(number(), "ghost", T0 + 2)
    state.withdraw_disposition(number(), "ghost", T0 + 3)
    assert state.ladder_status(NUMBER, T0 + 3) is None
    state.record_disposition(number(), "prank", T0 + 4)
    assert state.ladder_status(NUMBER, T0 + 4) is not None  # the two pranks still count

    other = "+6281299990000"
    state.record_disposition(number(other), "genuine:medical", T0)
    assert state.is_immune(other, T0 + MINUTE)
    state.withdraw_disposition(number(other), "genuine:medical", T0 + MINUTE)
    assert not state.is_immune(other, T0 + MINUTE)


def test_a_peers_withdrawal_is_replayed_after_the_verdict_it_withdraws() -> None:
    facts = [SharedFact(NUMBER, "verdict", "prank", T0 + i * MINUTE) for i in range(3)] + [
        SharedFact(NUMBER, "withdrawn", "prank", T0 + 3 * MINUTE)
    ]
    state = PolicyState(BASE)
    state.replay([], T0 + HOUR, shared=facts)
    assert state.ladder_status(NUMBER, T0 + HOUR) is None
    without = PolicyState(BASE)
    without.replay([], T0 + HOUR, shared=facts[:3])
    assert without.ladder_status(NUMBER, T0 + HOUR) is not None


def test_another_box_in_flood_mode_puts_this_one_in_flood_mode_until_it_ends() -> None:
    """The network hunts one number over every box: the next box sees only the overflow
    of a flood the first recognised, so it follows the first box's flood mode."""
    monitor = FloodMonitor(FloodConfig())
    quiet = FloodConfig().quiet_s
    assert monitor.tick(T0) == []
    monitor.site_flood("box1", True, T0)
    [entered] = monitor.tick(T0 + 1)
    assert entered.entered and entered.reason == "site: box1 in flood mode"
    assert monitor.tick(T0 + 10 * MINUTE) == []  # held while box1's flood lasts
    monitor.site_flood("box1", False, T0 + 10 * MINUTE)
    assert monitor.tick(T0 + 10 * MINUTE + quiet - 1) == []
    [left] = monitor.tick(T0 + 10 * MINUTE + quiet)
    assert not left.entered


def test_a_box_flood_whose_end_never_came_lapses() -> None:
    monitor = FloodMonitor(FloodConfig())
    monitor.site_flood("box1", True, T0)
    assert monitor.tick(T0 + 1)[0].entered
    assert monitor.tick(T0 + SITE_FLOOD_MAX_S - 1) == []
    changes = monitor.tick(T0 + SITE_FLOOD_MAX_S + FloodConfig().quiet_s)
    assert [change.kind for change in changes] == ["left"]


def test_a_peers_flood_is_replayed_and_reaches_the_policy_as_a_fact() -> None:
    state = PolicyState(BASE)
    state.replay([], T0 + MINUTE, shared=[SharedFact("", "flood", "on", T0, origin="box2")])
    assert state.flood_active
    live = PolicyState(BASE)
    live.record_shared_fact(SharedFact("", "flood", "on", T0, origin="box2"))
    assert live.tick(T0 + 1)[0].reason == "site: box2 in flood mode"
    live.record_shared_fact(SharedFact("", "flood", "off", T0 + MINUTE, origin="box2"))
    assert live.tick(T0 + MINUTE + BASE.flood.quiet_s)[0].kind == "left"
