"""The lines page and `/api/lines`: list, enable/disable, AT tests, against the live server.

Most tests play the line service with a second connection (`tests.web_ui.line_service`):
they write `line_status` as it does and answer `line_requests` as its poller does. The
browser test runs the real `LineService` on a virtual modem over a real pseudo-terminal,
in a thread of its own (the process boundary is the database), and drives the page in a
real headless Chromium: an AT+CSQ test shows the modem's answer, a disable takes the line
out of service and lets go of its port, an enable brings it back.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from appliance.config import Config
from appliance.line_admin import LINE_REQUEST_RESULTS
from appliance.store.db import iso_at
from tests.web_ui.conftest import Account, ApiSession, LiveServer, browser_login
from tests.web_ui.line_service import audit_rows, database, line_name, remove_line, set_line
from tests.web_ui.real_centre import RealCentre, running_centre
from tests.web_ui.test_pages import assert_no_alert
from web_ui.core.i18n import MESSAGES
from web_ui.lines.service import REGISTRATIONS, signal_dbm, signal_percent
from web_ui.users.service import Role

Shot = Callable[[str], Path]
STEP_S = 15.0  # each browser step waits at most this long (real time, a shared machine)
E2E_LINE = "lines-e2e1"
SPARE_LINE = "lines-e2e-spare"  # in the configuration file, with enabled = false


# ------------------------------------------------------------------ helpers


@pytest.fixture
def lines(server: LiveServer) -> Iterator[Callable[[], str]]:
    """`lines()` names a line for this test; its rows are removed afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(line_name("lines"))
        return made[-1]

    yield make
    for name in made:
        remove_line(server, name)
        with database(server) as conn:
            conn.execute("DELETE FROM line_admin WHERE line = ?", [name])


@pytest.fixture
def service_state(server: LiveServer) -> Iterator[Callable[[dict[str, Any]], None]]:
    """`service_state(config)`: the service's row as if it ran on `config`; the row as it
    was is put back afterwards (every web test shares one database)."""
    with database(server) as conn:
        saved = conn.execute("SELECT * FROM service_state WHERE id = 1").fetchone()
    kept = dict(saved) if saved is not None else None

    def write(config: dict[str, Any]) -> None:
        now = time.time()
        with database(server) as conn:
            conn.execute(
                "INSERT INTO service_state (id, base_config, updated_ts) VALUES (1, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET base_config = excluded.base_config",
                [json.dumps(config), now],
            )

    yield write
    _restore_service_state(server, kept)


def _restore_service_state(server: LiveServer, kept: dict[str, Any] | None) -> None:
    with database(server) as conn:
        conn.execute("DELETE FROM service_state WHERE id = 1")
        if kept is not None:
            columns = list(kept)
            conn.execute(
                f"INSERT INTO service_state ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [kept[column] for column in columns],
            )


def listed(session: ApiSession, line: str) -> dict[str, Any]:
    """The line as `GET /api/lines` gives it."""
    answer = session.client.get("/api/lines")
    assert answer.status_code == 200, answer.text
    found = [entry for entry in answer.json() if entry["line"] == line]
    assert len(found) == 1, f"{line} not listed once: {found}"
    return dict(found[0])


def put_enabled(session: ApiSession, line: str, enabled: Any) -> httpx.Response:
    return session.client.put(
        f"/api/lines/{line}/enabled", json={"enabled": enabled}, headers=session.headers()
    )


def post_test(session: ApiSession, line: str, command: str) -> httpx.Response:
    return session.client.post(
        f"/api/lines/{line}/test", json={"command": command}, headers=session.headers()
    )


def admin_row(server: LiveServer, line: str) -> sqlite3.Row | None:
    with database(server) as conn:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM line_admin WHERE line = ?", [line]
        ).fetchone()
        return row


def answer_request(server: LiveServer, request_id: int, result: str, answer: str | None) -> None:
    """Fill a test's outcome, as the line service's poller does."""
    now = time.time()
    with database(server) as conn:
        conn.execute(
            "UPDATE line_requests SET done_ts = ?, done_at = ?, result = ?, answer = ?"
            " WHERE id = ?",
            [now, iso_at(now, server.settings.zone), result, answer, request_id],
        )


