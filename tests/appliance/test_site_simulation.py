"""`siaga simulate --appliances N`: several real boxes of one site, sharing through the outbox.

Real parts throughout: virtual modems on pseudo-terminals, one real `LineService` per box,
each with its own `CallLog` on its own SQLite file, the outbox triggers of
`appliance.cluster`, and the site bridge that stands in for NATS. A prankster is judged
three times by box 1's operator; his next call, hunted to box 2 because box 1's only line
is busy, is restricted there (reason `abuse`) when the boxes share, and not when they do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from appliance.floods import FloodShape, FloodWorld, flood_scenario
from appliance.scenario import CallerAction, ScenarioCall, dump_scenario
from appliance.score import CONTRACT_KEYS
from appliance.simulate import SIMULATED_AUDIO_CHUNK_S, SimulationOptions, run_simulation
from appliance.site_simulation import (
    SiteOptions,
    box_db_path,
    run_site_simulation,
    split_evenly,
)
from appliance.store import open_readonly

REPO_ROOT = Path(__file__).resolve().parents[2]
WIB = timezone(timedelta(hours=7))
START = datetime(2024, 4, 3, 20, 0, tzinfo=WIB)
PRANKSTER = "081234500001"
PRANKSTER_E164 = "+6281234500001"
FILLER = "081298700002"
TWO_BOXES = SimulationOptions(lines=2, operators=2, family="ec25")


def _call(
    call_id: str, after_s: float, caller: str, truth: str, talk_s: float
) -> ScenarioCall:  # fmt: skip
    genuine = truth == "genuine"
    return ScenarioCall(
        id=call_id,
        at=START + timedelta(seconds=after_s),
        caller=caller,
        answer=CallerAction("?", 2.0, "voice"),
        hangup_after_s=120.0,
        talk_s=talk_s,
        disposition="genuine:fire" if genuine else "prank",
        truth="genuine" if genuine else "prank",
    )


def prankster_scenario() -> list[ScenarioCall]:
    """Three pranks on box 1 (the first free line), then a long genuine call holding box 1's
    line while the prankster calls again: the network hunts him to box 2."""
    return [
        _call("p-1", 0, PRANKSTER, "prank", 10.0),
        _call("p-2", 300, PRANKSTER, "prank", 10.0),
        _call("p-3", 600, PRANKSTER, "prank", 10.0),
        _call("g-1", 900, FILLER, "genuine", 300.0),
        _call("p-4", 930, PRANKSTER, "prank", 10.0),
    ]


def _row(db_path: Path, scenario_ref: str) -> dict[str, Any] | None:
    connection = open_readonly(db_path)
    try:
        cursor = connection.execute(
            "SELECT line, decision, reason, rule FROM calls WHERE scenario_ref = ?", [scenario_ref]
        )
        found = cursor.fetchone()
        names = [column[0] for column in cursor.description]
    finally:
        connection.close()
    return None if found is None else dict(zip(names, found, strict=True))


def _peer_verdicts(db_path: Path, caller: str) -> list[tuple[str, str]]:
    """(origin, verdict) of every peer verdict the box keeps on `caller`."""
    connection = open_readonly(db_path)
    try:
        rows = connection.execute(
            "SELECT origin, value FROM peer_facts WHERE kind = 'verdict' AND caller = ?"
            " ORDER BY id",
            [caller],
        ).fetchall()
    finally:
        connection.close()
    return [(row[0], row[1]) for row in rows]


def test_split_is_even_and_box_databases_sit_beside_the_first() -> None:
    assert split_evenly(8, 2) == [4, 4]
    assert split_evenly(5, 3) == [2, 2, 1]
    with pytest.raises(ValueError, match="each needs one"):
        split_evenly(2, 3)
    assert box_db_path(Path("var/month.db"), 0) == Path("var/month.db")
    assert box_db_path(Path("var/month.db"), 3) == Path("var/month-box4.db")


def test_pranks_judged_on_box_1_restrict_the_number_on_box_2(tmp_path: Path) -> None:
    db_path = tmp_path / "site.db"
    result = run_site_simulation(prankster_scenario(), db_path, TWO_BOXES, SiteOptions(2))
    box1, box2 = db_path, box_db_path(db_path, 1)
    assert [(_row(box1, f"p-{n}") or {}).get("line") for n in (1, 2, 3)] == ["line1"] * 3
    assert _row(box1, "p-4") is None
    on_box2 = _row(box2, "p-4")
    assert on_box2 is not None and on_box2["line"] == "line2"
    assert on_box2["reason"] == "abuse", on_box2
    assert _peer_verdicts(box2, PRANKSTER_E164) == [("box1", "prank")] * 3
    assert result["shared"] is True
    figures = {box["appliance"]: box for box in result["appliances"]}
    assert figures["box2"]["restricted_abuse"] == 1 and figures["box2"]["calls"] == 1
    assert figures["box1"]["facts_sent"] == figures["box2"]["facts_received"] >= 3
    assert result["genuine_reached"] == 1 and result["calls_total"] == 5


def test_without_sharing_box_2_knows_nothing_of_the_pranks(tmp_path: Path) -> None:
    db_path = tmp_path / "site.db"
    site = SiteOptions(2, shared=False)
    result = run_site_simulation(prankster_scenario(), db_path, TWO_BOXES, site)
    box2 = box_db_path(db_path, 1)
    on_box2 = _row(box2, "p-4")
    assert on_box2 is not None and on_box2["line"] == "line2"
    assert on_box2["reason"] != "abuse", on_box2
    assert _peer_verdicts(box2, PRANKSTER_E164) == []
    connection = open_readonly(db_path)
    try:
        assert connection.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    finally:
        connection.close()
    assert result["shared"] is False
    assert all(box["facts_sent"] == 0 for box in result["appliances"])


def _same_score(site: dict[str, Any], before: dict[str, Any], calls: int) -> list[str]:
    """Keys whose values differ: counts exactly, seconds by more than one audio chunk a
    call (pseudo-terminal delivery may end a call one chunk later in one run than in
    another, the one-box simulation alike)."""
    ignored = {"wall_seconds", "shared", "appliances", "flood_periods"}
    differ = sorted((set(site) ^ set(before)) - ignored)
    for key in (set(site) & set(before)) - ignored:
        mine, theirs = site[key], before[key]
        if isinstance(mine, float) and isinstance(theirs, float):
            if abs(mine - theirs) > SIMULATED_AUDIO_CHUNK_S * calls:
                differ.append(key)
        elif mine != theirs:
            differ.append(key)
    return differ


def test_one_appliance_scores_as_the_one_box_simulation(tmp_path: Path) -> None:
    calls = prankster_scenario()
    before = run_simulation(calls, tmp_path / "one.db", TWO_BOXES)
    site = run_site_simulation(calls, tmp_path / "site.db", TWO_BOXES, SiteOptions(1))
    assert list(site)[: len(CONTRACT_KEYS)] == list(CONTRACT_KEYS)
    assert _same_score(site, before, len(calls)) == [], (site, before)
    assert site["incidents_reached"] == 1 and site["junk_reached"] == before["junk_reached"]
    assert site["shared"] is False and len(site["appliances"]) == 1


def test_cli_splits_the_lines_and_refuses_an_existing_box_database(tmp_path: Path) -> None:
    scenario = tmp_path / "s.jsonl"
    dump_scenario(prankster_scenario(), scenario)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "web_ui.cli", "simulate", "--scenario", str(scenario)]
    command += ["--db", "site.db", "--lines", "2", "--operators", "2", "--family", "ec25"]
    done = subprocess.run(
        [*command, "--appliances", "2", "--no-shared"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    score = json.loads(done.stdout)
    assert [box["lines"] for box in score["appliances"]] == [["line1"], ["line2"]]
    assert score["shared"] is False and (tmp_path / "site-box2.db").exists()
    (tmp_path / "site.db").unlink()
    again = subprocess.run(
        [*command, "--appliances", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert again.returncode != 0 and "site-box2.db exists" in again.stderr


@pytest.mark.slow  # a 15-minute flood on two boxes of four lines, twice: about 10 s
def test_the_second_box_follows_the_first_boxs_flood_mode_when_they_share(
    tmp_path: Path,
) -> None:
    """A withheld flood fills box 1's lines and spills onto box 2. Sharing, box 2 enters
    flood mode on box 1's word (reason `site: box1 in flood mode`), before its own lines
    would tell it, and less junk line time is spent there than apart."""
    calls = flood_scenario(FloodWorld(shape=FloodShape.WITHHELD, rate_per_s=1.0, seed=3))
    options = SimulationOptions(lines=8, operators=4)
    shared = run_site_simulation(calls, tmp_path / "shared.db", options, SiteOptions(2))
    apart = run_site_simulation(calls, tmp_path / "apart.db", options, SiteOptions(2, shared=False))
    box2 = [p for p in shared["flood_periods"] if p["appliance"] == "box2"]
    assert box2 and box2[0]["reason"] == "site: box1 in flood mode"
    assert not any(p["reason"].startswith("site:") for p in apart["flood_periods"])
    first_shared = min(p["on_ts"] for p in box2)
    first_apart = min(
        (p["on_ts"] for p in apart["flood_periods"] if p["appliance"] == "box2"),
        default=float("inf"),
    )
    assert first_shared < first_apart
    assert shared["junk_line_seconds"] < apart["junk_line_seconds"]
    assert shared["genuine_reached"] >= apart["genuine_reached"]
