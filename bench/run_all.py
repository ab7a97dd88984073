"""Run every benchmark once and print one Markdown table, each figure beside its target.

Usage:
    .venv/bin/python bench/run_all.py [--quick] [--out docs/benchmarks.md]

Each benchmark runs as its own script in its own process (`.venv/bin/python bench/X.py
...`), exactly as it runs alone, and hands its figures back as the JSON line it prints;
so one benchmark's memory, threads or garbage never weigh on the next one. In order:

| script | what |
| --- | --- |
| bench_clip_to_action.py | +CLIP to action, Siaga, 1, 8 and 32 lines ringing at once |
| bench_gsmmodem.py | the same for stock python-gsmmodem-new (the reference, ratio) |
| bench_decision.py | the decision alone with 1 thousand, 100 thousand and 1 million rules |
| bench_calllog.py | call-log throughput and commit latency (WAL, synchronous=FULL) |
| bench_queries.py | call search, monthly report, console snapshot at 1 M (and 10 M) rows |
| bench_web_pages.py | call log, report and console pages over HTTP at 2 M rows, p95 |
| bench_simulation.py | simulated days per wall second on the default scenario |
| bench_memory.py | RSS of the line service (8 lines, 100,000 rules) and of `siaga web` |

`--quick` runs reduced sizes (50 rounds instead of 200, 1 M rows only, 7 simulated days
instead of 30, fewer repetitions) as a smoke run of 1-2 minutes once the 1 M-row
database is cached in var/bench/ (building it takes about 20 s). The full run took 6.3
minutes with the databases cached and about 12 the first time (the 10 M-row database
takes 3-4 minutes to build and 4.2 GB of disk), on a 2-core VM.

`--out FILE` also writes the table, with the machine, Python and SQLite versions, the
date, the exact command and the run time, to FILE. If FILE already has the markers
`<!-- bench:begin -->` and `<!-- bench:end -->`, only the text between them is replaced,
so the notes written around it stay. The exit status is 0 when every benchmark ran,
whether or not its target was met (the table says which).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger("bench.run_all")

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
BENCH_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs."""

    rounds: int
    decision_calls: int
    calllog_calls: int
    latency_calls: int
    query_rows: tuple[int, ...]
    query_repeat: int
    web_repeat: int
    sim_days: int


QUICK = Sizes(50, 20_000, 5_000, 100, (1_000_000,), 5, 10, 7)
FULL = Sizes(200, 100_000, 20_000, 300, (1_000_000, 10_000_000), 10, 40, 30)


def run_script(script: str, *args: str) -> list[dict[str, Any]]:
    """Run `bench/<script> args` in its own process; the JSON lines it printed."""
    command = [sys.executable, str(BENCH / script), *args]
    logger.info("running %s", shlex.join(command[1:]))
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S, check=False
    )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not results:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"{script} printed no figures (exit status {done.returncode})")
    logger.info("%s done in %.0f s", script, time.perf_counter() - started)
    return results


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _us(value: float) -> str:
    return f"{value:.1f}"


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _rows_label(rows: int) -> str:
    return f"{rows // 1_000_000} M" if rows >= 1_000_000 else f"{rows:,}"


Row = tuple[str, str, str, str, str]  # what, figure, target, reference, ratio


def clip_rows(siaga: list[dict[str, Any]], stock: list[dict[str, Any]]) -> list[Row]:
    """+CLIP to action: Siaga beside stock python-gsmmodem-new, per line count."""
    by_lines = {result["lines"]: result for result in stock}
    rows: list[Row] = []
    for result in siaga:
        lines = result["lines"]
        figure = (
            f"p50 {_ms(result['p50_ms'])} / p99 {_ms(result['p99_ms'])} / "
            f"max {_ms(result['max_ms'])} ms"
        )
        target = "-"
        if lines == 32:
            met = result["p99_ms"] <= result["target_p99_ms"]
            target = f"p99 <= {result['target_p99_ms']:g} ms: {_verdict(met)}"
        reference = ratio = "-"
        if lines in by_lines:
            ref = by_lines[lines]
            reference = (
                f"p50 {_ms(ref['p50_ms'])} / p99 {_ms(ref['p99_ms'])} / max {_ms(ref['max_ms'])} ms"
            )
            ratio = (
                f"p50 {ref['p50_ms'] / result['p50_ms']:.1f}x, "
                f"p99 {ref['p99_ms'] / result['p99_ms']:.1f}x faster"
            )
        plural = "s" if lines > 1 else ""
        what = f"+CLIP to action, {lines} line{plural} at once ({result['calls']} calls)"
        rows.append((what, figure, target, reference, ratio))
    return rows


