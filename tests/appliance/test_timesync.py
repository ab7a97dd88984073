"""The clock's trust: the kernel's NTP state, its changes, and the call rows it marks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance.store import CallLog
from appliance.timesync import ClockWatch, kernel_clock_synchronised


def test_the_kernel_answers_yes_no_or_cannot_tell() -> None:
    """adjtimex(2) on this machine: a real answer, whatever it is, never an exception."""
    assert kernel_clock_synchronised() in (True, False, None)


def test_watch_reports_changes_and_alarms_once_after_ten_minutes() -> None:
    answers = iter([True, False, False, False, False, True, None])
    watch = ClockWatch(probe=lambda: next(answers), alarm_after_s=600.0)
    assert watch.check(0.0) == []
    assert watch.check(10.0) == ["clock_unsynced"] and not watch.trusted
    assert watch.check(300.0) == []
    assert watch.check(610.0) == ["clock_unsynced_alarm"]
    assert watch.check(1200.0) == []  # said once
    assert watch.check(1300.0) == ["clock_synced"] and watch.trusted
    assert watch.check(1400.0) == []  # "cannot tell" is trusted: no news


def test_calls_started_while_the_clock_is_wrong_are_marked(tmp_path: Path) -> None:
    db = tmp_path / "siaga.db"
    log = CallLog(db, timezone="Asia/Jakarta")
    log.open(now_ts=1_712_000_000.0)
    try:
        for trusted in (None, False, True):
            log.time_trusted = trusted
            call_id = log.new_call_id()
            log.call_started(call_id, {"line": "line1", "started_ts": 1_712_000_000.0})
            log.call_updated(call_id, {"ended_ts": 1_712_000_010.0})
        assert log.flush(10.0)
    finally:
        log.close()
    conn = sqlite3.connect(db)
    try:
        marks = [row[0] for row in conn.execute("SELECT time_trusted FROM calls ORDER BY id")]
    finally:
        conn.close()
    assert marks == [1, 0, 1]  # unknown counts as trusted (the column's default)
