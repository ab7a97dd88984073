"""Accounts: list, add, change role, disable/enable, reset a password (technicians), and
lift login locks (supervisors too: at night the supervisor is the one on shift).

A supervisor's users page lists only the accounts locked out now, each with its *Unlock*
button; the rest of user management, on the page and in the API, stays the technician's.

Page forms post and redirect back (`?done=...`); a refused change re-renders the page
with the reason. The API does the same through JSON. Each change is one transaction with
its audit row (`web_ui.users.service`).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from web_ui.auth.sessions import locked_accounts, unlock
from web_ui.core.app_state import pages_of
from web_ui.core.deps import (
    CsrfChecked,
    DbDep,
    RowId,
    SessionDep,
    SettingsDep,
    SupervisorUser,
    TechnicianUser,
    actor_for,
    get_settings,
)
from web_ui.core.i18n import translate
from web_ui.core.models import ErrorPublic, PasswordReset, UserCreate, UserPublic, UserUpdate
from web_ui.users.service import (
    LANGUAGES,
    Role,
    User,
    UserError,
    clean_role,
    create_user,
    get_user,
    list_users,
    new_password_hash,
    prepare_new_user,
    set_password,
    update_user,
)

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/users",
    tags=["users"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

DONE_KEYS = frozenset(
    {"done.user_added", "done.user_updated", "done.password_reset", "done.user_unlocked"}
)
EMPTY_FORM = {"username": "", "display_name": "", "role": Role.OPERATOR.value, "language": "id"}


def _users_page(
    request: Request,
    db: DbDep,
    session: SessionDep,
    *,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    locked = locked_accounts(db, get_settings(request), time.time())
    manage = session.user.role.at_least(Role.TECHNICIAN)
    users = list_users(db)
    return pages_of(request).render(
        request,
        "users.html",
        {
            "users": users if manage else [u for u in users if u.username.lower() in locked],
            "manage": manage,  # a supervisor sees the locked accounts and Unlock only
            "locked": locked,
            "roles": list(Role),
            "languages": LANGUAGES,
            "form": form or EMPTY_FORM,
            "done": done if done in DONE_KEYS else None,
            "error": error,
        },
        session=session,
        status_code=status_code,
    )


def _refused(
    request: Request, db: DbDep, session: SessionDep, exc: UserError, form: dict[str, str] | None
) -> Response:
    message = translate(session.user.language, exc.code)
    return _users_page(request, db, session, error=message, form=form, status_code=exc.status)


def _done(key: str) -> Response:
    return RedirectResponse(f"/users?done={key}", status_code=303)


@pages.get("/users")
def users_page(
    request: Request,
    db: DbDep,
    user: SupervisorUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    """Every account with the forms to change them; for a supervisor, the locked ones with
    their Unlock buttons only."""
    return _users_page(request, db, session, done=done)


@pages.post("/users")
def add_user_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    language: Annotated[str, Form(max_length=5)] = "id",
) -> Response:
    """Add an account from the form."""
    form = {"username": username, "display_name": display_name, "role": role, "language": language}
    try:
        new = prepare_new_user(username, display_name, role, password, language)
        create_user(db, actor_for(request, session), new, settings.zone)
    except UserError as exc:
        return _refused(request, db, session, exc, form)
    return _done("done.user_added")


@pages.post("/users/{user_id}/role")
def change_role_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    user_id: RowId,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Give an account another role."""
    try:
        update_user(db, actor_for(request, session), user_id, settings.zone, role=clean_role(role))
    except UserError as exc:
        return _refused(request, db, session, exc, None)
    return _done("done.user_updated")


def _set_disabled(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    user_id: RowId,
    flag: bool,
) -> Response:
    try:
        update_user(db, actor_for(request, session), user_id, settings.zone, disabled=flag)
    except UserError as exc:
        return _refused(request, db, session, exc, None)
    return _done("done.user_updated")


@pages.post("/users/{user_id}/disable")
def disable_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    user_id: RowId,
) -> Response:
    """Disable an account: it can no longer log in, and its sessions end now."""
    return _set_disabled(request, db, settings, session, user_id, True)


@pages.post("/users/{user_id}/enable")
def enable_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    user_id: RowId,
) -> Response:
    """Enable a disabled account again."""
    return _set_disabled(request, db, settings, session, user_id, False)


@pages.post("/users/{user_id}/unlock")
def unlock_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    user_id: RowId,
) -> Response:
    """Lift every login lock on an account (from every address)."""
    try:
        unlock(db, settings.zone, actor_for(request, session), _existing(db, user_id))
    except UserError as exc:
        return _refused(request, db, session, exc, None)
    return _done("done.user_unlocked")


@pages.post("/users/{user_id}/password")
def reset_password_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    user_id: RowId,
    new_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Set someone's password (they are logged out everywhere)."""
    try:
        _reset_password(request, db, settings, session, user_id, new_password)
    except UserError as exc:
        return _refused(request, db, session, exc, None)
    return _done("done.password_reset")


def _reset_password(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    session: SessionDep,
    user_id: RowId,
    new_password: str,
) -> None:
    target = _existing(db, user_id)
    password_hash = new_password_hash(new_password, target.username)
    keep = session.id if user_id == session.user.id else None
    set_password(
        db, actor_for(request, session), user_id, password_hash, settings.zone, keep_session_id=keep
    )


def _existing(db: DbDep, user_id: int) -> User:
    user = get_user(db, user_id)
    if user is None:
        raise UserError("error.user_not_found", status=404)
    return user


# ------------------------------------------------------------------ API


@api.get("", response_model=list[UserPublic])
def api_list_users(db: DbDep, settings: SettingsDep, user: TechnicianUser) -> list[UserPublic]:
    """Every account."""
    return [UserPublic.of(each, settings.zone) for each in list_users(db)]


@api.post("", response_model=UserPublic, status_code=201)
def api_create_user(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    body: UserCreate,
) -> UserPublic:
    """Add an account."""
    new = prepare_new_user(
        body.username, body.display_name, body.role.value, body.password, body.language
    )
    created = create_user(db, actor_for(request, session), new, settings.zone)
    return UserPublic.of(created, settings.zone)


@api.get("/{user_id}", response_model=UserPublic)
def api_get_user(
    db: DbDep, settings: SettingsDep, user: TechnicianUser, user_id: RowId
) -> UserPublic:
    """One account."""
    return UserPublic.of(_existing(db, user_id), settings.zone)


@api.patch("/{user_id}", response_model=UserPublic)
def api_update_user(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    user_id: RowId,
    body: UserUpdate,
) -> UserPublic:
    """Change an account's role, disabled flag or display name."""
    updated = update_user(
        db,
        actor_for(request, session),
        user_id,
        settings.zone,
        role=body.role,
        disabled=body.disabled,
        display_name=body.display_name,
    )
    return UserPublic.of(updated, settings.zone)


@api.post("/{user_id}/unlock", status_code=204)
def api_unlock_user(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    user_id: RowId,
) -> Response:
    """Lift every login lock on an account (from every address); audited."""
    unlock(db, settings.zone, actor_for(request, session), _existing(db, user_id))
    return Response(status_code=204)


@api.post("/{user_id}/password", status_code=204)
def api_reset_password(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: TechnicianUser,
    session: SessionDep,
    user_id: RowId,
    body: PasswordReset,
) -> Response:
    """Set an account's password; its sessions end."""
    _reset_password(request, db, settings, session, user_id, body.new_password)
    return Response(status_code=204)
