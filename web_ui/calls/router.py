"""The call log: `GET /calls` (the page), `GET /calls.csv` (the export; `?dialect=excel`
for Excel on an Indonesian desk, as the rules and the report offer), `GET /api/calls`.

Supervisors and technicians only. Operators see what they need of a caller's past on the
console (24 hours, 30 days, past dispositions); the whole log, every caller's number
searchable, is a supervisor's tool. All three routes take the same filters in the query
string (`web_ui.calls.service.CallFilters`), so a filtered page's link, its CSV and the API
answer the same question. Dates are local days in the site's zone; `until` is inclusive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from appliance.store.call_search import CallPage
from web_ui.calls import service as calllog
from web_ui.calls.service import (
    MAX_NUMBER_INPUT,
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    CallFilters,
    CallPagePublic,
    CallPublic,
    CallSearchError,
    Cursor,
    Search,
)
from web_ui.core.app_state import pages_of
from web_ui.core.db import connect_readonly
from web_ui.core.deps import CsrfChecked, DbDep, SessionDep, SettingsDep, SupervisorUser, actor_for
from web_ui.core.i18n import translate
from web_ui.core.kinds import configured_kinds
from web_ui.core.models import ErrorPublic
from web_ui.core.web_settings import WebSettings
from web_ui.users.audit import record_export
from web_ui.users.service import Language

logger = logging.getLogger(__name__)

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/calls",
    tags=["calls"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

Text = Annotated[str, Query(max_length=MAX_NUMBER_INPUT)]


def _day(text: str) -> date | None:
    if not text.strip():
        return None
    return calllog.parse_day(text)


def _cursor(text: str) -> Cursor | None:
    return Cursor.parse(text) if text else None


def call_filters(
    since: Annotated[str, Query(max_length=10, description="YYYY-MM-DD, local day")] = "",
    until: Annotated[str, Query(max_length=10, description="YYYY-MM-DD, inclusive")] = "",
    number: Annotated[
        str, Query(max_length=MAX_NUMBER_INPUT, description="0812..., 62812..., +62 812...")
    ] = "",
    number_prefix: Annotated[bool, Query(description="match numbers starting so")] = False,
    decision: Text = "",
    reason: Text = "",
    disposition: Annotated[
        str, Query(max_length=MAX_NUMBER_INPUT, description="genuine, genuine:<kind>, ..., none")
    ] = "",
    line: Text = "",
) -> CallFilters:
    """The filters of the query string; a bad date is kept for the handler to report."""
    return CallFilters(
        since=_day(since),
        until=_day(until),
        number=number.strip(),
        number_prefix=number_prefix,
        decision=decision,
        reason=reason,
        disposition=disposition,
        line=line.strip(),
    )


def _safe_filters(request: Request) -> tuple[CallFilters, str | None]:
    """The page's filters, or empty ones and the error's message key."""
    params = request.query_params
    try:
        filters = call_filters(
            since=params.get("since", ""),
            until=params.get("until", ""),
            number=params.get("number", "")[:MAX_NUMBER_INPUT],
            number_prefix=params.get("number_prefix", "") in ("1", "true", "on"),
            decision=params.get("decision", ""),
            reason=params.get("reason", ""),
            disposition=params.get("disposition", ""),
            line=params.get("line", "")[:MAX_NUMBER_INPUT],
        )
    except CallSearchError as error:
        return CallFilters(), error.code
    return filters, None


Filters = Annotated[CallFilters, Depends(call_filters)]


def _link(filters: CallFilters, **cursor: str) -> str:
    return "/calls?" + urlencode({**filters.query(), **cursor})


# ------------------------------------------------------------------ the page


@pages.get("/calls")
def calls_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    before: Annotated[str, Query(max_length=64)] = "",
    after: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Filters, one page of calls newest first, links to older and newer pages, CSV."""
    filters, error = _safe_filters(request)
    found: CallPage | None = None
    search: Search | None = None
    if error is None:
        try:
            search = calllog.build_search(filters, settings.zone)
            found = calllog.page(db, search, before=_cursor(before), after=_cursor(after))
        except CallSearchError as bad:
            error = bad.code
    query = filters.query()
    kinds = configured_kinds(db)  # the filter lists the centre's kinds, named its way
    context = {
        "filters": filters,
        "rows": [CallPublic.of(row, settings.zone) for row in found.rows] if found else [],
        "number_match": search.number if search else None,
        "older_href": _link(filters, before=str(found.older)) if found and found.older else None,
        "newer_href": _link(filters, after=str(found.newer)) if found and found.newer else None,
        "paged": bool(before or after),
        "first_href": _link(filters),
        "csv_href": "/calls.csv" + ("?" + urlencode(query) if query else ""),
        "excel_href": "/calls.csv?" + urlencode({**query, "dialect": "excel"}),
        "lines": calllog.known_lines(db),
        "decisions": calllog.DECISIONS,
        "reasons": calllog.REASONS,
        "dispositions": calllog.disposition_filters(kinds.kinds, filters.disposition),
        "label": lambda prefix, value: calllog.label(user.language, prefix, value, kinds),
        "error": translate(user.language, error) if error else None,
    }
    return pages_of(request).render(request, "calls.html", context, session=session)


