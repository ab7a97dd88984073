"""`siaga sync`: publishes this appliance's outbox and applies what the site shares.

One asyncio process beside the line service, never inside it: the line service screens
from SQLite alone and learns of the site's rules, verdicts and settings the way it learns
of a rule added by the CLI or a setting changed on its web UI (it polls the database), so
the network's state never reaches a line.

While connected, eight loops run together:
- publish: the outbox (rules, settings, facts, call records, events, call-back entries)
  in order; a row is marked sent only on the server's acknowledgement, so a dead link or
  a restart re-sends it (with the same message id: the server drops a copy within its
  duplicate window, and receivers ignore one that arrives later);
- call-back stream: the stream of the call-back entries, made once the account may (a
  server set up before the call-back list was shared); until then those entries wait in
  the outbox and everything else goes out;
- rules: a durable pull consumer on the rule bucket's stream, filtered to this site; each
  entry applied idempotently (`store.apply_rules`);
- settings: a durable pull consumer on the settings bucket's stream, filtered to this
  site; each section applied idempotently (`store.apply_settings`), once the bucket can
  be had (until then the rest goes on, and this box's changes of its settings wait);
- province rules: a durable pull consumer on the province's rule bucket (or the site's
  mirror of it), each entry applied idempotently (`store.apply_province_rules`); a change
  made here to a province rule is never published (`appliance.cluster.province`);
- facts: a durable pull consumer on the site's facts (verdicts and their withdrawals,
  challenge outcomes, call-backs served, flood mode), minus this box's own;
- prune: acknowledged outbox rows older than `keep_sent_s` are deleted;
- link: ends the session as soon as the client has lost its server.
The connection is made by `appliance.cluster.connection`, over TLS when `[cluster]` asks.
When any loop fails (the server went away), all stop, the connection is closed, and the
agent reconnects after a wait that doubles from `retry_s` to 60 s. The durable consumers
resume where they stopped.

A rule changed on two boxes while they could not see each other is resolved by revision
(`update` with the revision this box last saw). When the server holds a later revision, the
two are merged (a removal wins; the earlier removal when both removed) and the merge is
written back; the conflict is recorded as a `rule_conflict` event, never silently.

A settings section changed on two boxes apart is settled the same way, by revision, and
the later edit wins (`updated_ts`; on a tie, the greater appliance name): the box that
finds the newer revision either writes its own over it or takes the site's, and in both
cases writes the winner back naming the version that lost, so that the box whose edit
lost learns of it too. Each of the two records a `setting_conflict` event with both
versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.js import JetStreamContext, api
from nats.js.errors import (
    APIError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue
from sqlite_utils import Database

from appliance.cluster import store
from appliance.cluster.connection import close_quietly, connect
from appliance.cluster.idle import IdleWait
from appliance.cluster.messages import (
    CALLBACKS_STREAM,
    CALLS_STREAM,
    EVENTS_STREAM,
    FACTS_STREAM,
    PROVINCE_RULES_BUCKET,
    RULES_BUCKET,
    SETTINGS_BUCKET,
    MessageRefused,
    SettingMessage,
    call_subject,
    callback_message_id,
    callback_subject,
    decode_fact,
    decode_province_rule,
    decode_rule,
    decode_setting,
    event_subject,
    fact_subject,
    is_province_origin,
    message_id,
    rule_key,
    setting_key,
)
from appliance.cluster.permissions import (
    PROVINCE_RULES_STREAM,
    RULES_STREAM,
    SETTINGS_STREAM,
    consumer_names,
    province_consumer_name,
    settings_consumer_name,
)
from appliance.cluster.province import (
    PROVINCE_RULES_SUBJECT,
    ensure_province_rules,
    rule_bucket_stream,
)
from appliance.config import ClusterConfig
from appliance.store.db import connect_writer, immediate
from appliance.store.events import add_event

logger = logging.getLogger(__name__)
_Result = TypeVar("_Result")

MAX_RETRY_S = 60.0
FETCH_BATCH = 200
FETCH_WAIT_S = 2.0
PRUNE_EVERY_S = 3600.0
PUBLISH_TIMEOUT_S = 10.0
FACTS_MAX_AGE_S = 90 * 86_400.0
CALLS_MAX_AGE_S = 400 * 86_400.0
DUPLICATE_WINDOW_S = 3600.0
STREAM_RETRY_S = 60.0  # a stream the account may not make: looked for again this often


class SharingProcess:
    """What `siaga sync` and `siaga hub` share: the database they write, and a loop that
    runs `_session()` again after any failure, waiting `retry_s`, doubling to 60 s, and
    starting short again after a session that worked."""

    role = "sync"  # how its log lines begin

    def __init__(
        self,
        cluster: ClusterConfig,
        db_path: Path,
        *,
        timezone: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cluster = cluster
        self.db_path = db_path
        self._zone = ZoneInfo(timezone)
        self._clock = clock
        self._db: Database | None = None
        self.connected = asyncio.Event()
        self.refused = 0

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = connect_writer(self.db_path)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def run(self) -> None:
        """Run sessions until cancelled; the link may fail any number of times."""
        self._prepare()
        wait_s = self.cluster.retry_s
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the link, a server, a refused permission
                if self.connected.is_set():  # a session that worked: start waiting short
                    wait_s = self.cluster.retry_s
                self.connected.clear()
                logger.warning("%s: %s; trying again in %.0f s", self.role, _describe(exc), wait_s)
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, MAX_RETRY_S)

    def _prepare(self) -> None:
        """Before the first session."""

    async def _session(self) -> None:
        raise NotImplementedError

    async def _durable(
        self, js: JetStreamContext, stream: str, subject: str, name: str, *, latest: bool = False
    ) -> JetStreamContext.PullSubscription:
        """A durable pull consumer of `subject` on `stream`: it resumes where it stopped.
        `latest`: a new consumer starts from the last message of each subject."""
        policy = api.DeliverPolicy.LAST_PER_SUBJECT if latest else api.DeliverPolicy.ALL
        config = api.ConsumerConfig(
            durable_name=name,
            deliver_policy=policy,
            ack_policy=api.AckPolicy.EXPLICIT,
            filter_subject=subject,
        )
        return await js.pull_subscribe(subject, durable=name, stream=stream, config=config)


class SyncAgent(SharingProcess):
    """Keeps one appliance's database and the site's shared state in step."""

    # What a session sets and counts (each instance's own once it first changes).
    _kv: KeyValue | None = None
    _settings_kv: KeyValue | None = None
    server = ""  # host:port of the server of the current (or last) session
    published = 0
    applied_rules = 0
    applied_province_rules = 0
    applied_facts = 0
    applied_settings = 0
    _callbacks_ready = False  # the call-back stream is there: its entries may go out

    def _prepare(self) -> None:
        store.declare(self.db, self.cluster.site, self.cluster.appliance, self._clock())

    async def _session(self) -> None:
        nc = await connect(self.cluster, self.role)
        try:
            js = nc.jetstream(domain=self.cluster.domain)
            await ensure_site_streams(js, self.cluster.replicas)
            self._kv = await js.key_value(RULES_BUCKET)
            self.server = _server_of(nc)
            self.connected.set()
            logger.warning("sync: connected to %s", self.server)
            self._note_event("sync_connected", {"servers": list(self.cluster.servers)})
            async with asyncio.TaskGroup() as group:
                group.create_task(self._publish_loop(js), name="sync-publish")
                group.create_task(self._rules_loop(js), name="sync-rules")
                group.create_task(self._settings_loop(nc, js), name="sync-settings")
                group.create_task(self._province_rules_loop(nc, js), name="sync-province-rules")
                group.create_task(self._facts_loop(js), name="sync-facts")
                group.create_task(self._callbacks_stream(nc, js), name="sync-callbacks")
                group.create_task(self._prune_loop(), name="sync-prune")
                group.create_task(self._watch_connection(nc), name="sync-link")
        except* Exception as group_error:
            raise group_error.exceptions[0] from None
        finally:
            self._kv = self._settings_kv = None
            self._callbacks_ready = False
            await close_quietly(nc)

    async def _watch_connection(self, nc: Client) -> None:
        """Ends the session when the client lost its server (the other loops may be
        waiting in a fetch that would only time out)."""
        while nc.is_connected:
            await asyncio.sleep(0.5)
        raise ConnectionError("the connection to the server was lost")

    # -------------------------------------------------------------------- publish

    async def _publish_loop(self, js: JetStreamContext) -> None:
        """Publish whatever the outbox holds. While it is empty, the database is looked at
        with `PRAGMA data_version`, which changes only when another connection commits,
        every 10 ms after a change and less often while nothing happens
        (`appliance.cluster.idle`): a new fact goes out within 10-160 ms, for next to no
        work while nothing happens. The agent's own writes count too (an event it notes
        while applying what the site sent goes out like any other). Settings wait while
        the settings bucket cannot be had (`_settings_loop`), and call-back entries while
        their stream cannot (`_callbacks_stream`; they are not even read): the outbox is
        looked at again when it can."""
        seen = None
        idle = IdleWait()
        while True:
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
            state = (
                version,
                self.db.conn.total_changes,
                self._settings_kv is not None,
                self._callbacks_ready,
            )
            if state == seen:
                await idle.sleep()
                continue
            idle.changed()
            waiting: tuple[store.OutboxKind, ...] = () if self._callbacks_ready else ("callback",)
            rows = store.unsent(self.db, self.cluster.outbox_batch, waiting=waiting)
            if not rows or (
                self._settings_kv is None and all(row.kind == "setting" for row in rows)
            ):
                seen = state
            await self._publish_rows(js, rows)

    async def _publish_rows(self, js: JetStreamContext, rows: list[store.OutboxRow]) -> None:
        """In outbox order: a rule or a setting waits for the facts before it."""
        streamed: list[store.OutboxRow] = []
        for row in rows:
            if row.kind in ("rule", "setting"):
                await self._publish_streamed(js, streamed)
                streamed = []
                if row.kind == "rule":
                    await self._publish_rule_row(row)
                else:
                    await self._publish_setting_row(row)
            else:
                streamed.append(row)
        await self._publish_streamed(js, streamed)

    async def _publish_streamed(self, js: JetStreamContext, rows: list[store.OutboxRow]) -> None:
        """Facts, call records, events and call-back entries: all sent at once, marked
        sent together once every acknowledgement is in (a partial failure re-sends them
        all; copies are dropped)."""
        if not rows:
            return
        cluster = self.cluster
        pending = []
        try:
            for row in rows:
                make_subject = _SUBJECTS[row.kind]
                body = {**row.payload, "origin": cluster.appliance, "seq": row.id}
                headers = {"Nats-Msg-Id": outbox_message_id(cluster, row)}
                pending.append(
                    await js.publish_async(
                        make_subject(cluster.site, cluster.appliance),
                        _encode(body),
                        headers=headers,
                    )
                )
            await _acknowledged(pending)
        except Exception as exc:
            for future in pending:
                future.cancel()
            store.mark_failed(self.db, rows[0].id, _describe(exc))
            raise
        store.mark_sent(self.db, [row.id for row in rows], self._clock())
        self.published += len(rows)

    async def _publish_rule_row(self, row: store.OutboxRow) -> None:
        if is_province_origin(row.payload.get("origin")):
            logger.warning(
                "sync: rule %s is the province's: changed here, it stays changed on this box"
                " only (the province changes it at the hub)",
                row.key,
            )
            store.mark_sent(self.db, [row.id], self._clock())
            return
        try:
            await self._publish_rule(row)
        except Exception as exc:
            store.mark_failed(self.db, row.id, _describe(exc))
            raise
        store.mark_sent(self.db, [row.id], self._clock())
        self.published += 1

    async def _publish_rule(self, row: store.OutboxRow) -> None:
        assert self._kv is not None
        rule = row.payload
        key = rule_key(self.cluster.site, row.key)
        base = store.rule_revision(self.db, row.key)
        try:
            if base is None:
                revision = await self._kv.create(key, _encode(rule))
            else:
                revision = await self._kv.update(key, _encode(rule), last=base)
        except KeyWrongLastSequenceError:
            revision, rule = await self._resolve(key, rule)
            store.apply_merged_rule(self.db, rule, revision)
            return
        store.set_rule_revision(self.db, row.key, revision)

    async def _resolve(self, key: str, local: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The server holds a revision this box has not seen: merge and write back."""
        assert self._kv is not None
        for _ in range(5):
            entry = await self._kv.get(key)
            remote = json.loads(entry.value or b"{}")
            merged = merge_rules(local, remote)
            if merged != local or remote != local:
                self._note_event(
                    "rule_conflict", {"id": local.get("id"), "here": local, "site": remote}
                )
            if merged == remote:
                return int(entry.revision or 0), merged
            try:
                return await self._kv.update(key, _encode(merged), last=entry.revision), merged
            except KeyWrongLastSequenceError:
                continue
        raise RuntimeError(f"rule {local.get('id')}: still changing after 5 merges")

    # ---------------------------------------------------------------------- rules

    async def _rules_loop(self, js: JetStreamContext) -> None:
        """The site's rules: the bucket's keys of this site, each revision applied once."""
        site, name = self.cluster.site, consumer_names(self.cluster.site, self.cluster.appliance)[0]
        subject = f"$KV.{RULES_BUCKET}.{site}.>"
        subscription = await self._durable(js, RULES_STREAM, subject, name, latest=True)
        while True:
            msgs = await fetch_batch(subscription)
            entries = [entry for msg in msgs if (entry := self._rule_entry(msg)) is not None]
            if entries:
                outcomes = store.apply_rules(self.db, entries)
                self.applied_rules += outcomes.count("applied")
            for msg in msgs:
                await msg.ack()

    async def _province_rules_loop(self, nc: Client, js: JetStreamContext) -> None:
        """The province's rules (`appliance.cluster.province`), from the site's mirror of
        the hub's bucket or the bucket itself; each revision applied once. Until the
        bucket's stream can be had (an account that may not create it, on a server where
        the administrator has not yet), the site's own sharing goes on without it."""
        subscription = await self._province_subscription(nc, js)
        while True:
            msgs = await fetch_batch(subscription)
            entries = [entry for msg in msgs if (entry := self._province_entry(msg)) is not None]
            if entries:
                outcomes = store.apply_province_rules(self.db, entries)
                self.applied_province_rules += outcomes.count("applied")
            for msg in msgs:
                await msg.ack()

    async def _province_subscription(
        self, nc: Client, js: JetStreamContext
    ) -> JetStreamContext.PullSubscription:
        """The consumer of the province's rules, once the stream can be had."""
        name = province_consumer_name(self.cluster.site, self.cluster.appliance)

        async def attempt() -> JetStreamContext.PullSubscription:
            await ensure_province_rules(
                js, self.cluster.replicas, mirror_of=self.cluster.province_domain
            )
            return await self._durable(
                js, PROVINCE_RULES_STREAM, PROVINCE_RULES_SUBJECT, name, latest=True
            )

        return await _once_allowed(nc, "no province rules yet", attempt)

    def _rule_entry(self, msg: Any) -> tuple[dict[str, Any], int] | None:
        """(rule, revision) from the site's bucket; None for a purge or a refused message."""
        key = _bucket_key(msg, RULES_BUCKET)
        if key is None:
            return None
        try:
            rule = decode_rule(key, self.cluster.site, msg.data)
        except MessageRefused as exc:
            self._refuse("rule", key, str(exc))
            return None
        return rule, msg.metadata.sequence.stream

    def _province_entry(self, msg: Any) -> tuple[dict[str, Any], int] | None:
        """(rule, revision) from the province's bucket; None for a purge or a refusal."""
        key = _bucket_key(msg, PROVINCE_RULES_BUCKET)
        if key is None:
            return None
        try:
            rule = decode_province_rule(key, msg.data)
        except MessageRefused as exc:
            self._refuse("province rule", key, str(exc))
            return None
        return rule, msg.metadata.sequence.stream

    # ------------------------------------------------------------------- settings

    async def _publish_setting_row(self, row: store.OutboxRow) -> None:
        if store.superseded(self.db, row):  # a later change of the section goes instead
            store.mark_sent(self.db, [row.id], self._clock())
            return
        if self._settings_kv is None:  # no bucket yet: it waits, unsent
            return
        try:
            await self._publish_setting(row)
        except Exception as exc:
            store.mark_failed(self.db, row.id, _describe(exc))
            raise
        store.mark_sent(self.db, [row.id], self._clock())
        self.published += 1

    async def _publish_setting(self, row: store.OutboxRow) -> None:
        """Write the section with the revision this box last saw (`create` when none, and
        for a joining box's offer, which goes out only where the site has no value)."""
        assert self._settings_kv is not None
        version = dict(row.payload)
        offer = bool(version.pop("join", False))
        key = setting_key(self.cluster.site, row.key)
        base = store.setting_revision(self.db, row.key)
        try:
            if offer or base is None:
                revision = await self._settings_kv.create(key, _encode(version))
            else:
                revision = await self._settings_kv.update(key, _encode(version), last=base)
        except KeyWrongLastSequenceError:
            if offer:
                logger.warning(
                    "sync: the site already has its %s settings: this box takes them", row.key
                )
                return
            await self._settle_setting(row, key, version)
            return
        store.set_setting_revision(self.db, row.key, revision)

    async def _settle_setting(self, row: store.OutboxRow, key: str, local: dict[str, Any]) -> None:
        """The server holds a revision of the section this box has not seen: the later
        edit wins, and the winner is written back naming the version that lost."""
        assert self._settings_kv is not None
        for _ in range(5):
            try:
                entry = await self._settings_kv.get(key)
            except KeyNotFoundError:  # deleted or purged meanwhile: nothing to settle
                with contextlib.suppress(KeyWrongLastSequenceError):
                    revision = await self._settings_kv.create(key, _encode(local))
                    store.set_setting_revision(self.db, row.key, revision)
                    return
                continue
            remote = self._bucket_setting(key, entry.value or b"")
            revision = int(entry.revision or 0)
            if remote is not None and remote.value == local["value"]:  # the same edit
                self._apply_settings([(remote, revision)], after_id=row.id)
                return
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self._write_winner(row, key, local, remote, revision)
                return
        raise RuntimeError(f"settings {row.key}: still changing after 5 tries")

    async def _write_winner(
        self,
        row: store.OutboxRow,
        key: str,
        local: dict[str, Any],
        remote: SettingMessage | None,
        revision: int,
    ) -> None:
        """Write the later of the two versions over `revision` (ours over a message no box
        could use), note the conflict, and put the winner in force here."""
        assert self._settings_kv is not None
        ours = {name: local.get(name) for name in _VERSION_FIELDS}
        if remote is None:
            revision = await self._settings_kv.update(key, _encode(local), last=revision)
            store.set_setting_revision(self.db, row.key, revision)
            return
        theirs = remote.version()
        keep_ours = later_setting(ours, theirs)
        winner, loser = (ours, theirs) if keep_ours else (theirs, ours)
        body = {
            **winner,
            "section": row.key,
            "overruled": loser,
            "resolved_by": self.cluster.appliance,
        }
        revision = await self._settings_kv.update(key, _encode(body), last=revision)
        self._note_event(
            "setting_conflict",
            {"section": row.key, "kept": winner, "lost": loser, "resolved_by": body["resolved_by"]},
        )
        if keep_ours:
            store.set_setting_revision(self.db, row.key, revision)
        else:
            self._apply_settings([(SettingMessage.model_validate(body), revision)], after_id=row.id)

    async def _settings_loop(self, nc: Client, js: JetStreamContext) -> None:
        """The site's screening settings: the bucket's keys of this site, each revision
        applied once. Until the bucket can be had (a server set up before settings were
        shared, whose administrator has not made it yet), the rest of the site's sharing
        goes on, and this box's changes of its settings wait in the outbox."""
        subscription = await self._settings_subscription(nc, js)
        while True:
            msgs = await fetch_batch(subscription)
            entries = [entry for msg in msgs if (entry := self._setting_entry(msg)) is not None]
            if entries:
                self._apply_settings(entries)
            for msg in msgs:
                await msg.ack()

    async def _settings_subscription(
        self, nc: Client, js: JetStreamContext
    ) -> JetStreamContext.PullSubscription:
        """The consumer of the site's settings, once the bucket can be had; the bucket is
        then also where the publisher writes."""
        cluster = self.cluster
        name = settings_consumer_name(cluster.site, cluster.appliance)
        subject = f"$KV.{SETTINGS_BUCKET}.{cluster.site}.>"

        async def attempt() -> JetStreamContext.PullSubscription:
            await ensure_settings_bucket(js, cluster.replicas)
            subscription = await self._durable(js, SETTINGS_STREAM, subject, name, latest=True)
            self._settings_kv = await js.key_value(SETTINGS_BUCKET)
            return subscription

        return await _once_allowed(nc, "no settings bucket yet", attempt)

    def _setting_entry(self, msg: Any) -> tuple[SettingMessage, int] | None:
        """(section, revision) from the site's bucket; None for a purge or a refusal."""
        key = _bucket_key(msg, SETTINGS_BUCKET)
        if key is None:
            return None
        setting = self._bucket_setting(key, msg.data)
        return None if setting is None else (setting, msg.metadata.sequence.stream)

    def _bucket_setting(self, key: str, data: bytes) -> SettingMessage | None:
        try:
            return decode_setting(key, self.cluster.site, data)
        except MessageRefused as exc:
            self._refuse("settings", key, str(exc))
            return None

    def _apply_settings(
        self, entries: list[tuple[SettingMessage, int]], *, after_id: int = 0
    ) -> None:
        """Apply sections received, then note what needs noting: a value this box's line
        service could not use (`setting_refused`), and a conflict another box settled
        against or for this box's edit (`setting_conflict`)."""
        shared = [
            store.SharedSetting(setting.section, setting.value, setting.updated_ts,
                                setting.origin, revision)
            for setting, revision in entries
        ]  # fmt: skip
        outcomes = store.apply_settings(self.db, shared, self._zone, after_id=after_id)
        for (setting, _), outcome in zip(entries, outcomes, strict=True):
            if outcome.result == "applied":
                self.applied_settings += 1
            elif outcome.result == "refused":
                self._refuse_setting(setting, outcome.reason or "")
            if outcome.result not in ("stale", "pending") and self._settled_elsewhere(setting):
                self._note_event("setting_conflict", _conflict_detail(setting))

    def _refuse_setting(self, setting: SettingMessage, reason: str) -> None:
        self._refuse(
            "settings", setting.section, f"this box's line service cannot use them: {reason}"
        )
        self._note_event(
            "setting_refused",
            {"section": setting.section, "origin": setting.origin, "value": setting.value,
             "reason": reason},
        )  # fmt: skip

    def _settled_elsewhere(self, setting: SettingMessage) -> bool:
        """Another box settled a conflict in which this box's edit was one of the two."""
        here = self.cluster.appliance
        return (
            setting.overruled is not None
            and setting.resolved_by != here
            and here in (setting.origin, setting.overruled.origin)
        )

    # ---------------------------------------------------------------------- facts

    async def _facts_loop(self, js: JetStreamContext) -> None:
        site, name = self.cluster.site, consumer_names(self.cluster.site, self.cluster.appliance)[1]
        subscription = await self._durable(js, FACTS_STREAM, f"siaga.fact.{site}.*", name)
        own = fact_subject(site, self.cluster.appliance)
        while True:
            msgs = await fetch_batch(subscription)
            facts = [
                fact
                for msg in msgs
                if msg.subject != own and (fact := self._received_fact(msg)) is not None
            ]
            if facts:
                added = store.add_peer_facts(self.db, facts, self._clock(), self._zone)
                self.applied_facts += added
            for msg in msgs:
                await msg.ack()

    def _received_fact(self, msg: Any) -> store.ReceivedFact | None:
        try:
            fact = decode_fact(msg.subject, msg.data)
        except MessageRefused as exc:
            self._refuse("fact", msg.subject, str(exc))
            return None
        return store.ReceivedFact(
            fact.origin, fact.seq, fact.kind, fact.caller or "", fact.value, fact.ts
        )

    # ------------------------------------------------------------------ call-backs

    async def _callbacks_stream(self, nc: Client, js: JetStreamContext) -> None:
        """Make the stream of the call-back entries where it is missing and the account
        may, then let the publisher send them. Until it can be had (a server set up
        before the call-back list was shared, whose administrator has not made it yet),
        the entries wait in the outbox, the rest of the site's sharing goes on, and the
        journal says why."""

        async def attempt() -> None:
            await ensure_callbacks_stream(js, self.cluster.replicas)

        await _once_allowed(nc, "no call-back stream yet", attempt)
        self._callbacks_ready = True

    # ---------------------------------------------------------------------- misc

    async def _prune_loop(self) -> None:
        while True:
            pruned = store.prune_sent(self.db, self._clock() - self.cluster.keep_sent_s)
            if pruned:
                logger.info("sync: %d sent outbox row(s) pruned", pruned)
            await asyncio.sleep(PRUNE_EVERY_S)

    def _refuse(self, what: str, where: str, reason: str) -> None:
        self.refused += 1
        logger.warning("sync: %s on %r refused, not applied: %s", what, where[:80], reason)

    def _note_event(self, kind: str, detail: dict[str, Any]) -> None:
        try:
            with immediate(self.db):
                add_event(self.db.conn, kind, self._clock(), self._zone, detail=detail)
        except Exception:  # an event is a note; it must never stop sharing
            logger.exception("sync: could not record the %s event", kind)


