"""The call-back list in the web UI: the JSON API, the dashboard, and the console in Chromium.

The module runs its own web UI on its own database (`own_server`), with the line
service's side played by a real `CallLog` on that file: entries are listed through
`add_callback`, its writer thread and queue, exactly as on the box; the web process reads
them and marks them with audit rows. Counts and "the oldest entry" are then this
module's alone.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from appliance.policy import flood_reason
from appliance.store import CallLog
from appliance.store.callbacks import CALLBACK_REASONS, NOTE_MAX_CHARS, RANG_WHILE_STARTING
from tests.web_ui.conftest import LiveServer, browser_login, serve
from tests.web_ui.line_service import ZONE, database
from tests.web_ui.own_server import add_account, logged_in
from tests.web_ui.test_pages import assert_no_alert
from web_ui.core import db as web_db
from web_ui.core.i18n import MESSAGES
from web_ui.home import service as dashboard
from web_ui.users.service import Role

MARKUP = '<script>alert(1)</script>"'
EVIL = '<img src=x onerror="alert(2)">'
HEARD = {"voice_heard": False, "keys": "", "listened_s": 12.0}
POLL_WAIT_S = 12.0  # the console polls every 5 s; a shared, busy machine
Shot = Callable[[str], Path]

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A web UI on a database only this module writes."""
    with serve(tmp_path_factory.mktemp("callbacks") / "siaga.db") as server:
        yield server


@pytest.fixture(scope="module")
def call_log(own: LiveServer) -> Iterator[CallLog]:
    """The line service's writer on the same file, as on the box."""
    log = CallLog(own.db_path, timezone="Asia/Jakarta")
    log.open()
    yield log
    log.close()


def new_number() -> str:
    """A caller number no other test of the module uses."""
    return f"+62812555{next(_numbers):05d}"


def release(log: CallLog, caller: str, **fields: Any) -> int:
    """List a release as the line service does (and wait for the commit); the entry's id."""
    values: dict[str, Any] = {
        "caller": caller,
        "caller_raw": "0" + caller.removeprefix("+62"),
        "line": "gsm1",
        "call_id": None,
        "reason": "silent_after_challenge",
        "detail": HEARD,
        "ts": time.time(),
    }
    values.update(fields)
    log.add_callback(**values)
    assert log.flush()
    return open_id(log.path, caller)


def open_id(path: Path, caller: str) -> int:
    conn = sqlite3.connect(path, timeout=5.0)
    try:
        found = conn.execute(
            "SELECT id FROM callbacks WHERE caller = ? AND status = 'open'", [caller]
        ).fetchone()
    finally:
        conn.close()
    assert found is not None, f"{caller} is not on the list"
    return int(found[0])


def row_of(server: LiveServer, callback_id: int) -> sqlite3.Row:
    with database(server) as conn:
        row: sqlite3.Row = conn.execute(
            "SELECT * FROM callbacks WHERE id = ?", [callback_id]
        ).fetchone()
    return row


def audit_of(server: LiveServer, callback_id: int) -> list[sqlite3.Row]:
    with database(server) as conn:
        return conn.execute(
            "SELECT * FROM audit_log WHERE target = ? ORDER BY id", [f"callback:{callback_id}"]
        ).fetchall()


