"""A province hub's report per site: `siaga report --site` counts that site's calls only.

The hub's database is made as `siaga hub` makes it (migrations, then `store_call` for
each site's call records); the report is read through the library and the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.cluster.hub import store_call
from appliance.report import report, sites
from appliance.store.db import connect_writer, immediate, open_readonly

ZONE = ZoneInfo("Asia/Jakarta")
REPO_ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 3, 9, 0, tzinfo=ZONE).timestamp()
CALLS = {  # site: dispositions of its calls (None: nobody recorded one)
    "serang": ["prank", "ghost", "genuine:fire"],
    "cilegon": ["prank", None],
}


def hub_database(path: Path) -> Path:
    db = connect_writer(path)
    try:
        with immediate(db):
            for site, dispositions in CALLS.items():
                for number, disposition in enumerate(dispositions, start=1):
                    call = {
                        "id": number, "line": "line1", "caller": f"+6281200000{number:03d}",
                        "caller_raw": f"081200000{number:03d}", "number_class": "number",
                        "started_ts": START + number * 60, "ended_ts": START + number * 60 + 30,
                        "decision": "pass", "reason": "no_history", "disposition": disposition,
                        "reached_operator": disposition is not None,
                    }  # fmt: skip
                    assert store_call(db, site, "box1", call, ZONE)
    finally:
        db.close()
    return path


def totals(path: Path, site: str | None) -> dict[str, float]:
    conn = open_readonly(path)
    try:
        found = report(
            conn, since_ts=0, until_ts=4_102_444_800.0, period="month",
            timezone="Asia/Jakarta", site=site,
        )  # fmt: skip
    finally:
        conn.close()
    return found.totals.figures


def test_each_sites_figures_are_its_own_and_add_up_to_the_province(tmp_path: Path) -> None:
    hub = hub_database(tmp_path / "hub.db")
    conn = open_readonly(hub)
    assert sites(conn) == ["cilegon", "serang"]
    conn.close()
    serang, cilegon, province = totals(hub, "serang"), totals(hub, "cilegon"), totals(hub, None)
    assert (serang["calls"], serang["prank"], serang["ghost"], serang["valid"]) == (3, 1, 1, 1)
    assert (cilegon["calls"], cilegon["prank"], cilegon["valid"]) == (2, 1, 0)
    for column in ("calls", "prank", "ghost", "valid", "reached_operator"):
        assert province[column] == serang[column] + cilegon[column], column


@pytest.mark.server  # the `siaga` program
@pytest.mark.slow
def test_siaga_report_site_on_the_command_line(tmp_path: Path) -> None:
    hub = hub_database(tmp_path / "hub.db")

    def siaga(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "web_ui.cli", "report", "--db", str(hub), *args],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )  # fmt: skip

    shown = siaga("--site", "serang")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Calls per month (serang, Asia/Jakarta)")
    assert "2026-11      3" in shown.stdout
    refused = siaga("--site", "pandeglang")
    assert refused.returncode == 2
    assert "no calls of site 'pandeglang' here (sites: cilegon, serang)" in refused.stderr
