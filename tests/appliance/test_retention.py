"""Retention: old months lose their call rows, never their place in the monthly report."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from appliance.report import month_figures, report
from appliance.retention import keep_from_ts, months_to_archive
from appliance.store import CallLog

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2024, 7, 10, 12, 0, tzinfo=WIB).timestamp()
EVER = (0.0, 4_000_000_000.0)


def at(month: int, day: int, hour: int = 10) -> float:
    return datetime(2024, month, day, hour, 0, tzinfo=WIB).timestamp()


def build(db: Path) -> CallLog:
    log = CallLog(db, timezone="Asia/Jakarta")
    log.open(now_ts=NOW)
    plan = [(3, "prank"), (3, "genuine:fire"), (4, "ghost"), (5, None), (6, "prank"), (7, None)]
    for month, disposition in plan:
        for day in (1, 15, 31 if month in (3, 5, 7) else 30):
            call_id = log.new_call_id()
            started = at(month, day, 23 if day > 28 else 10)  # 23:00 WIB: still that month
            log.call_started(
                call_id,
                {"line": "line1", "caller": "+6281234567890", "started_ts": started,
                 "decision": "challenge", "reason": "no_history"},
            )  # fmt: skip
            log.call_updated(call_id, {"ended_ts": started + 30, "line_seconds": 30.0})
            if disposition:
                log.record_disposition(call_id, disposition, "op1", started + 40)
    assert log.flush(10.0)
    return log


def monthly(db: Path) -> dict[str, dict[str, float]]:
    conn = sqlite3.connect(db)
    try:
        result = report(conn, since_ts=EVER[0], until_ts=EVER[1], period="month")
    finally:
        conn.close()
    return {row.label: dict(row.figures) for row in result.rows}


def test_keeping_starts_at_the_first_of_a_month_across_the_new_year() -> None:
    january = datetime(2025, 1, 20, tzinfo=WIB).timestamp()
    assert keep_from_ts(january, 3, WIB) == datetime(2024, 11, 1, tzinfo=WIB).timestamp()
    assert keep_from_ts(january, 2, WIB) == datetime(2024, 12, 1, tzinfo=WIB).timestamp()


def test_archived_months_keep_their_figures_and_lose_their_rows(tmp_path: Path) -> None:
    db = tmp_path / "siaga.db"
    log = build(db)
    try:
        before = monthly(db)
        conn = sqlite3.connect(db)
        try:
            months = months_to_archive(conn, NOW, 2, WIB)  # keep June and July
        finally:
            conn.close()
        assert [label for label, _, _ in months] == ["2024-03", "2024-04", "2024-05"]
        for label, from_ts, to_ts in months:
            log.archive_month(label, from_ts, to_ts, NOW, month_figures)
        assert log.flush(10.0)
        assert monthly(db) == before  # every month, the same figures
        conn = sqlite3.connect(db)
        try:
            left = conn.execute("SELECT MIN(started_ts), COUNT(*) FROM calls").fetchone()
            orphans = conn.execute(
                "SELECT COUNT(*) FROM dispositions WHERE call_id NOT IN (SELECT id FROM calls)"
            ).fetchone()[0]
            daily = report(conn, since_ts=EVER[0], until_ts=EVER[1], period="day")
            assert months_to_archive(conn, NOW, 2, WIB) == []  # done: nothing more
        finally:
            conn.close()
        assert left[0] >= at(6, 1, 0) and left[1] == 6  # June and July: 3 calls each
        assert orphans == 0
        assert daily.rows[0].label == "2024-06-01"  # day rows of archived months are gone
        assert months_to_archive(sqlite3.connect(db), NOW, 0, WIB) == []  # 0: keep all
    finally:
        log.close()


def test_a_late_row_in_an_archived_month_is_added_to_its_figures(tmp_path: Path) -> None:
    db = tmp_path / "siaga.db"
    log = build(db)
    try:
        march = ("2024-03", at(3, 1, 0), at(4, 1, 0))
        log.archive_month(*march, NOW, month_figures)
        late = log.new_call_id()
        log.call_started(late, {"line": "line1", "started_ts": at(3, 20), "decision": "pass"})
        log.archive_month(*march, NOW + 60, month_figures)
        assert log.flush(10.0)
        assert monthly(db)["2024-03"]["calls"] == 6 + 1  # two kinds of call x 3 days, + late
    finally:
        log.close()