def healthy(server: LiveServer, line: str, state: str = "idle", **fields: Any) -> None:
    """A line as a running SIM7600 reports itself."""
    values: dict[str, Any] = {
        "family": "sim7600",
        "model": "SIMCOM_SIM7600G-H",
        "imei": "356938035643809",
        "signal": 20,
        "registration": "home",
        "desk": "desk1",
    }
    values.update(fields)
    set_line(server, line, state, **values)


# ------------------------------------------------------------------ the words


def test_every_word_of_the_lines_page_exists_in_both_languages() -> None:
    keys = (
        [f"lines.result.{result}" for result in LINE_REQUEST_RESULTS]
        + [f"lines.registration.{registration}" for registration in REGISTRATIONS]
        + [f"action.lines.{action}" for action in ("enable", "disable", "at_test")]
        + ["state.disabled"]
    )
    assert sorted(set(keys) - set(MESSAGES)) == []


def test_signal_is_shown_in_dbm_and_percent() -> None:
    assert (signal_dbm(0), signal_dbm(20), signal_dbm(31)) == (-113, -73, -51)
    assert (signal_percent(0), signal_percent(20), signal_percent(31)) == (0, 65, 100)
    assert signal_dbm(99) is None and signal_percent(99) is None and signal_dbm(None) is None


# ------------------------------------------------------------------ the API


