"""The centre's figures from the call log: daily or monthly tables, CSV, top repeaters.

The centre reports total, valid, valid by kind, prank and ghost per month (context/
README.md); domain.md R16 adds screening outcomes and line-seconds by class, with both
valid and junk counts (Serang's own reports leave junk out). Periods are local days or
months (WIB by default), so a call at 2024-04-30T23:30+07:00 belongs to April and one at
2024-04-30T17:30Z to 1 May.

Every function only reads. Each period is one `GROUP BY` query restricted by a range on
`started_ts` (indexed), so a report touches only the rows of its range and returns a few
groups per period, whatever the size of the log. Period boundaries are computed with
`zoneinfo`, so any zone, with or without daylight saving, gives correct local periods.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.model import GENUINE_KINDS, JUNK_DISPOSITIONS, Action, ChallengeResult, Reason

logger = logging.getLogger(__name__)

Period = Literal["day", "month"]
DEFAULT_TIMEZONE = "Asia/Jakarta"
TOTAL_LABEL = "total"
TOP_REPEATERS_LIMIT = 20  # domain.md R16 and M6: top-20 repeat numbers

GENUINE_PREFIX = "genuine:"
PLAIN_DISPOSITIONS: tuple[str, ...] = ("info", "prank", "ghost", "wrong_number")
SCREEN_ACTIONS: tuple[str, ...] = (Action.CHALLENGE, Action.ANNOUNCE, Action.REJECT)
REASONS: frozenset[str] = frozenset(reason.value for reason in Reason)
OTHER = "other"  # a reason, action or disposition this version does not know

# Column order is part of the CSV format: append new columns, never reorder.
KIND_COLUMNS: tuple[str, ...] = tuple(f"valid_{kind}" for kind in GENUINE_KINDS)
SCREEN_COLUMNS: tuple[str, ...] = tuple(
    f"{action}_{reason}" for action in SCREEN_ACTIONS for reason in (*Reason, OTHER)
)
CHALLENGE_COLUMNS: tuple[str, ...] = tuple(f"challenge_{result}" for result in ChallengeResult)
COUNT_COLUMNS: tuple[str, ...] = (
    "calls",
    "valid",
    *KIND_COLUMNS,
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
COLUMNS: tuple[str, ...] = ("period", *COUNT_COLUMNS, *SECONDS_COLUMNS)
# Columns a terminal table always shows; the rest only when the totals are non-zero.
TABLE_CORE_COLUMNS: frozenset[str] = frozenset(
    {"calls", "valid", "info", "prank", "ghost", "reached_operator", "screened", *SECONDS_COLUMNS}
)

_PERIOD_QUERY = """
    SELECT disposition, decision, reason, challenge_result,
           COUNT(*), TOTAL(reached_operator), TOTAL(line_seconds)
    FROM calls
    WHERE started_ts >= ? AND started_ts < ?
    GROUP BY disposition, decision, reason, challenge_result
"""
# One aggregate each, so SQLite answers both from the started_ts index without a scan.
_FIRST_QUERY = "SELECT MIN(started_ts) FROM calls WHERE started_ts >= ? AND started_ts < ?"
_LAST_QUERY = "SELECT MAX(started_ts) FROM calls WHERE started_ts >= ? AND started_ts < ?"
_REPEATERS_QUERY = """
    SELECT caller,
           COUNT(*) AS n,
           TOTAL(disposition IN ('prank', 'ghost')),
           TOTAL(substr(disposition, 1, 8) = 'genuine:'),
           TOTAL(reached_operator),
           MIN(started_ts),
           MAX(started_ts)
    FROM calls
    WHERE started_ts >= ? AND started_ts < ? AND caller IS NOT NULL
    GROUP BY caller
    ORDER BY n DESC, caller
    LIMIT ?
"""


def _zero_figures() -> dict[str, float]:
    figures: dict[str, float] = dict.fromkeys(COUNT_COLUMNS, 0)
    figures.update(dict.fromkeys(SECONDS_COLUMNS, 0.0))
    return figures


@dataclass
class ReportRow:
    """One period (or the totals): `figures` maps every column but `period` to its value.

    Counts are ints, `line_s_*` columns are seconds (floats).
    """

    label: str
    figures: dict[str, float] = field(default_factory=_zero_figures)

    def __getitem__(self, column: str) -> float:
        return self.figures[column]

    def add(self, other: ReportRow) -> None:
        """Add another row's figures to this one (for totals)."""
        for column, value in other.figures.items():
            self.figures[column] += value


@dataclass(frozen=True)
class Report:
    """A call report: one row per local period in [since_ts, until_ts), plus totals."""

    period: Period
    timezone: str
    since_ts: float
    until_ts: float
    rows: list[ReportRow]
    totals: ReportRow


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
    if disposition.startswith(GENUINE_PREFIX):
        kind = disposition.removeprefix(GENUINE_PREFIX)
        # An unknown kind still counts as valid; it is filed under "other" (lainnya).
        return "valid", f"valid_{kind if kind in GENUINE_KINDS else OTHER}"
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


def _fold_group(
    figures: dict[str, float],
    group: tuple[str | None, str | None, str | None, str | None, int, float, float],
) -> None:
    """Add one (disposition, decision, reason, challenge_result) group to a period."""
    disposition, decision, reason, challenge_result, calls, reached, line_s = group
    figures["calls"] += calls
    column, kind_column = _disposition_column(disposition)
    figures[column] += calls
    if kind_column is not None:
        figures[kind_column] += calls
    figures["reached_operator"] += int(reached)
    if decision is not None and decision != Action.PASS:
        figures["screened"] += calls
        figures[_screen_column(decision, reason)] += calls
    if challenge_result is not None:
        result_column = f"challenge_{challenge_result}"
        if result_column in figures:
            figures[result_column] += calls
        else:
            logger.debug("unknown challenge result %r left out of the report", challenge_result)
    figures[_line_class_column(disposition)] += line_s