def mark(session: Any, callback_id: Any, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", session.headers())
    response: httpx.Response = session.client.post(
        f"/api/callbacks/{callback_id}", json=body, headers=headers, **kwargs
    )
    return response


def shown(session: Any, callback_id: int) -> dict[str, Any] | None:
    listed = session.client.get("/api/callbacks", params={"limit": 500})
    assert listed.status_code == 200, listed.text
    return next((e for e in listed.json()["entries"] if e["id"] == callback_id), None)


# ------------------------------------------------------------------ the API


def test_the_open_list_is_newest_first_in_the_users_language(
    own: LiveServer, call_log: CallLog
) -> None:
    caller, later = new_number(), new_number()
    now = time.time()
    first = release(call_log, caller, ts=now - 120, call_id=11)
    assert release(call_log, caller, ts=now - 60, call_id=12, line="gsm2") == first
    second = release(call_log, later, ts=now, reason="rang_while_starting", detail={"rings": 3})

    english = logged_in(own, Role.OPERATOR, language="en")
    answer = english.client.get("/api/callbacks")
    assert answer.status_code == 200, answer.text
    data = answer.json()
    ids = [entry["id"] for entry in data["entries"]]
    assert ids.index(second) < ids.index(first)  # newest release first
    assert data["open_count"] >= 2
    entry = next(e for e in data["entries"] if e["id"] == first)
    assert (entry["caller"], entry["caller_raw"]) == (caller, "0" + caller.removeprefix("+62"))
    assert (entry["line"], entry["call_id"], entry["attempts"]) == ("gsm2", 12, 2)
    assert entry["reason"] == "silent_after_challenge"
    assert entry["reason_text"] == "silent after the challenge"
    assert entry["heard_text"] == "no voice; no key pressed; listened for 12 s"
    assert entry["detail"] == HEARD
    assert entry["first_at"].endswith("+07:00") and "WIB" in entry["last_text"]
    assert (entry["calls_30d"], entry["last_disposition"]) == (0, None)
    assert entry["history_text"] == "0 calls in 30 days"
    assert entry["status"] == "open" and entry["status_by"] is None

    indonesian = logged_in(own, Role.OPERATOR, language="id")
    ringing = shown(indonesian, second)
    assert ringing is not None
    assert ringing["reason_text"] == "berdering saat saluran sedang dinyalakan"
    assert ringing["heard_text"] == "berdering 3 kali"
    silent = shown(indonesian, first)
    assert silent is not None
    assert silent["heard_text"] == "tidak ada suara; tidak menekan tombol; didengarkan 12 detik"


def test_every_reason_and_mark_has_words_in_both_languages() -> None:
    keys = [f"callbacks.reason.{reason}" for reason in CALLBACK_REASONS]
    keys += [f"action.callback.{status}" for status in ("done", "unreachable")]
    keys += ["error.callback_not_found", "error.callback_not_open"]
    assert sorted(set(keys) - set(MESSAGES)) == []


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_role_may_mark_and_each_mark_is_audited(
    own: LiveServer, call_log: CallLog, role: Role
) -> None:
    caller = new_number()
    callback_id = release(call_log, caller, call_id=21)
    session = logged_in(own, role, language="en")
    answer = mark(session, callback_id, {"status": "done", "note": "  called back, all well "})
    assert answer.status_code == 200, answer.text
    after = answer.json()
    assert (after["status"], after["status_by"]) == ("done", session.user.username)
    assert after["note"] == "called back, all well"
    assert after["status_at"].endswith("+07:00")
    assert shown(session, callback_id) is None  # it left the open list
    row = row_of(own, callback_id)
    assert (row["status"], row["status_by"]) == ("done", session.user.username)
    [audit] = audit_of(own, callback_id)
    assert (audit["actor"], audit["action"]) == (session.user.username, "callback.done")
    assert '"status": "open"' in audit["before"] and '"caller": "' + caller in audit["before"]
    assert '"status": "done"' in audit["after"] and "called back, all well" in audit["after"]
    assert audit["remote"] == "127.0.0.1"

    # The caller is released again: a new entry, open, counted from one.
    again = release(call_log, caller, call_id=22)
    assert again != callback_id
    entry = shown(session, again)
    assert entry is not None and (entry["attempts"], entry["call_id"]) == (1, 22)


def test_an_entry_is_marked_once_a_second_mark_is_refused_with_409(
    own: LiveServer, call_log: CallLog
) -> None:
    callback_id = release(call_log, new_number())
    first, second = logged_in(own, Role.OPERATOR), logged_in(own, Role.SUPERVISOR)
    assert mark(first, callback_id, {"status": "unreachable"}).status_code == 200
    refused = mark(second, callback_id, {"status": "done", "note": "reached later"})
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "error.callback_not_open",
        "message": MESSAGES["error.callback_not_open"][1],
    }
    row = row_of(own, callback_id)
    assert (row["status"], row["status_by"], row["note"]) == (
        "unreachable",
        first.user.username,
        None,
    )
    assert [audit["action"] for audit in audit_of(own, callback_id)] == ["callback.unreachable"]


