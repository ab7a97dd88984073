"""Benchmark: call search, monthly report and console snapshot on very large call logs.

Usage: .venv/bin/python bench/bench_queries.py [--rows 1000000 10000000] [--repeat 20]
           [--rebuild]

Each database is built once by `build_database` into var/bench/ (gitignored) and kept:
the file name carries the row count, the schema version (the migrations applied) and the
generator's own version, so a schema change or a generator change makes a new file. The
real migrations create the schema; then the `calls` and `dispositions` indexes are
dropped, rows go in through `sqlite3.executemany` in batches (journal off, no fsync: a
benchmark fixture, not a call log), the very same indexes are created again from their
saved SQL, the per-day report figures of every day the inserts marked dirty are computed
(`appliance.store.rollup.refresh`, as the web UI does before a report), and the file is
switched to WAL as the appliance leaves it. No ANALYZE: the appliance never runs it, so
the planner works without statistics, as on the box.

The rows: `--rows` calls spread evenly over two years (2023-01-01 to 2025-01-01 WIB), so
1 M rows make about 42,000 calls a month and 10 M about 420,000: a centre under attack
for two years (Serang-like normal traffic is about 5,200 a month). 5 % withheld callers;
the others drawn from rows/25 numbers with a heavy head (a few numbers call thousands of
times, as pranksters do). Decisions, reasons, challenge results, operator contact and
dispositions in the proportions of a junk-heavy centre; one `dispositions` row per call
with a verdict.

What is timed (each `--repeat` times with varying parameters, on one read-only
connection from `open_readonly`, as the CLI and reports use):
- `search`: `appliance.store.search_calls` as `siaga calls` calls it (50 rows a page):
  the latest calls; one number; a day with a decision; genuine calls; prank calls; one
  decision over the whole log; and the 10th page of a number's calls (keyset paging on
  `until_ts`, the only paging the API offers). Figures per filter set and over all.
- reports (`appliance.report.report`, target: any report under 300 ms): `report_month`,
  one calendar month (period month), the "monthly report"; `report_month_days`, the same
  month by day (the web page's default); `report_year`, 2024 by month; `report_year_days`,
  2024 by day (the longest daily table the web UI gives); `report_all`, the whole log by
  month, which is what `siaga report` without --since/--until does; `report_all_dirty`,
  the whole log by month with 31 days changed since their figures were computed (a late
  verdict on one call of each of the log's last 31 days, as on a box where nothing
  refreshed the figures for a month): those days are counted from their call rows (the
  change is made in a transaction rolled back after timing).
- `repeaters_*`: `appliance.report.top_repeaters` (the top 20 numbers, as the reports page
  and API show them) for the month, 2024 and the whole log.
- `console`: `web_ui.console.service.snapshot`, what the console's API serves every refresh:
  `line_status` (8 lines, two with a caller waiting, one of them a heavy repeater) and
  the waiting callers' history (calls in 24 h and 30 days, latest dispositions, rules).

Prints a table and one JSON line per database.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.migrations import MIGRATIONS_TABLE
from appliance.report import Period, report, top_repeaters
from appliance.store import open_readonly, rollup, search_calls
from appliance.store._sqlite import connect_writer

logger = logging.getLogger("bench.queries")

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "var" / "bench"
GENERATOR_VERSION = 2  # 2: the per-day report figures are computed after the rows
ZONE = ZoneInfo("Asia/Jakarta")
SPAN_START = datetime(2023, 1, 1, tzinfo=ZONE)
SPAN_END = datetime(2025, 1, 1, tzinfo=ZONE)
REPORT_MONTH = (datetime(2024, 11, 1, tzinfo=ZONE), datetime(2024, 12, 1, tzinfo=ZONE))
PAGE = 50  # `siaga calls --limit` default
BATCH = 50_000
TARGET_REPORT_MS = 300.0  # any report, any range
YEAR = (datetime(2024, 1, 1, tzinfo=ZONE), datetime(2025, 1, 1, tzinfo=ZONE))
DIRTY_DAYS = 31
LINES = 8

# (decision, reason, weight) for callers with a number; withheld ones get their own.
OUTCOMES: tuple[tuple[str, str, int], ...] = (
    ("pass", "default", 52),
    ("pass", "allowlist", 2),
    ("pass", "immune", 3),
    ("challenge", "throttle", 14),
    ("challenge", "blocklist", 10),
    ("challenge", "abuse", 9),
    ("challenge", "flood", 4),
    ("reject", "blocklist", 4),
    ("announce", "abuse", 2),
)
CHALLENGE_RESULTS = ("passed", "failed", "timeout", "caller_hung_up")
CHALLENGE_WEIGHTS = (20, 10, 30, 40)
DISPOSITIONS = (
    "prank", "ghost", "info", "wrong_number", "genuine:fire", "genuine:accident",
    "genuine:medical", "genuine:crime", None,
)  # fmt: skip
DISPOSITION_WEIGHTS = (40, 33, 10, 5, 2, 2, 2, 1, 5)
CALL_COLUMNS = (
    "id", "line", "desk", "caller_raw", "caller", "number_class", "started_at", "started_ts",
    "decision", "reason", "rule", "challenge_result", "challenge_at", "challenge_ts",
    "reached_operator", "operator_at", "operator_ts", "operator", "ended_at", "ended_ts",
    "end_cause", "disposition", "disposition_at", "disposition_ts", "decision_us",
    "line_seconds", "voice_heard",
)  # fmt: skip
DISPOSITION_COLUMNS = (
    "call_id", "caller", "disposition", "operator", "recorded_at", "recorded_ts",
)  # fmt: skip


# ------------------------------------------------------------------ building


def schema_version() -> str:
    """The migrations a fresh database gets, as `<count>-<last name>` (part of the key)."""
    probe = CACHE_DIR / f".schema-probe-{os.getpid()}.db"
    try:
        connect_writer(probe).close()
        conn = sqlite3.connect(probe)
        try:
            names = [row[0] for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")]
        finally:
            conn.close()
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{probe}{suffix}").unlink(missing_ok=True)
    return f"{len(names)}-{max(names)}"


def database_path(rows: int, schema: str) -> Path:
    """Where the database of `rows` calls for `schema` is cached."""
    return CACHE_DIR / f"calls-{rows}-s{schema}-g{GENERATOR_VERSION}.db"


class _IsoMaker:
    """ISO 8601 with the WIB offset, fast: the date part is cached per local day."""

    def __init__(self) -> None:
        self._day_start = 0.0
        self._day_end = -1.0
        self._prefix = ""

    def __call__(self, ts: float) -> str:
        if not self._day_start <= ts < self._day_end:
            local = datetime.fromtimestamp(ts, ZONE)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self._day_start = midnight.timestamp()
            self._day_end = (midnight + timedelta(days=1)).timestamp()
            self._prefix = midnight.strftime("%Y-%m-%dT")
        into = ts - self._day_start
        seconds = int(into)
        millis = int((into - seconds) * 1000)
        return (
            f"{self._prefix}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:"
            f"{seconds % 60:02d}.{millis:03d}+07:00"
        )


def _numbers(count: int) -> list[str]:
    """`count` distinct E.164 mobile numbers."""
    rng = random.Random(count)
    prefixes = ("811", "812", "813", "821", "822", "852", "857", "877", "878", "895")
    found: set[str] = set()
    while len(found) < count:
        found.add(f"+62{rng.choice(prefixes)}{rng.randrange(10**8):08d}")
    return sorted(found)


def generate_rows(
    rows: int, seed: int = 112
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (calls rows, dispositions rows), in call id (= time) order."""
    rng = random.Random(seed)
    numbers = _numbers(max(1_000, rows // 25))
    start_ts, end_ts = SPAN_START.timestamp(), SPAN_END.timestamp()
    step = (end_ts - start_ts) / rows
    iso = _IsoMaker()
    outcomes = [(decision, reason) for decision, reason, _ in OUTCOMES]
    outcome_weights = [weight for *_, weight in OUTCOMES]
    calls: list[tuple[Any, ...]] = []
    verdicts: list[tuple[Any, ...]] = []
    random_ = rng.random
    for call_id in range(1, rows + 1):
        started = start_ts + (call_id - 1 + random_()) * step
        line = call_id % LINES + 1
        if random_() < 0.05:
            caller = caller_raw = None
            number_class = "withheld"
            decision, reason = ("challenge", "withheld") if random_() < 0.8 else ("pass", "default")
        else:
            caller = numbers[int(len(numbers) * random_() ** 3)]  # a heavy head
            caller_raw = "0" + caller[3:]
            number_class = "number"
            decision, reason = rng.choices(outcomes, outcome_weights)[0]
        challenge_result = challenge_ts = None
        reached = 0
        if decision == "challenge":
            challenge_result = rng.choices(CHALLENGE_RESULTS, CHALLENGE_WEIGHTS)[0]
            challenge_ts = started + 4.0 + 6.0 * random_()
            reached = int(challenge_result == "passed")
        elif decision == "pass":
            reached = int(random_() < 0.85)
        operator_ts = operator = disposition = disposition_ts = None
        duration = 3.0 + 20.0 * random_()
        if reached:
            operator_ts = (challenge_ts or started) + 5.0
            operator = f"op{line}"
            duration += 30.0 + 120.0 * random_()
            disposition = rng.choices(DISPOSITIONS, DISPOSITION_WEIGHTS)[0]
        ended_ts = started + duration
        if disposition is not None:
            disposition_ts = ended_ts + 10.0
            verdicts.append(
                (call_id, caller, disposition, operator, iso(disposition_ts), disposition_ts)
            )
        calls.append(
            (
                call_id, f"line{line}", f"desk{line}", caller_raw, caller, number_class,
                iso(started), started, decision, reason,
                "b-bench" if reason == "blocklist" else None,
                challenge_result, None if challenge_ts is None else iso(challenge_ts),
                challenge_ts, reached, None if operator_ts is None else iso(operator_ts),
                operator_ts, operator, iso(ended_ts), ended_ts,
                "operator_hung_up" if reached else "caller_hung_up",
                disposition, None if disposition_ts is None else iso(disposition_ts),
                disposition_ts, 5 + int(60 * random_()), round(duration, 3),
                1 if decision == "challenge" and random_() < 0.5 else None,
            )
        )  # fmt: skip
        if len(calls) >= BATCH:
            yield calls, verdicts
            calls, verdicts = [], []
    if calls:
        yield calls, verdicts


def build_database(rows: int, path: Path) -> float:
    """Create `path` with `rows` calls (see the module docstring); returns seconds taken."""
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for suffix in ("", "-wal", "-shm", ".writer-lock"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    connect_writer(partial).close()  # the real migrations
    conn = sqlite3.connect(partial, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB while building
        indexes = [
            (name, sql)
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name IN ('calls', 'dispositions') AND sql IS NOT NULL"
            )
        ]
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        insert_call = (
            f"INSERT INTO calls ({', '.join(CALL_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
        )
        insert_verdict = (
            f"INSERT INTO dispositions ({', '.join(DISPOSITION_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(DISPOSITION_COLUMNS))})"
        )
        done = 0
        for calls, verdicts in generate_rows(rows):
            conn.execute("BEGIN")
            conn.executemany(insert_call, calls)
            conn.executemany(insert_verdict, verdicts)
            conn.execute("COMMIT")
            done += len(calls)
            if done % 1_000_000 < BATCH:
                logger.info("%s: %d of %d rows", path.name, done, rows)
        for name, sql in indexes:
            logger.info("%s: index %s", path.name, name)
            conn.execute(sql)
        logger.info("%s: per-day report figures", path.name)
        rollup.refresh(conn, budget_s=None)
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    partial.rename(path)
    Path(f"{partial}.writer-lock").unlink(missing_ok=True)
    return time.perf_counter() - started


def ensure_database(rows: int, *, rebuild: bool = False) -> tuple[Path, float | None]:
    """The cached database of `rows` calls (built now if missing); build seconds or None."""
    path = database_path(rows, schema_version())
    if path.exists() and not rebuild:
        return path, None
    path.unlink(missing_ok=True)
    logger.warning("building %s (%d rows), once: later runs reuse it", path, rows)
    return path, build_database(rows, path)


# ------------------------------------------------------------------ timing


def _time_ms(action: Callable[[], object], repeat: int) -> list[float]:
    """Run `action` once untimed (cache warm, as on a box that has been up), then time it."""
    action()
    timings: list[float] = []
    for _ in range(repeat):
        before = time.perf_counter()
        action()
        timings.append((time.perf_counter() - before) * 1000.0)
    return timings


def _summary(timings: Sequence[float]) -> dict[str, float]:
    ordered = sorted(timings)
    rank = max(1, -(-len(ordered) * 99 // 100))
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[rank - 1], 2),
        "max_ms": round(ordered[-1], 2),
    }


def heavy_and_typical(conn: sqlite3.Connection) -> tuple[str, str]:
    """The number with the most calls in the last month, and one with a few."""
    since = SPAN_END.timestamp() - 30 * 86_400
    heavy = conn.execute(
        "SELECT caller FROM calls WHERE started_ts >= ? AND caller IS NOT NULL"
        " GROUP BY caller ORDER BY count(*) DESC LIMIT 1",
        [since],
    ).fetchone()[0]
    typical = conn.execute(
        "SELECT caller FROM calls WHERE started_ts >= ? AND caller IS NOT NULL"
        " GROUP BY caller HAVING count(*) BETWEEN 2 AND 5 LIMIT 1",
        [since],
    ).fetchone()
    return str(heavy), str(typical[0] if typical else heavy)


def _search_sets(
    conn: sqlite3.Connection, rng: random.Random, heavy: str
) -> dict[str, Callable[[], object]]:
    """Filter sets as `siaga calls` passes them to search_calls (one page of 50)."""
    end = SPAN_END.timestamp()
    numbers = [row[0] for row in conn.execute("SELECT caller FROM calls WHERE id % 997 = 0")]
    numbers = [number for number in numbers if number]

    def latest() -> object:
        return search_calls(conn, limit=PAGE)

    def number() -> object:
        return search_calls(conn, number=rng.choice(numbers), limit=PAGE)

    def day_decision() -> object:
        day = end - rng.randrange(1, 700) * 86_400
        return search_calls(
            conn, since_ts=day, until_ts=day + 86_400, decision="reject", limit=PAGE
        )

    def genuine() -> object:
        return search_calls(conn, disposition="genuine", limit=PAGE)

    def prank() -> object:
        return search_calls(conn, disposition="prank", limit=PAGE)

    def decision() -> object:
        return search_calls(conn, decision="announce", limit=PAGE)

    def page_10() -> object:
        until: float | None = None
        for _ in range(10):
            rows = search_calls(conn, number=heavy, until_ts=until, limit=PAGE)
            if len(rows) < PAGE:
                break
            until = float(rows[-1]["started_ts"])
        return until

    return {
        "latest": latest,
        "number": number,
        "day+decision": day_decision,
        "disposition=genuine": genuine,
        "disposition=prank": prank,
        "decision=announce": decision,
        "number, page 10": page_10,
    }


def _console_snapshot(
    conn: sqlite3.Connection, path: Path, heavy: str, typical: str
) -> Callable[[], object]:
    """The console's snapshot over 8 lines, two with a caller waiting."""
    now_ts = SPAN_END.timestamp() - 60.0
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("DELETE FROM line_status")
        for index in range(LINES):
            state, caller = "idle", None
            if index == 0:
                state, caller = "operator_ringing", heavy
            elif index == 1:
                state, caller = "operator_ringing", typical
            elif index == 2:
                state, caller = "connected", typical
            writer.execute(
                "INSERT INTO line_status (line, state, since_ts, call_id, caller_raw, caller,"
                " number_class, decision, reason, desk, family, updated_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'pass', 'default', ?, 'sim800', ?)",
                [
                    f"line{index + 1}", state, now_ts - 10,
                    None if caller is None else 10**9 + index,
                    None if caller is None else "0" + caller[3:], caller,
                    None if caller is None else "number", f"desk{index + 1}", now_ts - 10,
                ],
            )  # fmt: skip
    finally:
        writer.close()
    try:
        from web_ui.console.service import snapshot
    except ImportError:  # the web UI is not installed: the same statements, by hand
        logger.warning("web_ui.console.service not importable: timing its queries by hand")
        return lambda: _snapshot_by_hand(conn, [heavy, typical, typical], now_ts)
    return lambda: snapshot(conn, username="bench", zone=ZONE, language="en", now_ts=now_ts)


def _snapshot_by_hand(conn: sqlite3.Connection, callers: Sequence[str], now_ts: float) -> object:
    rows = conn.execute("SELECT * FROM line_status ORDER BY line").fetchall()
    for caller in callers:
        conn.execute(
            "SELECT count(*), coalesce(sum(started_ts >= ?), 0) FROM calls"
            " WHERE caller = ? AND started_ts >= ? AND id != ?",
            [now_ts - 86_400, caller, now_ts - 30 * 86_400, -1],
        ).fetchone()
        conn.execute(
            "SELECT disposition, operator, recorded_ts FROM dispositions WHERE caller = ?"
            " ORDER BY recorded_ts DESC, id DESC LIMIT 5",
            [caller],
        ).fetchall()
    return rows


def _report(
    conn: sqlite3.Connection, since: datetime | float, until: datetime | float, period: Period
) -> Callable[[], object]:
    since_ts = since.timestamp() if isinstance(since, datetime) else since
    until_ts = until.timestamp() if isinstance(until, datetime) else until
    return lambda: report(conn, since_ts=since_ts, until_ts=until_ts, period=period)


def _repeaters(
    conn: sqlite3.Connection, since: datetime | float, until: datetime | float
) -> Callable[[], object]:
    since_ts = since.timestamp() if isinstance(since, datetime) else since
    until_ts = until.timestamp() if isinstance(until, datetime) else until
    return lambda: top_repeaters(conn, since_ts, until_ts)


def _dirty_some_days(conn: sqlite3.Connection) -> None:
    """In the open transaction: a verdict changed on one call of each of the last days."""
    end = SPAN_END.timestamp()
    for day in range(DIRTY_DAYS):
        conn.execute(
            "UPDATE calls SET disposition = 'ghost' WHERE id ="
            " (SELECT id FROM calls WHERE started_ts >= ? ORDER BY started_ts LIMIT 1)",
            [end - (day + 1) * 86_400.0],
        )


def time_reports(conn: sqlite3.Connection, path: Path, repeat: int) -> dict[str, Any]:
    """Every report variant (see the module docstring), p50/p99/max in ms."""
    ever = (0.0, 4_102_444_800.0)
    few = max(2, repeat // 5)
    found = {
        "report_month": _summary(_time_ms(_report(conn, *REPORT_MONTH, "month"), repeat)),
        "report_month_days": _summary(_time_ms(_report(conn, *REPORT_MONTH, "day"), repeat)),
        "report_year": _summary(_time_ms(_report(conn, *YEAR, "month"), repeat)),
        "report_year_days": _summary(_time_ms(_report(conn, *YEAR, "day"), few)),
        "report_all": _summary(_time_ms(_report(conn, *ever, "month"), few)),
        "repeaters_month": _summary(_time_ms(_repeaters(conn, *REPORT_MONTH), repeat)),
        "repeaters_year": _summary(_time_ms(_repeaters(conn, *YEAR), few)),
        "repeaters_all": _summary(_time_ms(_repeaters(conn, *ever), few)),
    }
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        _dirty_some_days(writer)
        found["report_all_dirty_days"] = len(rollup.dirty_days(writer))
        found["report_all_dirty"] = _summary(_time_ms(_report(writer, *ever, "month"), few))
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    return found


def run(rows: int, repeat: int, *, rebuild: bool = False) -> dict[str, Any]:
    """Build or reuse the database of `rows` calls and time every query on it."""
    path, build_s = ensure_database(rows, rebuild=rebuild)
    rng = random.Random(rows)
    conn = open_readonly(path)
    try:
        heavy, typical = heavy_and_typical(conn)
        search: dict[str, dict[str, float]] = {}
        everything: list[float] = []
        for name, action in _search_sets(conn, rng, heavy).items():
            timings = _time_ms(action, repeat)
            search[name] = _summary(timings)
            everything.extend(timings)
        reports = time_reports(conn, path, repeat)
        month_since, month_until = (moment.timestamp() for moment in REPORT_MONTH)
        month_rows = conn.execute(
            "SELECT count(*) FROM calls WHERE started_ts >= ? AND started_ts < ?",
            [month_since, month_until],
        ).fetchone()[0]
        console = _summary(_time_ms(_console_snapshot(conn, path, heavy, typical), repeat))
        heavy_calls = conn.execute(
            "SELECT count(*) FROM calls WHERE caller = ?", [heavy]
        ).fetchone()[0]
    finally:
        conn.close()
    return {
        "bench": "queries",
        "rows": rows,
        "database": str(path.relative_to(ROOT)),
        "database_mb": round(path.stat().st_size / 1e6),
        "build_s": None if build_s is None else round(build_s, 1),
        "repeat": repeat,
        "search": _summary(everything),
        "search_by_filter": search,
        **reports,
        "report_month_rows": month_rows,
        "console": console,
        "heavy_caller_calls": heavy_calls,
        "target_report_ms": TARGET_REPORT_MS,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Time the queries on each database size; print a table and JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000], help="call rows")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of each query")
    parser.add_argument("--rebuild", action="store_true", help="build the databases again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    results = [run(rows, args.repeat, rebuild=args.rebuild) for rows in args.rows]
    print(f"{'rows':>10}  {'query':<28} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in results:
        lines = [("search, all filter sets", r["search"])]
        lines += [(f"  search: {name}", f) for name, f in r["search_by_filter"].items()]
        lines += [
            ("report, one month", r["report_month"]),
            ("report, one month by day", r["report_month_days"]),
            ("report, 2024 by month", r["report_year"]),
            ("report, 2024 by day", r["report_year_days"]),
            ("report, whole log by month", r["report_all"]),
            (f"  the same, {r['report_all_dirty_days']} days dirty", r["report_all_dirty"]),
            ("top 20 repeaters, one month", r["repeaters_month"]),
            ("top 20 repeaters, 2024", r["repeaters_year"]),
            ("top 20 repeaters, whole log", r["repeaters_all"]),
            ("console snapshot", r["console"]),
        ]
        for name, figures in lines:
            print(
                f"{r['rows']:>10}  {name:<28} {figures['p50_ms']:>8.2f} "
                f"{figures['p99_ms']:>8.2f} {figures['max_ms']:>8.2f}"
            )
    for r in results:
        print(json.dumps(r, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
