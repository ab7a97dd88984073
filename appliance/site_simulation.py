"""`siaga simulate --appliances N`: one site of several boxes sharing a number's reputation.

The centre's lines are split over N boxes (box1 gets the first lines, box2 the next, ...)
and its operators too, as evenly as possible: each box is a real `LineService` with its own
`CallLog` on its own SQLite file and its own `SimulatedOperators` (a modelling choice: an
operator answers the calls of one box's desks). The network hunts the centre's number over
every line of every box in order, so ONE `ScenarioDriver` plays the calls over the union of
the boxes' modems, exactly as the one-box simulation hunts over its lines.

Sharing goes through each box's real outbox, but not through NATS. `declare` turns the
outbox triggers on in each box's database, so every operator's verdict and challenge outcome
is written there as `siaga run` writes it; then every virtual second `SiteBridge` takes each
box's unsent facts, keeps them in every other box's `peer_facts` and folds them into that
box's running policy, and marks them sent. The bridge stands in for `siaga sync` and the
NATS server with zero latency: the measured round trip on a site's LAN is about 12 ms,
negligible next to the seconds between one call of a number and its next. With sharing off
no box declares it: no outbox, each box on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.clock import LoopClock, VirtualTimeLoop
from appliance.cluster import store
from appliance.config import ClusterConfig, Config
from appliance.policy import SharedFact
from appliance.scenario import ScenarioCall
from appliance.score import CallOutcome, score
from appliance.service import LineService
from appliance.simulate import (
    LEAD_IN_S,
    STARTUP_TIMEOUT_S,
    BoxParts,
    ScenarioDriver,
    SimulatedCentre,
    SimulationOptions,
    build_box,
    call_back_figures,
    collect_site_outcomes,
    flood_figures,
    max_call_id,
    open_call_log,
    start_modems,
    wait_until_idle,
)
from appliance.store.db import connect_writer, open_readonly

logger = logging.getLogger(__name__)

SITE_NAME = "site"  # the simulated site's name in `cluster_identity`
BRIDGE_INTERVAL_S = 1.0  # virtual seconds between two rounds of the bridge
BRIDGE_BATCH = 500  # outbox rows taken at once
SIMULATION_HEALTH_INTERVAL_S = 3600.0  # as `run_simulation`: no line fails here


@dataclass(frozen=True)
class SiteOptions:
    """How many boxes the centre's lines are split over, and whether they share."""

    appliances: int = 1
    shared: bool = True

    def __post_init__(self) -> None:
        if self.appliances < 1:
            raise ValueError(f"a site has at least 1 appliance, got {self.appliances}")


def box_name(index: int) -> str:
    """The appliance name of box `index` (0-based): box1, box2, ..."""
    return f"box{index + 1}"


