"""The lines page: every modem line, enable/disable, and an AT test; `/api/lines`.

Technicians only. `GET /lines` lists each line with its modem's health; the forms post to
`/lines/{line}/enable`, `/lines/{line}/disable` and `/lines/{line}/test`. The test form
waits on the server (up to `FORM_WAIT_S`) for the line service's answer, then sends the
browser back to the page, which shows each line's latest test: no script needed. The API
answers a test at once (201, `result` null) and `GET /api/lines/requests/{id}` polls it.
What the page and the service agree on is in `web_ui.lines` and `appliance/line_admin.py`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from appliance.line_admin import AT_TEST_COMMANDS
from web_ui import lines
from web_ui.app_state import pages_of
from web_ui.deps import (
    CsrfChecked,
    DbDep,
    RowId,
    SessionDep,
    SettingsDep,
    TechnicianUser,
    actor_for,
)
from web_ui.i18n import translate
from web_ui.lines import (
    REGISTRATIONS,
    AtTestCreate,
    LineEnabledUpdate,
    LineListed,
    LineRequestPublic,
    LinesError,
)
from web_ui.models import ErrorPublic

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/lines",
    tags=["lines"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

FORM_WAIT_S = 5.0  # the test form waits this long for the modem's answer
DONE_KEYS = frozenset({"done.line_enabled", "done.line_disabled"})
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
            "commands": AT_TEST_COMMANDS,
            "registrations": REGISTRATIONS,
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
