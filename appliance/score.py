"""The score of a simulation run: what happened to genuine callers and what junk cost.

`siaga simulate` replays a scenario through the real appliance, records one `CallOutcome`
per scenario call, and prints `score(calls, outcomes)` as JSON. The keys required by the
contract (docs/contracts.md) are always
present with those exact names; extra keys add detail.

Definitions:
- junk is every call whose `truth` is not `genuine` (prank and ghost);
- an incident is a distinct (caller, disposition) pair among genuine calls, the caller
  compared by subscriber (`0812...`, `62812...` and `+62812...` are one caller). A
  withheld genuine call (no caller) cannot be linked to any other call, so each one is
  its own incident;
- an incident is reached when at least one of its calls reached an operator;
- percentiles interpolate linearly between the closest ranks (`statistics.quantiles`,
  inclusive method), so the p95 of few calls is not simply their maximum.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.scenario import ScenarioCall, subscriber_key

logger = logging.getLogger(__name__)

PERCENT_DIGITS = 2
SECONDS_DIGITS = 2
MISSING_IDS_SHOWN = 10
# The keys `siaga simulate` must print (docs/contracts.md), in the order they are printed.
CONTRACT_KEYS: tuple[str, ...] = (
    "genuine_calls",
    "genuine_reached",
    "incidents",
    "incidents_reached",
    "junk_calls",
    "junk_reached",
    "junk_reached_pct",
    "lost_busy",
    "junk_line_seconds",
    "junk_operator_seconds",
    "genuine_delay_p50_s",
    "genuine_delay_p95_s",
)


class ScoreError(ValueError):
    """Outcomes and scenario calls do not match one to one."""


@dataclass(frozen=True)
class CallOutcome:
    """What the simulated appliance did with one scenario call.

    `operator_delay_s`: arrival to operator answer (None unless reached). `line_s`: seconds
    the call held a line (0 if lost busy). `operator_s`: seconds an operator spent on it,
    answer to end. `decision`, `reason`, `challenge_result`: as in the call log.
    """

    scenario_id: str
    lost_busy: bool
    reached_operator: bool
    operator_delay_s: float | None
    line_s: float
    operator_s: float
    decision: str | None
    reason: str | None
    challenge_result: str | None

    def __post_init__(self) -> None:
        for name in ("line_s", "operator_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{self.scenario_id}: {name} must be 0 or more, got {value!r}")
        if self.reached_operator and self.operator_delay_s is None:
            raise ValueError(f"{self.scenario_id}: reached an operator but has no delay")
        if self.operator_delay_s is not None and (
            not math.isfinite(self.operator_delay_s) or self.operator_delay_s < 0
        ):
            raise ValueError(f"{self.scenario_id}: operator_delay_s must be 0 or more")
        if self.lost_busy and (self.reached_operator or self.line_s > 0):
            raise ValueError(f"{self.scenario_id}: a call lost busy never held a line")


def _percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear-interpolated percentile (0 < fraction < 1); None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], SECONDS_DIGITS)
    cut_points = statistics.quantiles(values, n=100, method="inclusive")
    return round(cut_points[round(fraction * 100) - 1], SECONDS_DIGITS)


def incident_key(call: ScenarioCall) -> tuple[str, str]:
    """The incident a genuine call belongs to: (subscriber or withheld call id, disposition)."""
    subscriber = subscriber_key(call.caller)
    return (subscriber if subscriber is not None else f"withheld:{call.id}", call.disposition)


def _match(
    calls: Sequence[ScenarioCall], outcomes: Mapping[str, CallOutcome]
) -> list[tuple[ScenarioCall, CallOutcome]]:
    """Pair every call with its outcome; raise if any call or outcome is unaccounted for."""
    call_ids = {call.id for call in calls}
    missing = [call.id for call in calls if call.id not in outcomes]
    unknown = sorted(set(outcomes) - call_ids)
    problems = []
    if missing:
        problems.append(f"{len(missing)} calls have no outcome: {missing[:MISSING_IDS_SHOWN]}")
    if unknown:
        problems.append(f"{len(unknown)} outcomes match no call: {unknown[:MISSING_IDS_SHOWN]}")
    mislabelled = [key for key, outcome in outcomes.items() if outcome.scenario_id != key]
    if mislabelled:
        problems.append(f"outcomes filed under another id: {mislabelled[:MISSING_IDS_SHOWN]}")
    if problems:
        raise ScoreError("; ".join(problems))
    return [(call, outcomes[call.id]) for call in calls]


def _decision_counts(pairs: Sequence[tuple[ScenarioCall, CallOutcome]]) -> dict[str, Any]:
    """Counts by action and by action/reason, and challenge results, over handled calls."""
    actions: Counter[str] = Counter()
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    results: Counter[str] = Counter()
    for _, outcome in pairs:
        if outcome.lost_busy:
            continue
        action = outcome.decision or "none"
        actions[action] += 1
        by_reason[action][outcome.reason or "none"] += 1
        if outcome.challenge_result is not None:
            results[outcome.challenge_result] += 1
    return {
        "decisions": dict(sorted(actions.items())),
        "decisions_by_reason": {
            action: dict(sorted(reasons.items())) for action, reasons in sorted(by_reason.items())
        },
        "challenge_results": dict(sorted(results.items())),
    }


def _incident_figures(genuine: Sequence[tuple[ScenarioCall, CallOutcome]]) -> dict[str, Any]:
    reached_by_incident: dict[tuple[str, str], bool] = {}
    for call, outcome in genuine:
        key = incident_key(call)
        reached_by_incident[key] = reached_by_incident.get(key, False) or outcome.reached_operator
    lost = [
        f"{caller} {disposition}"
        for (caller, disposition), reached in reached_by_incident.items()
        if not reached
    ]
    return {
        "incidents": len(reached_by_incident),
        "incidents_reached": sum(reached_by_incident.values()),
        "incidents_lost": lost,
    }


def _junk_figures(junk: Sequence[tuple[ScenarioCall, CallOutcome]]) -> dict[str, Any]:
    reached = sum(1 for _, outcome in junk if outcome.reached_operator)
    reached_by_truth = Counter(call.truth for call, outcome in junk if outcome.reached_operator)
    return {
        "junk_calls": len(junk),
        "junk_reached": reached,
        "junk_reached_pct": round(100.0 * reached / len(junk), PERCENT_DIGITS) if junk else 0.0,
        "junk_reached_by_truth": dict(sorted(reached_by_truth.items())),
        "junk_line_seconds": round(sum(o.line_s for _, o in junk), SECONDS_DIGITS),
        "junk_operator_seconds": round(sum(o.operator_s for _, o in junk), SECONDS_DIGITS),
    }


def _genuine_figures(genuine: Sequence[tuple[ScenarioCall, CallOutcome]]) -> dict[str, Any]:
    delays = sorted(
        outcome.operator_delay_s
        for _, outcome in genuine
        if outcome.reached_operator and outcome.operator_delay_s is not None
    )
    return {
        "genuine_calls": len(genuine),
        "genuine_reached": sum(1 for _, outcome in genuine if outcome.reached_operator),
        "genuine_lost": [call.id for call, outcome in genuine if not outcome.reached_operator],
        "genuine_lost_busy": sum(1 for _, outcome in genuine if outcome.lost_busy),
        "genuine_delay_p50_s": _percentile(delays, 0.50),
        "genuine_delay_p95_s": _percentile(delays, 0.95),
        "genuine_delay_max_s": round(delays[-1], SECONDS_DIGITS) if delays else None,
        "genuine_line_seconds": round(sum(o.line_s for _, o in genuine), SECONDS_DIGITS),
        "genuine_operator_seconds": round(sum(o.operator_s for _, o in genuine), SECONDS_DIGITS),
    }


def score(calls: Sequence[ScenarioCall], outcomes: Mapping[str, CallOutcome]) -> dict[str, Any]:
    """The simulation score (JSON-ready dict) with every key of docs/contracts.md.

    Raises ScoreError if a scenario call has no outcome or an outcome matches no call:
    every call must be accounted for.
    """
    pairs = _match(calls, outcomes)
    genuine = [(call, outcome) for call, outcome in pairs if call.truth == "genuine"]
    junk = [(call, outcome) for call, outcome in pairs if call.truth != "genuine"]
    figures: dict[str, Any] = {"calls_total": len(pairs)}
    figures |= _genuine_figures(genuine)
    figures |= _incident_figures(genuine)
    figures |= _junk_figures(junk)
    figures["lost_busy"] = sum(1 for _, outcome in pairs if outcome.lost_busy)
    figures |= _decision_counts(pairs)
    if figures["genuine_lost"]:
        logger.warning("genuine calls that never reached an operator: %s", figures["genuine_lost"])
    contract = {key: figures.pop(key) for key in CONTRACT_KEYS}
    return contract | figures


__all__ = ["CONTRACT_KEYS", "CallOutcome", "ScoreError", "incident_key", "score"]
