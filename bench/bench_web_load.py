"""Benchmark: the operator's console while the web UI is attacked, over loopback only.

Usage: .venv/bin/python bench/bench_web_load.py [--seconds 20] [--logins 150]
           [--stalled 1000] [--slow-share 0.1]

The server: the real `siaga web` as a subprocess on a free port of 127.0.0.1 (one
uvicorn worker, as on the box), over a new database with one operator and one
supervisor (`siaga user add`) and 8 lines in `line_status` (two callers waiting, one
connected, as `bench_web_pages.py` sets them). Its descriptor limit is raised to
`NOFILE` (16384, as `LimitNOFILE=` in the installed unit) or the hard limit if lower;
this process raises its own too, since it holds every attacking socket.

Two phases of `--seconds` each, the operator the same in both:

- **The operator** (a process of its own, so the attack's work does not delay its clock):
  logged in through `POST /api/login` from 127.0.0.1 before anything else, one
  keep-alive connection as a browser holds it, asks every 100 ms in turn for
  `GET /api/console` (the snapshot the console's script fetches) and `GET /console` (the
  page). Timed client side, the whole request. An error is any answer but 200, or none.
- **Alone**: nothing else.
- **Attacked** (a second process, asyncio over raw sockets so the attacker's own CPU stays
  small on a shared 2-core machine), all at once while the operator polls:
  - `--logins` (150) anonymous clients, each from an address of its own (127.0.1.x: the
    per-address throttle and lockouts apply to each as to a desk of its own), each
    sending `POST /api/login` with a wrong password again as soon as it is answered,
    ignoring `Retry-After`: half to the operator's existing name, half to names that do
    not exist;
  - `--stalled` (1,000) connections: most send half a request line and nothing more;
    a `--slow-share` of them send their headers a byte a second. When the server closes
    one it is opened again at once, so the count holds for the whole phase.

Reported: the operator's p50/p95/p99/max and errors in each phase; the logins' answers
by status (and any 5xx or connection failure); the stalled connections opened, closed by
the server and how long the server let them live; the web process's peak memory
(VmHWM from /proc), its peak open descriptors and threads (sampled every 0.25 s); and
whether the server logged an error. Target: operator p95 under 200 ms while attacked.
Prints a table and one JSON line; the exit status is 1 if the target is missed or the
operator saw an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_memory import SIAGA, _free_port, _wait_for_port
from bench_web_pages import set_line_states

logger = logging.getLogger("bench.web_load")

TARGET_P95_MS = 200.0
NOFILE = 16_384  # systemd/siaga-web.service: LimitNOFILE=
POLL_S = 0.1
OPERATOR = "benchop"
SUPERVISOR = "benchsup"
PASSWORD = "bench-password-112"
OPERATOR_PATHS = ("/api/console", "/console")
HEAVY, TYPICAL = "+6281234567890", "+6285712345678"
STALL_LINE = b"GET /api/console HT"  # half a request line, then nothing
SLOW_HEAD = b"GET /api/console HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
ATTACK_LEAD_S = 2.0  # the attack in full swing before the operator's clock starts
ATTACK_ADDRESS = "127.0.1.{}"  # loopback is 127.0.0.0/8: one address per attacker


# ------------------------------------------------------------------ limits and database


def raise_nofile(wanted: int = NOFILE) -> int:
    """Raise this process's soft descriptor limit to `wanted` (or the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def add_user(db_path: Path, name: str, role: str) -> None:
    """An account made by the real `siaga user add` (migrates a new database)."""
    subprocess.run(
        [str(SIAGA), "user", "add", name, "--role", role, "--password-stdin",
         "--db", str(db_path)],
        input=f"{PASSWORD}\n".encode(), check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def prepare_database(db_path: Path) -> None:
    """A new database: an operator, a supervisor, 8 lines with callers waiting."""
    add_user(db_path, OPERATOR, "operator")
    add_user(db_path, SUPERVISOR, "supervisor")
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        set_line_states(conn, HEAVY, TYPICAL, time.time())
        conn.execute("COMMIT")
    finally:
        conn.close()


# ------------------------------------------------------------------ the server


@dataclass
class WebProcess:
    """The `siaga web` subprocess, its base URL and its log file."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _child_limits() -> None:
    raise_nofile()


@contextlib.contextmanager
def web_server(db_path: Path, *options: str) -> Iterator[WebProcess]:
    """`siaga web` on `db_path`, its descriptor limit raised; its stderr kept in a file."""
    port = _free_port()
    log_path = db_path.with_suffix(".log")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(SIAGA), "web", "--db", str(db_path), "--host", "127.0.0.1",
             "--port", str(port), *options],
            stdout=subprocess.DEVNULL, stderr=log_file, preexec_fn=_child_limits,
        )  # fmt: skip
    try:
        _wait_for_port(port, process, 120.0)
        yield WebProcess(f"http://127.0.0.1:{port}", port, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS (kB) and Threads of a process."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "Threads"):
            found[key] = int(value.split()[0])
    return found


class Sampler:
    """The web process's peak descriptors and threads, and its VmHWM, every 0.25 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_fds = 0
        self.peak_threads = 0
        self.hwm_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _sample(self) -> None:
        with contextlib.suppress(OSError):
            self.peak_fds = max(self.peak_fds, len(os.listdir(f"/proc/{self.pid}/fd")))
            status = _status(self.pid)
            self.peak_threads = max(self.peak_threads, status.get("Threads", 0))
            self.hwm_kb = max(self.hwm_kb, status.get("VmHWM", 0))

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def __enter__(self) -> Sampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()

    def figures(self) -> dict[str, float]:
        return {
            "peak_fds": self.peak_fds,
            "peak_threads": self.peak_threads,
            "vmhwm_mb": round(self.hwm_kb * 1024 / 1e6, 1),
        }


# ------------------------------------------------------------------ the operator


def operator_login(client: httpx.Client) -> None:
    """Log the operator in (before any attack: the attackers never use 127.0.0.1)."""
    client.post("/api/login", json={"username": OPERATOR, "password": PASSWORD}).raise_for_status()


Sample = tuple[str, float, int, float]  # path, ms, status (0: no answer), seconds in


def poll_console(client: httpx.Client, seconds: float) -> list[Sample]:
    """A sample of each poll, one every `POLL_S` for `seconds`."""
    samples: list[Sample] = []
    started = time.monotonic()
    index = 0
    while time.monotonic() - started < seconds:
        path = OPERATOR_PATHS[index % len(OPERATOR_PATHS)]
        begun = time.perf_counter()
        try:
            status = client.get(path).status_code
        except httpx.HTTPError:
            status = 0
        ms = (time.perf_counter() - begun) * 1000.0
        samples.append((path, ms, status, round(time.monotonic() - started, 2)))
        index += 1
        delay = started + index * POLL_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return samples


def _operator_child(
    url: str, seconds: float, delay_s: float, ready: Any, go: Any, out: Connection
) -> None:
    """The operator's process: log in, say so, poll `delay_s` after being told, send the
    samples back."""
    with httpx.Client(base_url=url, timeout=30.0) as client:
        operator_login(client)
        ready.set()
        go.wait(120)
        time.sleep(delay_s)
        out.send(poll_console(client, seconds))


def latency(samples: Sequence[Sample]) -> dict[str, float]:
    """p50, p95, p99 (nearest rank), max in ms; requests and errors."""
    ordered = sorted(sample[1] for sample in samples) or [0.0]

    def rank(share: float) -> float:
        return ordered[max(1, -(-len(ordered) * int(share * 100) // 100)) - 1]

    return {
        "requests": len(samples),
        "errors": sum(1 for sample in samples if sample[2] != 200),
        "p50_ms": round(ordered[len(ordered) // 2], 1),
        "p95_ms": round(rank(0.95), 1),
        "p99_ms": round(rank(0.99), 1),
        "max_ms": round(ordered[-1], 1),
    }


# ------------------------------------------------------------------ the attack


@dataclass
class AttackCounts:
    """What the attacking process saw."""

    logins: Counter[str]
    stalled_opened: int = 0
    stalled_closed_by_server: int = 0
    stalled_connect_failures: int = 0
    lifetimes_s: list[float] | None = None

    def figures(self) -> dict[str, Any]:
        lives = sorted(self.lifetimes_s or []) or [0.0]
        return {
            "logins": dict(sorted(self.logins.items())),
            "stalled_opened": self.stalled_opened,
            "stalled_closed_by_server": self.stalled_closed_by_server,
            "stalled_connect_failures": self.stalled_connect_failures,
            "stalled_life_p50_s": round(lives[len(lives) // 2], 1),
            "stalled_life_max_s": round(lives[-1], 1),
        }


def login_request(port: int, username: str) -> bytes:
    """A keep-alive `POST /api/login` with a wrong password, as raw bytes."""
    body = json.dumps({"username": username, "password": "wrong-password-112"}).encode()
    head = (
        f"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server keeps the connection) of one answer with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def attacker(port: int, index: int, until: float, counts: AttackCounts) -> None:
    """One login guesser from its own address, sending again as soon as it is answered."""
    username = OPERATOR if index % 2 == 0 else f"nosuch{index}"
    request = login_request(port, username)
    address = ATTACK_ADDRESS.format(index % 250 + 1)
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(address, 0)
            )
        except OSError:
            counts.logins["connect failed"] += 1
            await asyncio.sleep(0.1)
            continue
        try:
            keep = True
            while keep and time.monotonic() < until:
                writer.write(request)
                status, keep = await read_answer(reader)
                counts.logins[str(status)] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts.logins["connection lost"] += 1
        finally:
            writer.close()


async def staller(port: int, slow: bool, until: float, counts: AttackCounts) -> None:
    """One stalled connection, opened again whenever the server closes it."""
    assert counts.lifetimes_s is not None
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts.stalled_connect_failures += 1
            await asyncio.sleep(0.5)
            continue
        counts.stalled_opened += 1
        opened = time.monotonic()
        try:
            writer.write(SLOW_HEAD if slow else STALL_LINE)
            while time.monotonic() < until:
                if slow:
                    writer.write(b"x")
                with contextlib.suppress(asyncio.TimeoutError):
                    if not await asyncio.wait_for(reader.read(1024), timeout=1.0):
                        counts.stalled_closed_by_server += 1
                        counts.lifetimes_s.append(time.monotonic() - opened)
                        break
        except OSError:
            counts.stalled_closed_by_server += 1
            counts.lifetimes_s.append(time.monotonic() - opened)
        finally:
            writer.close()


async def attack(
    port: int, logins: int, stalled: int, slow_share: float, seconds: float
) -> dict[str, Any]:
    """Every attacker at once for `seconds`; what they saw."""
    counts = AttackCounts(logins=Counter(), lifetimes_s=[])
    until = time.monotonic() + seconds
    slow = round(stalled * slow_share)
    tasks = [staller(port, index < slow, until, counts) for index in range(stalled)]
    tasks += [attacker(port, index, until, counts) for index in range(logins)]
    await asyncio.gather(*tasks)
    return counts.figures()


def _attack_child(port: int, logins: int, stalled: int, slow_share: float, seconds: float,
                  go: Any, out: Connection) -> None:  # fmt: skip
    """The attacking process."""
    raise_nofile()
    go.wait(120)
    out.send(asyncio.run(attack(port, logins, stalled, slow_share, seconds)))


# ------------------------------------------------------------------ phases


@dataclass(frozen=True)
class Load:
    """How hard and how long."""

    seconds: float = 20.0
    logins: int = 150
    stalled: int = 1000
    slow_share: float = 0.1


def run_phase(web: WebProcess, load: Load, *, attacked: bool) -> dict[str, Any]:
    """One phase: the operator polling, with or without the attack."""
    context = multiprocessing.get_context("spawn")
    delay_s = ATTACK_LEAD_S if attacked else 0.0
    ready, go = context.Event(), context.Event()
    here, there = context.Pipe(duplex=False)
    attack_here, attack_there = context.Pipe(duplex=False)
    operator = context.Process(
        target=_operator_child,
        args=(web.url, load.seconds, delay_s, ready, go, there),
        name="operator",
    )
    attack_s = load.seconds + delay_s + 0.5
    attacker_process = context.Process(
        target=_attack_child,
        args=(web.port, load.logins, load.stalled, load.slow_share, attack_s, go, attack_there),
        name="attacker",
    )  # fmt: skip
    processes = [operator] + ([attacker_process] if attacked else [])
    for process in processes:
        process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the operator could not log in")
        with Sampler(web.process.pid) as sampler:
            go.set()
            samples = here.recv() if here.poll(load.seconds + 120) else []
            figures: dict[str, Any] = {"operator": latency(samples)}
            slowest = sorted(samples, key=lambda sample: -sample[1])[:5]
            figures["operator"]["slowest"] = [
                {"path": path, "ms": round(ms, 1), "status": status, "at_s": at}
                for path, ms, status, at in slowest
            ]
            if attacked:
                figures["attack"] = attack_here.recv() if attack_here.poll(120) else {}
        figures["web"] = sampler.figures()
        figures["operator"]["by_path"] = {
            path: latency([s for s in samples if s[0] == path]) for path in OPERATOR_PATHS
        }
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.terminate()
                process.join(5)
    return figures


def server_errors(log: str) -> list[str]:
    """Lines of the web process's log that report an error (a traceback, a 5xx)."""
    markers = ("Traceback", "ERROR", "Exception in ASGI", " 500 ")
    return [line for line in log.splitlines() if any(marker in line for marker in markers)]


def run(load: Load, folder: Path) -> dict[str, Any]:
    """Both phases on one server: alone first, then attacked."""
    limit = raise_nofile()
    db_path = folder / "load.db"
    prepare_database(db_path)
    with web_server(db_path) as web:
        child_limit = child_nofile(web.process.pid)
        alone = run_phase(web, load, attacked=False)
        attacked = run_phase(web, load, attacked=True)
        alive = web.process.poll() is None
        log = web.log()
    p95 = attacked["operator"]["p95_ms"]
    return {
        "bench": "web_load",
        "load": load.__dict__,
        "nofile": {"bench": limit, "web": child_limit},
        "alone": alone,
        "attacked": attacked,
        "web_alive_after": alive,
        "web_log_errors": server_errors(log)[:20],
        "target_p95_ms": TARGET_P95_MS,
        "target_met": p95 < TARGET_P95_MS and attacked["operator"]["errors"] == 0,
    }


def child_nofile(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 0


def print_table(result: dict[str, Any]) -> None:
    """The figures for a person."""
    load = result["load"]
    print(
        f"operator polling every {POLL_S * 1000:.0f} ms, {load['seconds']:g} s a phase; attack:"
        f" {load['logins']} login guessers, {load['stalled']} stalled connections"
        f" ({load['slow_share']:.0%} slow headers)"
    )
    print(f"{'phase':<10} {'requests':>8} {'errors':>6} {'p50':>7} {'p95':>7} {'p99':>7} "
          f"{'max':>7}  {'VmHWM MB':>8} {'fds':>6} {'threads':>7}")  # fmt: skip
    for phase in ("alone", "attacked"):
        op, web = result[phase]["operator"], result[phase]["web"]
        print(
            f"{phase:<10} {op['requests']:>8} {op['errors']:>6} {op['p50_ms']:>7.1f} "
            f"{op['p95_ms']:>7.1f} {op['p99_ms']:>7.1f} {op['max_ms']:>7.1f}  "
            f"{web['vmhwm_mb']:>8.1f} {web['peak_fds']:>6} {web['peak_threads']:>7}"
        )
    verdict = "met" if result["target_met"] else "MISSED"
    print(f"target: operator p95 < {result['target_p95_ms']:g} ms while attacked: {verdict}")
    print(f"attack: {json.dumps(result['attacked'].get('attack', {}), sort_keys=True)}")
    print(f"web alive after: {result['web_alive_after']}; errors logged: "
          f"{len(result['web_log_errors'])}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run both phases; print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--logins", type=int, default=150, help="concurrent login guessers")
    parser.add_argument("--stalled", type=int, default=1000, help="stalled connections")
    parser.add_argument("--slow-share", type=float, default=0.1, help="of them: slow headers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    load = Load(args.seconds, args.logins, args.stalled, args.slow_share)
    (Path.cwd() / "var").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="siaga-bench-load-", dir=Path.cwd() / "var") as tmp:
        result = run(load, Path(tmp))
    print_table(result)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
