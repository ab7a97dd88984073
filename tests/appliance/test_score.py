"""The simulation score: contract keys, incidents, percentiles, full accounting."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from appliance.scenario import CallerAction, ScenarioCall, Truth
from appliance.score import CONTRACT_KEYS, CallOutcome, ScoreError, score

WIB = timezone(timedelta(hours=7))
START = datetime(2024, 4, 3, 19, 0, tzinfo=WIB)
JUNK_TRUTH: dict[str, Truth] = {"prank": "prank", "ghost": "ghost"}


def _call(call_id: str, caller: str | None, disposition: str, minute: int = 0) -> ScenarioCall:
    truth: Truth = "genuine" if disposition.startswith("genuine:") else JUNK_TRUTH[disposition]
    return ScenarioCall(
        id=call_id,
        at=START + timedelta(minutes=minute),
        caller=caller,
        answer=CallerAction("?", 3.0),
        hangup_after_s=120,
        talk_s=60,
        disposition=disposition,
        truth=truth,
    )


def _reached(
    call_id: str, delay_s: float, line_s: float = 70, operator_s: float = 60
) -> CallOutcome:
    return CallOutcome(call_id, False, True, delay_s, line_s, operator_s, "pass", "default", None)


def _not_reached(call_id: str, line_s: float = 25, result: str = "failed") -> CallOutcome:
    return CallOutcome(call_id, False, False, None, line_s, 0.0, "challenge", "abuse", result)


def _lost(call_id: str) -> CallOutcome:
    return CallOutcome(call_id, True, False, None, 0.0, 0.0, None, None, None)


CALLS = [
    _call("g1", "081211112222", "genuine:fire", 0),
    _call("g2", "+6281211112222", "genuine:fire", 3),  # the same caller redialing
    _call("g3", None, "genuine:health", 10),  # withheld: its own incident
    _call("g4", None, "genuine:health", 12),  # withheld: another incident, lost
    _call("g5", "0812333444555", "genuine:accident", 20),  # never reaches anyone
    _call("j1", "0899000111222", "prank", 30),
    _call("j2", "0899000111333", "ghost", 31),
    _call("j3", "0899000111222", "prank", 32),
]
OUTCOMES = {
    "g1": _not_reached("g1", result="timeout"),
    "g2": _reached("g2", 5.0),
    "g3": _reached("g3", 20.0),
    "g4": _lost("g4"),
    "g5": _not_reached("g5", result="caller_hung_up"),
    "j1": _reached("j1", 5.0, line_s=30, operator_s=20),
    "j2": _not_reached("j2", line_s=10.5),
    "j3": _lost("j3"),
}


def test_score_has_every_contract_key_with_hand_computed_values() -> None:
    result = score(CALLS, OUTCOMES)
    assert list(result)[: len(CONTRACT_KEYS)] == list(CONTRACT_KEYS)
    assert {key: result[key] for key in CONTRACT_KEYS} == {
        "genuine_calls": 5,
        "genuine_reached": 2,
        "incidents": 4,  # fire (2 calls, 2 forms of one number), 2 withheld, accident
        "incidents_reached": 2,
        "junk_calls": 3,
        "junk_reached": 1,
        "junk_reached_pct": 33.33,
        "lost_busy": 2,
        "junk_line_seconds": 40.5,
        "junk_operator_seconds": 20.0,
        "genuine_delay_p50_s": 12.5,  # halfway between 5 and 20
        "genuine_delay_p95_s": 19.25,  # 5 + 0.95 x 15
    }
    json.dumps(result)


def test_score_extras_name_the_lost_genuine_calls_and_count_decisions() -> None:
    result = score(CALLS, OUTCOMES)
    assert result["calls_total"] == 8
    assert result["genuine_lost"] == ["g1", "g4", "g5"]
    assert result["genuine_lost_busy"] == 1
    assert len(result["incidents_lost"]) == 2
    assert result["decisions"] == {"challenge": 3, "pass": 3}  # lost calls were never decided
    assert result["decisions_by_reason"]["challenge"] == {"abuse": 3}
    assert result["challenge_results"] == {"caller_hung_up": 1, "failed": 1, "timeout": 1}
    assert result["junk_reached_by_truth"] == {"prank": 1}


def test_a_call_without_an_outcome_is_an_error() -> None:
    outcomes = dict(OUTCOMES)
    del outcomes["j2"]
    with pytest.raises(ScoreError, match="j2"):
        score(CALLS, outcomes)


def test_an_outcome_without_a_call_is_an_error() -> None:
    with pytest.raises(ScoreError, match="zz"):
        score(CALLS, OUTCOMES | {"zz": _lost("zz")})


def test_no_genuine_call_reached_gives_null_delays_and_zero_pct_without_junk() -> None:
    calls = [_call("g1", "081211112222", "genuine:fire")]
    result = score(calls, {"g1": _lost("g1")})
    assert result["genuine_delay_p50_s"] is None
    assert result["genuine_delay_p95_s"] is None
    assert result["junk_reached_pct"] == 0.0
    assert result["incidents"] == 1 and result["incidents_reached"] == 0


def test_percentiles_interpolate_over_many_calls() -> None:
    calls = [_call(f"g{n}", f"08120000{n:04d}", "genuine:fire") for n in range(1, 101)]
    outcomes = {f"g{n}": _reached(f"g{n}", float(n)) for n in range(1, 101)}
    result = score(calls, outcomes)
    assert result["genuine_delay_p50_s"] == 50.5
    assert result["genuine_delay_p95_s"] == 95.05
    assert result["incidents"] == 100


def test_inconsistent_outcomes_are_refused() -> None:
    with pytest.raises(ValueError, match="no delay"):
        CallOutcome("x", False, True, None, 10, 5, "pass", "default", None)
    with pytest.raises(ValueError, match="lost busy"):
        CallOutcome("x", True, False, None, 3.0, 0, None, None, None)
    with pytest.raises(ValueError, match="line_s"):
        CallOutcome("x", False, False, None, -1.0, 0, None, None, None)
