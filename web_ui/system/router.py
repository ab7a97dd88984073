"""The system page (technicians only): `/system`, `/system/backup`, restore, `/api/system`.

- `GET /system`: versions and uptimes, the database's size and rows, backup and restore,
  the event log (`?kind=` filters it) and the journal of both services.
- `GET /system/backup`: a consistent copy of the database as a download (audited).
- `POST /system/restore` (multipart, field `file`): the upload is checked and brought to
  this version's schema, then a confirmation page says what it holds and what a restore
  does; nothing is replaced yet. `POST /system/restore/confirm` (`token`, and `confirm`
  typed as RESTORE) replaces the database, keeps a safety copy, and logs everybody out.
  `appliance.store.restore`'s docstring says what happens to sessions and the running line service.
- `GET /api/system`: the page's figures and logs as JSON.

Uploads: a body above 2 GB (plus the form's own bytes) is refused before routing, unread
when its `Content-Length` says so and the moment it passes the limit otherwise
(`web_ui.core.request_limits`). The restore route declares no form parameters, so nothing of
the body is read before the technician's session is checked; `web_ui.system.restore_upload`
then streams the file, after its CSRF token, straight to a file next to the database.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from appliance.store import restore
from appliance.store.restore import RestoreRefused, UploadSummary
from web_ui.auth.sessions import Session
from web_ui.core import wording
from web_ui.core.app_state import pages_of
from web_ui.core.deps import (
    SESSION_COOKIE,
    CsrfChecked,
    DbDep,
    SessionDep,
    SettingsDep,
    TechnicianUser,
    actor_for,
)
from web_ui.core.models import ErrorPublic
from web_ui.core.security import client_address
from web_ui.core.web_settings import WebSettings
from web_ui.home import service as dashboard
from web_ui.system import service as system
from web_ui.system.restore_upload import receive_restore_upload
from web_ui.users.audit import Actor
from web_ui.users.service import Language

# No router-wide CSRF check: it would parse the restore's whole body before the login
# check. The confirmation carries `CsrfChecked`; the upload checks its token as it streams.
pages = APIRouter(include_in_schema=False)
api = APIRouter(
    prefix="/api/system",
    tags=["system"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

EventKind = Annotated[str, Query(max_length=40, description="only events of this kind")]


def _helpers(language: Language) -> dict[str, Any]:
    return {
        "count": lambda value: dashboard.format_count(value, language),
        "duration": lambda seconds: dashboard.format_duration(seconds, language),
        "size": lambda value: format_bytes(value, language),
    }


def format_bytes(value: float, language: Language) -> str:
    """A size in the largest fitting unit, one decimal: `1,5 GB` (id), `1.5 GB` (en)."""
    units = ("B", "KB", "MB", "GB", "TB")
    amount, unit = float(value), 0
    while amount >= 1024 and unit < len(units) - 1:
        amount /= 1024
        unit += 1
    text = f"{amount:.0f}" if unit == 0 else f"{amount:.1f}"
    return (text.replace(".", ",") if language == "id" else text) + " " + units[unit]


def _system_page(
    request: Request,
    db: DbDep,
    settings: WebSettings,
    session: Session,
    *,
    kind: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    info = system.system_info(db, settings, now_ts=time.time(), kind=kind)
    language = session.user.language
    context = {
        "info": info,
        "error": error,
        "confirm_word": restore.CONFIRM_WORD,
        "version_differs": info.service.version not in (None, info.version),
        "event_words": lambda event: wording.event_words(
            event.kind, event.values, language, settings.zone
        ),
        "event_kind": lambda name: wording.event_kind_label(name, language),
        **_helpers(language),
    }
    return pages_of(request).render(
        request, "system.html", context, session=session, status_code=status_code
    )


def _confirm_page(
    request: Request,
    settings: WebSettings,
    session: Session,
    summary: UploadSummary,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "step": "confirm",
        "summary": summary,
        "confirm_word": restore.CONFIRM_WORD,
        "db_name": settings.db_path.name,
        "max_age_min": int(restore.TEMP_MAX_AGE_S // 60),
        "error": error,
        **_helpers(session.user.language),
    }
    return pages_of(request).render(
        request, "system_restore.html", context, session=session, status_code=status_code
    )


@pages.get("/system")
def system_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    kind: EventKind = "",
) -> Response:
    """Versions, uptimes, the database, backup and restore, and the logs."""
    return _system_page(request, db, settings, session, kind=kind)


@pages.get("/system/backup")
def download_backup(
    request: Request, db: DbDep, settings: SettingsDep, user: TechnicianUser, session: SessionDep
) -> Response:
    """A consistent copy of the whole database (`siaga-backup-YYYYMMDD-HHMM.db`), audited."""
    try:
        backup = restore.make_backup(settings, time.time())
    except RestoreRefused as refused:  # not enough disk space for the copy
        message = system.refusal_text(refused, user.language)
        return _system_page(
            request, db, settings, session, error=message, status_code=refused.status
        )
    handle = restore.open_for_sending(backup.path)
    system.audit_backup(db, actor_for(request, session), backup, settings.zone)
    return StreamingResponse(
        restore.chunks(handle),
        media_type="application/vnd.sqlite3",
        headers={
            "Content-Disposition": f'attachment; filename="{backup.download_name}"',
            "Content-Length": str(backup.size),
        },
    )


@pages.post("/system/restore")
async def upload_for_restore(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
) -> Response:
    """Check an uploaded backup (multipart: `csrf_token`, then `file`) and ask for
    confirmation; nothing is replaced yet."""
    try:
        token = await receive_restore_upload(request, settings, session.csrf_token)
        running = dashboard.service_status(db, time.time(), settings.zone).running
        summary = await run_in_threadpool(
            restore.inspect_upload, settings, token, service_running=running
        )
    except RestoreRefused as refused:
        return await run_in_threadpool(
            _system_page,
            request,
            db,
            settings,
            session,
            error=system.refusal_text(refused, user.language),
            status_code=refused.status,
        )
    return _confirm_page(request, settings, session, summary)


@pages.post("/system/restore/confirm", dependencies=[CsrfChecked])
def confirm_restore(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    token: Annotated[str, Form(max_length=64)] = "",
    confirm: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Replace the database with the checked upload; everybody is logged out."""
    now_ts = time.time()
    try:
        path = restore.checked_upload(settings, token, now_ts)
        if confirm.strip() != restore.CONFIRM_WORD:
            summary = restore.summarize(path, token, [])
            message = system.refusal_text(
                RestoreRefused("system.restore.not_confirmed"), user.language
            )
            return _confirm_page(
                request, settings, session, summary, error=message, status_code=422
            )
        running = dashboard.service_status(db, now_ts, settings.zone).running
        db.close()  # this request's connection takes no part in the swap
        actor = system_actor(request, session)
        outcome = restore.restore(
            settings,
            token,
            by=actor.name,
            audit=system.restore_audit(actor, settings.zone, now_ts),
            now_ts=now_ts,
            service_running=running,
        )
    except RestoreRefused as refused:
        restore.discard_upload(settings, token)
        return _restore_refused(request, settings, session, refused)
    context = {"step": "done", "outcome": outcome, **_helpers(user.language)}
    response = pages_of(request).render(
        request, "system_restore.html", context, session=None, language=user.language
    )
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=settings.cookie_secure
    )
    return response


def system_actor(request: Request, session: Session) -> Actor:
    """The restoring user, without their user id: ids in the restored database differ."""
    return Actor(name=session.user.username, remote=client_address(request))


def _restore_refused(
    request: Request, settings: WebSettings, session: Session, refused: RestoreRefused
) -> Response:
    """The reason a confirmed restore did not happen, on the restore page."""
    context = {
        "step": "refused",
        "error": system.refusal_text(refused, session.user.language),
        **_helpers(session.user.language),
    }
    return pages_of(request).render(
        request, "system_restore.html", context, session=session, status_code=refused.status
    )


@api.get("", response_model=system.SystemPublic)
def api_system(
    db: DbDep, settings: SettingsDep, user: TechnicianUser, kind: EventKind = ""
) -> system.SystemPublic:
    """Version, uptimes of the web process and the line service, database size, free disk,
    row counts, safety copies, the newest 200 events (`kind` filters) and the journal."""
    return system.system_info(db, settings, now_ts=time.time(), kind=kind)
