"""The centre's figures from the call log: daily or monthly tables, CSV, top repeaters.

The centre reports total, valid, valid by kind, prank and ghost per month; docs/domain.md
(R16) adds screening outcomes and line-seconds by class, with both valid and junk counts
(Serang's own reports leave junk out). Periods are local days or months (WIB by default),
so a call at 2024-04-30T23:30+07:00 belongs to April and one at 2024-04-30T17:30Z to 1 May.

The kinds are the centre's own (`site.genuine_kinds`): one `valid_<kind>` column each, in
the configured order, then one for every other kind the period's calls carry (a kind
since dropped from the configuration, a replayed scenario's), sorted. A kind is reported
as itself, never folded into `other`, and the `valid` total counts every genuine call.

Every function only reads. The periods' figures come from the per-day figures of
migration 0017 (`appliance.store.rollup`): a clean day is a few rows of `daily_figures`,
a day changed since its figures were computed (today, a late verdict) is counted from its
call rows; the counts are those of a `GROUP BY` over the period's rows, which is still
how a database from before that migration is read (`_period_row`, also what retention
archives). So a report costs about the days of its range, not its calls: a year of a
10 M-row log by month in tens of ms (docs/benchmarks.md). The top repeaters come from the
numbers kept per day when those prove which numbers lead, else from the range's rows.
Period boundaries are computed with `zoneinfo`, so any
zone, with or without daylight saving, gives correct local periods.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.model import (
    DEFAULT_GENUINE_KINDS,
    GENUINE_PREFIX,
    JUNK_DISPOSITIONS,
    Action,
    ChallengeResult,
    Reason,
    genuine_kind,
    is_kind,
)
from appliance.store import rollup
from appliance.store.rollup import Group

logger = logging.getLogger(__name__)

Period = Literal["day", "month"]
DEFAULT_TIMEZONE = "Asia/Jakarta"
TOTAL_LABEL = "total"
TOP_REPEATERS_LIMIT = 20  # docs/domain.md R16 and M6: top-20 repeat numbers

PLAIN_DISPOSITIONS: tuple[str, ...] = ("info", "prank", "ghost", "wrong_number")
SCREEN_ACTIONS: tuple[str, ...] = (Action.CHALLENGE, Action.ANNOUNCE, Action.REJECT)
REASONS: frozenset[str] = frozenset(reason.value for reason in Reason)
OTHER = "other"  # a reason, action or disposition this version does not know
KIND_COLUMN_PREFIX = "valid_"


def kind_columns(kinds: Sequence[str]) -> tuple[str, ...]:
    """`valid_<kind>` for each kind, in order."""
    return tuple(f"{KIND_COLUMN_PREFIX}{kind}" for kind in kinds)


def kind_of_column(column: str) -> str | None:
    """The kind a `valid_<kind>` column counts; None for any other column."""
    if not column.startswith(KIND_COLUMN_PREFIX):
        return None
    kind = column.removeprefix(KIND_COLUMN_PREFIX)
    return kind if is_kind(kind) else None


# Column order is part of the CSV format: append new columns, never reorder. The kind
# columns sit after `valid`; these are the default configuration's.
KIND_COLUMNS: tuple[str, ...] = kind_columns(DEFAULT_GENUINE_KINDS)
SCREEN_COLUMNS: tuple[str, ...] = tuple(
    f"{action}_{reason}" for action in SCREEN_ACTIONS for reason in (*Reason, OTHER)
)
CHALLENGE_COLUMNS: tuple[str, ...] = tuple(f"challenge_{result}" for result in ChallengeResult)
_FIXED_COUNT_COLUMNS: tuple[str, ...] = (
    *PLAIN_DISPOSITIONS,
    "other_disposition",
    "no_disposition",
    "reached_operator",
    "screened",
    *SCREEN_COLUMNS,
    "screened_other",
    *CHALLENGE_COLUMNS,
)
SECONDS_COLUMNS: tuple[str, ...] = ("line_s_genuine", "line_s_junk", "line_s_other")


def count_columns(kinds: Sequence[str] = DEFAULT_GENUINE_KINDS) -> tuple[str, ...]:
    """Every count column of a report on `kinds`, in CSV order."""
    return ("calls", "valid", *kind_columns(kinds), *_FIXED_COUNT_COLUMNS)


def report_columns(kinds: Sequence[str] = DEFAULT_GENUINE_KINDS) -> tuple[str, ...]:
    """The CSV header of a report on `kinds`: `period`, the counts, the seconds."""
    return ("period", *count_columns(kinds), *SECONDS_COLUMNS)


COUNT_COLUMNS: tuple[str, ...] = count_columns()
COLUMNS: tuple[str, ...] = report_columns()
# Columns a terminal table always shows; the rest only when the totals are non-zero.
TABLE_CORE_COLUMNS: frozenset[str] = frozenset(
    {"calls", "valid", "info", "prank", "ghost", "reached_operator", "screened", *SECONDS_COLUMNS}
)

_PERIOD_QUERY = """
    SELECT disposition, decision, reason, challenge_result,
           COUNT(*), TOTAL(reached_operator), TOTAL(line_seconds)
    FROM calls
    WHERE started_ts >= ? AND started_ts < ?{site}
    GROUP BY disposition, decision, reason, challenge_result
