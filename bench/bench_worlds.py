"""Siaga against no screening over a family of flood worlds: the typical and the worst case.

Each world (`appliance.floods.FloodWorld`) is one set of assumptions: the flood's shape
and rate, whether its callers press the key or make a sound, whether genuine callers
redial, press or only speak. Every world is simulated twice through the real appliance
on the virtual clock (4 lines, 4 operators): with the reference policy that screens
nothing (`docs/policies/no-screening.toml`) and with Siaga's defaults. Printed: one
Markdown row per world (genuine callers reaching an operator, incidents, line-seconds
per junk call, when flood mode came on) and a summary with the worst case of each shape
beside its median; `--json FILE` keeps every figure.

    .venv/bin/python bench/bench_worlds.py            # the sweep, about 3 minutes
    .venv/bin/python bench/bench_worlds.py --quick    # one world per shape

What is timed: nothing; the figures are outcomes, the same on any machine for a seed
(within the jitter of pseudo-terminal delivery, which can move a call by a few ms).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from appliance.config import load_config  # noqa: E402
from appliance.floods import FloodShape, FloodWorld, expected_floor, flood_scenario  # noqa: E402
from appliance.simulate import SimulationOptions, run_simulation  # noqa: E402

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


def run_world(world: FloodWorld, folder: Path) -> dict[str, Any]:
    """Both policies on one world; the figures a row needs."""
    calls = flood_scenario(world)
    start = min(call.at for call in calls if call.truth != "genuine").timestamp()
    figures: dict[str, Any] = {}
    for name, options in (
        ("none", SimulationOptions(config=load_config(NO_SCREENING))),
        ("siaga", SimulationOptions()),
    ):
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
    figures["floor"] = expected_floor(world)
    return figures


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
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows: list[tuple[str, FloodWorld, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as folder:
        for label, world in worlds(args.quick):
            rows.append((label, world, run_world(world, Path(folder))))
            print(table(rows)[-1], file=sys.stderr, flush=True)
    print("\n".join(summary(rows)))
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
