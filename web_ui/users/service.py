"""Web UI accounts: roles, validation, and every change to a user (each one audited).

Roles (a decision, also in docs/web-ui.md) form a ladder; each role can do everything the
roles below it can:

- `operator`: the operator console (answer screened calls, record dispositions), their
  own profile (language, password).
- `supervisor`: as operator, plus reports, the call log, managing blocks and the
  allowlist, and reading the audit log.
- `technician`: as supervisor, plus users (add, change role, disable, reset a password),
  screening settings, lines and the system page.

A ladder rather than separate permissions because a technician who manages accounts could
give themself any role anyway: separating them would add clicks, not safety.

Every function that changes a user takes the `Actor` and writes an audit row in the same
`BEGIN IMMEDIATE` transaction. Password hashes are made by the caller, before the
transaction, so the write lock is held for milliseconds. The last active technician can
be neither disabled nor demoted: somebody must always be able to manage the accounts.
"""

from __future__ import annotations

import re
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from web_ui.auth.passwords import PasswordRejectedError, check_new_password, hash_password
from web_ui.core.db import transaction
from web_ui.users import audit
from web_ui.users.audit import Actor

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,31}")
MAX_DISPLAY_NAME_CHARS = 80


class Role(StrEnum):
    """A user's role; see the module docstring for what each may do."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    TECHNICIAN = "technician"

    @property
    def rank(self) -> int:
        """Position on the ladder: a higher rank can do all a lower one can."""
        return _RANKS[self]

    def at_least(self, minimum: Role) -> bool:
        """True if this role may do what `minimum` may."""
        return self.rank >= minimum.rank


_RANKS = {Role.OPERATOR: 0, Role.SUPERVISOR: 1, Role.TECHNICIAN: 2}


class UserError(ValueError):
    """A change that cannot be made; `code` is the message catalogue key, `status` HTTP's."""

    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class User:
    """A web UI account, without its password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    language: Language
    disabled: bool
    created_ts: float
    password_changed_ts: float

    def audit_view(self) -> dict[str, Any]:
        """The fields an audit row shows (never the hash)."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "language": self.language,
            "disabled": self.disabled,
        }


def _user(row: sqlite3.Row) -> User:
    language = str(row["language"])
    return User(
        id=int(row["id"]),
        username=str(row["username"]),
        display_name=str(row["display_name"]),
        role=Role(row["role"]),
        language="en" if language == "en" else "id",
        disabled=bool(row["disabled"]),
        created_ts=float(row["created_ts"]),
        password_changed_ts=float(row["password_changed_ts"]),
    )


# ------------------------------------------------------------------ validation


def clean_username(username: str) -> str:
    """The user name as stored, or `UserError` if it is not 2-32 letters, digits, . _ -."""
    username = username.strip()
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError("error.username_invalid")
    return username


def clean_display_name(display_name: str, username: str) -> str:
    """The display name as stored (any script, no control characters); empty -> user name."""
    text = " ".join(display_name.split())
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise UserError("error.display_name_invalid")
    if len(text) > MAX_DISPLAY_NAME_CHARS:
        raise UserError("error.display_name_long")
    return text or username


def clean_language(language: str) -> Language:
    """`id` or `en`, else `UserError`."""
    if language == "id":
        return "id"
    if language == "en":
        return "en"
    raise UserError("error.language_invalid")


def clean_role(role: str) -> Role:
    """A `Role`, else `UserError`."""
    try:
        return Role(role)
    except ValueError:
        raise UserError("error.role_invalid") from None


def new_password_hash(password: str, username: str) -> str:
    """Check a new password against the rules and hash it (slow: outside transactions)."""
    try:
        check_new_password(password, username)
    except PasswordRejectedError as exc:
        raise UserError(exc.code) from None
    return hash_password(password)


def prepare_new_user(
    username: str, display_name: str, role: str, password: str, language: str = "id"
) -> NewUser:
    """Validate what a form, the API, the setup page or the CLI gave; hash the password."""
    name = clean_username(username)
    return NewUser(
        username=name,
        display_name=clean_display_name(display_name, name),
        role=clean_role(role),
        language=clean_language(language),
        password_hash=new_password_hash(password, name),
    )


# ------------------------------------------------------------------ reading


def count_users(conn: sqlite3.Connection) -> int:
    """How many accounts exist (disabled ones included)."""
    return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def list_users(conn: sqlite3.Connection) -> list[User]:
    """Every account, by user name."""
    rows = conn.execute("SELECT * FROM users ORDER BY username COLLATE NOCASE").fetchall()
    return [_user(row) for row in rows]


def get_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    """The account with this id, if any."""
    row = conn.execute("SELECT * FROM users WHERE id = ?", [user_id]).fetchone()
    return None if row is None else _user(row)


def get_by_username(conn: sqlite3.Connection, username: str) -> User | None:
    """The account with this user name (case-insensitive), if any."""
    row = conn.execute("SELECT * FROM users WHERE username = ?", [username.strip()]).fetchone()
    return None if row is None else _user(row)


def password_hash_of(conn: sqlite3.Connection, user_id: int) -> str | None:
    """The stored hash, for checking a password; None if there is no such user."""
    row = conn.execute("SELECT password_hash FROM users WHERE id = ?", [user_id]).fetchone()
    return None if row is None else str(row[0])


