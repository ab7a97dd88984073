"""The per-day figures (`appliance.store.rollup`) give every report exactly what counting
the call rows gives: random call logs on real SQLite files, late verdicts, deletes,
archived months, other zones, ranges that start mid-day, a restore, the migration."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.migrations import apply_migrations, migration
from appliance.report import Report, archived_months, month_figures, report, top_repeaters
from appliance.store import CallLog, rollup
from appliance.store._sqlite import connect_writer, iso_at
from web_ui.reports.categories import CategoryRow, period_rows

WIB = ZoneInfo("Asia/Jakarta")
START = datetime(2024, 3, 20, tzinfo=WIB).timestamp()  # across March, April and May
SPAN_DAYS = 70
EVER = (0.0, 4_102_444_800.0)
KINDS = ("fire", "medical", "crime")

DECISIONS = ("pass", "challenge", "reject", "announce", "odd_action", None)
REASONS = ("default", "blocklist", "abuse", "flood", "throttle", "withheld", "no_rule", None)
RESULTS = ("passed", "failed", "timeout", "caller_hung_up", "odd_result", None)
DISPOSITIONS = (
    "prank", "ghost", "info", "wrong_number", "genuine:fire", "genuine:hearse",
    "genuine:Not A Slug", "odd_verdict", None, None,
)  # fmt: skip
COLUMNS = (
    "id", "line", "caller", "started_at", "started_ts", "decision", "reason",
    "challenge_result", "reached_operator", "disposition", "line_seconds",
)  # fmt: skip


def _random_row(rng: random.Random, call_id: int) -> tuple[object, ...]:
    started = START + rng.random() * SPAN_DAYS * 86_400
    started_at: str | None = iso_at(started, WIB)
    roll = rng.random()
    if roll < 0.03:  # written by a call log in another zone
        started_at = iso_at(started, ZoneInfo("UTC"))
    elif roll < 0.04:
        started_at = None
    seconds = None if rng.random() < 0.1 else round(rng.random() * 300, 3)
    # A heavy head, as pranksters call: a few numbers make most calls; some withheld.
    caller = None if rng.random() < 0.05 else f"+62812{int(200 * rng.random() ** 4):07d}"
    return (
        call_id, f"line{call_id % 4}", caller, started_at, started,
        rng.choice(DECISIONS), rng.choice(REASONS), rng.choice(RESULTS),
        int(rng.random() < 0.5), rng.choice(DISPOSITIONS), seconds,
    )  # fmt: skip


def _insert(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    marks = ", ".join("?" * len(COLUMNS))
    conn.executemany(f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({marks})", rows)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "siaga.db"
    connect_writer(path).close()
    yield path


def _writer(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _fill(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    conn = _writer(path)
    try:
        _insert(conn, [_random_row(rng, call_id) for call_id in range(1, rows + 1)])
    finally:
        conn.close()


def _row_by_row(path: Path) -> sqlite3.Connection:
    """A copy of the database without the rollup: reports count every row, as before."""
    source = sqlite3.connect(path)
    copy = sqlite3.connect(":memory:", isolation_level=None)
    source.backup(copy)
    source.close()
    for table in ("daily_figures", "daily_days", "daily_dirty", "daily_callers"):
        copy.execute(f"DROP TABLE {table}")
    return copy


def _same(found: Report, expected: Report) -> None:
    assert found.kinds == expected.kinds
    assert [row.label for row in found.rows] == [row.label for row in expected.rows]
    for got, want in zip(
        [*found.rows, found.totals], [*expected.rows, expected.totals], strict=True
    ):
        assert set(got.figures) == set(want.figures)
        for column, value in want.figures.items():
            if column.startswith("line_s_"):
                assert got.figures[column] == pytest.approx(value, rel=1e-12, abs=1e-9)
            else:
                assert got.figures[column] == value, (got.label, column)


def _categories_same(found: dict[str, CategoryRow], expected: dict[str, CategoryRow]) -> None:
    assert list(found) == list(expected)
    for label, want in expected.items():
        got = found[label]
        assert (got.kinds, got.by_operators, got.by_siaga, got.no_verdict) == (
            want.kinds,
            want.by_operators,
            want.by_siaga,
            want.no_verdict,
        ), label


RANGES = (
    (EVER[0], EVER[1], "month", "Asia/Jakarta"),
    (EVER[0], EVER[1], "day", "Asia/Jakarta"),
    (START + 86_400 * 12, START + 86_400 * 40, "day", "Asia/Jakarta"),
    (START + 86_400 * 12.37, START + 86_400 * 40.81, "month", "Asia/Jakarta"),  # mid-day
    (EVER[0], EVER[1], "month", "UTC"),  # another zone than the call log's
    (EVER[0], EVER[1], "day", "America/New_York"),  # and one with daylight saving
)


def _assert_exact(path: Path) -> None:
    """Every report and category table over every range equals the row-by-row one."""
    plain = _row_by_row(path)
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        for since_ts, until_ts, period, zone in RANGES:
            args = {"since_ts": since_ts, "until_ts": until_ts, "period": period}
            found = report(conn, **args, timezone=zone, kinds=KINDS)
            expected = report(plain, **args, timezone=zone, kinds=KINDS)
            _same(found, expected)
            _categories_same(
                period_rows(conn, since_ts, until_ts, period, ZoneInfo(zone)),
                period_rows(plain, since_ts, until_ts, period, ZoneInfo(zone)),
            )
            for limit in (1, 3, 20):
                assert top_repeaters(conn, since_ts, until_ts, limit) == top_repeaters(
                    plain, since_ts, until_ts, limit
                ), (since_ts, until_ts, limit)
    finally:
        conn.close()
        plain.close()


def _refresh(path: Path) -> int:
    conn = _writer(path)
    try:
        return rollup.refresh(conn, budget_s=None)
    finally:
        conn.close()


def _dirty(path: Path) -> list[str]:
    conn = _writer(path)
    try:
        return rollup.dirty_days(conn)
    finally:
        conn.close()


@pytest.mark.slow  # 3,000 random calls, every report over six ranges, three times
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_report_equals_counting_the_rows_dirty_refreshed_and_late(
    db: Path, seed: int
) -> None:
    _fill(db, 3000, seed)
    assert len(_dirty(db)) > SPAN_DAYS  # every day written is dirty (and the odd ones)
    _assert_exact(db)  # all counted live
    dirty = len(_dirty(db))
    assert _refresh(db) == dirty
    assert _dirty(db) == []
    _assert_exact(db)  # all from the rollup

    rng = random.Random(seed + 100)
    conn = _writer(db)
    try:
        ids = rng.sample(range(1, 3001), 120)
        for call_id in ids[:60]:  # verdicts recorded days later, and changed again
            conn.execute(
                "UPDATE calls SET disposition = ? WHERE id = ?", (rng.choice(DISPOSITIONS), call_id)
            )
        for call_id in ids[60:80]:  # screening columns and the start moved
            conn.execute(
                "UPDATE calls SET challenge_result = ?, reached_operator = 1 - reached_operator,"
                " line_seconds = 12.5 WHERE id = ?",
                (rng.choice(RESULTS), call_id),
            )
        for call_id in ids[80:90]:
            moved = START + rng.random() * SPAN_DAYS * 86_400
            conn.execute(
                "UPDATE calls SET started_ts = ?, started_at = ? WHERE id = ?",
                (moved, iso_at(moved, WIB), call_id),
            )
        conn.execute(f"DELETE FROM calls WHERE id IN ({', '.join(map(str, ids[90:]))})")
        _insert(conn, [_random_row(rng, call_id) for call_id in range(5000, 5100)])
    finally:
        conn.close()
    assert 0 < len(_dirty(db)) <= SPAN_DAYS + 10
    _assert_exact(db)  # some days from the rollup, the changed ones live
    conn = _writer(db)
    try:
        some = rollup.dirty_days(conn)[::2]
        for day in some:  # a part refreshed, as a report's time budget leaves it
            conn.execute("BEGIN IMMEDIATE")
            rollup.refresh_day(conn, day)
            conn.execute("COMMIT")
    finally:
        conn.close()
    _assert_exact(db)
    _refresh(db)
    _assert_exact(db)


def test_the_top_repeaters_come_from_the_kept_numbers_when_they_prove_the_lead(
    db: Path,
) -> None:
    _fill(db, 3000, 31)
    _refresh(db)
    conn = _writer(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM daily_callers").fetchone()[0] > 0
        proved = rollup.top_callers(conn, *EVER, 1)
        assert proved is not None  # the busiest number leads by far
        assert [row[1] for row in proved] == [r.calls for r in top_repeaters(conn, *EVER, 1)]
        assert rollup.top_callers(conn, *EVER, 20) is None  # the 20th: too close to call
    finally:
        conn.close()
    _assert_exact(db)


def _call_at(call_id: int, caller: str, day: int, minute: int) -> tuple[object, ...]:
    started = START + day * 86_400 + 3600 + minute * 60
    return (call_id, "line1", caller, iso_at(started, WIB), started,
            "pass", "default", None, 1, "prank", 30.0)  # fmt: skip


def test_each_numbers_own_bound_proves_leaders_kept_on_only_half_their_days(db: Path) -> None:
    """Twenty numbers call 3 times on even days (kept) and twice on odd days (not kept):
    from the kept days alone each has 45 of its 75 calls, and the 30 days' `caller_rest`
    add up to 60, so the sum over all days proves nothing. A number's own bound (2 on
    each of its 15 unkept days) does: the leaders are counted, and 60 quiet numbers with
    10 calls each cannot reach 75."""
    rows: list[tuple[object, ...]] = []
    for day in range(30):
        for leader in range(20):
            for minute in range(3 if day % 2 == 0 else 2):
                rows.append(_call_at(len(rows) + 1, f"+6281100{leader:05d}", day, minute))
        for quiet in range(day % 6 * 10, day % 6 * 10 + 10):
            for minute in range(2):
                rows.append(_call_at(len(rows) + 1, f"+6281900{quiet:05d}", day, minute))
    conn = _writer(db)
    try:
        _insert(conn, rows)
    finally:
        conn.close()
    _refresh(db)
    conn = _writer(db)
    try:
        month = (START, START + 30 * 86_400)
        proved = rollup.top_callers(conn, *month, 20)
        assert proved is not None
        assert [row[1] for row in proved] == [75] * 20
        assert [row[0] for row in proved] == [f"+6281100{leader:05d}" for leader in range(20)]
        assert [tuple(row) for row in proved] == [
            (r.caller, r.calls, r.junk, r.genuine, r.reached_operator, r.first_ts, r.last_ts)
            for r in top_repeaters(_row_by_row(db), *month, 20)
        ]
    finally:
        conn.close()


def test_the_call_log_writer_archiving_a_month_stays_exact(db: Path) -> None:
    _fill(db, 800, 7)
    _refresh(db)
    log = CallLog(db, timezone="Asia/Jakarta")
    log.open(now_ts=START + 100 * 86_400)
    try:
        for offset in (5, 25, 45):  # the call log's own rows, a verdict recorded later
            call_id = log.new_call_id()
            started = START + offset * 86_400 + 3600
            log.call_started(call_id, {"line": "line1", "started_ts": started, "decision": "pass"})
            log.call_updated(call_id, {"ended_ts": started + 30, "line_seconds": 30.0})
            log.record_disposition(call_id, "ghost", "op1", started + 5 * 86_400)
        april = datetime(2024, 4, 1, tzinfo=WIB).timestamp()
        may = datetime(2024, 5, 1, tzinfo=WIB).timestamp()
        log.archive_month("2024-04", april, may, START + 100 * 86_400, month_figures)
        assert log.flush(10.0)
    finally:
        log.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute(
            "SELECT COUNT(*) FROM calls WHERE started_ts >= ? AND started_ts < ?", (april, may)
        ).fetchone() == (0,)
        assert "2024-04" in archived_months(conn, *EVER)
    finally:
        conn.close()
    _assert_exact(db)  # April's days dirty and empty, the month from monthly_figures
    _refresh(db)
    _assert_exact(db)
    conn = sqlite3.connect(db)
    try:
        april_days = conn.execute(
            "SELECT COUNT(*) FROM daily_figures WHERE day LIKE '2024-04-%'"
        ).fetchone()[0]
    finally:
        conn.close()
    assert april_days <= 2  # only rows written in another zone's April 30 may be left


def test_a_restored_backup_reads_its_own_figures(db: Path, tmp_path: Path) -> None:
    _fill(db, 600, 11)
    _refresh(db)
    backup = tmp_path / "backup.db"
    live = sqlite3.connect(db)
    saved = sqlite3.connect(backup)
    live.backup(saved)
    saved.close()
    live.execute("UPDATE calls SET disposition = 'prank' WHERE id % 3 = 0")
    live.execute("DELETE FROM calls WHERE id % 7 = 0")
    live.commit()
    _refresh(db)
    restored = sqlite3.connect(backup)
    restored.backup(live)  # as the web UI restores: the backup API over the live file
    restored.close()
    live.close()
    _assert_exact(db)


def test_the_migration_builds_the_figures_of_calls_already_logged(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    from sqlite_utils import Database

    old = Database(conn, execute_plugins=False)
    migration.apply(old, stop_before="0017_daily_figures")
    assert not rollup.has_rollup(conn)
    rng = random.Random(5)
    _insert(conn, [_random_row(rng, call_id) for call_id in range(1, 900)])
    conn.commit()
    assert "0017_daily_figures" in apply_migrations(old)
    conn.close()
    assert _dirty(path) == []  # built, not merely marked
    _assert_exact(path)


def test_an_old_database_without_the_rollup_is_read_row_by_row(db: Path) -> None:
    _fill(db, 300, 13)
    plain = _row_by_row(db)
    try:
        assert not rollup.has_rollup(plain)
        result = report(plain, since_ts=EVER[0], until_ts=EVER[1], period="month")
        assert result.totals["calls"] == 300
    finally:
        plain.close()


def _marked_after(db: Path, statement: str, *params: object) -> list[str]:
    conn = _writer(db)
    try:
        rollup.refresh(conn, budget_s=None)
        assert rollup.dirty_days(conn) == []
        conn.execute(statement, params)
        return rollup.dirty_days(conn)
    finally:
        conn.close()


def test_each_trigger_marks_the_day_it_changes(db: Path) -> None:
    day = datetime(2024, 4, 9, 10, tzinfo=WIB).timestamp()
    row = (
        1,
        "line1",
        "+6281200000001",
        iso_at(day, WIB),
        day,
        "pass",
        "default",
        None,
        1,
        None,
        9.0,
    )
    conn = _writer(db)
    _insert(conn, [row])
    assert rollup.dirty_days(conn) == ["2024-04-09"]
    conn.close()
    late = "UPDATE calls SET disposition = 'prank' WHERE id = 1"
    assert _marked_after(db, late) == ["2024-04-09"]
    # A column no report counts marks nothing: the trigger stays off the common path.
    assert _marked_after(db, "UPDATE calls SET line = 'line2', operator = 'op' WHERE id = 1") == []
    # The same value written again (the call log's upserts) marks nothing either.
    assert _marked_after(db, "UPDATE calls SET disposition = 'prank' WHERE id = 1") == []
    moved = datetime(2024, 4, 11, 10, tzinfo=WIB).timestamp()
    assert _marked_after(
        db,
        "UPDATE calls SET started_ts = ?, started_at = ? WHERE id = 1",
        moved,
        iso_at(moved, WIB),
    ) == ["2024-04-09", "2024-04-11"]
    assert _marked_after(db, "DELETE FROM calls WHERE id = 1") == ["2024-04-11"]
    conn = _writer(db)
    try:
        rollup.refresh(conn, budget_s=None)
        assert conn.execute("SELECT COUNT(*) FROM daily_figures").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM daily_days").fetchone() == (0,)
    finally:
        conn.close()


@pytest.mark.parametrize(
    "trigger", ["daily_dirty_insert", "daily_dirty_update", "daily_dirty_delete"]
)
def test_without_its_trigger_the_rollup_goes_wrong(db: Path, trigger: str) -> None:
    """The equality checks above would catch a missing trigger: here each one is dropped
    and the report differs from the rows' figures after the change it should have marked."""
    _fill(db, 400, 17)
    _refresh(db)
    conn = _writer(db)
    try:
        conn.execute(f"DROP TRIGGER {trigger}")
        if trigger == "daily_dirty_insert":
            rng = random.Random(3)
            _insert(conn, [_random_row(rng, call_id) for call_id in range(5000, 5050)])
        elif trigger == "daily_dirty_update":
            conn.execute("UPDATE calls SET disposition = 'genuine:crime' WHERE id % 4 = 0")
        else:
            conn.execute("DELETE FROM calls WHERE id % 4 = 0")
    finally:
        conn.close()
    with pytest.raises(AssertionError):
        _assert_exact(db)


