"""The reports page reads per-day figures (`appliance.store.rollup`) and keeps them fresh:
each report request recomputes the days changed since (a verdict recorded days later),
so the page, the CSV and the API show what counting the call rows shows."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from appliance.store import rollup
from tests.web_ui.conftest import ApiSession, LiveServer
from tests.web_ui.line_service import add_calls, call_row, database, line_name
from web_ui.users.service import Role

ZONE = ZoneInfo("Asia/Jakarta")
_months = itertools.count(1)  # months of 2013: no other test writes calls there


def _at(day: date, hour: int) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE).timestamp()


def _dirty_in(server: LiveServer, month: date) -> list[str]:
    with database(server) as conn:
        return [day for day in rollup.dirty_days(conn) if day.startswith(f"{month:%Y-%m}")]


def _totals(supervisor: ApiSession, month: date) -> dict[str, float]:
    answer = supervisor.client.get("/api/reports", params={"month": f"{month:%Y-%m}"})
    assert answer.status_code == 200, answer.text
    totals: dict[str, float] = answer.json()["totals"]["figures"]
    return totals


def test_a_report_request_refreshes_changed_days_and_shows_late_verdicts(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    supervisor = api_session(Role.SUPERVISOR)
    month = date(2013, next(_months), 1)
    line = line_name("rollup")
    rows = [
        call_row(line, f"08131{day:02d}0000{n}", _at(month.replace(day=day), 9 + n))
        for day in (3, 4, 9)
        for n in range(3)
    ]
    ids = add_calls(server, rows)
    assert _dirty_in(server, month) == [
        f"{month:%Y-%m}-03",
        f"{month:%Y-%m}-04",
        f"{month:%Y-%m}-09",
    ]
    first = _totals(supervisor, month)
    assert (first["calls"], first["prank"], first["no_disposition"]) == (9, 0, 9)
    assert _dirty_in(server, month) == []  # computed once, read from now on

    with database(server) as conn:  # an operator's verdict on a call of the 4th, later
        conn.execute("UPDATE calls SET disposition = 'prank' WHERE id = ?", (ids[4],))
    assert _dirty_in(server, month) == [f"{month:%Y-%m}-04"]
    later = _totals(supervisor, month)
    assert (later["calls"], later["prank"], later["no_disposition"]) == (9, 1, 8)
    assert _dirty_in(server, month) == []
    categories = supervisor.client.get("/api/reports", params={"month": f"{month:%Y-%m}"}).json()[
        "category_totals"
    ]
    assert (categories["calls"], categories["prank"]) == (9, 1)