"""
# `_PERIOD_QUERY`'s groups split by reached_operator too, as the per-day figures keep them.
_GROUP_QUERY = f"""
    SELECT {rollup.GROUP_COLUMNS}, COUNT(*), TOTAL(line_seconds)
    FROM calls
    WHERE started_ts >= ? AND started_ts < ?{{site}}
    GROUP BY {rollup.GROUP_COLUMNS}
"""
# One aggregate each, so SQLite answers both from the started_ts index without a scan.
_FIRST_QUERY = "SELECT MIN(started_ts) FROM calls WHERE started_ts >= ? AND started_ts < ?{site}"
_LAST_QUERY = "SELECT MAX(started_ts) FROM calls WHERE started_ts >= ? AND started_ts < ?{site}"


def site_filter(site: str | None) -> tuple[str, tuple[str, ...]]:
    """The clause and parameter that keep one site's calls (a hub's database), or none.

    `+site`: the column is kept out of index choice, so SQLite reads the range through the
    `started_ts` index and checks the site on each row; given `site = ?` it picked the
    `(site, appliance, origin_id)` index and read the site's whole history to count one
    day (240 ms against 0.6 ms with 200,000 calls a site)."""
    return ("", ()) if site is None else (" AND +site = ?", (site,))


_REPEATERS_QUERY = """
    SELECT caller,
           COUNT(*) AS n,
           TOTAL(disposition IN ('prank', 'ghost')),
           TOTAL(substr(disposition, 1, 8) = 'genuine:'),
           TOTAL(reached_operator),
           MIN(started_ts),
           MAX(started_ts)
    FROM calls
    WHERE started_ts >= ? AND started_ts < ? AND caller IS NOT NULL{site}
    GROUP BY caller
    ORDER BY n DESC, caller
    LIMIT ?
"""


def _zero_figures(kinds: Sequence[str] = DEFAULT_GENUINE_KINDS) -> dict[str, float]:
    figures: dict[str, float] = dict.fromkeys(count_columns(kinds), 0)
    figures.update(dict.fromkeys(SECONDS_COLUMNS, 0.0))
    return figures


@dataclass
class ReportRow:
    """One period (or the totals): `figures` maps every column but `period` to its value.

    Counts are ints, `line_s_*` columns are seconds (floats). A row of a `Report` holds
    the same columns as every other row of it (`Report.columns`).
    """

    label: str
    figures: dict[str, float] = field(default_factory=_zero_figures)

    def __getitem__(self, column: str) -> float:
        return self.figures[column]

    def add(self, other: ReportRow) -> None:
        """Add another row's figures to this one (for totals)."""
        for column, value in other.figures.items():
            self.figures[column] = self.figures.get(column, 0) + value

    def found_kinds(self) -> set[str]:
        """The kinds this row counts at least one call of."""
        found = set()
        for column, value in self.figures.items():
            if value and column.startswith(KIND_COLUMN_PREFIX):
                kind = kind_of_column(column)
                if kind is not None:
                    found.add(kind)
        return found

    def keep_only(self, columns: Sequence[str]) -> None:
        """Exactly `columns` (the report's, `period` aside): missing ones are zero."""
        self.figures = {column: self.figures.get(column, 0) for column in columns}