def _require(conn: sqlite3.Connection, user_id: int) -> User:
    user = get_user(conn, user_id)
    if user is None:
        raise UserError("error.user_not_found", status=404)
    return user


def _active_technicians(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM users WHERE role = ? AND disabled = 0", [Role.TECHNICIAN.value]
    ).fetchone()
    return int(row[0])


# ------------------------------------------------------------------ changing


@dataclass(frozen=True)
class NewUser:
    """A validated account to create; the password is already hashed."""

    username: str
    display_name: str
    role: Role
    password_hash: str
    language: Language = "id"


def create_user(
    conn: sqlite3.Connection,
    actor: Actor,
    new: NewUser,
    zone: ZoneInfo,
    *,
    only_if_none: bool = False,
) -> User:
    """Add an account; `only_if_none` (the setup page) refuses once any account exists."""
    now_ts = time.time()
    with transaction(conn):
        if only_if_none and count_users(conn) > 0:
            raise UserError("error.setup_done", status=404)
        if get_by_username(conn, new.username) is not None:
            raise UserError("error.username_taken", status=409)
        cursor = conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash, language,"
            " disabled, created_ts, updated_ts, password_changed_ts)"
            " VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
            [
                new.username,
                new.display_name,
                new.role.value,
                new.password_hash,
                new.language,
                now_ts,
                now_ts,
                now_ts,
            ],
        )
        user = _require(conn, int(cursor.lastrowid or 0))
        audit.record(
            conn,
            actor,
            "user.create",
            target=user.username,
            before=None,
            after=user.audit_view(),
            zone=zone,
            now_ts=now_ts,
        )
    return user


def update_user(
    conn: sqlite3.Connection,
    actor: Actor,
    user_id: int,
    zone: ZoneInfo,
    *,
    role: Role | None = None,
    disabled: bool | None = None,
    display_name: str | None = None,
) -> User:
    """Change a user's role, disabled flag or display name (None: leave as is).

    Disabling a user ends their sessions at once. The last active technician cannot be
    disabled or demoted.
    """
    now_ts = time.time()
    with transaction(conn):
        before = _require(conn, user_id)
        new_role = before.role if role is None else role
        new_disabled = before.disabled if disabled is None else disabled
        new_name = (
            before.display_name
            if display_name is None
            else clean_display_name(display_name, before.username)
        )
        losing_technician = before.role is Role.TECHNICIAN and not before.disabled
        if (
            losing_technician
            and (new_role is not Role.TECHNICIAN or new_disabled)
            and _active_technicians(conn) <= 1
        ):
            raise UserError("error.last_technician", status=409)
        conn.execute(
            "UPDATE users SET role = ?, disabled = ?, display_name = ?, updated_ts = ?"
            " WHERE id = ?",
            [new_role.value, int(new_disabled), new_name, now_ts, user_id],
        )
        if new_disabled:
            conn.execute("DELETE FROM web_sessions WHERE user_id = ?", [user_id])
        after = _require(conn, user_id)
        if after != before:
            audit.record(
                conn,
                actor,
                "user.update",
                target=before.username,
                before=before.audit_view(),
                after=after.audit_view(),
                zone=zone,
                now_ts=now_ts,
            )
    return after


def set_password(
    conn: sqlite3.Connection,
    actor: Actor,
    user_id: int,
    password_hash: str,
    zone: ZoneInfo,
    *,
    keep_session_id: str | None = None,
) -> None:
    """Store a new password hash and end the user's sessions (but `keep_session_id`)."""
    now_ts = time.time()
    with transaction(conn):
        user = _require(conn, user_id)
        conn.execute(
            "UPDATE users SET password_hash = ?, password_changed_ts = ?, updated_ts = ?"
            " WHERE id = ?",
            [password_hash, now_ts, now_ts, user_id],
        )
        conn.execute(
            "DELETE FROM web_sessions WHERE user_id = ? AND id IS NOT ?",
            [user_id, keep_session_id],
        )
        action = "user.password_change" if actor.user_id == user_id else "user.password_reset"
        audit.record(
            conn,
            actor,
            action,
            target=user.username,
            before=None,
            after={"password": "changed"},
            zone=zone,
            now_ts=now_ts,
        )


def rehash_password(conn: sqlite3.Connection, user_id: int, password_hash: str) -> None:
    """Replace a hash made with old parameters (same password): not a change to audit."""
    with transaction(conn):
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])


def set_language(
    conn: sqlite3.Connection, actor: Actor, user_id: int, language: Language, zone: ZoneInfo
) -> User:
    """Change the language a user sees the web UI in."""
    now_ts = time.time()
    with transaction(conn):
        before = _require(conn, user_id)
        conn.execute(
            "UPDATE users SET language = ?, updated_ts = ? WHERE id = ?",
            [language, now_ts, user_id],
        )
        after = _require(conn, user_id)
        if after != before:
            audit.record(
                conn,
                actor,
                "user.language",
                target=before.username,
                before={"language": before.language},
                after={"language": after.language},
                zone=zone,
                now_ts=now_ts,
            )
    return after
