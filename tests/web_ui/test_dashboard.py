"""The dashboard: today's figures, alarms, flood mode, the line service, line health.

The module runs its own web UI on its own database (`own_server`): the dashboard counts
every call of the day, and the shared server's database holds other tests' calls of
today. The tests write `calls`, `events`, `line_status` and `service_state` rows as the
line service does; the web process only reads them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from selenium import webdriver
from selenium.webdriver.common.by import By

from appliance.store.db import iso_at
from tests.web_ui.conftest import ApiSession, LiveServer, browser_login, serve, wait_for
from tests.web_ui.line_service import ZONE, add_calls, call_row, database, line_name, set_line
from tests.web_ui.own_server import add_account, logged_in
from web_ui.core import db as web_db
from web_ui.home import service as dashboard
from web_ui.system import service as system
from web_ui.users.service import Role

MARKUP = "<script>alert('xss')</script>"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A web UI on a database only this module writes."""
    with serve(tmp_path_factory.mktemp("dashboard") / "siaga.db") as server:
        yield server


def midnight() -> float:
    """Today's local midnight (WIB) in POSIX seconds."""
    return dashboard.today_range(time.time(), ZONE)[1]


def add_event(server: LiveServer, kind: str, ts: float, detail: dict[str, Any], **row: Any) -> None:
    """An `events` row as the call log writes one."""
    with database(server) as conn:
        conn.execute(
            "INSERT INTO events (at, ts, kind, line, detail) VALUES (?, ?, ?, ?, ?)",
            [iso_at(ts, ZONE), ts, kind, row.get("line"), json.dumps(detail)],
        )