def decision_rows(results: list[dict[str, Any]]) -> list[Row]:
    """The decision alone, per blocklist size."""
    rows: list[Row] = []
    for result in results:
        entries = result["entries"]
        target = "-"
        if entries >= 1_000_000:
            target = f"p99 <= 50 us: {_verdict(result['p99_us'] <= 50.0)}"
        rows.append(
            (
                f"decision alone, {entries:,} block rules",
                f"p50 {_us(result['p50_us'])} / p99 {_us(result['p99_us'])} us",
                target,
                "-",
                "-",
            )
        )
    return rows


def calllog_rows(result: dict[str, Any]) -> list[Row]:
    """Call-log throughput and commit latency."""
    return [
        (
            "call log throughput (start + update + end per call, WAL, synchronous=FULL)",
            f"{result['calls_per_s']:,} calls/s",
            "-",
            "-",
            "-",
        ),
        (
            "call log commit latency, one call per commit (fsync each)",
            f"p50 {_ms(result['commit_p50_ms'])} / p99 {_ms(result['commit_p99_ms'])} ms",
            "-",
            "-",
            "-",
        ),
    ]


def query_rows(results: list[dict[str, Any]]) -> list[Row]:
    """Search, report and console snapshot per database size."""
    rows: list[Row] = []
    for result in results:
        size = _rows_label(result["rows"])
        search = result["search"]
        worst_name, worst = max(
            result["search_by_filter"].items(), key=lambda item: item[1]["p50_ms"]
        )
        rows.append(
            (
                f"call search ({len(result['search_by_filter'])} filter sets), {size} rows",
                f"p50 {_ms(search['p50_ms'])} / p99 {_ms(search['p99_ms'])} ms "
                f"(slowest: {worst_name}, p50 {_ms(worst['p50_ms'])} ms)",
                "-",
                "-",
                "-",
            )
        )
        month = result["report_month"]
        target = "-"
        if result["rows"] >= 10_000_000:
            met = month["p99_ms"] < result["target_report_ms"]
            target = f"< {result['target_report_ms']:g} ms: {_verdict(met)}"
        rows.append(
            (
                f"monthly report, one month ({result['report_month_rows']:,} calls), {size} rows",
                f"p50 {_ms(month['p50_ms'])} / p99 {_ms(month['p99_ms'])} ms",
                target,
                "-",
                "-",
            )
        )
        whole = result["report_all"]
        rows.append(
            (
                f"report by month over the whole log (`siaga report`), {size} rows",
                f"p50 {_ms(whole['p50_ms'])} / max {_ms(whole['max_ms'])} ms",
                "-",
                "-",
                "-",
            )
        )
        console = result["console"]
        rows.append(
            (
                f"console snapshot (8 lines, 2 callers waiting), {size} rows",
                f"p50 {_ms(console['p50_ms'])} / p99 {_ms(console['p99_ms'])} ms",
                "-",
                "-",
                "-",
            )
        )
    return rows


def simulation_rows(result: dict[str, Any]) -> list[Row]:
    """Simulation speed."""
    figure = (
        f"{result['days_per_s']:.2f} simulated days/s ({result['calls']:,} calls over "
        f"{result['simulated_days']:g} days in {result['wall_s']:.1f} s)"
    )
    met = result["month_s"] < result["target_month_s"]
    month = "a month" if result["days"] >= 30 else "a month (extrapolated)"
    target = (
        f"{month} in {result['month_s']:.0f} s, < {result['target_month_s']:g} s: {_verdict(met)}"
    )
    return [("simulation speed, default scenario", figure, target, "-", "-")]


def memory_rows(result: dict[str, Any]) -> list[Row]:
    """Resident memory of the two processes."""
    service = result["service"]
    web = result["web"]
    met = service["hwm_mb"] < service["target_mb"]
    return [
        (
            f"line service RSS, {service['lines']} lines, {service['rules']:,} block rules",
            f"VmRSS {service['rss_mb']:.0f} MB, peak (VmHWM) {service['hwm_mb']:.0f} MB",
            f"< {service['target_mb']:g} MB: {_verdict(met)}",
            "-",
            "-",
        ),
        (
            f"`siaga web` RSS after {web['requests']} requests",
            f"VmRSS {web['rss_mb']:.0f} MB, peak (VmHWM) {web['hwm_mb']:.0f} MB",
            "-",
            "-",
            "-",
        ),
    ]


