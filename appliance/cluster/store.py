"""Reads and writes of the sharing tables, each one short transaction on the caller's database.

`siaga sync` is one more writer beside the call-log writer, the web UI and the CLI, so every
write here is a `BEGIN IMMEDIATE` that waits for the lock (busy timeout) and holds it for
one small statement group. Everything received is applied idempotently: a message seen
twice (a re-delivery after a lost acknowledgement, a replay after a restart) changes
nothing the second time.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.cluster.schema import (
    RULE_COLUMNS,
    callback_payload,
    rule_payload,
    setting_payload,
    shareable_setting,
)
from appliance.config import Config, ConfigError, parse_config
from appliance.settings import (
    effective_config,
    read_overrides,
    remove_override,
    write_override,
)
from appliance.store.callbacks import close_served_elsewhere
from appliance.store.db import immediate
from appliance.store.rules import write_shared_rule
from appliance.store.status import base_config

logger = logging.getLogger(__name__)

OutboxKind = Literal["rule", "fact", "call", "event", "setting", "callback"]
RuleApplied = Literal["applied", "unchanged", "pending", "stale"]
SettingApplied = Literal["applied", "unchanged", "pending", "stale", "refused"]
# Every kind is folded into the line service's policy; a call-back served also closes
# entries of the call-back list (`add_peer_facts`).
FactKind = Literal["verdict", "withdrawn", "challenge", "callback", "flood"]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message waiting to be published: its id is the stable part of its message id."""

    id: int
    kind: OutboxKind
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PeerFact:
    """A verdict, challenge outcome or call-back served that an appliance of the site
    recorded on a number (this box's own call-backs served included)."""

    id: int
    origin: str
    kind: FactKind
    caller: str
    value: str
    ts: float


def declare(db: Database, site: str, appliance: str, now_ts: float) -> bool:
    """Turn sharing on as `appliance` of `site`; True when it was off (or another identity).

    Turning it on queues every rule in force made on this box, so the site learns the rules
    it had before it joined. Calls and verdicts from before are not sent.

    It also queues each section of this box's screening settings, marked as a joining
    box's offer (`join`): the agent publishes it only where the site has no value yet for
    that section, and otherwise drops it, the site's value being applied here by the
    settings consumer. The site's value wins whatever the times say, because the settings
    in force on the site's lines are the ones its supervisors chose and see: a box that
    arrives (a new one, a spare, one restored from a backup or moved from another site)
    must not change how every other box screens by the mere act of joining, and the times
    on its rows tell when they were set on that box, not that anyone meant them for the
    site. A section the site has never set is no one's choice yet, so the box brings its
    own. A removed section is a value too: the site's boxes follow their files there.

    And it queues each open entry of the call-back list, so that the province hub lists
    the callers who were waiting when the box joined.
    """
    with immediate(db):
        found = db.execute(
            "SELECT site, appliance, enabled FROM cluster_identity WHERE id = 1"
        ).fetchone()
        if found is not None and tuple(found) == (site, appliance, 1):
            return False
        db.execute(
            "UPDATE cluster_identity SET site = ?, appliance = ?, enabled = 1, applying = 0,"
            " enabled_ts = ? WHERE id = 1",
            [site, appliance, now_ts],
        )
        payload = rule_payload(prefix="")
        db.execute(
            f"INSERT INTO outbox (kind, key, payload, created_ts) SELECT 'rule', id, {payload}, ?"
            " FROM rules WHERE removed_ts IS NULL AND origin IS NULL ORDER BY created_ts",
            [now_ts],
        )
        offer = f"json_set({setting_payload(prefix='')}, '$.join', json('true'))"
        db.execute(
            f"INSERT INTO outbox (kind, key, payload, created_ts) SELECT 'setting', section,"
            f" {offer}, ? FROM settings WHERE {shareable_setting(prefix='')} ORDER BY section",
            [now_ts],
        )
        db.execute(
            "INSERT INTO outbox (kind, key, payload, created_ts) SELECT 'callback', id,"
            f" {callback_payload(prefix='')}, ? FROM callbacks WHERE status = 'open' ORDER BY id",
            [now_ts],
        )
    logger.info("sharing on as appliance %s of site %s", appliance, site)
    return True


