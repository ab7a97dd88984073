"""Benchmark: how long `decide_safely` takes with a large blocklist and a busy state.

Usage: .venv/bin/python bench/bench_decision.py [--entries 100000] [--calls 100000]

Builds a `PolicyState` with `--entries` block rules (95 % exact numbers, 5 % prefixes of
8-10 digits after +62), an allowlist of 50 agencies, and realistic per-number state: open
throttle windows, pranksters on every ladder level, immune numbers and passed challenges.
Then it times `decide_safely` for `--calls` callers drawn from blocklisted, allowlisted,
laddered, throttled, immune, unknown and withheld callers, each timed on its own with
`time.perf_counter_ns`, and prints p50/p99/max in microseconds and one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.model import Action, CallerNumber, ChallengeResult, NumberClass
from appliance.policy import PolicyState, decide_safely
from appliance.rules import Rule

T0 = 1_700_000_000.0
MOBILE_BLOCKS = ("811", "812", "813", "821", "822", "852", "855", "857", "877", "878", "895")


def random_mobile(rng: random.Random) -> str:
    return f"+62{rng.choice(MOBILE_BLOCKS)}{rng.randrange(10**8):08d}"


def number(e164: str) -> CallerNumber:
    return CallerNumber(raw=e164, e164=e164, number_class=NumberClass.NUMBER)


def build_rules(state: PolicyState, entries: int, rng: random.Random) -> list[str]:
    """Add `entries` block rules; returns some blocked numbers to call from."""
    blocked: list[str] = []
    actions = (Action.CHALLENGE, Action.CHALLENGE, Action.ANNOUNCE, Action.REJECT)
    for index in range(entries):
        if index % 20 == 19:  # number blocks of 10 to 1,000 numbers
            digits = rng.randint(8, 10)
            pattern = random_mobile(rng)[: 3 + digits]
            match = "prefix"
        else:
            pattern = random_mobile(rng)
            match = "exact"
            if len(blocked) < 10_000:
                blocked.append(pattern)
        expires = None if index % 3 else T0 + rng.uniform(-30, 30) * 86_400
        state.block.add(
            Rule(
                id=f"b{index}",
                kind="block",
                pattern=pattern,
                match=match,  # type: ignore[arg-type]
                action=actions[index % len(actions)],
                reason="bench",
                created_by="bench",
                created_at=T0 - 86_400,
                expires_at=expires,
            )
        )
    for index in range(50):
        state.allow.add(
            Rule(f"a{index}", "allow", f"+62254{index:06d}", "exact", Action.PASS, "agency",
                 "bench", T0, None)
        )  # fmt: skip
    return blocked


def build_history(state: PolicyState, rng: random.Random) -> dict[str, list[str]]:
    """Throttle windows, ladder levels, immunity and good history for thousands of numbers.

    The last 5 minutes hold fewer than `flood.max_calls_in_window` arrivals (unless
    `--flood`), as on a real centre's lines: four lines cannot take thousands of calls.
    """
    groups: dict[str, list[str]] = {"throttled": [], "laddered": [], "immune": [], "seen": []}
    # Callers of the last day, most of them outside any window; fed in time order, as the
    # state (like the line service) expects time not to run backwards.
    for at in sorted(T0 - rng.uniform(900, 86_400) for _ in range(10_000)):
        caller = number(random_mobile(rng))
        state.record_arrival(caller, at)
        if rng.random() < 0.2:
            state.record_challenge_result(caller, ChallengeResult.PASSED, at + 30)
        groups["seen"].append(caller.e164 or "")
    for _ in range(12):  # redialling without reaching an operator: 4-5 calls in 10 minutes
        caller = number(random_mobile(rng))
        for k in range(rng.randint(4, 5)):
            state.record_arrival(caller, T0 - 590 + k * 120)
        groups["throttled"].append(caller.e164 or "")
    for _ in range(2_000):  # pranksters on ladder levels 1-3
        caller = number(random_mobile(rng))
        for k in range(rng.choice((3, 6, 10, 12))):
            state.record_disposition(caller, rng.choice(("prank", "ghost")), T0 - 3_600 + k * 60)
        groups["laddered"].append(caller.e164 or "")
    for _ in range(1_000):  # genuine callers of the last month, some who passed a challenge
        caller = number(random_mobile(rng))
        state.record_disposition(caller, "genuine:fire", T0 - rng.uniform(0, 30) * 86_400)
        groups["immune"].append(caller.e164 or "")
    return groups


def pick_callers(
    calls: int, blocked: list[str], groups: dict[str, list[str]], rng: random.Random
) -> list[CallerNumber]:
    withheld = CallerNumber(raw=None, e164=None, number_class=NumberClass.WITHHELD)
    pools = [
        (0.10, blocked),
        (0.02, [f"+62254{i:06d}" for i in range(50)]),
        (0.15, groups["laddered"]),
        (0.10, groups["throttled"]),
        (0.08, groups["immune"]),
        (0.15, groups["seen"]),
    ]
    callers: list[CallerNumber] = []
    for _ in range(calls):
        draw = rng.random()
        for share, pool in pools:
            if draw < share:
                callers.append(number(rng.choice(pool)))
                break
            draw -= share
        else:
            callers.append(withheld if draw < 0.05 else number(random_mobile(rng)))
    return callers


def percentile(sorted_values: list[int], fraction: float) -> float:
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index] / 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000, help="block rules to load")
    parser.add_argument("--calls", type=int, default=100_000, help="decisions to time")
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--memory", action="store_true", help="also measure the index's memory")
    parser.add_argument("--flood", action="store_true", help="decide in flood mode")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after loading (keeps a million rules out of full GC passes)",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    if args.memory:
        tracemalloc.start()
    state = PolicyState()
    started = time.perf_counter()
    blocked = build_rules(state, args.entries, rng)
    build_s = time.perf_counter() - started
    memory_mb = tracemalloc.get_traced_memory()[0] / 1e6 if args.memory else None
    tracemalloc.stop()
    groups = build_history(state, rng)
    if args.flood:
        # A burst from one number block puts the state in flood mode with a hot prefix.
        for index in range(80):
            hot = f"+628123450{index:04d}"
            state.record_arrival(number(hot), T0 - 60 + index * 0.5)
            groups["seen"].append(hot)
    callers = pick_callers(args.calls, blocked, groups, rng)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()

    timings: list[int] = []
    actions: dict[str, int] = {}
    clock = time.perf_counter_ns
    for index, caller in enumerate(callers):
        now = T0 + index * 0.001
        before = clock()
        decision = decide_safely(caller, state, state.config, now)
        timings.append(clock() - before)
        actions[decision.reason.value] = actions.get(decision.reason.value, 0) + 1
    timings.sort()

    result = {
        "entries": len(state.block),
        "calls": len(timings),
        "build_s": round(build_s, 2),
        "p50_us": percentile(timings, 0.50),
        "p99_us": percentile(timings, 0.99),
        "max_us": timings[-1] / 1000.0,
        "mean_us": round(statistics.fmean(timings) / 1000.0, 3),
        "index_memory_mb": None if memory_mb is None else round(memory_mb, 1),
        "flood": state.flood_active,
        "gc_freeze": args.gc_freeze,
        "reasons": dict(sorted(actions.items())),
        "python": sys.version.split()[0],
    }
    print(
        f"{result['entries']} block rules, {result['calls']} decisions: "
        f"p50 {result['p50_us']:.1f} us, p99 {result['p99_us']:.1f} us, "
        f"max {result['max_us']:.1f} us (index built in {build_s:.1f} s)"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
