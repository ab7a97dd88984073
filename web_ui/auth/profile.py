"""A user's own account: the language they see, and their password."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from web_ui.auth.passwords import verify_password
from web_ui.auth.router import session_public
from web_ui.auth.sessions import Session, locked_until, record_failure
from web_ui.core.app_state import pages_of
from web_ui.core.deps import CsrfChecked, CurrentUser, DbDep, SessionDep, SettingsDep, actor_for
from web_ui.core.i18n import translate
from web_ui.core.models import (
    ErrorPublic,
    LanguageUpdate,
    PasswordChange,
    SessionPublic,
    UserPublic,
)
from web_ui.core.security import client_address, safe_next
from web_ui.core.web_settings import WebSettings
from web_ui.users.service import (
    LANGUAGES,
    UserError,
    clean_language,
    new_password_hash,
    password_hash_of,
    set_language,
    set_password,
)

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/me",
    tags=["profile"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

DONE_KEYS = frozenset({"done.password_changed", "done.language"})


@pages.get("/profile")
def profile_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    """The language choice and the password form."""
    return _profile_page(request, session, done=done)


def _profile_page(
    request: Request,
    session: Session,
    *,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return pages_of(request).render(
        request,
        "profile.html",
        {
            "languages": LANGUAGES,
            "session_expires_ts": session.expires_ts,
            "done": done if done in DONE_KEYS else None,
            "error": error,
        },
        session=session,
        status_code=status_code,
    )


@pages.post("/profile/language")
def language_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    language: Annotated[str, Form(max_length=5)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/profile",
) -> Response:
    """Switch the language; back to the page the switch was made on."""
    set_language(
        db, actor_for(request, session), session.user.id, clean_language(language), settings.zone
    )
    return RedirectResponse(safe_next(next), status_code=303)


def _change_password(
    request: Request,
    db: DbDep,
    settings: WebSettings,
    session: Session,
    current_password: str,
    new_password: str,
) -> None:
    # Wrong current passwords count towards the login lockout: a session left open on a
    # shared screen must not become a way to guess its owner's password.
    username = session.user.username
    remote = client_address(request)
    if locked_until(db, settings, username, remote, time.time()) is not None:
        raise UserError("error.locked", status=429)
    stored = password_hash_of(db, session.user.id)
    if stored is None or not verify_password(stored, current_password):
        if record_failure(db, settings, username, session.user, remote) is not None:
            raise UserError("error.locked", status=429)
        raise UserError("error.current_password")
    password_hash = new_password_hash(new_password, session.user.username)
    set_password(
        db,
        actor_for(request, session),
        session.user.id,
        password_hash,
        settings.zone,
        keep_session_id=session.id,
    )


@pages.post("/profile/password")
def password_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    new_password_confirm: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Change one's own password; other sessions of this user end."""
    try:
        if new_password != new_password_confirm:
            raise UserError("error.password_mismatch")
        _change_password(request, db, settings, session, current_password, new_password)
    except UserError as exc:
        message = translate(session.user.language, exc.code)
        return _profile_page(request, session, error=message, status_code=exc.status)
    return RedirectResponse("/profile?done=done.password_changed", status_code=303)


# ------------------------------------------------------------------ API


@api.get("", response_model=SessionPublic)
def api_me(settings: SettingsDep, session: SessionDep) -> SessionPublic:
    """Who is logged in, and this session's CSRF token."""
    return session_public(settings, session)


@api.patch("", response_model=UserPublic)
def api_update_me(
    request: Request, db: DbDep, settings: SettingsDep, session: SessionDep, body: LanguageUpdate
) -> UserPublic:
    """Change one's language."""
    user = set_language(
        db, actor_for(request, session), session.user.id, body.language, settings.zone
    )
    return UserPublic.of(user, settings.zone)


@api.post("/password", status_code=204)
def api_change_password(
    request: Request, db: DbDep, settings: SettingsDep, session: SessionDep, body: PasswordChange
) -> Response:
    """Change one's own password (the current one is required)."""
    _change_password(request, db, settings, session, body.current_password, body.new_password)
    return Response(status_code=204)