@dataclass(frozen=True)
class Report:
    """A call report: one row per local period in [since_ts, until_ts), plus totals.

    `kinds`: the configured kinds, then any other kind the rows count (sorted).
    """

    period: Period
    timezone: str
    since_ts: float
    until_ts: float
    rows: list[ReportRow]
    totals: ReportRow
    kinds: tuple[str, ...] = DEFAULT_GENUINE_KINDS
    site: str | None = None  # one site of a province hub; None: every call

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV header: `period`, then every column of the rows' figures."""
        return report_columns(self.kinds)

    @property
    def kind_column_names(self) -> tuple[str, ...]:
        """`valid_<kind>` for each of `kinds`."""
        return kind_columns(self.kinds)


@dataclass(frozen=True)
class Repeater:
    """A caller number with its call count in the range and what those calls were."""

    caller: str
    calls: int
    junk: int
    genuine: int
    reached_operator: int
    first_ts: float
    last_ts: float


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None


def _period_start(day: date, period: Period) -> date:
    return day if period == "day" else day.replace(day=1)


def _next_period(start: date, period: Period) -> date:
    if period == "day":
        return start + timedelta(days=1)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _label(start: date, period: Period) -> str:
    return start.isoformat() if period == "day" else f"{start.year:04d}-{start.month:02d}"


