"""A province hub's dashboard and flagged numbers, across sites and per site.

A web UI of its own on a hub's database made as `siaga hub` makes it: today's call records
of two sites through `store_call`, their boxes' events (alarms, numbers flagged for a
supervisor) as they arrive on `siaga.event.<site>.<box>` through `decode_event` and
`store_event`, and their call-back entries through `store_site_callback`. Read over HTTP
and in Chromium; an appliance's own database beside it shows that nothing changes there.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from appliance.cluster.hub import store_call, store_event
from appliance.cluster.messages import decode_event
from appliance.store.db import connect_writer, immediate
from appliance.store.site_callbacks import store_site_callback
from tests.web_ui.conftest import LiveServer, browser_login, serve, wait_for
from tests.web_ui.line_service import ZONE
from tests.web_ui.own_server import add_account, logged_in
from tests.web_ui.test_dashboard import add_event, statements_of
from tests.web_ui.test_pages import submit_and_wait
from tests.web_ui.test_site_callbacks import entry
from web_ui.home import service as dashboard
from web_ui.users.service import Role

MARKUP = "<img src=x onerror=\"document.title='pwned'\">"
CALLS: dict[str, list[str | None]] = {  # site: dispositions of today's calls
    "serang": ["prank", "ghost", "genuine:fire"],
    "cilegon": ["prank", None],
}
EVENTS = [  # (site, box, kind, line, detail), oldest first
    ("serang", "box1", "flood_on", None, {"reason": "lines busy"}),
    ("serang", "box2", "supervisor_flag", None, {"caller": "+6281200000001", "level": 3,
                                                  "junk_24h": 9}),
    ("cilegon", "box1", "modem_changed", "gsm2", {"expected": "86", "found": "35"}),
    ("cilegon", "box1", "supervisor_flag", None, {"caller": MARKUP, "level": 4, "junk_24h": 12}),
]  # fmt: skip


def today() -> str:
    return datetime.now(ZONE).date().isoformat()


def add_today(path: Path) -> Path:
    """Today's calls, events and call-back entries of serang and cilegon, as the hub
    keeps them."""
    midnight = dashboard.today_range(time.time(), ZONE)[1]
    now = time.time()
    db = connect_writer(path)
    try:
        with immediate(db):
            for site, dispositions in CALLS.items():
                for number, disposition in enumerate(dispositions, start=1):
                    started = midnight + number * 60
                    call = {
                        "id": number, "line": "gsm1", "caller": f"+6281200000{number:03d}",
                        "caller_raw": f"081200000{number:03d}", "number_class": "number",
                        "started_ts": started, "ended_ts": started + 30, "decision": "pass",
                        "reason": "no_history", "disposition": disposition,
                        "reached_operator": disposition is not None,
                    }  # fmt: skip
                    assert store_call(db, site, "box1", call, ZONE)
            for seq, (site, box, kind, line, detail) in enumerate(EVENTS, start=1):
                ts = max(now - 600, midnight) + seq  # today, and within the last 24 h
                body = {"origin": box, "seq": seq, "kind": kind, "line": line, "ts": ts,
                        "detail": json.dumps(detail)}  # fmt: skip
                _, event = decode_event(f"siaga.event.{site}.{box}", json.dumps(body).encode())
                assert store_event(db, site, event, ZONE)
            for site, origin_id in (("serang", 1), ("serang", 2), ("cilegon", 1)):
                fields = entry(origin_id, f"+628130000000{origin_id}", 30)
                assert store_site_callback(db, site, "box1", fields, ZONE, now)
    finally:
        db.close()
    return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(add_today(tmp_path_factory.mktemp("hub") / "hub.db")) as server:
        yield server


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(tmp_path_factory.mktemp("box") / "siaga.db") as server:
        yield server


def test_the_dashboard_api_gives_each_site_its_own_figures_and_alarms(hub: LiveServer) -> None:
    supervisor = logged_in(hub, Role.SUPERVISOR, language="en")

    def dashboard_of(**site: str) -> dict[str, Any]:
        answer = supervisor.client.get("/api/dashboard", params=site)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    every, serang, cilegon = (
        dashboard_of(),
        dashboard_of(site="serang"),
        dashboard_of(site="cilegon"),
    )
    assert every["sites"] == ["cilegon", "serang"] and every["site"] is None
    assert (serang["site"], cilegon["site"]) == ("serang", "cilegon")
    figures = [
        (view["today"]["calls"], view["today"]["prank"]) for view in (every, serang, cilegon)
    ]
    assert figures == [(5, 2), (3, 1), (2, 1)]
    assert (serang["today"]["ghost"], serang["today"]["genuine"]) == (1, 1)
    lines = [[alarm["line"] for alarm in view["alarms"]] for view in (every, serang, cilegon)]
    assert lines[1] == ["serang/box2", "serang/box1"]
    assert lines[2] == ["cilegon/box1", "cilegon/box1/gsm2"]
    assert sorted(lines[0]) == sorted(lines[1] + lines[2])
    unknown = supervisor.client.get("/api/dashboard", params={"site": "pandeglang"})
    assert unknown.status_code == 422


def test_the_dashboard_page_offers_the_sites_and_shows_the_one_chosen(hub: LiveServer) -> None:
    supervisor = logged_in(hub, Role.SUPERVISOR, language="en")
    every = supervisor.client.get("/").text
    assert '<option value="cilegon">cilegon</option><option value="serang">serang</option>' in every
    assert 'href="/callbacks" id="site-callbacks-link">Call-backs across the sites: 3 open' in every
    page = supervisor.client.get("/", params={"site": "serang"}).text
    assert '<option value="serang" selected>serang</option>' in page
    assert "Today&#39;s figures, the alarms and the call-back list of site serang only." in page
    assert 'id="today-calls">3<' in page
    assert 'href="/callbacks?site=serang" id="site-callbacks-link">' in page
    assert "Call-backs across the sites: 2 open" in page
    assert 'href="/reports?site=serang#flagged" id="flagged-link"' in page
    unknown = supervisor.client.get("/", params={"site": "pandeglang"}).text
    assert "This database holds no calls of that site." in unknown
    assert 'id="today-calls">5<' in unknown and 'id="site-note"' not in unknown


def test_a_boxs_dashboard_offers_no_site(box: LiveServer) -> None:
    supervisor = logged_in(box, Role.SUPERVISOR, language="en")
    page = supervisor.client.get("/").text
    assert 'id="site"' not in page and 'id="dashboard-site"' not in page
    assert 'href="/reports#flagged" id="flagged-link"' in page
    assert supervisor.client.get("/api/dashboard").json()["sites"] == []
    assert supervisor.client.get("/api/dashboard", params={"site": "serang"}).status_code == 422


def test_one_sites_alarms_are_read_through_the_events_index(hub: LiveServer) -> None:
    def work(conn: sqlite3.Connection) -> None:
        dashboard.build(conn, zone=ZONE, timezone="Asia/Jakarta", now_ts=time.time(), site="serang")

    checked = 0
    conn = sqlite3.connect(hub.db_path)
    try:
        for sql in statements_of(work, hub.db_path):
            if " events" in sql:
                plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
                assert "idx_events_" in plan, (sql, plan)
                checked += 1
    finally:
        conn.close()
    assert checked >= 1


def flagged_rows(page: str) -> list[str]:
    """The `data-site` of each row of the flagged numbers' table."""
    table = page.split('id="flagged-table"', 1)[1].split("</table>", 1)[0]
    return [part.split('"', 1)[0] for part in table.split('<tr data-site="')[1:]]


