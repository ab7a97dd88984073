"""SQLite plumbing shared by the call log, the rule store and the read-only queries.

Every writing connection is opened by `connect_writer`, so they all get the same journal,
durability and lock-wait settings, and the schema is migrated before first use.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.migrations import apply_migrations

logger = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_S = 5.0

# Primary result codes that mean "this statement is wrong for this data": retrying the same
# write can never succeed, so the writer drops the item (logged) instead of stalling.
_ITEM_FAULT_CODES = frozenset(
    {
        sqlite3.SQLITE_ERROR,  # SQL error, e.g. no such column
        sqlite3.SQLITE_CONSTRAINT,
        sqlite3.SQLITE_MISMATCH,
        sqlite3.SQLITE_TOOBIG,
        sqlite3.SQLITE_RANGE,
    }
)


def connect_writer(path: Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Database:
    """Open `path` for writing (creating it and its directory), in WAL mode, migrated.

    synchronous=FULL: in WAL mode that fsyncs the WAL at every commit. A Raspberry Pi loses
    power (a pulled plug, a browned-out supply), and only FULL makes a committed call row
    survive that. NORMAL would be enough against a mere process crash or kill -9, because
    a committed WAL frame already sits in the OS page cache; it is not enough against power
    loss. The cost is one fsync per group commit, off the call path.

    The connection may be handed to another thread (the call log's writer), but must only
    be used by one thread at a time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=busy_timeout_s, check_same_thread=False)
    # execute_plugins=False: no third-party sqlite-utils plugin may touch this connection.
    db = Database(conn, execute_plugins=False)
    try:
        db.enable_wal()
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        apply_migrations(db)
    except BaseException:
        db.close()
        raise
    return db


def highest_id_sql(table: str) -> str:
    """SQL for the highest id `table` has given out: its largest, or the floor a restore
    kept in `id_floors` (migration 0030) when that is higher. The call log numbers calls,
    and the call-back list its entries, above it: ids the replaced database published to
    the site's other boxes and the hub are never given again."""
    return (
        f'SELECT max(COALESCE((SELECT MAX(id) FROM "{table}"), 0),'
        f" COALESCE((SELECT floor FROM id_floors WHERE name = '{table}'), 0))"
    )


def open_readonly(
    path: Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
) -> sqlite3.Connection:
    """A read-only connection for CLI queries and reports (rows are `sqlite3.Row`).

    `mode=ro` makes SQLite itself refuse writes, so a report can never disturb the
    service's writer. Raises `sqlite3.OperationalError` if the file does not exist.
    """
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s)
    conn.row_factory = sqlite3.Row
    return conn


def row_cursor(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor on `conn` whose rows are `sqlite3.Row`, whatever the connection's factory."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor


@contextlib.contextmanager
def immediate(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock at BEGIN.

    A plain (deferred) BEGIN that first reads and then writes fails at once with
    SQLITE_BUSY if another process committed in between, without waiting; IMMEDIATE
    waits up to the busy timeout for the lock instead.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


@contextlib.contextmanager
def immediate_connection(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`immediate` for a plain `sqlite3` connection opened with `isolation_level=None`."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def is_transient(exc: BaseException) -> bool:
    """True when the same write may succeed later: locked, busy, disk full, I/O error.

    Errors that are not SQLite's (a value that cannot be bound or serialised) and SQLite
    errors about the statement or data are the item's fault: retrying cannot help.
    """
    if not isinstance(exc, sqlite3.OperationalError) and type(exc) is not sqlite3.DatabaseError:
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return True
    return (code & 0xFF) not in _ITEM_FAULT_CODES


def iso_at(ts: float, zone: ZoneInfo) -> str:
    """POSIX seconds as ISO 8601 with the zone's offset, e.g. 2024-04-03T19:02:11.123+07:00."""
    return datetime.fromtimestamp(ts, zone).isoformat(timespec="milliseconds")


def detail_json(detail: Mapping[str, Any] | None) -> str:
    """An event's detail as JSON; values JSON cannot hold are written as their str()."""
    return json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True, default=str)


def event_row(
    kind: str, ts: float, zone: ZoneInfo, *, line: str | None, detail: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A row for the `events` table."""
    return {
        "at": iso_at(ts, zone),
        "ts": ts,
        "kind": kind,
        "line": line,
        "detail": detail_json(detail),
    }