def withdraw(db: Database) -> bool:
    """Turn sharing off (no `[cluster]` any more): the outbox stops growing. True if it was on."""
    with immediate(db):
        cursor = db.execute("UPDATE cluster_identity SET enabled = 0 WHERE id = 1 AND enabled = 1")
    return cursor.rowcount > 0


def unsent(db: Database, limit: int, *, waiting: Sequence[OutboxKind] = ()) -> list[OutboxRow]:
    """The oldest messages not yet acknowledged by the server, in the order they were made;
    those of the kinds `waiting` (whose stream cannot be had yet) are left where they are."""
    skip = "".join(" AND kind != ?" for _ in waiting)
    rows = db.execute(
        f"SELECT id, kind, key, payload FROM outbox WHERE sent_ts IS NULL{skip} ORDER BY id"
        " LIMIT ?",
        [*waiting, limit],
    ).fetchall()
    return [OutboxRow(row[0], row[1], row[2], json.loads(row[3])) for row in rows]


def unsent_count(conn: sqlite3.Connection | Database) -> int:
    """How many messages wait for the server."""
    return int(conn.execute("SELECT count(*) FROM outbox WHERE sent_ts IS NULL").fetchone()[0])


def mark_sent(db: Database, outbox_ids: Sequence[int], ts: float) -> None:
    """The server acknowledged these messages (one transaction)."""
    with immediate(db):
        for start in range(0, len(outbox_ids), 500):
            chunk = list(outbox_ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            db.execute(f"UPDATE outbox SET sent_ts = ? WHERE id IN ({marks})", [ts, *chunk])


def mark_failed(db: Database, outbox_id: int, error: str) -> None:
    """Publishing failed; the message stays unsent and is tried again."""
    with immediate(db):
        db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            [error[:500], outbox_id],
        )


def prune_sent(db: Database, before_ts: float) -> int:
    """Delete messages acknowledged before `before_ts`; returns how many."""
    with immediate(db):
        cursor = db.execute(
            "DELETE FROM outbox WHERE sent_ts IS NOT NULL AND sent_ts < ?", [before_ts]
        )
    return cursor.rowcount


def rule_revision(conn: sqlite3.Connection | Database, rule_id: str) -> int | None:
    """The shared revision this box last saw of the rule, or None (never shared yet)."""
    found = conn.execute("SELECT revision FROM rule_sync WHERE rule_id = ?", [rule_id]).fetchone()
    return None if found is None else int(found[0])


def has_unsent_rule(conn: sqlite3.Connection | Database, rule_id: str) -> bool:
    """A change to the rule made here is still waiting to be published."""
    found = conn.execute(
        "SELECT 1 FROM outbox WHERE sent_ts IS NULL AND kind = 'rule' AND key = ? LIMIT 1",
        [rule_id],
    ).fetchone()
    return found is not None


def local_rule(conn: sqlite3.Connection | Database, rule_id: str) -> dict[str, Any] | None:
    """The rule row as this box has it, in the shared columns."""
    cursor = conn.execute(f"SELECT {', '.join(RULE_COLUMNS)} FROM rules WHERE id = ?", [rule_id])
    found = cursor.fetchone()
    return None if found is None else dict(zip(RULE_COLUMNS, found, strict=True))


@contextmanager
def _applying(db: Database) -> Iterator[None]:
    """A write transaction whose changes the outbox triggers do not publish again."""
    with immediate(db):
        db.execute("UPDATE cluster_identity SET applying = 1 WHERE id = 1")
        try:
            yield
        finally:
            db.execute("UPDATE cluster_identity SET applying = 0 WHERE id = 1")


def set_rule_revision(db: Database, rule_id: str, revision: int) -> None:
    """Remember the revision the server gave this rule (never goes back)."""
    with immediate(db):
        _upsert_revision(db, rule_id, revision)


