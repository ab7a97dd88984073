"""The lines page's lines applied by the real line service, over HTTP, on virtual modems.

The real `LineService` (with `lines_from_database`, as `siaga run` has it) runs on the
live server's database in a thread of its own, on SIM7600 virtual modems over real
pseudo-terminals; a technician changes the lines through the real web app's API. A line
added on the page comes up, answers an AT test and screens a call; a line removed while
another holds a call stops without touching that call; a line edited while it holds a
call restarts only once the call has ended.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from appliance.clock import SystemClock
from appliance.config import Config
from appliance.service import LineService
from appliance.store import CallLog, RuleStore
from firmware.virtual_modem import VirtualCall, VirtualModem
from tests.web_ui.conftest import Account, ApiSession, LiveServer, browser_login, wait_for
from tests.web_ui.line_service import audit_rows, database, line_name, wait_until
from tests.web_ui.screening_helpers import clear_lines
from tests.web_ui.test_lines import line_card
from tests.web_ui.test_pages import assert_no_alert
from web_ui.users.service import Role

START_S = 15.0
STEP_S = 20.0  # real time on a shared machine
CALLER = "+6281234567890"


@dataclass
class Centre:
    """The line service and its modems on a loop in another thread."""

    loop: asyncio.AbstractEventLoop
    modems: dict[str, VirtualModem]
    service: LineService

    def call(self, action: Callable[[], Any]) -> Any:
        """Run `action` on the service's loop and return its result."""

        async def run() -> Any:
            return action()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)


@contextmanager
def running(server: LiveServer, first: str, second: str) -> Iterator[Centre]:
    """The service with `first` in its configuration file, and a second modem (`second`)
    that no line uses yet; stopped, its call log flushed, on leaving."""
    ready: Future[Centre] = Future()
    stop = threading.Event()

    async def main() -> None:
        modems = {name: VirtualModem("sim7600", name=name) for name in (first, second)}
        for modem in modems.values():
            await modem.start()
        line = {"name": first, "port": modems[first].port, "family": "sim7600", "desk": "desk1"}
        config = Config.model_validate(
            {"site": {"language": "en"}, "lines": [line], "policy": {"challenge_unknown": False}}
        )
        call_log = CallLog(server.db_path, timezone=config.site.timezone)
        call_log.open()
        service = LineService(
            config,
            call_log=call_log,
            rule_store=RuleStore(server.db_path, timezone=config.site.timezone),
            clock=SystemClock(),
            desk_poll_s=0.1,  # the line admin polls every 0.4 s
            board=None,
            lines_from_database=True,
        )
        service.prepare()
        runner = asyncio.create_task(service.run())
        ready.set_result(Centre(asyncio.get_running_loop(), modems, service))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        service.stop()
        await runner
        for modem in modems.values():
            modem.close()
        call_log.flush(5.0)
        call_log.close()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=START_S)
    finally:
        stop.set()
        thread.join(timeout=START_S)


@pytest.fixture
def names(server: LiveServer) -> Iterator[tuple[str, str]]:
    """Two line names; afterwards no page lines, status rows or service row of theirs."""
    with database(server) as conn:
        saved = conn.execute("SELECT * FROM service_state WHERE id = 1").fetchone()
    kept = dict(saved) if saved is not None else None
    clear_lines(server)
    made = (line_name("live-a"), line_name("live-b"))
    yield made
    clear_lines(server)
    with database(server) as conn:
        conn.execute("DELETE FROM line_status WHERE line IN (?, ?)", made)
        conn.execute("DELETE FROM service_state WHERE id = 1")
        if kept is not None:
            columns = list(kept)
            conn.execute(
                f"INSERT INTO service_state ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [kept[column] for column in columns],
            )


def state(server: LiveServer, line: str) -> str | None:
    with database(server) as conn:
        row = conn.execute("SELECT state FROM line_status WHERE line = ?", [line]).fetchone()
    return None if row is None else str(row["state"])


def status(server: LiveServer, line: str) -> dict[str, Any]:
    with database(server) as conn:
        row = conn.execute("SELECT * FROM line_status WHERE line = ?", [line]).fetchone()
    return dict(row) if row is not None else {}


def calls_on(server: LiveServer, line: str) -> list[dict[str, Any]]:
    with database(server) as conn:
        rows = conn.execute("SELECT * FROM calls WHERE line = ? ORDER BY id", [line]).fetchall()
    return [dict(row) for row in rows]


def events(server: LiveServer, kind: str, line: str) -> list[dict[str, Any]]:
    with database(server) as conn:
        rows = conn.execute(
            "SELECT * FROM events WHERE kind = ? AND line = ? ORDER BY id", [kind, line]
        ).fetchall()
    return [dict(row) for row in rows]


