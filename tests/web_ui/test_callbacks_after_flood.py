"""After a flood: the call-back list holds the flood's own numbers, and a supervisor
dismisses them together, keeping every caller who was ever judged genuine.

A web UI of its own on its own database, the line service's side played by a real
`CallLog` (flood events, releases and verdicts through its writer), and the console in
Chromium with a real `confirm()`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from appliance.store import CallLog
from appliance.store.callbacks import FloodEpisode, last_ended_flood
from tests.web_ui.conftest import LiveServer, serve
from tests.web_ui.own_server import logged_in
from tests.web_ui.test_callbacks import POLL_WAIT_S, Shot, open_console, open_id
from web_ui.users.service import Role

ZONE = "Asia/Jakarta"
FLOOD_S = 600.0


@pytest.fixture
def own(tmp_path: Path) -> Iterator[LiveServer]:
    with serve(tmp_path / "siaga.db") as server:
        yield server


@pytest.fixture
def call_log(own: LiveServer) -> Iterator[CallLog]:
    log = CallLog(own.db_path, timezone=ZONE)
    log.open()
    yield log
    log.close()


def flood(log: CallLog, started_ts: float, ended_ts: float | None) -> None:
    log.add_event("flood_on", detail={"reason": "waiting"}, ts=started_ts)
    if ended_ts is not None:
        log.add_event("flood_off", detail={"reason": "waiting"}, ts=ended_ts)
    assert log.flush()


def release(log: CallLog, caller: str, ts: float, reason: str = "released_in_flood") -> int:
    log.add_callback(
        caller=caller, caller_raw=caller, line="gsm1", call_id=None, reason=reason,
        detail={"voice_heard": False}, ts=ts,
    )  # fmt: skip
    assert log.flush()
    return open_id(log.path, caller)


def genuine_before(log: CallLog, caller: str, ts: float, call_id: int) -> None:
    """A call from `caller` an operator judged genuine."""
    log.call_started(
        call_id,
        {"line": "gsm1", "caller_raw": caller, "caller": caller, "number_class": "number",
         "started_ts": ts, "decision": "pass", "reason": "no_history"},
    )  # fmt: skip
    log.call_updated(call_id, {"ended_ts": ts + 60, "end_cause": "operator"})
    log.record_disposition(call_id, "genuine:health", "op1", ts + 70)
    assert log.flush()


def statuses(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT caller, status FROM callbacks").fetchall())
    finally:
        conn.close()


def a_flood_with_its_list(log: CallLog) -> tuple[float, float, list[str], str, str]:
    """A flood that ended a minute ago: six of its numbers on the list, one caller judged
    genuine last week released during it, and one caller released before it. Returns
    (start, end, the flood's numbers, the genuine caller, the caller from before)."""
    now = time.time()
    started, ended = now - 60 - FLOOD_S, now - 60
    before = "+6281300000001"
    release(log, before, started - 300, reason="silent_after_challenge")
    genuine = "+6281300000002"
    genuine_before(log, genuine, now - 7 * 86_400, call_id=1)
    flood(log, started, ended)
    numbers = [f"+6285712{index:06d}" for index in range(6)]
    for offset, number in enumerate(numbers):
        release(log, number, started + 30 + offset)
    release(log, genuine, started + 100, reason="waiting_during_flood")
    return started, ended, numbers, genuine, before


def test_the_last_ended_flood_is_read_from_the_events(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "siaga.db", timezone=ZONE)
    log.open()
    try:
        conn = sqlite3.connect(log.path)
        assert last_ended_flood(conn) is None  # no flood yet
        flood(log, 1000.0, 1500.0)
        assert last_ended_flood(conn) == FloodEpisode(1000.0, 1500.0)
        flood(log, 2000.0, None)  # a flood still on: nothing to dismiss yet
        assert last_ended_flood(conn) is None
        log.add_event("flood_on", detail={"reason": "restart"}, ts=2100.0)  # restarted in it
        log.add_event("flood_off", detail={}, ts=2400.0)
        assert log.flush()
        assert last_ended_flood(conn) == FloodEpisode(2000.0, 2400.0)
        conn.close()
    finally:
        log.close()


def test_a_supervisor_dismisses_the_floods_entries_and_genuine_callers_stay(
    own: LiveServer, call_log: CallLog
) -> None:
    started, ended, numbers, genuine, before = a_flood_with_its_list(call_log)
    operator = logged_in(own, Role.OPERATOR, language="en")
    shown = operator.client.get("/api/callbacks").json()["flood_entries"]
    assert (shown["dismissable"], shown["kept"], shown["may_dismiss"]) == (6, 1, False)
    assert "left 6 entries" in shown["text"]
    body = {"started_ts": shown["started_ts"], "ended_ts": shown["ended_ts"]}
    refused = operator.client.post(
        "/api/callbacks/flood/dismiss", json=body, headers=operator.headers()
    )
    assert refused.status_code == 403

    supervisor = logged_in(own, Role.SUPERVISOR, language="en")
    stale = {"started_ts": started - 1, "ended_ts": ended}
    answer = supervisor.client.post(
        "/api/callbacks/flood/dismiss", json=stale, headers=supervisor.headers()
    )
    assert answer.status_code == 409
    assert set(statuses(own.db_path).values()) == {"open"}  # nothing changed

    answer = supervisor.client.post(
        "/api/callbacks/flood/dismiss", json=body, headers=supervisor.headers()
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["dismissed"], answer.json()["kept"]) == (6, 1)
    after = statuses(own.db_path)
    assert [after[number] for number in numbers] == ["dismissed"] * 6
    assert (after[genuine], after[before]) == ("open", "open")
    conn = sqlite3.connect(own.db_path)
    audit = conn.execute(
        "SELECT actor, action, before FROM audit_log WHERE action = 'callback.flood_dismissed'"
    ).fetchall()
    conn.close()
    assert len(audit) == 1 and all(number in audit[0][2] for number in numbers)
    assert supervisor.client.get("/api/callbacks").json()["flood_entries"] is None

    # A number of the flood released again opens a new entry, as after any mark.
    release(call_log, numbers[0], time.time())
    assert statuses(own.db_path)[numbers[0]] == "open"


def test_in_the_console_one_click_and_a_confirmation_close_the_floods_entries(
    browser: webdriver.Chrome, own: LiveServer, call_log: CallLog, screenshot: Shot
) -> None:
    *_, genuine, before = a_flood_with_its_list(call_log)
    open_console(browser, own, Role.SUPERVISOR, "id")
    notice = browser.find_element(By.ID, "callbacks-flood-left")
    WebDriverWait(browser, POLL_WAIT_S).until(lambda _: notice.is_displayed())
    assert "meninggalkan 6 entri" in notice.text
    assert "Tetap terbuka (1)" in notice.text
    button = browser.find_element(By.ID, "callbacks-dismiss-flood")
    assert button.text == "Tutup 6 entri banjir"
    screenshot("flood-left")

    button.click()
    WebDriverWait(browser, 5).until(expected_conditions.alert_is_present())
    browser.switch_to.alert.dismiss()  # changed their mind: nothing happens
    time.sleep(0.5)
    assert set(statuses(own.db_path).values()) == {"open"}

    button.click()
    WebDriverWait(browser, 5).until(expected_conditions.alert_is_present())
    assert "Tutup 6 entri" in browser.switch_to.alert.text
    browser.switch_to.alert.accept()
    message = browser.find_element(By.ID, "callbacks-message")
    WebDriverWait(browser, 5).until(lambda _: message.is_displayed())
    assert message.text == "6 entri banjir ditutup; 1 tetap terbuka."
    WebDriverWait(browser, POLL_WAIT_S).until(lambda _: not notice.is_displayed())
    rows = browser.find_elements(By.CSS_SELECTOR, "#callbacks-list tr[data-callback]")
    listed = {row.find_element(By.CSS_SELECTOR, ".number").text.split()[0] for row in rows}
    assert listed == {genuine, before}
    screenshot("flood-dismissed")


def test_an_operator_sees_what_the_flood_left_but_no_button(
    browser: webdriver.Chrome, own: LiveServer, call_log: CallLog
) -> None:
    a_flood_with_its_list(call_log)
    open_console(browser, own, Role.OPERATOR, "en")
    notice = browser.find_element(By.ID, "callbacks-flood-left")
    WebDriverWait(browser, POLL_WAIT_S).until(lambda _: notice.is_displayed())
    assert "left 6 entries" in notice.text
    assert not browser.find_element(By.ID, "callbacks-dismiss-flood").is_displayed()
