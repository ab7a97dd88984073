"""Benchmark: how fast `siaga simulate` replays traffic (simulated days per wall second).

Usage: .venv/bin/python bench/bench_simulation.py [--days 30] [--seed 112]

Generates the default scenario (`appliance.month.generate`: Serang-like traffic, 173
calls a day) and runs it through `appliance.simulate.run_simulation` with the default
options (4 mixed lines, 4 operators answering after 5 s: the real appliance, real AT
over pseudo-terminals, real SQLite, on a virtual clock), as `siaga simulate` does.
Wall time is measured around `run_simulation` alone (scenario generation is reported
apart). Target: a simulated month (30 days) in under 30 s; a shorter `--days` run reports
the month extrapolated from its rate. Prints a line and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.month import generate
from appliance.simulate import SimulationOptions, run_simulation

TARGET_MONTH_S = 30.0


def run(days: int, seed: int = 112) -> dict[str, Any]:
    """Generate and replay `days` of default traffic; return the speed figures."""
    before = time.perf_counter()
    calls = generate(days=days, seed=seed)
    generate_s = time.perf_counter() - before
    with tempfile.TemporaryDirectory(prefix="siaga-sim-") as tmp:
        before = time.perf_counter()
        score = run_simulation(calls, Path(tmp) / "sim.db", SimulationOptions())
        wall_s = time.perf_counter() - before
    simulated_days = (calls[-1].at - calls[0].at).total_seconds() / 86_400
    days_per_s = simulated_days / wall_s
    return {
        "bench": "simulation",
        "days": days,
        "seed": seed,
        "calls": len(calls),
        "simulated_days": round(simulated_days, 2),
        "generate_s": round(generate_s, 2),
        "wall_s": round(wall_s, 2),
        "days_per_s": round(days_per_s, 3),
        "month_s": round(30 / days_per_s, 1),
        "target_month_s": TARGET_MONTH_S,
        "incidents_reached": f"{score['incidents_reached']} of {score['incidents']}",
        "junk_reached_pct": score["junk_reached_pct"],
        "python": sys.version.split()[0],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=112)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    result = run(args.days, args.seed)
    print(
        f"{result['calls']} calls over {result['simulated_days']} days in {result['wall_s']} s: "
        f"{result['days_per_s']} simulated days/s, a month in {result['month_s']} s"
    )
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
