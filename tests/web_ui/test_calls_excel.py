"""The call log as Excel on an Indonesian desk opens it: `/calls.csv?dialect=excel`.

Excel set to Indonesian splits a CSV on semicolons; the comma form opened by double-click
puts a whole call in one cell. The rules and the report already offer both forms; the call
log offers them too, with the same filters, the page's link beside the plain one, and the
formula guard on every cell (headings included).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.web_ui.conftest import ApiSession, LiveServer
from tests.web_ui.line_service import add_calls, call_row, database, line_name
from web_ui.calls.service import COLUMNS
from web_ui.users.service import Role

DAY = date(2012, 6, 14)  # a day no other test writes calls on
ZONE = ZoneInfo("Asia/Jakarta")


def at(hour: int) -> float:
    """POSIX seconds of a WIB hour on `DAY`."""
    return datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=ZONE).timestamp()


@pytest.fixture
def supervisor(api_session: Callable[..., ApiSession]) -> ApiSession:
    """A logged-in supervisor, reading in Bahasa Indonesia."""
    return api_session(Role.SUPERVISOR)


def excel_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of an export in the Excel form (BOM, semicolons, CRLF)."""
    assert text.startswith("\ufeff"), "Excel needs the BOM to read UTF-8"
    body = text.removeprefix("\ufeff")
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "")
    header = next(csv.reader(io.StringIO(body), delimiter=";"))
    return header, list(csv.DictReader(io.StringIO(body), delimiter=";"))


def test_the_call_log_exports_for_excel_with_indonesian_headings(
    server: LiveServer, supervisor: ApiSession
) -> None:
    line = line_name("xl")
    made = add_calls(
        server,
        [
            call_row(line, "0812-3456-7890", at(9), disposition="prank"),
            call_row(line, '=HYPERLINK("http://evil.example";"klik")', at(10), operator="a;b"),
        ],
    )
    query = {"line": line, "since": DAY.isoformat(), "until": DAY.isoformat()}
    page = supervisor.client.get("/calls", params=query)
    assert page.status_code == 200
    filtered = f"since=2012-06-14&amp;until=2012-06-14&amp;line={line}"
    assert f'href="/calls.csv?{filtered}"' in page.text  # the plain form, as before
    assert f'href="/calls.csv?{filtered}&amp;dialect=excel"' in page.text  # and Excel's

    answer = supervisor.client.get("/calls.csv", params={**query, "dialect": "excel"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "-excel.csv" in answer.headers["content-disposition"]
    header, rows = excel_rows(answer.content.decode("utf-8"))
    assert len(header) == len(COLUMNS)
    assert header[:4] == ["Nomor urut", "Mulai", "Saluran", "Nomor seperti diterima"]
    assert "Penilaian" in header and "Sebab berakhir" in header
    by_id = {int(row["Nomor urut"]): row for row in rows}
    assert sorted(by_id) == sorted(made)
    assert by_id[made[0]]["Nomor seperti diterima"] == "0812-3456-7890"
    assert by_id[made[0]]["Nomor baku"] == "'+6281234567890"  # neutralised, as in the plain form
    assert by_id[made[0]]["Penilaian"] == "prank"
    assert by_id[made[1]]["Nomor seperti diterima"].startswith("'=HYPERLINK(")
    assert by_id[made[1]]["Operator"] == "a;b"  # the separator inside a cell is quoted


def test_the_excel_form_follows_the_users_language_and_the_plain_form_stays(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    line = line_name("xlen")
    add_calls(server, [call_row(line, "081298765432", at(11))])
    english = api_session(Role.SUPERVISOR, language="en")
    answer = english.client.get("/calls.csv", params={"line": line, "dialect": "excel"})
    header, rows = excel_rows(answer.content.decode("utf-8"))
    assert header[:4] == ["Id", "Started", "Line", "Number as given"]
    assert [row["Number as given"] for row in rows] == ["081298765432"]

    plain = english.client.get("/calls.csv", params={"line": line}).content.decode("utf-8")
    assert plain.startswith("\ufeff" + ",".join(COLUMNS) + "\r\n")
    assert english.client.get("/calls.csv", params={"dialect": "lotus"}).status_code in (400, 422)


def test_an_excel_export_is_audited_with_its_form(
    server: LiveServer, supervisor: ApiSession
) -> None:
    line = line_name("xlaudit")
    supervisor.client.get("/calls.csv", params={"line": line, "dialect": "excel"})
    with database(server) as conn:
        found = conn.execute(
            "SELECT after FROM audit_log WHERE action = 'export.calls' AND actor = ?"
            " ORDER BY id DESC LIMIT 1",
            [supervisor.user.username],
        ).fetchone()
    assert found is not None
    after = json.loads(found["after"])
    assert after["dialect"] == "excel" and after["filters"] == {"line": line}