_SUBJECTS = {
    "fact": fact_subject,
    "call": call_subject,
    "event": event_subject,
    "callback": callback_subject,
}


def outbox_message_id(cluster: ClusterConfig, row: store.OutboxRow) -> str:
    """The message id of an outbox row: its outbox id (`message_id`), or for a call-back
    entry the entry's id and revision (`callback_message_id`), so that the same state
    sent twice, from this outbox row or another, is dropped as a copy."""
    if row.kind == "callback":
        revision = int(row.payload.get("revision") or 0)
        return callback_message_id(cluster.site, cluster.appliance, int(row.key), revision)
    return message_id(cluster.site, cluster.appliance, row.id)


_VERSION_FIELDS = ("value", "updated_ts", "updated_by", "origin")


def later_setting(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether our version of a section is the later edit: by `updated_ts`, and on a tie
    by appliance name, so that every box decides alike."""
    return (ours["updated_ts"], ours["origin"]) > (theirs["updated_ts"], theirs["origin"])


def _conflict_detail(setting: SettingMessage) -> dict[str, Any]:
    return {
        "section": setting.section,
        "kept": setting.version(),
        "lost": setting.overruled.version() if setting.overruled is not None else None,
        "resolved_by": setting.resolved_by,
    }


async def _once_allowed(
    nc: Client, missing: str, attempt: Callable[[], Awaitable[_Result]]
) -> _Result:
    """`attempt()`'s result once it succeeds. A refused request (an account's permission,
    on a server where the administrator has not yet made the stream) is waited out,
    `STREAM_RETRY_S` at a time, saying `missing` in the journal; anything else, and a
    session that is ending (the client can swallow the cancellation of a request it is
    sending), ends the session's loop."""
    while True:
        try:
            return await attempt()
        except (TimeoutError, APIError, NoRespondersError) as exc:
            _raise_if_ending(nc)
            logger.warning(
                "sync: %s (%s); the site's sharing goes on, trying again in %.0f s",
                missing,
                _describe(exc),
                STREAM_RETRY_S,
            )
        await asyncio.sleep(STREAM_RETRY_S)


