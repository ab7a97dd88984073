"""Allow and block rules: `/rules` (list, add, remove), `/rules.csv`, CSV import, `/api/rules`.

Supervisors and technicians only. Every change is one transaction with its audit row
(`web_ui.rules.service`). The import is two steps: `POST /rules/import` parses the upload
(`web_ui.rules.csv_import`) and shows a preview (what would be added, each bad row's error) and
stores nothing; the preview form carries the file's text itself in a hidden field and a
SHA-256 digest of the rules it showed. `POST /rules/import/confirm` parses that text again
and adds the rules only if they are still the ones shown (a `7d` expiry moves with the
clock and is not part of the digest; a date that has since passed changes the digest and
the preview is shown again). Carrying the text keeps the server stateless: nothing is kept
between the two requests, and a tampered text is simply a different import, checked again.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from appliance.rules import ACTIONS_BY_KIND, MATCH_KINDS
from web_ui.calls.service import DEFAULT_REGION
from web_ui.core.app_state import pages_of
from web_ui.core.deps import CsrfChecked, DbDep, SessionDep, SettingsDep, SupervisorUser, actor_for
from web_ui.core.i18n import translate
from web_ui.core.models import ErrorPublic
from web_ui.rules import service as rules
from web_ui.rules.csv_import import (
    RowError,
    RuleDraft,
    RulesImport,
    parse_rule_fields,
    parse_rules_csv,
)
from web_ui.rules.service import RuleListed
from web_ui.users.audit import record_export
from web_ui.users.service import Language, UserError

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/rules",
    tags=["rules"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

MAX_IMPORT_BYTES = 256 * 1024  # a form field stays well under the multipart part limit
DONE_KEYS = frozenset({"done.rule_added", "done.rule_removed", "done.rules_imported"})
EMPTY_FORM = {
    "kind": "block",
    "number": "",
    "match": "exact",
    "action": "",
    "reason": "",
    "expires": "",
}
RuleId = Annotated[str, Path(min_length=1, max_length=64)]
# A field of the add form. No length limit of its own: `parse_rule_fields` judges each
# field and names the one refused (a reason over `MAX_REASON_CHARS` too), so a client
# that ignores the page's `maxlength` gets the form back with what it sent, not a bare
# 400; the body limit of a form (`web_ui.core.request_limits`) still bounds them all.
AddField = Annotated[str, Form()]


class RuleCreate(BaseModel):
    """A new rule: the CSV import's columns (`expires`: as `appliance.expiry`, e.g.
    `24h`, `7d`, `7 hari`, `YYYY-MM-DD`; empty or `never`: no expiry)."""

    kind: str = Field(max_length=10)
    number: str = Field(max_length=64)
    match: str = Field(default="exact", max_length=10)
    action: str = Field(default="", max_length=12)
    reason: str = Field(default="", max_length=200)
    expires: str = Field(default="", max_length=12)


# The add form has no "match" column to write `prefix` in: its own words for that error.
FORM_KEYS = {"rules_csv.bad_number": "rules.form.bad_number"}


def _message(language: Language, error: RowError) -> str:
    return translate(language, error.key, **error.values)


def _form_message(language: Language, error: RowError) -> str:
    """A refused form field's message, naming the form's own fields."""
    return translate(language, FORM_KEYS.get(error.key, error.key), **error.values)


def _digest(drafts: tuple[RuleDraft, ...]) -> str:
    """What the preview showed, without relative expiry times (they move with the clock)."""
    text = "\n".join(
        f"{d.row}|{d.kind}|{d.pattern}|{d.match}|{d.action}|{d.reason}" for d in drafts
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _rules_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    *,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    listed = rules.active(db, time.time(), settings.zone)
    return pages_of(request).render(
        request,
        "rules.html",
        {
            "allow_rules": [rule for rule in listed if rule.kind == "allow"],
            "block_rules": [rule for rule in listed if rule.kind == "block"],
            "form": form or EMPTY_FORM,
            "matches": MATCH_KINDS,
            "block_actions": ACTIONS_BY_KIND["block"],
            "done": done if done in DONE_KEYS else None,
            "error": error,
        },
        session=session,
        status_code=status_code,
    )


def _parse(text: str, db: DbDep, settings: SettingsDep) -> RulesImport:
    """The import's rows; one identical to a rule in force is a bad row, not a rule."""
    now_ts = time.time()
    found = parse_rules_csv(text, region=DEFAULT_REGION, now_ts=now_ts, zone=settings.zone)
    return rules.without_rules_in_force(db, found, now_ts)


def _preview(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    text: str,
    *,
    changed: bool,
) -> Response:
    found = _parse(text, db, settings)
    language = session.user.language
    return pages_of(request).render(
        request,
        "rules_import.html",
        {
            "found": found,
            "rows": list(found.rows),
            "errors": [(error.row, _message(language, error)) for error in found.errors],
            "text": text,
            "digest": _digest(found.rows),
            "changed": changed,
        },
        session=session,
    )


# ------------------------------------------------------------------ the page