def _local_midnight_ts(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def period_bounds(
    since_ts: float, until_ts: float, period: Period, zone: ZoneInfo
) -> Iterator[tuple[str, float, float]]:
    """(label, from_ts, to_ts) for each local period meeting [since_ts, until_ts)."""
    start = _period_start(datetime.fromtimestamp(since_ts, zone).date(), period)
    while (start_ts := _local_midnight_ts(start, zone)) < until_ts:
        following = _next_period(start, period)
        end_ts = _local_midnight_ts(following, zone)
        yield _label(start, period), max(since_ts, start_ts), min(until_ts, end_ts)
        start = following


def _disposition_column(disposition: str | None) -> tuple[str, str | None]:
    """(disposition column, valid-kind column or None) for one disposition value."""
    if disposition is None:
        return "no_disposition", None
    kind = genuine_kind(disposition)
    if kind is not None:
        # Every kind has a column of its own, configured or not. A kind that is no slug
        # (nothing writes one) cannot name a column: it is counted under "other".
        return "valid", f"{KIND_COLUMN_PREFIX}{kind if is_kind(kind) else OTHER}"
    if disposition in PLAIN_DISPOSITIONS:
        return disposition, None
    return "other_disposition", None


def _screen_column(decision: str, reason: str | None) -> str:
    if decision not in SCREEN_ACTIONS:
        return "screened_other"
    return f"{decision}_{reason if reason in REASONS else OTHER}"


def _line_class_column(disposition: str | None) -> str:
    if disposition is not None and disposition.startswith(GENUINE_PREFIX):
        return "line_s_genuine"
    if disposition in JUNK_DISPOSITIONS:
        return "line_s_junk"
    return "line_s_other"


@functools.lru_cache(maxsize=4096)
def _disposition_columns(disposition: str | None) -> tuple[str, ...]:
    """The count columns a call with `disposition` adds to, `calls` aside."""
    column, kind_column = _disposition_column(disposition)
    return (column,) if kind_column is None else (column, kind_column)


@functools.lru_cache(maxsize=4096)
def _screening_columns(decision: str | None, reason: str | None) -> tuple[str, ...]:
    """`screened` and the screening column a call of `decision` and `reason` adds to;
    none for a call passed to an operator (or with no decision)."""
    if decision is None or decision == Action.PASS:
        return ()
    return ("screened", _screen_column(decision, reason))


@functools.lru_cache(maxsize=4096)
def _challenge_columns(challenge: str | None) -> tuple[str, ...]:
    """The challenge result's column, if the report has one."""
    if challenge is None:
        return ()
    result_column = f"challenge_{challenge}"
    if result_column in CHALLENGE_COLUMNS:
        return (result_column,)
    logger.debug("unknown challenge result %r left out of the report", challenge)
    return ()


@functools.lru_cache(maxsize=4096)
def _group_columns(
    disposition: str | None, decision: str | None, reason: str | None, challenge: str | None
) -> tuple[tuple[str, ...], str]:
    """(count columns, line-seconds column) a (disposition, decision, reason,
    challenge_result) group adds to: the same for every group with that key."""
    columns = (
        "calls",
        *_disposition_columns(disposition),
        *_screening_columns(decision, reason),
        *_challenge_columns(challenge),
    )
    return columns, _line_class_column(disposition)


def _add_group(
    figures: dict[str, float],
    key: tuple[str | None, str | None, str | None, str | None],
    calls: int,
    reached: float,
    line_s: float,
) -> None:
    """Add `calls` calls of one (disposition, decision, reason, challenge_result) key."""
    columns, seconds_column = _group_columns(*key)
    for column in columns:
        figures[column] = figures.get(column, 0) + calls
    figures["reached_operator"] += int(reached)
    figures[seconds_column] += line_s


def _fold_group(
    figures: dict[str, float],
    group: tuple[str | None, str | None, str | None, str | None, int, float, float],
) -> None:
    """Add one (disposition, decision, reason, challenge_result) group to a period."""
    disposition, decision, reason, challenge_result, calls, reached, line_s = group
    _add_group(figures, (disposition, decision, reason, challenge_result), calls, reached, line_s)


def _fold_rolled(figures: dict[str, float], group: Group) -> None:
    """Add one group of `appliance.store.rollup` (reached_operator is part of its key)."""
    disposition, decision, reason, challenge_result, reached, calls, line_s = group
    key = (disposition, decision, reason, challenge_result)
    _add_group(figures, key, calls, (reached or 0) * calls, line_s)


# The report's figures of whole days, counted by SQLite (`rollup.period_tallies`): calls
# by disposition, by decision and reason when screened, by challenge result; which
# columns each value adds to stays the functions' above, as for a group.
# `disposition.startswith(GENUINE_PREFIX)`: the text between the prefix and the prefix
# with its last character the next one (BINARY collation compares code points).
_GENUINE_SQL = (
    f"(disposition >= '{GENUINE_PREFIX}'"
    f" AND disposition < '{GENUINE_PREFIX[:-1]}{chr(ord(GENUINE_PREFIX[-1]) + 1)}')"
)
_JUNK = sorted(JUNK_DISPOSITIONS)
_JUNK_SQL = " OR ".join(f"disposition = '{disposition}'" for disposition in _JUNK)
DISPOSITIONS = rollup.Tally("disposition", ("disposition",))  # its total: every call
SCREENING = rollup.Tally(
    "screening",
    ("decision", "reason"),
    where=f"decision IS NOT NULL AND decision != '{Action.PASS}'",  # its total: screened
)
CHALLENGES = rollup.Tally(
    "challenge", ("challenge_result",), values=tuple((result.value,) for result in ChallengeResult)
)
REPORT_TALLIES: tuple[rollup.Tally, ...] = (DISPOSITIONS, SCREENING, CHALLENGES)
# Reached an operator, and line-seconds by `_line_class_column`'s classes, in its order.
_REPORT_SUMS: tuple[str, ...] = (
    "SUM(calls * reached_operator)",
    f"TOTAL(CASE WHEN {_GENUINE_SQL} THEN line_seconds END)",
    f"TOTAL(CASE WHEN {_JUNK_SQL} THEN line_seconds END)",
    "TOTAL(CASE WHEN disposition IS NULL THEN line_seconds"
    f" WHEN {_JUNK_SQL} OR {_GENUINE_SQL} THEN NULL ELSE line_seconds END)",
)


def _fold_tallied(figures: dict[str, float], tallied: rollup.Tallied) -> None:
    """Add one period's tallied whole days and counted groups (`rollup.Tallied`)."""
    if tallied.sums:
        reached, genuine_s, junk_s, other_s = tallied.sums
        figures["calls"] += tallied.totals.get(DISPOSITIONS.name, 0)
        figures["reached_operator"] += int(reached)
        figures["line_s_genuine"] += genuine_s
        figures["line_s_junk"] += junk_s
        figures["line_s_other"] += other_s
    for (name, value), calls in tallied.counts.items():
        columns_of = _TALLIED_COLUMNS.get(name)
        if columns_of is not None:
            for column in columns_of(*value):
                figures[column] = figures.get(column, 0) + calls
    for group in tallied.groups:
        _fold_rolled(figures, group)


# The columns each of the report's tallies' values adds to (the others' are not its own).
_TALLIED_COLUMNS: dict[str, Callable[..., tuple[str, ...]]] = {
    DISPOSITIONS.name: _disposition_columns,
    SCREENING.name: _screening_columns,
    CHALLENGES.name: _challenge_columns,
}


def _period_row(
    conn: sqlite3.Connection,
    label: str,
    from_ts: float,
    to_ts: float,
    kinds: Sequence[str] = DEFAULT_GENUINE_KINDS,
    site: str | None = None,
) -> ReportRow:
    row = ReportRow(label, _zero_figures(kinds))
    clause, params = site_filter(site)
    for group in conn.execute(_PERIOD_QUERY.format(site=clause), (from_ts, to_ts, *params)):
        _fold_group(row.figures, group)
    return row


def period_figures(
    conn: sqlite3.Connection,
    bounds: Sequence[tuple[str, float, float]],
    period: Period,
    kinds: Sequence[str] = DEFAULT_GENUINE_KINDS,
    site: str | None = None,
    tallies: Sequence[rollup.Tally] = (),
    tallied_out: dict[str, rollup.Tallied] | None = None,
) -> dict[str, ReportRow]:
    """A row for each (label, from_ts, to_ts) of `bounds` (contiguous, as `period_bounds`
    gives them): from the per-day figures (`appliance.store.rollup`), or row by row on a
    database from before migration 0017 and for one `site` of a hub (the per-day figures
    count every site together). From the per-day figures, `tallies` are counted beside
    the report's own (`REPORT_TALLIES`) and every period's counts are put in `tallied_out`
    when given, by label, for another table of the same periods."""
    if not bounds or site is not None or not rollup.has_rollup(conn):
        return {
            label: _period_row(conn, label, from_ts, to_ts, kinds, site)
            for label, from_ts, to_ts in bounds
        }
    extra = [tally for tally in tallies if tally not in REPORT_TALLIES]
    tallied = rollup.period_tallies(conn, bounds, (*REPORT_TALLIES, *extra), _REPORT_SUMS)
    if tallied is None:  # values SQL cannot count (never written by Siaga): the groups
        groups = rollup.period_groups(conn, bounds, period)
        tallied = {label: rollup.Tallied(groups=found) for label, found in groups.items()}
    if tallied_out is not None:
        tallied_out.update(tallied)
    # Each row with the columns of every kind counted in any period, as `report` will
    # want them (`report_kinds`): then it has no row to make again in that order.
    found = _kinds_counted(tallied.values()) - set(kinds)
    row_kinds = (*kinds, *sorted(found))
    rows: dict[str, ReportRow] = {}
    for label, *_ in bounds:
        row = ReportRow(label, _zero_figures(row_kinds))
        if label in tallied:
            _fold_tallied(row.figures, tallied[label])
        rows[label] = row
    return rows


def _kinds_counted(periods: Iterable[rollup.Tallied]) -> set[str]:
    """The kinds whose columns the periods' calls add to."""
    dispositions: set[str | None] = set()
    for period in periods:
        dispositions.update(value[0] for name, value in period.counts if name == DISPOSITIONS.name)
        dispositions.update(group[0] for group in period.groups)
    found = set()
    for disposition in dispositions:
        for column in _disposition_columns(disposition):
            kind = kind_of_column(column)
            if kind is not None:
                found.add(kind)
    return found


def report_kinds(configured: Sequence[str], rows: Sequence[ReportRow]) -> tuple[str, ...]:
    """The configured kinds in order, then every other kind the rows count, sorted."""
    found: set[str] = set()
    usual = {*count_columns(configured), *SECONDS_COLUMNS}
    for row in rows:
        # Only a column beyond the configured ones can be another kind: a set difference
        # per row instead of every column's name (a year by day is 366 rows of 60).
        for column in row.figures.keys() - usual:
            kind = kind_of_column(column)
            if kind is not None and row.figures[column]:
                found.add(kind)
    return (*configured, *sorted(found - set(configured)))


def _totals(rows: Sequence[ReportRow], columns: tuple[str, ...], kinds: Sequence[str]) -> ReportRow:
    """The rows (each with exactly `columns`) added up, column by column; the line-seconds
    one after the other in the rows' order, as `ReportRow.add` adds them."""
    totals = ReportRow(TOTAL_LABEL, _zero_figures(kinds))
    figures = totals.figures
    for column in columns:
        if column in SECONDS_COLUMNS:
            total = figures[column]
            for row in rows:
                total += row.figures[column]
            figures[column] = total
        else:  # whole numbers: any order gives the same sum
            figures[column] = sum((row.figures[column] for row in rows), figures[column])
    return totals


def call_extent(
    conn: sqlite3.Connection, since_ts: float, until_ts: float, site: str | None = None
) -> tuple[float, float] | None:
    """(first started_ts, just past the last) of the calls in the range; None if none
    (also when the range's calls went between the two reads: retention archived them)."""
    clause, params = site_filter(site)
    span = (since_ts, until_ts, *params)
    first = conn.execute(_FIRST_QUERY.format(site=clause), span).fetchone()[0]
    if first is None:
        return None
    last = conn.execute(_LAST_QUERY.format(site=clause), span).fetchone()[0]
    if last is None:
        return None
    return float(first), float(last) + 1.0


def call_groups(
    conn: sqlite3.Connection, from_ts: float, to_ts: float, site: str | None = None
) -> list[Group]:
    """The calls started in [from_ts, to_ts) counted from their rows, grouped as the
    per-day figures group them (`appliance.store.rollup.Group`: disposition, decision,
    reason, challenge result, reached operator, calls, line-seconds); `site`: one site's
    of a hub's database."""
    clause, params = site_filter(site)
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples, as the per-day figures' groups
    groups: list[Group] = cursor.execute(
        _GROUP_QUERY.format(site=clause), (from_ts, to_ts, *params)
    ).fetchall()
    return groups


def sites(conn: sqlite3.Connection) -> list[str]:
    """The sites whose calls a province hub's database holds (none on an appliance)."""
    try:
        found = conn.execute("SELECT DISTINCT site FROM calls WHERE site IS NOT NULL")
    except sqlite3.OperationalError:  # a database from before the hub's migration
        return []
    return sorted(str(row[0]) for row in found)


def report(
    conn: sqlite3.Connection,
    *,
    since_ts: float,
    until_ts: float,
    period: Period,
    timezone: str = DEFAULT_TIMEZONE,
    kinds: Sequence[str] = DEFAULT_GENUINE_KINDS,
    site: str | None = None,
    tallies: Sequence[rollup.Tally] = (),
    tallied_out: dict[str, rollup.Tallied] | None = None,
) -> Report:
    """Figures per local day or month for calls started in [since_ts, until_ts).

    Rows run from the period of the first call in the range to the period of the last,
    every period in between included, so a daily report shows the quiet days too; an
    open-ended range (since 1970, until 2100) costs no empty rows. No calls: no rows.
    `kinds` are the configured kinds of genuine call (`site.genuine_kinds`). `site`: only
    that site's calls, on a province hub's database (`sites`); counted row by row, and
    without archived months, whose figures are every site's together. `tallies` and
    `tallied_out`: see `period_figures`.
    """
    if period not in ("day", "month"):
        raise ValueError(f"period must be 'day' or 'month', got {period!r}")
    if not since_ts < until_ts:
        raise ValueError("since_ts must be before until_ts")
    zone = _zone(timezone)
    rows: list[ReportRow] = []
    by_month = period == "month" and site is None
    archived = archived_months(conn, since_ts, until_ts) if by_month else {}
    extent = call_extent(conn, since_ts, until_ts, site)
    if archived:
        first_archived = min(row.from_ts for row in archived.values())
        last_archived = max(row.to_ts for row in archived.values())
        extent = (
            (min(extent[0], first_archived), max(extent[1], last_archived))
            if extent is not None
            else (first_archived, last_archived)
        )
    if extent is not None:
        bounds = list(period_bounds(*extent, period, zone))
        counted = period_figures(
            conn,
            [bound for bound in bounds if bound[0] not in archived],
            period,
            kinds,
            site,
            tallies,
            tallied_out,
        )
        rows = [
            archived[label].row if label in archived else counted[label] for label, *_ in bounds
        ]
    all_kinds = report_kinds(kinds, rows)
    columns = count_columns(all_kinds) + SECONDS_COLUMNS
    for row in rows:
        # An archived month carries the kinds of its day (zero ones too): same columns.
        if tuple(row.figures) != columns:
            row.keep_only(columns)
    totals = _totals(rows, columns, all_kinds)
    return Report(period, timezone, since_ts, until_ts, rows, totals, all_kinds, site)


@dataclass(frozen=True)
class ArchivedMonth:
    """A month whose call rows were removed, with the figures kept for it."""

    month: str
    from_ts: float
    to_ts: float
    row: ReportRow


def archived_months(
    conn: sqlite3.Connection, since_ts: float, until_ts: float
) -> dict[str, ArchivedMonth]:
    """Archived months (`monthly_figures`) lying within [since_ts, until_ts), by label."""
    try:
        found = conn.execute(
            "SELECT month, from_ts, to_ts, figures FROM monthly_figures"
            " WHERE from_ts >= ? AND to_ts <= ?",
            (since_ts, until_ts),
        ).fetchall()
    except sqlite3.OperationalError:  # a database from before migration 0009
        return {}
    months = {}
    for month, from_ts, to_ts, figures in found:
        # Figures archived by any version read: a column it lacks is zero, and its kind
        # columns (the kinds configured then) join the report's like any found kind.
        row = ReportRow(month, _zero_figures(()))
        row.figures.update({key: value for key, value in json.loads(figures).items()})
        months[month] = ArchivedMonth(month, float(from_ts), float(to_ts), row)
    return months


def month_figures(
    conn: sqlite3.Connection, month: str, from_ts: float, to_ts: float
) -> dict[str, float]:
    """The report figures of one month from its call rows (what retention archives,
    `CallLog.archive_month`): the default kinds' columns, and one for every other kind its
    calls carry."""
    return _period_row(conn, month, from_ts, to_ts).figures


def top_repeaters(
    conn: sqlite3.Connection,
    since_ts: float,
    until_ts: float,
    limit: int = TOP_REPEATERS_LIMIT,
    site: str | None = None,
) -> list[Repeater]:
    """The numbers with the most calls in [since_ts, until_ts); withheld calls excluded.

    From the per-day figures when they prove which numbers lead
    (`appliance.store.rollup.top_callers`), else (and for one `site` of a hub) by
    grouping the range's rows by number."""
    rolled = site is None and rollup.has_rollup(conn)
    found = rollup.top_callers(conn, since_ts, until_ts, limit) if rolled else None
    if found is None:
        clause, params = site_filter(site)
        query = _REPEATERS_QUERY.format(site=clause)
        found = conn.execute(query, (since_ts, until_ts, *params, limit)).fetchall()
    return [
        Repeater(caller, int(calls), int(junk), int(genuine), int(reached), first_ts, last_ts)
        for caller, calls, junk, genuine, reached, first_ts, last_ts in found
    ]


def _cell(column: str, value: float) -> str:
    if column in SECONDS_COLUMNS:
        return f"{value:.1f}"
    return str(int(value))


def _cells(row: ReportRow, columns: Sequence[str]) -> list[str]:
    return [row.label, *(_cell(column, row.figures[column]) for column in columns[1:])]


def report_csv(report: Report) -> str:
    """The report as CSV text (encode as UTF-8): a header row, the periods, then totals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = report.columns
    writer.writerow(columns)
    for row in [*report.rows, report.totals]:
        writer.writerow(_cells(row, columns))
    return out.getvalue()


def _table_columns(report: Report) -> list[str]:
    shown = [
        column
        for column in report.columns[1:]
        if column in TABLE_CORE_COLUMNS or report.totals.figures[column]
    ]
    return ["period", *shown]


def format_table(report: Report) -> str:
    """A plain-text table for the terminal; columns that are zero throughout are left out."""
    columns = _table_columns(report)
    lines = [columns, *(_cells(row, columns) for row in [*report.rows, report.totals])]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]

    def render(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    where = f"{report.site}, " if report.site else ""
    title = f"Calls per {report.period} ({where}{report.timezone})"
    body = [render(cells) for cells in lines[1:-1]]
    return "\n".join([title, render(lines[0]), rule, *body, rule, render(lines[-1])]) + "\n"


__all__ = [
    "COLUMNS",
    "Repeater",
    "Report",
    "ReportRow",
    "call_extent",
    "call_groups",
    "format_table",
    "kind_columns",
    "period_bounds",
    "report",
    "report_columns",
    "report_csv",
    "top_repeaters",
]


SITE_SEPARATOR = "/"  # a hub's event line: `site/appliance[/line]`
_FLAGGED_QUERY = """
    SELECT ts, line, detail FROM events
    WHERE kind = 'supervisor_flag' AND ts >= ? AND ts < ?{site}
    ORDER BY ts, id{limit}
"""


def event_site(line: str | None) -> str | None:
    """The site an event of a province hub's database came from, or None (an event of
    this box). The hub names an event's line `site/appliance[/line]`
    (`appliance.cluster.hub.store_event`), and a site's name holds no `/`."""
    if line is None or SITE_SEPARATOR not in line:
        return None
    return line.split(SITE_SEPARATOR, 1)[0]


