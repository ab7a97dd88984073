"""The JSON API's input and output models (separate, as the full-stack FastAPI template does).

Inputs forbid unknown fields and bound every string, so a request cannot smuggle in a
field the handler ignores or make the server hash a megabyte of "password".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from web_ui.audit import AuditEntry
from web_ui.users import Language, Role, User

MAX_PASSWORD_INPUT = 1024


class InputModel(BaseModel):
    """Base of every request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(InputModel):
    """`POST /api/login`."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=MAX_PASSWORD_INPUT)


class UserCreate(InputModel):
    """`POST /api/users`: a new account (technicians only)."""

    username: str = Field(max_length=64, examples=["siti.operator"])
    display_name: str = Field(default="", max_length=200, examples=["Siti Rahma"])
    role: Role
    password: str = Field(max_length=MAX_PASSWORD_INPUT)
    language: Language = "id"


class UserUpdate(InputModel):
    """`PATCH /api/users/{id}`: any of role, disabled, display name (absent: unchanged)."""

    role: Role | None = None
    disabled: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)


class PasswordReset(InputModel):
    """`POST /api/users/{id}/password`: a technician sets someone's password."""

    new_password: str = Field(max_length=MAX_PASSWORD_INPUT)


class PasswordChange(InputModel):
    """`POST /api/me/password`: a user changes their own password."""

    current_password: str = Field(max_length=MAX_PASSWORD_INPUT)
    new_password: str = Field(max_length=MAX_PASSWORD_INPUT)


class LanguageUpdate(InputModel):
    """`PATCH /api/me`: the language the web UI speaks to this user."""

    language: Language


class UserPublic(BaseModel):
    """An account as the API shows it (no password hash, ever)."""

    id: int
    username: str
    display_name: str
    role: Role
    language: Language
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User, zone: ZoneInfo) -> UserPublic:
        """The public view of `user`, times in the site's zone."""
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            language=user.language,
            disabled=user.disabled,
            created_at=datetime.fromtimestamp(user.created_ts, zone),
        )


class SessionPublic(BaseModel):
    """Who is logged in, and the CSRF token to send as `X-CSRF-Token` on every change."""

    user: UserPublic
    csrf_token: str
    expires_at: datetime


class AuditPublic(BaseModel):
    """One audit log entry."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    remote: str | None

    @classmethod
    def of(cls, entry: AuditEntry, zone: ZoneInfo) -> AuditPublic:
        """The public view of `entry`, its time in the site's zone."""
        return cls(
            id=entry.id,
            at=entry.local_time(zone),
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            before=entry.before,
            after=entry.after,
            remote=entry.remote,
        )


class ErrorPublic(BaseModel):
    """Every API error: `detail` is a stable code (a message catalogue key)."""

    detail: str
    message: str | None = None
