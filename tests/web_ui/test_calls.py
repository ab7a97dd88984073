"""The call log: filters, numbers in any form, keyset paging, the CSV export, escaping.

The tests write `calls` rows into the live server's database as the line service's call
log does, each test on lines of its own (and days of its own in 2013, which no other test
uses), and read them back through `GET /api/calls`, `GET /calls.csv` and the page.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from appliance.config import Config
from appliance.line import FLOOD_RELEASED_CAUSE
from appliance.model import CALL_STATES, DEFAULT_GENUINE_KINDS, ChallengeResult
from tests.web_ui.conftest import Account, ApiSession, LiveServer, browser_login, serve
from tests.web_ui.line_service import add_calls, call_row, database, line_name
from tests.web_ui.own_server import logged_in
from web_ui.calls.service import COLUMNS
from web_ui.core.i18n import has_message
from web_ui.users.service import Role

ZONE = ZoneInfo("Asia/Jakarta")
_days = itertools.count()
_subscribers = itertools.count(1)


def fresh_day() -> date:
    """A local day no other test writes calls on."""
    return date(2013, 1, 1) + timedelta(days=3 * next(_days))


def at(day: date, hour: int, minute: int = 0) -> float:
    """POSIX seconds of a local (WIB) time on `day`."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).timestamp()


def fresh_number() -> str:
    """A national mobile number (0812...) no other test uses."""
    return f"0812{77000000 + next(_subscribers):08d}"


@pytest.fixture
def supervisor(api_session: Callable[..., ApiSession]) -> ApiSession:
    """A logged-in supervisor (the least role that reads the call log)."""
    return api_session(Role.SUPERVISOR)


