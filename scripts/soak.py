# ruff: noqa: T201  (a script: it prints its table)
"""Soak: simulated days of traffic with faults injected at random; resources stay flat.

    .venv/bin/python scripts/soak.py [--days 30] [--seed 112] [--faults-per-day 8]

The real appliance (line service, policy, line state machines, AT over pseudo-terminals to
virtual modems, SQLite call log) runs on a virtual clock as in `siaga simulate`, with the
scenario's generated traffic. At random moments, on random lines, a fault is injected:
the modem unplugged and plugged back on a new tty (its stable name follows, as udev's
does), a reboot, a burst of garbage and 0xFF, the modem going silent for a while, or the
database held by another process in a write transaction for a few real seconds.

Every simulated day the process's resident memory (VmRSS), thread count and open file
descriptors (/proc/self/fd) are sampled. At the end a table is printed and two things are
checked (exit status 1 if either fails):

- flat: after a warm-up of WARMUP_DAYS, the maximum of the last week is within
  FLAT_TOLERANCE (10 %) of the maximum of the first week, for memory, threads and file
  descriptors alike (threads and descriptors also get FLAT_SLACK_ABS, two, for a sample
  taken while a database-lock holder's pipe is open); checked only for runs of at least
  MIN_DAYS_FOR_FLAT days;
- accounted: every scenario call ended with a row in the call log, or was lost busy
  (every modem busy or down: the network answered busy), or rang on a modem whose line
  was not idle at that moment (failed, initialising, still closing the previous call) and
  gave up before the line saw it: counted on its own, by the line's state
  (`no_row_line_<state>`). Any other call is a lost call.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from appliance.clock import LoopClock, VirtualTimeLoop  # noqa: E402
from appliance.config import Config, LineConfig  # noqa: E402
from appliance.model import LineState  # noqa: E402
from appliance.month import generate  # noqa: E402
from appliance.scenario import ScenarioCall  # noqa: E402
from appliance.service import LineService  # noqa: E402
from appliance.simulate import (  # noqa: E402
    LEAD_IN_S,
    MIXED_FAMILIES,
    SIMULATED_AUDIO_CHUNK_S,
    InFlightProbe,
    ScenarioDriver,
    SimulatedOperators,
    wait_until_idle,
)
from appliance.store import CallLog, RuleStore, open_readonly  # noqa: E402
from firmware.virtual_modem import VirtualModem  # noqa: E402

DAY_S = 86_400.0
WARMUP_DAYS = 2
MIN_DAYS_FOR_FLAT = 14
FLAT_TOLERANCE = 0.10
FLAT_SLACK_ABS = 2
FAULTS = ("unplug", "reboot", "garbage", "silent", "db_lock")
GARBAGE = b"\xff" * 256 + b"\r\n\x00\xfe+CL\xffIP: \x07\r\n" + bytes(range(256)) + b"\r\n"
_HOLDER = (
    "import sqlite3, sys, time\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
    "c.execute('BEGIN IMMEDIATE')\n"
    "time.sleep(float(sys.argv[2]))\n"
    "c.execute('COMMIT')\n"
)


@dataclass
class Sample:
    """Resources of this process at the end of one simulated day."""

    day: int
    rss_kb: int
    threads: int
    fds: int
    calls: int  # scenario calls that had arrived by then


@dataclass
class SoakResult:
    """What a soak run measured."""

    days: int
    calls: int
    samples: list[Sample]
    faults: Counter[str]
    accounting: Counter[str]  # row, lost_busy, no_row_line_<state>, lost
    lost_ids: list[str]
    wall_s: float
    flat: dict[str, tuple[int, int, bool]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every call accounted for, and (for long runs) resources flat."""
        return not self.lost_ids and all(ok for _, _, ok in self.flat.values())


def resources() -> tuple[int, int, int]:
    """(VmRSS in kB, threads, open file descriptors) of this process, from /proc."""
    fields: dict[str, str] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    rss_kb = int(fields["VmRSS"].split()[0])
    return rss_kb, int(fields["Threads"]), len(os.listdir("/proc/self/fd"))


