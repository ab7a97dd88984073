"""A web UI of a test module's own, on a database no other test shares.

The session's `server` fixture serves one database to every web test. Tests that replace
the whole database (a restore) or count every call of the day (the dashboard) start their
own server with `serve` (the same uvicorn-in-a-thread as `conftest.server`) and make their
accounts with `add_account`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from tests.web_ui.conftest import (
    PASSWORD,
    STARTUP_TIMEOUT_S,
    Account,
    ApiSession,
    LiveServer,
    api_login,
    free_socket,
)
from web_ui import db as web_db
from web_ui.app import create_app
from web_ui.audit import Actor
from web_ui.settings import settings_for
from web_ui.users import Role, create_user, prepare_new_user

_names = itertools.count(1)


@contextmanager
def serve(db_path: Path) -> Iterator[LiveServer]:
    """The web UI on `db_path`, served by uvicorn in a thread until the block ends."""
    sock = free_socket()
    port = sock.getsockname()[1]
    settings = settings_for(
        db_path, timezone="Asia/Jakarta", site_name="Siaga Uji", base_url=f"http://127.0.0.1:{port}"
    )
    config = uvicorn.Config(
        create_app(settings), log_config=None, access_log=False, lifespan="on", workers=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web UI did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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
