"""The audit log, read-only, newest first (supervisors and technicians); the page shows each
entry in words (`web_ui.users.audit_view`), the API as stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from web_ui.core.app_state import pages_of
from web_ui.core.deps import CsrfChecked, DbDep, SessionDep, SettingsDep, SupervisorUser
from web_ui.core.models import AuditPublic, ErrorPublic
from web_ui.users import audit
from web_ui.users.audit import AUDIT_PAGE_SIZE
from web_ui.users.audit_view import audit_row

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/audit",
    tags=["audit"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)


@pages.get("/audit")
def audit_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """One page of entries; `before` pages back by id."""
    entries = audit.latest(db, before_id=before, limit=AUDIT_PAGE_SIZE)
    older = entries[-1].id if len(entries) == AUDIT_PAGE_SIZE else None
    return pages_of(request).render(
        request,
        "audit.html",
        {
            "rows": [audit_row(entry, user.language, settings.zone) for entry in entries],
            "older": older,
            "paged": before is not None,
        },
        session=session,
    )


@api.get("", response_model=list[AuditPublic])
def api_audit(
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="entries older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = AUDIT_PAGE_SIZE,
) -> list[AuditPublic]:
    """Entries, newest first."""
    entries = audit.latest(db, before_id=before, limit=limit)
    return [AuditPublic.of(entry, settings.zone) for entry in entries]
