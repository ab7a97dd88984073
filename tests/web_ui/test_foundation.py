"""The pieces under the pages: the message catalogue, times, the secret, redirects, the schema."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import Response
from pydantic import SecretStr, ValidationError

from web_ui.core import db as web_db
from web_ui.core.i18n import MESSAGES, format_time
from web_ui.core.security import safe_next, set_session_cookie
from web_ui.core.web_settings import (
    SettingsError,
    WebSettings,
    load_or_create_secret,
    secret_path_for,
)
from web_ui.users.service import Role

WEB_UI = Path(__file__).resolve().parents[2] / "web_ui"
TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([a-z_.]*[a-z])["']""")
CODE_KEY = re.compile(r"""["']((?:error|done|login|action|nav|role|lang)\.[a-z_.]*[a-z])["']""")
NOT_KEYS = {"error.html", "login.html"}  # template names that look like keys
GOOD_SECRET = "vJ3kQ9xT2mW7pL5nR8sB4cF6hD1gZ0yA"


def keys_in_use() -> set[str]:
    keys: set[str] = set()
    for template in (WEB_UI / "templates").glob("*.html"):
        keys |= set(TEMPLATE_KEY.findall(template.read_text(encoding="utf-8")))
    for source in WEB_UI.rglob("*.py"):
        keys |= set(CODE_KEY.findall(source.read_text(encoding="utf-8")))
    return keys - NOT_KEYS


def test_every_message_in_use_exists_in_both_languages() -> None:
    used = keys_in_use()
    assert len(used) > 60
    assert sorted(used - set(MESSAGES)) == []
    for key, (indonesian, english) in MESSAGES.items():
        assert indonesian.strip() and english.strip(), key


def test_every_role_and_audited_action_has_a_name() -> None:
    assert {f"role.{role.value}" for role in Role} <= set(MESSAGES)
    written = set()
    for source in WEB_UI.rglob("*.py"):
        written |= set(re.findall(r'"((?:user|auth)\.[a-z_]+)"', source.read_text()))
    assert written and {f"action.{action}" for action in written} <= set(MESSAGES)


def test_times_are_shown_in_the_site_zone() -> None:
    moment = datetime(2024, 4, 3, 12, 2, 11, tzinfo=UTC).timestamp()
    zone = WebSettings(db_path=Path("x.db"), secret=SecretStr(GOOD_SECRET)).zone
    assert format_time(moment, zone, "id") == "3 Apr 2024 19.02.11 WIB"
    assert format_time(moment, zone, "en") == "3 Apr 2024 19:02:11 WIB"


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = secret_path_for(tmp_path / "siaga.db")
    assert path.name == "siaga.db.web-secret"
    first = load_or_create_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == first
    assert len(first.get_secret_value()) >= 32
    os.chmod(path, 0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        load_or_create_secret(path)


@pytest.mark.parametrize("secret", ["", "short", "changeme" * 5, "a" * 40, "my-secret-" * 4])
def test_settings_refuse_a_missing_or_placeholder_secret(secret: str) -> None:
    with pytest.raises(ValidationError):
        WebSettings(db_path=Path("x.db"), secret=SecretStr(secret))


def test_settings_cannot_be_built_without_a_secret() -> None:
    with pytest.raises(ValidationError):
        WebSettings(db_path=Path("x.db"))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/users", "/users"),
        ("/audit?before=5", "/audit?before=5"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\nSet-Cookie:x", "/"),
        ("", "/"),
    ],
)
def test_after_login_only_local_paths_are_followed(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_the_migration_makes_the_web_tables_and_triggers(tmp_path: Path) -> None:
    path = tmp_path / "siaga.db"
    web_db.migrate(path, busy_timeout_s=5.0)
    web_db.migrate(path, busy_timeout_s=5.0)  # a second start changes nothing
    conn = web_db.connect(path, busy_timeout_s=5.0)
    try:
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type != 'index'")
        }
        applied = [row[0] for row in conn.execute("SELECT name FROM _migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert {"users", "web_sessions", "login_failures", "audit_log"} <= names
    assert {"audit_log_no_update", "audit_log_no_delete"} <= names
    assert applied.count("0006_web_users") == 1
    assert mode == "wal"


@pytest.mark.parametrize("secure", [False, True])
def test_cookies_are_secure_only_when_configured(secure: bool) -> None:
    settings = WebSettings(
        db_path=Path("x.db"), secret=SecretStr(GOOD_SECRET), cookie_secure=secure
    )
    response = Response()
    set_session_cookie(response, "siaga_session", "token", settings)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert ("Secure" in cookie) is secure
