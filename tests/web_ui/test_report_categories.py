"""The reports in the centre's categories, and their width.

Every call is counted in exactly one category (the genuine kinds, prank, ghost, other),
with what Siaga classified itself kept apart from what operators recorded; the prank +
ghost share is over every call and written as the dashboard writes shares (`68,8%`).
The printed report keeps every column on A4 portrait and the page needs no sideways
scroll at 1366 px: checked in Chromium with print media emulated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from appliance.model import DEFAULT_GENUINE_KINDS
from appliance.report import Report, ReportRow, count_columns
from tests.web_ui.conftest import Account, ApiSession, LiveServer, browser_login
from tests.web_ui.line_service import add_calls, call_row, line_name
from tests.web_ui.test_reports import at, fresh_month
from web_ui.reports.categories import categorise, siaga_class
from web_ui.users.service import Role

Shot = Callable[[str], Path]
A4_WIDTH_PX = 794  # 210 mm at 96 px per inch
A4_PRINTABLE_PX = 688  # less the print view's 14 mm margins each side
LAPTOP_PX = 1366

# (disposition, decision, reason, challenge_result, reached_operator): how many
MONTH: list[tuple[tuple[str | None, str, str, str | None, int], int]] = [
    (("prank", "pass", "default", None, 1), 2),
    (("ghost", "pass", "default", None, 1), 1),
    (("genuine:fire", "pass", "default", None, 1), 1),
    (("info", "pass", "default", None, 1), 1),
    ((None, "challenge", "no_history", "timeout", 0), 3),
    ((None, "challenge", "throttle", "caller_hung_up", 0), 1),
    ((None, "challenge", "abuse", "failed", 0), 1),
    ((None, "reject", "blocklist", None, 0), 2),
    ((None, "announce", "flood", None, 0), 1),
    ((None, "reject", "withheld", None, 0), 1),
    ((None, "pass", "default", None, 1), 1),
    ((None, "challenge", "no_history", "passed", 1), 1),
]


def fill(server: LiveServer, month: date, spec: list[Any]) -> int:
    """The calls of `spec` on the month's first days; how many."""
    line = line_name("cat")
    rows = []
    n = 0
    for (disposition, decision, reason, result, reached), count in spec:
        for _ in range(count):
            rows.append(
                call_row(
                    line,
                    f"0815{month.month:02d}{n:06d}",
                    at(month.replace(day=1 + n % 3), 9, n % 60),
                    disposition=disposition,
                    decision=decision,
                    reason=reason,
                    challenge_result=result,
                    reached_operator=reached,
                )
            )
            n += 1
    add_calls(server, rows)
    return n


@pytest.fixture
def supervisor(api_session: Callable[..., ApiSession]) -> ApiSession:
    return api_session(Role.SUPERVISOR)


def test_siagas_own_classes() -> None:
    assert siaga_class("challenge", "no_history", "timeout", reached=False) is not None
    assert siaga_class("challenge", "no_history", "timeout", reached=True) is None
    assert siaga_class("pass", "default", None, reached=False) is None
    assert siaga_class("reject", "unparseable", None, reached=False) == "refused_other"


def test_every_call_is_in_one_category_with_siaga_apart(
    server: LiveServer, supervisor: ApiSession
) -> None:
    month = fresh_month()
    calls = fill(server, month, MONTH)
    body = supervisor.client.get("/api/reports", params={"month": f"{month:%Y-%m}"}).json()
    totals = body["category_totals"]
    assert totals["calls"] == calls == body["totals"]["figures"]["calls"] == 16
    assert (totals["valid"], totals["prank"], totals["ghost"], totals["other"]) == (1, 5, 6, 4)
    assert totals["valid"] + totals["prank"] + totals["ghost"] + totals["other"] == calls
    assert totals["kinds"] == {"fire": 1}
    assert totals["by_operators"] == {"prank": 2, "ghost": 1, "other": 1}
    assert totals["by_siaga"] == {
        "silent_after_challenge": 3,
        "hung_up_on_prompt": 1,
        "wrong_key": 1,
        "refused_rule": 2,
        "refused_flood": 1,
        "refused_other": 1,
    }
    assert totals["no_verdict"] == 2
    assert totals["junk_share_pct"] == 68.8  # 11 of 16
    assert sum(row["calls"] for row in body["categories"]) == calls

    page = supervisor.client.get("/reports", params={"month": f"{month:%Y-%m}"}).text
    assert '<dd id="total-junk-share">68,8%</dd>' in page  # the dashboard's format
    assert "dari semua 16 panggilan" in page
    assert 'data-class="silent_after_challenge"' in page and "Diam setelah tantangan" in page


