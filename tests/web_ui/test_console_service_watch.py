"""The console when the line service dies, or never ran, or the web server goes away.

Before: after `kill -9` of the line service the console still said "Live"
and every line "Ready". Here a real line service runs in a process of its own
(`tests/web_ui/line_service_process.py`, one SIM7600 virtual modem) on a database of the
test's own, with the real web UI and a real Chromium: the test kills the process with
SIGKILL, waits for the banner that tells the operator to answer on the desk phones, sees
the line shown as not reported, then starts a service again and sees the banner go.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.web_ui.conftest import LiveServer, browser_login, serve
from tests.web_ui.line_service import database
from tests.web_ui.line_service_process import started_service
from tests.web_ui.own_server import add_account
from web_ui.users.service import Role

Shot = Callable[[str], Path]
LINE = "watch1"
# A killed service is seen at the stream's next refresh (at most 5 s): the web process is
# in its PID namespace and asks for the process at each look; a shared, busy machine adds
# to that. (A service in another namespace waits until its heartbeat is 15 s old.)
DEAD_SEEN_S = 10.0
BACK_SEEN_S = 20.0


@pytest.fixture
def own(tmp_path: Path) -> Iterator[LiveServer]:
    """A web UI on a database no other test shares (the service's row is the test's)."""
    with serve(tmp_path / "watch.db", login_throttle_failures=10**6) as live:
        yield live


def open_console(driver: webdriver.Chrome, server: LiveServer, language: str) -> None:
    """Log a new operator in and open the console, its stream live."""
    browser_login(driver, server, add_account(server, Role.OPERATOR, language=language))
    if not driver.current_url.endswith("/console"):
        driver.get(server.url + "/console")
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live"
    )


def visible(driver: webdriver.Chrome, element_id: str, timeout_s: float) -> WebElement:
    """The element once it is shown."""
    found: WebElement = WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(
        lambda d: (node := d.find_element(By.ID, element_id)).is_displayed() and node
    )
    return found


def hidden(driver: webdriver.Chrome, element_id: str, timeout_s: float) -> None:
    """Wait until the element is not shown."""
    WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(
        lambda d: not d.find_element(By.ID, element_id).is_displayed()
    )


def card_state(driver: webdriver.Chrome, state: str, timeout_s: float) -> WebElement:
    """`LINE`'s card once it shows `state` (`not_reported` while the service is dead)."""
    css = f'.line-card[data-line="{LINE}"][data-state="{state}"]'
    found: WebElement = WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css)
    )
    return found


def test_a_killed_line_service_is_shown_at_once_and_its_return_too(
    browser: webdriver.Chrome, own: LiveServer, screenshot: Shot
) -> None:
    with started_service(own.db_path, LINE) as first:
        open_console(browser, own, "id")
        card_state(browser, "idle", BACK_SEEN_S)
        badge = browser.find_element(By.ID, "live")
        assert badge.text == "Langsung" and badge.get_attribute("data-service") == "running"
        assert not browser.find_element(By.ID, "service-alert").is_displayed()

        os.kill(first.pid, signal.SIGKILL)  # a crash: no goodbye, the heartbeat just stops
        first.wait(timeout=10)
        alert = visible(browser, "service-alert", DEAD_SEEN_S)
        text = alert.text
        assert "BERHENTI" in text and "telepon meja" in text and "teknisi" in text, text
        line = card_state(browser, "not_reported", 2.0)
        assert "Tidak diketahui (tidak dilaporkan)" in line.text
        assert "Siap" not in line.text
        assert badge.text == "Layanan saluran berhenti"
        assert badge.get_attribute("data-service") == "down"
        screenshot("killed")

    with started_service(own.db_path, LINE):
        hidden(browser, "service-alert", BACK_SEEN_S)
        card_state(browser, "idle", BACK_SEEN_S)
        assert browser.find_element(By.ID, "live").text == "Langsung"
        screenshot("back")


def test_a_service_that_never_ran_is_said_in_english_and_lines_are_not_reported(
    browser: webdriver.Chrome, own: LiveServer
) -> None:
    now = time.time()
    with database(own) as conn:  # a line the service reported, before it was stopped long ago
        conn.execute(
            "INSERT INTO line_status (line, state, since_ts, updated_ts, unverified)"
            " VALUES (?, 'idle', ?, ?, 0)",
            [LINE, now - 3600, now - 3600],
        )
    open_console(browser, own, "en")
    alert = visible(browser, "service-alert", 5.0)
    assert "has never run" in alert.text and "desk phones" in alert.text, alert.text
    assert "Unknown (not reported)" in card_state(browser, "not_reported", 2.0).text
    assert browser.find_element(By.ID, "live").text == "Line service stopped"


def test_an_unreachable_web_server_is_shown(browser: webdriver.Chrome, tmp_path: Path) -> None:
    with serve(tmp_path / "gone.db", login_throttle_failures=10**6) as gone:
        open_console(browser, gone, "en")
        assert not browser.find_element(By.ID, "server-alert").is_displayed()
    # The server is stopped: the stream ends and every reconnection is refused.
    alert = visible(browser, "server-alert", 70.0)
    assert "cannot reach the Siaga server" in alert.text and "desk phones" in alert.text
    assert browser.find_element(By.ID, "live").get_attribute("data-state") == "reconnecting"
