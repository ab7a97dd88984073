"""The audit log, read-only, newest first (supervisors and technicians)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from web_ui import audit
from web_ui.app_state import pages_of
from web_ui.audit import AUDIT_PAGE_SIZE, AuditEntry
from web_ui.deps import CsrfChecked, DbDep, SessionDep, SettingsDep, SupervisorUser
from web_ui.i18n import has_message, translate
from web_ui.models import AuditPublic, ErrorPublic
from web_ui.users import Language

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/audit",
    tags=["audit"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)


@dataclass(frozen=True)
class AuditRow:
    """An entry as the page shows it: the action in words, values as JSON text."""

    entry: AuditEntry
    action_label: str
    before_text: str
    after_text: str


def _text(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _row(entry: AuditEntry, language: Language) -> AuditRow:
    key = f"action.{entry.action}"
    label = translate(language, key) if has_message(key) else entry.action
    return AuditRow(entry, label, _text(entry.before), _text(entry.after))


@pages.get("/audit")
def audit_page(
    request: Request,
    db: DbDep,
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
            "rows": [_row(entry, user.language) for entry in entries],
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
