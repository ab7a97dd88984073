"""Logging in and out: password checks with lockout, and server-side sessions in SQLite.

Sessions: the browser holds a random 256-bit token in an HttpOnly, SameSite=Strict
cookie; the database holds only HMAC-SHA256(secret, token) as the session's id, with the
user, a per-session CSRF token, and three times. A session ends at logout, after
`session_idle_s` without a request, after `session_absolute_s` whatever happens (14 hours:
a 12-hour night shift with an hour either side, see `web_ui.core.web_settings`), when its user is
disabled, and when the user's password is changed or reset.

Lockout: `lockout_failures` failed logins for one user name from one client address
within `lockout_window_s` lock that name, for that address only, for `lockout_s` from
the last of them (defaults: 5 in 15 minutes lock for 15 minutes). So nobody can lock an
operator out from another machine: the desk the operator sits at keeps working. Names that
do not exist are counted and locked the same way and cost the same Argon2 time, so neither
the answer nor its timing tells which names exist. Attempts made while locked are refused
without a password check and without being counted, so the lock does not grow for ever.
Each lock of an existing account is audited (`auth.locked`, with the address); the third
within 24 hours raises an alarm (an `alarm` event of kind `login_lockouts`, on the
dashboard). A technician lifts every lock on an account from the users page or with
`siaga user unlock` (`unlock`, audited as `user.unlock`).

Before all that, `authenticate` asks the address throttle (`web_ui.auth.login_guard`) and the
hashing pool (`web_ui.auth.passwords.POOL`): a throttled address or a full pool is refused at
once, at no Argon2 cost. Old failures are deleted through the `(username, ts)` index at
each failure, and those of every name at most once an hour (`FULL_PRUNE_EVERY_S`), never
a full-table delete per attempt.
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
from zoneinfo import ZoneInfo

from appliance.store.events import add_event
from web_ui.auth.login_guard import AddressThrottle, ThrottledError
from web_ui.auth.passwords import (
    HashingBusyError,
    burn_verify_time,
    hash_password,
    needs_rehash,
    verify_password,
)
from web_ui.core.db import transaction
from web_ui.core.web_settings import WebSettings
from web_ui.users import audit
from web_ui.users.audit import Actor
from web_ui.users.service import User, get_by_username, get_user, password_hash_of, rehash_password

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
FAILURE_RETENTION_S = 24 * 3600.0
FULL_PRUNE_EVERY_S = 3600.0
LOCKOUT_ALARM_AFTER = 3  # lockouts of one account within LOCKOUT_ALARM_WINDOW_S
LOCKOUT_ALARM_WINDOW_S = 24 * 3600.0

_last_full_prune_ts = 0.0  # when every name's old failures were last removed


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
    previous_token: str | None = None,
) -> tuple[str, Session]:
    """Log `user` in: a fresh session (and audit row); returns the cookie token with it.

    The session this browser held before (`previous_token`, its old cookie), if any, ends
    in the same transaction: a login always rotates the session id, so an id someone
    planted or saw before the login is worth nothing after it."""
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
        if previous_token and len(previous_token) <= 100:
            conn.execute(
                "DELETE FROM web_sessions WHERE id = ?",
                [session_id_for(settings, previous_token)],
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
    LOCKED = "locked"  # this name, from this address, after repeated failures
    THROTTLED = "throttled"  # this address, whatever the name (`web_ui.auth.login_guard`)
    BUSY = "busy"  # every password-hashing slot is taken (`web_ui.auth.passwords.POOL`)


@dataclass(frozen=True)
class LoginResult:
    """The outcome, the user when it is OK, until when a locked name stays locked, and how
    long a throttled address waits."""

    outcome: LoginOutcome
    user: User | None = None
    locked_until_ts: float | None = None
    retry_after_s: int = 0


def locked_until(
    conn: sqlite3.Connection,
    settings: WebSettings,
    username: str,
    remote: str | None,
    now_ts: float,
) -> float | None:
    """Until when `username` is locked for attempts from `remote` (POSIX seconds), or None."""
    horizon_ts = now_ts - settings.lockout_window_s - settings.lockout_s
    rows = conn.execute(
        "SELECT ts FROM login_failures WHERE username = ? AND remote IS ? AND ts > ? ORDER BY ts",
        [username.strip(), remote, horizon_ts],
    ).fetchall()
    times = [float(row[0]) for row in rows]
    needed = settings.lockout_failures
    until: float | None = None
    for index in range(needed - 1, len(times)):
        if times[index] - times[index - needed + 1] <= settings.lockout_window_s:
            until = times[index] + settings.lockout_s
    return until if until is not None and until > now_ts else None


def _prune_failures(conn: sqlite3.Connection, username: str, now_ts: float) -> None:
    """Old failures of this name go through its index; every name's, at most hourly."""
    global _last_full_prune_ts
    cutoff_ts = now_ts - FAILURE_RETENTION_S
    conn.execute("DELETE FROM login_failures WHERE username = ? AND ts < ?", [username, cutoff_ts])
    if now_ts - _last_full_prune_ts >= FULL_PRUNE_EVERY_S:
        _last_full_prune_ts = now_ts
        conn.execute("DELETE FROM login_failures WHERE ts < ?", [cutoff_ts])


