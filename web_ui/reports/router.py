"""The centre's figures: `GET /reports` (page; `?print=1` the printable view),
`GET /reports.csv` and `GET /api/reports`, for supervisors and technicians.

All three take the same period fields (`period`, `month` or `since`/`until`), read by
`web_ui.reports.service.parse_request`, and show `appliance.report`'s figures for it. The
page also lists the numbers flagged for a supervisor in the period (`web_ui.reports.flagged`).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response

from appliance.report import report_csv, sites
from web_ui.calls.service import UTF8_BOM
from web_ui.core.app_state import pages_of
from web_ui.core.deps import CsrfChecked, DbDep, SessionDep, SettingsDep, SupervisorUser, actor_for
from web_ui.core.i18n import translate
from web_ui.core.models import ErrorPublic
from web_ui.core.web_settings import WebSettings
from web_ui.home.service import format_count, format_percent
from web_ui.reports import service as reports
from web_ui.reports.categories import junk_share_pct
from web_ui.reports.charts import bars_svg
from web_ui.reports.export import excel_csv
from web_ui.reports.flagged import flagged_list
from web_ui.reports.service import ReportPublic, ReportRequest, ReportRequestError
from web_ui.users.audit import record_export

logger = logging.getLogger(__name__)

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/reports",
    tags=["reports"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)


def _today(settings: WebSettings) -> datetime:
    return datetime.now(settings.zone)


def report_request(
    settings: SettingsDep,
    db: DbDep,
    period: Annotated[str, Query(max_length=5, description="day or month")] = "",
    month: Annotated[str, Query(max_length=7, description="YYYY-MM: that month by day")] = "",
    since: Annotated[str, Query(max_length=10, description="YYYY-MM-DD, local day")] = "",
    until: Annotated[str, Query(max_length=10, description="YYYY-MM-DD, inclusive")] = "",
    site: Annotated[
        str, Query(max_length=64, description="a province hub's site; blank: every call")
    ] = "",
) -> ReportRequest:
    """The period asked for (this month by day when nothing is given), and the site."""
    return reports.parse_request(
        period=period,
        month=month,
        since=since,
        until=until,
        today=_today(settings).date(),
        site=site,
        known_sites=sites(db),
    )


Period = Annotated[ReportRequest, Depends(report_request)]


@pages.get("/reports")
def reports_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    print_view: Annotated[bool, Query(alias="print")] = False,
) -> Response:
    """Tables, charts and top repeaters of one period; a bad period shows this month."""
    params = request.query_params
    error: str | None = None
    try:
        asked = report_request(
            settings,
            db,
            period=params.get("period", ""),
            month=params.get("month", "")[:7],
            since=params.get("since", "")[:10],
            until=params.get("until", "")[:10],
            site=params.get("site", "")[:64],
        )
    except ReportRequestError as bad:
        error = translate(user.language, bad.code)
        asked = report_request(settings, db)
    view = reports.build_view(db, asked, settings)
    query = urlencode(asked.query())
    known_sites = sites(db)
    context = {
        "view": view,
        "asked": asked,
        "sites": known_sites,
        "flagged": flagged_list(db, asked, settings, known_sites),
        "calls_chart": reports.calls_chart(view, user.language),
        "junk_chart": reports.junk_chart(view, user.language),
        "bars_svg": bars_svg,
        "call_columns": reports.CALL_COLUMNS,
        "category_rows": reports.category_table(view, user.language),
        "verdict_rows": reports.verdict_table(view, user.language),
        "line_time_rows": reports.line_time_table(view),
        "table_html": reports.table_html,
        "kind_of": reports.kind_of,
        "hours": reports.hours,
        "cats": view.categories,
        "siaga_classes": reports.siaga_classes,
        "share_text": lambda row: format_percent(junk_share_pct(row), user.language),
        "count_text": lambda value: format_count(value, user.language),
        "csv_href": f"/reports.csv?{query}",
        "excel_href": f"/reports.csv?{query}&dialect=excel",
        "print_href": f"/reports?{query}&print=1",
        "api_href": f"/api/reports?{query}",
        "print_view": print_view,
        "back_query": query,
        "generated_ts": time.time(),
        "error": error,
    }
    return pages_of(request).render(request, "reports.html", context, session=session)


@pages.get("/reports.csv")
def reports_csv(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    asked: Period,
    dialect: Annotated[
        Literal["plain", "excel"],
        Query(
            description="plain: `siaga report --csv`; excel: the centre's categories, "
            "semicolons, headings in your language (Excel in Indonesia)"
        ),
    ] = "plain",
) -> Response:
    """The period's table as `siaga report --csv` writes it, with a BOM for Excel, or
    (`dialect=excel`) the centre's categories as Excel in Indonesia reads CSV
    (`web_ui.reports.export`); audited (`export.report`, with the period and dialect)."""
    view = reports.build_view(db, asked, settings)
    period = {
        "period": asked.period,
        "since": asked.since.isoformat(),
        "until": asked.until.isoformat(),
        "dialect": dialect,
        **({"site": asked.site} if asked.site else {}),
    }
    record_export(db, actor_for(request, session), "report", query=period, zone=settings.zone)
    where = f"{asked.site}-" if asked.site else ""
    name = f"siaga-report-{where}{asked.period}-{asked.since.isoformat()}-{asked.until.isoformat()}"
    if dialect == "excel":
        return Response(
            excel_csv(view, user.language),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-excel.csv"'},
        )
    return Response(
        (UTF8_BOM + report_csv(view.report)).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@api.get("", response_model=ReportPublic, responses={422: {"model": ErrorPublic}})
def api_reports(
    db: DbDep, settings: SettingsDep, user: SupervisorUser, asked: Period
) -> ReportPublic:
    """Figures per local day or month of the period, totals and the top 20 repeat numbers."""
    view = reports.build_view(db, asked, settings)
    return ReportPublic.of(view, settings.zone)
