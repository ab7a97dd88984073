"""Per-day figures of the call log, so that a report reads days instead of call rows.

Every report (`appliance.report`, the web UI's reports page, its centre's categories,
`siaga report`) counts calls grouped by disposition, decision, reason, challenge result
and whether the call reached an operator, with their line-seconds. Counting the rows of a
range costs about a microsecond a row: a month of a 10 M-row log took 0.5 s, the whole log
13 s. Here the same groups are kept per local day (migration 0017), a hundred rows or so
a day whatever the traffic, and a report adds those up.

**Tables.**
- `daily_figures`: one row per day and (disposition, decision, reason, challenge_result,
  reached_operator) group of the calls that day: `calls` (COUNT) and `line_seconds`
  (TOTAL); `n` numbers the groups of a day (the key, `(day, n)`, keeps a day's rows
  together). NULLs are kept as NULLs: they are counted under their own columns.
- `daily_days`: one row per day with calls: `first_ts`, `last_ts` (the earliest and
  latest `started_ts`), `calls`, and `caller_rest`, the most calls any number not in
  `daily_callers` made that day (0 to 2).
- `daily_callers`: the numbers that called at least `CALLER_MIN_CALLS` (3) times that
  day, with what the top repeaters show (calls, junk, genuine, reached an operator,
  first and last start). Only the busy numbers: a few hundred a day in the benchmark's
  10 M-row log, where keeping every number would copy most of `calls`.
- `daily_dirty`: the days whose rows changed since their figures were computed, with
  `lo_ts`/`hi_ts`, the earliest and latest `started_ts` written for that day since.

**The day** of a call is the date prefix of `calls.started_at` (ISO 8601 with the site
zone's offset, so it is the local day the call log saw): a trigger can compute it, where
a zone's rules cannot be. Rows without `started_ts` are in no report and in no day.

**Kept exact by triggers** on `calls`: every INSERT, every DELETE, and every UPDATE that
changes a counted column (or the start) marks the row's day dirty (and the old day, when
the start moved), in the writer's own transaction: an upsert of one small row that writes
nothing when the day is already marked and the start already inside its `lo_ts`..`hi_ts`.
Nothing else is computed on the call path. `refresh` (a writer: the web UI before each
report, the line service every hour, the benchmark's builder) recomputes dirty days from
`calls`, each day in one short transaction, and clears their mark in it. Until a day is
refreshed, `period_groups` counts it from the call rows itself, so a report is exact
whatever was refreshed: a verdict an operator records days later, a month that retention
archived (its rows deleted: the days become dirty, then empty), a restored backup (its
rollup is the backup's own, consistent with its calls, or migration 0017 builds it).
Today is always dirty while calls come in, so today's figures are always counted live;
`refresh` leaves the current day alone.

**Finding a day's rows** needs no assumption about zones: every row of a day lies within
its `daily_days` extent (when its figures were computed) or within the `daily_dirty`
`lo_ts`..`hi_ts` (written since), both on the `started_ts` index.

**Reading.** A report's periods are local days or months of the report's zone. A clean
day whose extent lies inside one period is added from `daily_figures` (one `GROUP BY`
over the rollup for all such days); a dirty day, and a day that straddles a period or the
range's bounds (a zone other than the one the call log wrote, a range starting mid-day),
is counted from its call rows within each period it meets, restricted to that day. So
each call is counted once, in the period its `started_ts` falls in, as row by row.
`period_groups` gives the groups themselves; the reports read `period_tallies`, where
SQLite adds up the whole days' groups by the values that decide a figure (calls by
disposition, by decision and reason, by challenge result...: `Tally`), a day per row
with a few counts packed to an integer, and Python folds those few hundred counts
instead of the groups (a year by day is 28,000 groups: folded twice in Python they took
110 ms; counted so about 30 ms).

**Top repeaters** (`top_callers`): the kept numbers of the range's clean days plus every
number of its live days give each number a lower bound. A number not kept on a day made
at most 2 calls there, so a seen number is at most 2 per whole day it was not kept above
its bound, and a number never seen at most the sum of the days' `caller_rest`. The
numbers whose upper bound reaches the leaders are counted exactly on the `(caller,
started_ts)` index, the highest bound first, until no number left can reach the
`limit`-th count; the leaders' figures are completed from their rows on the days they
were not kept. When the bounds prove nothing (a quiet centre, whose top numbers call a
few times a month), the range's rows are grouped by number as before: the answer is the
same list either way.
"""

from __future__ import annotations

import bisect
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger(__name__)

FIGURES_TABLE = "daily_figures"
DAYS_TABLE = "daily_days"
DIRTY_TABLE = "daily_dirty"
CALLERS_TABLE = "daily_callers"
CALLER_MIN_CALLS = 3  # a number is kept per day from this many calls that day on
TOP_CHECKED_MAX = 400  # numbers checked one by one for the top repeaters, at most
# The day of a call row, as the triggers and every query compute it.
DAY_SQL = "ifnull(substr(started_at, 1, 10), '')"
GROUP_COLUMNS = "disposition, decision, reason, challenge_result, reached_operator"
REFRESH_BUDGET_S = 0.25  # a report's refresh stops after this; the rest is counted live
_IN_CHUNK = 900  # days per `IN (...)` list, under SQLite's smallest variable limit

