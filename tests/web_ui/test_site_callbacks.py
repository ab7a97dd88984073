"""Every site's call-back list on a province hub's web UI: `/callbacks` and its API.

A web UI of its own on a hub's database made as `siaga hub` makes it: the sites' call
records through `store_call` (`hub_database`), and their call-back entries through
`store_site_callback`, each at its latest revision. Read over HTTP; an appliance's own
database beside it shows what a box's web UI says there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from appliance.store.db import connect_writer, immediate
from appliance.store.site_callbacks import store_site_callback
from tests.appliance.test_report_sites import hub_database
from tests.web_ui.conftest import LiveServer, serve
from tests.web_ui.line_service import ZONE
from tests.web_ui.own_server import logged_in
from web_ui.users.service import Role

PRANKSTER = "+6281200000001"  # serang's first call in `hub_database`: judged a prank
MARKUP = '<b onmouseover="alert(1)">0812</b>'
HEARD = {"voice_heard": False, "keys": "", "listened_s": 12.0}


def entry(origin_id: int, caller: str, age_s: float, **fields: Any) -> dict[str, Any]:
    """A checked call-back message's fields, as the hub stores them."""
    now = time.time()
    attempts = int(fields.pop("attempts", 1))
    status = str(fields.pop("status", "open"))
    values: dict[str, Any] = {
        "id": origin_id, "revision": 2 * attempts + (status != "open"), "caller": caller,
        "caller_raw": None, "line": "gsm1", "call_id": None,
        "reason": "silent_after_challenge", "detail": HEARD, "first_ts": now - age_s - 60,
        "last_ts": now - age_s, "attempts": attempts, "status": status,
        "status_ts": None if status == "open" else now, "status_by": None, "note": None,
    }  # fmt: skip
    values.update(fields)
    return values


ENTRIES = [  # (site, appliance, entry), newest release first among the open ones
    ("cilegon", "box1", entry(4, "+6281300000004", 10, reason="hung_up_waiting")),
    ("serang", "box2", entry(1, "+6281300000002", 20, line="gsm3")),
    ("serang", "box1", entry(1, PRANKSTER, 30, attempts=2, caller_raw=MARKUP)),
    ("cilegon", "box1", entry(5, "+6281300000005", 5, status="done", status_by="op9")),
]


def province_database(path: Path) -> Path:
    hub_database(path)
    db = connect_writer(path)
    try:
        with immediate(db):
            for site, appliance, fields in ENTRIES:
                assert store_site_callback(db, site, appliance, fields, ZONE, time.time())
    finally:
        db.close()
    return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(province_database(tmp_path_factory.mktemp("hub") / "hub.db")) as server:
        yield server


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(tmp_path_factory.mktemp("box") / "siaga.db") as server:
        yield server


def test_the_api_lists_every_sites_open_entries_with_their_site(hub: LiveServer) -> None:
    supervisor = logged_in(hub, Role.SUPERVISOR, language="en")
    answer = supervisor.client.get("/api/callbacks/sites")
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["sites"], data["site"], data["open_count"], data["read_only"]) == (
        ["cilegon", "serang"], None, 3, True,
    )  # fmt: skip
    listed = [(e["site"], e["appliance"], e["origin_id"], e["caller"]) for e in data["entries"]]
    assert listed == [
        ("cilegon", "box1", 4, "+6281300000004"),
        ("serang", "box2", 1, "+6281300000002"),
        ("serang", "box1", 1, PRANKSTER),
    ]
    prankster = data["entries"][2]
    assert (prankster["attempts"], prankster["caller_raw"]) == (2, MARKUP)
    assert prankster["reason_text"] == "silent after the challenge"
    assert prankster["heard_text"] == "no voice; no key pressed; listened for 12 s"
    assert prankster["last_disposition"] == "prank"  # the province's calls of the number
    assert data["entries"][0]["reason_text"] == "hung up before an operator answered"

    serang = supervisor.client.get("/api/callbacks/sites", params={"site": "serang"}).json()
    assert (serang["site"], serang["open_count"]) == ("serang", 2)
    assert {e["site"] for e in serang["entries"]} == {"serang"}
    unknown = supervisor.client.get("/api/callbacks/sites", params={"site": "pandeglang"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "error.unknown_callback_site"
    assert supervisor.client.get("/api/callbacks").json()["entries"] == []  # no box's own


def test_the_page_shows_each_entry_with_its_site_and_where_to_mark_it(hub: LiveServer) -> None:
    operator = logged_in(hub, Role.OPERATOR, language="en")
    page = operator.client.get("/callbacks")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Call-backs across the sites" in text and 'id="site-callbacks-read-only"' in text
    assert "marked on the console of the box that listed it" in text
    assert '<option value="serang">serang</option>' in text
    assert text.count('class="site-callback"') == 3
    assert 'data-site="serang" data-appliance="box1" data-origin="1"' in text
    assert "+6281300000005" not in text  # marked on its box: no longer waiting
    assert MARKUP not in text and str(escape(MARKUP)) in text
    assert 'id="site-callbacks-count" class="pill bad" role="status">3 open' in text

    one = operator.client.get("/callbacks", params={"site": "cilegon"}).text
    assert one.count('class="site-callback"') == 1 and 'data-site="cilegon"' in one
    assert '<option value="cilegon" selected>' in one
    indonesian = logged_in(hub, Role.OPERATOR, language="id")
    unknown = indonesian.client.get("/callbacks", params={"site": "pandeglang"}).text
    assert "Tidak ada daftar telepon balik dari lokasi itu." in unknown
    assert unknown.count('class="site-callback"') == 3  # every site instead


def test_the_hubs_dashboard_links_the_list(hub: LiveServer, box: LiveServer) -> None:
    page = logged_in(hub, Role.SUPERVISOR, language="en").client.get("/").text
    assert 'href="/callbacks" id="site-callbacks-link">Call-backs across the sites: 3 open' in page
    assert "site-callbacks-link" not in logged_in(box, Role.SUPERVISOR).client.get("/").text


def test_on_an_appliance_the_page_lists_nothing_and_points_to_the_console(
    box: LiveServer,
) -> None:
    """An appliance's own call-back list is on its console: this page must not tell an
    operator that nobody is waiting to be called back (no count, no "nobody" line)."""
    operator = logged_in(box, Role.OPERATOR, language="en")
    page = operator.client.get("/callbacks").text
    assert 'id="site-callbacks-no-sites"' in page and 'href="/console#callbacks"' in page
    assert 'id="site-callbacks-empty"' not in page and 'id="site-callbacks-count"' not in page
    data = operator.client.get("/api/callbacks/sites").json()
    assert (data["sites"], data["open_count"], data["entries"]) == ([], 0, [])
