"""The centre's reports: local (WIB) days and months, valid by kind, screening, CSV."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from appliance.report import COLUMNS, format_table, report, report_csv, top_repeaters

WIB = timezone(timedelta(hours=7))
APRIL_1 = datetime(2024, 4, 1, tzinfo=WIB).timestamp()
JUNE_1 = datetime(2024, 6, 1, tzinfo=WIB).timestamp()

# The columns the report relies on; the real store has more.
CREATE_CALLS = """
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    line TEXT,
    caller_raw TEXT,
    caller TEXT,
    number_class TEXT,
    started_at TEXT,
    started_ts REAL,
    decision TEXT,
    reason TEXT,
    challenge_result TEXT,
    reached_operator INTEGER,
    operator_ts REAL,
    ended_ts REAL,
    disposition TEXT,
    line_seconds REAL
);
CREATE INDEX idx_calls_started_ts ON calls (started_ts);
"""


def _insert(
    conn: sqlite3.Connection,
    at: datetime,
    *,
    caller: str | None = "+6281200000001",
    disposition: str | None = None,
    decision: str = "pass",
    reason: str = "default",
    challenge_result: str | None = None,
    reached: bool = False,
    line_seconds: float | None = 10.0,
) -> None:
    conn.execute(
        "INSERT INTO calls (line, caller_raw, caller, number_class, started_at, started_ts,"
        " decision, reason, challenge_result, reached_operator, disposition, line_seconds)"
        " VALUES ('line1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            caller,
            caller,
            "number" if caller else "withheld",
            at.isoformat(),
            at.timestamp(),
            decision,
            reason,
            challenge_result,
            int(reached),
            disposition,
            line_seconds,
        ),
    )


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.executescript(CREATE_CALLS)
    yield connection
    connection.close()


def _fill_month_edge(conn: sqlite3.Connection) -> None:
    # 23:30 WIB on 30 April is April; 17:30 UTC on 30 April is 00:30 WIB on 1 May.
    _insert(conn, datetime(2024, 4, 30, 23, 30, tzinfo=WIB), disposition="prank")
    _insert(conn, datetime(2024, 4, 30, 17, 30, tzinfo=UTC), disposition="ghost")
    _insert(conn, datetime(2024, 4, 28, 9, 0, tzinfo=WIB), disposition="genuine:fire")


def test_days_are_wib_days(conn: sqlite3.Connection) -> None:
    _fill_month_edge(conn)
    result = report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="day")
    by_label = {row.label: row for row in result.rows}
    assert [row.label for row in result.rows] == [
        "2024-04-28",
        "2024-04-29",  # a quiet day between calls still gets its row
        "2024-04-30",
        "2024-05-01",
    ]
    assert by_label["2024-04-29"]["calls"] == 0
    assert by_label["2024-04-30"]["prank"] == 1
    assert by_label["2024-05-01"]["ghost"] == 1
    assert result.totals["calls"] == 3


def test_months_are_wib_months(conn: sqlite3.Connection) -> None:
    _fill_month_edge(conn)
    result = report(conn, since_ts=0, until_ts=4_102_444_800, period="month")
    assert [(row.label, row["calls"]) for row in result.rows] == [("2024-04", 2), ("2024-05", 1)]
    assert result.totals.label == "total"


def test_another_zone_groups_the_same_calls_differently(conn: sqlite3.Connection) -> None:
    _fill_month_edge(conn)
    result = report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="month", timezone="UTC")
    assert [(row.label, row["calls"]) for row in result.rows] == [("2024-04", 3)]


def test_range_bounds_are_respected(conn: sqlite3.Connection) -> None:
    _fill_month_edge(conn)
    may_1 = datetime(2024, 5, 1, tzinfo=WIB).timestamp()
    result = report(conn, since_ts=APRIL_1, until_ts=may_1, period="month")
    assert [(row.label, row["calls"]) for row in result.rows] == [("2024-04", 2)]
    empty = report(conn, since_ts=JUNE_1, until_ts=JUNE_1 + 86_400, period="day")
    assert empty.rows == [] and empty.totals["calls"] == 0


def test_dispositions_kinds_screening_and_line_seconds(conn: sqlite3.Connection) -> None:
    day = datetime(2024, 4, 3, 10, 0, tzinfo=WIB)
    _insert(conn, day, disposition="genuine:fire", reached=True, line_seconds=100)
    _insert(conn, day, disposition="genuine:fire", reached=True, line_seconds=50)
    _insert(
        conn,
        day,
        disposition="genuine:electrical",
        reached=True,
        decision="challenge",
        reason="throttle",
        challenge_result="passed",
    )
    _insert(conn, day, disposition="genuine:hearse", reached=True)  # a kind of its own
    _insert(conn, day, disposition="info", reached=True)
    _insert(conn, day, disposition="wrong_number", reached=True)
    _insert(conn, day, disposition="pocket", reached=True)  # a newer code: other_disposition
    _insert(
        conn,
        day,
        disposition="prank",
        decision="challenge",
        reason="abuse",
        challenge_result="failed",
        line_seconds=20,
    )
    _insert(
        conn,
        day,
        disposition="ghost",
        decision="challenge",
        reason="withheld",
        challenge_result="timeout",
        line_seconds=45,
        caller=None,
    )
    _insert(conn, day, decision="challenge", reason="flood", challenge_result="caller_hung_up")
    _insert(conn, day, decision="reject", reason="blocklist", line_seconds=None)
    _insert(conn, day, decision="announce", reason="ladder_v2")  # a newer reason
    row = report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="day").rows[0]
    expected = {
        "calls": 12,
        "valid": 4,
        "valid_fire": 2,
        "valid_electrical": 1,
        "valid_hearse": 1,  # not configured: its own column, never "other"
        "valid_other": 0,
        "valid_accident": 0,
        "info": 1,
        "wrong_number": 1,
        "other_disposition": 1,
        "prank": 1,
        "ghost": 1,
        "no_disposition": 3,
        "reached_operator": 7,
        "screened": 6,
        "challenge_throttle": 1,
        "challenge_abuse": 1,
        "challenge_withheld": 1,
        "challenge_flood": 1,
        "reject_blocklist": 1,
        "announce_other": 1,
        "challenge_passed": 1,
        "challenge_failed": 1,
        "challenge_timeout": 1,
        "challenge_caller_hung_up": 1,
        "line_s_genuine": 170.0,  # 100 + 50 + 10 + 10
        "line_s_junk": 65.0,
        "line_s_other": 50.0,
    }
    assert {column: row[column] for column in expected} == expected


def test_csv_has_a_stable_header_and_one_line_per_period_plus_totals(
    conn: sqlite3.Connection,
) -> None:
    _fill_month_edge(conn)
    text = report_csv(report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="month"))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert COLUMNS[:4] == ("period", "calls", "valid", "valid_electrical")
    assert [row[0] for row in rows[1:]] == ["2024-04", "2024-05", "total"]
    april = dict(zip(rows[0], rows[1], strict=True))
    assert april["calls"] == "2" and april["valid_fire"] == "1" and april["prank"] == "1"
    assert april["line_s_junk"] == "10.0"
    assert rows[-1][COLUMNS.index("calls")] == "3"


def test_terminal_table_shows_periods_totals_and_only_used_columns(
    conn: sqlite3.Connection,
) -> None:
    _fill_month_edge(conn)
    table = format_table(report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="month"))
    lines = table.splitlines()
    assert lines[0] == "Calls per month (Asia/Jakarta)"
    assert lines[1].split()[:3] == ["period", "calls", "valid"]
    assert "valid_fire" in lines[1] and "valid_accident" not in lines[1]
    assert lines[3].split()[:3] == ["2024-04", "2", "1"]
    assert lines[-1].split()[:2] == ["total", "3"]


def test_top_repeaters_count_calls_per_number_without_withheld(conn: sqlite3.Connection) -> None:
    day = datetime(2024, 4, 3, 22, 0, tzinfo=WIB)
    for minute in range(12):
        _insert(conn, day + timedelta(minutes=minute), caller="+628111", disposition="prank")
    _insert(conn, day, caller="+628222", disposition="genuine:fire", reached=True)
    _insert(conn, day, caller="+628222", disposition="ghost")
    for _ in range(20):
        _insert(conn, day, caller=None, disposition="ghost")
    repeaters = top_repeaters(conn, APRIL_1, JUNE_1)
    assert [(r.caller, r.calls, r.junk, r.genuine) for r in repeaters] == [
        ("+628111", 12, 12, 0),
        ("+628222", 2, 1, 1),
    ]
    assert repeaters[0].last_ts - repeaters[0].first_ts == 11 * 60
    assert top_repeaters(conn, APRIL_1, JUNE_1, limit=1)[0].caller == "+628111"


def test_reports_work_on_a_read_only_connection_with_row_objects(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    writer = sqlite3.connect(path)
    writer.executescript(CREATE_CALLS)
    _fill_month_edge(writer)
    writer.commit()
    writer.close()
    reader = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    reader.row_factory = sqlite3.Row
    try:
        result = report(reader, since_ts=APRIL_1, until_ts=JUNE_1, period="day")
        assert result.totals["calls"] == 3
        assert top_repeaters(reader, APRIL_1, JUNE_1)[0].calls == 3
    finally:
        reader.close()


def test_bad_arguments_are_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError):
        report(conn, since_ts=JUNE_1, until_ts=APRIL_1, period="day")
    with pytest.raises(ValueError):
        report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="week")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="day", timezone="Nowhere/City")


# ------------------------------------------------------------------ the centre's own kinds

CENTRE_KINDS = ("flood", "fire", "landslide")


def _fill_kinds(conn: sqlite3.Connection) -> None:
    day = datetime(2024, 4, 3, 10, 0, tzinfo=WIB)
    for disposition in ("genuine:flood", "genuine:flood", "genuine:fire", "genuine:hearse"):
        _insert(conn, day, disposition=disposition, reached=True)
    _insert(conn, day, disposition="genuine:accident", reached=True)  # a default kind, dropped
    _insert(conn, day, disposition="prank")


def test_configured_kinds_come_first_in_their_order_then_found_ones_sorted(
    conn: sqlite3.Connection,
) -> None:
    _fill_kinds(conn)
    result = report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="month", kinds=CENTRE_KINDS)
    assert result.kinds == ("flood", "fire", "landslide", "accident", "hearse")
    totals = result.totals
    assert (totals["valid_flood"], totals["valid_fire"], totals["valid_landslide"]) == (2, 1, 0)
    assert (totals["valid_accident"], totals["valid_hearse"]) == (1, 1)
    assert totals["valid"] == 5  # every genuine kind, configured or not
    assert "valid_other" not in totals.figures and "valid_electrical" not in totals.figures
    rows = list(csv.reader(io.StringIO(report_csv(result))))
    assert rows[0][:8] == [
        "period",
        "calls",
        "valid",
        "valid_flood",
        "valid_fire",
        "valid_landslide",
        "valid_accident",
        "valid_hearse",
    ]
    assert rows[0][8:] == list(COLUMNS[12:])  # the rest as with the default kinds
    assert all(len(row) == len(rows[0]) for row in rows)
    table = format_table(result)
    assert "valid_hearse" in table and "valid_landslide" not in table  # zero: left out


def test_the_default_kinds_give_the_same_columns_as_before(conn: sqlite3.Connection) -> None:
    _fill_month_edge(conn)
    result = report(conn, since_ts=APRIL_1, until_ts=JUNE_1, period="day")
    assert result.columns == COLUMNS
    assert COLUMNS[2:12] == (
        "valid",
        "valid_electrical",
        "valid_accident",
        "valid_fire",
        "valid_ambulance",
        "valid_fallen_tree",
        "valid_flood_disaster",
        "valid_health",
        "valid_crime",
        "valid_other",
    )
    assert all(set(row.figures) == set(COLUMNS[1:]) for row in [*result.rows, result.totals])


def test_archived_months_of_any_version_still_read(conn: sqlite3.Connection) -> None:
    """Figures archived before kinds were configurable (default kinds, unknown ones folded
    into `other`) read alongside live months on other kinds."""
    conn.execute(
        "CREATE TABLE monthly_figures (month TEXT PRIMARY KEY, from_ts REAL, to_ts REAL,"
        " figures TEXT, calls_removed INTEGER, archived_ts REAL, archived_at TEXT)"
    )
    old = dict.fromkeys(COLUMNS[1:], 0) | {
        "calls": 4,
        "valid": 3,
        "valid_fire": 1,
        "valid_electrical": 1,
        "valid_other": 1,
        "prank": 1,
    }
    march_1 = datetime(2024, 3, 1, tzinfo=WIB).timestamp()
    conn.execute(
        "INSERT INTO monthly_figures VALUES ('2024-03', ?, ?, ?, 4, ?, NULL)",
        (march_1, APRIL_1, json.dumps(old), APRIL_1),
    )
    _fill_kinds(conn)
    result = report(conn, since_ts=0, until_ts=JUNE_1, period="month", kinds=CENTRE_KINDS)
    assert [row.label for row in result.rows] == ["2024-03", "2024-04"]
    assert result.kinds == (*CENTRE_KINDS, "accident", "electrical", "hearse", "other")
    march, april = result.rows
    assert [march[c] for c in ("calls", "valid", "valid_fire", "valid_other")] == [4, 3, 1, 1]
    assert march["valid_flood"] == 0 and april["valid_electrical"] == 0
    assert result.totals["valid"] == 8 and result.totals["valid_fire"] == 2
    assert set(march.figures) == set(april.figures) == set(result.columns[1:])