# (disposition, decision, reason, challenge_result, reached_operator, calls, line_seconds)
Group = tuple[str | None, str | None, str | None, str | None, int | None, int, float]
Period = Literal["day", "month"]

_LIVE_QUERY = f"""
    SELECT {GROUP_COLUMNS}, COUNT(*), TOTAL(line_seconds)
    FROM calls
    WHERE started_ts >= ? AND started_ts < ? AND started_ts <= ? AND {DAY_SQL} = ?
    GROUP BY {GROUP_COLUMNS}
"""
_REFRESH_FIGURES = f"""
    INSERT INTO {FIGURES_TABLE} (day, n, {GROUP_COLUMNS}, calls, line_seconds)
    SELECT ?, row_number() OVER (), {GROUP_COLUMNS}, COUNT(*), TOTAL(line_seconds)
    FROM calls
    WHERE started_ts >= ? AND started_ts <= ? AND {DAY_SQL} = ?
    GROUP BY {GROUP_COLUMNS}
"""
_CALLER_SQL = f"""
    SELECT caller, COUNT(*) AS calls,
           TOTAL(disposition IN ('prank', 'ghost')) AS junk,
           TOTAL(substr(disposition, 1, 8) = 'genuine:') AS genuine,
           TOTAL(reached_operator) AS reached,
           MIN(started_ts) AS first_ts, MAX(started_ts) AS last_ts
    FROM calls
    WHERE started_ts >= ? AND started_ts {{upper}} ? AND started_ts <= ? AND {DAY_SQL} = ?
          AND caller IS NOT NULL
    GROUP BY caller
"""
_REFRESH_CALLERS = f"""
    INSERT INTO {CALLERS_TABLE}
        (day, caller, calls, junk, genuine, reached, first_ts, last_ts)
    SELECT ?, * FROM ({_CALLER_SQL.format(upper="<=")}) WHERE calls >= {CALLER_MIN_CALLS}
"""
_REFRESH_DAY = f"""
    INSERT INTO {DAYS_TABLE} (day, first_ts, last_ts, calls, caller_rest)
    SELECT ?, MIN(started_ts), MAX(started_ts), COUNT(*),
           (SELECT ifnull(MAX(calls), 0) FROM ({_CALLER_SQL.format(upper="<=")})
            WHERE calls < {CALLER_MIN_CALLS})
    FROM calls
    WHERE started_ts >= ? AND started_ts <= ? AND {DAY_SQL} = ?
    HAVING COUNT(*) > 0
"""
# The live part of the top repeaters: a day's calls in the range, by number.
_LIVE_CALLERS = _CALLER_SQL.format(upper="<")


@dataclass(frozen=True, slots=True)
class _Window:
    """Where a day's rows may lie: started_ts in [lo, hi], both inclusive."""

    day: str
    lo: float
    hi: float


def has_rollup(conn: sqlite3.Connection) -> bool:
    """Whether the database has the rollup (migration 0017); older ones are read row by row."""
    tables = (FIGURES_TABLE, DAYS_TABLE, DIRTY_TABLE, CALLERS_TABLE)
    found = conn.execute(
        f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ({_marks(tables)})",
        tables,
    ).fetchone()[0]
    return int(found) == len(tables)


# ------------------------------------------------------------------ writing


def _dirty_window(conn: sqlite3.Connection, day: str) -> _Window | None:
    """The window of a dirty day: its old extent joined with what was written since."""
    dirty = conn.execute(f"SELECT lo_ts, hi_ts FROM {DIRTY_TABLE} WHERE day = ?", (day,)).fetchone()
    if dirty is None:
        return None
    lo, hi = float(dirty[0]), float(dirty[1])
    known = conn.execute(
        f"SELECT first_ts, last_ts FROM {DAYS_TABLE} WHERE day = ?", (day,)
    ).fetchone()
    if known is not None:
        lo, hi = min(lo, float(known[0])), max(hi, float(known[1]))
    return _Window(day, lo, hi)


def refresh_day(conn: sqlite3.Connection, day: str) -> bool:
    """Recompute one dirty day's figures from `calls` and clear its mark, in the caller's
    transaction (hold the write lock: a row written in between would be lost). False
    when the day was not dirty."""
    window = _dirty_window(conn, day)
    if window is None:
        return False
    for table in (FIGURES_TABLE, DAYS_TABLE, CALLERS_TABLE):
        conn.execute(f"DELETE FROM {table} WHERE day = ?", (day,))
    span = (window.lo, window.hi, window.hi, day)
    conn.execute(_REFRESH_FIGURES, (day, window.lo, window.hi, day))
    conn.execute(_REFRESH_CALLERS, (day, *span))
    conn.execute(_REFRESH_DAY, (day, *span, window.lo, window.hi, day))
    conn.execute(f"DELETE FROM {DIRTY_TABLE} WHERE day = ?", (day,))
    return True