def web_page_rows(result: dict[str, Any]) -> list[Row]:
    """p95 of each web page as a browser gets it, beside the target."""
    rows: list[Row] = []
    size = _rows_label(result["rows"])
    for page, figures in result["pages"].items():
        met = figures["p95_ms"] < result["target_p95_ms"]
        rows.append(
            (
                f"web page: {page} ({figures.get('views', len(figures['variants']))} views), "
                f"{size} rows",
                f"p50 {_ms(figures['p50_ms'])} / p95 {_ms(figures['p95_ms'])} ms",
                f"p95 < {result['target_p95_ms']:g} ms: {_verdict(met)}",
                "-",
                "-",
            )
        )
    year = result["pages"]["report"]["variants"].get("2024 by month")
    if year is not None:
        rows.append(
            (
                f"web page: report of a whole year by month, {size} rows (no target)",
                f"p50 {_ms(year['p50_ms'])} / p95 {_ms(year['p95_ms'])} ms",
                "-",
                "-",
                "-",
            )
        )
    return rows


def run_all(sizes: Sizes) -> tuple[list[Row], dict[str, Any]]:
    """Every benchmark, in order; the table rows and the raw figures."""
    rounds = str(sizes.rounds)
    raw: dict[str, Any] = {}
    raw["clip"] = run_script(
        "bench_clip_to_action.py", "--lines", "1", "8", "32", "--rounds", rounds
    )
    raw["stock"] = run_script("bench_gsmmodem.py", "--lines", "1", "8", "32", "--rounds", rounds)
    raw["decision"] = [
        run_script(
            "bench_decision.py", "--entries", str(entries), "--calls", str(sizes.decision_calls)
        )[0]
        for entries in (1_000, 100_000, 1_000_000)
    ]  # fmt: skip
    raw["calllog"] = run_script(
        "bench_calllog.py", "--calls", str(sizes.calllog_calls),
        "--latency-calls", str(sizes.latency_calls),
    )[0]  # fmt: skip
    raw["queries"] = run_script(
        "bench_queries.py", "--rows", *map(str, sizes.query_rows),
        "--repeat", str(sizes.query_repeat),
    )  # fmt: skip
    raw["web"] = run_script("bench_web_pages.py", "--repeat", str(sizes.web_repeat))[0]
    raw["simulation"] = run_script("bench_simulation.py", "--days", str(sizes.sim_days))[0]
    raw["memory"] = run_script("bench_memory.py")[0]
    rows = [
        *clip_rows(raw["clip"], raw["stock"]),
        *decision_rows(raw["decision"]),
        *calllog_rows(raw["calllog"]),
        *query_rows(raw["queries"]),
        *web_page_rows(raw["web"]),
        *simulation_rows(raw["simulation"]),
        *memory_rows(raw["memory"]),
    ]
    return rows, raw


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| what | figure (this run) | target | stock python-gsmmodem-new, same run "
        "| Siaga vs stock |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine() -> str:
    """CPU model, cores, memory, OS, Python and SQLite versions."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{model}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()} "
        f"({platform.machine()}); Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}"
    )


def generated_section(table: str, command: str, elapsed_s: float, quick: bool) -> str:
    """The text between the markers: where, when, how, and the table."""
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    return (
        f"{BEGIN}\n"
        f"- machine: {machine()}\n"
        f"- date: {when}\n"
        f"- command: `{command}` ({'quick' if quick else 'full'} run, "
        f"{elapsed_s / 60:.1f} minutes)\n\n"
        f"{table}"
        f"{END}\n"
    )


def write_out(path: Path, section: str) -> None:
    """Write `section` into `path`, between its markers if it has them."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, _, rest = text.partition(BEGIN)
            _, _, tail = rest.partition(END)
            path.write_text(head + section.rstrip("\n") + tail, encoding="utf-8")
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Benchmarks\n\n" + section, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run everything, print the table, write it out if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="reduced sizes (smoke run)")
    parser.add_argument(
        "--out", type=Path, help="also write the table here (e.g. docs/benchmarks.md)"
    )
    parser.add_argument("--json", type=Path, help="also write every raw figure here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    command = shlex.join([".venv/bin/python", "bench/run_all.py", *(argv or sys.argv[1:])])
    started = time.perf_counter()
    rows, raw = run_all(QUICK if args.quick else FULL)
    elapsed_s = time.perf_counter() - started
    table = markdown_table(rows)
    print(table, end="")
    print(f"\n{len(rows)} figures in {elapsed_s / 60:.1f} minutes")
    if args.out:
        write_out(args.out, generated_section(table, command, elapsed_s, args.quick))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