def _upsert_revision(db: Database, rule_id: str, revision: int) -> None:
    db.execute(
        "INSERT INTO rule_sync (rule_id, revision) VALUES (?, ?) ON CONFLICT (rule_id) DO UPDATE"
        " SET revision = max(revision, excluded.revision)",
        [rule_id, revision],
    )


def apply_rules(
    db: Database, entries: Sequence[tuple[Mapping[str, Any], int]]
) -> list[RuleApplied]:
    """Put rules from the site into force here, idempotently, in one transaction; each
    entry is (rule, revision). Per entry: `stale`: this box already has this revision or a
    later one; `pending`: a change made here waits to be published (the publisher resolves
    the two, docs/cluster.md, and applies the result); `unchanged`: the same content, only
    the revision is noted; `applied`."""
    with _applying(db):
        found = db.execute("SELECT appliance FROM cluster_identity WHERE id = 1").fetchone()
        here = found[0] if found else None
        return [_apply_rule(db, rule, revision, here) for rule, revision in entries]


def _apply_rule(
    db: Database, rule: Mapping[str, Any], revision: int, here: str | None
) -> RuleApplied:
    rule_id = str(rule["id"])
    known = rule_revision(db, rule_id)
    if known is not None and known >= revision:
        return "stale"
    if has_unsent_rule(db, rule_id):
        return "pending"
    _upsert_revision(db, rule_id, revision)
    row = {name: rule.get(name) for name in RULE_COLUMNS}
    if row["origin"] == here:
        row["origin"] = None  # a rule made on this box, changed by another: still ours
    return _write_if_changed(db, rule_id, row)


def _write_if_changed(db: Database, rule_id: str, row: dict[str, Any]) -> RuleApplied:
    current = local_rule(db, rule_id)
    if current is not None and _same_rule(current, row):
        return "unchanged"
    write_shared_rule(db.conn, row)
    return "applied"


def apply_province_rules(
    db: Database, entries: Sequence[tuple[Mapping[str, Any], int]]
) -> list[RuleApplied]:
    """Put the province's rules in force here, idempotently, in one transaction; each
    entry is (rule, revision of the province's bucket), the rule's origin `province/<hub>`.
    The province's word is final: a change made here to a province rule stays on this box
    (the agent does not publish it), and the province's next revision overwrites it, so
    nothing is ever `pending`."""
    with _applying(db):
        return [_apply_province_rule(db, rule, revision) for rule, revision in entries]


def _apply_province_rule(db: Database, rule: Mapping[str, Any], revision: int) -> RuleApplied:
    rule_id = str(rule["id"])
    known = rule_revision(db, rule_id)
    if known is not None and known >= revision:
        return "stale"
    _upsert_revision(db, rule_id, revision)
    return _write_if_changed(db, rule_id, {name: rule.get(name) for name in RULE_COLUMNS})


def apply_merged_rule(db: Database, rule: Mapping[str, Any], revision: int) -> None:
    """After a conflict: the merged rule the server now holds becomes this box's too (the
    row keeps its origin: NULL when it was made here)."""
    rule_id = str(rule["id"])
    row = {name: rule.get(name) for name in RULE_COLUMNS if name != "origin"}
    with _applying(db):
        _upsert_revision(db, rule_id, revision)
        current = local_rule(db, rule_id)
        if current is not None and not _same_rule(current, row):
            write_shared_rule(db.conn, row)


def _same_rule(current: Mapping[str, Any], incoming: Mapping[str, Any]) -> bool:
    """Equal in every shared column; a rule made here (origin NULL) equals its published form."""
    return all(current.get(name) == incoming.get(name) for name in RULE_COLUMNS if name != "origin")


# ---------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class SharedSetting:
    """A section of the site's screening settings as the bucket holds it at `revision`:
    its overrides (None: removed), when they were set, and on which appliance."""

    section: str
    value: dict[str, Any] | None
    updated_ts: float
    origin: str
    revision: int


