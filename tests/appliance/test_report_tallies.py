"""The per-day figures counted by SQLite (`rollup.period_tallies`, the reports' way to read
whole days) give what counting the call rows gives, also off the usual path: values
with quotes, a value SQL cannot write (a NUL: the groups are folded instead), more
values than a tally counts, and a day whose recorded calls are fewer than its groups'
(the packed counts would spill: the days are read again, a count an aggregate)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from appliance.report import _REPORT_SUMS, REPORT_TALLIES, period_bounds
from appliance.store import rollup
from tests.appliance.test_rollup import (
    WIB,
    _assert_exact,
    _fill,
    _insert,
    _random_row,
    _refresh,
    _writer,
    db,
)
from web_ui.reports.categories import CATEGORY_TALLIES

__all__ = ["db"]  # the fixture, shared with test_rollup


def _odd_rows(values: list[str | None], column: int, seed: int) -> list[tuple[object, ...]]:
    """Random calls, each with one of `values` in `column` (of `test_rollup.COLUMNS`);
    their ids from `seed`'s ten thousand on."""
    rng = random.Random(seed)
    rows = []
    first = 10_000 * (seed + 1)
    for call_id in range(first, first + 40 * len(values)):
        row = list(_random_row(rng, call_id))
        row[column] = values[call_id % len(values)]
        rows.append(tuple(row))
    return rows


def _add(path: Path, rows: list[tuple[object, ...]]) -> None:
    conn = _writer(path)
    try:
        _insert(conn, rows)
    finally:
        conn.close()


def _tallied(path: Path) -> dict[str, rollup.Tallied] | None:
    conn = sqlite3.connect(path)
    try:
        first, last = conn.execute("SELECT MIN(started_ts), MAX(started_ts) FROM calls").fetchone()
        bounds = list(period_bounds(first, last + 1, "day", WIB))
        tallies = (*REPORT_TALLIES, *CATEGORY_TALLIES[1:])
        return rollup.period_tallies(conn, bounds, tallies, _REPORT_SUMS)
    finally:
        conn.close()


DISPOSITION, REASON = 9, 6  # columns of `test_rollup.COLUMNS`


def test_values_with_quotes_are_counted_in_sql(db: Path) -> None:
    _fill(db, 1500, 41)
    quoted = ["genuine:o'brien", "it's odd", "'", "''", 'say "hi"', "genuine:fire", None]
    _add(db, _odd_rows(quoted, DISPOSITION, 1) + _odd_rows(["o'clock", "x'"], REASON, 2))
    _refresh(db)
    assert _tallied(db) is not None  # counted by SQLite, not folded
    _assert_exact(db)


def test_a_value_sql_cannot_write_is_folded_from_the_groups(db: Path) -> None:
    _fill(db, 1500, 43)
    _add(db, _odd_rows(["bad\x00verdict", "prank"], DISPOSITION, 3))
    _refresh(db)
    assert _tallied(db) is None
    _assert_exact(db)


def test_more_values_than_a_tally_counts_are_folded_from_the_groups(db: Path) -> None:
    _fill(db, 1000, 47)
    many = [f"verdict_{n}" for n in range(rollup.TALLY_VALUES_MAX + 5)]
    _add(db, _odd_rows(many, DISPOSITION, 5))
    _refresh(db)
    assert _tallied(db) is None
    _assert_exact(db)


def test_days_with_fewer_calls_recorded_than_counted_are_read_unpacked(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`daily_days.calls` sets how many bits each packed count gets: were it short (it is
    not, the two are written together), a count would spill into the next; the day's
    calls show it and the days are read again with a count an aggregate."""
    _fill(db, 3000, 53)
    _refresh(db)
    conn = _writer(db)
    try:
        conn.execute("UPDATE daily_days SET calls = 1")
    finally:
        conn.close()
    read_with: list[int] = []
    read = rollup._read_tallies

    def recorded(*args: Any) -> Any:
        read_with.append(args[-1])
        return read(*args)

    monkeypatch.setattr(rollup, "_read_tallies", recorded)
    assert _tallied(db) is not None
    assert read_with[0] == 1 and read_with[-1] == rollup.PACK_BITS
    _assert_exact(db)


def test_tallies_are_read_in_one_snapshot_with_live_days(db: Path) -> None:
    _fill(db, 1200, 59)
    _refresh(db)
    _add(db, _odd_rows(["genuine:late", None], DISPOSITION, 7))  # dirty again: live
    tallied = _tallied(db)
    assert tallied is not None
    assert any(period.groups for period in tallied.values())
    assert any(period.counts for period in tallied.values())
    _assert_exact(db)