def _period_row(conn: sqlite3.Connection, label: str, from_ts: float, to_ts: float) -> ReportRow:
    row = ReportRow(label)
    for group in conn.execute(_PERIOD_QUERY, (from_ts, to_ts)):
        _fold_group(row.figures, group)
    return row


def _call_extent(
    conn: sqlite3.Connection, since_ts: float, until_ts: float
) -> tuple[float, float] | None:
    """(first started_ts, just past the last) of the calls in the range; None if none."""
    first = conn.execute(_FIRST_QUERY, (since_ts, until_ts)).fetchone()[0]
    if first is None:
        return None
    last = conn.execute(_LAST_QUERY, (since_ts, until_ts)).fetchone()[0]
    return float(first), float(last) + 1.0


def report(
    conn: sqlite3.Connection,
    *,
    since_ts: float,
    until_ts: float,
    period: Period,
    timezone: str = DEFAULT_TIMEZONE,
) -> Report:
    """Figures per local day or month for calls started in [since_ts, until_ts).

    Rows run from the period of the first call in the range to the period of the last,
    every period in between included, so a daily report shows the quiet days too; an
    open-ended range (since 1970, until 2100) costs no empty rows. No calls: no rows.
    """
    if period not in ("day", "month"):
        raise ValueError(f"period must be 'day' or 'month', got {period!r}")
    if not since_ts < until_ts:
        raise ValueError("since_ts must be before until_ts")
    zone = _zone(timezone)
    rows: list[ReportRow] = []
    archived = archived_months(conn, since_ts, until_ts) if period == "month" else {}
    extent = _call_extent(conn, since_ts, until_ts)
    if archived:
        first_archived = min(row.from_ts for row in archived.values())
        last_archived = max(row.to_ts for row in archived.values())
        extent = (
            (min(extent[0], first_archived), max(extent[1], last_archived))
            if extent is not None
            else (first_archived, last_archived)
        )
    if extent is not None:
        first_ts, last_ts = extent
        rows = [
            archived[label].row if label in archived else _period_row(conn, label, from_ts, to_ts)
            for label, from_ts, to_ts in period_bounds(first_ts, last_ts, period, zone)
        ]
    totals = ReportRow(TOTAL_LABEL)
    for row in rows:
        totals.add(row)
    return Report(period, timezone, since_ts, until_ts, rows, totals)


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
        row = ReportRow(month)
        row.figures.update({key: value for key, value in json.loads(figures).items()})
        months[month] = ArchivedMonth(month, float(from_ts), float(to_ts), row)
    return months


def month_figures(conn: sqlite3.Connection, month: str, from_ts: float, to_ts: float) -> ReportRow:
    """The report row of one month from its call rows (what retention archives)."""
    return _period_row(conn, month, from_ts, to_ts)


def top_repeaters(
    conn: sqlite3.Connection, since_ts: float, until_ts: float, limit: int = TOP_REPEATERS_LIMIT
) -> list[Repeater]:
    """The numbers with the most calls in [since_ts, until_ts); withheld calls excluded."""
    return [
        Repeater(caller, calls, int(junk), int(genuine), int(reached), first_ts, last_ts)
        for caller, calls, junk, genuine, reached, first_ts, last_ts in conn.execute(
            _REPEATERS_QUERY, (since_ts, until_ts, limit)
        )
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
    writer.writerow(COLUMNS)
    for row in [*report.rows, report.totals]:
        writer.writerow(_cells(row, COLUMNS))
    return out.getvalue()


def _table_columns(report: Report) -> list[str]:
    shown = [
        column
        for column in COLUMNS[1:]
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
    title = f"Calls per {report.period} ({report.timezone})"
    body = [render(cells) for cells in lines[1:-1]]
    return "\n".join([title, render(lines[0]), rule, *body, rule, render(lines[-1])]) + "\n"


__all__ = [
    "COLUMNS",
    "Repeater",
    "Report",
    "ReportRow",
    "format_table",
    "period_bounds",
    "report",
    "report_csv",
    "top_repeaters",
]


@dataclass(frozen=True)
class FlaggedNumber:
    """A number the abuse ladder put on the supervisor's list (to ask the carrier to act)."""

    caller: str
    flagged_at: str  # local ISO time
    level: int
    junk_24h: int
    restricted_until: str  # local ISO time


def flagged_numbers(
    conn: sqlite3.Connection, since_ts: float, until_ts: float, timezone: str = "Asia/Jakarta"
) -> list[FlaggedNumber]:
    """Numbers flagged for a supervisor in [since_ts, until_ts), oldest first."""
    zone = ZoneInfo(timezone)
    rows = conn.execute(
        "SELECT ts, json_extract(detail, '$.caller'), json_extract(detail, '$.level'),"
        " json_extract(detail, '$.junk_24h'), json_extract(detail, '$.until_ts')"
        " FROM events WHERE kind = 'supervisor_flag' AND ts >= ? AND ts < ? ORDER BY ts",
        [since_ts, until_ts],
    ).fetchall()
    return [
        FlaggedNumber(
            caller=str(caller),
            flagged_at=datetime.fromtimestamp(ts, zone).isoformat(timespec="seconds"),
            level=int(level),
            junk_24h=int(junk),
            restricted_until=datetime.fromtimestamp(until, zone).isoformat(timespec="seconds"),
        )
        for ts, caller, level, junk, until in rows
    ]
