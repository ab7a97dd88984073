"""The lines page: every modem line, enable/disable, an AT test, and the lines' settings.

Technicians only. `GET /lines` lists each line with its modem's health; the forms post to
`/lines/{line}/enable`, `/lines/{line}/disable` and `/lines/{line}/test`. Lines are
added, edited and removed with `/lines/add`, `/lines/{line}/edit` and
`/lines/{line}/remove` (and `POST /api/lines`, `PUT`/`DELETE /api/lines/{line}`,
`GET /api/lines/config`); which lines are in force, the page's or the configuration
file's, is decided in `appliance/web_lines.py` and written in `web_ui/lines/config_form.py`.
A refused field re-renders the form with what was typed and the field named (422). The test form
waits on the server (up to `FORM_WAIT_S`) for the line service's answer, then sends the
browser back to the page, which shows each line's latest test: no script needed. The API
answers a test at once (201, `result` null) and `GET /api/lines/requests/{id}` polls it.
What the page and the service agree on is in `web_ui.lines.service` and `appliance/line_admin.py`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from appliance.config import FamilyName, LineConfig, RejectMethod
from appliance.line_admin import AT_TEST_COMMANDS
from web_ui.core import wording
from web_ui.core.app_state import pages_of
from web_ui.core.deps import (
    CsrfChecked,
    DbDep,
    RowId,
    SessionDep,
    SettingsDep,
    TechnicianUser,
    actor_for,
)
from web_ui.core.i18n import translate
from web_ui.core.models import ErrorPublic
from web_ui.lines import config_form as line_config
from web_ui.lines import service as lines
from web_ui.lines.config_form import (
    FIELDS,
    FLAG_FIELDS,
    LineConfigInput,
    LineConfigRefusedError,
    LineConfigRefusedPublic,
    LineProblemPublic,
    LinesConfigPublic,
)
from web_ui.lines.service import (
    REGISTRATIONS,
    AtTestCreate,
    LineEnabledUpdate,
    LineListed,
    LineRequestPublic,
    LinesError,
)
from web_ui.users.service import Language

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/lines",
    tags=["lines"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

FORM_WAIT_S = 5.0  # the test form waits this long for the modem's answer
DONE_KEYS = frozenset(
    {
        "done.line_enabled",
        "done.line_disabled",
        "done.line_added",
        "done.line_changed",
        "done.line_removed",
    }
)
FAMILIES: tuple[str, ...] = get_args(FamilyName)
REJECT_METHODS: tuple[str, ...] = get_args(RejectMethod)
CALL_WAITING: tuple[str, ...] = ("reject", "ignore")
LineName = Annotated[str, Path(pattern=lines.LINE_NAME_PATTERN)]

_LINE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "no such line"},
    409: {
        "model": ErrorPublic,
        "description": "the line holds a call, or the configuration file disables it",
    },
    422: {"model": ErrorPublic, "description": "bad input, or a command not on the list"},
}


def _lines_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    *,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return pages_of(request).render(
        request,
        "lines.html",
        {
            "lines": lines.list_lines(db, settings.zone),
            "config": line_config.read_view(db, slots=()),
            "commands": AT_TEST_COMMANDS,
            "registrations": REGISTRATIONS,
            "error_words": lambda raw: wording.error_words(raw, session.user.language),
            # A signal's share of the best reading, a whole percent (`68%`).
            "percent": lambda value: wording.format_percent(value, session.user.language, digits=0),
            "done": done if done in DONE_KEYS else None,
            "error": error,
        },
        session=session,
        status_code=status_code,
    )


def _refused(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    refused: LinesError,
) -> Response:
    message = translate(session.user.language, refused.code)
    return _lines_page(request, db, settings, session, error=message, status_code=refused.status)


# ------------------------------------------------------------------ the page


@pages.get("/lines")
def lines_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    """Every line: state, modem, signal, network, last error, enable/disable, AT test."""
    return _lines_page(request, db, settings, session, done=done)


def _set_enabled_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    line: str,
    enabled: bool,
) -> Response:
    try:
        lines.set_enabled(db, actor_for(request, session), line, enabled, settings.zone)
    except LinesError as refused:
        return _refused(request, db, settings, session, refused)
    done = "done.line_enabled" if enabled else "done.line_disabled"
    return RedirectResponse(f"/lines?done={done}#line-{line}", status_code=303)


@pages.post("/lines/{line}/enable")
def enable_line_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
) -> Response:
    """Put the line back in service."""
    return _set_enabled_form(request, db, settings, session, line, True)


@pages.post("/lines/{line}/disable")
def disable_line_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
) -> Response:
    """Take the line out of service (refused while it holds a call)."""
    return _set_enabled_form(request, db, settings, session, line, False)


@pages.post("/lines/{line}/test")
def test_line_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
    command: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Send one AT command from the list; wait for the answer, then show the page."""
    try:
        request_id = lines.request_test(
            db, actor_for(request, session), line, command, settings.zone
        )
    except LinesError as refused:
        return _refused(request, db, settings, session, refused)
    lines.wait_for_result(db, request_id, settings.zone, FORM_WAIT_S)
    return RedirectResponse(f"/lines#line-{line}", status_code=303)