def box_db_path(db_path: Path, index: int) -> Path:
    """Box 1 keeps `db_path`; box k writes `<stem>-box<k><suffix>` beside it."""
    if index == 0:
        return db_path
    return db_path.with_name(f"{db_path.stem}-{box_name(index)}{db_path.suffix}")


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` split into `parts` counts differing by at most one, the larger ones first."""
    if parts < 1 or total < parts:
        raise ValueError(f"cannot split {total} over {parts} appliances: each needs one")
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def box_config(config: Config, index: int, shared: bool) -> Config:
    """The box's configuration: a `[cluster]` naming it when the site shares, none otherwise
    (the line service then withdraws sharing, as `siaga run` does without `[cluster]`)."""
    cluster = ClusterConfig(site=SITE_NAME, appliance=box_name(index)) if shared else None
    return config.model_copy(update={"cluster": cluster})


@dataclass
class _BridgedBox:
    name: str
    db: Database
    service: LineService
    facts_sent: int = 0
    facts_received: int = 0
    commits_seen: int = -1  # the call log's commits when its outbox was last read

    def has_new_rows(self) -> bool:
        """Whether the call log committed since the outbox was last read: only its writer
        adds outbox rows here (a cheap test, so a quiet second costs no query)."""
        commits = self.service.call_log.stats.commits
        if commits == self.commits_seen:
            return False
        self.commits_seen = commits
        return True


class SiteBridge:
    """Carries each box's facts (verdicts, challenge outcomes, call-backs served, flood
    mode) to every other box of the site.

    It reads what `siaga sync` would publish (the outbox, oldest first), writes what `siaga
    sync` would receive (`peer_facts`, once per origin and sequence) and folds it into the
    receiving box's policy as the line service's poll of `peer_facts` would; call records
    and rules are only marked sent. Zero latency: see the module docstring.
    """

    def __init__(self, services: Sequence[tuple[str, LineService]], clock: LoopClock) -> None:
        self._clock = clock
        self.boxes = [
            _BridgedBox(name, connect_writer(service.call_log.path), service)
            for name, service in services
        ]

    def close(self) -> None:
        for box in self.boxes:
            box.db.close()

    async def run(self, interval_s: float = BRIDGE_INTERVAL_S) -> None:
        """Relay every `interval_s` (loop time) until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.relay()
            except sqlite3.OperationalError as exc:  # a box's database busy: next round
                logger.warning("site bridge: %s; trying again", exc)

    def relay(self) -> int:
        """One round: every box's unsent outbox rows; returns how many facts were carried."""
        now_ts = self._clock.timestamp()
        return sum(self._relay_from(box, now_ts) for box in self.boxes if box.has_new_rows())

    def _relay_from(self, box: _BridgedBox, now_ts: float) -> int:
        carried = 0
        while rows := store.unsent(box.db, BRIDGE_BATCH):
            facts = [_received(box.name, row) for row in rows if row.kind == "fact"]
            if facts:
                for other in self.boxes:
                    if other is not box:
                        self._deliver(other, facts, now_ts)
            store.mark_sent(box.db, [row.id for row in rows], now_ts)
            box.facts_sent += len(facts)
            carried += len(facts)
            if len(rows) < BRIDGE_BATCH:
                break
        return carried

    @staticmethod
    def _deliver(box: _BridgedBox, facts: Sequence[store.ReceivedFact], now_ts: float) -> None:
        zone = ZoneInfo(box.service.config.site.timezone)
        box.facts_received += store.add_peer_facts(box.db, facts, now_ts, zone)
        for fact in facts:
            box.service.policy.record_shared_fact(
                SharedFact(
                    caller_e164=fact.caller,
                    kind=fact.kind,
                    value=fact.value,
                    at=fact.ts,
                    origin=fact.origin,
                )
            )


def _received(origin: str, row: store.OutboxRow) -> store.ReceivedFact:
    payload = row.payload
    return store.ReceivedFact(
        origin=origin,
        origin_seq=row.id,
        kind=payload["kind"],
        caller=str(payload["caller"] or ""),
        value=str(payload["value"]),
        ts=float(payload["ts"]),
    )


@dataclass
class SiteRun:
    """What a site run built: its boxes, the driver over all their lines, the bridge."""

    boxes: list[SimulatedCentre]
    names: list[str]
    operators: list[int]
    driver: ScenarioDriver
    bridge: SiteBridge | None
    wall_s: float = 0.0


async def build_site(
    db_path: Path, options: SimulationOptions, site: SiteOptions, clock: LoopClock
) -> SiteRun:
    """Start every box's modems, one driver over all of them, then every box's service."""
    operator_counts = split_evenly(options.operators, site.appliances)
    shared = site.shared and site.appliances > 1
    parts = await _box_parts(db_path, options, site, clock)
    every_modem = {name: modem for part in parts for name, modem in part.modems.items()}
    driver = ScenarioDriver(
        every_modem,
        clock,
        options.config.challenge.key,
        call_waiting=options.call_waiting,
        waiting_patience_s=options.waiting_patience_s,
    )
    boxes = [
        build_box(
            part,
            driver,
            replace(options, operators=operators, config=part.config),
            clock,
            health_interval_s=SIMULATION_HEALTH_INTERVAL_S,
        )
        for part, operators in zip(parts, operator_counts, strict=True)
    ]
    names = [box_name(index) for index in range(site.appliances)]
    bridge = None
    if shared:
        bridge = SiteBridge(list(zip(names, [box.service for box in boxes], strict=True)), clock)
    return SiteRun(boxes, names, operator_counts, driver, bridge)


async def _box_parts(
    db_path: Path, options: SimulationOptions, site: SiteOptions, clock: LoopClock
) -> list[BoxParts]:
    """Each box's lines (the next ones in the centre's order), configuration and call log;
    with sharing on, its outbox declared before its service starts. One box is the one-box
    simulation: its configuration as given."""
    shared = site.shared and site.appliances > 1
    parts: list[BoxParts] = []
    first_line = 0
    for index, count in enumerate(split_evenly(options.lines, site.appliances)):
        path = box_db_path(db_path, index)
        first_row_id = max_call_id(path)
        modems, line_configs = await start_modems(options, range(first_line, first_line + count))
        first_line += count
        config = options.config
        if site.appliances > 1:
            config = box_config(config, index, shared)
        call_log = open_call_log(path, config)
        if shared:
            _declare(path, box_name(index), clock.timestamp())
        parts.append(BoxParts(path, config, modems, line_configs, call_log, first_row_id))
    return parts


def _declare(db_path: Path, appliance: str, now_ts: float) -> None:
    """Turn the outbox on in the box's database, as `[cluster]` does on a real box."""
    db = connect_writer(db_path)
    try:
        store.declare(db, SITE_NAME, appliance, now_ts)
    finally:
        db.close()


async def play_site(
    calls: Sequence[ScenarioCall],
    db_path: Path,
    options: SimulationOptions,
    site: SiteOptions,
    clock: LoopClock,
) -> SiteRun:
    """Run every box of the site through every call."""
    run = await build_site(db_path, options, site, clock)
    runners = []
    bridge_task: asyncio.Task[None] | None = None
    started = time.monotonic()
    try:
        for box in run.boxes:
            box.service.prepare()
        runners = [asyncio.create_task(box.service.run()) for box in run.boxes]
        for box in run.boxes:
            await wait_until_idle(box.service, STARTUP_TIMEOUT_S)
        if run.bridge is not None:
            bridge_task = asyncio.create_task(run.bridge.run(), name="site-bridge")
        run.driver.schedule(calls)
        finished = asyncio.create_task(run.driver.finished.wait())
        await asyncio.wait({finished, *runners}, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        await asyncio.sleep(1.0)  # let the last rows and dispositions settle
    finally:
        await _stop_site(run, runners, bridge_task)
    run.wall_s = time.monotonic() - started
    return run


async def _stop_site(
    run: SiteRun, runners: Sequence[asyncio.Task[None]], bridge_task: asyncio.Task[None] | None
) -> None:
    if bridge_task is not None:
        bridge_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge_task  # a bridge that failed raises its error here
    for box in run.boxes:
        box.service.stop()
    for runner in runners:
        await runner
    for box in run.boxes:
        for modem in box.modems.values():
            modem.close()
        box.call_log.flush()
    if run.bridge is not None:
        run.bridge.relay()  # the last verdicts, so every outbox ends drained
        run.bridge.close()
    for box in run.boxes:
        box.call_log.close()


def run_site_simulation(
    calls: Sequence[ScenarioCall], db_path: Path, options: SimulationOptions, site: SiteOptions
) -> dict[str, Any]:
    """`siaga simulate --appliances N`: the centre's score, then each box's figures."""
    if not calls:
        raise ValueError("the scenario has no calls")
    loop = VirtualTimeLoop()
    asyncio.set_event_loop(loop)
    clock = LoopClock(loop, calls[0].at - timedelta(seconds=LEAD_IN_S))
    try:
        run = loop.run_until_complete(play_site(calls, db_path, options, site, clock))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return site_score(calls, run)


def site_score(calls: Sequence[ScenarioCall], run: SiteRun) -> dict[str, Any]:
    """The centre's score from every box's call log (as `siaga simulate` prints one box's),
    with `appliances`: each box's lines, operators and counts."""
    driver = run.driver
    calls = [call for call in calls if call.id not in driver.skipped]
    logs = [(box.call_log.path, box.first_row_id) for box in run.boxes]
    outcomes = collect_site_outcomes(calls, logs, driver.lost_busy)
    result = score(calls, outcomes)
    result["redials_not_made"] = len(driver.skipped)
    result["presented_waiting"] = driver.presented_waiting
    call_backs = [back for box in run.boxes for back in box.operators.call_backs]
    result |= call_back_figures(calls, outcomes, call_backs)
    result["flood_periods"] = _site_flood_periods(run)
    result["wall_seconds"] = round(run.wall_s, 2)
    result["simulated_days"] = round((calls[-1].at - calls[0].at).total_seconds() / 86_400, 2)
    result["shared"] = run.bridge is not None
    truth = {call.id: call.truth for call in calls}
    result["appliances"] = [
        _box_figures(name, box, operators, outcomes, truth, run.bridge)
        for name, box, operators in zip(run.names, run.boxes, run.operators, strict=True)
    ]
    return result


def _site_flood_periods(run: SiteRun) -> list[dict[str, Any]]:
    """Every box's flood periods, each naming its box, in time order."""
    periods = [
        period | {"appliance": name}
        for name, box in zip(run.names, run.boxes, strict=True)
        for period in flood_figures(box.call_log.path, box.first_row_id)["flood_periods"]
    ]
    return sorted(periods, key=lambda period: period["on_ts"])


def _box_figures(
    name: str,
    box: SimulatedCentre,
    operators: int,
    outcomes: dict[str, CallOutcome],
    truth: Mapping[str, str],
    bridge: SiteBridge | None,
) -> dict[str, Any]:
    """One box's share of the centre's calls, and what it gave and took from the site."""
    refs = [ref for ref in _scenario_refs(box.call_log.path, box.first_row_id) if ref in truth]
    mine = [(truth[ref] == "genuine", outcomes[ref]) for ref in refs]
    reasons = Counter(outcome.reason or "none" for _, outcome in mine)
    bridged = next((b for b in bridge.boxes if b.name == name), None) if bridge else None
    return {
        "appliance": name,
        "db": str(box.call_log.path),
        "lines": list(box.modems),
        "operators": operators,
        "calls": len(refs),
        "genuine_calls": sum(1 for genuine, _ in mine if genuine),
        "genuine_reached": sum(1 for genuine, o in mine if genuine and o.reached_operator),
        "junk_reached": sum(1 for genuine, o in mine if not genuine and o.reached_operator),
        "restricted_abuse": reasons.get("abuse", 0),
        "facts_sent": bridged.facts_sent if bridged else 0,
        "facts_received": bridged.facts_received if bridged else 0,
    }


def _scenario_refs(db_path: Path, after_row_id: int) -> list[str]:
    connection = open_readonly(db_path)
    try:
        rows = connection.execute(
            "select scenario_ref from calls where scenario_ref is not null and id > ?",
            [after_row_id],
        ).fetchall()
    finally:
        connection.close()
    return [row[0] for row in rows]


__all__ = [
    "SiteBridge",
    "SiteOptions",
    "box_db_path",
    "run_site_simulation",
    "split_evenly",
]
