"""Logging in and out (page and API), and the one-time setup page for the first account.

The login and setup forms carry a signed anonymous-form token (`web_ui.core.security`);
`POST /api/login` accepts JSON only, which a page on another site cannot send without a
CORS preflight this app never grants. A failed login answers the same for a wrong
password, an unknown name and a disabled account (401); a name locked for this address,
a throttled address and a full password-hashing pool get 429 (`web_ui.auth.sessions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from web_ui.auth.sessions import (
    LoginOutcome,
    LoginResult,
    Session,
    authenticate,
    end_session,
    start_session,
)
from web_ui.core.app_state import pages_of, remove_setup_link, setup_of, throttle_of
from web_ui.core.deps import (
    SESSION_COOKIE,
    CsrfChecked,
    DbDep,
    ForbiddenError,
    MaybeSession,
    SessionDep,
    SettingsDep,
)
from web_ui.core.i18n import LANGUAGE_COOKIE, format_time, translate
from web_ui.core.models import ErrorPublic, LoginRequest, SessionPublic, UserPublic
from web_ui.core.security import (
    FORM_COOKIE,
    anonymous_form_ok,
    anonymous_form_token,
    client_address,
    safe_next,
    set_form_cookie,
    set_session_cookie,
)
from web_ui.core.templating import viewer_language
from web_ui.core.web_settings import WebSettings
from web_ui.users.audit import Actor
from web_ui.users.service import (
    Language,
    Role,
    UserError,
    count_users,
    create_user,
    prepare_new_user,
)

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["session"])

LOGIN_INFO_KEYS = frozenset({"login.logged_out", "login.setup_done"})


def session_public(settings: WebSettings, session: Session) -> SessionPublic:
    """What the API tells a client about its own session."""
    return SessionPublic(
        user=UserPublic.of(session.user, settings.zone),
        csrf_token=session.csrf_token,
        expires_at=datetime.fromtimestamp(session.expires_ts, settings.zone),
    )


# ------------------------------------------------------------------ login page


def _login_page(
    request: Request,
    settings: WebSettings,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    info: str | None = None,
    status_code: int = 200,
    language: Language | None = None,
    has_users: bool = True,
) -> Response:
    cookie_value, form_token = anonymous_form_token(request, settings)
    response = pages_of(request).render(
        request,
        "login.html",
        {
            "form_token": form_token,
            "next": next_path,
            "username": username,
            "error": error,
            "info": info if info in LOGIN_INFO_KEYS else None,
            "has_users": has_users,
        },
        session=None,
        status_code=status_code,
        language=language,
    )
    set_form_cookie(response, cookie_value, settings)
    return response


@pages.get("/login")
def login_page(
    request: Request,
    settings: SettingsDep,
    db: DbDep,
    session: MaybeSession,
    next: str = "/",
    lang: str | None = None,
    info: str | None = None,
) -> Response:
    """The login form; a logged-in user goes straight on. `lang` picks the language."""
    if session is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    language: Language | None = None
    if lang in ("id", "en"):
        language = "en" if lang == "en" else "id"
    response = _login_page(
        request,
        settings,
        next_path=safe_next(next),
        info=info,
        language=language,
        has_users=count_users(db) > 0,
    )
    if language is not None:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=365 * 86400,
            samesite="strict",
            path="/",
            secure=settings.cookie_secure,
        )
    return response


REFUSAL_CODES = {
    LoginOutcome.INVALID: ("login.invalid", 401),
    LoginOutcome.LOCKED: ("login.locked", 429),
    LoginOutcome.THROTTLED: ("login.throttled", 429),
    LoginOutcome.BUSY: ("login.busy", 429),
}


def _login_refused(request: Request, settings: WebSettings, result: LoginResult) -> str:
    language = viewer_language(request, None)
    if result.outcome is LoginOutcome.LOCKED and result.locked_until_ts is not None:
        until = format_time(result.locked_until_ts, settings.zone, language)
        return translate(language, "login.locked", time=until)
    if result.outcome is LoginOutcome.THROTTLED:
        return translate(language, "login.throttled", seconds=result.retry_after_s)
    return translate(language, REFUSAL_CODES[result.outcome][0])


def _check(
    request: Request, settings: WebSettings, db: DbDep, username: str, password: str
) -> LoginResult:
    return authenticate(
        db, settings, throttle_of(request), username, password, client_address(request)
    )


def _retry_headers(result: LoginResult) -> dict[str, str]:
    if result.outcome is LoginOutcome.THROTTLED:
        return {"Retry-After": str(result.retry_after_s)}
    if result.outcome is LoginOutcome.BUSY:
        return {"Retry-After": "1"}
    return {}


@pages.post("/login")
def login_submit(
    request: Request,
    settings: SettingsDep,
    db: DbDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    form_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the form; on success start a session and go to `next`."""
    if not anonymous_form_ok(request, settings, form_token):
        raise ForbiddenError("error.csrf")
    result = _check(request, settings, db, username, password)
    if result.outcome is not LoginOutcome.OK or result.user is None:
        page = _login_page(
            request,
            settings,
            next_path=safe_next(next),
            username=username,
            error=_login_refused(request, settings, result),
            status_code=REFUSAL_CODES[result.outcome][1],
        )
        page.headers.update(_retry_headers(result))
        return page
    token, _ = start_session(
        db,
        settings,
        result.user,
        remote=client_address(request),
        user_agent=request.headers.get("user-agent"),
        previous_token=request.cookies.get(SESSION_COOKIE),
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, SESSION_COOKIE, token, settings)
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