@pytest.mark.parametrize(
    ("path_id", "body", "status", "code"),
    [
        ("999999999", {"status": "done"}, 404, "error.callback_not_found"),
        ("0", {"status": "done"}, 422, "error.invalid_input"),
        ("-1", {"status": "done"}, 422, "error.invalid_input"),
        (str(2**63), {"status": "done"}, 422, "error.invalid_input"),
        ("abc", {"status": "done"}, 422, "error.invalid_input"),
        (None, {"status": "open"}, 422, "error.invalid_input"),
        (None, {"status": "called"}, 422, "error.invalid_input"),
        (None, {}, 422, "error.invalid_input"),
        (None, {"status": "done", "note": 5}, 422, "error.invalid_input"),
        (None, {"status": "done", "note": "x" * (NOTE_MAX_CHARS + 1)}, 422, "error.invalid_input"),
        (None, {"status": "done", "by": "someone else"}, 422, "error.invalid_input"),
    ],
)
def test_bad_ids_statuses_and_notes_are_clear_4xx_and_change_nothing(
    own: LiveServer,
    call_log: CallLog,
    path_id: str | None,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    callback_id = release(call_log, new_number())
    session = logged_in(own, Role.OPERATOR)
    answer = mark(session, path_id or callback_id, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"] == code
    assert row_of(own, callback_id)["status"] == "open"
    assert audit_of(own, callback_id) == []


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_a_bad_limit_is_a_422(own: LiveServer, limit: str) -> None:
    session = logged_in(own, Role.OPERATOR)
    answer = session.client.get("/api/callbacks", params={"limit": limit})
    assert answer.status_code == 422
    assert answer.json()["detail"] == "error.invalid_input"


def test_marks_need_a_session_and_its_own_csrf_token(own: LiveServer, call_log: CallLog) -> None:
    callback_id = release(call_log, new_number())
    with httpx.Client(base_url=own.url) as anonymous:
        assert anonymous.get("/api/callbacks").status_code == 401
        refused = anonymous.post(f"/api/callbacks/{callback_id}", json={"status": "done"})
        assert refused.status_code == 401
    mine, other = logged_in(own, Role.OPERATOR), logged_in(own, Role.OPERATOR)
    for headers in ({}, other.headers(), {"X-CSRF-Token": "forged"}):
        answer = mark(mine, callback_id, {"status": "done"}, headers=headers)
        assert answer.status_code == 403
        assert answer.json()["detail"] == "error.csrf"
    assert row_of(own, callback_id)["status"] == "open"


def test_hostile_text_is_returned_as_data_and_the_dashboard_escapes_it(
    own: LiveServer, call_log: CallLog
) -> None:
    caller = new_number()
    oldest_ts = time.time() - 10 * 86_400  # older than every other entry of the module
    callback_id = release(
        call_log,
        caller,
        caller_raw=MARKUP,
        line=EVIL,
        detail={"keys": MARKUP, "said": EVIL},
        ts=oldest_ts,
    )
    with database(own) as conn:  # a reason this version has no words for, and markup in it
        conn.execute("UPDATE callbacks SET reason = ? WHERE id = ?", [EVIL, callback_id])
    supervisor = logged_in(own, Role.SUPERVISOR, language="en")
    entry = shown(supervisor, callback_id)
    assert entry is not None
    assert (entry["caller_raw"], entry["line"], entry["reason_text"]) == (MARKUP, EVIL, EVIL)
    assert entry["heard_text"] == f"keys pressed: {MARKUP}; said: {EVIL}"

    summary = supervisor.client.get("/api/dashboard").json()["callbacks"]
    listed = supervisor.client.get("/api/callbacks").json()
    assert summary["open_count"] == listed["open_count"]
    assert summary["oldest"]["id"] == callback_id
    assert summary["oldest"]["waiting_s"] >= 10 * 86_400 - 60
    page = supervisor.client.get("/").text
    assert 'id="callbacks-card"' in page
    assert f'id="callbacks-oldest" data-callback="{callback_id}"' in page
    assert EVIL not in page and str(escape(EVIL)) in page
    assert caller in page and "waiting 10 d 0 h" in page
    mark(supervisor, callback_id, {"status": "done"})


def test_the_dashboard_counts_the_open_entries_and_names_the_oldest(
    own: LiveServer, call_log: CallLog
) -> None:
    caller = new_number()
    callback_id = release(call_log, caller, ts=time.time() - 20 * 86_400)
    english = logged_in(own, Role.TECHNICIAN, language="en")
    open_count = english.client.get("/api/callbacks").json()["open_count"]
    page = english.client.get("/").text
    assert f'id="callbacks-open">{open_count:,}</span>' in page
    assert f"{caller} (silent after the challenge), since" in page
    assert "waiting 20 d 0 h" in page and 'href="/console#callbacks"' in page
    indonesian = logged_in(own, Role.SUPERVISOR, language="id")
    assert f"{caller} (diam setelah tantangan), sejak" in indonesian.client.get("/").text
    mark(english, callback_id, {"status": "unreachable"})
    assert f'data-callback="{callback_id}"' not in english.client.get("/").text


def test_with_nothing_open_the_dashboard_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    web_db.migrate(path, busy_timeout_s=5.0)
    conn = web_db.connect(path, busy_timeout_s=5.0)
    try:
        summary = dashboard.callback_summary(conn, time.time(), ZONE)
    finally:
        conn.close()
    assert (summary.open_count, summary.oldest) == (0, None)


# ------------------------------------------------------------------ the console in Chromium


def console_row(driver: webdriver.Chrome, callback_id: int, timeout_s: float) -> WebElement:
    """The console's row of an entry, once the page shows it."""
    css = f'#callbacks-list tr[data-callback="{callback_id}"]'
    found: WebElement = WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css)
    )
    return found