def _raise_if_ending(nc: Client) -> None:
    """Within a failed request of a session's task: stop here if the session is ending
    (the task is being cancelled, or the client lost its server), rather than wait to try
    again. A failure can arrive together with the cancellation and take its place (the
    NATS client's `wait_for` on Python 3.11), and the loop would then never stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    if not nc.is_connected:
        raise ConnectionError("the connection to the server was lost")


def _bucket_key(msg: Any, bucket: str) -> str | None:
    """The key of a bucket's message; None for a delete or purge marker (rules are never
    deleted, only marked removed)."""
    if msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"):
        return None
    return str(msg.subject[len(f"$KV.{bucket}.") :])


async def ensure_streams(js: JetStreamContext, replicas: int) -> None:
    """Create the site's streams, rule bucket and settings bucket where they are missing
    (the same settings every time; each bucket keeps the last `RULE_HISTORY` revisions of
    each key). An appliance whose account may not create them (docs/cluster.md) needs
    them made once by the administrator's account or the hub; the province's rule bucket
    too (`province.ensure_province_rules`). The call-back stream too."""
    await ensure_site_streams(js, replicas)
    await ensure_settings_bucket(js, replicas)
    await ensure_callbacks_stream(js, replicas)


async def ensure_site_streams(js: JetStreamContext, replicas: int) -> None:
    """The streams and the rule bucket a session cannot do without."""
    for name, subjects, max_age in (
        (FACTS_STREAM, ["siaga.fact.>"], FACTS_MAX_AGE_S),
        (CALLS_STREAM, ["siaga.call.>"], CALLS_MAX_AGE_S),
        (EVENTS_STREAM, ["siaga.event.>"], CALLS_MAX_AGE_S),
    ):
        if not await _stream_exists(js, name):
            await js.add_stream(
                name=name,
                subjects=subjects,
                storage=api.StorageType.FILE,
                max_age=max_age,
                duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=replicas,
            )
    if not await _stream_exists(js, RULES_STREAM):
        await js.add_stream(rule_bucket_stream(RULES_STREAM, f"$KV.{RULES_BUCKET}.>", replicas))


async def ensure_callbacks_stream(js: JetStreamContext, replicas: int) -> None:
    """The stream of every site's call-back entries (`siaga.callback.>`), kept as long as
    the call records, where it is missing."""
    if not await _stream_exists(js, CALLBACKS_STREAM):
        await js.add_stream(
            name=CALLBACKS_STREAM,
            subjects=["siaga.callback.>"],
            storage=api.StorageType.FILE,
            max_age=CALLS_MAX_AGE_S,
            duplicate_window=DUPLICATE_WINDOW_S,
            num_replicas=replicas,
        )


async def ensure_settings_bucket(js: JetStreamContext, replicas: int) -> None:
    """The site's settings bucket, made as the rule bucket is, with its history."""
    if not await _stream_exists(js, SETTINGS_STREAM):
        subject = f"$KV.{SETTINGS_BUCKET}.>"
        await js.add_stream(rule_bucket_stream(SETTINGS_STREAM, subject, replicas))


