"""Callers the appliance releases, end to end: the call-back list and the idle operator.

A real line service over a pseudo-terminal to a virtual SIM7600 (a line that listens),
real SQLite, the virtual clock: a genuine caller who neither presses nor speaks and
stays through the whole challenge.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from appliance.config import ChallengeConfig, Config
from appliance.scenario import CallerAction, ScenarioCall
from appliance.simulate import SimulationOptions, run_simulation

START = datetime(2024, 4, 3, 3, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
SILENT = "081234567890"


def silent_caller(at: datetime, *, answers_call_back: bool = True) -> ScenarioCall:
    return ScenarioCall(
        id="silent",
        at=at,
        caller=SILENT,
        answer=CallerAction(None, 0.0, "silence", call_back=answers_call_back),
        hangup_after_s=100.0,
        talk_s=60.0,
        disposition="genuine:health",
        truth="genuine",
    )


def open_call_backs(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "select caller, reason, status from callbacks where status = 'open'"
        ).fetchall()


def options(*, idle_operator: bool) -> SimulationOptions:
    challenge = ChallengeConfig(silent_to_idle_operator=idle_operator)
    return SimulationOptions(
        lines=1, operators=1, family="sim7600", config=Config(challenge=challenge)
    )


def test_a_silent_caller_released_goes_on_the_call_back_list_and_is_called_back(
    tmp_path: Path,
) -> None:
    db = tmp_path / "siaga.db"
    result = run_simulation([silent_caller(START)], db, options(idle_operator=False))
    assert result["incidents_reached_live"] == 0
    assert result["incidents_called_back"] == 1  # the idle operator rang back, and was heard
    assert open_call_backs(db) == [("+6281234567890", "silent_after_challenge", "open")]


def test_a_caller_who_does_not_answer_the_call_back_is_not_counted_reached(
    tmp_path: Path,
) -> None:
    calls = [silent_caller(START, answers_call_back=False)]
    result = run_simulation(calls, tmp_path / "siaga.db", options(idle_operator=False))
    assert result["incidents_called_back"] == 0
    assert result["call_backs_made"] == 1 and result["call_backs_answered"] == 0


def test_with_silent_to_idle_operator_the_silent_caller_reaches_the_idle_operator(
    tmp_path: Path,
) -> None:
    db = tmp_path / "siaga.db"
    result = run_simulation([silent_caller(START)], db, options(idle_operator=True))
    assert result["incidents_reached_live"] == 1
    assert open_call_backs(db) == []


def test_a_number_with_a_prank_on_record_is_not_called_back(tmp_path: Path) -> None:
    prank = ScenarioCall(
        id="prank",
        at=START,
        caller=SILENT,
        answer=CallerAction("5", 1.0, "voice"),
        hangup_after_s=60.0,
        talk_s=10.0,
        disposition="prank",
        truth="prank",
    )
    later = silent_caller(START + timedelta(hours=2))
    db = tmp_path / "siaga.db"
    run_simulation([prank, later], db, options(idle_operator=False))
    assert open_call_backs(db) == []


def caller_pressing(call_id: str, at: datetime, number: str, talk_s: float) -> ScenarioCall:
    return ScenarioCall(
        id=call_id,
        at=at,
        caller=number,
        answer=CallerAction("?", 2.0, "voice"),
        hangup_after_s=120.0,
        talk_s=talk_s,
        disposition="genuine:health",
        truth="genuine",
    )


def one_line_busy_then_free() -> list[ScenarioCall]:
    """The only line is in conversation when a second caller arrives; it frees soon."""
    return [
        caller_pressing("first", START, SILENT, talk_s=10.0),
        caller_pressing("second", START + timedelta(seconds=15), "085712345678", talk_s=30.0),
    ]


def test_a_caller_left_waiting_is_taken_when_the_line_frees_and_leaves_the_list(
    tmp_path: Path,
) -> None:
    db = tmp_path / "siaga.db"
    left = SimulationOptions(lines=1, operators=1, family="ec25", line_call_waiting="ignore")
    result = run_simulation(one_line_busy_then_free(), db, left)
    assert result["incidents_reached_live"] == 2 and result["lost_busy"] == 0
    with sqlite3.connect(db) as connection:
        entries = connection.execute("select caller, reason, status from callbacks").fetchall()
    assert entries == [("+6285712345678", "found_lines_busy", "done")]


def test_a_caller_released_busy_while_waiting_is_lost_and_listed(tmp_path: Path) -> None:
    db = tmp_path / "siaga.db"
    rejected = SimulationOptions(lines=1, operators=1, family="ec25", line_call_waiting="reject")
    result = run_simulation(one_line_busy_then_free(), db, rejected)
    assert result["incidents_reached_live"] == 1 and result["lost_busy"] == 1
    assert open_call_backs(db) == [("+6285712345678", "found_lines_busy", "open")]
