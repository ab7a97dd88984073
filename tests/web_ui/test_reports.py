"""The reports page: `appliance.report`'s figures, server-drawn charts, CSV, print view.

Calls are written into the live server's database as the line service's call log does,
in months of 2012 that no other test uses; the page, the CSV and the API must show what
`appliance.report` computes from the same database for the same period.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from appliance.config import Config
from appliance.model import DEFAULT_GENUINE_KINDS
from appliance.report import report, report_csv
from tests.web_ui.conftest import Account, ApiSession, LiveServer, browser_login, serve
from tests.web_ui.line_service import add_calls, call_row, database, line_name
from tests.web_ui.own_server import logged_in
from web_ui.users.service import Role

ZONE = ZoneInfo("Asia/Jakarta")
_months = itertools.count(1)
DISPOSITIONS = ("genuine:fire", "prank", "ghost", "prank", "info", None, "genuine:accident")


def fresh_month() -> date:
    """The first day of a month no other test writes calls in."""
    return date(2012, next(_months), 1)


def at(day: date, hour: int, minute: int = 0) -> float:
    """POSIX seconds of a local (WIB) time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).timestamp()


def fill_month(server: LiveServer, month: date) -> int:
    """A mix of calls over days 1, 2, 5 and the last evening of `month`; how many."""
    line = line_name("rep")
    specs: list[dict[str, Any]] = []
    for day_number, count in ((1, 7), (2, 3), (5, 9)):
        day = month.replace(day=day_number)
        for n in range(count):
            disposition = DISPOSITIONS[n % len(DISPOSITIONS)]
            decision, reason = ("challenge", "throttle") if n % 3 == 0 else ("pass", "default")
            specs.append(
                call_row(
                    line,
                    f"0813{month.month:02d}{day_number:02d}{n % 4:04d}",
                    at(day, 8, n),
                    decision=decision,
                    reason=reason,
                    disposition=disposition,
                    reached_operator=int(disposition is not None),
                    challenge_result="passed" if decision == "challenge" else None,
                )
            )
    # 23:30 WIB on the month's last day: still this month locally (16:30 UTC).
    last = month.replace(day=28)
    specs.append(call_row(line, "081300000001", at(last, 23, 30), disposition="ghost"))
    add_calls(server, specs)
    return len(specs)


def expected_report(server: LiveServer, month: date, period: str = "day") -> Any:
    since = at(month, 0)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    with database(server) as conn:
        return report(
            conn,
            since_ts=since,
            until_ts=at(following, 0),
            period=period,  # type: ignore[arg-type]
            timezone="Asia/Jakarta",
        )


@pytest.fixture
def supervisor(api_session: Callable[..., ApiSession]) -> ApiSession:
    """A logged-in supervisor."""
    return api_session(Role.SUPERVISOR)