def ids(session: ApiSession, **params: Any) -> list[int]:
    """The ids `GET /api/calls` lists for `params`, all pages followed."""
    found: list[int] = []
    query: dict[str, Any] = {"limit": 500, **params}
    while True:
        answer = session.client.get("/api/calls", params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found += [call["id"] for call in body["calls"]]
        if body["older"] is None:
            return found
        query["before"] = body["older"]


def newest_first(rows: list[tuple[int, dict[str, Any]]]) -> list[int]:
    """Ids ordered as the log lists them: started_ts, then id, descending."""
    return [i for i, _ in sorted(rows, key=lambda pair: (pair[1]["started_ts"], pair[0]))][::-1]


def test_each_filter_narrows_the_calls_to_the_matching_ones(
    server: LiveServer, supervisor: ApiSession
) -> None:
    line, other_line = line_name("log"), line_name("log")
    day = fresh_day()
    specs: list[dict[str, Any]] = [
        call_row(line, fresh_number(), at(day, 8), disposition="genuine:fire"),
        call_row(line, fresh_number(), at(day, 9), decision="challenge", reason="throttle"),
        call_row(line, fresh_number(), at(day, 10), disposition="prank", reached_operator=1),
        call_row(line, None, at(day, 11), decision="challenge", reason="withheld"),
        call_row(
            line,
            fresh_number(),
            at(day + timedelta(days=1), 7),
            decision="reject",
            reason="blocklist",
        ),
        call_row(
            line, fresh_number(), at(day + timedelta(days=1), 23, 30), disposition="genuine:health"
        ),
        call_row(other_line, fresh_number(), at(day, 12), decision="challenge", reason="throttle"),
    ]
    made = add_calls(server, specs)
    rows = list(zip(made, specs, strict=True))

    def expect(keep: Callable[[dict[str, Any]], bool], on: str = line) -> list[int]:
        return newest_first([(i, r) for i, r in rows if r["line"] == on and keep(r)])

    assert ids(supervisor, line=line) == expect(lambda r: True)
    assert ids(supervisor, line=other_line) == expect(lambda r: True, other_line)
    assert ids(supervisor, line=line, decision="challenge") == expect(
        lambda r: r["decision"] == "challenge"
    )
    assert ids(supervisor, line=line, reason="throttle") == expect(
        lambda r: r["reason"] == "throttle"
    )
    assert ids(supervisor, line=line, disposition="prank") == expect(
        lambda r: r.get("disposition") == "prank"
    )
    assert ids(supervisor, line=line, disposition="genuine") == expect(
        lambda r: str(r.get("disposition", "")).startswith("genuine:")
    )
    assert ids(supervisor, line=line, disposition="genuine:health") == expect(
        lambda r: r.get("disposition") == "genuine:health"
    )
    assert ids(supervisor, line=line, disposition="none") == expect(
        lambda r: r.get("disposition") is None
    )
    # Local days in WIB, `until` inclusive: 23:30 WIB is still that day.
    second = day + timedelta(days=1)
    assert ids(supervisor, line=line, since=second.isoformat()) == expect(
        lambda r: r["started_ts"] >= at(second, 0)
    )
    assert ids(supervisor, line=line, until=day.isoformat()) == expect(
        lambda r: r["started_ts"] < at(second, 0)
    )
    assert ids(supervisor, line=line, since=second.isoformat(), until=second.isoformat()) == (
        expect(lambda r: r["started_ts"] >= at(second, 0))
    )
    assert len(ids(supervisor, line=line, since=second.isoformat())) == 2


def test_a_bad_filter_is_refused_with_its_reason(supervisor: ApiSession) -> None:
    for params, code in (
        ({"since": "2024-13-01"}, "error.bad_date"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "error.bad_range"),
        ({"decision": "maybe"}, "error.invalid_input"),
        ({"before": "yesterday"}, "error.bad_cursor"),
        ({"number": "08", "number_prefix": "1"}, "error.bad_number_prefix"),
    ):
        answer = supervisor.client.get("/api/calls", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["detail"] == code
    page = supervisor.client.get("/calls", params={"since": "2024-13-01"})
    assert page.status_code == 200
    assert "Tanggal tidak sah" in page.text


def test_a_number_in_any_indonesian_form_finds_the_same_calls(
    server: LiveServer, supervisor: ApiSession
) -> None:
    line, day = line_name("num"), fresh_day()
    national = fresh_number()  # 0812 7700 00nn
    digits = national[1:]
    forms = [national, "62" + digits, "+62 " + digits[:3] + " " + digits[3:7] + " " + digits[7:]]
    made = add_calls(
        server,
        [call_row(line, raw, at(day, 9 + index)) for index, raw in enumerate(forms)]
        + [call_row(line, fresh_number(), at(day, 15))],
    )
    mine = made[:3][::-1]
    dashed = f"{national[:4]}-{national[4:8]}-{national[8:]}"
    for typed in (dashed, "62" + digits, f"+62 {digits[:3]} {digits[3:]}"):
        assert ids(supervisor, number=typed) == mine, typed
    # A partial number is matched only as an explicit prefix.
    partial = national[:-2]
    assert ids(supervisor, number=partial, line=line) == []
    prefixed = ids(supervisor, number=partial, number_prefix="1", line=line)
    assert set(mine) <= set(prefixed)
    page = supervisor.client.get("/calls", params={"number": partial, "number_prefix": "1"})
    assert "+62" + partial[1:] in page.text  # the page says which prefix it searched


def test_keyset_paging_returns_every_row_once_in_order(
    server: LiveServer, supervisor: ApiSession
) -> None:
    line, day = line_name("page"), fresh_day()
    # 25 calls, several sharing one start time: the id breaks the tie.
    specs = [call_row(line, fresh_number(), at(day, 10, n // 3)) for n in range(25)]
    made = add_calls(server, specs)
    expected = newest_first(list(zip(made, specs, strict=True)))
    pages: list[list[int]] = []
    cursors: list[str | None] = []
    params: dict[str, Any] = {"line": line, "limit": 10}
    while True:
        body = supervisor.client.get("/api/calls", params=params).json()
        pages.append([call["id"] for call in body["calls"]])
        cursors.append(body["newer"])
        if body["older"] is None:
            break
        params["before"] = body["older"]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in p] == expected
    assert cursors[0] is None and cursors[1] is not None
    # "Newer" from the last page gives the middle page back.
    back = supervisor.client.get(
        "/api/calls", params={"line": line, "limit": 10, "after": cursors[2]}
    ).json()
    assert [call["id"] for call in back["calls"]] == pages[1]
    # The page's own links walk the same way.
    html = supervisor.client.get("/calls", params={"line": line}).text
    assert 'id="older"' not in html  # 25 rows fit one page of 50


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), "the export starts with a BOM for Excel"
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_csv_export_holds_every_filtered_row_streamed_in_batches(
    server: LiveServer, supervisor: ApiSession
) -> None:
    line, day = line_name("csv"), fresh_day()
    specs = [
        call_row(
            line, fresh_number(), at(day, 0) + 40.0 * n, disposition="prank" if n % 4 else None
        )
        for n in range(1_030)  # more than one export batch (1,000)
    ]
    add_calls(server, specs)
    answer = supervisor.client.get("/calls.csv", params={"line": line, "disposition": "prank"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = _csv_rows(answer.content.decode("utf-8"))
    assert list(rows[0]) == list(COLUMNS)
    expected = ids(supervisor, line=line, disposition="prank")
    assert [int(row["id"]) for row in rows] == expected
    assert len(expected) == sum(1 for spec in specs if spec.get("disposition") == "prank")
    first = supervisor.client.get("/api/calls", params={"line": line, "limit": 1}).json()
    assert rows[0]["started_at"] == first["calls"][0]["started_at"]
    assert rows[0]["started_at"].endswith("+07:00")


def test_caller_id_text_is_escaped_on_the_page_and_defused_in_the_csv(
    server: LiveServer,
    browser: webdriver.Chrome,
    make_user: Callable[..., Account],
    screenshot: Callable[[str], Path],
) -> None:
    line, day = line_name("xss"), fresh_day()
    hostile = [
        "<script>window.pwned=1</script>\"'<b>",
        '=HYPERLINK("http://evil.example","klik")',
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
    ]
    made = add_calls(
        server,
        [
            call_row(line, raw, at(day, 9, n), time_trusted=int(n != 0))
            for n, raw in enumerate(hostile)
        ],
    )
    browser_login(browser, server, make_user(Role.SUPERVISOR))
    browser.get(f"{server.url}/calls?line={line}")
    cell = browser.find_element(By.CSS_SELECTOR, f"#call-{made[0]} td.number .raw")
    assert cell.text == hostile[0]
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, f"#call-{made[0]} .badge.untrusted")
    assert not browser.find_elements(By.CSS_SELECTOR, f"#call-{made[1]} .badge.untrusted")
    screenshot("call-log")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    with httpx.Client(base_url=server.url, cookies=cookies) as client:
        text = client.get("/calls.csv", params={"line": line}).content.decode("utf-8")
    by_id = {int(row["id"]): row for row in _csv_rows(text)}
    assert by_id[made[0]]["caller_raw"] == hostile[0]  # quotes survive CSV quoting
    for call_id, raw in zip(made[1:], hostile[1:], strict=True):
        assert by_id[call_id]["caller_raw"] == "'" + raw
    assert by_id[made[0]]["time_trusted"] == "0"


def shown_ids(driver: webdriver.Chrome) -> list[int]:
    """The call ids in the page's table, top to bottom."""
    rows = driver.find_elements(By.CSS_SELECTOR, "#calls tbody tr")
    return [int(row.get_attribute("data-id") or 0) for row in rows]


def test_the_call_log_page_pages_with_older_and_newer_links(
    server: LiveServer, browser: webdriver.Chrome, make_user: Callable[..., Account]
) -> None:
    line, day = line_name("links"), fresh_day()
    made = add_calls(
        server, [call_row(line, fresh_number(), at(day, 6) + 60.0 * n) for n in range(60)]
    )
    browser_login(browser, server, make_user(Role.TECHNICIAN))
    browser.get(f"{server.url}/calls?line={line}")
    first = shown_ids(browser)
    browser.find_element(By.ID, "older").click()
    second = shown_ids(browser)
    assert first + second == made[::-1]
    assert not browser.find_elements(By.ID, "older")
    browser.find_element(By.ID, "newer").click()
    assert shown_ids(browser) == first
    assert not browser.find_elements(By.ID, "newer")


def end_causes_the_lines_write() -> set[str]:
    """Every end cause `appliance/line.py` and the call log's restart recovery write."""
    source = (Path(__file__).resolve().parents[2] / "appliance" / "line.py").read_text()
    literal = set(re.findall(r'_(?:finish_call|end_call_now)\([^,]+, "([a-z_]+)"\)', source))
    challenged = {f"challenge_{result.value}" for result in ChallengeResult}
    watchdog = {f"watchdog_{state.value}" for state in CALL_STATES}
    return literal | challenged | watchdog | {"interrupted", FLOOD_RELEASED_CAUSE}


def test_every_end_cause_is_shown_in_words_in_both_languages(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    causes = end_causes_the_lines_write()
    assert {"operator_hung_up", "rejected", "line_failed", "challenge_timeout"} <= causes
    missing = [cause for cause in sorted(causes) if not has_message(f"end_cause.{cause}")]
    assert missing == []
    line, day = line_name("ends"), fresh_day()
    [made] = add_calls(server, [call_row(line, fresh_number(), at(day, 8), end_cause="rejected")])
    for language, words in (("id", "ditolak sebelum dijawab"), ("en", "rejected before answering")):
        page = api_session(Role.SUPERVISOR, language=language).client.get(
            "/calls", params={"line": line}
        )
        assert page.status_code == 200
        assert words in page.text and f'id="call-{made}"' in page.text


# ------------------------------------------------------------------ the centre's own kinds


def _options(page: str) -> list[tuple[str, str]]:
    """(value, text) of the disposition filter's options, in order."""
    select = page.split('<select id="disposition" name="disposition">', 1)[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)


def test_any_well_formed_kind_is_a_filter_and_is_named_in_words(
    server: LiveServer, supervisor: ApiSession
) -> None:
    line, day = line_name("kind"), fresh_day()
    dispositions = ("genuine:landslide", "genuine:fire", "genuine:landslide")
    specs = [
        call_row(line, fresh_number(), at(day, 9, n), disposition=disposition)
        for n, disposition in enumerate(dispositions)
    ]
    first, _, third = add_calls(server, specs)
    query = {"line": line, "disposition": "genuine:landslide"}
    assert ids(supervisor, **query) == [third, first]
    assert len(ids(supervisor, line=line, disposition="genuine")) == 3
    rows = _csv_rows(supervisor.client.get("/calls.csv", params=query).content.decode("utf-8"))
    assert [row["disposition"] for row in rows] == ["genuine:landslide"] * 2
    page = supervisor.client.get("/calls", params=query).text
    assert page.count('">Landslide</td>') == 2  # the disposition cell (after its data-label)
    options = _options(page)
    assert [value for value, _ in options[2:11]] == [
        f"genuine:{kind}" for kind in DEFAULT_GENUINE_KINDS
    ]
    assert options[11] == ("genuine:landslide", "Landslide")  # the filter asked for, listed
    for bad in ("genuine:Landslide", "genuine:", "genuine:land slide", "landslide"):
        answer = supervisor.client.get("/api/calls", params={"disposition": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["detail"] == "error.invalid_input"


def test_the_filter_lists_the_configured_kinds_with_their_names(tmp_path: Path) -> None:
    with serve(tmp_path / "siaga.db") as own:
        site = {"genuine_kinds": ["flood", "fire", "landslide"], "kind_labels": {"flood": "Banjir"}}
        base = Config.model_validate({"site": site}).model_dump(mode="json")
        with database(own) as conn:
            conn.execute(
                "INSERT INTO service_state (id, base_config, updated_ts) VALUES (1, ?, ?)",
                [json.dumps(base), time.time()],
            )
        line, day = line_name("kind"), fresh_day()
        add_calls(own, [call_row(line, fresh_number(), at(day, 9), disposition="genuine:flood")])
        supervisor = logged_in(own, Role.SUPERVISOR)
        page = supervisor.client.get("/calls", params={"line": line}).text
        assert _options(page)[1:6] == [
            ("genuine", "Asli (semua jenis)"),
            ("genuine:flood", "Banjir"),
            ("genuine:fire", "Kebakaran"),
            ("genuine:landslide", "Landslide"),
            ("info", "Informasi"),
        ]
        assert '">Banjir</td>' in page