def dirty_days(conn: sqlite3.Connection, before_day: str | None = None) -> list[str]:
    """The days marked dirty (all, or only those before `before_day`), oldest first."""
    if before_day is None:
        found = conn.execute(f"SELECT day FROM {DIRTY_TABLE} ORDER BY day")
    else:
        found = conn.execute(
            f"SELECT day FROM {DIRTY_TABLE} WHERE day < ? ORDER BY day", (before_day,)
        )
    return [str(row[0]) for row in found]


def refresh(
    conn: sqlite3.Connection,
    *,
    before_day: str | None = None,
    budget_s: float | None = REFRESH_BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Recompute dirty days, each in its own `BEGIN IMMEDIATE` transaction (so the call
    log's writer waits at most one day's recomputation); return how many were done.

    `before_day` (`YYYY-MM-DD`): leave that day and later ones dirty (today, still being
    written, is counted live anyway). `budget_s`: stop starting new days after this long;
    None for no limit. The connection must be in autocommit mode (no transaction open).
    """
    started = clock()
    done = 0
    for day in dirty_days(conn, before_day):
        if budget_s is not None and clock() - started > budget_s:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            done += refresh_day(conn, day)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    if done:
        logger.debug("rollup: %d day(s) recomputed", done)
    return done


def try_refresh(conn: sqlite3.Connection, *, before_day: str) -> int:
    """`refresh` for a reader that may also write (the web UI's request connection): a
    read-only or busy database is logged and left as it is (reports stay exact, only
    slower). Returns the days recomputed."""
    try:
        return refresh(conn, before_day=before_day)
    except sqlite3.OperationalError as exc:
        logger.info("rollup not refreshed, reports count dirty days live: %s", exc)
        return 0


# ------------------------------------------------------------------ reading


@dataclass
class _Plan:
    """How each day of a range is counted."""

    whole: dict[str, str]  # clean day inside one period -> that period's label
    live: list[_Window]  # days counted from their call rows
    extents: dict[str, tuple[float, float]] = field(default_factory=dict)  # whole days'
    most_calls: int = 0  # the most calls of any whole day (`daily_days.calls`)


def _natural_label(day: str, period: Period) -> str:
    return day if period == "day" else day[:7]


def _plan(
    conn: sqlite3.Connection, periods: Sequence[tuple[str, float, float]]
) -> tuple[_Plan, list[float]]:
    starts = [start for _, start, _ in periods]
    first_ts, last_ts = periods[0][1], periods[-1][2]
    dirty = {str(row[0]) for row in conn.execute(f"SELECT day FROM {DIRTY_TABLE}")}
    plan = _Plan({}, [])
    for day, first, last, calls in conn.execute(
        f"SELECT day, first_ts, last_ts, {DAYS_TABLE}.calls FROM {DAYS_TABLE}"
        " WHERE last_ts >= ? AND first_ts < ?",
        (first_ts, last_ts),
    ):
        day, first, last = str(day), float(first), float(last)
        if day in dirty:
            continue  # below, with its full window
        index = bisect.bisect_right(starts, first) - 1
        if index >= 0 and first >= first_ts and last < periods[index][2]:
            plan.whole[day] = periods[index][0]
            plan.extents[day] = (first, last)
            plan.most_calls = max(plan.most_calls, int(calls))
        else:
            plan.live.append(_Window(day, first, last))
    for day in dirty:
        window = _dirty_window(conn, day)  # the same snapshot: never None
        if window is not None and window.hi >= first_ts and window.lo < last_ts:
            plan.live.append(window)
    return plan, starts


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    size = max(1, size)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _tuples(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
    """`sql`'s rows as plain tuples, whatever the connection's row factory (faster)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, params)


def _add_whole_days(
    conn: sqlite3.Connection, plan: _Plan, period: Period, out: dict[str, list[Group]]
) -> None:
    """Clean days inside one period, from `daily_figures`: a day's rows as they are for a
    daily report, summed by SQL per month for a monthly one."""
    regular = [day for day, label in plan.whole.items() if _natural_label(day, period) == label]
    columns = f"{GROUP_COLUMNS}, calls, line_seconds"
    if period == "month":
        select = f"substr(day, 1, 7), {GROUP_COLUMNS}, SUM(calls), TOTAL(line_seconds)"
        grouped = " GROUP BY 1, 2, 3, 4, 5, 6"
    else:
        select, grouped = f"day, {columns}", ""
    for days in _chunks(regular):
        sql = f"SELECT {select} FROM {FIGURES_TABLE} WHERE day IN ({_marks(days)}){grouped}"
        for row in _tuples(conn, sql, days):
            out.setdefault(row[0], []).append(row[1:])
    odd = [day for day, label in plan.whole.items() if _natural_label(day, period) != label]
    for days in _chunks(odd):  # written in another zone than the report's: rare
        sql = f"SELECT day, {columns} FROM {FIGURES_TABLE} WHERE day IN ({_marks(days)})"
        for row in _tuples(conn, sql, days):
            out.setdefault(plan.whole[row[0]], []).append(row[1:])


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" * len(items))


# ------------------------------------------------------------------ top repeaters


Caller = tuple[str, int, float, float, float, float, float]  # as `_CALLER_SQL` gives


def _merge(into: dict[str, list[float]], rows: Iterable[Sequence[Any]]) -> None:
    """Add per-number partial figures (calls, junk, genuine, reached, first, last)."""
    for caller, calls, junk, genuine, reached, first, last in rows:
        found = into.get(caller)
        if found is None:
            into[caller] = [calls, junk, genuine, reached, first, last]
        else:
            _merge_one(found, (calls, junk, genuine, reached, first, last))


def _kept_counts(
    conn: sqlite3.Connection, days: Sequence[str]
) -> tuple[dict[str, int], dict[str, int], int]:
    """Each number kept on the whole days `days`: its calls there and on how many of
    those days it was kept; and the most calls a number not kept may have made over those
    days (the sum of their `caller_rest`). Only what the bounds need: the leaders' other
    figures are read for them alone (`_kept_figures`), half the cost of this query."""
    calls: dict[str, int] = {}
    kept_days: dict[str, int] = {}
    rest = 0
    for chunk in _chunks(days):
        marks = _marks(chunk)
        rows = _tuples(
            conn,
            f"SELECT caller, SUM(calls), COUNT(*) FROM {CALLERS_TABLE}"
            f" WHERE day IN ({marks}) GROUP BY caller",
            chunk,
        )
        for caller, count, kept in rows:
            calls[caller] = calls.get(caller, 0) + count
            kept_days[caller] = kept_days.get(caller, 0) + kept
        found = conn.execute(
            f"SELECT TOTAL(caller_rest) FROM {DAYS_TABLE} WHERE day IN ({marks})", chunk
        ).fetchone()[0]
        rest += int(found)
    return calls, kept_days, rest


def _kept_figures(
    conn: sqlite3.Connection, plan: _Plan, callers: Sequence[str]
) -> dict[str, tuple[list[float], set[str]]]:
    """`callers`' figures (calls, junk, genuine, reached, first, last) over the whole days
    they were kept on, and those days."""
    out: dict[str, tuple[list[float], set[str]]] = {}
    for days in _chunks(list(plan.whole)):
        for chunk in _chunks(callers, _IN_CHUNK - len(days)):
            sql = (
                "SELECT caller, SUM(calls), SUM(junk), SUM(genuine), SUM(reached),"
                f" MIN(first_ts), MAX(last_ts), json_group_array(day) FROM {CALLERS_TABLE}"
                f" WHERE day IN ({_marks(days)}) AND caller IN ({_marks(chunk)}) GROUP BY caller"
            )
            for caller, *figures, kept in _tuples(conn, sql, (*days, *chunk)):
                found = out.get(caller)
                if found is None:
                    out[caller] = (figures, set(json.loads(kept)))
                else:
                    _merge_one(found[0], figures)
                    found[1].update(json.loads(kept))
    return out


_CALLER_FIGURES = (
    "SELECT COUNT(*), TOTAL(disposition IN ('prank', 'ghost')),"
    " TOTAL(substr(disposition, 1, 8) = 'genuine:'), TOTAL(reached_operator),"
    " MIN(started_ts), MAX(started_ts) FROM calls WHERE caller = ?"
)


_WINDOWS_CHUNK = 300  # days per statement: three parameters each
# A number's calls on some whole days (day, first, last): each day's rows found on the
# `(caller, started_ts)` index, the days in one statement.
_DAYS_FIGURES = f"""
    SELECT COUNT(*), TOTAL(c.disposition IN ('prank', 'ghost')),
           TOTAL(substr(c.disposition, 1, 8) = 'genuine:'), TOTAL(c.reached_operator),
           MIN(c.started_ts), MAX(c.started_ts)
    FROM (VALUES {{windows}}) AS w CROSS JOIN calls AS c
    WHERE c.caller = ? AND c.started_ts >= w.column2 AND c.started_ts <= w.column3
          AND {DAY_SQL.replace("started_at", "c.started_at")} = w.column1
"""


def _missing_days(
    conn: sqlite3.Connection,
    caller: str,
    windows: Sequence[tuple[str, float, float]],
    into: list[float],
) -> list[float]:
    """Add one number's calls on the whole days `windows` (day, first, last) it was not
    kept on (fewer than 3 calls each): a few rows a day, found on the index."""
    for start in range(0, len(windows), _WINDOWS_CHUNK):
        chunk = windows[start : start + _WINDOWS_CHUNK]
        sql = _DAYS_FIGURES.format(windows=", ".join(["(?, ?, ?)"] * len(chunk)))
        params = [value for window in chunk for value in window]
        found = _tuples(conn, sql, (*params, caller)).fetchone()
        if found[0]:
            _merge_one(into, found)
    return into


def _merge_one(into: list[float], found: Sequence[Any]) -> None:
    calls, junk, genuine, reached, first, last = found
    into[0] += calls
    into[1] += junk
    into[2] += genuine
    into[3] += reached
    into[4] = min(into[4], first)
    into[5] = max(into[5], last)


def _exact_caller(
    conn: sqlite3.Connection,
    caller: str,
    count: int,
    partial: list[float],
    plan: _Plan,
    kept: set[str],
    span: tuple[float, float],
) -> Caller:
    """One number's figures in the range, where it made `count` calls: `partial` when it
    holds every call; else `partial` with its calls of the whole days it was not kept on
    (all but `kept`; at most 2 a day, fewer rows than all of its calls, found day by day
    in one statement); else (when those do not add up) counted from its rows."""
    figures = list(partial)
    if count != figures[0]:
        unkept = [(day, *plan.extents[day]) for day in plan.whole if day not in kept]
        figures = _missing_days(conn, caller, unkept, figures)
    if count != figures[0]:
        where = " AND started_ts >= ? AND started_ts < ?"
        figures = list(_tuples(conn, _CALLER_FIGURES + where, (caller, *span)).fetchone())
    calls, junk, genuine, reached, first, last = figures
    return (caller, int(calls), junk, genuine, reached, first, last)


def _count_calls(conn: sqlite3.Connection, caller: str, span: tuple[float, float]) -> int:
    """One number's calls in the range: a count on the `(caller, started_ts)` index."""
    sql = "SELECT COUNT(*) FROM calls WHERE caller = ? AND started_ts >= ? AND started_ts < ?"
    return int(conn.execute(sql, (caller, *span)).fetchone()[0])


def top_callers(
    conn: sqlite3.Connection, since_ts: float, until_ts: float, limit: int
) -> list[Caller] | None:
    """The `limit` numbers with the most calls in [since_ts, until_ts), most first (ties
    by number), with (calls, junk, genuine, reached, first_ts, last_ts); None when the
    per-day figures cannot prove which they are (count the rows instead).

    Whole clean days give each number kept that day (3 calls or more); dirty days and
    days cut by the range give every number, from their rows. A seen number has at most
    `CALLER_MIN_CALLS - 1` uncounted calls on each whole day it was not kept; a number not
    seen at most the sum of `caller_rest` over the whole days (`rest`). The seen numbers
    whose bound reaches the leaders are counted on the `(caller, started_ts)` index, the
    highest bound first; once the `limit`-th count is above `rest` and above every bound
    left, the leaders are proved. Busy numbers make the proof easy (the benchmark's log: a
    year of 2 M rows in about 60 ms, where grouping its rows takes a second); a quiet
    centre's top numbers call a few times a month, and there the rows are few.
    """
    if limit <= 0 or not since_ts < until_ts:
        return []
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")
    try:
        return _top_callers(conn, since_ts, until_ts, limit)
    finally:
        if began:
            conn.execute("COMMIT")


def _top_callers(
    conn: sqlite3.Connection, since_ts: float, until_ts: float, limit: int
) -> list[Caller] | None:
    plan, _ = _plan(conn, [("", since_ts, until_ts)])
    live: dict[str, list[float]] = {}
    for window in plan.live:
        live_span = (max(since_ts, window.lo), until_ts, window.hi, window.day)
        _merge(live, _tuples(conn, _LIVE_CALLERS, live_span))
    kept_calls, kept_days, rest = _kept_counts(conn, list(plan.whole))
    seen = {caller: found[0] for caller, found in live.items()}  # calls counted so far
    for caller, calls in kept_calls.items():
        seen[caller] = seen.get(caller, 0) + calls
    upper = _upper_bounds(seen, kept_days, plan, rest)
    if rest and rest >= _at_rank(sorted(upper.values(), reverse=True), limit):
        return None  # a number not seen may be among the leaders whatever the counts
    threshold = _at_rank(sorted(seen.values(), reverse=True), limit)
    span = (since_ts, until_ts)
    counts = _leading_counts(conn, seen, upper, threshold, limit, span)
    if counts is None or (rest and rest >= _at_rank([count for _, count in counts], limit)):
        return None  # a number not seen may have as many calls as the last leader
    stored = _kept_figures(conn, plan, [caller for caller, _ in counts])
    partial = {caller: list(live[caller]) for caller, _ in counts if caller in live}
    _merge(partial, [(caller, *figures) for caller, (figures, _) in stored.items()])
    exact = []
    for caller, count in counts:
        kept = stored[caller][1] if caller in stored else set()
        exact.append(_exact_caller(conn, caller, count, partial[caller], plan, kept, span))
    exact.sort(key=lambda item: (-item[1], item[0]))
    return exact[:limit]


def _at_rank(descending: Sequence[float], rank: int) -> float:
    """The `rank`-th value (1-based) of a descending list; 0 when it is shorter."""
    return descending[rank - 1] if len(descending) >= rank else 0


def _upper_bounds(
    seen: dict[str, float], kept_days: dict[str, int], plan: _Plan, rest: int
) -> dict[str, float]:
    """The most calls each seen number may have made in the range: its calls counted so
    far, plus at most `CALLER_MIN_CALLS - 1` on each whole day it was not kept (and never
    more than `rest` in all)."""
    whole = len(plan.whole)
    most_unkept = CALLER_MIN_CALLS - 1
    return {
        caller: calls + min(rest, most_unkept * (whole - kept_days.get(caller, 0)))
        for caller, calls in seen.items()
    }


def _leading_counts(
    conn: sqlite3.Connection,
    seen: dict[str, float],
    upper: dict[str, float],
    threshold: float,
    limit: int,
    span: tuple[float, float],
) -> list[tuple[str, int]] | None:
    """The numbers that lead, with their exact counts: candidates are counted in order of
    their upper bound, until no number left could reach the `limit`-th count. None when
    more than `TOP_CHECKED_MAX` would have to be counted."""
    candidates = sorted(
        (caller for caller in seen if upper[caller] >= threshold),
        key=lambda caller: (-upper[caller], caller),
    )
    counted: list[tuple[str, int]] = []
    for caller in candidates:
        if len(counted) >= limit and upper[caller] < counted[limit - 1][1]:
            break  # neither this number nor any after it can reach the leaders
        if len(counted) >= TOP_CHECKED_MAX:
            return None
        # A bound no greater than the calls seen is the count: the number was kept on
        # every whole day (or no other number called on them); else count its rows.
        exact = upper[caller] <= seen[caller]
        counted.append((caller, int(seen[caller]) if exact else _count_calls(conn, caller, span)))
        counted.sort(key=lambda item: (-item[1], item[0]))
    return counted[:limit]


def _add_live_days(
    conn: sqlite3.Connection,
    windows: Sequence[_Window],
    periods: Sequence[tuple[str, float, float]],
    starts: Sequence[float],
    out: dict[str, list[Group]],
) -> None:
    """Dirty or straddling days: their call rows, split by period."""
    for window in windows:
        index = max(0, bisect.bisect_right(starts, window.lo) - 1)
        while index < len(periods) and periods[index][1] <= window.hi:
            label, from_ts, to_ts = periods[index]
            span = (max(from_ts, window.lo), to_ts, window.hi, window.day)
            out.setdefault(label, []).extend(_tuples(conn, _LIVE_QUERY, span))
            index += 1


def period_groups(
    conn: sqlite3.Connection, periods: Sequence[tuple[str, float, float]], period: Period
) -> dict[str, list[Group]]:
    """The groups of calls of each period, by label: what `GROUP BY disposition, decision,
    reason, challenge_result, reached_operator` over each period's rows gives, possibly
    split into several groups with the same key (add them up).

    `periods`: (label, from_ts, to_ts) in time order, contiguous, as `period_bounds`
    gives them; `period` says how the labels are made (`day`: `YYYY-MM-DD`, `month`:
    `YYYY-MM`). Read in one transaction, so the rollup and the dirty marks agree.
    """
    if not periods:
        return {}
    out: dict[str, list[Group]] = {}
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")  # one snapshot: a refresh between two reads changes nothing
    try:
        plan, starts = _plan(conn, periods)
        _add_whole_days(conn, plan, period, out)
        _add_live_days(conn, plan.live, periods, starts, out)
    finally:
        if began:
            conn.execute("COMMIT")
    return out


# ------------------------------------------------------------------ tallies


Value = tuple[Any, ...]  # a tally's value: one per column, in order
PACK_BITS = 63  # the bits of a SQLite integer a packed sum may fill (the sign left alone)
TALLY_VALUES_MAX = 48  # more values than this in one tally: the caller folds groups
LEARNED_MAX = 32  # values a learned tally keeps between reads, at most


@dataclass(frozen=True)
class Tally:
    """Calls counted by the values of `columns` (group columns: `GROUP_COLUMNS`) among the
    groups `where` keeps (SQL over a group's columns; empty: every group).

    `values`: the values counted, each on its own; calls of any other value are in no
    count. None: every value the groups hold (`period_tallies` finds them). `total`: also
    every call `where` keeps, whatever its value (always so when `values` is None)."""

    name: str
    columns: tuple[str, ...]
    where: str = ""
    values: tuple[Value, ...] | None = None
    total: bool = False

    @property
    def counts_total(self) -> bool:
        """Whether the tally's total is counted."""
        return self.total or self.values is None

    def total_sql(self) -> str:
        """The aggregate of the calls `where` keeps."""
        return f"SUM(CASE WHEN {self.where} THEN calls END)" if self.where else "SUM(calls)"


@dataclass(slots=True)
class Tallied:
    """One period: the caller's `sums` and each tally's total (`totals`, by tally name) and
    calls by value (`counts`, by tally name and value; only values with calls) over its
    whole clean days, and its other days' groups, counted from their rows (`period_groups`'
    groups: fold them as before). Flat, tuples and plain dicts: a year by day holds 366 of
    them through the report, and fewer objects keep the garbage collector's rounds short."""

    sums: tuple[Any, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)
    counts: dict[tuple[str, Value], int] = field(default_factory=dict)
    groups: Sequence[Group] = ()


_learned: dict[tuple[str, tuple[str, ...], str], tuple[Value, ...]] = {}
_learned_lock = threading.Lock()


def _sql_text(value: object) -> str | None:
    """`value` as a SQL string literal; None when it cannot be one (not text, a NUL)."""
    if not isinstance(value, str) or "\x00" in value:
        return None
    return "'" + value.replace("'", "''") + "'"


def _value_order(value: Value) -> tuple[tuple[bool, str], ...]:
    return tuple((part is not None, str(part)) for part in value)


def _case(
    columns: Sequence[str], cases: Sequence[tuple[Value, str]], other: str | None = None
) -> str | None:
    """A nested CASE over `columns` giving each value's expression, and `other` (else
    NULL) for any other value: one comparison of each column at a time, NULL last. None:
    a value SQL cannot compare."""
    if not cases:
        return other or "NULL"
    otherwise = f" ELSE {other}" if other is not None else ""
    firsts: dict[object, list[tuple[Value, str]]] = {}
    for value, expression in cases:
        firsts.setdefault(value[0], []).append((value[1:], expression))
    whens: list[str] = []
    when_null = None
    for first, rest in firsts.items():
        inner = rest[0][1] if len(columns) == 1 else _case(columns[1:], rest, other)
        if inner is None:
            return None
        if first is None:
            when_null = inner
            continue
        literal = _sql_text(first)
        if literal is None:
            return None
        whens.append(f"WHEN {literal} THEN {inner}")
    if when_null is not None:
        null_case = f"CASE WHEN {columns[0]} IS NULL THEN {when_null}{otherwise} END"
        if not whens:
            return null_case
        otherwise = f" ELSE {null_case}"
    return f"CASE {columns[0]} {' '.join(whens)}{otherwise} END"


@dataclass(frozen=True)
class _Pack:
    """One aggregate of a tally: up to `per` values' counts side by side in an integer."""

    tally: str
    column: int  # in the query's row, after the day
    keys: tuple[tuple[str, Value], ...]  # each value's in `Tallied.counts`, in order
    other: bool = False  # then one more count: the calls of every other value


@dataclass
class _TallyQuery:
    """The aggregates one query gives for each whole day, and where each result goes."""

    aggregates: list[str]
    sums: list[int]  # the caller's sums' columns
    totals: dict[str, int]  # tally -> its total's column
    packs: list[_Pack]

    def add(self, sql: str) -> int:
        """The column of the aggregate `sql` (each one computed once)."""
        if sql not in self.aggregates:
            self.aggregates.append(sql)
        return self.aggregates.index(sql) + 1


def _tally_query(
    tallies: Sequence[Tally], values: dict[str, tuple[Value, ...]], sums: Sequence[str], bits: int
) -> _TallyQuery | None:
    """The aggregates of `tallies` and `sums`. With `bits` < 63, a tally's counts are
    packed `PACK_BITS // bits` to an integer, `bits` apiece: each day's count of a value
    is below `1 << bits` (the caller checks the day's calls), so no count spills into the
    next. Packing does what matters here: a query costs about its aggregates over the
    days' rows (SQLite runs each one per row), so a year by day reads 28,000 rows in about
    15 aggregates instead of 40. None: a value SQL cannot count."""
    query = _TallyQuery([], [], {}, [])
    query.add("SUM(calls)")  # first: the day's calls, which bound every count
    query.sums = [query.add(sql) for sql in sums]
    per = PACK_BITS // bits if bits < PACK_BITS else 1
    for tally in tallies:
        counted = values[tally.name]
        # A total beside values that leave room in one integer: the other values' calls
        # in the room left (the total, their sum), not an aggregate of its own.
        other = tally.counts_total and len(counted) < per
        if tally.counts_total and not other:
            query.totals[tally.name] = query.add(tally.total_sql())
        for start in range(0, max(len(counted), 1 if other else 0), per):
            chunk = counted[start : start + per]
            cases = [(value, _shifted(bits * i)) for i, value in enumerate(chunk)]
            case = _case(tally.columns, cases, _shifted(bits * len(chunk)) if other else None)
            if case is None:
                return None
            sql = f"SUM(CASE WHEN {tally.where} THEN {case} END)" if tally.where else f"SUM({case})"
            keys = tuple((tally.name, value) for value in chunk)
            query.packs.append(_Pack(tally.name, query.add(sql), keys, other))
    return query


def _shifted(shift: int) -> str:
    return f"(calls << {shift})" if shift else "calls"


def _values(tally: Tally) -> tuple[Value, ...]:
    if tally.values is not None:
        return tally.values
    with _learned_lock:
        return _learned.get((tally.name, tally.columns, tally.where), ())


def _learn(
    conn: sqlite3.Connection, tally: Tally, days: Sequence[str], known: tuple[Value, ...]
) -> tuple[Value, ...] | None:
    """Every value `tally` finds in the whole days `days`, with `known`; remembered for the
    next read when there are few. None: too many, or one SQL cannot compare."""
    found = set(known)
    where = f" AND ({tally.where})" if tally.where else ""
    for chunk in _chunks(days):
        sql = (
            f"SELECT DISTINCT {', '.join(tally.columns)} FROM {FIGURES_TABLE}"
            f" WHERE day IN ({_marks(chunk)}){where}"
        )
        found.update(tuple(row) for row in _tuples(conn, sql, chunk))
    if len(found) > TALLY_VALUES_MAX or any(
        part is not None and _sql_text(part) is None for value in found for part in value
    ):
        return None
    values = tuple(sorted(found, key=_value_order))
    if len(values) <= LEARNED_MAX:
        with _learned_lock:
            _learned[(tally.name, tally.columns, tally.where)] = values
    return values


_DayTally = tuple[str, tuple[Any, ...], dict[str, int], dict[tuple[str, Value], int]]


def _packed_sum(packed: int, bits: int) -> int:
    """The sum of the counts packed `bits` apiece in `packed`."""
    if bits >= PACK_BITS:
        return packed
    total, mask = 0, (1 << bits) - 1
    while packed:
        total += packed & mask
        packed >>= bits
    return total


class _Spilled(Exception):
    """A day had more calls than a packed count's bits hold (`daily_days` undercounted)."""


def _read_tallies(
    conn: sqlite3.Connection, days: Sequence[str], query: _TallyQuery, bits: int
) -> list[_DayTally]:
    """(day, sums, totals, counts) of each whole day in `days`."""
    out: list[_DayTally] = []
    selected = ", ".join(query.aggregates)
    mask = (1 << bits) - 1
    packed_counts = bits < PACK_BITS
    for chunk in _chunks(days):
        sql = (
            f"SELECT day, {selected} FROM {FIGURES_TABLE}"
            f" WHERE day IN ({_marks(chunk)}) GROUP BY day"
        )
        try:
            rows = _tuples(conn, sql, chunk).fetchall()
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
            raise _Spilled from exc  # a sum past 63 bits: only when counts spilled
        for row in rows:
            if packed_counts and (row[1] or 0) > mask:
                raise _Spilled
            totals = {name: row[column] or 0 for name, column in query.totals.items()}
            counts: dict[tuple[str, Value], int] = {}
            for pack in query.packs:
                packed = row[pack.column] or 0
                if pack.other:
                    totals[pack.tally] = totals.get(pack.tally, 0) + _packed_sum(packed, bits)
                for key in pack.keys:
                    if not packed:
                        break
                    count = packed & mask
                    if count:
                        counts[key] = counts.get(key, 0) + count
                    packed >>= bits
            sums = tuple(row[column] or 0 for column in query.sums)
            out.append((str(row[0]), sums, totals, counts))
    return out


def _tally_days(
    conn: sqlite3.Connection,
    days: Sequence[str],
    tallies: Sequence[Tally],
    sums: Sequence[str],
    most_calls: int,
) -> list[_DayTally] | None:
    """Each whole day's sums and tallies; a tally of every value learns the values it
    misses (its total is more than its counts) and the days are read again. None: a
    tally SQL cannot count (the caller folds the groups)."""
    values = {tally.name: _values(tally) for tally in tallies}
    bits = max(1, most_calls.bit_length())
    for _ in range(3):
        query = _tally_query(tallies, values, sums, bits)
        if query is None:
            return None
        try:
            found = _read_tallies(conn, days, query, bits)
        except _Spilled:  # never in practice: then one count an aggregate
            bits = PACK_BITS
            continue
        missing = [
            tally
            for tally in tallies
            if tally.values is None
            and any(
                totals.get(tally.name, 0)
                > sum(n for (name, _), n in counts.items() if name == tally.name)
                for _, _, totals, counts in found
            )
        ]
        if not missing:
            return found
        for tally in missing:
            learned = _learn(conn, tally, days, values[tally.name])
            if learned is None:
                return None
            values[tally.name] = learned
    return None


def period_tallies(
    conn: sqlite3.Connection,
    periods: Sequence[tuple[str, float, float]],
    tallies: Sequence[Tally],
    sums: Sequence[str] = (),
) -> dict[str, Tallied] | None:
    """Each period's calls, by label, as `period_groups` would give them but counted by
    SQLite over the whole clean days: `sums` (aggregates over a group's columns, `calls`
    and `line_seconds`: SUM or TOTAL, so that days add up) and `tallies`; the other days'
    groups as they are. None: a tally's values SQL cannot count (fold `period_groups`).

    Read per day (`GROUP BY day`, in the key's order: no sort) and added up by period
    here, in one transaction. A year by day is 28,000 groups: folded in Python they took
    110 ms, read here about 30 ms. A tally of every value (`Tally.values` None) counts
    the values it learnt in earlier reads; when its total shows more calls than that, the
    days' other values are looked up and the days read again."""
    if not periods:
        return {}
    names = [tally.name for tally in tallies]
    if len(set(names)) != len(names):
        raise ValueError(f"two tallies of the same name: {names}")
    out: dict[str, Tallied] = {}
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")  # one snapshot: the plan, the days and the live rows agree
    try:
        plan, starts = _plan(conn, periods)
        found = _tally_days(conn, list(plan.whole), tallies, sums, plan.most_calls)
        if found is None:
            return None
        for day, day_sums, totals, counts in found:
            period = out.get(plan.whole[day])
            if period is None:
                out[plan.whole[day]] = Tallied(day_sums, totals, counts)
                continue
            period.sums = tuple(
                mine + value for mine, value in zip(period.sums, day_sums, strict=True)
            )
            for name, total in totals.items():
                period.totals[name] = period.totals.get(name, 0) + total
            for key, count in counts.items():
                period.counts[key] = period.counts.get(key, 0) + count
        live: dict[str, list[Group]] = {}
        _add_live_days(conn, plan.live, periods, starts, live)
        for label, groups in live.items():
            period = out.setdefault(label, Tallied((0,) * len(sums)))
            period.groups = [*period.groups, *groups]
    finally:
        if began:
            conn.execute("COMMIT")
    return out


__all__ = [
    "DAY_SQL",
    "Caller",
    "Group",
    "Tallied",
    "Tally",
    "dirty_days",
    "has_rollup",
    "period_groups",
    "period_tallies",
    "refresh",
    "refresh_day",
    "top_callers",
    "try_refresh",
]
