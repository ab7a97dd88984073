"""The home page is the dashboard (`GET /`, `GET /api/dashboard`); an operator's is the console.

Operators are sent on to `/console`; supervisors and technicians see today's calls, the
alarms of the last 24 hours, flood mode, the line service, each line's health and the
open call-backs (`web_ui.home.service`, whose docstring says what each figure means). The
page reloads itself every `REFRESH_S` seconds through `/static/refresh.js`. On a province
hub's database both take `site`, one site of the hub, as the reports page does.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from appliance.report import sites as report_sites
from appliance.store import site_callbacks
from web_ui.core import wording
from web_ui.core.app_state import pages_of
from web_ui.core.deps import (
    CsrfChecked,
    CurrentUser,
    DbDep,
    SessionDep,
    SettingsDep,
    SupervisorUser,
)
from web_ui.core.i18n import translate
from web_ui.core.models import ErrorPublic
from web_ui.home import service as dashboard
from web_ui.users.service import Language, Role, UserError

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api",
    tags=["dashboard"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

SITE_MAX_CHARS = 64


def _site_asked(
    request: Request, sites: list[str], language: Language
) -> tuple[str | None, str | None]:
    """(the site the page asks for, or None for every site; the error shown for a site
    the database holds no calls of, which then shows every site)."""
    asked = request.query_params.get("site", "")[:SITE_MAX_CHARS]
    try:
        return dashboard.chosen_site(asked, sites), None
    except UserError as bad:
        return None, translate(language, bad.code)


@pages.get("/")
def dashboard_page(
    request: Request, db: DbDep, settings: SettingsDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The dashboard; an operator's home is the console."""
    if user.role is Role.OPERATOR:
        return RedirectResponse("/console", status_code=303)
    sites = report_sites(db)
    site, error = _site_asked(request, sites, user.language)
    now_ts = time.time()
    view = dashboard.build(
        db, zone=settings.zone, timezone=settings.timezone, now_ts=now_ts, site=site, sites=sites
    )
    language = user.language
    context = {
        "view": view,
        "error": error,
        "refresh_s": dashboard.REFRESH_S,
        "count": lambda value: dashboard.format_count(value, language),
        "percent": lambda value: dashboard.format_percent(value, language),
        "duration": lambda seconds: dashboard.format_duration(seconds, language),
        "alarm_label": lambda alarm: dashboard.alarm_label(language, alarm),
        "reason_label": lambda reason: dashboard.reason_label(language, reason),
        "registration_label": lambda value: dashboard.registration_label(language, value),
        "state_label": lambda state: dashboard.state_label(language, state),
        "callback_reason": lambda reason: dashboard.callback_reason_label(language, reason),
        "event_words": lambda kind, detail: wording.event_words(
            kind, detail, language, settings.zone
        ),
        "error_words": lambda raw: wording.error_words(raw, language),
        "flood_words": lambda reason: wording.flood_reason_words(reason, language),
        "today_text": dashboard.format_day(
            view.today.since_at.timestamp(), settings.zone, language
        ),
        # On a province hub: how many of every site's (or the site's) call-backs are open
        # (None on a box).
        "site_callbacks": (
            site_callbacks.open_site_count(db, site) if site_callbacks.callback_sites(db) else None
        ),
    }
    return pages_of(request).render(request, "dashboard.html", context, session=session)


@api.get(
    "/dashboard",
    response_model=dashboard.DashboardPublic,
    responses={422: {"model": ErrorPublic, "description": "a site the database holds no calls of"}},
)
def api_dashboard(
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    site: Annotated[
        str,
        Query(max_length=SITE_MAX_CHARS, description="a province hub's site; blank: every site"),
    ] = "",
) -> dashboard.DashboardPublic:
    """Today's calls and screening, alarms of the last 24 h, flood mode, the line service,
    each line's health and the open call-backs: the dashboard's figures (times in the
    site's zone); on a province hub's database, `site`'s calls and alarms only."""
    sites = report_sites(db)
    chosen = dashboard.chosen_site(site, sites)
    now_ts = time.time()
    return dashboard.build(
        db, zone=settings.zone, timezone=settings.timezone, now_ts=now_ts, site=chosen, sites=sites
    )
