"""Managing users through the API and the forms, the audit trail it leaves, and escaping."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from tests.web_ui.conftest import Account as Account
from tests.web_ui.conftest import ApiSession, LiveServer, api_login
from web_ui.core import db as web_db
from web_ui.users.service import Role

MARKUP = '<script>alert("siaga")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert("  # the audit page shows it inside JSON, quotes escaped


def audit_for(server: LiveServer, target: str) -> list[sqlite3.Row]:
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        return conn.execute(
            "SELECT * FROM audit_log WHERE target = ? ORDER BY id", [target]
        ).fetchall()
    finally:
        conn.close()


def create(session: ApiSession, username: str, **fields: str) -> dict[str, object]:
    body = {"username": username, "role": "operator", "password": "sebuah-kata-sandi"} | fields
    answer = session.client.post("/api/users", json=body, headers=session.headers())
    assert answer.status_code == 201, answer.text
    created: dict[str, object] = answer.json()
    return created


def test_each_change_to_a_user_is_audited_with_before_and_after(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    technician = api_session(Role.TECHNICIAN)
    user = create(technician, "audited1", display_name="Siti")
    headers = technician.headers()
    technician.client.patch(
        f"/api/users/{user['id']}", json={"role": "supervisor"}, headers=headers
    )
    technician.client.post(
        f"/api/users/{user['id']}/password",
        json={"new_password": "another-password-1"},
        headers=headers,
    )
    rows = audit_for(server, "audited1")
    assert [row["action"] for row in rows] == ["user.create", "user.update", "user.password_reset"]
    assert {row["actor"] for row in rows} == {technician.user.username}
    assert rows[0]["before"] is None
    assert '"role": "operator"' in rows[0]["after"]
    assert '"role": "operator"' in rows[1]["before"]
    assert '"role": "supervisor"' in rows[1]["after"]
    assert rows[2]["after"] == '{"password": "changed"}'
    assert all("argon2" not in (row["after"] or "") for row in rows)
    listed = technician.client.get("/api/audit", params={"limit": 500}).json()
    assert {"user.create", "user.update", "user.password_reset"} <= {
        entry["action"] for entry in listed if entry["target"] == "audited1"
    }
    assert listed[0]["at"].endswith("+07:00")  # WIB


def test_a_refused_change_leaves_no_audit_row(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    technician = api_session(Role.TECHNICIAN)
    create(technician, "twice1")
    again = technician.client.post(
        "/api/users",
        json={"username": "TWICE1", "role": "operator", "password": "sebuah-kata-sandi"},
        headers=technician.headers(),
    )
    assert again.status_code == 409
    assert again.json()["detail"] == "error.username_taken"
    assert [row["action"] for row in audit_for(server, "twice1")] == ["user.create"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"username": "a b"}, "error.username_invalid"),
        ({"username": "<script>"}, "error.username_invalid"),
        ({"password": "short"}, "error.password_short"),
        ({"password": "validname1"}, "error.password_is_username"),
        ({"display_name": "bell\x07"}, "error.display_name_invalid"),
    ],
)
def test_invalid_accounts_are_refused_with_a_reason(
    api_session: Callable[..., ApiSession], fields: dict[str, str], code: str
) -> None:
    technician = api_session(Role.TECHNICIAN)
    body = {"username": "validname1", "role": "operator", "password": "sebuah-kata-sandi"}
    answer = technician.client.post("/api/users", json=body | fields, headers=technician.headers())
    assert answer.status_code == 400
    assert answer.json()["detail"] == code


def test_the_audit_log_refuses_update_and_delete(server: LiveServer) -> None:
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] > 0
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_log SET actor = 'someone else'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_log")
    finally:
        conn.close()


def test_the_users_form_adds_a_user_and_says_so(api_session: Callable[..., ApiSession]) -> None:
    technician = api_session(Role.TECHNICIAN)
    answer = technician.client.post(
        "/users",
        data={
            "csrf_token": technician.csrf,
            "username": "formuser1",
            "display_name": "Budi",
            "role": "supervisor",
            "password": "sebuah-kata-sandi",
            "language": "en",
        },
    )
    assert answer.status_code == 303
    page = technician.client.get(answer.headers["location"])
    assert "Pengguna ditambahkan." in page.text
    assert "formuser1" in page.text
    refused = technician.client.post(
        "/users",
        data={"csrf_token": technician.csrf, "username": "x", "role": "operator", "password": ""},
    )
    assert refused.status_code == 400
    assert "Nama pengguna harus 2-32 huruf" in refused.text


def test_markup_in_a_display_name_is_shown_escaped_on_every_page(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    technician = api_session(Role.TECHNICIAN)
    evil = create(technician, "evil1", display_name=MARKUP)
    technician.client.patch(
        f"/api/users/{evil['id']}", json={"role": "supervisor"}, headers=technician.headers()
    )
    account = Account(
        id=int(str(evil["id"])),
        username="evil1",
        password="sebuah-kata-sandi",
        role=Role.SUPERVISOR,
    )
    as_evil = api_login(server, account)
    pages = [(as_evil, "/"), (as_evil, "/profile"), (as_evil, "/audit")]
    pages += [(technician, "/users"), (technician, "/audit")]
    try:
        for session, path in pages:
            text = session.client.get(path).text
            assert "<script>alert" not in text, path
            assert "<img src=x" not in text, path
            assert ESCAPED in text, path
            assert "&lt;img src=x onerror=alert(1)&gt;" in text, path
    finally:
        as_evil.client.close()


def test_the_disable_and_enable_forms_work_with_their_token(
    server: LiveServer, api_session: Callable[..., ApiSession], make_user: Callable[..., Account]
) -> None:
    technician = api_session(Role.TECHNICIAN)
    operator = make_user(Role.OPERATOR)
    for action, disabled in (("disable", True), ("enable", False)):
        answer = technician.client.post(
            f"/users/{operator.id}/{action}", data={"csrf_token": technician.csrf}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/users?done=done.user_updated"
        shown = technician.client.get(f"/api/users/{operator.id}").json()
        assert shown["disabled"] is disabled
    changed = technician.client.post(
        f"/users/{operator.id}/role", data={"csrf_token": technician.csrf, "role": "supervisor"}
    )
    assert changed.status_code == 303
    assert technician.client.get(f"/api/users/{operator.id}").json()["role"] == "supervisor"
