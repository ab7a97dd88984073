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

import functools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from markupsafe import Markup
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
    CATEGORY_TALLIES,
    SIAGA_CLASSES,
    Categories,
    CategoryRow,
    categorise,
    junk_share_pct,
    period_rows,
    rows_from_tallied,
    share_pct,
)
from web_ui.reports.charts import BarChart, html_text, stacked_bars
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
    per-day figures, the centre's categories counted in the same query
    (`CATEGORY_TALLIES` beside the report's own: `appliance.store.rollup.period_tallies`;
    each reading them apart on its own thread only waited for the other's turn with the
    GIL). The top repeaters run beside them on their own connection: counts on an index,
    SQLite's work, done without the GIL.
    """
    if rollup.has_rollup(conn):
        rollup.try_refresh(conn, before_day=datetime.now(settings.zone).date().isoformat())
    since_ts, until_ts = request.range_ts(settings.zone)
    kinds = configured_kinds(conn)
    site = request.site
    rolled = site is None and rollup.has_rollup(conn)
    tallied: dict[str, rollup.Tallied] = {}
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
            tallies=CATEGORY_TALLIES if rolled else (),
            tallied_out=tallied if rolled else None,
        )
        counted = (
            rows_from_tallied(tallied, list(tallied))
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
        dict(zip(CHART_SERIES, map(float, row.split()), strict=True))
        for row in view.categories.rows
    ]
    names = {key: translate(language, f"reports.series.{key}") for key in CHART_SERIES}
    labels = [row.label for row in view.report.rows]
    return stacked_bars(labels, rows, CHART_SERIES, names=names, language=language)


def junk_chart(view: ReportView, language: Language) -> BarChart:
    """Prank and ghost calls (operators' and Siaga's) as a share of all calls, per period."""
    rows = [{"junk": share_pct(*row.split())} for row in view.categories.rows]
    labels = [row.label for row in view.report.rows]
    names = {"junk": translate(language, "reports.series.junk")}
    return stacked_bars(
        labels, rows, ("junk",), names=names, maximum=100.0, percent=True, language=language
    )


RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of a report table, its cells already in words: a year by day is 366 rows
    of a dozen cells, which the template would otherwise compute one call at a time
    (about 100 ms of the page)."""

    label: str  # the period; the totals row shows the catalogue's "total"
    total: bool
    archived: bool
    columns: tuple[str, ...]  # the table's (one tuple for all its rows)
    texts: tuple[str, ...]  # each column's figure in words

    @property
    def cells(self) -> list[tuple[str, str]]:
        """(column, text) of each cell."""
        return list(zip(self.columns, self.texts, strict=True))

    def html(self, total_text: str, totals_id: str = "") -> Markup:
        """The row as the table shows it: `<tr>`, the period (`total_text` for the totals,
        a `*` after an archived month) and `<td data-column="...">text</td>` cells,
        escaped. One piece of markup a row, not a template expression a cell: a year by
        day is 1,100 rows of 8,000 cells, which the template took 20 ms to write."""
        if self.total:
            opening = (
                f'<tr class="totals" id="{totals_id}">' if totals_id else '<tr class="totals">'
            )
        else:
            opening = "<tr>"
        label = html_text(total_text if self.total else self.label)
        texts = self.texts
        joined = "".join(texts)
        if html_text(joined) is not joined:  # figures need none: escaped only if they do
            texts = tuple(map(html_text, texts))
        openings = _cell_openings(self.columns)
        cells = "".join([f"{cell}{text}</td>" for cell, text in zip(openings, texts, strict=True)])
        archived = " *" if self.archived else ""
        return Markup(f'{opening}<th scope="row">{label}{archived}</th>{cells}</tr>\n')


def table_html(rows: Iterable[TableRow], total_text: str, totals_id: str = "") -> Markup:
    """A table's rows (`TableRow.html`), one after the other."""
    return Markup("".join(row.html(total_text, totals_id) for row in rows))


@functools.lru_cache(maxsize=64)
def _cell_openings(columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f'<td data-column="{html_text(column)}">' for column in columns)


def _rows_and_total(rows: Sequence[RowT], total: RowT) -> Iterator[tuple[RowT, bool]]:
    yield from ((row, False) for row in rows)
    yield total, True


# The tables are made a row at a time as the template writes them: a year by day is
# 1,100 rows, which held all at once lived long enough for the garbage collector to keep
# them, and every few report pages to make a full round (tens of ms) of every object.


def _count_words(language: Language) -> Callable[[float], str]:
    """`format_count` in `language`, each figure written once (a table repeats many)."""
    written: dict[float, str] = {}

    def words(value: float) -> str:
        text = written.get(value)
        if text is None:
            text = written[value] = format_count(value, language)
        return text

    return words


def category_table(view: ReportView, language: Language) -> Iterator[TableRow]:
    """The calls of each period in the centre's categories, then the totals."""
    kinds = [kind_of(column) for column in view.kind_columns]
    columns = ("calls", *view.kind_columns, *CHART_SERIES, "junk_share")
    words = _count_words(language)
    for row, total in _rows_and_total(view.categories.rows, view.categories.totals):
        split = row.split()
        texts = (
            words(sum(split)),
            *(words(row.count(kind)) for kind in kinds),
            *(words(count) for count in split),
            format_percent(share_pct(*split), language),
        )
        yield TableRow(row.label, total, row.archived and not total, columns, texts)


def verdict_table(view: ReportView, language: Language) -> Iterator[TableRow]:
    """Each period's operators' verdicts and screening (`CALL_COLUMNS`), then the totals."""
    report = view.report
    words = _count_words(language)
    for row, total in _rows_and_total(report.rows, report.totals):
        texts = tuple(words(row.figures[column]) for column in CALL_COLUMNS)
        yield TableRow(row.label, total, False, CALL_COLUMNS, texts)


LINE_TIME_COLUMNS: tuple[str, ...] = ("line_s_genuine", "line_s_junk", "line_s_other")


def line_time_table(view: ReportView) -> Iterator[TableRow]:
    """Each period's line time on genuine, junk and other calls (`h:mm`), then the totals."""
    report = view.report
    for row, total in _rows_and_total(report.rows, report.totals):
        texts = tuple(hours(row.figures[column]) for column in LINE_TIME_COLUMNS)
        yield TableRow(row.label, total, False, LINE_TIME_COLUMNS, texts)


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
