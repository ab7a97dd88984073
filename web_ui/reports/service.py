"""The reports page's figures: a period from the picker, `appliance.report` over it, charts.

The figures are `appliance.report`'s own (`report`, `top_repeaters`, `report_csv`), the
same the `siaga report` command prints, archived months (`monthly_figures`) included;
beside them, every call in one of the centre's categories with operators' and Siaga's
classifications apart (`web_ui.reports.categories`), which the summary, the first table
and the charts show, with the prank + ghost share over every call. A period is a range
of local days in the site's zone, `until` inclusive, shown by day or by month.

The kinds of genuine call are the line service's (`web_ui.core.kinds`): the configured ones
in their order, then any other kind the period's calls carry, each named as the console
names it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from appliance.report import (
    CHALLENGE_COLUMNS,
    KIND_COLUMN_PREFIX,
    SCREEN_COLUMNS,
    Repeater,
    Report,
    ReportRow,
    report,
    top_repeaters,
)
from appliance.store import rollup
from web_ui.calls.service import CallSearchError, day_range_ts, local_iso, parse_day
from web_ui.core.db import connect_readonly
from web_ui.core.i18n import translate
from web_ui.core.kinds import DEFAULT_CATALOGUE, KindCatalogue, configured_kinds
from web_ui.core.web_settings import WebSettings
from web_ui.home.service import format_count, format_percent
from web_ui.reports.categories import (
    SIAGA_CLASSES,
    Categories,
    CategoryRow,
    categorise,
    junk_share_pct,
    period_rows,
    rows_from_groups,
)
from web_ui.reports.charts import BarChart, stacked_bars
from web_ui.users.service import Language, UserError

Period = Literal["day", "month"]
MAX_DAILY_DAYS = 366  # a daily table longer than a year is a monthly table's job
CHART_SERIES = ("valid", "prank", "ghost", "other")
# The calls table: always these, and the valid kinds that occur in the period.
CALL_COLUMNS: tuple[str, ...] = (
    "calls",
    "valid",
    "info",
    "prank",
    "ghost",
    "wrong_number",
    "no_disposition",
    "reached_operator",
    "screened",
)


class ReportRequestError(UserError):
    """A period the picker cannot give: a bad date, an empty or too long range (422)."""

    def __init__(self, code: str) -> None:
        super().__init__(code, 422)


@dataclass(frozen=True)
class ReportRequest:
    """The period asked for: local days `since`..`until` (inclusive), rows by `period`."""

    period: Period
    since: date
    until: date
    site: str | None = None  # one site of a province hub's database; None: every call

    def range_ts(self, zone: ZoneInfo) -> tuple[float, float]:
        """[since, until) in POSIX seconds: local midnight to the midnight after `until`."""
        return day_range_ts(self.since, self.until, zone)

    def query(self) -> dict[str, str]:
        """The request as query-string fields, for the CSV, print and API links."""
        fields = {
            "period": self.period,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }
        if self.site is not None:
            fields["site"] = self.site
        return fields


def month_range(month: date) -> tuple[date, date]:
    """The first and last day of `month`'s month."""
    first = month.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _parse_day(text: str) -> date:
    try:
        return parse_day(text)
    except CallSearchError as exc:
        raise ReportRequestError(exc.code) from None


def parse_request(
    *,
    period: str,
    month: str,
    since: str,
    until: str,
    today: date,
    site: str = "",
    known_sites: Sequence[str] = (),
) -> ReportRequest:
    """The period from the picker's fields.

    `month` (`YYYY-MM`) wins and gives that month by day; else `since`/`until`; with
    neither, this month by day. `period` is `day` or `month` (default `day`). `site`:
    one of `known_sites` (a province hub's), or blank for every call.
    """
    chosen_site = site.strip() or None
    if chosen_site is not None and chosen_site not in known_sites:
        raise ReportRequestError("error.unknown_site")
    return replace(_parse_period(period, month, since, until, today), site=chosen_site)


def _parse_period(period: str, month: str, since: str, until: str, today: date) -> ReportRequest:
    if period not in ("", "day", "month"):
        raise ReportRequestError("error.invalid_input")
    chosen: Period = "month" if period == "month" else "day"
    if month.strip():
        first, last = month_range(_parse_day(month.strip() + "-01"))
        return ReportRequest(chosen, first, last)
    if not since.strip() and not until.strip():
        first, last = month_range(today)
        return ReportRequest(chosen, first, last)
    start = _parse_day(since) if since.strip() else _parse_day(until).replace(day=1)
    end = _parse_day(until) if until.strip() else today
    if end < start:
        raise ReportRequestError("error.bad_range")
    if chosen == "day" and (end - start).days >= MAX_DAILY_DAYS:
        raise ReportRequestError("error.range_too_long")
    return ReportRequest(chosen, start, end)


