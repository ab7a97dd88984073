"""FastAPI dependencies, as `Annotated` aliases so handlers read like prose.

`DbDep` (a connection for this request), `MaybeSession`, `SessionDep`, `CurrentUser`
(any logged-in user), `SupervisorUser`, `TechnicianUser` (that role or above), and
`CsrfChecked`, which every router whose routes change anything carries: it lets GET and
HEAD through and refuses any other method whose `X-CSRF-Token` header or `csrf_token`
form field is not the session's own token (403). It depends on the session, so an
anonymous request is refused as such (401 or the login page) before CSRF is looked at.
"""

from __future__ import annotations

import hmac
import sqlite3
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request

from web_ui.auth.sessions import Session, load_session
from web_ui.core.db import connect
from web_ui.core.security import client_address
from web_ui.core.web_settings import WebSettings
from web_ui.users.audit import Actor
from web_ui.users.service import Role, User

SESSION_COOKIE = "siaga_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticatedError(Exception):
    """No live session: pages send the browser to the login page, the API answers 401."""


class ForbiddenError(Exception):
    """Logged in, but not allowed: a lower role, or a missing or wrong CSRF token (403)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def get_settings(request: Request) -> WebSettings:
    """The settings `create_app` was given."""
    settings: WebSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[WebSettings, Depends(get_settings)]


def get_db(settings: SettingsDep) -> Iterator[sqlite3.Connection]:
    """A connection to the shared database for the length of one request."""
    conn = connect(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        yield conn
    finally:
        conn.close()


DbDep = Annotated[sqlite3.Connection, Depends(get_db)]


def optional_session(request: Request, db: DbDep, settings: SettingsDep) -> Session | None:
    """The caller's live session, if the cookie names one; kept on `request.state`."""
    session = load_session(db, settings, request.cookies.get(SESSION_COOKIE))
    request.state.session = session
    return session


MaybeSession = Annotated[Session | None, Depends(optional_session)]


def current_session(session: MaybeSession) -> Session:
    """The caller's session, or `NotAuthenticatedError`."""
    if session is None:
        raise NotAuthenticatedError
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def current_user(session: SessionDep) -> User:
    """The logged-in user (any role)."""
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(minimum: Role) -> Callable[[User], User]:
    """A dependency that lets through users of role `minimum` or above (else 403)."""

    def check(user: CurrentUser) -> User:
        if not user.role.at_least(minimum):
            raise ForbiddenError("error.forbidden")
        return user

    check.__name__ = f"require_{minimum.value}"
    return check


SupervisorUser = Annotated[User, Depends(require_role(Role.SUPERVISOR))]
TechnicianUser = Annotated[User, Depends(require_role(Role.TECHNICIAN))]


async def check_csrf(request: Request, session: SessionDep) -> None:
    """Refuse a state-changing request that does not carry this session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise ForbiddenError("error.csrf")


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


CsrfChecked = Depends(check_csrf)


def actor_for(request: Request, session: Session) -> Actor:
    """The session's user as the author of a change, with their address."""
    return Actor(
        name=session.user.username, user_id=session.user.id, remote=client_address(request)
    )


# A row id in a URL: SQLite's integers stop at 2**63 - 1, and a larger one must be a 422,
# not a server error when it reaches the database (found by the schemathesis run).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