# ------------------------------------------------------------------ the lines' settings


async def _line_form(request: Request) -> dict[str, Any]:
    """The posted line form's fields as typed; a checkbox is on when sent."""
    form = await request.form()
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = form.get(name)
        values[name] = value if isinstance(value, str) else ""
    for name in FLAG_FIELDS:
        values[name] = name in form
    return values


LineForm = Annotated[dict[str, Any], Depends(_line_form)]


def _typed(config: LineConfig | None) -> dict[str, Any]:
    """A line's settings as the form shows them (the model's defaults for a new line)."""
    if config is not None:
        shown = config.model_dump(mode="json")
    else:
        shown = {
            name: None if info.is_required() else info.default
            for name, info in LineConfig.model_fields.items()
        }
    return {name: "" if shown.get(name) is None else shown[name] for name in FIELDS}


def _form_page(
    request: Request,
    db: DbDep,
    session: SessionDep,
    *,
    editing: str | None,
    typed: Mapping[str, Any],
    problems: list[LineProblemPublic] | None = None,
) -> Response:
    return pages_of(request).render(
        request,
        "line_form.html",
        {
            "editing": editing,
            "typed": typed,
            "problems": problems or [],
            "problem_fields": {problem.field for problem in problems or []},
            "slots": line_config.read_slots(),
            "families": FAMILIES,
            "reject_methods": REJECT_METHODS,
            "call_waiting": CALL_WAITING,
            "config": line_config.read_view(db, slots=()),
        },
        session=session,
        status_code=422 if problems else 200,
    )


def _problems(refused: LineConfigRefusedError, language: Language) -> list[LineProblemPublic]:
    return [
        LineProblemPublic(field=problem.field, msg=problem.message) for problem in refused.problems
    ]


@pages.get("/lines/add")
def add_line_page(
    request: Request, db: DbDep, user: TechnicianUser, session: SessionDep
) -> Response:
    """The form for a new line, with the USB slots' stable names offered as ports."""
    return _form_page(request, db, session, editing=None, typed=_typed(None))


@pages.post("/lines/add")
def add_line_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    typed: LineForm,
) -> Response:
    """Add the line; a refused field shows the form again with what was typed."""
    try:
        added = line_config.add_line(db, actor_for(request, session), typed, settings.zone)
    except LineConfigRefusedError as refused:
        problems = _problems(refused, session.user.language)
        return _form_page(request, db, session, editing=None, typed=typed, problems=problems)
    return RedirectResponse(f"/lines?done=done.line_added#line-{added.name}", status_code=303)


@pages.get("/lines/{line}/edit")
def edit_line_page(
    request: Request, db: DbDep, user: TechnicianUser, session: SessionDep, line: LineName
) -> Response:
    """The form with the line's settings in force."""
    found = line_config.configured(db, line)
    if found is None:
        raise HTTPException(status_code=404)
    return _form_page(request, db, session, editing=line, typed=_typed(found))


@pages.post("/lines/{line}/edit")
def edit_line_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
    form: LineForm,
) -> Response:
    """Change the line's settings (its name stays); the service restarts only it."""
    typed = {**form, "name": line}
    try:
        line_config.edit_line(db, actor_for(request, session), line, typed, settings.zone)
    except LineConfigRefusedError as refused:
        problems = _problems(refused, session.user.language)
        return _form_page(request, db, session, editing=line, typed=typed, problems=problems)
    return RedirectResponse(f"/lines?done=done.line_changed#line-{line}", status_code=303)


@pages.post("/lines/{line}/remove")
def remove_line_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
) -> Response:
    """Remove the line from the set in force (stopped once it holds no call)."""
    try:
        line_config.remove_line(db, actor_for(request, session), line, settings.zone)
    except LinesError as refused:
        return _refused(request, db, settings, session, refused)
    return RedirectResponse("/lines?done=done.line_removed", status_code=303)