@dataclass(frozen=True)
class ReportView:
    """What the page, the print view and the API show for one request."""

    request: ReportRequest
    report: Report
    repeaters: list[Repeater]
    kind_columns: list[str]
    screen_columns: list[str]
    challenge_columns: list[str]
    categories: Categories
    kinds: KindCatalogue = DEFAULT_CATALOGUE

    def kind_label(self, column: str, language: Language) -> str:
        """The heading of a `valid_<kind>` column: the kind's name."""
        return self.kinds.label(kind_of(column), language)


def _non_zero(columns: tuple[str, ...], totals: ReportRow) -> list[str]:
    return [column for column in columns if totals.figures[column]]


def _repeaters(
    settings: WebSettings, since_ts: float, until_ts: float, site: str | None
) -> list[Repeater]:
    conn = connect_readonly(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        return top_repeaters(conn, since_ts, until_ts, site=site)
    finally:
        conn.close()


def _categories(
    settings: WebSettings, since_ts: float, until_ts: float, period: Period, site: str | None
) -> dict[str, CategoryRow]:
    conn = connect_readonly(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        return period_rows(conn, since_ts, until_ts, period, settings.zone, site)
    finally:
        conn.close()


def build_view(
    conn: sqlite3.Connection, request: ReportRequest, settings: WebSettings
) -> ReportView:
    """The report and the top repeaters of the request's period.

    First the days changed since their figures were computed (late verdicts, archived
    months; `appliance.store.rollup`) are recomputed on this request's connection, a
    day per short write transaction, today left to be counted live. The report then reads
    per-day figures, and the centre's categories fold the same groups it read (a year by
    day is 28,000 of them; each reading them apart on its own thread took 300 ms, as they
    only waited for each other's turn with the GIL). The top repeaters run beside them on
    their own connection: counts on an index, SQLite's work, done without the GIL.
    """
    if rollup.has_rollup(conn):
        rollup.try_refresh(conn, before_day=datetime.now(settings.zone).date().isoformat())
    since_ts, until_ts = request.range_ts(settings.zone)
    kinds = configured_kinds(conn)
    site = request.site
    rolled = site is None and rollup.has_rollup(conn)
    groups: dict[str, list[rollup.Group]] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report") as pool:
        repeaters = pool.submit(_repeaters, settings, since_ts, until_ts, site)
        result = report(
            conn,
            since_ts=since_ts,
            until_ts=until_ts,
            period=request.period,
            timezone=settings.timezone,
            kinds=kinds.kinds,
            site=site,
            groups_out=groups if rolled else None,
        )
        counted = (
            rows_from_groups(groups, list(groups))
            if rolled
            else _categories(settings, since_ts, until_ts, request.period, site)
        )
        return ReportView(
            request=request,
            report=result,
            repeaters=repeaters.result(),
            # The page shows the kinds that occur; the CSV and the API every column.
            kind_columns=_non_zero(result.kind_column_names, result.totals),
            screen_columns=_non_zero(SCREEN_COLUMNS, result.totals),
            challenge_columns=_non_zero(CHALLENGE_COLUMNS, result.totals),
            categories=categorise(result, counted),
            kinds=kinds,
        )


def calls_chart(view: ReportView, language: Language) -> BarChart:
    """Calls per period in the centre's categories, stacked: valid, prank, ghost, other."""
    rows = [
        {series: float(row.count(series)) for series in CHART_SERIES}
        for row in view.categories.rows
    ]
    names = {key: translate(language, f"reports.series.{key}") for key in CHART_SERIES}
    labels = [row.label for row in view.report.rows]
    return stacked_bars(labels, rows, CHART_SERIES, names=names)


def junk_chart(view: ReportView, language: Language) -> BarChart:
    """Prank and ghost calls (operators' and Siaga's) as a share of all calls, per period."""
    rows = [{"junk": junk_share_pct(row)} for row in view.categories.rows]
    labels = [row.label for row in view.report.rows]
    names = {"junk": translate(language, "reports.series.junk")}
    return stacked_bars(labels, rows, ("junk",), names=names, maximum=100.0, percent=True)


RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of a report table, its cells already in words: a year by day is 366 rows
    of a dozen cells, which the template would otherwise compute one call at a time
    (about 100 ms of the page)."""

    label: str  # the period; the totals row shows the catalogue's "total"
    total: bool
    archived: bool
    cells: list[tuple[str, str]]  # (column, text)


def _rows_and_total(rows: Sequence[RowT], total: RowT) -> list[tuple[RowT, bool]]:
    return [(row, False) for row in rows] + [(total, True)]


def category_table(view: ReportView, language: Language) -> list[TableRow]:
    """The calls of each period in the centre's categories, then the totals."""
    kinds = [(column, kind_of(column)) for column in view.kind_columns]
    table = []
    for row, total in _rows_and_total(view.categories.rows, view.categories.totals):
        cells = [("calls", format_count(row.calls, language))]
        cells += [(column, format_count(row.count(kind), language)) for column, kind in kinds]
        cells += [
            (key, format_count(row.count(key), language))
            for key in ("valid", "prank", "ghost", "other")
        ]
        cells.append(("junk_share", format_percent(junk_share_pct(row), language)))
        table.append(TableRow(row.label, total, row.archived and not total, cells))
    return table


def verdict_table(view: ReportView, language: Language) -> list[TableRow]:
    """Each period's operators' verdicts and screening (`CALL_COLUMNS`), then the totals."""
    report = view.report
    return [
        TableRow(
            row.label,
            total,
            False,
            [(column, format_count(row[column], language)) for column in CALL_COLUMNS],
        )
        for row, total in _rows_and_total(report.rows, report.totals)
    ]


def line_time_table(view: ReportView) -> list[TableRow]:
    """Each period's line time on genuine, junk and other calls (`h:mm`), then the totals."""
    report = view.report
    columns = ("line_s_genuine", "line_s_junk", "line_s_other")
    return [
        TableRow(row.label, total, False, [(column, hours(row[column])) for column in columns])
        for row, total in _rows_and_total(report.rows, report.totals)
    ]


def siaga_classes(row: CategoryRow) -> list[tuple[str, str, int]]:
    """(Siaga's class, its category, calls) for each class with calls, in `SIAGA_CLASSES`
    order."""
    return [
        (name, category, row.by_siaga[name])
        for name, category in SIAGA_CLASSES.items()
        if row.by_siaga.get(name)
    ]


def hours(seconds: float) -> str:
    """Seconds as `h:mm` (line time is reported to the minute)."""
    minutes = round(seconds / 60.0)
    return f"{minutes // 60}:{minutes % 60:02d}"


def kind_of(column: str) -> str:
    """`valid_fire` -> `fire`: every kind is its own, configured or not."""
    return column.removeprefix(KIND_COLUMN_PREFIX)


# ------------------------------------------------------------------ the API's view


class ReportRowPublic(BaseModel):
    """One period (or the totals): every count and `line_s_*` seconds, by column name."""

    period: str
    figures: dict[str, float]


class RepeaterPublic(BaseModel):
    """A number among the most frequent callers of the period."""

    caller: str
    calls: int
    junk: int
    genuine: int
    reached_operator: int
    first_at: str
    last_at: str


class CategoryRowPublic(BaseModel):
    """One period (or the totals) in the centre's categories: each call counted once."""

    period: str
    calls: int
    kinds: dict[str, int]  # genuine calls by kind (operators' verdicts)
    valid: int
    prank: int
    ghost: int
    other: int
    by_operators: dict[str, int]  # prank, ghost, other as operators recorded them
    by_siaga: dict[str, int]  # Siaga's own classes (`web_ui.reports.categories`)
    no_verdict: int  # in `other`: nobody classified them
    junk_share_pct: float  # (prank + ghost) / calls, in percent
    archived: bool

    @classmethod
    def of(cls, row: CategoryRow) -> CategoryRowPublic:
        """The API's view of one category row."""
        return cls(
            period=row.label,
            calls=row.calls,
            kinds=dict(row.kinds),
            valid=row.count("valid"),
            prank=row.count("prank"),
            ghost=row.count("ghost"),
            other=row.count("other"),
            by_operators=dict(row.by_operators),
            by_siaga=dict(row.by_siaga),
            no_verdict=row.no_verdict,
            junk_share_pct=junk_share_pct(row),
            archived=row.archived,
        )


class ReportPublic(BaseModel):
    """`GET /api/reports`: the same figures as the page and `siaga report`, and the
    centre's categories (`categories`, `category_totals`)."""

    period: Period
    timezone: str
    since: date
    until: date
    site: str | None = None  # one site of a province hub; None: every call
    columns: list[str]
    rows: list[ReportRowPublic]
    totals: ReportRowPublic
    top_repeaters: list[RepeaterPublic]
    categories: list[CategoryRowPublic]
    category_totals: CategoryRowPublic

    @classmethod
    def of(cls, view: ReportView, zone: ZoneInfo) -> ReportPublic:
        """The API's view of a report."""

        def row(source: ReportRow) -> ReportRowPublic:
            return ReportRowPublic(period=source.label, figures=dict(source.figures))

        return cls(
            period=view.request.period,
            timezone=view.report.timezone,
            since=view.request.since,
            site=view.request.site,
            until=view.request.until,
            columns=list(view.report.columns[1:]),
            rows=[row(source) for source in view.report.rows],
            totals=row(view.report.totals),
            top_repeaters=[
                RepeaterPublic(
                    caller=item.caller,
                    calls=item.calls,
                    junk=item.junk,
                    genuine=item.genuine,
                    reached_operator=item.reached_operator,
                    first_at=local_iso(item.first_ts, zone) or "",
                    last_at=local_iso(item.last_ts, zone) or "",
                )
                for item in view.repeaters
            ],
            categories=[CategoryRowPublic.of(row) for row in view.categories.rows],
            category_totals=CategoryRowPublic.of(view.categories.totals),
        )
