"""Siaga against no screening over a family of flood worlds: the typical and the worst case.

Each world (`appliance.floods.FloodWorld`) is one set of assumptions: the flood's shape
and rate, whether its callers press the key or make a sound, whether genuine callers
redial, press or only speak. Every world is simulated twice through the real appliance
on the virtual clock (4 lines, 4 operators): with the reference policy that screens
nothing (`docs/policies/no-screening.toml`) and with Siaga's defaults. Printed: one
Markdown row per world (genuine callers reaching an operator, incidents, line-seconds
per junk call, when flood mode came on), a summary with the worst case of each shape
beside its median, and what dismissing each flood's call-back entries would close and
keep, genuine and junk apart; `--json FILE` keeps every figure.

    .venv/bin/python bench/bench_worlds.py            # the flood sweep, about 8 minutes
    .venv/bin/python bench/bench_worlds.py --quick    # one world per shape
    .venv/bin/python bench/bench_worlds.py --months   # months of other populations, ~30 min

`--months` runs generated months (`appliance.month.MonthAssumptions`) with one
assumption moved at a time, and a month with a flood inside it: incidents reached live
and by an operator's call-back (apart), and junk reaching operators.

What is timed: nothing; the figures are outcomes, the same on any machine for a seed
(within the jitter of pseudo-terminal delivery, which can move a call by a few ms).
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, get_args

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from appliance.config import CallWaitingMode, load_config  # noqa: E402
from appliance.floods import (  # noqa: E402
    FloodShape,
    FloodWorld,
    expected_floor,
    flood_in_month,
    flood_scenario,
)
from appliance.month import MonthAssumptions, generate  # noqa: E402
from appliance.scenario import ScenarioCall, subscriber_key  # noqa: E402
from appliance.simulate import SimulationOptions, run_simulation  # noqa: E402
from appliance.store.callbacks import SERVICE_ACTOR, FloodEpisode, flood_list  # noqa: E402

NO_SCREENING = REPO_ROOT / "docs" / "policies" / "no-screening.toml"
RATES: dict[FloodShape, tuple[float, ...]] = {
    FloodShape.BLOCK: (0.5, 1.0, 2.0),
    FloodShape.SPREAD: (0.5, 1.0, 2.0),
    FloodShape.WITHHELD: (0.5, 1.2, 2.0),
    FloodShape.HAMMER: (1.0, 2.0),
    FloodShape.CREW: (1 / 6, 0.5),
}
# Assumptions swept one at a time around each shape's base world.
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "junk presses 15%": {"junk_press_share": 0.15},
    "junk speaks": {"junk_sound": "voice"},
    "junk rustles": {"junk_sound": "noise"},
    "no genuine redial": {"genuine_redials": 0},
    "genuine slow to press": {"genuine_key_after_s": (6.0, 12.0)},
    "a quarter of genuine only speak": {"genuine_no_key_share": 0.25},
    "impatient genuine": {"genuine_patience_s": (20.0, 45.0)},
}


MONTHS: dict[str, MonthAssumptions] = {
    "default month": MonthAssumptions(),
    "10 % of incidents silent and staying on": MonthAssumptions(genuine_silent_stays_share=0.1),
    "pranksters press the key 40 %": MonthAssumptions(prank_presses_prompt_key=0.4),
    "pocket dials with a voice 30 %": MonthAssumptions(pocket_voice_share=0.3),
    "genuine callers slow to press": MonthAssumptions(genuine_key_after_s=(6.0, 14.0)),
    "genuine callers impatient": MonthAssumptions(genuine_patience_s=(30.0, 60.0)),
    "a quarter of incidents only speak": MonthAssumptions(genuine_no_key_share=0.25),
}
MONTH_JUNK_TARGET_PCT = 10.0


def month_calls(label: str) -> list[ScenarioCall]:
    """The calls of one month of the sweep (or the month with a spread flood inside)."""
    if label == "flood inside the month":
        return flood_in_month(FloodWorld(shape=FloodShape.SPREAD, rate_per_s=1.0, seed=11))
    return generate(assumptions=MONTHS[label])


def sides(siaga: SimulationOptions) -> tuple[tuple[str, SimulationOptions], ...]:
    """The two centres compared: no screening (its lines release a waiting caller busy,
    as a line without call waiting would: the contract's "lost busy") and Siaga."""
    no_screening = SimulationOptions(
        config=load_config(NO_SCREENING),
        line_call_waiting="reject",
        waiting_patience_s=siaga.waiting_patience_s,
    )
    return (("none", no_screening), ("siaga", siaga))


def run_month(label: str, siaga: SimulationOptions) -> dict[str, Any]:
    """Both policies on one month; the figures a row needs."""
    calls = month_calls(label)
    figures: dict[str, Any] = {"month": label}
    with tempfile.TemporaryDirectory() as folder:
        for name, options in sides(siaga):
            result = run_simulation(calls, Path(folder) / f"{name}.db", options)
            figures[name] = {
                key: result.get(key)
                for key in (
                    "incidents",
                    "incidents_reached",
                    "incidents_called_back",
                    "junk_reached_pct",
                    "call_backs_made",
                )
            }
            figures[name]["junk_line_s_per_call"] = round(
                result["junk_line_seconds"] / max(1, result["junk_calls"]), 1
            )
    return figures


def months_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| month | incidents: Siaga live | + by call-back | no screening | junk reaching "
        "operators: Siaga | no screening | junk line-s/call: Siaga | no screening | "
        "call-backs made |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        siaga, none = row["siaga"], row["none"]
        lines.append(
            f"| {row['month']} | {siaga['incidents_reached']}/{siaga['incidents']} | "
            f"{siaga['incidents_called_back']} | {none['incidents_reached']}/{none['incidents']} | "
            f"{siaga['junk_reached_pct']} % | {none['junk_reached_pct']} % | "
            f"{siaga['junk_line_s_per_call']} | {none['junk_line_s_per_call']} | "
            f"{siaga['call_backs_made']} |"
        )
    return lines


def run_months(jobs: int, siaga: SimulationOptions) -> int:
    from concurrent.futures import ProcessPoolExecutor

    labels = [*MONTHS, "flood inside the month"]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(run_month, labels, [siaga] * len(labels)))
    print("\n".join(months_table(rows)))
    failures = 0
    for row in rows:
        siaga, none = row["siaga"], row["none"]
        reached = siaga["incidents_reached"] + siaga["incidents_called_back"]
        if reached < siaga["incidents"] or siaga["incidents_reached"] < none["incidents_reached"]:
            failures += 1
        if siaga["junk_reached_pct"] >= MONTH_JUNK_TARGET_PCT:
            failures += 1
    return 1 if failures else 0