def event_site_prefix(site: str | None) -> str | None:
    """How the lines of one site's events begin on a hub's database; None for no site."""
    return None if site is None else f"{site}{SITE_SEPARATOR}"


def event_site_filter(site: str | None) -> tuple[str, tuple[int | str, ...]]:
    """The clause and parameters that keep one site's events (a hub's database), or none.
    A prefix compared as text: `LIKE` would read a `_` in a site's name as a wildcard."""
    prefix = event_site_prefix(site)
    if prefix is None:
        return "", ()
    return " AND substr(line, 1, ?) = ?", (len(prefix), prefix)


@dataclass(frozen=True)
class FlaggedNumber:
    """A number the abuse ladder put on the supervisor's list (to ask the carrier to act).

    The figures are read from the event as the box wrote it; on a hub's database an
    event comes from a site's box, so a value that is not what a box writes is shown
    empty (a caller) or as 0 (a level, a count), never trusted."""

    caller: str
    flagged_at: str  # local ISO time
    level: int
    junk_24h: int
    restricted_until: str  # local ISO time; empty when the event does not say
    flagged_ts: float
    until_ts: float | None
    site: str | None = None  # the site whose box flagged it, on a hub's database


def _number(value: object) -> float | None:
    """A finite number from an event's detail; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _whole(value: object) -> int:
    """A count or level from an event's detail; 0 for anything else."""
    number = _number(value)
    return 0 if number is None else int(number)


