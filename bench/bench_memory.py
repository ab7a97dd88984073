"""Benchmark: resident memory of the line service and of the web process.

Usage: .venv/bin/python bench/bench_memory.py [--rules 100000] [--lines 8] [--rounds 20]
           [--skip-web]

Line service: a fresh spawned process (nothing else loaded in it) builds the service as
`bench_clip_to_action.py` does (the real `LineService`, `CallLog` and `RuleStore`, `--lines`
lines on virtual modems that live in yet another process, as modems are separate
hardware) on a database that already holds `--rules` block rules, so `prepare()` loads
them through `RuleStore.active()` into the policy's index. The rules are written
beforehand, by this process, in bulk, with exactly the rows `RuleStore.add` builds (its
own `_new_row`), so building them does not count. The service then takes `--rounds`
rounds of calls on every line at once (rejected by exact rules), and once every line is
idle again the process reads its own VmRSS and VmHWM (peak) from /proc/self/status.
Target: under 80 MB (VmHWM).

Web process: `siaga web --db FILE` as a subprocess on a free local port, over a database
of 100,000 generated calls (bench_queries' generator) with one technician made by
`siaga user add NAME --role technician --password-stdin`. After logging in with
`POST /api/login` (httpx) it serves each page and API call in `WEB_PATHS` five times;
then its VmRSS and VmHWM are read from /proc/<pid>/status. No target in the issue.

Prints a line per process and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_clip_to_action import run_once
from bench_queries import build_database

from appliance.service import LineService
from appliance.store import RuleStore
from appliance.store._sqlite import connect_writer

logger = logging.getLogger("bench.memory")

ROOT = Path(__file__).resolve().parent.parent
SIAGA = ROOT / ".venv" / "bin" / "siaga"
TARGET_SERVICE_MB = 80.0
WEB_USER = "benchtech"
WEB_PASSWORD = "bench-password-112"
WEB_PATHS = (
    "/",
    "/console",
    "/api/console",
    "/api/me",
    "/users",
    "/api/users",
    "/audit",
    "/api/audit",
    "/docs",
    "/openapi.json",
)


def proc_status_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (1e6 bytes), from /proc/<pid>/status."""
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = round(int(value.split()[0]) * 1024 / 1e6, 1)
    return figures


# ------------------------------------------------------------------ line service


def write_rules(path: Path, count: int) -> None:
    """`count` exact block rules, as `RuleStore.add` would write them, in one transaction."""
    connect_writer(path).close()
    store = RuleStore(path)
    try:
        rows = [
            store._new_row(
                {
                    # An explicit id: RuleStore's default (8 random hex digits) collides
                    # about 2 times in 3 among 100,000 rules (birthday bound).
                    "id": f"b-bench-{index}",
                    "kind": "block",
                    "pattern": f"+62857{index:08d}",
                    "match": "exact",
                    "action": "challenge",
                    "reason": "bench",
                    "created_by": "bench",
                    "created_ts": 1_717_200_000.0,
                    "expires_ts": 4_102_444_800.0,
                }
            )
            for index in range(count)
        ]
    finally:
        store.close()
    if not rows:
        return
    columns = list(rows[0])
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO rules ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [[row[column] for column in columns] for row in rows],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _probe(service: LineService) -> dict[str, Any]:
    return {"block_rules": len(service.policy.block), **proc_status_mb()}


def _service_child(db_path: str, lines: int, rounds: int, out: Any) -> None:
    """Entry point of the measured process: run the service, send back its memory."""
    logging.basicConfig(level=logging.ERROR, format="service %(levelname)s %(name)s: %(message)s")
    result = run_once(lines, rounds, "sim800", "reject", 2, db_path=Path(db_path), probe=_probe)
    out.send({**result["probe"], "calls": result["calls"], "p99_ms": result["p99_ms"]})


def measure_service(rules: int, lines: int, rounds: int) -> dict[str, Any]:
    """The line service's memory with `rules` block rules and `lines` lines."""
    with tempfile.TemporaryDirectory(prefix="siaga-mem-") as tmp:
        db_path = Path(tmp) / "service.db"
        write_rules(db_path, rules)
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        child = context.Process(
            target=_service_child, args=(str(db_path), lines, rounds, there), name="line-service"
        )
        child.start()
        there.close()
        try:
            if not here.poll(600):
                raise RuntimeError("the line service process reported nothing in 600 s")
            figures: dict[str, Any] = here.recv()
        finally:
            child.join(30)
            if child.is_alive():
                child.terminate()
                child.join(5)
    if figures["block_rules"] < rules:
        raise RuntimeError(f"only {figures['block_rules']} block rules loaded")
    return {
        "rules": rules,
        "lines": lines,
        "rss_mb": figures["VmRSS"],
        "hwm_mb": figures["VmHWM"],
        "block_rules_loaded": figures["block_rules"],
        "calls": figures["calls"],
        "target_mb": TARGET_SERVICE_MB,
    }


# ------------------------------------------------------------------ web process


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"siaga web exited with status {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"siaga web did not listen on port {port} within {timeout_s} s")


def measure_web(calls: int = 100_000) -> dict[str, Any]:
    """`siaga web`'s memory after serving every path in WEB_PATHS five times."""
    with tempfile.TemporaryDirectory(prefix="siaga-web-") as tmp:
        db_path = Path(tmp) / "web.db"
        build_database(calls, db_path)
        subprocess.run(
            [str(SIAGA), "user", "add", WEB_USER, "--role", "technician", "--password-stdin",
             "--db", str(db_path)],
            input=f"{WEB_PASSWORD}\n".encode(), check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        port = _free_port()
        process = subprocess.Popen(
            [str(SIAGA), "web", "--db", str(db_path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for_port(port, process, 60.0)
            statuses: dict[str, int] = {}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
                login = client.post(
                    "/api/login", json={"username": WEB_USER, "password": WEB_PASSWORD}
                )
                login.raise_for_status()
                for _ in range(5):
                    for path in WEB_PATHS:
                        statuses[path] = client.get(path).status_code
            figures = proc_status_mb(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
    failed = {path: status for path, status in statuses.items() if status >= 400}
    if failed:
        logger.warning("siaga web answered with errors: %s", failed)
    return {
        "calls_in_db": calls,
        "requests": 5 * len(WEB_PATHS) + 1,
        "rss_mb": figures["VmRSS"],
        "hwm_mb": figures["VmHWM"],
        "statuses": statuses,
    }


def run(rules: int, lines: int, rounds: int, *, web: bool = True) -> dict[str, Any]:
    """Both measurements."""
    result: dict[str, Any] = {"bench": "memory", "service": measure_service(rules, lines, rounds)}
    if web:
        result["web"] = measure_web()
    result["python"] = sys.version.split()[0]
    result["pid"] = os.getpid()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20, help="rounds of calls first")
    parser.add_argument("--skip-web", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = run(args.rules, args.lines, args.rounds, web=not args.skip_web)
    service = result["service"]
    print(
        f"line service, {service['lines']} lines, {service['block_rules_loaded']} block rules: "
        f"VmRSS {service['rss_mb']} MB, VmHWM {service['hwm_mb']} MB "
        f"(target < {TARGET_SERVICE_MB:g} MB)"
    )
    if "web" in result:
        web = result["web"]
        print(f"siaga web after {web['requests']} requests: VmRSS {web['rss_mb']} MB, "
              f"VmHWM {web['hwm_mb']} MB")  # fmt: skip
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
