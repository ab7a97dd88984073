"""The console against the real line service: a call from a virtual modem, end to end.

Two halves that meet only in the database, as on the box: the real `LineService` runs
one SIM7600 line on a virtual modem over a real pseudo-terminal, in real time in a thread
of its own (the process boundary is the database, not the thread), and the real web UI
serves a real Chromium. A caller rings and presses 5; the operator watches the call
arrive, answers it on the console, records a verdict by key and hangs up; the verdict
reaches the call log and the policy.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from appliance.clock import SystemClock
from appliance.config import Config, LineConfig
from appliance.service import LineService
from appliance.store import CallLog, RuleStore
from firmware.virtual_modem import CallerSound, VirtualModem
from tests.web_ui.conftest import Account, LiveServer
from tests.web_ui.test_console_pages import card, open_console, press
from web_ui.console import disposition_choices
from web_ui.users import Role

LINE = "e2e1"
CALLER = "081299990001"
PROMPT_S = 1.0
STEP_S = 15.0  # each step waits at most this long (real time, a shared machine)


@dataclass
class RealCentre:
    """The line service and its modem, running on a loop in another thread."""

    loop: asyncio.AbstractEventLoop
    modem: VirtualModem
    service: LineService

    def do(self, action: Callable[[], Any]) -> None:
        """Run `action` on the service's loop (the modem's network side is not threadsafe)."""
        self.loop.call_soon_threadsafe(action)


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
    ready: Future[RealCentre] = Future()
    stop = threading.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        modem = VirtualModem("sim7600", name=LINE)
        await modem.start()
        config = _config()
        call_log = CallLog(server.db_path, timezone=config.site.timezone)
        call_log.open()
        service = LineService(
            config,
            call_log=call_log,
            rule_store=RuleStore(server.db_path, timezone=config.site.timezone),
            clock=SystemClock(),
            lines=[LineConfig(name=LINE, port=modem.port, family="sim7600", desk="desk1",
                              voice_port=modem.voice_port)],
            desk_poll_s=0.1,
        )  # fmt: skip
        service.prepare()
        runner = asyncio.create_task(service.run())
        ready.set_result(RealCentre(loop, modem, service))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        service.stop()
        await runner
        modem.close()
        call_log.flush(5.0)
        call_log.close()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=STEP_S)
    finally:
        stop.set()
        thread.join(timeout=STEP_S)


def _call_row(server: LiveServer, call_id: int) -> dict[str, Any]:
    conn = sqlite3.connect(server.db_path, timeout=5.0)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        return dict(row) if row is not None else {}
    finally:
        conn.close()


def test_a_real_call_is_answered_recorded_and_ended_from_the_console(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    centre: RealCentre,
) -> None:
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