def _local_iso(ts: float | None, zone: ZoneInfo) -> str:
    """`ts` as local ISO time; empty for none or one no calendar holds."""
    if ts is None:
        return ""
    try:
        return datetime.fromtimestamp(ts, zone).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return ""


def _flag_detail(text: str | None) -> dict[str, object]:
    """An event's detail as a dict; empty when it is not a JSON object."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _flagged(
    ts: float, line: str | None, detail: dict[str, object], zone: ZoneInfo
) -> FlaggedNumber:
    """One `supervisor_flag` event as a flagged number."""
    caller = detail.get("caller")
    restricted_until = _local_iso(_number(detail.get("until_ts")), zone)
    return FlaggedNumber(
        caller=caller if isinstance(caller, str) else "",
        flagged_at=_local_iso(ts, zone),
        level=_whole(detail.get("level")),
        junk_24h=_whole(detail.get("junk_24h")),
        restricted_until=restricted_until,
        flagged_ts=ts,
        # None too for a time no calendar holds: it is shown as nothing, not read again.
        until_ts=_number(detail.get("until_ts")) if restricted_until else None,
        site=event_site(line),
    )


def flagged_numbers(
    conn: sqlite3.Connection,
    since_ts: float,
    until_ts: float,
    timezone: str = DEFAULT_TIMEZONE,
    site: str | None = None,
    limit: int | None = None,
) -> list[FlaggedNumber]:
    """Numbers flagged for a supervisor in [since_ts, until_ts), oldest first, at most
    `limit`. On a province hub's database each carries the site that flagged it, and
    `site` keeps that site's only."""
    zone = _zone(timezone)
    clause, params = event_site_filter(site)
    query = _FLAGGED_QUERY.format(site=clause, limit="" if limit is None else " LIMIT ?")
    bound = () if limit is None else (limit,)
    rows = conn.execute(query, (since_ts, until_ts, *params, *bound)).fetchall()
    return [_flagged(float(ts), line, _flag_detail(detail), zone) for ts, line, detail in rows]