class AccountingDriver(ScenarioDriver):
    """The simulator's driver, also noting the state of the line each call rang on."""

    def __init__(self, *args: Any, service_lines: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lines = service_lines
        self.arrived = 0
        self.rang_on_down_line: dict[str, str] = {}  # call id -> the line's state

    def _arrive(self, call: ScenarioCall) -> None:
        self.arrived += 1
        super()._arrive(call)
        for name, playing in self._playing.items():
            if playing.scenario is call:
                state = self._lines[name].state
                if state is not LineState.IDLE:
                    self.rang_on_down_line[call.id] = state.value
                break


class FaultInjector:
    """Injects a random fault on a random line every so often (virtual time)."""

    def __init__(
        self,
        modems: dict[str, VirtualModem],
        links: dict[str, Path],
        db_path: Path,
        rng: random.Random,
        faults_per_day: float,
        lock_hold_s: tuple[float, float] = (1.0, 7.0),
    ) -> None:
        self._modems = modems
        self._links = links
        self._db_path = db_path
        self._rng = rng
        self._mean_gap_s = DAY_S / faults_per_day
        self._lock_hold_s = lock_hold_s
        self._busy: set[str] = set()  # lines with a fault in progress
        self._holders: list[subprocess.Popen[bytes]] = []
        self.injected: Counter[str] = Counter()

    async def run(self) -> None:
        """Inject faults until cancelled."""
        try:
            while True:
                await asyncio.sleep(self._rng.expovariate(1.0 / self._mean_gap_s))
                self._reap()
                self._inject(self._rng.choice(FAULTS))
        finally:
            for holder in self._holders:
                holder.wait()

    def _inject(self, fault: str) -> None:
        free = [name for name in self._modems if name not in self._busy]
        if fault == "db_lock":
            hold_s = self._rng.uniform(*self._lock_hold_s)  # real s; > 5 s: writes fail
            self._holders.append(
                subprocess.Popen([sys.executable, "-c", _HOLDER, str(self._db_path), str(hold_s)])
            )
            self.injected[fault] += 1
            return
        if not free:
            return
        name = self._rng.choice(free)
        modem = self._modems[name]
        loop = asyncio.get_running_loop()
        self.injected[fault] += 1
        if fault == "garbage":
            for index in range(5):
                loop.call_later(index * 0.3, modem.inject, GARBAGE)
        elif fault == "reboot":
            modem.reboot(delay_s=self._rng.uniform(2.0, 25.0))
        elif fault == "silent":
            self._busy.add(name)
            modem.silent = True
            loop.call_later(self._rng.uniform(30.0, 900.0), self._speak_again, name)
        elif fault == "unplug":
            self._busy.add(name)
            modem.unplug()
            self._links[name].unlink()
            outage_s = self._rng.uniform(5.0, 600.0)
            loop.call_later(outage_s, lambda: asyncio.ensure_future(self._replug(name)))

    def _speak_again(self, name: str) -> None:
        self._modems[name].silent = False
        self._busy.discard(name)

    async def _replug(self, name: str) -> None:
        path = await self._modems[name].replug()
        link = self._links[name]
        fresh = link.with_name(link.name + ".new")
        fresh.symlink_to(path)
        os.replace(fresh, link)
        self._busy.discard(name)

    def _reap(self) -> None:
        self._holders = [holder for holder in self._holders if holder.poll() is None]


async def _soak(
    calls: list[ScenarioCall],
    work: Path,
    clock: LoopClock,
    *,
    lines: int,
    faults_per_day: float,
    seed: int,
    lock_hold_s: tuple[float, float],
) -> tuple[AccountingDriver, list[Sample], Counter[str]]:
    config = Config()
    db_path = work / "soak.db"
    modems: dict[str, VirtualModem] = {}
    links: dict[str, Path] = {}
    line_configs = []
    for index in range(lines):
        name = f"line{index + 1}"
        family = MIXED_FAMILIES[index % len(MIXED_FAMILIES)]
        if family == "huawei":  # its voice port moves on replug too: keep to one-tty modems
            family = "sim7600"
        modem = VirtualModem(family, name=name, imei=f"35693803564{index:04d}")
        modem.audio_chunk_s = SIMULATED_AUDIO_CHUNK_S
        await modem.start()
        modems[name] = modem
        links[name] = work / f"modem-{name}"
        links[name].symlink_to(modem.port)
        line_configs.append(
            LineConfig(name=name, port=str(links[name]), family=family, desk=f"desk{index + 1}")  # type: ignore[arg-type]
        )
    call_log = CallLog(db_path, timezone=config.site.timezone)
    call_log.open(now_ts=clock.timestamp())
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    service = LineService(
        config,
        call_log=call_log,
        rule_store=RuleStore(db_path, timezone=config.site.timezone),
        clock=clock,
        lines=line_configs,
        health_interval_s=60.0,  # as on the box: a silent modem is noticed
        rule_poll_s=None,
        desk_poll_s=None,
    )
    driver = AccountingDriver(modems, clock, config.challenge.key, service_lines=service.lines)
    for name, modem in modems.items():
        loop.add_in_flight_probe(InFlightProbe(service.lines[name], modem))
    loop.add_in_flight_probe(lambda: call_log.commit_waiters > 0)
    service.desks.append(SimulatedOperators(service, driver, 4, 5.0))
    service.prepare()
    runner = asyncio.create_task(service.run())
    injector = FaultInjector(
        modems, links, db_path, random.Random(seed), faults_per_day, lock_hold_s
    )
    samples: list[Sample] = []

    async def sample_daily() -> None:
        day = 0
        while True:
            await asyncio.sleep(DAY_S)
            day += 1
            rss_kb, threads, fds = resources()
            samples.append(Sample(day, rss_kb, threads, fds, driver.arrived))

    tasks: list[asyncio.Task[None]] = []
    try:
        await wait_until_idle(service, 120.0)
        driver.schedule(calls)
        tasks = [asyncio.create_task(injector.run()), asyncio.create_task(sample_daily())]
        await driver.finished.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(120.0)  # faults in progress end, the last rows settle
        rss_kb, threads, fds = resources()
        samples.append(Sample(len(samples) + 1, rss_kb, threads, fds, driver.arrived))
    finally:
        service.stop()
        await runner
        for modem in modems.values():
            modem.close()
        call_log.flush()
        call_log.close()
    return driver, samples, injector.injected


def _account(
    calls: list[ScenarioCall], driver: AccountingDriver, db: Path
) -> tuple[Counter[str], list[str]]:
    connection = open_readonly(db)
    try:
        ended = {
            row[0]
            for row in connection.execute(
                "SELECT scenario_ref FROM calls"
                " WHERE ended_at IS NOT NULL AND scenario_ref IS NOT NULL"
            )
        }
    finally:
        connection.close()
    counts: Counter[str] = Counter()
    lost: list[str] = []
    for call in calls:
        if call.id in ended:
            counts["row"] += 1
        elif call.id in driver.lost_busy:
            counts["lost_busy"] += 1
        elif call.id in driver.rang_on_down_line:
            counts[f"no_row_line_{driver.rang_on_down_line[call.id]}"] += 1
        else:
            counts["lost"] += 1
            lost.append(call.id)
    return counts, lost


def _flatness(samples: list[Sample], days: int) -> dict[str, tuple[int, int, bool]]:
    if days < MIN_DAYS_FOR_FLAT:
        return {}
    first = [s for s in samples if WARMUP_DAYS < s.day <= WARMUP_DAYS + 7]
    last = samples[-7:]
    result = {}
    for name in ("rss_kb", "threads", "fds"):
        first_max = max(getattr(s, name) for s in first)
        last_max = max(getattr(s, name) for s in last)
        slack = 0 if name == "rss_kb" else FLAT_SLACK_ABS
        result[name] = (first_max, last_max, last_max <= first_max * (1 + FLAT_TOLERANCE) + slack)
    return result


def run_soak(
    days: int,
    seed: int,
    *,
    lines: int = 4,
    faults_per_day: float = 8.0,
    lock_hold_s: tuple[float, float] = (1.0, 7.0),
    work: Path | None = None,
) -> SoakResult:
    """Run the soak; `work` holds the database and the modems' stable names."""
    calls = generate(days=days, seed=seed)
    with tempfile.TemporaryDirectory(prefix="siaga-soak-") as scratch:
        work = work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        loop = VirtualTimeLoop()
        asyncio.set_event_loop(loop)
        clock = LoopClock(loop, calls[0].at - timedelta(seconds=LEAD_IN_S))
        started = time.monotonic()
        try:
            driver, samples, faults = loop.run_until_complete(
                _soak(
                    calls,
                    work,
                    clock,
                    lines=lines,
                    faults_per_day=faults_per_day,
                    seed=seed,
                    lock_hold_s=lock_hold_s,
                )
            )
        finally:
            asyncio.set_event_loop(None)
            loop.close()
        wall_s = time.monotonic() - started
        accounting, lost = _account(calls, driver, work / "soak.db")
    result = SoakResult(days, len(calls), samples, faults, accounting, lost, wall_s)
    result.flat = _flatness(samples, days)
    return result


def print_report(result: SoakResult) -> None:
    """The table of samples and the verdicts."""
    print(f"soak: {result.days} simulated days, {result.calls} calls, {result.wall_s:.0f} s wall")
    print("faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(result.faults.items())))
    print("| day | calls so far | VmRSS MB | threads | fds |")
    print("| --- | --- | --- | --- | --- |")
    for s in result.samples:
        print(f"| {s.day} | {s.calls} | {s.rss_kb / 1024:.1f} | {s.threads} | {s.fds} |")
    for name, (first, last, ok) in result.flat.items():
        verdict = "ok" if ok else "NOT FLAT"
        print(f"flat {name}: first-week max {first}, last-week max {last}: {verdict}")
    print("accounting: " + ", ".join(f"{k} {v}" for k, v in sorted(result.accounting.items())))
    if result.lost_ids:
        print(f"LOST CALLS: {result.lost_ids[:20]}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--lines", type=int, default=4)
    parser.add_argument("--faults-per-day", type=float, default=8.0)
    parser.add_argument("-v", "--verbose", action="store_true", help="show the service's log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL + 1)
    result = run_soak(args.days, args.seed, lines=args.lines, faults_per_day=args.faults_per_day)
    print_report(result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
