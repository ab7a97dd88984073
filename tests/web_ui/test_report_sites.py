"""The report page on a province hub's database: every site together, or one site.

A web UI of its own on a hub's database made as `siaga hub` makes it (the sites' call
records through `store_call`), read over HTTP and in Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.appliance.test_report_sites import hub_database
from tests.web_ui.conftest import LiveServer, browser_login, serve
from tests.web_ui.own_server import add_account, logged_in
from tests.web_ui.test_pages import submit_and_wait
from web_ui.users.service import Role

NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30", "period": "month"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(hub_database(tmp_path_factory.mktemp("hub") / "hub.db")) as server:
        yield server


def test_the_api_gives_each_site_its_own_figures(hub: LiveServer) -> None:
    supervisor = logged_in(hub, Role.SUPERVISOR, language="en")

    def totals(**site: str) -> dict[str, float]:
        answer = supervisor.client.get("/api/reports", params={**NOVEMBER, **site})
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["totals"]["figures"])

    every, serang, cilegon = totals(), totals(site="serang"), totals(site="cilegon")
    assert (every["calls"], serang["calls"], cilegon["calls"]) == (5, 3, 2)
    assert (serang["prank"], serang["ghost"], cilegon["prank"]) == (1, 1, 1)
    unknown = supervisor.client.get("/api/reports", params={**NOVEMBER, "site": "pandeglang"})
    assert unknown.status_code == 422
    csv = supervisor.client.get("/reports.csv", params={**NOVEMBER, "site": "serang"})
    assert "siaga-report-serang-month" in csv.headers["content-disposition"]


def test_a_supervisor_picks_a_site_on_the_report_page(
    browser: webdriver.Chrome, hub: LiveServer
) -> None:
    browser_login(browser, hub, add_account(hub, Role.SUPERVISOR, language="id"))
    browser.get(hub.url + "/reports?since=2026-11-01&until=2026-11-30&period=month")
    picker = Select(browser.find_element(By.ID, "site"))
    assert [option.text for option in picker.options] == ["Semua lokasi", "cilegon", "serang"]
    picker.select_by_visible_text("serang")
    submit_and_wait(browser, browser.find_element(By.ID, "show-report"), "#site")
    assert "site=serang" in browser.current_url
    assert Select(browser.find_element(By.ID, "site")).first_selected_option.text == "serang"
    browser.get(hub.url + "/reports?site=pandeglang")
    assert "Tidak ada panggilan dari lokasi itu" in browser.page_source
