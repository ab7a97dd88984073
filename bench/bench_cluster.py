"""Benchmark: sharing between appliances over NATS JetStream (real nats-server processes).

Usage: .venv/bin/python bench/bench_cluster.py [--rules 200] [--appliances 50]
           [--calls-per-appliance 2637] [--offline-calls 3000] [--idle-seconds 30]
           [--only NAME ...]

Four measurements, each on fresh servers in a temporary folder, loopback only:
- `propagation`: `--rules` block rules added one at a time on box A with the rule store
  the CLI uses; for each, the time from its commit on A to its row on box B (both real
  `SyncAgent`s on their own threads, on one server; B's database polled every
  millisecond); then 30 more, each after a second of quiet, when A's agent looks at its
  database least often (`appliance.cluster.idle`). The line service reads a new rule at
  its next rules poll (every second), which is not included. Through a leaf node (the
  site's server a leaf node of the hub's, docs/cluster.md, the province): as many blocks
  made at the hub, each from its commit there to its row on a site's box (after five
  untimed ones: the site's mirror and the box's consumer being set up make the first wait
  up to 2 s); and as many verdicts, each from its commit on the box (its call ended just
  before) to its call carrying it in the hub's database.
- `hub_ingest`: `--appliances` appliances each with `--calls-per-appliance` ended calls
  (default: Serang's average month, 23,734 calls in nine months), published to the calls
  stream beforehand as their agents would (same subjects, bodies and message ids); then
  the hub starts and the time until every call is in its database gives calls a second.
- `catch_up`: box A's database holds `--offline-calls` ended calls with a verdict on one
  in ten, written while its server was unreachable (a busy day at a flooded centre); the
  time from the agent's start to an empty outbox and to every verdict on box B.
- `agent_cost`: a `siaga sync` process connected with nothing to do: the share of one
  core it takes over `--idle-seconds` (what a box pays all day for sharing); its resident
  memory (VmRSS, VmHWM) idle after connecting and after the catch-up, and the CPU seconds
  it spent, per thousand messages.

Prints a line per figure and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nats

from appliance.cluster.agent import ensure_streams
from appliance.cluster.messages import call_subject, message_id
from appliance.config import ClusterConfig
from appliance.store import CallLog, RuleStore
from appliance.store.db import connect_writer
from tests.cluster.conftest import AgentThread, NatsServer, free_port, rows
from tests.cluster.conftest import wait_for as wait_until

logger = logging.getLogger("bench.cluster")

ROOT = Path(__file__).resolve().parent.parent
ZONE = "Asia/Jakarta"
AFTER_IDLE_RULES = 30  # rules timed after a quiet spell each, `IDLE_PAUSE_S` apart
IDLE_PAUSE_S = 1.0  # long enough for the agent's looks to have slowed to their longest
SERANG_MONTH_CALLS = 23_734 // 9


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _server(folder: Path, **options: Any) -> NatsServer:
    folder.mkdir(parents=True)
    server = NatsServer(folder, **options)
    server.start()
    return server


def _agent(
    server_url: str, appliance: str, db: Path, *, hub: bool = False, **options: Any
) -> AgentThread:
    cluster = ClusterConfig(
        site=options.pop("site", "serang"),
        appliance=appliance,
        servers=(server_url,),
        retry_s=0.2,
        **options,
    )
    agent = AgentThread(cluster, db, hub=hub)
    wait_until(agent.is_connected, f"{appliance} to connect", timeout_s=60)
    return agent


def _time_rules(a: Path, b: Path, count: int, first: int = 0, pause_s: float = 0.0) -> list[float]:
    """Add `count` rules on A one at a time, `pause_s` apart (after each reached B)."""
    store = RuleStore(a, timezone=ZONE)
    probe = connect_writer(b)
    seconds = []
    try:
        for index in range(first, first + count):
            rule_id = store.add(
                {"kind": "block", "pattern": f"+628{index:09d}", "match": "exact",
                 "action": "reject", "reason": "bench", "created_by": "bench"}
            )  # fmt: skip
            started = time.perf_counter()
            while not probe.execute("SELECT 1 FROM rules WHERE id = ?", [rule_id]).fetchone():
                time.sleep(0.001)
            seconds.append(time.perf_counter() - started)
            time.sleep(pause_s)
    finally:
        store.close()
        probe.close()
    return seconds


def propagation(folder: Path, count: int) -> dict[str, Any]:
    """Rules from box A to box B on one server; verdicts from a box to the hub through
    the site server's leaf connection."""
    figures: dict[str, Any] = {}
    server = _server(folder / "one")
    parts = [
        _agent(server.url, "a", folder / "one-a.db"),
        _agent(server.url, "b", folder / "one-b.db"),
    ]
    try:
        figures["one_server"] = _summary(
            _time_rules(folder / "one-a.db", folder / "one-b.db", count)
        )
        figures["one_server_after_idle"] = _summary(
            _time_rules(
                folder / "one-a.db", folder / "one-b.db", AFTER_IDLE_RULES, count, IDLE_PAUSE_S
            )
        )
    finally:
        for part in parts:
            part.stop()
        server.kill()
    figures["verdict_to_hub_through_leaf_node"] = _verdicts_to_hub(folder, count)
    figures["province_rule_through_leaf_node"] = _province_rules(folder, count)
    return figures


