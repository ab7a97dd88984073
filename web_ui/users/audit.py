"""The append-only audit log: who changed what, when, and the values before and after.

`record` is called inside the transaction that makes the change, so a change and its
audit row are committed together or not at all. The table's triggers (migration
`0006_web_users`) refuse UPDATE and DELETE. Values are JSON; passwords never appear
(a password change is recorded as `{"password": "changed"}`). Exports of data (the CSV
downloads) are recorded too (`record_export`): they change nothing, but they take the
centre's data out of the box.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from appliance.store.db import iso_at

AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a web user (with an id) or a command (`cli:NAME`)."""

    name: str
    user_id: int | None = None
    remote: str | None = None


def _json(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True, default=str)


def record(
    conn: sqlite3.Connection,
    actor: Actor,
    action: str,
    *,
    target: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    zone: ZoneInfo,
    now_ts: float | None = None,
) -> None:
    """Append one audit row; call it inside the change's own transaction."""
    ts = time.time() if now_ts is None else now_ts
    conn.execute(
        "INSERT INTO audit_log (ts, at, actor_id, actor, action, target, before, after, remote)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ts,
            iso_at(ts, zone),
            actor.user_id,
            actor.name,
            action,
            target,
            _json(before),
            _json(after),
            actor.remote,
        ],
    )


def record_export(
    conn: sqlite3.Connection,
    actor: Actor,
    what: str,
    *,
    query: Mapping[str, Any],
    zone: ZoneInfo,
) -> None:
    """The audit row of a CSV export (`export.calls`, `export.report`, `export.rules`):
    who took which data out of the box, with the filters or period that chose it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        record(conn, actor, f"export.{what}", target=what, before=None, after=query, zone=zone)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class AuditEntry:
    """One audit row as the pages and the API show it."""

    id: int
    ts: float
    actor: str
    action: str
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    remote: str | None

    def local_time(self, zone: ZoneInfo) -> datetime:
        """When, in the site's zone."""
        return datetime.fromtimestamp(self.ts, zone)


def _loads(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def latest(
    conn: sqlite3.Connection, *, before_id: int | None = None, limit: int = AUDIT_PAGE_SIZE
) -> list[AuditEntry]:
    """The newest entries, or those older than `before_id` (keyset paging: stays fast)."""
    rows = conn.execute(
        "SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
        [before_id if before_id is not None else 2**62, limit],
    ).fetchall()
    return [
        AuditEntry(
            id=int(row["id"]),
            ts=float(row["ts"]),
            actor=str(row["actor"]),
            action=str(row["action"]),
            target=row["target"],
            before=_loads(row["before"]),
            after=_loads(row["after"]),
            remote=row["remote"],
        )
        for row in rows
    ]
