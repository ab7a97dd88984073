"""The reports page's figures: a period from the picker, `appliance.report` over it, charts.

The figures are `appliance.report`'s own (`report`, `top_repeaters`, `report_csv`), the
same the `siaga report` command prints, archived months (`monthly_figures`) included: the
web UI adds no arithmetic of its own beyond "other" (calls that are neither valid, prank
nor ghost) and shares for the charts. A period is a range of local days in the site's
zone, `until` inclusive, shown by day or by month.

The kinds of genuine call are the line service's (`web_ui.kinds`): the configured ones
in their order, then any other kind the period's calls carry, each named as the console
names it.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
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
from web_ui.calllog import day_range_ts, local_iso
from web_ui.charts import BarChart, stacked_bars
from web_ui.db import connect_readonly
from web_ui.i18n import translate
from web_ui.kinds import DEFAULT_CATALOGUE, KindCatalogue, configured_kinds
from web_ui.settings import WebSettings
from web_ui.users import Language, UserError

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

    def range_ts(self, zone: ZoneInfo) -> tuple[float, float]:
        """[since, until) in POSIX seconds: local midnight to the midnight after `until`."""
        return day_range_ts(self.since, self.until, zone)

    def query(self) -> dict[str, str]:
        """The request as query-string fields, for the CSV, print and API links."""
        return {
            "period": self.period,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }


def month_range(month: date) -> tuple[date, date]:
    """The first and last day of `month`'s month."""
    first = month.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportRequestError("error.bad_date") from None


def parse_request(*, period: str, month: str, since: str, until: str, today: date) -> ReportRequest:
    """The period from the picker's fields.

    `month` (`YYYY-MM`) wins and gives that month by day; else `since`/`until`; with
    neither, this month by day. `period` is `day` or `month` (default `day`).
    """
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
    kinds: KindCatalogue = DEFAULT_CATALOGUE

    def kind_label(self, column: str, language: Language) -> str:
        """The heading of a `valid_<kind>` column: the kind's name."""
        return self.kinds.label(kind_of(column), language)


def _non_zero(columns: tuple[str, ...], totals: ReportRow) -> list[str]:
    return [column for column in columns if totals.figures[column]]


def _repeaters(settings: WebSettings, since_ts: float, until_ts: float) -> list[Repeater]:
    conn = connect_readonly(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        return top_repeaters(conn, since_ts, until_ts)
    finally:
        conn.close()


def build_view(
    conn: sqlite3.Connection, request: ReportRequest, settings: WebSettings
) -> ReportView:
    """The report and the top repeaters of the request's period.

    The two are independent queries of about the same cost (a month of 2 million rows:
    about 60 ms each on the benchmark machine); SQLite runs them at once on two
    connections (it releases the GIL while it works), which nearly halves the page's time.
    """
    since_ts, until_ts = request.range_ts(settings.zone)
    kinds = configured_kinds(conn)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report") as pool:
        repeaters = pool.submit(_repeaters, settings, since_ts, until_ts)
        result = report(
            conn,
            since_ts=since_ts,
            until_ts=until_ts,
            period=request.period,
            timezone=settings.timezone,
            kinds=kinds.kinds,
        )
        return ReportView(
            request=request,
            report=result,
            repeaters=repeaters.result(),
            # The page shows the kinds that occur; the CSV and the API every column.
            kind_columns=_non_zero(result.kind_column_names, result.totals),
            screen_columns=_non_zero(SCREEN_COLUMNS, result.totals),
            challenge_columns=_non_zero(CHALLENGE_COLUMNS, result.totals),
            kinds=kinds,
        )


def other_calls(row: ReportRow) -> float:
    """Calls that are neither valid, prank nor ghost (info, wrong number, no verdict...)."""
    return row["calls"] - row["valid"] - row["prank"] - row["ghost"]


def junk_share_pct(row: ReportRow) -> float:
    """Prank and ghost calls as a percentage of all calls (0 when there were none)."""
    return round(100.0 * (row["prank"] + row["ghost"]) / row["calls"], 1) if row["calls"] else 0.0


def calls_chart(view: ReportView, language: Language) -> BarChart:
    """Calls per period, stacked: valid, prank, ghost, other."""
    rows = [
        {"valid": r["valid"], "prank": r["prank"], "ghost": r["ghost"], "other": other_calls(r)}
        for r in view.report.rows
    ]
    names = {key: translate(language, f"reports.series.{key}") for key in CHART_SERIES}
    labels = [row.label for row in view.report.rows]
    return stacked_bars(labels, rows, CHART_SERIES, names=names)


def junk_chart(view: ReportView, language: Language) -> BarChart:
    """Prank and ghost calls as a share of all calls, per period."""
    rows = [{"junk": junk_share_pct(row)} for row in view.report.rows]
    labels = [row.label for row in view.report.rows]
    names = {"junk": translate(language, "reports.series.junk")}
    return stacked_bars(labels, rows, ("junk",), names=names, maximum=100.0, percent=True)


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


class ReportPublic(BaseModel):
    """`GET /api/reports`: the same figures as the page and `siaga report`."""

    period: Period
    timezone: str
    since: date
    until: date
    columns: list[str]
    rows: list[ReportRowPublic]
    totals: ReportRowPublic
    top_repeaters: list[RepeaterPublic]

    @classmethod
    def of(cls, view: ReportView, zone: ZoneInfo) -> ReportPublic:
        """The API's view of a report."""

        def row(source: ReportRow) -> ReportRowPublic:
            return ReportRowPublic(period=source.label, figures=dict(source.figures))

        return cls(
            period=view.request.period,
            timezone=view.report.timezone,
            since=view.request.since,
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
        )
