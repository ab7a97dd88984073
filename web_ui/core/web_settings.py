"""The web UI's settings, and the secret it generates once and keeps next to the database.

`WebSettings` is built by whoever starts the app (`siaga web`, a test) and handed to
`create_app`; nothing is read from the environment or created at import time. It refuses
to exist without a proper secret: there is no default. `load_or_create_secret` makes one
with `secrets` the first time and stores it in a file readable by its owner only, next to
the database, so every start of the web process on that database uses the same one.

What the secret protects: session tokens are stored in the database only as
HMAC-SHA256(secret, token), so a copy of the database (a backup) is not a set of live
sessions; and the anonymous forms' CSRF token (login, setup) is an HMAC of a cookie.
Losing the file only logs everybody out.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

logger = logging.getLogger(__name__)

SECRET_BYTES = 32
MIN_SECRET_CHARS = 32
SECRET_SUFFIX = ".web-secret"

# Sessions: a screen left alone for an hour is logged out (the live console keeps its
# session fresh while it is open). The absolute limit covers a whole shift, not just its
# nominal length: a 12-hour night shift (19:00-07:00) is logged in before it starts and
# handed over after it ends, so 12 hours logged operators out in the last hour of the
# night. 14 hours holds a shift with an hour either side and still ends every session
# once a day (docs/web-ui.md, "Sessions").
SESSION_IDLE_S = 60 * 60.0
SESSION_ABSOLUTE_S = 14 * 60 * 60.0
# `last_seen` is written at most this often, so reading pages does not compete with the
# line service for the database's write lock on every request.
SESSION_TOUCH_S = 60.0
# Lockout: 5 failed logins for one user name within 15 minutes lock it for 15 minutes.
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW_S = 15 * 60.0
LOCKOUT_S = 15 * 60.0
# Per-address throttle (web_ui.auth.login_guard): 30 failed logins from one address within
# 10 minutes, whatever the names, make it wait.
LOGIN_THROTTLE_FAILURES = 30
LOGIN_THROTTLE_WINDOW_S = 10 * 60.0
# Stalled connections (web_ui.core.request_limits, web_ui.core.server).
BODY_IDLE_S = 20.0
HEADER_TIMEOUT_S = 10.0


class SettingsError(Exception):
    """The web UI cannot start with these settings; the message says why."""


class WebSettings(BaseModel):
    """Everything `create_app` needs; immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_path: Path
    secret: SecretStr = Field(min_length=MIN_SECRET_CHARS)
    timezone: str = "Asia/Jakarta"
    site_name: str = "Siaga 112"
    base_url: str = ""  # e.g. http://127.0.0.1:8112, only to print a whole setup link
    cookie_secure: bool = False
    session_idle_s: float = Field(default=SESSION_IDLE_S, gt=0)
    session_absolute_s: float = Field(default=SESSION_ABSOLUTE_S, gt=0)
    session_touch_s: float = Field(default=SESSION_TOUCH_S, ge=0)
    lockout_failures: int = Field(default=LOCKOUT_FAILURES, ge=1)
    lockout_window_s: float = Field(default=LOCKOUT_WINDOW_S, gt=0)
    lockout_s: float = Field(default=LOCKOUT_S, gt=0)
    login_throttle_failures: int = Field(default=LOGIN_THROTTLE_FAILURES, ge=1)
    login_throttle_window_s: float = Field(default=LOGIN_THROTTLE_WINDOW_S, gt=0)
    busy_timeout_s: float = Field(default=5.0, gt=0)
    # A request whose body stops arriving for this long is answered 408 and closed; one
    # whose headers do not arrive whole within `header_timeout_s` is closed unanswered.
    body_idle_s: float = Field(default=BODY_IDLE_S, gt=0)
    header_timeout_s: float = Field(default=HEADER_TIMEOUT_S, gt=0)

    @field_validator("secret")
    @classmethod
    def _not_a_placeholder(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if len(set(text)) < 8 or "changeme" in text.lower() or "secret" in text.lower():
            raise ValueError("the secret looks like a placeholder: use load_or_create_secret")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone: every time shown is in it."""
        return ZoneInfo(self.timezone)

    def secret_bytes(self) -> bytes:
        """The secret as an HMAC key."""
        return self.secret.get_secret_value().encode("ascii")


def secret_path_for(db_path: Path) -> Path:
    """Where the secret of the database at `db_path` is kept: `siaga.db.web-secret`."""
    return db_path.with_name(db_path.name + SECRET_SUFFIX)


def load_or_create_secret(path: Path) -> SecretStr:
    """The secret stored at `path`, created (owner-only, 0600) if there is none yet.

    Refuses a file that others may read or that holds too short a secret: starting with
    a secret someone else may know would make every session forgeable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(SECRET_BYTES) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    logger.warning("created the web UI's secret in %s", path)
    return _read_secret(path)


def _read_secret(path: Path) -> SecretStr:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(f"{path} may be read by others: chmod 600 it")
    text = path.read_text(encoding="ascii").strip()
    if len(text) < MIN_SECRET_CHARS:
        raise SettingsError(f"{path} holds no usable secret: remove it to make a new one")
    return SecretStr(text)


def settings_for(
    db_path: Path,
    *,
    timezone: str,
    site_name: str,
    cookie_secure: bool = False,
    base_url: str = "",
) -> WebSettings:
    """Settings for the database at `db_path`, with its stored (or new) secret."""
    return WebSettings(
        db_path=db_path,
        secret=load_or_create_secret(secret_path_for(db_path)),
        timezone=timezone,
        site_name=site_name,
        cookie_secure=cookie_secure,
        base_url=base_url,
    )