@dataclass(frozen=True, slots=True)
class SettingOutcome:
    """What became of one section received: `reason` says why it was refused."""

    section: str
    result: SettingApplied
    reason: str | None = None


def setting_revision(conn: sqlite3.Connection | Database, section: str) -> int | None:
    """The shared revision this box last saw of a settings section, or None (never)."""
    found = conn.execute(
        "SELECT revision FROM setting_sync WHERE section = ?", [section]
    ).fetchone()
    return None if found is None else int(found[0])


def set_setting_revision(db: Database, section: str, revision: int) -> None:
    """Remember the revision the server gave this section (never goes back)."""
    with immediate(db):
        _upsert_setting_revision(db, section, revision)


def _upsert_setting_revision(db: Database, section: str, revision: int) -> None:
    db.execute(
        "INSERT INTO setting_sync (section, revision) VALUES (?, ?) ON CONFLICT (section)"
        " DO UPDATE SET revision = max(revision, excluded.revision)",
        [section, revision],
    )


def superseded(conn: sqlite3.Connection | Database, row: OutboxRow) -> bool:
    """A later change of the same section waits in the outbox: this one need not go out
    (a settings message is the section's whole state, not a step towards it)."""
    found = conn.execute(
        "SELECT 1 FROM outbox WHERE sent_ts IS NULL AND kind = 'setting' AND key = ?"
        " AND id > ? LIMIT 1",
        [row.key, row.id],
    ).fetchone()
    return found is not None


def has_unsent_setting(
    conn: sqlite3.Connection | Database, section: str, after_id: int = 0
) -> bool:
    """A change of the section made here waits to be published (after outbox row
    `after_id`); a joining box's offer does not count, the site's value beats it."""
    found = conn.execute(
        "SELECT 1 FROM outbox WHERE sent_ts IS NULL AND kind = 'setting' AND key = ?"
        " AND id > ? AND json_extract(payload, '$.join') IS NULL LIMIT 1",
        [section, after_id],
    ).fetchone()
    return found is not None


def apply_settings(
    db: Database, entries: Sequence[SharedSetting], zone: ZoneInfo, *, after_id: int = 0
) -> list[SettingOutcome]:
    """Put sections of the site's settings in force here, idempotently, in one transaction,
    with the echo flag raised. Per entry: `stale`: this box already has this revision or a
    later one; `pending`: a change made here (after outbox row `after_id`) waits to be
    published, and the publisher settles the two; `unchanged`: the same value, only the
    revision is noted (`settings_version` is not bumped for nothing); `refused`: this box's
    line service could not use the result (the revision is noted, the settings in force
    stay, a later change at the site brings the section again); `applied`: the row is
    written, `updated_by` `sync:<origin>`, and the line service puts it in force at its
    next look."""
    with _applying(db):
        base = _line_service_base(db)
        return [_apply_setting(db, entry, base, zone, after_id) for entry in entries]


def _apply_setting(
    db: Database, entry: SharedSetting, base: Config | None, zone: ZoneInfo, after_id: int
) -> SettingOutcome:
    known = setting_revision(db, entry.section)
    if known is not None and known >= entry.revision:
        return SettingOutcome(entry.section, "stale")
    if has_unsent_setting(db, entry.section, after_id):
        return SettingOutcome(entry.section, "pending")
    _upsert_setting_revision(db, entry.section, entry.revision)
    if _holds(db, entry.section, entry.value):
        return SettingOutcome(entry.section, "unchanged")
    problem = _unusable(base, read_overrides(db.conn), entry)
    if problem is not None:
        return SettingOutcome(entry.section, "refused", problem)
    _write_setting(db, entry, zone)
    return SettingOutcome(entry.section, "applied")


