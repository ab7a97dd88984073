"""The console's chime: an operator at 3 a.m. hears that a call waits for them.

In Chromium, with the page's Web Audio calls counted (a script run before the page's own
wraps `AudioContext.createOscillator`; the sound itself goes to Chromium's null output):
silent until the operator turns the chime on, then two tones every few seconds while a
call waits, none once it is answered, and the choice kept across a reload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.web_ui.conftest import Account, LiveServer
from tests.web_ui.line_service import add_call, line_name, remove_line, service_beating, set_line
from tests.web_ui.test_console_pages import card, open_console
from web_ui.users.service import Role

COUNT_TONES = """
window.__tones = 0;
const makeTone = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__tones += 1;
  return makeTone.call(this);
};
"""
NUMBER = "+6281234567890"


@pytest.fixture
def counted(browser: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The browser, counting the tones pages make; the chime's choice forgotten after."""
    added = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_TONES}
    )
    yield browser
    browser.execute_cdp_cmd(
        "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
    )
    browser.execute_script("window.localStorage.removeItem('siaga.console.chime')")


@pytest.fixture
def line(server: LiveServer) -> Iterator[str]:
    name = line_name("chime")
    yield name
    remove_line(server, name)


def tones(driver: webdriver.Chrome) -> int:
    return int(driver.execute_script("return window.__tones || 0"))


def test_the_console_chimes_while_a_call_waits_once_the_operator_turns_it_on(
    counted: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    line: str,
) -> None:
    browser = counted
    with service_beating(server):
        set_line(server, line, "idle")
        open_console(browser, server, make_user(Role.OPERATOR))
        toggle = browser.find_element(By.ID, "chime-toggle")
        assert toggle.text == "Bunyi: mati"

        call_id = add_call(server, line, NUMBER, time.time())
        waiting = {"call_id": call_id, "caller": NUMBER, "caller_raw": "081234567890",
                   "number_class": "number", "decision": "challenge", "reason": "no_history",
                   "waiting_since_ts": time.time()}  # fmt: skip
        set_line(server, line, "operator_ringing", **waiting)
        card(browser, line, "operator_ringing")
        time.sleep(1.5)
        assert tones(browser) == 0  # off: the page makes no sound

        toggle.click()
        assert toggle.text == "Bunyi: nyala"
        assert toggle.get_attribute("aria-pressed") == "true"
        WebDriverWait(browser, 3).until(lambda d: tones(d) >= 2)  # a chime is two tones
        WebDriverWait(browser, 10).until(lambda d: tones(d) >= 4)  # and again while it waits

        set_line(server, line, "connected", **waiting)  # an operator answered
        card(browser, line, "connected")
        settled = tones(browser)
        time.sleep(5.0)
        assert tones(browser) == settled

        browser.refresh()
        WebDriverWait(browser, 5).until(
            lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live"
        )
        assert browser.find_element(By.ID, "chime-toggle").text == "Bunyi: nyala"