# ------------------------------------------------------------------ the export


def _export(
    settings: WebSettings, search: Search, excel_language: Language | None
) -> Iterator[str]:
    """The CSV lines, read on a read-only connection of the export's own."""
    conn = connect_readonly(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        rows = calllog.iter_all(conn, search)
        yield from calllog.csv_lines(rows, settings.zone, excel_language=excel_language)
    finally:
        conn.close()


@pages.get("/calls.csv")
def calls_csv(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    filters: Filters,
    dialect: Annotated[
        Literal["plain", "excel"],
        Query(
            description="plain: commas and column names, for programs; excel: semicolons, "
            "headings in your language (Excel in Indonesia)"
        ),
    ] = "plain",
) -> StreamingResponse:
    """Every call matching the filters, newest first, as CSV (UTF-8 with a BOM for Excel;
    formula-looking cells start with `'`); `dialect=excel`: semicolons and headings in the
    user's language, as Excel on an Indonesian desk reads CSV; audited (`export.calls`,
    with the filters and the dialect)."""
    search = calllog.build_search(filters, settings.zone)
    stamp = datetime.now(settings.zone).strftime("%Y%m%d-%H%M")
    logger.info("call log export (%s) by %s: %s", dialect, user.username, filters.query())
    record_export(
        db,
        actor_for(request, session),
        "calls",
        query={"filters": filters.query(), "dialect": dialect},
        zone=settings.zone,
    )
    excel_language = user.language if dialect == "excel" else None
    suffix = "-excel" if dialect == "excel" else ""
    return StreamingResponse(
        _export(settings, search, excel_language),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="siaga-calls-{stamp}{suffix}.csv"',
            "Cache-Control": "no-store",
        },
    )


# ------------------------------------------------------------------ the API


@api.get("", response_model=CallPagePublic, responses={422: {"model": ErrorPublic}})
def api_calls(
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    filters: Filters,
    before: Annotated[str, Query(max_length=64, description="`older` of a page")] = "",
    after: Annotated[str, Query(max_length=64, description="`newer` of a page")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> CallPagePublic:
    """Calls matching every filter, newest first; page on with `before=<older>`."""
    search = calllog.build_search(filters, settings.zone)
    found = calllog.page(db, search, before=_cursor(before), after=_cursor(after), limit=limit)
    return CallPagePublic(
        calls=[CallPublic.of(row, settings.zone) for row in found.rows],
        older=str(found.older) if found.older else None,
        newer=str(found.newer) if found.newer else None,
    )
