"""The `events` table: alarms and changes worth keeping, written in the caller's transaction.

`add_event` takes a plain `sqlite3.Connection`, so a change and its event commit together
(a rule and its `rule_added`, a restore and its `database_restored`); the call log's
writer writes its own through it too, inside its batches, so every event row has one
shape: `at` (ISO 8601 in the site's zone), `ts` (POSIX seconds), `kind`,
`line` (None for the centre as a whole) and `detail` (JSON). A province hub keeps a
site's event as the site sent it (`add_received_event`), its detail text untouched.

The readers give `sqlite3.Row`s of `id`, `ts`, `kind`, `line` and `detail` (the JSON
text, undecoded), whatever the connection's row factory: the newest by time
(`latest_events`, the pages' lists) or the newest written (`last_written_events`, what
a service said last).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from appliance.store._sqlite import event_row, row_cursor

_COLUMNS = "id, ts, kind, line, detail"


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
    return add_received_event(
        conn, at=row["at"], ts=row["ts"], kind=row["kind"], line=row["line"], detail=row["detail"]
    )


def add_received_event(
    conn: sqlite3.Connection,
    *,
    at: str | None,
    ts: float,
    kind: str,
    line: str | None,
    detail: str | None,
) -> int:
    """Append one `events` row exactly as given (a NULL detail stays NULL), in the
    caller's transaction; return its id. For an event made elsewhere (a site's, on a
    province hub); a box's own events go through `add_event`."""
    cursor = conn.execute(
        "INSERT INTO events (at, ts, kind, line, detail) VALUES (?, ?, ?, ?, ?)",
        [at, ts, kind, line, detail],
    )
    event_id = cursor.lastrowid
    assert event_id is not None
    return event_id


def _where(
    kinds: Sequence[str] | None, since_ts: float | None, line_prefix: str | None
) -> tuple[str, list[Any]]:
    """`WHERE ...` (or '') keeping the events of `kinds`, from `since_ts` on, whose line
    starts with `line_prefix` (compared as text: `LIKE` would read `_` as a wildcard)."""
    clauses: list[str] = []
    params: list[Any] = []
    if kinds is not None:
        clauses.append(
            "kind = ?" if len(kinds) == 1 else f"kind IN ({', '.join('?' * len(kinds))})"
        )
        params += kinds
    if since_ts is not None:
        clauses.append("ts >= ?")
        params.append(since_ts)
    if line_prefix is not None:
        clauses.append("substr(line, 1, ?) = ?")
        params += [len(line_prefix), line_prefix]
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def latest_events(
    conn: sqlite3.Connection,
    *,
    limit: int,
    kinds: Sequence[str] | None = None,
    since_ts: float | None = None,
    line_prefix: str | None = None,
) -> list[sqlite3.Row]:
    """The newest `limit` events by time (`ts`, then id), newest first: of `kinds` (None:
    every kind), from `since_ts` on, whose line starts with `line_prefix` (a hub's site)."""
    where, params = _where(kinds, since_ts, line_prefix)
    return (
        row_cursor(conn)
        .execute(
            f"SELECT {_COLUMNS} FROM events{where} ORDER BY ts DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        .fetchall()
    )


def last_written_events(
    conn: sqlite3.Connection, kinds: Sequence[str], *, limit: int, since_ts: float | None = None
) -> list[sqlite3.Row]:
    """The last `limit` events of `kinds` written (by id, whatever their `ts`), from
    `since_ts` on, the last first: what a service said most recently."""
    where, params = _where(kinds, since_ts, None)
    return (
        row_cursor(conn)
        .execute(f"SELECT {_COLUMNS} FROM events{where} ORDER BY id DESC LIMIT ?", [*params, limit])
        .fetchall()
    )


def event_kinds(conn: sqlite3.Connection) -> list[str]:
    """Every event kind in the log, sorted (read from the `(kind, ts)` index)."""
    return [str(row[0]) for row in conn.execute("SELECT DISTINCT kind FROM events ORDER BY kind")]