async def _stream_exists(js: JetStreamContext, name: str) -> bool:
    try:
        await js.stream_info(name)
    except NotFoundError:
        return False
    return True


def merge_rules(local: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any]:
    """One rule from two versions: the site's, with a removal from either side (the earlier
    one when both removed the rule)."""
    merged = dict(remote)
    local_removed = local.get("removed_ts")
    remote_removed = remote.get("removed_ts")
    if local_removed is not None and (remote_removed is None or local_removed < remote_removed):
        for name in ("removed_at", "removed_ts", "removed_by", "removed_reason"):
            merged[name] = local.get(name)
    return merged


async def fetch_batch(subscription: JetStreamContext.PullSubscription) -> list[Any]:
    """Up to `FETCH_BATCH` messages, or none after `FETCH_WAIT_S`. The client ends a fetch
    with nothing in it by raising its own timeout, or the bare `TimeoutError` when the
    server's answer came in just as the wait ran out (a busy server, a slow link): both
    mean "nothing yet", never a broken session. A cancellation that the client's own
    `wait_for` swallowed (Python 3.11, when its timeout fell at the same moment) is raised
    here: a loop that went on fetching would keep its session from ever ending."""
    try:
        msgs: list[Any] = await subscription.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
    except TimeoutError:  # nats.errors.TimeoutError is one too
        msgs = []
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return msgs


async def _acknowledged(pending: list[asyncio.Future[Any]]) -> None:
    """Wait for the server's acknowledgement of every message just published."""
    try:
        await asyncio.wait_for(asyncio.gather(*pending), PUBLISH_TIMEOUT_S)
    except TimeoutError:
        raise TimeoutError(
            f"{len(pending)} message(s) not acknowledged within {PUBLISH_TIMEOUT_S:.0f} s"
        ) from None


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _server_of(nc: Client) -> str:
    url = nc.connected_url
    return url.netloc if url is not None else "?"
