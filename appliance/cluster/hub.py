"""`siaga hub`: every site's call records and verdicts in one database, for the province.

The hub consumes the streams the appliances publish (`siaga.call.>`, `siaga.fact.>`,
`siaga.event.>` and `siaga.callback.>`, every site) through durable consumers. Each call
goes into the hub's own SQLite `calls` table with its site, its appliance and its id
there, each event into `events` with `site/appliance/line` as its line, and each entry
of a box's call-back list into `hub_callbacks` (`appliance.store.site_callbacks`). The
web UI (`siaga web` on the hub's database, with the hub's own accounts) and `siaga
report` then give every site's figures together, the dashboard every box's alarms, and
`/callbacks` every site's callers waiting to be called back.

Idempotent: a call is kept once per (site, appliance, id) whatever the re-deliveries; a
verdict is kept once per (site, appliance, sequence) and applied to its call whether it
arrives before or after the call's record (the latest verdict wins, as on the appliance);
a call-back entry is kept once per (site, appliance, id), at its latest revision.

The other way, the hub publishes its own rules table as the province's rules, which every
appliance of every site applies (`appliance.cluster.province`).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from sqlite_utils import Database

from appliance.cluster.agent import (
    CALLS_MAX_AGE_S,
    FACTS_MAX_AGE_S,
    SharingProcess,
    ensure_streams,
    fetch_batch,
)
from appliance.cluster.connection import close_quietly, connect
from appliance.cluster.messages import (
    CALLBACKS_STREAM,
    CALLS_STREAM,
    EVENTS_STREAM,
    FACTS_STREAM,
    PROVINCE_RULES_BUCKET,
    EventMessage,
    MessageRefused,
    call_subject,
    callback_subject,
    decode_call,
    decode_callback,
    decode_event,
    decode_fact,
    event_subject,
    fact_subject,
)
from appliance.cluster.permissions import source_deliver_prefix
from appliance.cluster.province import ProvincePublisher, ensure_province_rules
from appliance.cluster.schema import CALL_COLUMNS
from appliance.store.db import connect_writer, immediate, iso_at
from appliance.store.events import add_received_event
from appliance.store.site_callbacks import store_site_callback

logger = logging.getLogger(__name__)

# The hub's streams that gather the sites' keep message ids for a tenth of a second. A
# source re-delivers a message it had sent before (after its link came back, or when its
# consumer is made again), and nats-server 2.9 answers a sourced duplicate by retrying the
# same message until the id leaves the duplicate window: with the default two minutes, a
# province's figures stopped for two minutes after every such hiccup. Copies are harmless
# here: the hub keeps each call and verdict once by its origin (see `store_call`).
SOURCED_DUPLICATE_WINDOW_S = 0.1  # the least nats-server accepts

_CALL_FIELDS = tuple(name for name in CALL_COLUMNS if name != "id")


class Hub(SharingProcess):
    """Keeps the province's database up to date with every site's streams."""

    role = "hub"
    # What it has kept (each instance's own once it first changes).
    calls = 0
    verdicts = 0
    events = 0
    callbacks = 0  # changes of call-back entries kept
    province: ProvincePublisher  # made before the first session

    def _prepare(self) -> None:
        connect_writer(self.db_path).close()  # created and migrated before any message
        logger.info("hub database %s ready", self.db_path)
        self.province = ProvincePublisher(self.db, self.cluster.appliance)

    async def _session(self) -> None:
        nc = await connect(self.cluster, self.role)
        try:
            js = nc.jetstream(domain=self.cluster.domain)
            if self.cluster.site_domains:
                calls, facts, events, callbacks = await gather_site_streams(
                    js, self.cluster.site_domains, self.cluster.replicas
                )
            else:
                await ensure_streams(js, self.cluster.replicas)
                calls, facts, events = CALLS_STREAM, FACTS_STREAM, EVENTS_STREAM
                callbacks = CALLBACKS_STREAM
            await ensure_province_rules(js, self.cluster.replicas)
            province_rules = await js.key_value(PROVINCE_RULES_BUCKET)
            self.connected.set()
            logger.warning("hub: consuming every site's calls, verdicts, events and call-backs")
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume(js, calls, "siaga.call.>", self._call))
                group.create_task(self._consume(js, facts, "siaga.fact.>", self._fact))
                group.create_task(self._consume(js, events, "siaga.event.>", self._event))
                group.create_task(self._consume(js, callbacks, "siaga.callback.>", self._callback))
                group.create_task(self.province.run(province_rules), name="hub-province-rules")
        except* Exception as group_error:
            raise group_error.exceptions[0] from None
        finally:
            await close_quietly(nc)

    async def _consume(
        self, js: JetStreamContext, stream: str, subject: str, apply: Callable[[Any], None]
    ) -> None:
        durable = f"hub-{self.cluster.appliance}-{stream.lower()}"
        subscription = await self._durable(js, stream, subject, durable)
        while True:
            msgs = await fetch_batch(subscription)
            if not msgs:
                continue
            with immediate(self.db):  # one commit per batch: a month of 50 boxes in minutes
                for msg in msgs:
                    try:
                        apply(msg)
                    except MessageRefused as exc:
                        self.refused += 1
                        logger.warning("hub: %s refused, not applied: %s", msg.subject[:80], exc)
            for msg in msgs:
                await msg.ack()

    def _call(self, msg: Any) -> None:
        site, appliance, call = decode_call(msg.subject, msg.data)
        if store_call(self.db, site, appliance, call, self._zone):
            self.calls += 1

    def _event(self, msg: Any) -> None:
        site, event = decode_event(msg.subject, msg.data)
        if store_event(self.db, site, event, self._zone):
            self.events += 1

    def _callback(self, msg: Any) -> None:
        site, entry = decode_callback(msg.subject, msg.data)
        fields = entry.model_dump(exclude={"origin", "seq"})
        if store_site_callback(self.db, site, entry.origin, fields, self._zone, self._clock()):
            self.callbacks += 1

    def _fact(self, msg: Any) -> None:
        fact = decode_fact(msg.subject, msg.data)
        site = msg.subject.split(".")[2]
        if fact.kind != "verdict" or fact.call is None:
            return  # challenge outcomes are in the call records already
        verdict = (fact.seq, fact.call, fact.value, fact.ts)
        if store_verdict(self.db, site, fact.origin, verdict, self._zone):
            self.verdicts += 1


async def gather_site_streams(
    js: JetStreamContext, domains: tuple[str, ...], replicas: int
) -> tuple[str, str, str, str]:
    """Streams on the hub's servers that source every site's calls and facts from the
    sites' JetStream domains (their servers are leaf nodes of the hub's). The server keeps
    each source's position: a site whose link was down is caught up when it is back, and
    the hub's own consumers read these streams as they would read one site's. Adding a
    domain to the configuration adds its source. A site's domain is its name (its boxes'
    `[cluster]` says so, `ClusterConfig`), and each source takes only that site's own
    subjects: a site's server whose streams hold messages on another site's subjects (its
    administrator's account may publish them) cannot speak for that site at the hub.
    Returns the streams' names (calls, facts, events, call-backs)."""
    names = []
    for stream, max_age, subject in (
        (CALLS_STREAM, CALLS_MAX_AGE_S, call_subject),
        (FACTS_STREAM, FACTS_MAX_AGE_S, fact_subject),
        (EVENTS_STREAM, CALLS_MAX_AGE_S, event_subject),
        (CALLBACKS_STREAM, CALLS_MAX_AGE_S, callback_subject),
    ):
        name = f"{stream}_ALL"
        sources = [
            api.StreamSource(
                name=stream,
                external=api.ExternalStream(
                    api=f"$JS.{domain}.API", deliver=source_deliver_prefix(domain)
                ),
                filter_subject=subject(domain, "*"),
            )
            for domain in domains
        ]
        config = api.StreamConfig(
            name=name,
            sources=sources,
            storage=api.StorageType.FILE,
            max_age=max_age,
            num_replicas=replicas,
            duplicate_window=SOURCED_DUPLICATE_WINDOW_S,
        )
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            known = {
                (source.external.api, source.external.deliver, source.filter_subject)
                for source in info.config.sources or []
                if source.external
            }
            wanted = {
                (f"$JS.{domain}.API", source_deliver_prefix(domain), subject(domain, "*"))
                for domain in domains
            }
            if known != wanted or info.config.duplicate_window != SOURCED_DUPLICATE_WINDOW_S:
                await js.update_stream(config)
        names.append(name)
    return names[0], names[1], names[2], names[3]


def store_event(db: Database, site: str, event: EventMessage, zone: ZoneInfo) -> bool:
    """Keep one site's event once, its line named `site/appliance/line` (or `site/appliance`
    for the box as a whole), so the hub's dashboard says where an alarm was raised. True if
    new. Runs in the caller's transaction."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO hub_events (site, appliance, origin_seq, event_id)"
        " VALUES (?, ?, ?, 0)",
        [site, event.origin, event.seq],
    )
    if cursor.rowcount == 0:
        return False
    where = f"{site}/{event.origin}" + (f"/{event.line}" if event.line else "")
    at = _iso(event.ts, zone)
    event_id = add_received_event(
        db.conn, at=at, ts=event.ts, kind=event.kind, line=where, detail=event.detail
    )
    db.execute(
        "UPDATE hub_events SET event_id = ? WHERE site = ? AND appliance = ? AND origin_seq = ?",
        [event_id, site, event.origin, event.seq],
    )
    return True


def store_call(
    db: Database, site: str, appliance: str, call: Mapping[str, Any], zone: ZoneInfo
) -> bool:
    """Keep one site's call once; apply a verdict that came first. True if new. Runs in
    the caller's transaction."""
    row = {name: call.get(name) for name in _CALL_FIELDS}
    row.update(site=site, appliance=appliance, origin_id=call["id"])
    row["ended_at"] = _iso(row.get("ended_ts"), zone)
    row["disposition_at"] = _iso(row.get("disposition_ts"), zone)
    row["reached_operator"] = int(bool(row.get("reached_operator")))
    row["interrupted"] = int(bool(row.get("interrupted")))
    trusted = row.get("time_trusted")
    row["time_trusted"] = 1 if trusted is None else int(trusted)
    names = ", ".join(row)
    marks = ", ".join("?" * len(row))
    cursor = db.execute(
        f"INSERT OR IGNORE INTO calls ({names}) VALUES ({marks})", list(row.values())
    )
    if cursor.rowcount == 0:
        return False
    _apply_latest_verdict(db, site, appliance, int(call["id"]), zone)
    return True


def store_verdict(
    db: Database,
    site: str,
    appliance: str,
    verdict: tuple[int, int, str, float],
    zone: ZoneInfo,
) -> bool:
    """Keep a verdict (sequence, call id there, disposition, time) once, and put it on its
    call if the call is here. True if new. Runs in the caller's transaction."""
    seq, call_id, disposition, ts = verdict
    cursor = db.execute(
        "INSERT OR IGNORE INTO hub_verdicts"
        " (site, appliance, origin_seq, origin_call_id, disposition, recorded_ts)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [site, appliance, seq, call_id, disposition, ts],
    )
    if cursor.rowcount == 0:
        return False
    _apply_latest_verdict(db, site, appliance, call_id, zone)
    return True


def _apply_latest_verdict(
    db: Database, site: str, appliance: str, call_id: int, zone: ZoneInfo
) -> None:
    latest = db.execute(
        "SELECT disposition, recorded_ts FROM hub_verdicts"
        " WHERE site = ? AND appliance = ? AND origin_call_id = ?"
        " ORDER BY recorded_ts DESC, id DESC LIMIT 1",
        [site, appliance, call_id],
    ).fetchone()
    if latest is None:
        return
    db.execute(
        "UPDATE calls SET disposition = ?, disposition_ts = ?, disposition_at = ?"
        " WHERE site = ? AND appliance = ? AND origin_id = ?"
        " AND (disposition_ts IS NULL OR disposition_ts <= ?)",
        [latest[0], latest[1], _iso(latest[1], zone), site, appliance, call_id, latest[1]],
    )


def _iso(ts: Any, zone: ZoneInfo) -> str | None:
    if not isinstance(ts, int | float) or not math.isfinite(ts):
        return None
    return iso_at(float(ts), zone)