def _leaf_topology(folder: Path) -> tuple[NatsServer, NatsServer]:
    """The hub's server and a site's server as its leaf node, each with its own JetStream
    domain (the province topology of docs/cluster.md)."""
    leaf_port = free_port()
    hub_server = _server(
        folder / "hub", domain="hub", config_text=f'leafnodes {{ listen: "127.0.0.1:{leaf_port}" }}'
    )
    site = _server(
        folder / "site",
        domain="serang",
        config_text=f'leafnodes {{ remotes: [{{ url: "nats-leaf://127.0.0.1:{leaf_port}" }}] }}',
    )
    return hub_server, site


def _province_rules(folder: Path, count: int) -> dict[str, Any]:
    """A block made at the hub (its rule store, as `siaga block add` there) until its row
    is on a site's box: the hub publishes it to the province's bucket, the site's server
    mirrors the bucket across the leaf connection, and the box's agent takes it in. The
    first few blocks after the parts connect wait up to 2 s while the site's mirror and the
    box's consumer of it are set up: five go first, their times given apart (`first_ms`)."""
    hub_server, site = _leaf_topology(folder / "province")
    box_db, hub_db = folder / "province-box.db", folder / "province-hub.db"
    box = _agent(site.url, "a", box_db, domain="serang", province_domain="hub")
    hub = _agent(hub_server.url, "hub", hub_db, site="banten", hub=True, site_domains=("serang",))
    try:
        first = _time_rules(hub_db, box_db, 5)
        figures: dict[str, Any] = _summary(_time_rules(hub_db, box_db, count, first=5))
        figures["first_ms"] = [round(value * 1000, 1) for value in first]
        return figures
    finally:
        box.stop()
        hub.stop()
        site.kill()
        hub_server.kill()


