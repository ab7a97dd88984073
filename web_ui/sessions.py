"""Logging in and out: password checks with lockout, and server-side sessions in SQLite.

Sessions: the browser holds a random 256-bit token in an HttpOnly, SameSite=Strict
cookie; the database holds only HMAC-SHA256(secret, token) as the session's id, with the
user, a per-session CSRF token, and three times. A session ends at logout, after
`session_idle_s` without a request, after `session_absolute_s` whatever happens, when its
user is disabled, and when the user's password is changed or reset.

Lockout: `lockout_failures` failed logins for one user name within `lockout_window_s`
lock that name for `lockout_s` from the last of them (defaults: 5 in 15 minutes lock
for 15 minutes). Names that do not exist are counted and locked the same way and cost the
same Argon2 time, so neither the answer nor its timing tells which names exist. Attempts
made while locked are refused without being counted, so the lock does not grow for ever.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum

from web_ui import audit
from web_ui.audit import Actor
from web_ui.db import transaction
from web_ui.passwords import burn_verify_time, hash_password, needs_rehash, verify_password
from web_ui.settings import WebSettings
from web_ui.users import User, get_by_username, get_user, password_hash_of, rehash_password

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
FAILURE_RETENTION_S = 24 * 3600.0


@dataclass(frozen=True)
class Session:
    """A logged-in browser or API client."""

    id: str  # the HMAC of the cookie token
    user: User
    csrf_token: str
    created_ts: float
    last_seen_ts: float
    expires_ts: float

    @property
    def actor(self) -> Actor:
        """This session's user as the author of a change."""
        return Actor(name=self.user.username, user_id=self.user.id)


