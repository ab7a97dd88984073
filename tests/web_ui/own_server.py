"""A web UI of a test module's own, on a database no other test shares.

The session's `server` fixture serves one database to every web test. Tests that replace
the whole database (a restore) or count every call of the day (the dashboard) start their
own server with `conftest.serve` (what the session's `server` runs on) and make their
accounts with `add_account`.
"""

from __future__ import annotations

import itertools

from tests.web_ui.conftest import (
    PASSWORD,
    Account,
    ApiSession,
    LiveServer,
    api_login,
)
from web_ui.core import db as web_db
from web_ui.users.audit import Actor
from web_ui.users.service import Role, create_user, prepare_new_user

_names = itertools.count(1)


def add_account(
    server: LiveServer, role: Role, *, language: str = "id", display_name: str = ""
) -> Account:
    """A new account on `server`'s database."""
    username = f"own{role.value[:4]}{next(_names)}"
    new = prepare_new_user(username, display_name, role.value, PASSWORD, language)
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        user = create_user(conn, Actor(name="test-fixture"), new, server.settings.zone)
    finally:
        conn.close()
    return Account(id=user.id, username=username, password=PASSWORD, role=role)


def logged_in(server: LiveServer, role: Role, *, language: str = "id") -> ApiSession:
    """A new account of `role`, logged in through the API."""
    return api_login(server, add_account(server, role, language=language))
