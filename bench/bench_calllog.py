"""Benchmark: call-log throughput and commit latency with the durability settings in use.

Usage: .venv/bin/python bench/bench_calllog.py [--calls 20000] [--latency-calls 300]

The real `appliance.store.CallLog` on a SQLite file (WAL, synchronous=FULL: one fsync per
group commit, its single writer thread), fed what a line feeds it for one call: a start
row (`call_started`, the fields `Line._start_fields` writes), one update (operator
contact) and the end (`ended_ts`, `end_cause`, `line_seconds`). Two figures:

- throughput: `--calls` calls enqueued as fast as one thread can, then `flush()`; calls
  per second from the first enqueue to the last commit (the writer groups up to 500 items
  per transaction, so this is what the log sustains under a flood);
- commit latency: `--latency-calls` calls one at a time, each followed by
  `when_committed()`; the time from enqueueing the call's end to its commit being on disk
  (one transaction and one fsync each: the latency an operator desk waits for before it is
  told a call ended, on a quiet system).

The file lives in `--dir` (default: var/bench, the disk the big databases use) and is
deleted afterwards. Prints a line and one JSON line.
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

from appliance.store import CallLog

logger = logging.getLogger("bench.calllog")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "var" / "bench"
T0 = 1_717_200_000.0  # 2024-06-01 07:00 WIB


def _percentile(ordered: Sequence[float], pct: float) -> float:
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * pct // 100))
    return float(ordered[int(rank) - 1])


def _write_call(log: CallLog, index: int) -> None:
    """One call's three writes, as a line hands them over (start, operator, end)."""
    call_id = log.new_call_id()
    started = T0 + index * 7.0
    log.call_started(
        call_id,
        {
            "line": f"line{index % 8 + 1}",
            "desk": f"desk{index % 8 + 1}",
            "caller_raw": f"0812{index % 1_000_000:08d}",
            "caller": f"+62812{index % 1_000_000:08d}",
            "number_class": "number",
            "started_ts": started,
            "decision": "pass",
            "reason": "default",
            "rule": None,
            "decision_us": 12,
            "reached_operator": 0,
            "scenario_ref": None,
        },
    )
    log.call_updated(
        call_id, {"reached_operator": 1, "operator_ts": started + 5.0, "operator": "op1"}
    )
    log.call_updated(
        call_id, {"ended_ts": started + 65.0, "end_cause": "caller_hung_up", "line_seconds": 65.0}
    )


def run(calls: int, latency_calls: int, directory: Path) -> dict[str, Any]:
    """Both measurements on one fresh database file; returns the figures."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calllog-", dir=directory) as tmp:
        log = CallLog(Path(tmp) / "calllog.db")
        log.open()
        try:
            started = time.perf_counter()
            for index in range(calls):
                _write_call(log, index)
            if not log.flush(300.0):
                raise RuntimeError("the call log did not commit within 300 s")
            throughput_s = time.perf_counter() - started
            commits_bulk = log.stats.commits

            latencies_ms: list[float] = []
            for index in range(calls, calls + latency_calls):
                _write_call(log, index)
                enqueued = time.perf_counter()
                log.when_committed().result(30.0)
                latencies_ms.append((time.perf_counter() - enqueued) * 1000.0)
            stats = log.stats
        finally:
            log.close()
    if stats.dropped or stats.failing:
        raise RuntimeError(f"call log dropped writes: {stats}")
    latencies_ms.sort()
    return {
        "bench": "calllog",
        "calls": calls,
        "rows_written": 3 * calls,
        "calls_per_s": round(calls / throughput_s),
        "throughput_s": round(throughput_s, 3),
        "commits_under_load": commits_bulk,
        "latency_calls": latency_calls,
        "commit_p50_ms": round(_percentile(latencies_ms, 50), 3),
        "commit_p99_ms": round(_percentile(latencies_ms, 99), 3),
        "commit_max_ms": round(latencies_ms[-1], 3) if latencies_ms else 0.0,
        "durability": "WAL, synchronous=FULL",
        "python": sys.version.split()[0],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20_000, help="calls for throughput")
    parser.add_argument("--latency-calls", type=int, default=300, help="calls one at a time")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the file goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = run(args.calls, args.latency_calls, args.dir)
    print(
        f"call log: {result['calls_per_s']} calls/s ({result['calls']} calls, 3 writes each, "
        f"{result['commits_under_load']} commits); one call per commit: "
        f"p50 {result['commit_p50_ms']} ms, p99 {result['commit_p99_ms']} ms"
    )
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
