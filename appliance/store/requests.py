"""What the web UI asks of the line service, written where the service picks it up.

The two processes meet only in the database (migrations 0007 and 0013):
- `desk_requests`: an operator's answer, hang-up or verdict on a call, carried out by the
  service's desk (`appliance.desk`), which writes the result back;
- `line_requests`: a technician's AT test on a line (`appliance.line_admin`);
- `line_admin`: a technician's choice to take a line out of service or put it back.

Each function runs inside the caller's transaction, so the web UI writes the request and
its audit row together, and returns what the caller needs to follow it up.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Literal
from zoneinfo import ZoneInfo

from appliance.store.db import iso_at

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