def session_id_for(settings: WebSettings, token: str) -> str:
    """The stored id of the session whose cookie holds `token`."""
    return hmac.new(settings.secret_bytes(), token.encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ sessions


def start_session(
    conn: sqlite3.Connection,
    settings: WebSettings,
    user: User,
    *,
    remote: str | None,
    user_agent: str | None,
) -> tuple[str, Session]:
    """Log `user` in: a fresh session (and audit row); returns the cookie token with it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now_ts = time.time()
    session = Session(
        id=session_id_for(settings, token),
        user=user,
        csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
        created_ts=now_ts,
        last_seen_ts=now_ts,
        expires_ts=now_ts + settings.session_absolute_s,
    )
    with transaction(conn):
        # Expired sessions of everybody go here, so the table never grows without bound.
        conn.execute(
            "DELETE FROM web_sessions WHERE expires_ts < ? OR last_seen_ts < ?",
            [now_ts, now_ts - settings.session_idle_s],
        )
        conn.execute(
            "INSERT INTO web_sessions (id, user_id, csrf_token, created_ts, last_seen_ts,"
            " expires_ts, remote, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                session.id,
                user.id,
                session.csrf_token,
                now_ts,
                now_ts,
                session.expires_ts,
                remote,
                (user_agent or "")[:200],
            ],
        )
        actor = Actor(name=user.username, user_id=user.id, remote=remote)
        audit.record(
            conn,
            actor,
            "auth.login",
            target=user.username,
            before=None,
            after=None,
            zone=settings.zone,
            now_ts=now_ts,
        )
    return token, session


def load_session(
    conn: sqlite3.Connection, settings: WebSettings, token: str | None
) -> Session | None:
    """The live session for a cookie token, or None (expired ones are deleted)."""
    if not token or len(token) > 100:
        return None
    session_id = session_id_for(settings, token)
    row = conn.execute("SELECT * FROM web_sessions WHERE id = ?", [session_id]).fetchone()
    if row is None:
        return None
    now_ts = time.time()
    user = get_user(conn, int(row["user_id"]))
    idle = now_ts - float(row["last_seen_ts"]) > settings.session_idle_s
    if user is None or user.disabled or idle or now_ts > float(row["expires_ts"]):
        with transaction(conn):
            conn.execute("DELETE FROM web_sessions WHERE id = ?", [session_id])
        return None
    last_seen_ts = float(row["last_seen_ts"])
    if now_ts - last_seen_ts >= settings.session_touch_s:
        with transaction(conn):
            conn.execute(
                "UPDATE web_sessions SET last_seen_ts = ? WHERE id = ?", [now_ts, session_id]
            )
        last_seen_ts = now_ts
    return Session(
        id=session_id,
        user=user,
        csrf_token=str(row["csrf_token"]),
        created_ts=float(row["created_ts"]),
        last_seen_ts=last_seen_ts,
        expires_ts=float(row["expires_ts"]),
    )


def end_session(
    conn: sqlite3.Connection, settings: WebSettings, session: Session, remote: str | None
) -> None:
    """Log out: delete the session (and write the audit row)."""
    with transaction(conn):
        conn.execute("DELETE FROM web_sessions WHERE id = ?", [session.id])
        actor = Actor(name=session.user.username, user_id=session.user.id, remote=remote)
        audit.record(
            conn,
            actor,
            "auth.logout",
            target=session.user.username,
            before=None,
            after=None,
            zone=settings.zone,
        )


# ------------------------------------------------------------------ passwords and lockout


class LoginOutcome(Enum):
    """What a login attempt came to."""

    OK = "ok"
    INVALID = "invalid"  # wrong name or password, or a disabled account: one answer
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginResult:
    """The outcome, the user when it is OK, and until when a locked name stays locked."""

    outcome: LoginOutcome
    user: User | None = None
    locked_until_ts: float | None = None


def locked_until(
    conn: sqlite3.Connection, settings: WebSettings, username: str, now_ts: float
) -> float | None:
    """Until when `username` is locked (POSIX seconds), or None if it is not."""
    horizon_ts = now_ts - settings.lockout_window_s - settings.lockout_s
    rows = conn.execute(
        "SELECT ts FROM login_failures WHERE username = ? AND ts > ? ORDER BY ts",
        [username.strip(), horizon_ts],
    ).fetchall()
    times = [float(row[0]) for row in rows]
    needed = settings.lockout_failures
    until: float | None = None
    for index in range(needed - 1, len(times)):
        if times[index] - times[index - needed + 1] <= settings.lockout_window_s:
            until = times[index] + settings.lockout_s
    return until if until is not None and until > now_ts else None


def record_failure(
    conn: sqlite3.Connection,
    settings: WebSettings,
    username: str,
    user: User | None,
    remote: str | None,
) -> float | None:
    """Count a failed login; returns the lock's end if this failure locked the name."""
    now_ts = time.time()
    with transaction(conn):
        conn.execute("DELETE FROM login_failures WHERE ts < ?", [now_ts - FAILURE_RETENTION_S])
        conn.execute(
            "INSERT INTO login_failures (username, ts, remote) VALUES (?, ?, ?)",
            [username.strip()[:64], now_ts, remote],
        )
        until = locked_until(conn, settings, username, now_ts)
        if until is not None and user is not None:
            audit.record(
                conn,
                Actor(name="anonymous", remote=remote),  # whoever tried, not the user
                "auth.locked",
                target=user.username,
                before=None,
                after={"locked_until": until},
                zone=settings.zone,
                now_ts=now_ts,
            )
    if until is not None:
        logger.warning("login for %r locked after repeated failures (from %s)", username, remote)
    return until


def authenticate(
    conn: sqlite3.Connection,
    settings: WebSettings,
    username: str,
    password: str,
    remote: str | None,
) -> LoginResult:
    """Check a user name and password, with lockout; never tells which part was wrong."""
    username = username.strip()[:64]
    until = locked_until(conn, settings, username, time.time())
    if until is not None:
        burn_verify_time(password)
        return LoginResult(LoginOutcome.LOCKED, locked_until_ts=until)
    user = get_by_username(conn, username) if username else None
    stored = password_hash_of(conn, user.id) if user is not None else None
    if user is None or stored is None:
        burn_verify_time(password)
        matches = False
    else:
        matches = verify_password(stored, password)
    if not matches or user is None or user.disabled:
        until = record_failure(conn, settings, username, user, remote)
        if until is not None:
            return LoginResult(LoginOutcome.LOCKED, locked_until_ts=until)
        return LoginResult(LoginOutcome.INVALID)
    with transaction(conn):
        conn.execute("DELETE FROM login_failures WHERE username = ?", [username])
    if stored is not None and needs_rehash(stored):
        rehash_password(conn, user.id, hash_password(password))
    return LoginResult(LoginOutcome.OK, user=user)