def gone(driver: webdriver.Chrome, callback_id: int, timeout_s: float) -> None:
    css = f'#callbacks-list tr[data-callback="{callback_id}"]'
    WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, css)
    )


def open_console(driver: webdriver.Chrome, server: LiveServer, role: Role, language: str) -> str:
    """Log a new user of `role` in and open the console; their user name."""
    user = add_account(server, role, language=language)
    browser_login(driver, server, user)
    if not driver.current_url.endswith("/console"):
        driver.get(server.url + "/console")
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live"
    )
    return user.username


def test_an_operator_marks_an_entry_done_in_one_click_and_it_leaves_the_list(
    browser: webdriver.Chrome, own: LiveServer, call_log: CallLog, screenshot: Shot
) -> None:
    caller = new_number()
    callback_id = release(call_log, caller, call_id=31, line="gsm3")
    release(call_log, caller, call_id=32, line="gsm3")  # the same caller twice: one entry
    username = open_console(browser, own, Role.OPERATOR, "id")
    assert browser.current_url == own.url + "/console"
    row = console_row(browser, callback_id, timeout_s=5.0)
    assert row.find_element(By.CSS_SELECTOR, ".number").text.startswith(caller)
    assert "seperti diterima: 0" + caller.removeprefix("+62") in row.text
    assert "WIB" in row.find_element(By.CSS_SELECTOR, ".when").text
    assert row.find_element(By.CSS_SELECTOR, ".line").text == "gsm3"
    assert row.find_element(By.CSS_SELECTOR, ".reason").text == "diam setelah tantangan"
    heard = row.find_element(By.CSS_SELECTOR, ".heard").text
    assert heard == "tidak ada suara; tidak menekan tombol; didengarkan 12 detik"
    assert row.find_element(By.CSS_SELECTOR, ".attempts").text == "2"
    assert "terbuka" in browser.find_element(By.ID, "callbacks-count").text

    # A caller released while the console is open shows up without a reload.
    later = release(call_log, new_number(), reason="hung_up_during_prompt", detail={})
    late_row = console_row(browser, later, timeout_s=POLL_WAIT_S)
    assert late_row.find_element(By.CSS_SELECTOR, ".reason").text == "menutup saat pesan diputar"
    screenshot("listed")

    row.find_element(By.CSS_SELECTOR, "button.callback-done").click()  # one click, no note
    gone(browser, callback_id, timeout_s=5.0)
    message = browser.find_element(By.ID, "callbacks-message")
    assert message.text == f"{caller} ditandai selesai."
    marked = row_of(own, callback_id)
    assert (marked["status"], marked["status_by"], marked["note"]) == ("done", username, None)
    assert [audit["action"] for audit in audit_of(own, callback_id)] == ["callback.done"]

    # A note, then "unreachable"; the entry stays gone after the next polls.
    late_row = console_row(browser, later, timeout_s=2.0)
    late_row.find_element(By.CSS_SELECTOR, "input.callback-note").send_keys("tidak diangkat 2x")
    late_row.find_element(By.CSS_SELECTOR, "button.callback-unreachable").click()
    gone(browser, later, timeout_s=5.0)
    assert row_of(own, later)["note"] == "tidak diangkat 2x"
    assert row_of(own, later)["status"] == "unreachable"
    time.sleep(6.0)  # one poll later
    assert not browser.find_elements(By.CSS_SELECTOR, f'tr[data-callback="{callback_id}"]')
    screenshot("marked")