def test_a_technician_lists_every_line_with_its_modem(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    healthy(server, line, last_error="health poll: timeout")
    entry = listed(api_session(Role.TECHNICIAN), line)
    assert entry["state"] == "idle" and entry["tone"] == "ok"
    assert entry["family"] == "sim7600" and entry["imei"] == "356938035643809"
    assert (entry["signal"], entry["signal_dbm"], entry["signal_percent"]) == (20, -73, 65)
    assert entry["registration"] == "home" and entry["last_error"] == "health poll: timeout"
    assert entry["enabled"] is True and entry["disabled_in_config"] is False
    assert entry["holds_call"] is False and entry["latest_test"] is None
    assert entry["since_at"].endswith("+07:00")  # the site's zone


def test_disable_and_enable_are_kept_and_audited(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    healthy(server, line)
    session = api_session(Role.TECHNICIAN)
    answer = put_enabled(session, line, False)
    assert answer.status_code == 200, answer.text
    assert answer.json()["enabled"] is False and answer.json()["enabled_by"] == (
        session.user.username
    )
    row = admin_row(server, line)
    assert row is not None and row["enabled"] == 0 and row["updated_by"] == session.user.username
    assert put_enabled(session, line, False).status_code == 200  # unchanged: nothing written
    assert put_enabled(session, line, True).json()["enabled"] is True
    audited = audit_rows(server, session.user.username, prefix="lines.")
    assert [entry["action"] for entry in audited] == ["lines.disable", "lines.enable"]
    assert all(entry["target"] == f"line:{line}" for entry in audited)
    assert '"enabled": true' in audited[0]["before"] and audited[0]["after"] == (
        '{"enabled": false}'
    )


def test_a_line_holding_a_call_is_not_disabled(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    healthy(server, line, state="connected", call_id=41, operator="siti")
    session = api_session(Role.TECHNICIAN, language="en")
    answer = put_enabled(session, line, False)
    assert answer.status_code == 409
    assert answer.json()["detail"] == "error.line_in_call"
    assert admin_row(server, line) is None
    assert listed(session, line)["holds_call"] is True


def test_unknown_lines_commands_and_requests_are_refused(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    healthy(server, line)
    session = api_session(Role.TECHNICIAN)
    assert put_enabled(session, "no-such-line", False).status_code == 404
    assert post_test(session, "no-such-line", "AT").status_code == 404
    assert put_enabled(session, line, "yes").status_code == 422  # strictly a boolean
    for command in ("ATD112;", "AT+CFUN=0", "AT+CSQ;+CFUN=0", "x" * 17, ""):
        refused = post_test(session, line, command)
        assert refused.status_code == 422, command
    assert post_test(session, "bad name", "AT").status_code in (404, 422)
    assert session.client.get("/api/lines/requests/999999999").status_code == 404
    with database(server) as conn:
        assert (
            conn.execute("SELECT count(*) FROM line_requests WHERE line = ?", [line]).fetchone()[0]
            == 0
        )


def test_an_at_test_is_audited_and_polled_until_the_service_answers(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    healthy(server, line)
    session = api_session(Role.TECHNICIAN)
    created = post_test(session, line, "AT+CSQ")
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "pending" and request["result"] is None
    assert request["command"] == "AT+CSQ" and request["requested_by"] == session.user.username
    [audited] = audit_rows(server, session.user.username, prefix="lines.")
    assert (
        audited["action"] == "lines.at_test"
        and f'"request_id": {request["id"]}' in (audited["after"])
    )

    answer_request(server, request["id"], "ok", "+CSQ: 20,0\nOK")
    done = session.client.get(f"/api/lines/requests/{request['id']}").json()
    assert done["status"] == "done" and done["result"] == "ok"
    assert done["answer"] == "+CSQ: 20,0\nOK"
    assert listed(session, line)["latest_test"]["id"] == request["id"]


def test_a_line_disabled_in_the_configuration_file_has_no_controls(
    api_session: Callable[..., ApiSession],
    server: LiveServer,
    service_state: Callable[[dict[str, Any]], None],
) -> None:
    name = line_name("cfg")
    service_state({"lines": [{"name": name, "port": "/dev/ttyUSB9", "enabled": False}]})
    session = api_session(Role.TECHNICIAN, language="en")
    entry = listed(session, name)
    assert entry["disabled_in_config"] is True and entry["state"] is None
    assert put_enabled(session, name, True).status_code == 409
    assert post_test(session, name, "AT").json()["detail"] == "error.line_disabled_in_config"
    page = session.client.get("/lines").text
    assert "Disabled in the configuration file" in page
    assert f'action="/lines/{name}/enable"' not in page


# ------------------------------------------------------------------ the page (no browser)


def test_modem_text_is_escaped_on_the_page(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    markup = "<script>alert(1)</script>"
    healthy(server, line, last_error=markup, model='<img src=x onerror="alert(2)">')
    page = api_session(Role.TECHNICIAN, language="en").client.get("/lines")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert markup not in page.text and "<img src=x" not in page.text
    # One percent format on every page (`65%`), and `-73 dBm` never split over two lines.
    assert "65% (-73\u00a0dBm, CSQ\u00a020)" in page.text
    assert "Registered (home network)" in page.text


def test_a_degraded_line_says_what_it_cannot_do(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    healthy(server, line, degraded="no_caller_id,no_key_detection")
    session = api_session(Role.TECHNICIAN, language="en")
    assert listed(session, line)["degraded"] == ["no_caller_id", "no_key_detection"]
    page = session.client.get("/lines")
    assert "Degraded: no caller ID, keys not detected" in page.text


def test_the_page_forms_disable_and_test_a_line(
    api_session: Callable[..., ApiSession], server: LiveServer, lines: Callable[[], str]
) -> None:
    line = lines()
    healthy(server, line)
    session = api_session(Role.TECHNICIAN, language="en")

    def play_the_service() -> None:  # answers the form's test while it waits
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with database(server) as conn:
                row = conn.execute(
                    "SELECT id FROM line_requests WHERE line = ? AND done_ts IS NULL", [line]
                ).fetchone()
            if row is not None:
                answer_request(server, int(row["id"]), "ok", '+COPS: 0,0,"<b>TSEL</b>",7\nOK')
                return
            time.sleep(0.05)

    service = threading.Thread(target=play_the_service)
    service.start()
    started = time.monotonic()
    answer = session.client.post(
        f"/lines/{line}/test", data={"command": "AT+COPS?", "csrf_token": session.csrf}
    )
    service.join()
    assert answer.status_code == 303 and answer.headers["location"] == f"/lines#line-{line}"
    assert time.monotonic() - started < 4.0  # it returned once answered, not at the limit
    page = session.client.get("/lines").text
    assert "+COPS: 0,0,&#34;&lt;b&gt;TSEL&lt;/b&gt;&#34;,7" in page

    refused = session.client.post(
        f"/lines/{line}/test", data={"command": "ATD112;", "csrf_token": session.csrf}
    )
    assert refused.status_code == 422 and "not on the test list" in refused.text

    answer = session.client.post(f"/lines/{line}/disable", data={"csrf_token": session.csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/lines?done=done.line_disabled#line-{line}"
    page = session.client.get(answer.headers["location"]).text
    assert "Line disabled." in page and "Waiting for the line service" in page
    row = admin_row(server, line)
    assert row is not None and row["enabled"] == 0


# ------------------------------------------------------------------ the real thing


def _centre_config() -> Config:
    spare = {"name": SPARE_LINE, "port": "/dev/null", "enabled": False}
    return Config.model_validate({"site": {"language": "en"}, "lines": [spare]})


@pytest.fixture
def lines_centre(server: LiveServer) -> Iterator[RealCentre]:
    """The line service runs `E2E_LINE`; afterwards its rows are removed and the
    service's row is put back as it was."""
    with database(server) as conn:
        saved = conn.execute("SELECT * FROM service_state WHERE id = 1").fetchone()
    kept = dict(saved) if saved is not None else None
    # The line admin polls every 0.4 s at a desk poll of 0.1 s.
    try:
        with running_centre(server, _centre_config(), line=E2E_LINE, desk_poll_s=0.1) as centre:
            yield centre
    finally:
        remove_line(server, E2E_LINE)
        with database(server) as conn:
            conn.execute("DELETE FROM line_admin WHERE line = ?", [E2E_LINE])
        _restore_service_state(server, kept)


def line_card(driver: webdriver.Chrome, line: str, state: str) -> WebElement:
    """The line's card once it shows `state`, reloading the page until it does."""

    def shown(d: webdriver.Chrome) -> WebElement | None:
        found = d.find_elements(By.CSS_SELECTOR, f'.line-admin[data-line="{line}"]')
        if found and found[0].get_attribute("data-state") == state:
            return found[0]
        time.sleep(0.2)
        d.refresh()
        return None

    element = WebDriverWait(
        driver, STEP_S, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
    ).until(shown)  # the page may be replaced between finding the card and reading it
    assert element is not None
    return element


def test_a_technician_tests_disables_and_enables_a_real_line(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    lines_centre: RealCentre,
    screenshot: Shot,
) -> None:
    technician = make_user(Role.TECHNICIAN, language="en")
    browser_login(browser, server, technician)
    browser.get(server.url + "/lines")
    card = line_card(browser, E2E_LINE, "idle")
    assert card.find_element(By.CSS_SELECTOR, ".family").text == "sim7600"
    assert card.find_element(By.CSS_SELECTOR, ".imei").text == lines_centre.modem.imei
    spare = browser.find_element(By.CSS_SELECTOR, f'.line-admin[data-line="{SPARE_LINE}"]')
    assert "Disabled in the configuration file" in spare.text

    Select(card.find_element(By.CSS_SELECTOR, "select[name=command]")).select_by_value("AT+CSQ")
    card.find_element(By.CSS_SELECTOR, "button.send-test").click()
    answer = WebDriverWait(
        browser, STEP_S, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
    ).until(lambda d: d.find_element(By.CSS_SELECTOR, f"#line-{E2E_LINE} pre.at-answer"))
    assert answer.text == f"+CSQ: {lines_centre.modem.signal},0\nOK"
    assert "OK" in browser.find_element(By.CSS_SELECTOR, f"#line-{E2E_LINE} .test-result").text
    assert_no_alert(browser)
    screenshot("at-test")

    browser.find_element(By.CSS_SELECTOR, f"#line-{E2E_LINE} button.disable").click()
    card = line_card(browser, E2E_LINE, "disabled")
    assert "Disabled" in card.find_element(By.CSS_SELECTOR, ".state").text
    assert lines_centre.service.lines[E2E_LINE].channel is None  # the port is free
    screenshot("disabled")

    card.find_element(By.CSS_SELECTOR, "button.enable").click()
    card = line_card(browser, E2E_LINE, "idle")
    assert card.find_elements(By.CSS_SELECTOR, "button.disable")
    actions = [row["action"] for row in audit_rows(server, technician.username, "lines.")]
    assert actions == ["lines.at_test", "lines.disable", "lines.enable"]