def test_the_report_page_lists_flagged_numbers_with_their_site(hub: LiveServer) -> None:
    supervisor = logged_in(hub, Role.SUPERVISOR, language="en")
    period = {"since": today(), "until": today()}
    page = supervisor.client.get("/reports", params=period).text
    assert "Numbers flagged for a supervisor" in page
    assert flagged_rows(page) == ["serang", "cilegon"]
    assert '<th scope="col" class="text">Site</th>' in page
    assert MARKUP not in page and str(escape(MARKUP)) in page
    serang = supervisor.client.get("/reports", params={**period, "site": "serang"}).text
    assert flagged_rows(serang) == ["serang"]
    assert 'data-column="caller"><span class="raw">+6281200000001</span></td>' in serang
    earlier = supervisor.client.get(
        "/reports", params={"since": "2020-01-01", "until": "2020-01-31"}
    )
    assert 'id="no-flagged">No number was flagged in this period.' in earlier.text


def test_a_boxs_report_page_lists_its_flagged_numbers_without_a_site(box: LiveServer) -> None:
    detail = {"caller": "+6281299990001", "level": 3, "junk_24h": 7, "until_ts": time.time() + 3600}
    add_event(box, "supervisor_flag", time.time() - 60, detail)
    technician = logged_in(box, Role.TECHNICIAN, language="en")
    page = technician.client.get("/reports", params={"since": today(), "until": today()}).text
    assert flagged_rows(page) == [""]
    assert "+6281299990001" in page and '<th scope="col" class="text">Site</th>' not in page


def test_a_supervisor_picks_a_site_on_the_hubs_dashboard(
    browser: webdriver.Chrome, hub: LiveServer
) -> None:
    browser_login(browser, hub, add_account(hub, Role.SUPERVISOR, language="id"))
    wait_for(browser, "#today-calls")
    picker = Select(browser.find_element(By.ID, "site"))
    assert [option.text for option in picker.options] == ["Semua lokasi", "cilegon", "serang"]
    picker.select_by_visible_text("cilegon")
    submit_and_wait(browser, browser.find_element(By.ID, "show-site"), "#site")
    assert "site=cilegon" in browser.current_url
    assert browser.find_element(By.ID, "today-calls").text == "2"
    browser.find_element(By.ID, "flagged-link").click()
    wait_for(browser, "#flagged-table")
    assert "site=cilegon" in browser.current_url
    table = browser.find_element(By.ID, "flagged-table").text
    assert MARKUP in table  # the box's caller ID shown as text, never run
    assert browser.title != "pwned"
    assert not browser.find_elements(By.CSS_SELECTOR, "#flagged-table img")
