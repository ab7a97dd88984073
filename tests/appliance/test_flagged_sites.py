"""A province hub's flagged numbers: each with its site, one site's with `--site`.

The hub's database is made as `siaga hub` makes it: migrations, each site's call records
through `store_call` (`tests.appliance.test_report_sites.hub_database`), and each box's
`supervisor_flag` events as they arrive on `siaga.event.<site>.<box>`, through
`decode_event` and `store_event`. The list is read through the library and the command.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.cluster.hub import store_event
from appliance.cluster.messages import decode_event
from appliance.report import flagged_numbers
from appliance.store import CallLog
from appliance.store.db import connect_writer, immediate, open_readonly
from tests.appliance.test_report_sites import START, ZONE, hub_database
from web_ui.cli import main

MARKUP = "<script>alert('flag')</script>"
UNTIL = datetime(2026, 11, 10, 9, 0, tzinfo=ZONE).timestamp()
FLAGS: list[tuple[str, str, dict[str, Any] | str]] = [  # (site, box, detail) in time order
    ("serang", "box1", {"caller": "+6281200000001", "level": 3, "junk_24h": 9, "until_ts": UNTIL}),
    ("cilegon", "box2", {"caller": "+6281200000002", "level": 4, "junk_24h": 12}),
    # A site's box says what it likes: markup as the number, words as figures, no JSON.
    ("serang", "box2", {"caller": MARKUP, "level": "three", "junk_24h": None, "until_ts": 1e300}),
    ("cilegon", "box2", "not json"),
]


def add_flags(path: Path, flags: list[tuple[str, str, dict[str, Any] | str]] = FLAGS) -> None:
    """Each flag as the hub receives a box's `supervisor_flag` event, an hour apart."""
    db = connect_writer(path)
    try:
        with immediate(db):
            for seq, (site, box, detail) in enumerate(flags, start=1):
                text = detail if isinstance(detail, str) else json.dumps(detail)
                body = {"origin": box, "seq": seq, "kind": "supervisor_flag",
                        "ts": START + seq * 3600, "detail": text}  # fmt: skip
                _, event = decode_event(f"siaga.event.{site}.{box}", json.dumps(body).encode())
                assert store_event(db, site, event, ZONE)
    finally:
        db.close()


def hub_with_flags(path: Path) -> Path:
    """A hub's database with two sites' calls and their flagged numbers."""
    add_flags(hub_database(path))
    return path


def listed(path: Path, site: str | None = None) -> list[tuple[str | None, str, int, int, str]]:
    conn = open_readonly(path)
    try:
        found = flagged_numbers(conn, 0, 4_102_444_800.0, "Asia/Jakarta", site=site)
    finally:
        conn.close()
    return [(n.site, n.caller, n.level, n.junk_24h, n.restricted_until) for n in found]


def test_a_hubs_flagged_numbers_carry_their_site_and_keep_one_sites(tmp_path: Path) -> None:
    hub = hub_with_flags(tmp_path / "hub.db")
    serang = [
        ("serang", "+6281200000001", 3, 9, "2026-11-10T09:00:00+07:00"),
        ("serang", MARKUP, 0, 0, ""),  # shown as the box gave it, its figures not trusted
    ]
    cilegon = [("cilegon", "+6281200000002", 4, 12, ""), ("cilegon", "", 0, 0, "")]
    assert listed(hub, "serang") == serang
    assert listed(hub, "cilegon") == cilegon
    assert listed(hub) == [serang[0], cilegon[0], serang[1], cilegon[1]]
    assert listed(hub, "seran") == []  # a site is a whole name, not a prefix of one


def test_a_site_whose_name_holds_an_underscore_is_not_a_pattern(tmp_path: Path) -> None:
    hub = tmp_path / "hub.db"
    connect_writer(hub).close()
    flag = {"caller": "+6281200000009", "level": 3, "junk_24h": 5}
    add_flags(hub, [("kota_a", "box1", flag), ("kotaxa", "box1", flag)])
    assert [site for site, *_ in listed(hub, "kota_a")] == ["kota_a"]


def siaga(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`siaga report ...` in this process: (exit status, stdout, stderr)."""
    status = main(["report", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_siaga_report_flagged_site_on_a_hubs_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = str(hub_with_flags(tmp_path / "hub.db"))
    status, out, _ = siaga(capsys, "--db", hub, "--flagged", "--csv", "--site", "cilegon")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["site"], row["caller"], row["level"]) for row in rows] == [
        ("cilegon", "+6281200000002", "4"), ("cilegon", "", "0")
    ]  # fmt: skip
    assert list(rows[0]) == [
        "flagged_at", "site", "caller", "level", "junk_24h", "restricted_until"
    ]  # fmt: skip
    status, out, _ = siaga(capsys, "--db", hub, "--flagged", "--since", "2026-11-01")
    assert status == 0
    assert out.split()[:3] == ["flagged_at", "site", "caller"]
    assert [line.split()[1] for line in out.splitlines()[1:]] == [
        "serang", "cilegon", "serang", "cilegon"
    ]  # fmt: skip
    status, _, err = siaga(capsys, "--db", hub, "--flagged", "--site", "pandeglang")
    assert status == 2
    assert "no calls of site 'pandeglang' here (sites: cilegon, serang)" in err


def test_siaga_report_flagged_on_a_box_has_no_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = CallLog(tmp_path / "calls.db")
    log.open()
    detail = {"caller": "+6281234567890", "level": 3, "junk_24h": 10, "until_ts": UNTIL}
    log.add_event("supervisor_flag", detail=detail, ts=START)
    assert log.flush()
    log.close()
    box = str(tmp_path / "calls.db")
    status, out, _ = siaga(capsys, "--db", box, "--flagged", "--csv")
    assert status == 0
    (row,) = csv.DictReader(io.StringIO(out))
    assert list(row) == ["flagged_at", "caller", "level", "junk_24h", "restricted_until"]
    status, _, err = siaga(capsys, "--db", box, "--flagged", "--site", "serang")
    assert status == 2
    assert "none: this is not a hub's database" in err
