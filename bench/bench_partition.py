"""Benchmark: +CLIP to action on a sharing box, connected to its server and cut off from it.

Usage:
    .venv/bin/python bench/bench_partition.py [--lines 8] [--calls 4000] [--repeat 5]
        [--family sim800|sim7600|ec25|m95|huawei|mixed] [--churn-per-s 5] [--warmup 5]

The requirement (docs/cluster.md): while the site's NATS server, or the link to it, is
down and the boxes go on changing rules and taking calls, screening never pauses and the
decision latency does not change. This benchmark times +CLIP to the action command exactly
as `bench_clip_to_action.py` does (its docstring says what is and is not included: real
pseudo-terminals, the virtual modems in a process of their own, both timestamps taken
there; the real `LineService`, `CallLog` and `RuleStore` in this process; every line rings
in the same instant, `reject` by an exact block rule per caller), under each condition of
a sweep, on one box's database and the same lines:

- `floor`: a raw responder instead of the appliance (`bench_clip_to_action.run_floor`):
  it writes the action command as soon as a whole `+CLIP` line has been read. The
  harness's own cost, below which nothing can be measured here.
- `alone`: no `[cluster]`, no agent: the one-box appliance (the service turns the outbox
  triggers off at start).
- `connected`: the service with a `[cluster]` table, and the real `siaga sync` program
  (its own process, started with a configuration file as the unit starts it) connected
  to a real `nats-server` with JetStream on loopback. Before the calls ring the outbox is
  empty; while they ring the agent publishes every ended call, rule change and verdict,
  and marks each row sent in the same database.
- `partitioned`: the same, with the server killed with SIGKILL before the calls ring, and
  the agent seen to have lost its session (it logs `trying again`; it waits 2 s, doubling
  to 60 s, the defaults). Every call, rule change and verdict now stays in the outbox.
  Afterwards the server is started again on the same port and store, and the outbox's
  backlog and the time until the agent had sent it all (its retry wait included) are
  reported.

Each repeat (`--repeat`) runs the four in that order; the figures pool every repeat's
calls (`--calls` per condition per repeat) and give each repeat's p99 and max too.

Throughout the sweep (the floor too, where nothing reads what it writes), a churn
process (spawned: the CLI and the web UI are processes of their own on a box) changes a
rule and asks for a verdict `--churn-per-s` times a second: it adds a block rule with
`RuleStore`, as `siaga block add` does (every third change removes the oldest one it
added instead), and inserts a `desk_requests` row asking for a `prank` verdict on the
latest ended call, as the console does; the service carries it out (`DeskRequests`,
every 0.25 s) and the call log records it. The same churn runs `alone`, so between the
conditions only sharing changes. The verdicts fall on the benchmark's callers: each
condition's calls are checked in the call log afterwards, every one rejected by its
block rule. `--churn-per-s 0` leaves the churn out (a diagnostic: the service and the
agent alone on the database).

Not covered: a link that drops packets instead of refusing connections (the agent then
waits on its connect timeout rather than on a refused port); the agent's catch-up while
calls ring (it reconnects at its next retry, which this benchmark does not wait for with
calls ringing); a second box.

Prints a table (condition, calls, p50/p99/p99.9/max pooled, each repeat's p99 and max,
the outbox, the load average, the agent's CPU time) and one JSON line. With the defaults
(8 lines, 4,000 calls per condition, 5 repeats) it takes about 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from multiprocessing.sharedctypes import SynchronizedArray
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_clip_to_action import FAMILIES, percentile, run_floor, run_once, summary_ms

from appliance.cluster.feed import declare_sharing
from appliance.cluster.store import unsent_count
from appliance.config import ClusterConfig, Config
from appliance.program import siaga_command
from appliance.store import RuleStore, open_readonly
from appliance.store.db import connect_writer, immediate, iso_at
from tests.cluster.conftest import NatsServer

logger = logging.getLogger("bench.partition")

ROOT = Path(__file__).resolve().parent.parent
SITE, APPLIANCE = "serang", "a"
CONDITIONS = ("floor", "alone", "connected", "partitioned")
DESCRIPTIONS = {
    "floor": "floor: raw responder, no appliance",
    "alone": "alone: no [cluster], no agent",
    "connected": "connected: siaga sync, server up",
    "partitioned": "partitioned: server SIGKILLed",
}
AGENT_TIMEOUT_S = 60.0  # a `siaga sync` start, or its session's end, on a loaded machine
DRAIN_TIMEOUT_S = 180.0  # the agent's retry wait (up to 60 s) and the backlog
CHURN_COUNTERS = ("rules_added", "rules_removed", "verdicts_asked")


# ------------------------------------------------------------------ the churn process


def churn_process(
    db_path: str, per_s: float, stop: Event, counters: SynchronizedArray[int]
) -> None:
    """Entry point of the churn process: rule changes and verdict requests, `per_s` each."""
    logging.basicConfig(level=logging.WARNING, format="churn %(levelname)s %(name)s: %(message)s")
    path = Path(db_path)
    zone = Config().site.timezone
    rules = RuleStore(path, timezone=zone)
    tz = ZoneInfo(zone)
    db = connect_writer(path)
    added: list[str] = []
    last_call = 0
    tick = 0
    next_at = time.monotonic()
    try:
        while not stop.is_set():
            tick += 1
            now = time.time()
            if tick % 3 == 0 and added:
                rules.remove(added.pop(0), "bench", now, reason="bench churn")
                counters[1] += 1
            else:
                rule = {
                    "kind": "block", "pattern": f"+62877{os.getpid() % 1000:03d}{tick:06d}",
                    "match": "exact", "action": "reject", "reason": "bench churn",
                    "created_by": "bench",
                }  # fmt: skip
                added.append(rules.add(rule))
                counters[0] += 1
            with immediate(db):
                call = db.execute(
                    "SELECT id, line FROM calls WHERE ended_ts IS NOT NULL AND id > ?"
                    " ORDER BY id DESC LIMIT 1",
                    [last_call],
                ).fetchone()
                if call is not None:
                    db.execute(
                        "INSERT INTO desk_requests (kind, line, call_id, disposition, operator,"
                        " requested_ts, requested_at) VALUES ('disposition', ?, ?, 'prank',"
                        " 'bench', ?, ?)",
                        [call[1], call[0], now, iso_at(now, tz)],
                    )
                    last_call = int(call[0])
                    counters[2] += 1
            next_at += 1.0 / per_s
            stop.wait(max(0.0, next_at - time.monotonic()))
    finally:
        rules.close()
        db.close()


# ------------------------------------------------------------------ the agent


class SyncProcess:
    """`siaga sync` as on a box: the real program, its configuration file, its log."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                siaga_command("sync", "--config", str(config)),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def retries(self) -> int:
        """How many times it has said it lost its session and will try again."""
        return self.log_path.read_text(encoding="utf-8", errors="replace").count("trying again")

    def stop(self) -> None:
        """SIGTERM, as systemd stops the unit; SIGKILL if it is not gone within 20 s."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _write_config(path: Path, db: Path, server_url: str) -> None:
    path.write_text(
        f'[database]\npath = "{db}"\n\n[cluster]\nsite = "{SITE}"\nappliance = "{APPLIANCE}"\n'
        f'servers = ["{server_url}"]\n',
        encoding="utf-8",
    )


def _wait(condition: Callable[[], bool], what: str, timeout_s: float) -> float:
    """Seconds until `condition()` held; RuntimeError naming `what` after `timeout_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def _scalar(db: Path, sql: str) -> int:
    conn = open_readonly(db)
    try:
        return int(conn.execute(sql).fetchone()[0] or 0)
    finally:
        conn.close()


def _unsent(db: Path) -> int:
    conn = open_readonly(db)
    try:
        return unsent_count(conn)
    finally:
        conn.close()


# ------------------------------------------------------------------ the sweep


class Sweep:
    """One box's database, its server and agent, and the runs of every condition."""

    def __init__(self, folder: Path, args: argparse.Namespace) -> None:
        self.folder = folder
        self.args = args
        self.rounds = math.ceil(args.calls / args.lines)
        self.db = folder / "box.db"
        (folder / "nats").mkdir()
        self.server = NatsServer(folder / "nats")
        self.cluster = ClusterConfig(site=SITE, appliance=APPLIANCE, servers=(self.server.url,))
        self.config = folder / "box.toml"
        _write_config(self.config, self.db, self.server.url)
        self.agent: SyncProcess | None = None
        self.decided: Counter[str] = Counter()  # the call log's decisions so far
        self.runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONDITIONS}
        self.heals: list[dict[str, Any]] = []

    def close(self) -> None:
        """Stop the agent and the server, whatever state they are in."""
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
        self.server.kill()

    def repeat(self, index: int, churn_counters: SynchronizedArray[int]) -> None:
        """floor, alone, connected, partitioned; then the server back and the backlog sent."""
        self._run("floor", index, churn_counters)
        self._run("alone", index, churn_counters)
        self.server.start()
        self.agent = SyncProcess(self.config, self.folder / f"sync-{index}.log")
        connected = "SELECT count(*) FROM events WHERE kind = 'sync_connected'"
        before = _scalar(self.db, connected)
        _wait(
            lambda: _scalar(self.db, connected) > before, "siaga sync to connect", AGENT_TIMEOUT_S
        )
        _wait(lambda: _unsent(self.db) == 0, "an empty outbox", AGENT_TIMEOUT_S)
        self._run("connected", index, churn_counters)
        retries = self.agent.retries()
        self.server.kill()
        agent = self.agent
        _wait(lambda: agent.retries() > retries, "siaga sync to lose its session", AGENT_TIMEOUT_S)
        self._run("partitioned", index, churn_counters)
        backlog = _unsent(self.db)
        self.server.start()
        drained_s = _wait(lambda: _unsent(self.db) == 0, "the backlog to be sent", DRAIN_TIMEOUT_S)
        self.heals.append({"backlog": backlog, "drained_s": round(drained_s, 2)})
        logger.warning("repeat %d: backlog %d sent %.1f s after the server was back",
                       index + 1, backlog, drained_s)  # fmt: skip
        self.agent.stop()
        self.agent = None
        self.server.kill()
        # As the service does at start without `[cluster]`: the churn's next changes until
        # the next `alone` run starts keep no outbox rows either.
        declare_sharing(self.db, None, time.time())

    def _run(self, name: str, index: int, churn_counters: SynchronizedArray[int]) -> None:
        args = self.args
        load = os.getloadavg()[0]
        churn_before = churn_counters[:]
        outbox_before = _scalar(self.db, "SELECT count(*) FROM outbox")
        agent_cpu_before = self._agent_cpu_s()
        started = time.monotonic()
        if name == "floor":
            report = run_floor(
                args.lines, self.rounds, args.family, "reject", args.warmup, keep_samples=True
            )
        else:
            report = run_once(
                args.lines,
                self.rounds,
                args.family,
                "reject",
                args.warmup,
                db_path=self.db,
                cluster=None if name == "alone" else self.cluster,
                keep_samples=True,
            )
            self._check_decisions(name, report)
        run: dict[str, Any] = {
            "repeat": index + 1,
            "calls": report["calls"],
            "p50_ms": report["p50_ms"],
            "p99_ms": report["p99_ms"],
            "max_ms": report["max_ms"],
            "warmup_max_ms": report["warmup_max_ms"],
            "seconds": round(time.monotonic() - started, 1),
            "load_1min_before": round(load, 2),
            "latencies_ns": report["latencies_ns"],
        }
        if name != "floor":
            churn = [
                after - before
                for after, before in zip(churn_counters[:], churn_before, strict=True)
            ]
            run["churn"] = dict(zip(CHURN_COUNTERS, churn, strict=True))
            run["outbox_rows_added"] = (
                _scalar(self.db, "SELECT count(*) FROM outbox") - outbox_before
            )
            run["outbox_unsent_after"] = _unsent(self.db)
        if agent_cpu_before is not None:
            run["agent_cpu_s"] = round((self._agent_cpu_s() or 0.0) - agent_cpu_before, 3)
        self.runs[name].append(run)
        logger.warning(
            "repeat %d %s: p50 %.3f p99 %.3f max %.3f ms (load %.2f)",
            index + 1, name, run["p50_ms"], run["p99_ms"], run["max_ms"], load,
        )  # fmt: skip

    def _agent_cpu_s(self) -> float | None:
        """CPU seconds `siaga sync` has used so far (None while it does not run)."""
        if self.agent is None or self.agent.process.poll() is not None:
            return None
        stat = Path(f"/proc/{self.agent.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _check_decisions(self, name: str, report: dict[str, Any]) -> None:
        """Every call of this run (warm-up included) rejected by its block rule."""
        logged = Counter(report["calls_logged"])
        new = logged - self.decided
        self.decided = logged
        expected = report["calls"] + report["warmup_rounds"] * report["lines"]
        if dict(new) != {"reject/blocklist": expected}:
            raise RuntimeError(f"{name}: the call log holds {dict(new)} for {expected} calls")

    def figures(self) -> dict[str, Any]:
        """Every condition pooled over the repeats, each repeat's figures beside."""
        conditions = {}
        for name, runs in self.runs.items():
            pooled = sorted(value for run in runs for value in run["latencies_ns"])
            conditions[name] = {
                "calls": len(pooled),
                **summary_ms(pooled),
                "p99_9_ms": round(percentile(pooled, 99.9) / 1e6, 3),
                "runs": [
                    {key: value for key, value in run.items() if key != "latencies_ns"}
                    for run in runs
                ],
            }
        return conditions


def _table(conditions: dict[str, Any], heals: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{'condition':<34} {'calls':>6}  {'p50 ms':>7} {'p99 ms':>7} {'p99.9':>7} {'max ms':>7}  "
        f"{'p99 / max ms, each repeat':<28} outbox"
    ]
    for name, figures in conditions.items():
        each = ", ".join(f"{run['p99_ms']:.2f}/{run['max_ms']:.2f}" for run in figures["runs"])
        outbox = ""
        if name == "connected":
            outbox = "unsent after: " + ", ".join(
                str(run["outbox_unsent_after"]) for run in figures["runs"]
            )
        elif name == "partitioned":
            outbox = "backlog, sent after heal: " + ", ".join(
                f"{heal['backlog']} in {heal['drained_s']:.1f} s" for heal in heals
            )
        lines.append(
            f"{DESCRIPTIONS[name]:<34} {figures['calls']:>6}  {figures['p50_ms']:>7.3f} "
            f"{figures['p99_ms']:>7.3f} {figures['p99_9_ms']:>7.3f} {figures['max_ms']:>7.3f}  "
            f"{each:<28} {outbox}"
        )
    loads = [run["load_1min_before"] for figures in conditions.values() for run in figures["runs"]]
    lines.append(f"load average (1 min) before the runs: {min(loads):.2f} to {max(loads):.2f}")
    for name in ("connected", "partitioned"):
        cpu = ", ".join(f"{run.get('agent_cpu_s', 0.0):.2f}" for run in conditions[name]["runs"])
        lines.append(f"siaga sync CPU seconds during each {name} run: {cpu}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep `--repeat` times; print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=8, help="lines ringing at once (8)")
    parser.add_argument(
        "--calls", type=int, default=4000, help="timed calls per condition and repeat (4000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="sweeps, one after another (5)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first (5)")
    parser.add_argument("--family", choices=[*FAMILIES, "mixed"], default="sim800")
    parser.add_argument(
        "--churn-per-s",
        type=float,
        default=5.0,
        help="rule changes and verdicts a second (5; 0: none)",
    )
    args = parser.parse_args(argv)
    if args.lines < 1 or args.calls < 1 or args.repeat < 1 or args.warmup < 0:
        parser.error("--lines, --calls and --repeat must be at least 1, --warmup at least 0")
    if args.churn_per_s < 0:
        parser.error("--churn-per-s must be 0 (no churn) or more")
    logging.basicConfig(
        level=logging.WARNING, format="appliance %(levelname)s %(name)s: %(message)s"
    )
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    counters = context.Array("q", len(CHURN_COUNTERS))
    stop = context.Event()
    with tempfile.TemporaryDirectory(prefix="siaga-bench-partition-") as tmp:
        sweep = Sweep(Path(tmp), args)
        connect_writer(sweep.db).close()  # the schema, before the churn writes to it
        churn = context.Process(
            target=churn_process,
            args=(str(sweep.db), args.churn_per_s, stop, counters),
            name="churn",
            daemon=True,
        )
        if args.churn_per_s > 0:
            churn.start()
        try:
            for index in range(args.repeat):
                sweep.repeat(index, counters)
        finally:
            stop.set()
            if churn.is_alive():
                churn.join(10)
            if churn.is_alive():
                churn.terminate()
                churn.join(5)
            sweep.close()
    conditions = sweep.figures()
    result = {
        "bench": "partition",
        "lines": args.lines,
        "family": args.family,
        "action": "reject",
        "rounds_per_run": sweep.rounds,
        "repeat": args.repeat,
        "churn_per_s": args.churn_per_s,
        "conditions": conditions,
        "heal": sweep.heals,
        "seconds": round(time.monotonic() - started, 1),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    for line in _table(conditions, sweep.heals):
        print(line)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