def _holds(db: Database, section: str, value: dict[str, Any] | None) -> bool:
    """The settings table already has `value` for the section (None: no row)."""
    found = db.execute("SELECT value FROM settings WHERE section = ?", [section]).fetchone()
    if found is None or value is None:
        return found is None and value is None
    try:
        return bool(json.loads(found[0]) == value)
    except (TypeError, ValueError):
        return False


def _line_service_base(db: Database) -> Config | None:
    """The configuration file the line service last started on (`service_state`), or None
    when it never ran here (then nothing is checked: it checks when it starts)."""
    found = base_config(db.conn)
    if found is None:
        return None
    try:
        return parse_config(json.loads(found), source="service_state.base_config")
    except (ValueError, ConfigError):
        return None


def _unusable(
    base: Config | None, overrides: Mapping[str, Any], entry: SharedSetting
) -> str | None:
    """Why the line service could not use the settings with this section changed, or None.
    It would keep the settings in force and log an error (`reload_settings`), but then
    every later change, of any section, would wait behind this one; refused here, the
    other sections still come. When what this box holds already fails (its file changed
    since), the site's value is no worse and is applied."""
    if base is None:
        return None
    proposed = {name: value for name, value in overrides.items() if name != entry.section}
    if entry.value is not None:
        proposed[entry.section] = entry.value
    try:
        effective_config(base, proposed)
    except ConfigError as exc:
        reason = "; ".join(exc.problems)
    else:
        return None
    try:
        effective_config(base, overrides)
    except ConfigError:
        return None
    return reason


def _write_setting(db: Database, entry: SharedSetting, zone: ZoneInfo) -> None:
    if entry.value is None:
        remove_override(db.conn, entry.section)
        return
    write_override(
        db.conn, entry.section, entry.value, by=f"sync:{entry.origin}", ts=entry.updated_ts,
        zone=zone,
    )  # fmt: skip


# ---------------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class ReceivedFact:
    """A peer's fact as it arrived, before it is kept."""

    origin: str
    origin_seq: int
    kind: FactKind
    caller: str
    value: str
    ts: float


def add_peer_facts(
    db: Database, facts: Sequence[ReceivedFact], received_ts: float, zone: ZoneInfo
) -> int:
    """Keep peers' verdicts, challenge outcomes and call-backs served, in one transaction;
    a fact already kept (same origin and sequence) is skipped. A call-back served on
    another box closes this box's open entry for that caller (`close_served_elsewhere`).
    Returns how many were new."""
    added = 0
    with immediate(db):
        for fact in facts:
            cursor = db.execute(
                "INSERT OR IGNORE INTO peer_facts"
                " (origin, origin_seq, kind, caller, value, ts, received_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [fact.origin, fact.origin_seq, fact.kind, fact.caller, fact.value, fact.ts,
                 received_ts],
            )  # fmt: skip
            added += cursor.rowcount
            if cursor.rowcount and fact.kind == "callback":
                close_served_elsewhere(db.conn, fact.caller, fact.ts, fact.origin, zone)
    return added


def peer_facts_after(
    conn: sqlite3.Connection | Database, after_id: int, limit: int = 1000
) -> list[PeerFact]:
    """Facts kept after row `after_id`, oldest first."""
    rows = conn.execute(
        "SELECT id, origin, kind, caller, value, ts FROM peer_facts"
        " WHERE id > ? ORDER BY id LIMIT ?",
        [after_id, limit],
    ).fetchall()
    return [PeerFact(*row) for row in rows]


def peer_facts_since(conn: sqlite3.Connection | Database, ts: float) -> list[PeerFact]:
    """Facts that happened at or after `ts`, for the policy's replay at start-up."""
    rows = conn.execute(
        "SELECT id, origin, kind, caller, value, ts FROM peer_facts WHERE ts >= ? ORDER BY ts",
        [ts],
    ).fetchall()
    return [PeerFact(*row) for row in rows]


def last_peer_fact_id(conn: sqlite3.Connection | Database) -> int:
    """The newest fact's row id (0 when there is none)."""
    found = conn.execute("SELECT max(id) FROM peer_facts").fetchone()
    return int(found[0] or 0)