# ------------------------------------------------------------------ the API


@api.get("", response_model=list[LineListed])
def api_lines(db: DbDep, settings: SettingsDep, user: TechnicianUser) -> list[LineListed]:
    """Every line the line service reported or its configuration file lists."""
    return lines.list_lines(db, settings.zone)


@api.put("/{line}/enabled", response_model=LineListed, responses=_LINE_RESPONSES)
def api_set_enabled(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
    body: LineEnabledUpdate,
) -> Response:
    """Take the line out of service (`false`: its port is released) or back in (`true`).

    409 while the line holds a call: a call in progress is never cut. Errors are
    `{"detail": code, "message": ...}` as everywhere in the API.
    """
    listed = lines.set_enabled(db, actor_for(request, session), line, body.enabled, settings.zone)
    return JSONResponse(listed.model_dump(mode="json"))


@api.post(
    "/{line}/test",
    status_code=201,
    response_model=LineRequestPublic,
    responses=_LINE_RESPONSES,
)
def api_test(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
    body: AtTestCreate,
) -> Response:
    """Ask the line service to send one read-only AT command (from the fixed list) on the
    line; poll `GET /api/lines/requests/{id}` for its `result` and `answer`."""
    actor = actor_for(request, session)
    request_id = lines.request_test(db, actor, line, body.command, settings.zone)
    created = lines.get_request(db, request_id, settings.zone)
    assert created is not None  # just committed
    return JSONResponse(created.model_dump(mode="json"), status_code=201)


@api.get(
    "/requests/{request_id}",
    response_model=LineRequestPublic,
    responses={404: {"model": ErrorPublic, "description": "no such request"}},
)
def api_request(
    db: DbDep, settings: SettingsDep, user: TechnicianUser, request_id: RowId
) -> LineRequestPublic:
    """One AT test: `result` and `answer` are null until the line service has answered."""
    found = lines.get_request(db, request_id, settings.zone, time.time())
    if found is None:
        raise HTTPException(status_code=404)
    return found


# ------------------------------------------------------------------ the API: settings

_CONFIG_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "no such line in force"},
    409: {"model": ErrorPublic, "description": "the last line, while the file has lines"},
    422: {"model": LineConfigRefusedPublic, "description": "a field refused, each named"},
}


def _refused_json(refused: LineConfigRefusedError, language: Language) -> JSONResponse:
    body = LineConfigRefusedPublic(
        detail=refused.code,
        message=translate(language, refused.code),
        errors=_problems(refused, language),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=422)


@api.get("/config", response_model=LinesConfigPublic)
def api_lines_config(db: DbDep, user: TechnicianUser) -> LinesConfigPublic:
    """Which lines are in force (`source`: this page's or the file's), each line's
    settings, the file's overridden entries, whether the line service applied the latest
    change, and the USB slots' stable names."""
    return line_config.read_view(db)


@api.post("", status_code=201, response_model=LineConfig, responses=_CONFIG_RESPONSES)
def api_add_line(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    body: LineConfigInput,
) -> Response:
    """Add a line (checked as a `[[lines]]` entry; names and ports unique). The first
    change copies the file's lines in: from then on this page's lines are in force."""
    try:
        added = line_config.add_line(
            db, actor_for(request, session), body.model_dump(), settings.zone
        )
    except LineConfigRefusedError as refused:
        return _refused_json(refused, session.user.language)
    return JSONResponse(added.model_dump(mode="json"), status_code=201)


@api.put("/{line}", response_model=LineConfig, responses=_CONFIG_RESPONSES)
def api_edit_line(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
    body: LineConfigInput,
) -> Response:
    """Replace a line's settings (`name` is ignored: a line keeps its name); the line
    service restarts only this line, once it holds no call."""
    values = {**body.model_dump(), "name": line}
    try:
        changed = line_config.edit_line(
            db, actor_for(request, session), line, values, settings.zone
        )
    except LineConfigRefusedError as refused:
        return _refused_json(refused, session.user.language)
    return JSONResponse(changed.model_dump(mode="json"))


@api.delete("/{line}", response_model=LineConfig, responses=_CONFIG_RESPONSES)
def api_remove_line(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    line: LineName,
) -> Response:
    """Remove a line; the line service stops it once it holds no call (never cut).
    Answers the settings it had."""
    removed = line_config.remove_line(db, actor_for(request, session), line, settings.zone)
    return JSONResponse(removed.model_dump(mode="json"))
