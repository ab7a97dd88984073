"""A supervisor on shift lifts a login lock; the rest of user management stays the
technician's.

At night the supervisor is the one at the centre: an operator locked out by a guesser
elsewhere on the network (or by their own typing) must not wait for the technician.
The users page opens to supervisors with the locked accounts and their *Unlock* button
only; adding accounts, roles, disabling and passwords stay refused (`test_access.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.web_ui.conftest import Account, LiveServer, browser_login, serve, wait_for
from tests.web_ui.line_service import database
from tests.web_ui.own_server import add_account, logged_in
from tests.web_ui.test_pages import submit_and_wait
from tests.web_ui.test_security import login_from
from web_ui.users.service import Role

LOCKOUT_FAILURES = 5


def lock_out(server: LiveServer, account: Account, address: str) -> None:
    """Wrong passwords for `account` from `address` until that address is locked out."""
    for n in range(LOCKOUT_FAILURES):
        login_from(server, address, account.username, f"wrong-guess-{n}")
    assert login_from(server, address, account.username, account.password).status_code == 429


def unlocked_by(server: LiveServer, account: Account) -> list[str]:
    """Who lifted `account`'s locks, from the audit log."""
    with database(server) as conn:
        found = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'user.unlock' AND target = ?",
            [account.username],
        ).fetchall()
    return [row["actor"] for row in found]


def test_a_supervisor_sees_only_locked_accounts_and_unlocks_one(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    locked, bystander = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    lock_out(server, locked, "127.0.8.1")
    supervisor = logged_in(server, Role.SUPERVISOR, language="en")

    page = supervisor.client.get("/users")
    assert page.status_code == 200
    assert f'data-locked="{locked.username}"' in page.text
    assert "locked out from 127.0.8.1" in page.text
    assert f'action="/users/{locked.id}/unlock"' in page.text
    assert bystander.username not in page.text  # only the locked accounts are listed
    for other in ("/users", f"/users/{locked.id}/role", f"/users/{locked.id}/disable",
                  f"/users/{locked.id}/password"):  # fmt: skip
        assert f'action="{other}"' not in page.text, other
    assert 'name="new_password"' not in page.text

    answer = supervisor.client.post(
        f"/users/{locked.id}/unlock", data={"csrf_token": supervisor.csrf}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/users?done=done.user_unlocked"
    assert f'data-locked="{locked.username}"' not in supervisor.client.get("/users").text
    assert login_from(server, "127.0.8.1", locked.username, locked.password).status_code == 200
    assert unlocked_by(server, locked) == [supervisor.user.username]


def test_a_supervisor_unlocks_through_the_api(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    locked = make_user(Role.OPERATOR)
    lock_out(server, locked, "127.0.8.2")
    supervisor = logged_in(server, Role.SUPERVISOR)
    answer = supervisor.client.post(f"/api/users/{locked.id}/unlock", headers=supervisor.headers())
    assert answer.status_code == 204
    assert login_from(server, "127.0.8.2", locked.username, locked.password).status_code == 200
    # The rest of the users API stays the technician's.
    assert supervisor.client.get("/api/users").status_code == 403
    assert supervisor.client.get(f"/api/users/{locked.id}").status_code == 403


def test_a_supervisor_reaches_unlock_from_the_menu(
    browser: webdriver.Chrome, server: LiveServer, make_user: Callable[..., Account]
) -> None:
    locked = make_user(Role.OPERATOR)
    lock_out(server, locked, "127.0.8.3")
    browser_login(browser, server, make_user(Role.SUPERVISOR))
    browser.find_element(By.CSS_SELECTOR, 'nav a[href="/users"]').click()
    wait_for(browser, f"#unlock-{locked.id}")
    assert not browser.find_elements(By.ID, "add-user")
    button = browser.find_element(By.ID, f"unlock-{locked.id}")
    submit_and_wait(browser, button, "#done")
    assert "Kunci masuk akun itu dibuka" in browser.find_element(By.ID, "done").text
    assert not browser.find_elements(By.ID, f"unlock-{locked.id}")
    assert login_from(server, "127.0.8.3", locked.username, locked.password).status_code == 200


def test_a_supervisor_with_nothing_locked_is_told_so(tmp_path: Path) -> None:
    with serve(tmp_path / "siaga.db") as own:  # no other test locks anyone here
        add_account(own, Role.OPERATOR)
        supervisor = logged_in(own, Role.SUPERVISOR, language="en")
        page = supervisor.client.get("/users")
    assert page.status_code == 200
    assert "No account is locked out" in page.text
    assert 'id="users"' not in page.text and 'id="add-user"' not in page.text