def _overflowing(driver: webdriver.Chrome) -> list[str]:
    """Tables, cells and the page wider than their room: what would be clipped."""
    found: list[str] = driver.execute_script(
        """
        const bad = [];
        const page = document.documentElement;
        if (page.scrollWidth > page.clientWidth) bad.push("page " + page.scrollWidth);
        for (const table of document.querySelectorAll("table.figures")) {
          const room = table.parentElement.clientWidth;
          if (table.scrollWidth > room) bad.push(table.id + " " + table.scrollWidth + ">" + room);
          const right = table.parentElement.getBoundingClientRect().right + 0.5;
          for (const cell of table.querySelectorAll("th, td")) {
            const box = cell.getBoundingClientRect();
            if (box.right > right || cell.scrollWidth > cell.clientWidth + 1) {
              bad.push(table.id + ": " + cell.textContent.trim());
            }
          }
        }
        return bad;
        """
    )
    return found


def _words_broken(driver: webdriver.Chrome) -> list[str]:
    """Words of the tables' headings set on more than one line ("Isen" over "g")."""
    found: list[str] = driver.execute_script(
        """
        const broken = [];
        for (const cell of document.querySelectorAll("table.figures th")) {
          const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const word of node.textContent.matchAll(/\\S+/g)) {
              const range = document.createRange();
              range.setStart(node, word.index);
              range.setEnd(node, word.index + word[0].length);
              const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
              if (lines.size > 1) broken.push(word[0]);
            }
          }
        }
        return broken;
        """
    )
    return found


def _viewport(driver: webdriver.Chrome, width: int, media: str) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})


@pytest.fixture
def emulated(browser: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The browser, its viewport and media put back afterwards."""
    yield browser
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


@pytest.mark.parametrize("language", ["id", "en"])
def test_every_column_fits_a4_portrait_and_a_laptop_screen(
    server: LiveServer,
    emulated: webdriver.Chrome,
    make_user: Callable[..., Account],
    screenshot: Shot,
    language: str,
) -> None:
    month = fresh_month()
    every_kind = [
        ((f"genuine:{kind}", "pass", "default", None, 1), 1234) for kind in DEFAULT_GENUINE_KINDS
    ]
    fill(server, month, [*every_kind, *MONTH[:10]])
    browser_login(emulated, server, make_user(Role.SUPERVISOR, language=language))
    emulated.get(f"{server.url}/reports?month={month:%Y-%m}&print=1")
    headings = emulated.find_elements(By.CSS_SELECTOR, "#category-table th.kind")
    assert len(headings) == len(DEFAULT_GENUINE_KINDS)
    for width in (A4_PRINTABLE_PX, A4_WIDTH_PX):
        _viewport(emulated, width, "print")
        assert _overflowing(emulated) == [], (width, _overflowing(emulated))
        assert _words_broken(emulated) == [], (width, _words_broken(emulated))
    screenshot(f"print-{language}")
    emulated.get(f"{server.url}/reports?month={month:%Y-%m}")
    _viewport(emulated, LAPTOP_PX, "screen")
    assert _overflowing(emulated) == []
    assert _words_broken(emulated) == []
    emulated.execute_script("document.getElementById('categories').scrollIntoView()")
    screenshot(f"laptop-{language}")


def test_the_excel_csv_is_what_excel_in_indonesia_opens(
    server: LiveServer, supervisor: ApiSession
) -> None:
    month = fresh_month()
    fill(server, month, MONTH)
    query = {"month": f"{month:%Y-%m}", "dialect": "excel"}
    answer = supervisor.client.get("/reports.csv", params=query)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="siaga-report-day-' in answer.headers["content-disposition"]
    raw = answer.content
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    rows = [line.split(";") for line in raw.decode("utf-8-sig").splitlines()]
    heading, total = rows[0], rows[-1]
    assert heading[:2] == ["Periode", "Total"] and heading[-1] == "Porsi iseng + hantu (%)"
    assert "Kebakaran" in heading and "Iseng oleh Siaga" in heading
    figures = dict(zip(heading, total, strict=True))
    assert figures["Periode"] == "Jumlah" and figures["Total"] == "16"
    assert (figures["Iseng"], figures["Hantu"], figures["Lainnya"]) == ("5", "6", "4")
    assert (figures["Iseng oleh Siaga"], figures["Hantu oleh Siaga"]) == ("3", "5")
    assert figures["Porsi iseng + hantu (%)"] == "68,8"
    plain = supervisor.client.get("/reports.csv", params={"month": f"{month:%Y-%m}"})
    assert plain.content.decode("utf-8-sig").startswith("period,calls,valid,")


def test_an_archived_month_keeps_the_operators_figures_and_says_so() -> None:
    figures = dict.fromkeys(count_columns(), 0.0)
    figures.update({"calls": 10, "valid": 2, "valid_fire": 2, "prank": 3, "ghost": 1})
    figures.update({"info": 1, "no_disposition": 3})
    archived = ReportRow("2011-01", figures)
    result = Report("month", "Asia/Jakarta", 0.0, 1.0, [archived], archived, DEFAULT_GENUINE_KINDS)
    [row] = categorise(result, {}).rows
    assert row.archived and row.calls == 10
    assert (row.count("fire"), row.count("prank"), row.count("ghost"), row.count("other")) == (
        2,
        3,
        1,
        4,
    )