def _lockouts_today(conn: sqlite3.Connection, username: str, now_ts: float) -> int:
    row = conn.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'auth.locked' AND ts > ? AND target = ?",
        [now_ts - LOCKOUT_ALARM_WINDOW_S, username],
    ).fetchone()
    return int(row[0])


def _raise_lockout_alarm(
    conn: sqlite3.Connection, settings: WebSettings, user: User, remote: str | None, count: int
) -> None:
    detail = {
        "kind": "login_lockouts",
        "message": f"account {user.username} locked {count} times in 24 hours, last from {remote}",
        "user": user.username,
        "lockouts": count,
        "remote": remote,
    }
    add_event(conn, "alarm", time.time(), settings.zone, detail=detail)
    logger.warning("ALARM login_lockouts: %s", detail["message"])


def _record_lockout(
    conn: sqlite3.Connection,
    settings: WebSettings,
    user: User,
    remote: str | None,
    until: float,
    now_ts: float,
) -> None:
    audit.record(
        conn,
        Actor(name="anonymous", remote=remote),  # whoever tried, not the user
        "auth.locked",
        target=user.username,
        before=None,
        after={"locked_until": until, "remote": remote},
        zone=settings.zone,
        now_ts=now_ts,
    )
    count = _lockouts_today(conn, user.username, now_ts)
    if count >= LOCKOUT_ALARM_AFTER:
        _raise_lockout_alarm(conn, settings, user, remote, count)


def record_failure(
    conn: sqlite3.Connection,
    settings: WebSettings,
    username: str,
    user: User | None,
    remote: str | None,
) -> float | None:
    """Count a failed login from `remote`; returns the lock's end if this failure locked
    the name for that address."""
    now_ts = time.time()
    username = username.strip()[:64]
    with transaction(conn):
        _prune_failures(conn, username, now_ts)
        conn.execute(
            "INSERT INTO login_failures (username, ts, remote) VALUES (?, ?, ?)",
            [username, now_ts, remote],
        )
        until = locked_until(conn, settings, username, remote, now_ts)
        if until is not None and user is not None:
            _record_lockout(conn, settings, user, remote, until, now_ts)
    if until is not None:
        logger.warning("login for %r from %s locked after repeated failures", username, remote)
    return until


def locked_accounts(
    conn: sqlite3.Connection, settings: WebSettings, now_ts: float
) -> dict[str, list[str]]:
    """Names locked now (lower case), each with the addresses it is locked for."""
    horizon_ts = now_ts - settings.lockout_window_s - settings.lockout_s
    candidates = conn.execute(
        "SELECT username, remote FROM login_failures WHERE ts > ?"
        " GROUP BY username COLLATE NOCASE, remote HAVING count(*) >= ?",
        [horizon_ts, settings.lockout_failures],
    ).fetchall()
    locked: dict[str, list[str]] = {}
    for username, remote in candidates:
        if locked_until(conn, settings, str(username), remote, now_ts) is not None:
            locked.setdefault(str(username).lower(), []).append(remote or "?")
    return locked


def unlock(conn: sqlite3.Connection, zone: ZoneInfo, actor: Actor, user: User) -> int:
    """Lift every lock on `user` (from every address); the failures forgotten, audited."""
    with transaction(conn):
        removed = conn.execute(
            "DELETE FROM login_failures WHERE username = ?", [user.username]
        ).rowcount
        audit.record(
            conn,
            actor,
            "user.unlock",
            target=user.username,
            before={"failures": removed},
            after=None,
            zone=zone,
        )
    return int(removed)


def authenticate(
    conn: sqlite3.Connection,
    settings: WebSettings,
    throttle: AddressThrottle,
    username: str,
    password: str,
    remote: str | None,
) -> LoginResult:
    """Check a user name and password, with throttling and lockout; never tells which part
    was wrong. Refusals before the password check (throttled, locked, busy) cost no Argon2."""
    try:
        with throttle.attempt(remote):
            result = _check_login(conn, settings, username, password, remote)
    except ThrottledError as exc:
        return LoginResult(LoginOutcome.THROTTLED, retry_after_s=exc.retry_after_s)
    except HashingBusyError:
        return LoginResult(LoginOutcome.BUSY)
    if result.outcome is LoginOutcome.INVALID or result.outcome is LoginOutcome.LOCKED:
        throttle.failed(remote)
    return result


def _check_login(
    conn: sqlite3.Connection,
    settings: WebSettings,
    username: str,
    password: str,
    remote: str | None,
) -> LoginResult:
    username = username.strip()[:64]
    until = locked_until(conn, settings, username, remote, time.time())
    if until is not None:
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
        conn.execute(
            "DELETE FROM login_failures WHERE username = ? AND remote IS ?", [username, remote]
        )
    if stored is not None and needs_rehash(stored):
        rehash_password(conn, user.id, hash_password(password))
    return LoginResult(LoginOutcome.OK, user=user)
