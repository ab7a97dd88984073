"""The operator console in a real headless Chromium, with the tests playing the line service.

The page is driven as an operator would: it must show a line changing without a reload,
a waiting caller's history, send the right request for a click or a key, and show what
the line service made of it (or that it is not answering). Each test keeps a screenshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.web_ui.conftest import Account, LiveServer, browser_login
from tests.web_ui.line_service import (
    add_call,
    add_disposition,
    audit_rows,
    database,
    desk_requests,
    finish_request,
    line_name,
    remove_line,
    service_beating,
    set_line,
    update_call,
    wait_until,
)
from tests.web_ui.test_pages import assert_no_alert
from web_ui.console.service import disposition_choices
from web_ui.users.service import Role

Shot = Callable[[str], Path]
LIVE_S = 2.0  # a change in line_status must show within this


@pytest.fixture(autouse=True)
def line_service_alive(server: LiveServer) -> Iterator[None]:
    """The tests play a running line service: its heartbeat too (else the console shows
    every line as not reported: test_console_service_watch)."""
    with service_beating(server):
        yield


@pytest.fixture
def lines(server: LiveServer) -> Iterator[Callable[[], str]]:
    """`lines()` names a line for this test; every one is removed afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(line_name("web"))
        return made[-1]

    yield make
    for name in made:
        remove_line(server, name)


def card(
    driver: webdriver.Chrome, line: str, state: str | None = None, timeout_s: float = LIVE_S
) -> WebElement:
    """The card of `line` (once it shows `state`), waiting for it at most `timeout_s`."""
    css = f'.line-card[data-line="{line}"]' + (f'[data-state="{state}"]' if state else "")
    found: WebElement = WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css)
    )
    return found


def note_of(driver: webdriver.Chrome, line: str, text: str, timeout_s: float = LIVE_S) -> str:
    """Wait until `line`'s request note says `text`; the note."""
    css = f'.line-card[data-line="{line}"] .request-note'

    def shown(d: webdriver.Chrome) -> str | None:
        notes = d.find_elements(By.CSS_SELECTOR, css)
        return notes[0].text if notes and text in notes[0].text else None

    return str(WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(shown))


def open_console(driver: webdriver.Chrome, server: LiveServer, user: Account) -> None:
    browser_login(driver, server, user)
    if not driver.current_url.endswith("/console"):
        driver.get(server.url + "/console")
    WebDriverWait(driver, 5).until(
        lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live"
    )


def press(driver: webdriver.Chrome, key: str) -> None:
    driver.find_element(By.TAG_NAME, "body").send_keys(key)


def test_a_call_arrives_live_and_is_answered_recorded_and_hung_up_by_click_and_key(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    lines: Callable[[], str],
    screenshot: Shot,
) -> None:
    line, number, now = lines(), "+6281234567801", time.time()
    earlier = [add_call(server, "other", number, now - ago) for ago in (3600, 7200, 10 * 86400)]
    add_call(server, "other", number, now - 40 * 86400)  # older than 30 days
    add_disposition(server, earlier[0], number, "prank", "siti", now - 3500)
    add_disposition(server, earlier[2], number, "ghost", "budi", now - 10 * 86400)
    with database(server) as conn:
        conn.execute(
            "INSERT INTO rules (id, kind, pattern, match, action, reason, created_by, created_ts,"
            " expires_ts) VALUES (?, 'block', ?, 'exact', 'challenge', 'ladder 3 pranks', 'auto',"
            " ?, ?)",
            [f"r-{line}", number, now - 60, now + 86400],
        )
    set_line(server, line, "idle")
    operator = make_user(Role.OPERATOR)
    open_console(browser, server, operator)
    assert browser.current_url == server.url + "/console"  # an operator's home page
    card(browser, line, "idle")

    call_id = add_call(server, line, number, time.time())
    waiting = {
        "call_id": call_id,
        "caller_raw": "081234567801",
        "caller": number,
        "number_class": "number",
        "decision": "challenge",
        "reason": "abuse",
        "rule": "ladder:1",
        "challenge_result": "passed",
        "voice_heard": 1,
        "unverified": 1,
        "waiting_since_ts": time.time(),
    }
    set_line(server, line, "operator_ringing", **waiting)
    shown = card(browser, line, "operator_ringing")  # no reload: the event stream
    assert shown.find_element(By.CSS_SELECTOR, ".state").text == "Menunggu operator"
    assert shown.find_element(By.CSS_SELECTOR, ".number").text.startswith(number)
    assert "seperti diterima: 081234567801" in shown.text
    assert (
        shown.find_element(By.CSS_SELECTOR, ".decision").text
        == "tantangan / riwayat iseng (ladder:1)"
    )
    assert shown.find_element(By.CSS_SELECTOR, ".calls-24h").text == "2"
    assert shown.find_element(By.CSS_SELECTOR, ".calls-30d").text == "3"
    verdicts = [item.text for item in shown.find_elements(By.CSS_SELECTOR, ".past-dispositions li")]
    assert [v.split(" ")[0] for v in verdicts] == ["Iseng", "Hantu"]
    assert "WIB" in verdicts[0] and "siti" in verdicts[0]
    assert "ladder 3 pranks" in shown.find_element(By.CSS_SELECTOR, ".restrictions").text
    assert shown.find_element(By.CSS_SELECTOR, ".challenge-result").text == "lulus"
    assert shown.find_element(By.CSS_SELECTOR, ".voice-heard").text == "ya"
    assert "Belum terverifikasi" in shown.find_element(By.CSS_SELECTOR, ".unverified").text
    assert not shown.find_elements(By.CSS_SELECTOR, "button.block")  # operators cannot block
    screenshot("waiting")

    shown.find_element(By.CSS_SELECTOR, "button.answer").click()
    [answer] = wait_until(lambda: desk_requests(server, line))
    assert (answer["kind"], answer["call_id"], answer["operator"]) == (
        "answer",
        call_id,
        operator.username,
    )
    note_of(browser, line, "Angkat: terkirim")
    finish_request(server, answer["id"], "ok")
    set_line(server, line, "connected", **waiting | {"operator": operator.username})
    connected = card(browser, line, "connected")
    note_of(browser, line, "Angkat: selesai.")

    fire = next(choice for choice in disposition_choices() if choice.value == "genuine:fire")
    assert fire.key is not None
    button = connected.find_element(By.CSS_SELECTOR, '[data-disposition="genuine:fire"]')
    assert button.find_element(By.TAG_NAME, "kbd").text == fire.key
    press(browser, fire.key)
    press(browser, "h")
    requests = wait_until(lambda: (rows := desk_requests(server, line)) and len(rows) == 3 and rows)
    assert [(r["kind"], r["disposition"], r["call_id"]) for r in requests[1:]] == [
        ("disposition", "genuine:fire", call_id),
        ("hang_up", None, call_id),
    ]
    screenshot("connected")

    # The caller is gone: the call stays on the card for two minutes, to be recorded.
    update_call(server, call_id, reached_operator=1, operator_ts=time.time(), ended_ts=time.time())
    set_line(server, line, "idle")
    card(browser, line, "idle")
    ended_css = f'.line-card[data-line="{line}"] .ended-call'
    WebDriverWait(browser, LIVE_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, ended_css))
    press(browser, "p")
    last = wait_until(lambda: (rows := desk_requests(server, line)) and len(rows) == 4 and rows[-1])
    assert (last["kind"], last["disposition"], last["call_id"]) == ("disposition", "prank", call_id)
    assert {row["operator"] for row in desk_requests(server, line)} == {operator.username}
    actions = [row["action"] for row in audit_rows(server, operator.username)]
    assert actions == [
        "console.answer",
        "console.disposition",
        "console.hang_up",
        "console.disposition",
    ]
    screenshot("ended")