def applied(session: ApiSession) -> dict[str, Any]:
    answer = session.client.get("/api/lines/config")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_lines_added_edited_and_removed_on_the_page_never_cut_a_call(
    server: LiveServer, api_session: Callable[..., ApiSession], names: tuple[str, str]
) -> None:
    first, second = names
    with running(server, first, second) as centre:
        session = api_session(Role.TECHNICIAN, language="en")
        wait_until(lambda: state(server, first) == "idle", STEP_S)
        wait_until(lambda: applied(session)["applied"] == "applied", STEP_S)
        assert applied(session)["source"] == "file"

        # A technician adds a line on the second modem: it comes up and is tested.
        port = centre.modems[second].port
        added = session.client.post(
            "/api/lines",
            json={"name": second, "port": port, "family": "sim7600", "desk": "desk2"},
            headers=session.headers(),
        )
        assert added.status_code == 201, added.text
        wait_until(lambda: state(server, second) == "idle", STEP_S)
        view = applied(session)
        assert view["source"] == "database" and view["applied"] == "applied"
        test = session.client.post(
            f"/api/lines/{second}/test", json={"command": "AT+CGSN"}, headers=session.headers()
        )
        assert test.status_code == 201, test.text
        done = wait_until(
            lambda: (
                session.client.get(f"/api/lines/requests/{test.json()['id']}").json()
                if session.client.get(f"/api/lines/requests/{test.json()['id']}").json()["result"]
                else None
            ),
            STEP_S,
        )
        assert done["result"] == "ok" and centre.modems[second].imei in done["answer"]

        # A call on the new line is screened and logged.
        call: VirtualCall = centre.call(lambda: centre.modems[second].incoming_call(CALLER))
        wait_until(lambda: state(server, second) == "operator_ringing", STEP_S)
        centre.call(lambda: centre.modems[second].caller_hangs_up(call))
        row = wait_until(lambda: [r for r in calls_on(server, second) if r["ended_ts"]], STEP_S)[0]
        assert (row["caller"], row["decision"]) == (CALLER, "pass")

        # The first line takes a call; editing it waits, removing the second line does not
        # touch that call.
        held: VirtualCall = centre.call(lambda: centre.modems[first].incoming_call(CALLER))
        wait_until(lambda: state(server, first) == "operator_ringing", STEP_S)
        edited = session.client.put(
            f"/api/lines/{first}",
            json={"port": centre.modems[first].port, "family": "sim7600", "desk": "desk9"},
            headers=session.headers(),
        )
        assert edited.status_code == 200, edited.text
        wait_until(lambda: applied(session)["waiting"] == [first], STEP_S)
        assert applied(session)["applied"] == "waiting"
        removed = session.client.delete(f"/api/lines/{second}", headers=session.headers())
        assert removed.status_code == 200, removed.text
        wait_until(lambda: state(server, second) is None, STEP_S)  # its row is gone
        assert second not in centre.service.lines
        assert events(server, "line_removed", second)
        assert state(server, first) == "operator_ringing" and status(server, first)["desk"] == (
            "desk1"
        )
        assert held.live and held.release is None  # the call was never touched

        # Once the caller hangs up, the edited line restarts (only it) with its new desk.
        centre.call(lambda: centre.modems[first].caller_hangs_up(held))
        wait_until(lambda: events(server, "line_restarting", first), STEP_S)
        wait_until(lambda: status(server, first).get("desk") == "desk9", STEP_S)
        wait_until(lambda: state(server, first) == "idle", STEP_S)
        ended = [r for r in calls_on(server, first) if r["ended_ts"]]
        assert [r["end_cause"] for r in ended] == ["caller_hung_up"]
        wait_until(lambda: applied(session)["applied"] == "applied", STEP_S)
        changes = [json.loads(e["detail"]) for e in _all_events(server, "lines_change")]
        assert changes[-1]["lines"] == [first] and changes[-1]["waiting"] == []


def _all_events(server: LiveServer, kind: str) -> list[dict[str, Any]]:
    with database(server) as conn:
        rows = conn.execute("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind]).fetchall()
    return [dict(row) for row in rows]


# ------------------------------------------------------------------ in the browser


def test_a_technician_adds_a_line_in_the_browser_and_it_comes_up(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    names: tuple[str, str],
    screenshot: Callable[[str], Path],
) -> None:
    first, second = names
    technician = make_user(Role.TECHNICIAN, language="en")
    with running(server, first, second) as centre:
        browser_login(browser, server, technician)
        browser.get(server.url + "/lines")
        line_card(browser, first, "idle")
        source = browser.find_element(By.ID, "lines-source")
        assert source.get_attribute("data-source") == "file"
        browser.find_element(By.CSS_SELECTOR, "a.add-line").click()
        wait_for(browser, "#line-form")
        offered = [
            option.get_attribute("value")
            for option in browser.find_elements(By.CSS_SELECTOR, "#slot-ports option")
        ]
        assert "/dev/siaga/line1" in offered  # the USB slots' stable names

        browser.find_element(By.ID, "field-name").send_keys(second)
        browser.find_element(By.ID, "field-port").send_keys(centre.modems[second].port)
        Select(browser.find_element(By.ID, "field-family")).select_by_value("sim7600")
        browser.find_element(By.ID, "field-desk").send_keys("desk2")
        browser.find_element(By.ID, "field-imei").send_keys("12345")  # not 15 digits
        browser.find_element(By.CSS_SELECTOR, "button.save-line").click()
        wait_for(browser, "#error-summary")
        summary = browser.find_element(By.ID, "error-summary").text
        assert "Expected IMEI" in summary and "pattern" in summary
        assert browser.find_element(By.ID, "field-desk").get_attribute("value") == "desk2"
        assert browser.find_element(By.ID, "field-imei").get_attribute("aria-invalid") == "true"
        screenshot("refused")

        browser.find_element(By.ID, "field-imei").clear()
        browser.find_element(By.CSS_SELECTOR, "button.save-line").click()
        wait_for(browser, "#done")
        card = line_card(browser, second, "idle")
        assert card.find_element(By.CSS_SELECTOR, ".port").text == centre.modems[second].port
        assert "this page" in card.find_element(By.CSS_SELECTOR, ".origin").text
        assert browser.find_element(By.ID, "lines-source").get_attribute("data-source") == (
            "database"
        )
        assert browser.find_elements(By.CSS_SELECTOR, f'.overridden-line[data-line="{first}"]')
        assert_no_alert(browser)
        screenshot("added")
    actions = [row["action"] for row in audit_rows(server, technician.username, "lines.")]
    assert actions == ["lines.add"]