@pages.get("/rules")
def rules_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    """Every rule in force, the form to add one, the import and the export."""
    return _rules_page(request, db, settings, session, done=done)


@pages.post("/rules")
def add_rule_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    kind: AddField = "",
    number: AddField = "",
    match: AddField = "exact",
    action: AddField = "",
    reason: AddField = "",
    expires: AddField = "",
) -> Response:
    """Add one rule from the form; a refused field is named, the form kept (422)."""
    form = {
        "kind": kind,
        "number": number,
        "match": match,
        "action": action,
        "reason": reason,
        "expires": expires,
    }
    found = parse_rule_fields(form, region=DEFAULT_REGION, now_ts=time.time(), zone=settings.zone)
    if isinstance(found, RowError):
        message = _form_message(user.language, found)
        return _rules_page(
            request, db, settings, session, error=message, form=form, status_code=422
        )
    try:
        rules.add_rules(db, actor_for(request, session), [found], settings.zone)
    except UserError as refused:  # the same rule is already in force
        message = translate(user.language, refused.code)
        return _rules_page(
            request, db, settings, session, error=message, form=form, status_code=refused.status
        )
    return RedirectResponse("/rules?done=done.rule_added", status_code=303)


@pages.post("/rules/{rule_id}/remove")
def remove_rule_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    rule_id: RuleId,
) -> Response:
    """Remove a rule (soft delete: the row and its history stay)."""
    try:
        rules.remove_rule(db, actor_for(request, session), rule_id, settings.zone)
    except UserError as refused:
        message = translate(user.language, refused.code)
        return _rules_page(
            request, db, settings, session, error=message, status_code=refused.status
        )
    return RedirectResponse("/rules?done=done.rule_removed", status_code=303)


@pages.get("/rules.csv")
def rules_csv_export(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    dialect: Annotated[Literal["plain", "excel"], Query()] = "plain",
) -> Response:
    """Every rule in force as CSV (UTF-8 with a BOM; formula-looking cells start with `'`);
    `dialect=excel`: semicolons and column names in the user's language, as Excel on an
    Indonesian desk reads CSV; audited (`export.rules`)."""
    listed = rules.active(db, time.time(), settings.zone)
    record_export(
        db,
        actor_for(request, session),
        "rules",
        query={"rules": len(listed), "dialect": dialect},
        zone=settings.zone,
    )
    excel_language = user.language if dialect == "excel" else None
    filename = "siaga-rules-excel.csv" if dialect == "excel" else "siaga-rules.csv"
    return Response(
        "".join(rules.csv_text(listed, excel_language=excel_language)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


# ------------------------------------------------------------------ the import


@pages.post("/rules/import")
async def import_preview(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    file: UploadFile,
) -> Response:
    """Parse an uploaded CSV and show what would be added; nothing is stored."""
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise UserError("error.import_too_large", status=413)
    return _preview(
        request, db, settings, session, data.decode("utf-8", errors="replace"), changed=False
    )


@pages.post("/rules/import/confirm")
def import_confirm(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    text: Annotated[str, Form(max_length=MAX_IMPORT_BYTES)] = "",
    digest: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Add every valid rule of the previewed file, in one transaction with its audit rows."""
    found = _parse(text, db, settings)
    if _digest(found.rows) != digest or not found.rows:
        return _preview(request, db, settings, session, text, changed=True)
    rules.add_rules(
        db, actor_for(request, session), found.rows, settings.zone, action="rules.import"
    )
    return RedirectResponse("/rules?done=done.rules_imported", status_code=303)


# ------------------------------------------------------------------ the API


@api.get("", response_model=list[RuleListed])
def api_rules(db: DbDep, settings: SettingsDep, user: SupervisorUser) -> list[RuleListed]:
    """Every allow and block rule in force (not removed, not expired)."""
    return rules.active(db, time.time(), settings.zone)


@api.post(
    "",
    status_code=201,
    response_model=RuleListed,
    responses={409: {"model": ErrorPublic}, 422: {"model": ErrorPublic}},
)
def api_add_rule(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    body: RuleCreate,
) -> JSONResponse:
    """Add a rule; `number` in any Indonesian form (a prefix with `match: prefix`); 409
    when the same rule (kind, match, number, action) is already in force."""
    found = parse_rule_fields(
        body.model_dump(), region=DEFAULT_REGION, now_ts=time.time(), zone=settings.zone
    )
    if isinstance(found, RowError):
        return JSONResponse(
            {"detail": found.key, "message": _message(user.language, found)}, status_code=422
        )
    [added] = rules.add_rules(db, actor_for(request, session), [found], settings.zone)
    return JSONResponse(added.model_dump(mode="json"), status_code=201)


@api.delete("/{rule_id}", status_code=204, responses={404: {"model": ErrorPublic}})
def api_remove_rule(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    rule_id: RuleId,
) -> Response:
    """Remove a rule (soft delete); 404 for an unknown or already removed id."""
    rules.remove_rule(db, actor_for(request, session), rule_id, settings.zone)
    return Response(status_code=204)