def worlds(quick: bool) -> list[tuple[str, FloodWorld]]:
    """(label, world) for every point of the sweep."""
    found: list[tuple[str, FloodWorld]] = []
    for shape, rates in RATES.items():
        base = FloodWorld(shape=shape, seed=11)
        if shape is FloodShape.CREW:
            base = base.with_(duration_s=1800.0, junk_press_share=1.0, genuine_callers=6)
        for rate in rates[-1:] if quick else rates:
            for variant, changes in VARIANTS.items():
                if quick and variant != "base":
                    continue
                if shape is FloodShape.CREW and "junk_press_share" in changes:
                    continue  # a crew always presses
                world = base.with_(rate_per_s=rate, **changes)
                found.append((f"{shape} {rate:.2g}/s, {variant}", world))
    return found


def run_world(
    world: FloodWorld, folder: Path, siaga: SimulationOptions | None = None
) -> dict[str, Any]:
    """Both policies on one world; the figures a row needs. `siaga`: how Siaga's side
    is built (its defaults without it)."""
    calls = flood_scenario(world)
    start = min(call.at for call in calls if call.truth != "genuine").timestamp()
    figures: dict[str, Any] = {}
    for name, options in sides(siaga or SimulationOptions()):
        db = folder / f"{name}.db"
        for stale in folder.glob(f"{name}.db*"):
            stale.unlink()
        result = run_simulation(calls, db, options)
        handled_junk = result["junk_calls"] - _junk_lost_busy(calls, result)
        figures[name] = {
            "incidents": result["incidents"],
            "reached": result["incidents_reached"],
            "junk_reached": result["junk_reached"],
            "junk_line_s_per_call": round(result["junk_line_seconds"] / max(1, handled_junk), 1),
            "flood_on_after_s": (
                round(result["flood_periods"][0]["on_ts"] - start, 1)
                if result["flood_periods"]
                else None
            ),
        }
    figures["call_back_list"] = list_after_flood(folder / "siaga.db", calls)
    figures["floor"] = expected_floor(world)
    return figures


def list_after_flood(db: Path, calls: list[ScenarioCall]) -> dict[str, int]:
    """What dismissing the flood's call-back entries would do on Siaga's database: the
    genuine and junk entries it closes and keeps, and the entries the service closed
    itself because their caller got through."""
    truth = {subscriber_key(call.caller): call.truth for call in calls if call.caller}
    counts = dict.fromkeys(
        ("genuine dismissed", "genuine kept", "junk dismissed", "junk kept", "closed reached"), 0
    )
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        started = conn.execute("SELECT min(ts) FROM events WHERE kind = 'flood_on'").fetchone()[0]
        counts["closed reached"] = conn.execute(
            "SELECT count(*) FROM callbacks WHERE status = 'done' AND status_by = ?",
            [SERVICE_ACTOR],
        ).fetchone()[0]
        if started is None:
            return counts
        ended = conn.execute(
            "SELECT max(ts) FROM events WHERE kind = 'flood_off' AND ts > ?", [started]
        ).fetchone()[0]
        split = flood_list(conn, FloodEpisode(started, ended or float("inf")))
    finally:
        conn.close()
    for verb, entries in (("dismissed", split.dismissable), ("kept", split.kept)):
        for entry in entries:
            who = "genuine" if truth.get(subscriber_key(entry["caller"])) == "genuine" else "junk"
            counts[f"{who} {verb}"] += 1
    return counts