def test_refresh_leaves_today_and_stops_at_its_budget(db: Path) -> None:
    _fill(db, 500, 19)
    conn = _writer(db)
    try:
        days = rollup.dirty_days(conn)
        today = days[len(days) // 2]
        ticks = iter(range(1000))
        done = rollup.refresh(conn, before_day=today, budget_s=4.5, clock=lambda: next(ticks))
        assert done == 4  # the clock moves a second a look: the fifth look is past 4.5 s
        rollup.refresh(conn, before_day=today, budget_s=None)
        assert rollup.dirty_days(conn) == [day for day in days if day >= today]
    finally:
        conn.close()


def test_a_read_only_database_is_not_refreshed_and_stays_exact(db: Path) -> None:
    _fill(db, 300, 23)
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
    try:
        assert rollup.try_refresh(conn, before_day="2100-01-01") == 0
    finally:
        conn.close()
    assert _dirty(db) != []
    _assert_exact(db)


def test_daylight_saving_days_are_split_exactly(db: Path) -> None:
    """A call log in New York (23- and 25-hour days) read in Jakarta and in New York."""
    zone = ZoneInfo("America/New_York")
    rng = random.Random(29)
    base = datetime(2024, 3, 1, tzinfo=zone)
    rows = []
    for call_id in range(1, 700):
        started = (base + timedelta(hours=rng.random() * 24 * 60)).timestamp()
        row = list(_random_row(rng, call_id))
        row[3], row[4] = iso_at(started, zone), started
        rows.append(tuple(row))
    conn = _writer(db)
    _insert(conn, rows)
    conn.close()
    _refresh(db)
    _assert_exact(db)
