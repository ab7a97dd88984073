"""Screening settings: the page `/settings` and `GET`/`PATCH /api/settings`.

Supervisors and technicians change thresholds, the abuse ladder, the withheld-number
policy, the challenge, prompts, flood thresholds and SMS warnings while the lines run.
Everything is checked twice: the page reads what was typed (`web_ui.settings.form`) and
`web_ui.settings.service` validates the result with the line service's own function before it
stores it, in one transaction with its audit row. The running line service picks the
change up within a second; the page says whether it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from web_ui.core.app_state import pages_of
from web_ui.core.deps import CsrfChecked, DbDep, SessionDep, SettingsDep, SupervisorUser, actor_for
from web_ui.core.i18n import translate
from web_ui.core.models import ErrorPublic
from web_ui.settings import service as screening
from web_ui.settings.form import html_id, read_form, reset_targets
from web_ui.settings.models import (
    SettingProblem,
    SettingsPatch,
    SettingsPublic,
    SettingsRefusedPublic,
)
from web_ui.settings.page import describe, page_groups, problem_label
from web_ui.settings.service import Problem, SettingsRefusedError, SettingsView
from web_ui.users.service import Language

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/settings",
    tags=["settings"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

DONE_KEYS = frozenset({"done.settings_saved", "done.settings_unchanged", "done.settings_reset"})
SUPERVISORS = "sms.supervisors"


async def submitted_form(request: Request) -> dict[str, list[str]]:
    """The posted form as lists of strings by name (uploads are not expected: dropped)."""
    form = await request.form()
    return {
        name: [value for value in form.getlist(name) if isinstance(value, str)] for name in form
    }


SubmittedForm = Annotated[dict[str, list[str]], Depends(submitted_form)]


# ------------------------------------------------------------------ the page


def _summary(problems: Sequence[Problem], language: Language) -> list[tuple[str, str, str]]:
    """(element id, label, message) of each problem, for the list at the top of the page."""
    return [
        (
            html_id(problem.field),
            problem_label(problem.field, language),
            describe(problem, language),
        )
        for problem in problems
    ]


def _settings_page(
    request: Request,
    db: DbDep,
    session: SessionDep,
    *,
    done: str | None = None,
    typed: dict[str, list[str]] | None = None,
    problems: Sequence[Problem] = (),
) -> Response:
    view = screening.read_view(db)
    language = session.user.language
    return pages_of(request).render(
        request,
        "screening.html",
        {
            "view": view,
            "groups": page_groups(view, language, typed=typed, problems=problems),
            "problems": _summary(problems, language),
            "done": done if done in DONE_KEYS else None,
        },
        session=session,
        status_code=422 if problems else 200,
    )


@pages.get("/settings")
def settings_page(
    request: Request,
    db: DbDep,
    user: SupervisorUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    """Every screening setting in force, the file's value beside each changed one."""
    return _settings_page(request, db, session, done=done)


@pages.post("/settings")
def change_settings_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    form: SubmittedForm,
) -> Response:
    """Store what the form changed; the form again with each problem beside its field."""
    view = screening.read_view(db)
    reading = read_form(form, view, user.language)
    if reading.problems:
        return _settings_page(request, db, session, typed=form, problems=reading.problems)
    try:
        outcome = screening.change_settings(
            db, actor_for(request, session), settings.zone, changes=reading.changes
        )
    except SettingsRefusedError as refused:
        return _settings_page(request, db, session, typed=form, problems=refused.problems)
    done = "done.settings_saved" if outcome.stored else "done.settings_unchanged"
    return RedirectResponse(f"/settings?done={done}", status_code=303)


@pages.post("/settings/reset")
def reset_settings_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    target: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Give one setting, or one card's settings, back to the configuration file."""
    try:
        outcome = screening.change_settings(
            db, actor_for(request, session), settings.zone, changes={}, resets=reset_targets(target)
        )
    except SettingsRefusedError as refused:
        return _settings_page(request, db, session, problems=refused.problems)
    done = "done.settings_reset" if outcome.stored else "done.settings_unchanged"
    return RedirectResponse(f"/settings?done={done}", status_code=303)


# ------------------------------------------------------------------ the API


def _public(view: SettingsView, updated_at: datetime | None, changed: list[str]) -> SettingsPublic:
    return SettingsPublic(
        values=view.values(),
        base=view.base_values(),
        base_source=view.base_source,
        overrides=view.overrides,
        problems=list(view.problems),
        version=view.version,
        line_service=view.line_service,
        updated_by=view.last_change.by if view.last_change else None,
        updated_at=updated_at,
        changed=changed,
    )


def _settings_public(db: DbDep, settings: SettingsDep, changed: list[str]) -> SettingsPublic:
    view = screening.read_view(db)
    at = datetime.fromtimestamp(view.last_change.ts, settings.zone) if view.last_change else None
    return _public(view, at, changed)


def _loc(name: str) -> list[str | int]:
    """`policy.abuse.ladder[1].count` -> `["body", "policy", "abuse", "ladder", 1, "count"]`."""
    loc: list[str | int] = ["body"]
    for part in name.replace("[", ".").replace("]", "").split("."):
        if part:
            loc.append(int(part) if part.isdigit() else part)
    return loc


def _refused(problems: Sequence[Problem], language: Language) -> JSONResponse:
    body = SettingsRefusedPublic(
        detail="error.settings_invalid",
        message=translate(language, "error.settings_invalid"),
        errors=[
            SettingProblem(loc=_loc(p.field), msg=describe(p, language), field=p.field)
            for p in problems
        ],
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=422)


@api.get("", response_model=SettingsPublic)
def api_settings(db: DbDep, settings: SettingsDep, user: SupervisorUser) -> SettingsPublic:
    """The settings in force, the configuration file's, the overrides, and whether the
    running line service has applied them."""
    return _settings_public(db, settings, [])


@api.patch(
    "",
    response_model=SettingsPublic,
    responses={422: {"model": SettingsRefusedPublic}},
)
def api_change_settings(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    body: SettingsPatch,
) -> Response | SettingsPublic:
    """Change settings (keys left out stay as they are) and reset others to the file's;
    422 lists each refused value, and then nothing is stored."""
    changes = screening.leaves(body.changes())
    if SUPERVISORS in changes:
        region = screening.read_base(db)[0].site.region
        numbers, problems = screening.normalise_numbers(SUPERVISORS, changes[SUPERVISORS], region)
        if problems:
            return _refused(problems, user.language)
        changes[SUPERVISORS] = numbers
    try:
        outcome = screening.change_settings(
            db, actor_for(request, session), settings.zone, changes=changes, resets=body.reset
        )
    except SettingsRefusedError as refused:
        return _refused(refused.problems, user.language)
    return _settings_public(db, settings, sorted(outcome.changed))