def list_summary(rows: list[tuple[str, FloodWorld, dict[str, Any]]]) -> str:
    """The call-back list after the floods, every world together."""
    totals: dict[str, int] = {}
    for _, _, figures in rows:
        for key, count in figures["call_back_list"].items():
            totals[key] = totals.get(key, 0) + count
    return "call-back entries after the floods (dismissing them): " + ", ".join(
        f"{key} {count}" for key, count in totals.items()
    )


def siaga_options(args: argparse.Namespace) -> SimulationOptions:
    """Siaga's side as the command line sets it (its defaults otherwise)."""
    changes: dict[str, Any] = {}
    if args.config is not None:
        changes["config"] = load_config(args.config)
    if args.call_waiting is not None:
        changes["line_call_waiting"] = args.call_waiting
    if args.waiting_patience is not None:
        changes["waiting_patience_s"] = args.waiting_patience
    return SimulationOptions(**changes)


def _junk_lost_busy(calls: list[Any], result: dict[str, Any]) -> int:
    """Junk calls lost busy (the score counts all calls lost busy)."""
    genuine_lost_busy = int(result.get("genuine_lost_busy", 0))
    return int(result["lost_busy"]) - genuine_lost_busy


def summary(rows: list[tuple[str, FloodWorld, dict[str, Any]]]) -> list[str]:
    """Per shape: the median and the worst share of incidents reached, both policies."""
    lines = [
        "| shape | worlds | Siaga median | Siaga worst | no screening median | "
        "no screening worst | worlds below no screening | worlds below the floor |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for shape in FloodShape:
        mine = [(w, f) for _, w, f in rows if w.shape is shape]
        if not mine:
            continue
        siaga = [f["siaga"]["reached"] / f["siaga"]["incidents"] for _, f in mine]
        none = [f["none"]["reached"] / f["none"]["incidents"] for _, f in mine]
        below = sum(1 for _, f in mine if f["siaga"]["reached"] < f["none"]["reached"])
        under_floor = sum(1 for _, f in mine if f["siaga"]["reached"] < f["floor"])
        lines.append(
            f"| {shape} | {len(mine)} | {statistics.median(siaga):.0%} | {min(siaga):.0%} | "
            f"{statistics.median(none):.0%} | {min(none):.0%} | {below} | {under_floor} |"
        )
    return lines


def table(rows: list[tuple[str, FloodWorld, dict[str, Any]]]) -> list[str]:
    lines = [
        "| world | incidents reached: Siaga | no screening | floor | junk line-s/call: "
        "Siaga | no screening | flood mode on after |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, _, figures in rows:
        siaga, none = figures["siaga"], figures["none"]
        on = siaga["flood_on_after_s"]
        lines.append(
            f"| {label} | {siaga['reached']}/{siaga['incidents']} | "
            f"{none['reached']}/{none['incidents']} | {figures['floor']} | "
            f"{siaga['junk_line_s_per_call']} | {none['junk_line_s_per_call']} | "
            f"{'never' if on is None else f'{on:.0f} s'} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one world per shape")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--months", action="store_true", help="the month family instead")
    parser.add_argument("--jobs", type=int, default=2, help="months simulated at once")
    parser.add_argument("--only", help="only the worlds whose label contains this text")
    parser.add_argument(
        "--config", type=Path, help="Siaga's configuration file (a setting swept by hand)"
    )
    parser.add_argument(
        "--call-waiting",
        choices=get_args(CallWaitingMode),
        help="what Siaga's lines do with a caller who finds them busy (default: the lines')",
    )
    parser.add_argument(
        "--waiting-patience",
        type=float,
        help="seconds a caller stays waiting on a busy line, both centres (default 20)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    siaga = siaga_options(args)
    if args.months:
        return run_months(args.jobs, siaga)
    rows: list[tuple[str, FloodWorld, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as folder:
        for label, world in worlds(args.quick):
            if args.only and args.only not in label:
                continue
            rows.append((label, world, run_world(world, Path(folder), siaga)))
            print(table(rows)[-1], file=sys.stderr, flush=True)
    print("\n".join(summary(rows)))
    print()
    print(list_summary(rows))
    print()
    print("\n".join(table(rows)))
    if args.json is not None:
        args.json.write_text(json.dumps([{"world": label, **f} for label, _, f in rows], indent=1))
    failures = sum(
        1
        for _, _, f in rows
        if f["siaga"]["reached"] < f["none"]["reached"] or f["siaga"]["reached"] < f["floor"]
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