def test_a_mark_made_elsewhere_meanwhile_is_explained_and_the_row_leaves(
    browser: webdriver.Chrome, own: LiveServer, call_log: CallLog
) -> None:
    callback_id = release(call_log, new_number())
    open_console(browser, own, Role.SUPERVISOR, "en")
    row = console_row(browser, callback_id, timeout_s=5.0)
    colleague = logged_in(own, Role.OPERATOR)
    assert mark(colleague, callback_id, {"status": "done"}).status_code == 200
    try:
        row.find_element(By.CSS_SELECTOR, "button.callback-unreachable").click()
    except StaleElementReferenceException:  # a poll came first and took the row away
        pass
    else:
        WebDriverWait(browser, 5).until(
            lambda d: "already marked" in d.find_element(By.ID, "callbacks-message").text
        )
    gone(browser, callback_id, timeout_s=5.0)
    assert row_of(own, callback_id)["status"] == "done"


def test_caller_id_markup_on_the_list_is_shown_as_text_and_never_runs(
    browser: webdriver.Chrome, own: LiveServer, call_log: CallLog, screenshot: Shot
) -> None:
    callback_id = release(
        call_log, new_number(), caller_raw=MARKUP, line=EVIL, detail={"keys": MARKUP, "x": EVIL}
    )
    open_console(browser, own, Role.OPERATOR, "en")
    row = console_row(browser, callback_id, timeout_s=5.0)
    assert_no_alert(browser)
    assert f"as given: {MARKUP}" in row.find_element(By.CSS_SELECTOR, ".number").text
    assert row.find_element(By.CSS_SELECTOR, ".line").text == EVIL
    assert row.find_element(By.CSS_SELECTOR, ".heard").text == f"keys pressed: {MARKUP}; x: {EVIL}"
    assert not browser.find_elements(By.CSS_SELECTOR, "#callbacks script, #callbacks img")
    screenshot("escaped")
    row.find_element(By.CSS_SELECTOR, "button.callback-done").click()
    gone(browser, callback_id, timeout_s=5.0)
    assert_no_alert(browser)


def test_in_flood_mode_the_console_says_call_backs_wait_and_the_api_says_why(
    browser: webdriver.Chrome, own: LiveServer, call_log: CallLog, screenshot: Shot
) -> None:
    """Operators keep call-backs for after a flood: its list is mostly the flood's own
    numbers, and genuine callers try again on the line kept for them."""
    release(call_log, new_number())
    open_console(browser, own, Role.OPERATOR, "en")
    flood_note = browser.find_element(By.ID, "callbacks-flood")
    assert not flood_note.is_displayed()
    card = browser.find_element(By.ID, "callbacks").text
    assert "always leave one free for incoming calls" in card

    banner = browser.find_element(By.ID, "flood-banner")
    assert not banner.is_displayed()

    reason = flood_reason("waiting", callers=9, window=60)
    call_log.set_service_state({"flood_active": 1, "flood_reason": reason}, time.time())
    call_log.flush()
    WebDriverWait(browser, POLL_WAIT_S).until(lambda _: flood_note.is_displayed())
    assert "hold the call-backs until it ends" in flood_note.text
    # At the top of the page, above the lines, where an operator looks first: what is on
    # and why, in words.
    assert banner.is_displayed()
    assert banner.location["y"] < browser.find_element(By.ID, "lines").location["y"]
    assert "Call flood" in banner.text
    assert "9 callers found the lines busy in 1 min" in banner.text
    assert "reason" not in banner.text and "waiting:" not in banner.text
    screenshot("flood-banner")
    supervisor = logged_in(own, Role.SUPERVISOR)
    assert supervisor.client.get("/api/callbacks").json()["flood_active"] is True

    call_log.set_service_state({"flood_active": 0, "flood_reason": None}, time.time())
    call_log.flush()
    WebDriverWait(browser, POLL_WAIT_S).until(lambda _: not flood_note.is_displayed())
    assert not banner.is_displayed()


def test_a_caller_the_line_missed_while_starting_is_on_the_console_with_the_reason_in_words(
    browser: webdriver.Chrome, own: LiveServer, call_log: CallLog
) -> None:
    """A call that rang while its line was starting (`LineService.caller_missed`, beside the
    line's `missed_call` event) was never answered: the operator sees whom to call back
    and why, in words, not the stored code."""
    caller = new_number()
    callback_id = release(
        call_log, caller, line="gsm4", call_id=None, reason=RANG_WHILE_STARTING, detail={}
    )
    open_console(browser, own, Role.OPERATOR, "id")
    row = console_row(browser, callback_id, timeout_s=5.0)
    assert row.find_element(By.CSS_SELECTOR, ".number").text.startswith(caller)
    assert row.find_element(By.CSS_SELECTOR, ".line").text == "gsm4"
    reason = row.find_element(By.CSS_SELECTOR, ".reason").text
    assert reason == "berdering saat saluran sedang dinyalakan"