def test_the_api_gives_appliance_reports_figures_for_the_period(
    server: LiveServer, supervisor: ApiSession
) -> None:
    month = fresh_month()
    added = fill_month(server, month)
    expected = expected_report(server, month)
    answer = supervisor.client.get(
        "/api/reports", params={"period": "day", "month": month.isoformat()[:7]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["totals"]["figures"] == expected.totals.figures
    assert body["totals"]["figures"]["calls"] == added
    assert [row["period"] for row in body["rows"]] == [row.label for row in expected.rows]
    assert body["rows"][0]["figures"]["valid"] == expected.rows[0]["valid"]
    assert body["top_repeaters"][0]["calls"] >= 2
    monthly = supervisor.client.get(
        "/api/reports",
        params={"period": "month", "since": month.isoformat(), "until": f"{month:%Y-%m}-28"},
    ).json()
    assert len(monthly["rows"]) == 1
    assert monthly["rows"][0]["figures"]["calls"] == added
    bad = supervisor.client.get(
        "/api/reports", params={"since": "2012-05-02", "until": "2012-05-01"}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == "error.bad_range"


def test_the_csv_is_appliance_reports_csv_with_a_bom(
    server: LiveServer, supervisor: ApiSession
) -> None:
    month = fresh_month()
    fill_month(server, month)
    answer = supervisor.client.get("/reports.csv", params={"month": month.isoformat()[:7]})
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.decode("utf-8") == "\ufeff" + report_csv(expected_report(server, month))


def part_of(page: str, start: str, end: str) -> str:
    """The page from `start` up to the next `end`."""
    begin = page.index(start)
    return page[begin : page.index(end, begin)]


BAR_SHARE = re.compile(r'<g class="bar" data-label="([^"]+)"[^>]*>\s*<title>[^<]*?(\S+%)</title>')
ROW_SHARE = re.compile(
    r'<th scope="row">([0-9-]+)</th>.*?<td data-column="junk_share">([^<]*)<', re.S
)


def test_the_charts_write_figures_as_the_tables_do_in_each_language(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    """One percent format on the page: a chart's axis and each bar's sentence write a
    share as the category table does (`50,0%` in Bahasa Indonesia, `50.0%` in English),
    never apart (`50 %`)."""
    month = fresh_month()
    fill_month(server, month)
    axes = {"id": ["0,0%", "50,0%", "100,0%"], "en": ["0.0%", "50.0%", "100.0%"]}
    for language, axis in axes.items():
        session = api_session(Role.SUPERVISOR, language=language)
        page = session.client.get("/reports", params={"month": month.isoformat()[:7]}).text
        chart = part_of(page, 'id="chart-junk"', "</figure>")
        assert re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', chart) == axis
        said = dict(BAR_SHARE.findall(chart))
        written = dict(ROW_SHARE.findall(part_of(page, 'id="category-table"', "</table>")))
        assert said and said == written
        assert not re.search(r"\d %", page)


def test_the_reports_page_shows_the_totals_and_one_bar_per_day(
    server: LiveServer,
    browser: webdriver.Chrome,
    make_user: Callable[..., Account],
    screenshot: Callable[[str], Path],
) -> None:
    month = fresh_month()
    fill_month(server, month)
    expected = expected_report(server, month)
    browser_login(browser, server, make_user(Role.SUPERVISOR))
    browser.get(f"{server.url}/reports?month={month:%Y-%m}")
    for column in ("calls", "valid", "prank", "ghost", "screened"):
        shown = browser.find_element(By.ID, f"total-{column}").text
        assert shown == str(int(expected.totals[column])), column
    totals = browser.find_element(By.ID, "report-totals")
    for column in (
        "calls",
        "valid",
        "info",
        "prank",
        "ghost",
        "no_disposition",
        "reached_operator",
    ):
        cell = totals.find_element(By.CSS_SELECTOR, f'td[data-column="{column}"]')
        assert cell.text == str(int(expected.totals[column])), column
    # Days 1 to 28, quiet days included: one bar each, in both charts.
    assert len(expected.rows) == 28
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-calls svg g.bar")
    assert len(bars) == 28
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-junk svg g.bar")) == 28
    first = bars[0]
    assert first.get_attribute("data-total") == str(int(expected.rows[0]["calls"]))
    assert browser.find_element(By.CSS_SELECTOR, "#chart-calls svg title").get_attribute(
        "textContent"
    )
    assert browser.find_element(By.CSS_SELECTOR, "#chart-calls svg desc").get_attribute(
        "textContent"
    )
    browser.execute_script("document.getElementById('chart-calls').scrollIntoView()")
    screenshot("report")


def test_the_printable_view_hides_the_navigation_and_names_the_centre(
    server: LiveServer,
    browser: webdriver.Chrome,
    make_user: Callable[..., Account],
    screenshot: Callable[[str], Path],
) -> None:
    month = fresh_month()
    fill_month(server, month)
    css = httpx.get(server.url + "/static/siaga.css").text
    assert "@media print" in css and "@page { size: A4" in css
    browser_login(browser, server, make_user(Role.SUPERVISOR, language="en"))
    browser.get(f"{server.url}/reports?month={month:%Y-%m}")
    assert browser.find_element(By.CSS_SELECTOR, "header.top nav").is_displayed()
    assert not browser.find_element(By.ID, "print-head").is_displayed()
    # The browser's own print rendering (Chrome DevTools' emulated print media).
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.CSS_SELECTOR, "header.top").is_displayed()
        assert not browser.find_element(By.ID, "report-period").is_displayed()
        assert browser.find_element(By.ID, "print-head").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    browser.find_element(By.ID, "report-print").click()
    head = browser.find_element(By.ID, "print-head")
    assert head.is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "header.top").is_displayed()
    assert "Siaga Uji" in head.text
    assert f"{month:%Y-%m}-01" in head.text and "Generated" in head.text and "WIB" in head.text
    screenshot("print")


# ------------------------------------------------------------------ the centre's own kinds


def _kind_calls(server: LiveServer, month: date, dispositions: tuple[str, ...]) -> None:
    line = line_name("kind")
    add_calls(
        server,
        [
            call_row(line, f"0814{month.month:02d}{n:06d}", at(month, 9, n), disposition=d)
            for n, d in enumerate(dispositions)
        ],
    )


def test_a_kind_the_configuration_lacks_has_its_own_column(
    server: LiveServer, supervisor: ApiSession
) -> None:
    month = fresh_month()
    _kind_calls(server, month, ("genuine:landslide", "genuine:landslide", "genuine:fire"))
    query = {"month": month.isoformat()[:7]}
    body = supervisor.client.get("/api/reports", params=query).json()
    kind_columns = [c for c in body["columns"] if c.startswith("valid_")]
    assert kind_columns == [f"valid_{kind}" for kind in DEFAULT_GENUINE_KINDS] + ["valid_landslide"]
    totals = body["totals"]["figures"]
    assert (totals["valid_landslide"], totals["valid_fire"], totals["valid_other"]) == (2, 1, 0)
    assert totals["valid"] == 3
    text = supervisor.client.get("/reports.csv", params=query).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[-1]["period"] == "total" and rows[-1]["valid_landslide"] == "2"
    page = supervisor.client.get("/reports", params=query).text
    assert '<th scope="col" class="kind" data-column="valid_landslide">Landslide</th>' in page
    assert '<th scope="col" class="kind" data-column="valid_fire">Kebakaran</th>' in page


@pytest.fixture(scope="module")
def centre_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A web UI whose line service published a configuration with kinds of its own."""
    with serve(tmp_path_factory.mktemp("kinds") / "siaga.db") as own:
        site = {"genuine_kinds": ["flood", "fire"], "kind_labels": {"flood": "Banjir"}}
        base = Config.model_validate({"site": site}).model_dump(mode="json")
        with database(own) as conn:
            conn.execute(
                "INSERT INTO service_state (id, base_config, updated_ts) VALUES (1, ?, ?)",
                [json.dumps(base), time.time()],
            )
        yield own


def test_reports_follow_the_configured_kinds_then_the_others_found(
    centre_server: LiveServer,
) -> None:
    month = date(2012, 6, 1)
    dispositions = ("genuine:fire", "genuine:flood", "genuine:crime", "genuine:accident", "prank")
    _kind_calls(centre_server, month, dispositions)
    supervisor = logged_in(centre_server, Role.SUPERVISOR)
    query = {"month": month.isoformat()[:7]}
    body = supervisor.client.get("/api/reports", params=query).json()
    kind_columns = [c for c in body["columns"] if c.startswith("valid_")]
    assert kind_columns == ["valid_flood", "valid_fire", "valid_accident", "valid_crime"]
    assert body["totals"]["figures"]["valid"] == 4
    assert set(body["totals"]["figures"]) == set(body["columns"])
    page = supervisor.client.get("/reports", params=query).text
    headings = re.findall(r'<th scope="col" class="kind" data-column="(\w+)">([^<]*)</th>', page)
    assert headings == [
        ("valid_flood", "Banjir"),
        ("valid_fire", "Kebakaran"),
        ("valid_accident", "Kecelakaan"),
        ("valid_crime", "Kriminal"),
    ]
    csv_text = supervisor.client.get("/reports.csv", params=query).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("period,calls,valid,valid_flood,valid_fire,")
