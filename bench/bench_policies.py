"""Benchmark: Siaga's policy against the reference policies, on the same generated month.

Runs `siaga simulate` (the real appliance on virtual modems, virtual clock) once per
configuration on one scenario and prints a Markdown table: incidents and junk reaching
operators, genuine callers' delay, operator and line time spent on junk, wall time.

    .venv/bin/python bench/bench_policies.py [--days 30] [--seed 112] [--out table.md]

The reference policies are plain configuration files in docs/policies/: no screening,
today's practice (block for a day after 3 pranks in a day) and challenge-everybody. The
default lines are mixed (SIM7600 and EC25 first, which hear the caller; see
appliance/simulate.py); one row puts Siaga on SIM800 lines, which cannot.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from appliance.config import Config, load_config
from appliance.month import generate
from appliance.simulate import SimulationOptions, run_simulation

ROOT = Path(__file__).resolve().parents[1]
POLICIES_DIR = ROOT / "docs" / "policies"


def _policies() -> list[tuple[str, Config, str]]:
    """(name, configuration, modem family of the lines) for each row."""
    no_warning = Config.model_validate({"challenge": {"warn_reported": False}})
    return [
        ("no screening", load_config(POLICIES_DIR / "no-screening.toml"), "mixed"),
        (
            "today's practice (block after 3 pranks a day)",
            load_config(POLICIES_DIR / "todays-practice.toml"),
            "mixed",
        ),
        ("challenge everybody", load_config(POLICIES_DIR / "challenge-everybody.toml"), "mixed"),
        ("**Siaga defaults**", Config(), "mixed"),
        ("Siaga defaults, no warning and hold for reported numbers", no_warning, "mixed"),
        ("Siaga defaults on SIM800 lines only (nothing hears the caller)", Config(), "sim800"),
    ]


def _row(name: str, result: dict[str, Any]) -> str:
    p50, p95 = result["genuine_delay_p50_s"], result["genuine_delay_p95_s"]
    return (
        f"| {name} | {result['incidents_reached']} of {result['incidents']} "
        f"| {result['junk_reached_pct']:.1f} % ({result['junk_reached']}) "
        f"| {p50} s / {p95} s "
        f"| {result['junk_operator_seconds'] / 3600:.0f} h "
        f"| {result['junk_line_seconds'] / 3600:.0f} h "
        f"| {result['wall_seconds']:.0f} s |"
    )


def main() -> int:
    """Run every policy on the same month and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    calls = generate(days=args.days, seed=args.seed)
    genuine = sum(call.truth == "genuine" for call in calls)
    lines = [
        f"{len(calls)} calls over {args.days} days (seed {args.seed}), {genuine} genuine; "
        "4 lines, 4 operators answering after 5 s.",
        "",
        "| policy | incidents reaching an operator | junk reaching operators "
        "| genuine delay p50 / p95 | operator time on junk | line time on junk | wall time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as work:
        for index, (name, config, family) in enumerate(_policies()):
            db = Path(work) / f"policy{index}.db"
            options = SimulationOptions(config=config, family=family)
            result = run_simulation(calls, db, options)
            lines.append(_row(name, result))
            print(lines[-1], file=sys.stderr, flush=True)
    table = "\n".join(lines) + "\n"
    sys.stdout.write(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
