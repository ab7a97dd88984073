"""The console against the real line service: a call from a virtual modem, end to end.

Two halves that meet only in the database, as on the box: the real `LineService` runs
one SIM7600 line on a virtual modem over a real pseudo-terminal, in real time in a thread
of its own (the process boundary is the database, not the thread), and the real web UI
serves a real Chromium. A caller rings and presses 5; the operator watches the call
arrive, answers it on the console, records a verdict by key and hangs up; the verdict
reaches the call log and the policy; a supervisor then finds the call in the call log
and counts it in today's report.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from appliance.config import Config
from firmware.virtual_modem import CallerSound
from tests.web_ui.conftest import Account, ApiSession, LiveServer, browser_login
from tests.web_ui.real_centre import RealCentre, running_centre
from tests.web_ui.test_console_pages import card, open_console, press
from web_ui.console.service import disposition_choices
from web_ui.users.service import Role

LINE = "e2e1"
CALLER = "081299990001"
PROMPT_S = 1.0
STEP_S = 15.0  # each step waits at most this long (real time, a shared machine)


def _config() -> Config:
    config = Config.model_validate({"site": {"language": "en"}})
    short = {
        f"{name}_seconds": PROMPT_S
        for name in ("challenge", "connecting", "announce", "goodbye", "reported")
    }
    prompts = {"en": config.prompts["en"].model_copy(update=short)}
    challenge = config.challenge.model_copy(update={"wait_after_prompt_s": 2.0})
    return config.model_copy(update={"prompts": prompts, "challenge": challenge})


@pytest.fixture
def centre(server: LiveServer) -> Iterator[RealCentre]:
    """The line service on one SIM7600 line that hears the caller."""
    with running_centre(server, _config(), line=LINE, listen=True) as centre:
        yield centre


def _call_row(server: LiveServer, call_id: int) -> dict[str, Any]:
    conn = sqlite3.connect(server.db_path, timeout=5.0)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        return dict(row) if row is not None else {}
    finally:
        conn.close()


def today(zone: ZoneInfo) -> str:
    """Today's local date, YYYY-MM-DD."""
    return datetime.now(zone).date().isoformat()


def today_figures(session: ApiSession, zone: ZoneInfo) -> dict[str, float]:
    """Today's report totals, as the report API gives them."""
    day = today(zone)
    answer = session.client.get("/api/reports", params={"since": day, "until": day})
    assert answer.status_code == 200, answer.text
    figures: dict[str, float] = answer.json()["totals"]["figures"]
    return figures


def test_a_real_call_is_answered_recorded_and_ended_from_the_console(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    api_session: Callable[..., ApiSession],
    screenshot: Callable[[str], Path],
    centre: RealCentre,
) -> None:
    before = today_figures(api_session(Role.SUPERVISOR), server.settings.zone)
    operator = make_user(Role.OPERATOR, language="en")
    open_console(browser, server, operator)
    card(browser, LINE, "idle", timeout_s=STEP_S)  # the line came up and said so

    centre.do(lambda: centre.modem.incoming_call(CALLER, sound=CallerSound("voice")))
    card(browser, LINE, "challenging", timeout_s=STEP_S)
    centre.do(lambda: centre.modem.caller_presses("5"))
    waiting = card(browser, LINE, "operator_ringing", timeout_s=STEP_S)
    assert "081299990001" in waiting.text and "+6281299990001" in waiting.text

    waiting.find_element(By.CSS_SELECTOR, "button.answer").click()
    card(browser, LINE, "connected", timeout_s=STEP_S)
    line = centre.service.lines[LINE]
    call = line.call
    assert call is not None and call.operator == operator.username
    call_id = call.call_id

    fire = next(choice for choice in disposition_choices() if choice.value == "genuine:fire")
    assert fire.key is not None
    press(browser, fire.key)
    WebDriverWait(browser, STEP_S, poll_frequency=0.1).until(
        lambda _: _call_row(server, call_id).get("disposition") == "genuine:fire"
    )
    press(browser, "h")
    card(browser, LINE, "idle", timeout_s=STEP_S)

    row = _call_row(server, call_id)
    assert row["reached_operator"] == 1 and row["operator"] == operator.username
    assert row["challenge_result"] == "passed" and row["ended_at"] is not None
    assert row["end_cause"] == "operator_hung_up"
    # The verdict reached the policy: this number is immune from screening now.
    assert centre.service.policy.has_good_history("+6281299990001", row["ended_ts"] + 1)
    screenshot("console")

    # A supervisor finds the call in the call log and counts it in today's report.
    browser.find_element(By.ID, "logout").click()
    browser_login(browser, server, make_user(Role.SUPERVISOR, language="en"))
    browser.get(f"{server.url}/calls?number={CALLER}")
    shown = browser.find_element(By.ID, f"call-{call_id}")
    for words in ("081299990001", "Fire", "operator hung up", operator.username):
        assert words in shown.text, (words, shown.text)
    screenshot("call-log")
    day = today(server.settings.zone)
    browser.get(f"{server.url}/reports?since={day}&until={day}")
    totals = browser.find_element(By.ID, "category-totals")  # the centre's categories
    shown_fire = totals.find_element(By.CSS_SELECTOR, 'td[data-column="valid_fire"]').text
    assert int(shown_fire) == before.get("valid_fire", 0) + 1
    assert int(browser.find_element(By.ID, "total-valid").text) == before["valid"] + 1
    screenshot("report")