@pages.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, settings: SettingsDep, db: DbDep, session: SessionDep) -> Response:
    """End this session and return to the login page."""
    end_session(db, settings, session, client_address(request))
    target = "/login?" + urlencode({"info": "login.logged_out", "lang": session.user.language})
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ------------------------------------------------------------------ setup page


def _setup_open(request: Request, db: DbDep, token: str | None) -> None:
    """404 once any account exists (the page is gone); 403 for a wrong token."""
    if count_users(db) > 0 or not setup_of(request).active:
        raise HTTPException(status_code=404)
    if not setup_of(request).matches(token):
        raise ForbiddenError("error.setup_token")


def _setup_page(
    request: Request,
    settings: WebSettings,
    token: str,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    cookie_value, form_token = anonymous_form_token(request, settings)
    response = pages_of(request).render(
        request,
        "setup.html",
        {
            "form_token": form_token,
            "token": token,
            "error": error,
            "values": values or {"username": "", "display_name": ""},
        },
        session=None,
        status_code=status_code,
    )
    set_form_cookie(response, cookie_value, settings)
    return response


@pages.get("/setup")
def setup_page(request: Request, settings: SettingsDep, db: DbDep, token: str = "") -> Response:
    """The form for the first technician; exists only while there is no account."""
    _setup_open(request, db, token)
    return _setup_page(request, settings, token)


@pages.post("/setup")
def setup_submit(
    request: Request,
    settings: SettingsDep,
    db: DbDep,
    token: Annotated[str, Form(max_length=200)] = "",
    form_token: Annotated[str, Form(max_length=200)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_confirm: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Create the first technician, use the token up, and go to the login page."""
    _setup_open(request, db, token)
    if not anonymous_form_ok(request, settings, form_token):
        raise ForbiddenError("error.csrf")
    values = {"username": username, "display_name": display_name}
    language = viewer_language(request, None)
    try:
        if password != password_confirm:
            raise UserError("error.password_mismatch")
        new = prepare_new_user(username, display_name, Role.TECHNICIAN.value, password, language)
    except UserError as exc:
        return _setup_page(
            request,
            settings,
            token,
            error=translate(language, exc.code),
            values=values,
            status_code=400,
        )
    if not setup_of(request).consume(token):
        raise ForbiddenError("error.setup_token")
    remove_setup_link(settings.db_path)
    actor = Actor(name="setup", remote=client_address(request))
    create_user(db, actor, new, settings.zone, only_if_none=True)
    return RedirectResponse("/login?info=login.setup_done", status_code=303)


# ------------------------------------------------------------------ API


@api.post(
    "/login",
    response_model=SessionPublic,
    responses={401: {"model": ErrorPublic}, 429: {"model": ErrorPublic}},
)
def api_login(
    request: Request, settings: SettingsDep, db: DbDep, credentials: LoginRequest
) -> Response:
    """Log in; sets the session cookie and returns the CSRF token for later calls."""
    result = _check(request, settings, db, credentials.username, credentials.password)
    if result.outcome is not LoginOutcome.OK or result.user is None:
        code, status = REFUSAL_CODES[result.outcome]
        message = _login_refused(request, settings, result)
        return JSONResponse(
            {"detail": code, "message": message},
            status_code=status,
            headers=_retry_headers(result),
        )
    token, session = start_session(
        db,
        settings,
        result.user,
        remote=client_address(request),
        user_agent=request.headers.get("user-agent"),
        previous_token=request.cookies.get(SESSION_COOKIE),
    )
    response = JSONResponse(session_public(settings, session).model_dump(mode="json"))
    set_session_cookie(response, SESSION_COOKIE, token, settings)
    return response


@api.post("/logout", status_code=204, dependencies=[CsrfChecked])
def api_logout(request: Request, settings: SettingsDep, db: DbDep, session: SessionDep) -> Response:
    """End this session."""
    end_session(db, settings, session, client_address(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
