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
import logging
import sqlite3
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
MISSING_CALLS_MAX = 200  # a number's calls on days it was not kept, looked up day by day
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


def _natural_label(day: str, period: Period) -> str:
    return day if period == "day" else day[:7]


def _plan(
    conn: sqlite3.Connection, periods: Sequence[tuple[str, float, float]]
) -> tuple[_Plan, list[float]]:
    starts = [start for _, start, _ in periods]
    first_ts, last_ts = periods[0][1], periods[-1][2]
    dirty = {str(row[0]) for row in conn.execute(f"SELECT day FROM {DIRTY_TABLE}")}
    plan = _Plan({}, [])
    for day, first, last in conn.execute(
        f"SELECT day, first_ts, last_ts FROM {DAYS_TABLE} WHERE last_ts >= ? AND first_ts < ?",
        (first_ts, last_ts),
    ):
        day, first, last = str(day), float(first), float(last)
        if day in dirty:
            continue  # below, with its full window
        index = bisect.bisect_right(starts, first) - 1
        if index >= 0 and first >= first_ts and last < periods[index][2]:
            plan.whole[day] = periods[index][0]
            plan.extents[day] = (first, last)
        else:
            plan.live.append(_Window(day, first, last))
    for day in dirty:
        window = _dirty_window(conn, day)  # the same snapshot: never None
        if window is not None and window.hi >= first_ts and window.lo < last_ts:
            plan.live.append(window)
    return plan, starts


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


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


def _stored_callers(
    conn: sqlite3.Connection,
    days: Sequence[str],
    into: dict[str, list[float]],
    kept_days: dict[str, int],
) -> int:
    """The whole days' kept numbers into `into`, and on how many of those days each was
    kept into `kept_days`; returns the most calls a number not kept may have made over
    those days (the sum of their `caller_rest`)."""
    rest = 0
    for chunk in _chunks(days):
        marks = _marks(chunk)
        rows = _tuples(
            conn,
            f"SELECT caller, SUM(calls), SUM(junk), SUM(genuine), SUM(reached),"
            f" MIN(first_ts), MAX(last_ts), COUNT(*) FROM {CALLERS_TABLE}"
            f" WHERE day IN ({marks}) GROUP BY caller",
            chunk,
        )
        for *figures, kept in rows:
            kept_days[figures[0]] = kept_days.get(figures[0], 0) + kept
            _merge(into, [figures])
        found = conn.execute(
            f"SELECT TOTAL(caller_rest) FROM {DAYS_TABLE} WHERE day IN ({marks})", chunk
        ).fetchone()[0]
        rest += int(found)
    return rest


_CALLER_FIGURES = (
    "SELECT COUNT(*), TOTAL(disposition IN ('prank', 'ghost')),"
    " TOTAL(substr(disposition, 1, 8) = 'genuine:'), TOTAL(reached_operator),"
    " MIN(started_ts), MAX(started_ts) FROM calls WHERE caller = ?"
)


def _missing_days(
    conn: sqlite3.Connection, caller: str, plan: _Plan, into: list[float]
) -> list[float]:
    """Add one number's calls on the whole days it was not kept (fewer than 3 calls
    there): a few rows a day, each day found on the `(caller, started_ts)` index."""
    kept: set[str] = set()
    for chunk in _chunks(list(plan.whole)):
        sql = f"SELECT day FROM {CALLERS_TABLE} WHERE day IN ({_marks(chunk)}) AND caller = ?"
        kept.update(row[0] for row in _tuples(conn, sql, (*chunk, caller)))
    sql = f"{_CALLER_FIGURES} AND started_ts >= ? AND started_ts <= ? AND {DAY_SQL} = ?"
    for day, (first, last) in plan.extents.items():
        if day not in kept:
            found = _tuples(conn, sql, (caller, first, last, day)).fetchone()
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
    span: tuple[float, float],
) -> Caller:
    """One number's figures in the range, where it made `count` calls: `partial` when it
    holds every call; else `partial` with its calls of the days it was not kept, when
    those are few; else counted from its rows."""
    figures = list(partial)
    if count != figures[0] and count - figures[0] <= MISSING_CALLS_MAX:
        figures = _missing_days(conn, caller, plan, figures)
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
    partial: dict[str, list[float]] = {}
    for window in plan.live:
        live_span = (max(since_ts, window.lo), until_ts, window.hi, window.day)
        _merge(partial, _tuples(conn, _LIVE_CALLERS, live_span))
    kept_days: dict[str, int] = {}
    rest = _stored_callers(conn, list(plan.whole), partial, kept_days)
    upper = _upper_bounds(partial, kept_days, plan, rest)
    if rest and rest >= _at_rank(sorted(upper.values(), reverse=True), limit):
        return None  # a number not seen may be among the leaders whatever the counts
    threshold = _at_rank(sorted((found[0] for found in partial.values()), reverse=True), limit)
    span = (since_ts, until_ts)
    counts = _leading_counts(conn, partial, upper, threshold, limit, span)
    if counts is None or (rest and rest >= _at_rank([count for _, count in counts], limit)):
        return None  # a number not seen may have as many calls as the last leader
    exact = [
        _exact_caller(conn, caller, count, partial[caller], plan, span) for caller, count in counts
    ]
    exact.sort(key=lambda item: (-item[1], item[0]))
    return exact[:limit]


def _at_rank(descending: Sequence[float], rank: int) -> float:
    """The `rank`-th value (1-based) of a descending list; 0 when it is shorter."""
    return descending[rank - 1] if len(descending) >= rank else 0


def _upper_bounds(
    partial: dict[str, list[float]], kept_days: dict[str, int], plan: _Plan, rest: int
) -> dict[str, float]:
    """The most calls each seen number may have made in the range: its calls counted so
    far, plus at most `CALLER_MIN_CALLS - 1` on each whole day it was not kept (and never
    more than `rest` in all)."""
    whole = len(plan.whole)
    most_unkept = CALLER_MIN_CALLS - 1
    return {
        caller: found[0] + min(rest, most_unkept * (whole - kept_days.get(caller, 0)))
        for caller, found in partial.items()
    }


def _leading_counts(
    conn: sqlite3.Connection,
    partial: dict[str, list[float]],
    upper: dict[str, float],
    threshold: float,
    limit: int,
    span: tuple[float, float],
) -> list[tuple[str, int]] | None:
    """The numbers that lead, with their exact counts: candidates are counted in order of
    their upper bound, until no number left could reach the `limit`-th count. None when
    more than `TOP_CHECKED_MAX` would have to be counted."""
    candidates = sorted(
        (caller for caller in partial if upper[caller] >= threshold),
        key=lambda caller: (-upper[caller], caller),
    )
    counted: list[tuple[str, int]] = []
    for caller in candidates:
        if len(counted) >= limit and upper[caller] < counted[limit - 1][1]:
            break  # neither this number nor any after it can reach the leaders
        if len(counted) >= TOP_CHECKED_MAX:
            return None
        counted.append((caller, _count_calls(conn, caller, span)))
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


__all__ = [
    "DAY_SQL",
    "Caller",
    "Group",
    "dirty_days",
    "has_rollup",
    "period_groups",
    "refresh",
    "refresh_day",
    "top_callers",
    "try_refresh",
]
