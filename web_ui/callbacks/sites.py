"""Every site's call-back list on the province hub: `GET /callbacks` and its JSON API.

`siaga hub` keeps every appliance's call-back entries in its database
(`appliance.store.site_callbacks`). On that database, `GET /callbacks` shows the open
ones of every site, or of one (`?site=serang`, a picker as on the reports page), newest
release first, each with its site and box, and `GET /api/callbacks/sites` gives the same
as JSON (422 for a site the database holds no entry of).

Read-only: an entry is called back and marked on the console of the box that listed it
(`web_ui.callbacks.router`), and the mark reaches the hub as the entry's next revision. A
mark made at the hub would have to travel back to the box and meet whatever was done
there meanwhile; nothing carries it yet, so the page says where to mark instead.

On an appliance's own database nothing is listed here (its list is on the console), and
the page says so. The console and `/api/callbacks` are the same on the hub and on a box.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from appliance.store import site_callbacks
from appliance.store.callbacks import OPEN_LIST_LIMIT
from web_ui.callbacks.router import MAX_LIMIT, CallbackPublic, callback_public
from web_ui.core.app_state import pages_of
from web_ui.core.deps import CsrfChecked, CurrentUser, DbDep, SessionDep, SettingsDep
from web_ui.core.i18n import translate
from web_ui.core.models import ErrorPublic
from web_ui.core.web_settings import WebSettings
from web_ui.users.service import Language, UserError

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/callbacks",
    tags=["callbacks"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

SITE_MAX_CHARS = 64


class SiteCallbackPublic(CallbackPublic):
    """One entry of a site's call-back list as the hub keeps it: `id` is the hub's own,
    `origin_id` the entry's id on its box."""

    site: str
    appliance: str = Field(description="the box that listed the caller, and marks them")
    origin_id: int = Field(description="the entry's id on its box")


class SiteCallbackListPublic(BaseModel):
    """`GET /api/callbacks/sites`: the open entries of every site (or of `site`), newest
    release first, and how many are open."""

    now_ts: float
    site: str | None = Field(description="the site asked for; null: every site")
    sites: list[str] = Field(description="the sites whose call-back lists the hub holds")
    open_count: int
    entries: list[SiteCallbackPublic]
    read_only: bool = Field(
        default=True, description="marked on the box that listed the entry, never here"
    )


def chosen_site(conn: sqlite3.Connection, site: str) -> tuple[str | None, list[str]]:
    """(the site asked for, or None for every site; the sites known); `UserError` 422 for
    a site the database holds no entry of."""
    known = site_callbacks.callback_sites(conn)
    wanted = site.strip() or None
    if wanted is not None and wanted not in known:
        raise UserError("error.unknown_callback_site", status=422)
    return wanted, known


def site_list(
    conn: sqlite3.Connection,
    settings: WebSettings,
    language: Language,
    *,
    site: str | None,
    sites: list[str],
    limit: int = OPEN_LIST_LIMIT,
) -> SiteCallbackListPublic:
    """The open entries of `site` (None: every site), at most `limit`, for `language`."""
    now_ts = time.time()
    found = site_callbacks.open_site_callbacks(conn, now_ts=now_ts, site=site, limit=limit)
    return SiteCallbackListPublic(
        now_ts=now_ts,
        site=site,
        sites=sites,
        open_count=site_callbacks.open_site_count(conn, site),
        entries=[_public(entry, settings, language) for entry in found],
    )


def _public(entry: dict[str, Any], settings: WebSettings, language: Language) -> SiteCallbackPublic:
    shown = callback_public(entry, settings.zone, language)
    return SiteCallbackPublic(
        **shown.model_dump(),
        site=str(entry["site"]),
        appliance=str(entry["appliance"]),
        origin_id=int(entry["origin_id"]),
    )


@pages.get("/callbacks")
def site_callbacks_page(
    request: Request, db: DbDep, settings: SettingsDep, user: CurrentUser, session: SessionDep
) -> Response:
    """Every site's open call-back entries (`?site=` one site's), read-only."""
    error: str | None = None
    try:
        site, sites = chosen_site(db, request.query_params.get("site", "")[:SITE_MAX_CHARS])
    except UserError as bad:
        error = translate(user.language, bad.code)
        site, sites = chosen_site(db, "")
    listed = site_list(db, settings, user.language, site=site, sites=sites)
    context = {"listed": listed, "error": error}
    return pages_of(request).render(request, "site_callbacks.html", context, session=session)


@api.get(
    "/sites",
    response_model=SiteCallbackListPublic,
    responses={422: {"model": ErrorPublic, "description": "a site with no entries, a bad limit"}},
)
def api_site_callbacks(
    db: DbDep,
    settings: SettingsDep,
    user: CurrentUser,
    site: Annotated[
        str, Query(max_length=SITE_MAX_CHARS, description="one site; blank: every site")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = OPEN_LIST_LIMIT,
) -> SiteCallbackListPublic:
    """The open call-back entries of every site a province hub gathers (or of `site`),
    newest release first (at most `limit`), each with its site and box. Read-only: an
    entry is marked on its box (`POST /api/callbacks/{callback_id}` there)."""
    chosen, sites = chosen_site(db, site)
    return site_list(db, settings, user.language, site=chosen, sites=sites, limit=limit)
