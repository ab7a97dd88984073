"""Logging in and out over real HTTP: passwords, lockout, cookies, sessions, redirects, headers."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable

import httpx

from tests.web_ui.conftest import Account, ApiSession, LiveServer, api_login
from web_ui.auth.sessions import locked_until
from web_ui.core import db as web_db
from web_ui.users.service import Role


def login_form(
    client: httpx.Client, username: str, password: str, next_path: str = "/"
) -> httpx.Response:
    """Fetch the login page (for its form token and cookie), then post the form."""
    page = client.get("/login")
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page.text)
    assert token, page.text
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "form_token": token.group(1),
            "next": next_path,
        },
    )


def audit_rows(server: LiveServer, action: str, target: str) -> list[sqlite3.Row]:
    """The audit rows for one action on one target, oldest first."""
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        return conn.execute(
            "SELECT * FROM audit_log WHERE action = ? AND target = ? ORDER BY id", [action, target]
        ).fetchall()
    finally:
        conn.close()


def test_the_login_form_logs_in_and_a_wrong_password_fails(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    user = make_user(Role.OPERATOR)
    with httpx.Client(base_url=server.url) as client:
        wrong = login_form(client, user.username, "not-the-password")
        assert wrong.status_code == 401
        assert "Nama pengguna atau kata sandi salah." in wrong.text
        assert client.get("/api/me").status_code == 401
        right = login_form(client, user.username, user.password, next_path="/profile")
        assert right.status_code == 303
        assert right.headers["location"] == "/profile"
        assert client.get("/api/me").json()["user"]["username"] == user.username
    assert len(audit_rows(server, "auth.login", user.username)) == 1


def test_the_session_cookie_is_httponly_and_samesite_strict(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    user = make_user(Role.OPERATOR)
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(
            "/api/login", json={"username": user.username, "password": user.password}
        )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("siaga_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on localhost; --secure-cookies turns it on
    token = cookie.split(";")[0].split("=", 1)[1]
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        stored = [row[0] for row in conn.execute("SELECT id FROM web_sessions")]
    finally:
        conn.close()
    assert token not in stored  # only its HMAC is kept


def test_the_login_form_without_its_form_token_is_refused(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    user = make_user(Role.OPERATOR)
    with httpx.Client(base_url=server.url) as client:
        client.get("/login")
        answer = client.post(
            "/login",
            data={"username": user.username, "password": user.password, "form_token": "x" * 64},
        )
        assert answer.status_code == 403
        assert client.get("/api/me").status_code == 401


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = client.post("/api/login", json={"username": "nobody", "password": "whatever-1"})
    assert answer.status_code == 401
    assert answer.json()["detail"] == "login.invalid"


def test_api_login_refuses_a_form_body(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """A page on another site can post a form, but not JSON, to /api/login."""
    user = make_user(Role.OPERATOR)
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(
            "/api/login", data={"username": user.username, "password": user.password}
        )
    assert answer.status_code == 422


def test_five_failures_lock_the_account_even_for_the_right_password(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    user = make_user(Role.OPERATOR)
    with httpx.Client(base_url=server.url) as client:
        for attempt in range(4):
            answer = client.post(
                "/api/login", json={"username": user.username, "password": f"wrong-{attempt}"}
            )
            assert answer.status_code == 401
        fifth = client.post("/api/login", json={"username": user.username, "password": "wrong-5"})
        assert fifth.status_code == 429
        right = client.post(
            "/api/login", json={"username": user.username, "password": user.password}
        )
        assert right.status_code == 429
        assert right.json()["detail"] == "login.locked"
        page = login_form(client, user.username, user.password)
        assert page.status_code == 429
        assert "Terlalu banyak percobaan" in page.text
    assert len(audit_rows(server, "auth.locked", user.username)) == 1


def test_unknown_names_are_locked_the_same_way(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        codes = [
            client.post("/api/login", json={"username": "ghost", "password": "x" * 12}).status_code
            for _ in range(6)
        ]
    assert codes == [401, 401, 401, 401, 429, 429]


def failure_times(server: LiveServer, username: str) -> list[float]:
    """When each failed login of `username` was counted, oldest first."""
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        rows = conn.execute(
            "SELECT ts FROM login_failures WHERE username = ? ORDER BY ts", [username]
        ).fetchall()
    finally:
        conn.close()
    return [float(row[0]) for row in rows]


def lock_end(server: LiveServer, username: str) -> float | None:
    """Until when `username` is locked for this machine (127.0.0.1), from the table."""
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        return locked_until(conn, server.settings, username, "127.0.0.1", time.time())
    finally:
        conn.close()


def test_wrong_passwords_during_a_lock_do_not_make_it_last_longer(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """Five failures lock the name for 15 minutes from the fifth; guesses while it holds
    are refused uncounted, so an operator waits 15 minutes, not for ever."""
    user = make_user(Role.OPERATOR)
    # Each refusal in a row is held back longer (`web_ui.auth.login_guard`): 1, 2, 4 s.
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        codes = [
            client.post(
                "/api/login", json={"username": user.username, "password": f"wrong-{n}"}
            ).status_code
            for n in range(5)
        ]
        assert codes == [401, 401, 401, 401, 429]
        counted = failure_times(server, user.username)
        assert len(counted) == 5
        assert lock_end(server, user.username) == counted[-1] + server.settings.lockout_s
        for n in range(2):
            answer = client.post(
                "/api/login", json={"username": user.username, "password": f"again-{n}"}
            )
            assert answer.status_code == 429
            assert answer.json()["detail"] == "login.locked"
    assert failure_times(server, user.username) == counted
    assert lock_end(server, user.username) == counted[-1] + server.settings.lockout_s


def test_logout_ends_the_session(api_session: Callable[..., ApiSession]) -> None:
    session = api_session(Role.OPERATOR)
    assert session.client.post("/api/logout", headers=session.headers()).status_code == 204
    assert session.client.get("/api/me").status_code == 401


def test_the_logout_form_ends_the_session(api_session: Callable[..., ApiSession]) -> None:
    session = api_session(Role.OPERATOR)
    answer = session.client.post("/logout", data={"csrf_token": session.csrf})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?")
    assert session.client.get("/", follow_redirects=False).status_code == 303


def test_an_idle_session_expires(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    session = api_session(Role.OPERATOR)
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        idle_since = time.time() - server.settings.session_idle_s - 1
        with web_db.transaction(conn):
            conn.execute(
                "UPDATE web_sessions SET last_seen_ts = ? WHERE user_id = ?",
                [idle_since, session.user.id],
            )
    finally:
        conn.close()
    assert session.client.get("/api/me").status_code == 401


def test_a_session_expires_at_its_absolute_limit(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    session = api_session(Role.OPERATOR)
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        with web_db.transaction(conn):
            conn.execute(
                "UPDATE web_sessions SET expires_ts = ? WHERE user_id = ?",
                [time.time() - 1, session.user.id],
            )
    finally:
        conn.close()
    assert session.client.get("/api/me").status_code == 401


def test_a_session_lasts_a_whole_night_shift_with_its_handover(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    session = api_session(Role.OPERATOR)
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        # Logged in at 18:30 for the 19:00-07:00 shift; it is now 07:30, handover time.
        shift_s = 13 * 3600.0
        with web_db.transaction(conn):
            conn.execute(
                "UPDATE web_sessions SET created_ts = created_ts - ?,"
                " expires_ts = expires_ts - ? WHERE user_id = ?",
                [shift_s, shift_s, session.user.id],
            )
    finally:
        conn.close()
    assert session.client.get("/api/me").status_code == 200


def test_disabling_a_user_ends_their_sessions_and_blocks_login(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    technician = api_session(Role.TECHNICIAN)
    operator = api_session(Role.OPERATOR)
    answer = technician.client.patch(
        f"/api/users/{operator.user.id}", json={"disabled": True}, headers=technician.headers()
    )
    assert answer.status_code == 200
    assert answer.json()["disabled"] is True
    assert operator.client.get("/api/me").status_code == 401
    again = operator.client.post(
        "/api/login", json={"username": operator.user.username, "password": operator.user.password}
    )
    assert again.status_code == 401


def test_the_last_active_technician_cannot_be_disabled_or_demoted(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    technician = api_session(Role.TECHNICIAN)
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        with web_db.transaction(conn):  # every other technician of the session's tests
            conn.execute(
                "UPDATE users SET disabled = 1 WHERE role = 'technician' AND id != ?",
                [technician.user.id],
            )
        for change in ({"disabled": True}, {"role": "operator"}):
            answer = technician.client.patch(
                f"/api/users/{technician.user.id}", json=change, headers=technician.headers()
            )
            assert answer.status_code == 409
            assert answer.json()["detail"] == "error.last_technician"
    finally:
        with web_db.transaction(conn):
            conn.execute("UPDATE users SET disabled = 0 WHERE role = 'technician'")
        conn.close()


def test_changing_the_password_ends_the_other_sessions(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    first = api_session(Role.OPERATOR)
    second = api_login(server, first.user)
    new_password = "a-brand-new-password"
    wrong = first.client.post(
        "/api/me/password",
        json={"current_password": "nope", "new_password": new_password},
        headers=first.headers(),
    )
    assert wrong.status_code == 400
    answer = first.client.post(
        "/api/me/password",
        json={"current_password": first.user.password, "new_password": new_password},
        headers=first.headers(),
    )
    assert answer.status_code == 204
    assert first.client.get("/api/me").status_code == 200
    assert second.client.get("/api/me").status_code == 401
    second.client.close()
    assert len(audit_rows(server, "user.password_change", first.user.username)) == 1


def test_login_never_redirects_to_another_site(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    user = make_user(Role.OPERATOR)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        with httpx.Client(base_url=server.url) as client:
            answer = login_form(client, user.username, user.password, next_path=target)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"


def test_pages_carry_the_security_headers(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = client.get("/login")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def test_the_api_docs_use_only_local_assets(api_session: Callable[..., ApiSession]) -> None:
    session = api_session(Role.TECHNICIAN)
    docs = session.client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower()
    assert not re.search(r"(src|href)=['\"]https?://", docs.text)
    for asset in re.findall(r"(?:src|href)=['\"](/static/[^'\"]+)['\"]", docs.text):
        assert session.client.get(asset).status_code == 200, asset
    schema = session.client.get("/openapi.json").json()
    assert "/api/users" in schema["paths"]
    assert "/users" not in schema["paths"]  # pages are not part of the API description


def test_guessing_the_current_password_counts_towards_the_lockout(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    session = api_session(Role.OPERATOR)
    codes = [
        session.client.post(
            "/api/me/password",
            json={"current_password": f"guess-{n}", "new_password": "whatever-new-1"},
            headers=session.headers(),
        ).status_code
        for n in range(5)
    ]
    assert codes == [400, 400, 400, 400, 429]
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(
            "/api/login",
            json={"username": session.user.username, "password": session.user.password},
        )
    assert answer.status_code == 429
