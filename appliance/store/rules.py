"""Allow and block rules, shared between the running service and the `siaga` CLI.

Rules are written by a different process from the call log's writer (a technician runs
`siaga block add` while the service runs), so every write here is one short
`BEGIN IMMEDIATE` transaction that waits for the lock (busy timeout) rather than failing.
Removal is a soft delete: `removed_*` is filled in and the row stays, so the history of who
listed and unlisted what, and why, is kept (R15). Each change also appends an `events` row.
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.model import Action
from appliance.rules import Rule
from appliance.store._sqlite import (
    DEFAULT_BUSY_TIMEOUT_S,
    connect_writer,
    event_row,
    immediate,
    iso_at,
)

logger = logging.getLogger(__name__)

RuleRows = list[dict[str, Any]]

KINDS = ("allow", "block")
MATCHES = ("exact", "prefix")
# An allow rule always passes; a block rule restricts, and defaults to a challenge (the
# caller keeps the escape key): reject needs to be asked for explicitly.
_ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    "allow": (Action.PASS.value,),
    "block": (Action.CHALLENGE.value, Action.ANNOUNCE.value, Action.REJECT.value),
}
# Patterns are E.164 numbers or prefixes: withheld/unavailable callers are never a rule key
# (R10), and a national-form pattern would silently never match a normalised caller.
_PATTERN = re.compile(r"\+[0-9]{1,15}")
_INPUT_KEYS = frozenset(
    {
        "id",
        "kind",
        "pattern",
        "match",
        "action",
        "reason",
        "created_by",
        "created_ts",
        "expires_ts",
        "note",
    }
)


class DuplicateRuleError(ValueError):
    """An identical rule (same kind, match, pattern and action) is already in force."""

    def __init__(self, existing_id: str) -> None:
        super().__init__(f"an identical rule is already in force: {existing_id}")
        self.existing_id = existing_id


def identical_active_rule(
    conn: sqlite3.Connection, kind: str, match: str, pattern: str, action: str, now_ts: float
) -> str | None:
    """The id of a rule in force at `now_ts` identical to this one (same kind, match,
    pattern and action), or None. `conn` is any SQLite connection on the database."""
    found = conn.execute(
        "SELECT id FROM rules WHERE kind = ? AND match = ? AND pattern = ? AND action = ?"
        " AND removed_ts IS NULL AND (expires_ts IS NULL OR expires_ts > ?)"
        " ORDER BY created_ts LIMIT 1",
        [kind, match, pattern, action, now_ts],
    ).fetchone()
    return None if found is None else str(found[0])


class RuleStore:
    """Read and change the rules; safe to use from several processes at once.

    The connection is opened (and the schema migrated) on first use. One instance may be
    shared by threads: calls are serialised by a lock.
    """

    def __init__(
        self,
        path: Path,
        timezone: str = "Asia/Jakarta",
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self._zone = ZoneInfo(timezone)
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._db: Database | None = None

    def __enter__(self) -> RuleStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent); the next call opens it again."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------------- writes

    def add(self, rule: Mapping[str, Any]) -> str:
        """Add a rule; return its id. Raises ValueError naming the first bad field, and
        `DuplicateRuleError` (a ValueError) when an identical rule is already in force.

        Keys: kind (allow|block), pattern (E.164 number or prefix), match (exact|prefix,
        default exact), action (allow: pass; block: challenge (default), announce, reject),
        created_by (required), reason (required for a permanent block: that is a
        supervisor's decision), created_ts (default now), expires_ts (None: permanent),
        note, id (default generated).
        """
        row = self._new_row(rule)
        with self._lock:
            db = self._database()
            with immediate(db):
                if db.execute("SELECT 1 FROM rules WHERE id = ?", [row["id"]]).fetchone():
                    raise ValueError(f"id: a rule {row['id']!r} already exists")
                existing = identical_active_rule(
                    db.conn,
                    row["kind"],
                    row["match"],
                    row["pattern"],
                    row["action"],
                    row["created_ts"],
                )
                if existing is not None:
                    raise DuplicateRuleError(existing)
                db.table("rules").insert(row)
                db.table("events").insert(
                    event_row("rule_added", row["created_ts"], self._zone, line=None, detail=row)
                )
        logger.info(
            "rule %s added by %s: %s %s %s (%s)",
            row["id"],
            row["created_by"],
            row["kind"],
            row["match"],
            row["pattern"],
            row["reason"],
        )
        return str(row["id"])

    def remove(self, rule_id: str, by: str, ts: float, *, reason: str | None = None) -> bool:
        """Soft-delete a rule. True if removed now; False for an unknown or removed id."""
        if not by.strip():
            raise ValueError("by: who removes the rule is required")
        with self._lock:
            db = self._database()
            with immediate(db):
                found = db.execute(
                    "SELECT removed_ts FROM rules WHERE id = ?", [rule_id]
                ).fetchone()
                if found is None or found[0] is not None:
                    return False
                removal = {
                    "removed_at": iso_at(ts, self._zone),
                    "removed_ts": ts,
                    "removed_by": by,
                    "removed_reason": reason,
                }
                db.table("rules").update(rule_id, removal)
                detail = {"id": rule_id, "by": by, "reason": reason}
                db.table("events").insert(
                    event_row("rule_removed", ts, self._zone, line=None, detail=detail)
                )
        logger.info("rule %s removed by %s (%s)", rule_id, by, reason)
        return True

    # -------------------------------------------------------------------- reads

    def get(self, rule_id: str) -> dict[str, Any] | None:
        """One rule by id, removed or not; None if unknown."""
        rows = self._select("WHERE id = ?", [rule_id], now_ts=None)
        return rows[0] if rows else None

    def list(
        self, kind: str | None = None, include_removed: bool = False, now_ts: float | None = None
    ) -> RuleRows:
        """Rules oldest first, each with a `status`: active, expired or removed.

        Removed rules are left out unless `include_removed`; with `now_ts`, so are rules
        expired at that time (and `status` says `expired` for those that are shown).
        """
        clauses: list[str] = []
        params: list[Any] = []
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        if not include_removed:
            clauses.append("removed_ts IS NULL")
            if now_ts is not None:
                clauses.append("(expires_ts IS NULL OR expires_ts > ?)")
                params.append(now_ts)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._select(where, params, now_ts=now_ts)

    def active(self, now_ts: float) -> RuleRows:
        """Rules in force at `now_ts`: not removed, not expired."""
        return self.list(now_ts=now_ts)

    def changed_since(self, marker: int | None) -> tuple[int, bool]:
        """(new_marker, changed): cheap enough for the service to poll every second.

        The marker is `rules_version.version`, bumped by triggers on any change to `rules`
        from any connection or process, in the same transaction. PRAGMA data_version was
        rejected: it changes on every commit to any table (the call log commits for every
        call), it is blind to the polling connection's own writes, and it means nothing
        across a reconnect. Pass None the first time. Expiry changes no row: reload by
        time as well, or filter `expires_ts` against the clock when matching.
        """
        with self._lock:
            found = (
                self._database()
                .execute("SELECT version FROM rules_version WHERE id = 1")
                .fetchone()
            )
        version = int(found[0]) if found else 0
        return version, marker is None or version != marker

    # ------------------------------------------------------------------ helpers

    def _database(self) -> Database:
        """The connection, opened on first use (caller holds the lock)."""
        if self._db is None:
            self._db = connect_writer(self.path, busy_timeout_s=self._busy_timeout_s)
        return self._db

    def _select(self, where: str, params: Sequence[Any], *, now_ts: float | None) -> RuleRows:
        with self._lock:
            cursor = self._database().execute(
                f"SELECT * FROM rules {where} ORDER BY created_ts, id", params
            )
            columns = [description[0] for description in cursor.description]
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        for row in rows:
            row["status"] = _status(row, now_ts)
        return rows

    def _new_row(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """Validate `rule` and build the full row to insert."""
        unknown = sorted(set(rule) - _INPUT_KEYS)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown rule field")
        kind = _choice(rule, "kind", KINDS, default=None)
        match = _choice(rule, "match", MATCHES, default="exact")
        action = _choice(rule, "action", _ACTIONS_BY_KIND[kind], default=_ACTIONS_BY_KIND[kind][0])
        pattern = str(rule.get("pattern") or "").strip()
        if not _PATTERN.fullmatch(pattern):
            raise ValueError(f"pattern: {pattern!r} is not an E.164 number or prefix (+62...)")
        created_by = _required_text(rule, "created_by")
        created_ts = rule.get("created_ts")
        created_ts = time.time() if created_ts is None else float(created_ts)
        expires_ts = rule.get("expires_ts")
        if expires_ts is not None:
            expires_ts = float(expires_ts)
            if expires_ts <= created_ts:
                raise ValueError("expires_ts: must be later than created_ts")
        reason = str(rule.get("reason") or "").strip()
        if kind == "block" and expires_ts is None and not reason:
            raise ValueError("reason: required for a permanent block")
        # 64 random bits: with 32, two of 100,000 rules would likely share an id.
        rule_id = str(rule.get("id") or f"{kind[0]}-{secrets.token_hex(8)}")
        return {
            "id": rule_id,
            "kind": kind,
            "pattern": pattern,
            "match": match,
            "action": action,
            "reason": reason,
            "created_by": created_by,
            "created_at": iso_at(created_ts, self._zone),
            "created_ts": created_ts,
            "expires_at": None if expires_ts is None else iso_at(expires_ts, self._zone),
            "expires_ts": expires_ts,
            "note": rule.get("note"),
        }


def _choice(
    rule: Mapping[str, Any], key: str, allowed: tuple[str, ...], *, default: str | None
) -> str:
    value = rule.get(key) or default
    if value is None:
        raise ValueError(f"{key}: required, one of {', '.join(allowed)}")
    value = str(value)
    if value not in allowed:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _required_text(rule: Mapping[str, Any], key: str) -> str:
    value = str(rule.get(key) or "").strip()
    if not value:
        raise ValueError(f"{key}: required")
    return value


def _status(row: Mapping[str, Any], now_ts: float | None) -> str:
    if row["removed_ts"] is not None:
        return "removed"
    expires_ts = row["expires_ts"]
    if now_ts is not None and expires_ts is not None and expires_ts <= now_ts:
        return "expired"
    return "active"


def rule_from_row(row: Mapping[str, Any]) -> Rule:
    """The policy's `Rule` for a row of `RuleStore.list` / `active` (times as POSIX seconds)."""
    return Rule(
        id=str(row["id"]),
        kind=row["kind"],
        pattern=str(row["pattern"]),
        match=row["match"],
        action=Action(row["action"]),
        reason=str(row["reason"] or ""),
        created_by=str(row["created_by"] or ""),
        created_at=float(row["created_ts"]),
        expires_at=None if row["expires_ts"] is None else float(row["expires_ts"]),
    )