def test_a_silent_line_service_is_reported_and_a_late_result_still_shows(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    lines: Callable[[], str],
    screenshot: Shot,
) -> None:
    line = lines()
    call_id = add_call(server, line, None, time.time(), number_class="withheld")
    set_line(
        server,
        line,
        "operator_ringing",
        call_id=call_id,
        number_class="withheld",
        waiting_since_ts=time.time(),
    )
    open_console(browser, server, make_user(Role.OPERATOR, language="en"))
    shown = card(browser, line, "operator_ringing")
    assert "History not available" in shown.find_element(By.CSS_SELECTOR, ".no-history").text
    assert shown.find_element(By.CSS_SELECTOR, ".number").text == "Withheld number"
    clicked = time.monotonic()
    shown.find_element(By.CSS_SELECTOR, "button.answer").click()
    note_of(browser, line, "Answer: sent")
    message = "The line service is not answering: take the call on the desk phone."
    note_of(browser, line, message, timeout_s=8.0)
    assert time.monotonic() - clicked >= 4.5
    screenshot("not-answering")
    [request] = desk_requests(server, line)
    finish_request(server, request["id"], "expired")
    note_of(browser, line, "Answer: expired")


def test_caller_id_markup_is_shown_as_text_and_never_runs(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    lines: Callable[[], str],
    screenshot: Shot,
) -> None:
    line, markup = lines(), '<script>alert(1)</script>"'
    evil = '<img src=x onerror="alert(2)">'
    call_id = add_call(
        server, line, None, time.time(), caller_raw=markup, number_class="unparseable"
    )
    set_line(
        server,
        line,
        "operator_ringing",
        call_id=call_id,
        caller_raw=markup,
        number_class="unparseable",
        rule=evil,
        decision="challenge",
        reason="unparseable",
    )
    open_console(browser, server, make_user(Role.OPERATOR))
    shown = card(browser, line, "operator_ringing")
    assert_no_alert(browser)
    assert markup in shown.text
    assert evil in shown.find_element(By.CSS_SELECTOR, ".decision").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#lines script, #lines img")
    screenshot("escaped")


def test_a_supervisor_blocks_the_number_for_24_hours_from_the_console(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    lines: Callable[[], str],
    screenshot: Shot,
) -> None:
    line, number = lines(), "+6281234567809"
    call_id = add_call(server, line, number, time.time())
    set_line(
        server,
        line,
        "connected",
        call_id=call_id,
        caller=number,
        caller_raw=number,
        number_class="number",
        decision="pass",
        reason="default",
    )
    supervisor = make_user(Role.SUPERVISOR)
    open_console(browser, server, supervisor)
    shown = card(browser, line, "connected")
    clicked = time.time()
    shown.find_element(By.CSS_SELECTOR, 'button.block[data-duration="24h"]').click()
    with database(server) as conn:
        rule = wait_until(
            lambda: conn.execute("SELECT * FROM rules WHERE pattern = ?", [number]).fetchone()
        )
    assert (rule["kind"], rule["action"], rule["match"]) == ("block", "challenge", "exact")
    assert rule["reason"] == "console: supervisor"
    assert rule["created_by"] == supervisor.username
    assert rule["expires_ts"] == pytest.approx(clicked + 86400, abs=5)
    assert [row["action"] for row in audit_rows(server, supervisor.username)] == ["console.block"]
    WebDriverWait(browser, LIVE_S).until(
        lambda d: (
            "diblokir"
            in d.find_element(By.CSS_SELECTOR, f'.line-card[data-line="{line}"] .action-note').text
        )
    )
    screenshot("blocked")
