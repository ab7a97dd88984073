"""The `events` table: alarms and changes worth keeping, written in the caller's transaction.

`add_event` takes a plain `sqlite3.Connection`, so a change and its event commit together
(a rule and its `rule_added`, a restore and its `database_restored`). The call log's
writer batches its own events through the same row builder (`event_row`), so every event
row has one shape: `at` (ISO 8601 in the site's zone), `ts` (POSIX seconds), `kind`,
`line` (None for the centre as a whole) and `detail` (JSON).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from appliance.store._sqlite import event_row


def add_event(
    conn: sqlite3.Connection,
    kind: str,
    ts: float,
    zone: ZoneInfo,
    *,
    line: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Append one `events` row (in the caller's transaction, if any); return its id."""
    row = event_row(kind, ts, zone, line=line, detail=detail)
    cursor = conn.execute(
        "INSERT INTO events (at, ts, kind, line, detail) VALUES (?, ?, ?, ?, ?)",
        [row["at"], row["ts"], row["kind"], row["line"], row["detail"]],
    )
    event_id = cursor.lastrowid
    assert event_id is not None
    return event_id