def _verdicts_to_hub(folder: Path, count: int) -> dict[str, float]:
    """A verdict recorded on a site's box until its call carries it in the hub's database:
    the site's server is a leaf node of the hub's, each with its own JetStream domain, and
    the hub gathers the site's streams (the province topology of docs/cluster.md)."""
    hub_server, site = _leaf_topology(folder / "verdicts")
    box_db, hub_db = folder / "leaf-box.db", folder / "leaf-hub.db"
    box = _agent(site.url, "a", box_db, domain="serang")
    hub = _agent(hub_server.url, "hub", hub_db, site="banten", hub=True, site_domains=("serang",))
    log = CallLog(box_db, timezone=ZONE)
    log.open()
    probe = connect_writer(hub_db)
    query = "SELECT 1 FROM calls WHERE origin_id = ? AND disposition = 'prank'"
    seconds = []
    try:
        for call_id in range(1, count + 1):
            now = time.time()
            log.call_started(
                call_id,
                {"line": "line1", "caller_raw": "x", "caller": "+6281234567890",
                 "number_class": "number", "started_ts": now - 30, "decision": "pass",
                 "reason": "no_history"},
            )  # fmt: skip
            log.call_updated(call_id, {"ended_ts": now - 1, "end_cause": "operator"})
            log.record_disposition(call_id, "prank", "op1", now)
            assert log.flush()
            started = time.perf_counter()
            while not probe.execute(query, [call_id]).fetchone():
                time.sleep(0.001)
            seconds.append(time.perf_counter() - started)
    finally:
        log.close()
        probe.close()
        box.stop()
        hub.stop()
        site.kill()
        hub_server.kill()
    return _summary(seconds)


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = [value * 1000 for value in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


def _call_body(appliance: str, seq: int, now: float) -> bytes:
    started = now - 30 * 86_400 + seq * 60.0
    body = {
        "origin": appliance, "seq": seq, "id": seq, "line": "line1",
        "caller": f"+62812{seq % 100_000:07d}", "number_class": "number",
        "started_at": "2026-11-01T00:00:00.000+07:00", "started_ts": started,
        "decision": "challenge", "reason": "no_history", "rule": None,
        "challenge_result": "timeout", "reached_operator": 0, "operator_ts": None,
        "ended_ts": started + 30.0, "end_cause": "released", "interrupted": 0,
        "disposition": None, "disposition_ts": None, "line_seconds": 30.0,
        "voice_heard": 0, "desk": None, "time_trusted": 1,
    }  # fmt: skip
    return json.dumps(body).encode()


async def _publish_months(url: str, appliances: int, calls: int) -> float:
    client = await nats.connect(url)
    js = client.jetstream()
    await ensure_streams(js, replicas=1)
    started = time.perf_counter()
    now = time.time()
    for box in range(appliances):
        appliance = f"box{box}"
        pending = []
        for seq in range(1, calls + 1):
            headers = {"Nats-Msg-Id": message_id("serang", appliance, seq)}
            subject = call_subject(f"site{box % 8}", appliance)
            pending.append(
                await js.publish_async(subject, _call_body(appliance, seq, now), headers=headers)
            )
        await asyncio.gather(*pending)
    await client.close()
    return time.perf_counter() - started


def hub_ingest(folder: Path, appliances: int, calls: int) -> dict[str, Any]:
    server = _server(folder / "ingest")
    try:
        total = appliances * calls
        published_s = asyncio.run(_publish_months(server.url, appliances, calls))
        hub_db = folder / "hub.db"
        started = time.perf_counter()
        hub = _agent(server.url, "hub", hub_db, site="banten", hub=True)
        count = "SELECT count(*) FROM calls"
        wait_until(
            lambda: rows(hub_db, count) == [(total,)], "every call at the hub", timeout_s=1800
        )
        seconds = time.perf_counter() - started
        hub.stop()
    finally:
        server.kill()
    return {
        "appliances": appliances,
        "calls": total,
        "published_s": round(published_s, 1),
        "ingest_s": round(seconds, 1),
        "calls_per_s": round(total / seconds),
    }


def _offline_day(db: Path, calls: int) -> int:
    log = CallLog(db, timezone=ZONE)
    log.open()
    now = time.time()
    verdicts = 0
    try:
        for call_id in range(1, calls + 1):
            started = now - 86_400 + call_id * (86_400 / calls)
            log.call_started(
                call_id,
                {"line": f"line{call_id % 4 + 1}", "caller_raw": "x",
                 "caller": f"+62813{call_id % 3000:07d}", "number_class": "number",
                 "started_ts": started, "decision": "challenge", "reason": "no_history"},
            )  # fmt: skip
            log.call_updated(call_id, {"ended_ts": started + 20, "end_cause": "released"})
            if call_id % 10 == 0:
                log.record_disposition(call_id, "prank", "op1", started + 25)
                verdicts += 1
        assert log.flush(60)
    finally:
        log.close()
    return verdicts


def catch_up(folder: Path, calls: int) -> dict[str, Any]:
    from appliance.cluster import store

    server = _server(folder / "catch")
    a, b = folder / "catch-a.db", folder / "catch-b.db"
    box_b = _agent(server.url, "b", b)
    db = connect_writer(a)
    store.declare(db, "serang", "a", time.time())
    db.close()
    verdicts = _offline_day(a, calls)
    waiting = rows(a, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL")[0][0]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    box_a = _agent(server.url, "a", a)
    unsent = "SELECT count(*) FROM outbox WHERE sent_ts IS NULL"
    wait_until(lambda: rows(a, unsent) == [(0,)], "the outbox to drain", timeout_s=1800)
    drained_s = time.perf_counter() - started
    wait_until(
        lambda: rows(b, "SELECT count(*) FROM peer_facts") == [(verdicts,)],
        "every verdict on box b",
        timeout_s=600,
    )
    received_s = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = usage.ru_utime + usage.ru_stime - cpu_before
    box_a.stop()
    box_b.stop()
    server.kill()
    return {
        "messages": waiting,
        "calls": calls,
        "verdicts": verdicts,
        "drained_s": round(drained_s, 2),
        "all_verdicts_on_b_s": round(received_s, 2),
        "messages_per_s": round(waiting / drained_s),
        "cpu_s_per_1000_messages_both_agents": round(cpu_s / waiting * 1000, 3),
    }


def agent_cost(folder: Path, calls: int, idle_s: float) -> dict[str, Any]:
    """`siaga sync` as its own process: the share of a core it takes while nothing
    happens (over `idle_s` after connecting), and its memory idle and after a catch-up of
    `calls` calls."""
    import subprocess

    server = _server(folder / "cost")
    db = folder / "cost.db"
    config = folder / "cost.toml"
    config.write_text(
        f'[database]\npath = "{db}"\n[cluster]\nsite = "serang"\nappliance = "a"\n'
        f'servers = ["{server.url}"]\n',
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "sync", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _connected_once(db), "siaga sync to connect", timeout_s=60)
        idle_cpu_before, idle_started = _cpu_s(process.pid), time.monotonic()
        time.sleep(idle_s)
        idle_cpu_share = (_cpu_s(process.pid) - idle_cpu_before) / (time.monotonic() - idle_started)
        idle = _status(process.pid)
        cpu_before = _cpu_s(process.pid)
        _offline_day(db, calls)
        unsent = "SELECT count(*) FROM outbox WHERE sent_ts IS NULL"
        messages = rows(db, "SELECT count(*) FROM outbox")[0][0]
        wait_until(lambda: rows(db, unsent) == [(0,)], "the outbox to drain", timeout_s=1800)
        after = _status(process.pid)
        cpu_s = _cpu_s(process.pid) - cpu_before
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.kill()
    return {
        "idle_cpu_percent": round(idle_cpu_share * 100, 2),
        "idle_rss_mb": idle["VmRSS"],
        "after_rss_mb": after["VmRSS"],
        "peak_mb": after["VmHWM"],
        "messages": messages,
        "cpu_s_per_1000_messages": round(cpu_s / messages * 1000, 3),
    }


def _connected_once(db: Path) -> bool:
    """Whether the agent has noted its first session (its database may still be made)."""
    try:
        return rows(db, "SELECT count(*) FROM events WHERE kind = 'sync_connected'") == [(1,)]
    except sqlite3.OperationalError:  # no file or no table yet
        return False


def _status(pid: int) -> dict[str, float]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    import os

    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--appliances", type=int, default=50)
    parser.add_argument("--calls-per-appliance", type=int, default=SERANG_MONTH_CALLS)
    parser.add_argument("--offline-calls", type=int, default=3000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    runs: dict[str, Callable[[Path], dict[str, Any]]] = {
        "propagation": lambda folder: propagation(folder, args.rules),
        "hub_ingest": lambda folder: hub_ingest(folder, args.appliances, args.calls_per_appliance),
        "catch_up": lambda folder: catch_up(folder, args.offline_calls),
        "agent_cost": lambda folder: agent_cost(folder, args.offline_calls, args.idle_seconds),
    }
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="siaga-bench-cluster-") as tmp:
        for name, run in runs.items():
            if args.only and name not in args.only:
                continue
            results[name] = run(Path(tmp) / name)
            logger.warning("%s: %s", name, json.dumps(results[name]))
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
