"""What the web UI asks of the line service, written where the service picks it up.

The two processes meet only in the database (migrations 0007 and 0013):
- `desk_requests`: an operator's answer, hang-up or verdict on a call, carried out by the
  service's desk (`appliance.desk`), which writes the result back;
- `line_requests`: a technician's AT test on a line (`appliance.line_admin`);
- `line_admin`: a technician's choice to take a line out of service or put it back.

Each writing function runs inside the caller's transaction, so the web UI writes the
request and its audit row together, and returns what the caller needs to follow it up.
The reading ones give the rows as `sqlite3.Row`, whatever the connection's row factory.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Literal
from zoneinfo import ZoneInfo

from appliance.store._sqlite import iso_at, row_cursor

logger = logging.getLogger(__name__)

DeskRequestKind = Literal["answer", "hang_up", "disposition"]


def add_desk_request(
    conn: sqlite3.Connection,
    *,
    kind: DeskRequestKind,
    line: str,
    call_id: int,
    disposition: str | None,
    operator: str,
    ts: float,
    zone: ZoneInfo,
) -> int:
    """Queue an operator's request on the call `call_id` of `line`; its id."""
    cursor = conn.execute(
        "INSERT INTO desk_requests"
        " (kind, line, call_id, disposition, operator, requested_ts, requested_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [kind, line, call_id, disposition, operator, ts, iso_at(ts, zone)],
    )
    request_id = cursor.lastrowid
    assert request_id is not None
    logger.info("desk request %d by %s: %s line %s call %d", request_id, operator, kind, line,
                call_id)  # fmt: skip
    return request_id


def add_at_test(
    conn: sqlite3.Connection, *, line: str, command: str, by: str, ts: float, zone: ZoneInfo
) -> int:
    """Queue an AT test of `line` (the caller has checked `command` is one allowed); its id."""
    cursor = conn.execute(
        "INSERT INTO line_requests (kind, line, command, requested_by, requested_ts, requested_at)"
        " VALUES ('at_test', ?, ?, ?, ?, ?)",
        [line, command, by, ts, iso_at(ts, zone)],
    )
    request_id = cursor.lastrowid
    assert request_id is not None
    logger.info("AT test %d by %s: %s on line %s", request_id, by, command, line)
    return request_id


def set_line_enabled(
    conn: sqlite3.Connection, *, line: str, enabled: bool, by: str, ts: float, zone: ZoneInfo
) -> None:
    """Keep the technician's choice for `line` (one row per line, the latest choice)."""
    conn.execute(
        "INSERT INTO line_admin (line, enabled, updated_ts, updated_at, updated_by)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(line) DO UPDATE SET enabled = excluded.enabled,"
        " updated_ts = excluded.updated_ts, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by",
        [line, int(enabled), ts, iso_at(ts, zone), by],
    )


def recent_desk_requests(conn: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    """The newest `limit` desk requests, newest first (by id: a bounded scan)."""
    cursor = row_cursor(conn)
    return cursor.execute(
        "SELECT * FROM desk_requests ORDER BY id DESC LIMIT ?", [limit]
    ).fetchall()


def desk_request(conn: sqlite3.Connection, request_id: int) -> sqlite3.Row | None:
    """One desk request by id, or None."""
    cursor = row_cursor(conn)
    row: sqlite3.Row | None = cursor.execute(
        "SELECT * FROM desk_requests WHERE id = ?", [request_id]
    ).fetchone()
    return row


def pending_desk_request(
    conn: sqlite3.Connection, *, kind: str, call_id: int, since_ts: float
) -> int | None:
    """The newest request of `kind` on the call `call_id` made at or after `since_ts`
    that the service has not carried out yet; its id, or None."""
    row = conn.execute(
        "SELECT id FROM desk_requests WHERE call_id = ? AND kind = ? AND done_ts IS NULL"
        " AND requested_ts >= ? ORDER BY id DESC LIMIT 1",
        [call_id, kind, since_ts],
    ).fetchone()
    return None if row is None else int(row[0])


def latest_disposition_request(conn: sqlite3.Connection, call_id: int) -> sqlite3.Row | None:
    """The newest verdict an operator asked for on the call `call_id` (done or not), or None."""
    cursor = row_cursor(conn)
    row: sqlite3.Row | None = cursor.execute(
        "SELECT * FROM desk_requests WHERE call_id = ? AND kind = 'disposition'"
        " ORDER BY id DESC LIMIT 1",
        [call_id],
    ).fetchone()
    return row


def line_requests_since(conn: sqlite3.Connection, since_ts: float) -> list[sqlite3.Row]:
    """The line requests (AT tests) made at or after `since_ts`, oldest first."""
    cursor = row_cursor(conn)
    return cursor.execute(
        "SELECT * FROM line_requests WHERE requested_ts >= ? ORDER BY id", [since_ts]
    ).fetchall()


def line_request(conn: sqlite3.Connection, request_id: int) -> sqlite3.Row | None:
    """One line request by id, or None."""
    cursor = row_cursor(conn)
    row: sqlite3.Row | None = cursor.execute(
        "SELECT * FROM line_requests WHERE id = ?", [request_id]
    ).fetchone()
    return row