def set_service(server: LiveServer, **fields: Any) -> None:
    """Replace the line service's `service_state` row."""
    now = time.time()
    row: dict[str, Any] = {
        "id": 1,
        "pid": 4242,
        "version": "9.9.9",
        "started_ts": now - 7200,
        "flood_active": 0,
        "heartbeat_ts": now - 3,
        "updated_ts": now,
    }
    row.update(fields)
    with database(server) as conn:
        conn.execute(
            f"INSERT OR REPLACE INTO service_state ({', '.join(row)})"
            f" VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )


def page_text(session: ApiSession, path: str = "/") -> str:
    answer = session.client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.text


def element(page: str, element_id: str) -> str:
    """The text between an element's tags (no nested markup expected)."""
    start = page.index(f'id="{element_id}"')
    opening_end = page.index(">", start) + 1
    return page[opening_end : page.index("<", opening_end)].strip()


@pytest.fixture(scope="module")
def today_calls(own: LiveServer) -> dict[str, int]:
    """Six calls today and one yesterday evening, on a line of their own."""
    line = line_name("dash")
    start = midnight()
    specs = [
        ("genuine:fire", "pass", "default", 1),
        ("prank", "challenge", "throttle", 1),
        (None, "challenge", "throttle", 0),
        (None, "reject", "blocklist", 0),
        ("ghost", "pass", "default", 1),
        ("prank", "announce", "abuse", 0),
    ]
    rows = [
        call_row(
            line,
            f"08135550{n:04d}",
            start + 60.0 * (n + 1),
            disposition=disposition,
            decision=decision,
            reason=reason,
            reached_operator=reached,
        )
        for n, (disposition, decision, reason, reached) in enumerate(specs)
    ]
    # 23:59 yesterday, local time: not today's.
    rows.append(
        call_row(
            line,
            "081355509999",
            start - 60.0,
            disposition="prank",
            decision="challenge",
            reason="throttle",
            reached_operator=1,
        )
    )
    add_calls(own, rows)
    return {"calls": 6, "screened": 4}


def test_todays_figures_leave_out_yesterday(own: LiveServer, today_calls: dict[str, int]) -> None:
    session = logged_in(own, Role.SUPERVISOR)
    answer = session.client.get("/api/dashboard")
    assert answer.status_code == 200, answer.text
    today = answer.json()["today"]
    assert today["since_at"].endswith("T00:00:00+07:00")
    assert (today["calls"], today["screened"], today["screened_pct"]) == (6, 4, 66.7)
    assert today["screened_by_reason"] == {"throttle": 2, "abuse": 1, "blocklist": 1}
    assert (today["reached_operator"], today["genuine"]) == (3, 1)
    # The centre's categories, as on the reports page: the call Siaga refused for its
    # block rule is a prank there too; the prank + ghost share is over every call.
    assert (today["prank"], today["ghost"], today["junk_share_pct"]) == (3, 1, 66.7)
    page = page_text(session)
    assert element(page, "today-calls") == "6"
    assert element(page, "today-screened") == "4"
    assert element(page, "today-reached") == "3"
    assert 'data-reason="throttle"' in page and "panggilan berulang" in page


def test_the_share_is_written_the_way_each_language_writes_numbers(
    own: LiveServer, today_calls: dict[str, int]
) -> None:
    indonesian = logged_in(own, Role.SUPERVISOR, language="id")
    english = logged_in(own, Role.TECHNICIAN, language="en")
    assert element(page_text(indonesian), "today-share") == "66,7%"
    assert element(page_text(english), "today-share") == "66.7%"
    assert element(page_text(indonesian), "today-junk-share") == "66,7%"
    assert dashboard.format_percent(1234.5, "id") == "1.234,5%"
    assert dashboard.format_count(12345, "id") == "12.345"
    assert dashboard.format_count(12345, "en") == "12,345"


def test_flood_mode_and_the_running_service_come_from_service_state(own: LiveServer) -> None:
    since = time.time() - 600
    set_service(own, flood_active=1, flood_since_ts=since, flood_reason=f"lines saturated {MARKUP}")
    session = logged_in(own, Role.TECHNICIAN, language="en")
    state = session.client.get("/api/dashboard").json()
    assert state["service"]["running"] is True
    assert state["service"]["version"] == "9.9.9"
    assert 7190 < state["service"]["uptime_s"] < 7300
    assert state["flood"]["active"] is True
    assert state["flood"]["reason"] == f"lines saturated {MARKUP}"
    assert state["flood"]["as_last_reported"] is False
    page = page_text(session)
    assert 'id="flood-status" data-active="1"' in page
    assert 'id="service-status" data-running="1"' in page
    assert element(page, "flood-reason") == str(escape(f"lines saturated {MARKUP}"))
    assert element(page, "service-uptime") == "2 h 0 min"
    set_service(own, flood_active=0)
    assert 'id="flood-status" data-active="0"' in page_text(session)


def test_a_stale_heartbeat_means_not_running(own: LiveServer) -> None:
    set_service(own, heartbeat_ts=time.time() - 45, flood_active=1, flood_reason="lines busy")
    session = logged_in(own, Role.SUPERVISOR, language="en")
    state = session.client.get("/api/dashboard").json()
    assert state["service"]["running"] is False
    assert state["service"]["uptime_s"] is None
    assert state["flood"]["as_last_reported"] is True
    page = page_text(session)
    assert 'id="service-status" data-running="0"' in page
    assert "No sign of life from the line service since" in page
    assert 'id="flood-stale"' in page
    set_service(own)


def test_alarms_are_the_alarm_kinds_of_the_last_day_newest_first(own: LiveServer) -> None:
    now = time.time()
    line = line_name("alarm")
    add_event(own, "alarm", now - 300, {"kind": "disk_low", "message": "150 MB free"})
    add_event(own, "modem_changed", now - 200, {"expected": "86", "found": MARKUP}, line=line)
    add_event(own, "supervisor_flag", now - 100, {"caller": MARKUP, "level": 3})
    missed = {"caller_raw": "081311112222", "caller": "+6281311112222", "rings": 3}
    add_event(own, "missed_call", now - 60, missed, line=line)
    add_event(own, "line_up", now - 50, {"family": "sim7600"}, line=line)  # not an alarm
    add_event(own, "flood_on", now - 90_000, {"reason": "old"})  # more than a day ago
    session = logged_in(own, Role.SUPERVISOR, language="en")
    alarms = session.client.get("/api/dashboard").json()["alarms"]
    mine = [alarm for alarm in alarms if alarm["ts"] >= now - 400]
    assert [alarm["alarm"] for alarm in mine] == [
        "missed_call", "supervisor_flag", "modem_changed", "disk_low"
    ]  # fmt: skip
    assert mine[3]["text"] == "150 MB free"
    assert mine[2]["line"] == line
    assert "081311112222" in mine[0]["text"]  # the number to call back
    assert all(alarm["kind"] != "flood_on" or alarm["ts"] > now - 86_400 for alarm in alarms)
    page = page_text(session)
    assert "Disk space low" in page and "Number flagged for a supervisor" in page
    assert "Missed call: the line was starting up" in page
    assert MARKUP not in page
    assert str(escape(MARKUP)) in page


def test_line_health_is_shown_escaped_with_signal_and_network(own: LiveServer) -> None:
    line = line_name("health")
    set_line(
        own,
        line,
        "idle",
        signal=7,
        registration="denied",
        model=MARKUP,
        imei=f"8612{MARKUP}",
        last_error=f"+CME ERROR: {MARKUP}",
    )
    session = logged_in(own, Role.SUPERVISOR, language="en")
    [health] = [
        row for row in session.client.get("/api/dashboard").json()["lines"] if row["line"] == line
    ]
    assert (health["signal"], health["signal_dbm"], health["signal_quality"]) == (7, -99, "weak")
    assert (health["registration"], health["registered"]) == ("denied", False)
    page = page_text(session)
    assert MARKUP not in page
    assert str(escape(f"+CME ERROR: {MARKUP}")) in page
    assert "registration denied" in page and "(SIM? coverage?)" in page
    assert "7/31 · -99&nbsp;dBm · weak" in page  # `-99 dBm` never split over two lines


def test_a_degraded_line_is_shown_as_such_in_both_languages(own: LiveServer) -> None:
    line = line_name("degraded")
    set_line(own, line, "idle", degraded="no_caller_id")
    session = logged_in(own, Role.SUPERVISOR, language="en")
    [health] = [
        row for row in session.client.get("/api/dashboard").json()["lines"] if row["line"] == line
    ]
    assert health["state"] == "idle" and health["degraded"] == ["no_caller_id"]
    assert "Degraded: no caller ID" in page_text(session)
    assert "Terganggu: tanpa ID penelepon" in page_text(logged_in(own, Role.SUPERVISOR))


def test_signal_words_follow_the_csq_scale() -> None:
    assert [dashboard.signal_quality(csq) for csq in (None, 0, 5, 12, 17, 25, 99)] == [
        "unknown",
        "none",
        "weak",
        "fair",
        "good",
        "excellent",
        "unknown",
    ]


def statements_of(work: Callable[[sqlite3.Connection], object], db_path: Path) -> list[str]:
    """Every SELECT `work` sends to the database, as SQLite ran it (parameters filled in)."""
    conn = web_db.connect(db_path, busy_timeout_s=5.0)
    sent: list[str] = []
    conn.set_trace_callback(sent.append)
    try:
        work(conn)
    finally:
        conn.set_trace_callback(None)
        conn.close()
    return [sql for sql in sent if sql.lstrip().upper().startswith("SELECT")]


def test_every_query_on_calls_and_events_uses_an_index(
    own: LiveServer, today_calls: dict[str, int]
) -> None:
    def work(conn: sqlite3.Connection) -> None:
        dashboard.build(conn, zone=ZONE, timezone="Asia/Jakarta", now_ts=time.time())
        system.recent_events(conn, ZONE, None)
        system.recent_events(conn, ZONE, "alarm")

    statements = statements_of(work, own.db_path)
    checked = 0
    with database(own) as conn:
        for sql in statements:
            plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            if " calls" in sql:
                assert "SCAN calls" not in plan, (sql, plan)
                assert "idx_calls_started_ts" in plan, (sql, plan)
                checked += 1
            if " events" in sql:
                assert "SCAN events" not in plan or "USING INDEX" in plan, (sql, plan)
                assert "idx_events_" in plan, (sql, plan)
                checked += 1
    assert checked >= 5


def test_the_dashboard_in_a_browser(
    browser: webdriver.Chrome,
    own: LiveServer,
    today_calls: dict[str, int],
    screenshot: Callable[[str], Path],
) -> None:
    set_service(own, flood_active=1, flood_since_ts=time.time() - 300, flood_reason="lines busy")
    set_line(own, line_name("ok"), "idle", signal=22, registration="home", model="SIM7600E-H")
    add_event(own, "recovery", time.time() - 30, {"step": "power_cycle", "outcome": MARKUP})
    user = add_account(own, Role.SUPERVISOR, display_name="Dewi")
    browser_login(browser, own, user)
    wait_for(browser, "#today-calls")
    assert browser.current_url == own.url + "/"
    assert browser.find_element(By.ID, "today-calls").text == "6"
    assert browser.find_element(By.ID, "today-share").text == "66,7%"
    assert browser.find_element(By.ID, "flood-status").text == "AKTIF"
    assert browser.find_elements(By.CSS_SELECTOR, "script[src='/static/refresh.js']")
    assert MARKUP in browser.find_element(By.ID, "alarms").text  # shown as text, never run
    assert not browser.find_elements(By.CSS_SELECTOR, "main script:not([src])")
    screenshot("dashboard")
    browser.execute_script("document.getElementById('lines-health').scrollIntoView()")
    screenshot("lines-and-alarms")
