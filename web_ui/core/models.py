"""The JSON API's input and output models (separate, as the full-stack FastAPI template does).

Inputs forbid unknown fields and bound every string, so a request cannot smuggle in a
field the handler ignores or make the server hash a megabyte of "password".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from web_ui.users.audit import AuditEntry
from web_ui.users.service import Language, Role, User

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


# ------------------------------------------------------------------ the operator console

LineName = Annotated[str, Field(min_length=1, max_length=64, examples=["gsm1"])]
CallId = Annotated[
    StrictInt, Field(ge=1, description="the call's id (`line_status.call_id`, `calls.id`)")
]


class ConsoleCallAction(InputModel):
    """`POST /api/console/answer` and `/hang_up`: which line, and the call on it."""

    line: LineName
    call_id: CallId


class DispositionCreate(ConsoleCallAction):
    """`POST /api/console/disposition`: the operator's verdict on a call they took."""

    disposition: str = Field(max_length=40, examples=["genuine:fire", "prank"])


class BlockCreate(ConsoleCallAction):
    """`POST /api/console/block`: challenge this call's number for 24 hours or 7 days."""

    duration: Literal["24h", "7d"]


class DispositionPublic(BaseModel):
    """A verdict recorded on an earlier call from the same number."""

    disposition: str
    operator: str | None
    at: datetime
    at_text: str


class RulePublic(BaseModel):
    """An allow or block rule in force for a number."""

    id: str
    kind: str
    pattern: str
    match: str
    action: str
    reason: str
    created_by: str
    expires_at: datetime | None
    expires_text: str | None


class CallerHistory(BaseModel):
    """What the console knows of a caller; `available` is false for withheld numbers."""

    available: bool
    calls_24h: int = 0
    calls_30d: int = 0
    dispositions: list[DispositionPublic] = []
    rules: list[RulePublic] = []


class RecentCall(BaseModel):
    """The last call an operator took on a line, for two minutes after it ended."""

    call_id: int
    caller_raw: str | None
    caller: str | None
    number_class: str | None
    ended_ts: float
    ended_at: datetime
    disposition: str | None
    operator: str | None


class LinePublic(BaseModel):
    """One line as the line service last reported it (`line_status`)."""

    line: str
    state: str
    tone: str = Field(description="colour group: ok, busy, waiting, live, bad, quiet")
    since_ts: float
    since_at: datetime
    call_id: int | None
    caller_raw: str | None
    caller: str | None
    number_class: str | None
    decision: str | None
    reason: str | None
    rule: str | None
    challenge_result: str | None
    voice_heard: bool | None
    unverified: bool
    waiting_since_ts: float | None
    operator: str | None
    desk: str | None
    signal: int | None
    registration: str | None
    last_error: str | None
    last_error_text: str | None = Field(
        default=None, description="`last_error` in words, in the user's language"
    )
    degraded: list[str] = Field(
        default_factory=list,
        description="what the line cannot do although it answers: no_caller_id, "
        "no_key_detection, no_voice_port (settings its modem refuses), no_fail_over (the "
        "network did not take the backup forwarding)",
    )
    updated_ts: float
    history: CallerHistory | None = Field(
        description="for a call waiting for an operator or connected; else null"
    )
    recent_call: RecentCall | None


class DeskRequestPublic(BaseModel):
    """A request to the line service; `result` is null until the service has carried it out."""

    id: int
    kind: str
    line: str | None
    call_id: int | None
    disposition: str | None
    operator: str
    requested_ts: float
    requested_at: datetime
    done_ts: float | None
    done_at: datetime | None
    result: str | None
    status: Literal["pending", "done", "not_answering"]


class ConsoleServicePublic(BaseModel):
    """Whether the line service is alive, as the console judges it (`web_ui.console.service`)."""

    running: bool = Field(
        description="a heartbeat at most 30 s old, from a process that still exists"
    )
    known: bool = Field(description="false: the line service never ran on this database")
    heartbeat_ts: float | None = Field(description="its last sign of life, if any")
    heartbeat_at: datetime | None


class ConsoleSnapshot(BaseModel):
    """Every line, the line service's health, and the caller's own requests of the last
    two minutes. While `service.running` is false the lines' states are only what the
    service last reported before it stopped: the console shows them as not reported."""

    now_ts: float
    service: ConsoleServicePublic
    lines: list[LinePublic]
    requests: list[DeskRequestPublic]


class BlockPublic(BaseModel):
    """The rule a console block made; `created` is false when one was already in force."""

    rule: RulePublic
    created: bool
