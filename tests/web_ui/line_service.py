"""The line service's side of the console contract, written the way the service writes it.

The console tests play the line service: they UPSERT `line_status` rows (the service's
`INSERT OR REPLACE`, every column of the row each time), add `calls` and `dispositions`
rows as its call log does, and fill `desk_requests.result` as its poller does. The web
process under test never writes these tables; the tests check that it reads them right.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from appliance.numbers import normalise
from appliance.store.db import iso_at
from tests.web_ui.conftest import LiveServer
from web_ui.core import db as web_db

_names = itertools.count(1)
ZONE = ZoneInfo("Asia/Jakarta")  # the test server's zone


def line_name(prefix: str) -> str:
    """A line name no other test uses (every test shares one database and console)."""
    return f"{prefix}{next(_names)}"


@contextmanager
def database(server: LiveServer) -> Iterator[sqlite3.Connection]:
    """A connection to the server's database, as another process would open it."""
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        yield conn
    finally:
        conn.close()


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any], verb: str = "INSERT") -> int:
    columns = list(row)
    cursor = conn.execute(
        f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[column] for column in columns],
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def set_line(server: LiveServer, line: str, state: str, **fields: Any) -> None:
    """Replace `line`'s status row, as the service does on every state change."""
    now = time.time()
    row = {"line": line, "state": state, "since_ts": now, "updated_ts": now, "unverified": 0}
    row.update(fields)
    with database(server) as conn:
        _insert(conn, "line_status", row, verb="INSERT OR REPLACE")


def remove_line(server: LiveServer, line: str) -> None:
    """Forget a line (a test cleaning up after itself, so it cannot disturb another)."""
    with database(server) as conn:
        conn.execute("DELETE FROM line_status WHERE line = ?", [line])


def add_call(
    server: LiveServer, line: str, caller: str | None, started_ts: float, **fields: Any
) -> int:
    """A `calls` row, as the call log writes one at the start of a call; its id."""
    row: dict[str, Any] = {
        "line": line,
        "caller": caller,
        "caller_raw": caller,
        "number_class": "number" if caller else "withheld",
        "started_ts": started_ts,
        "decision": "pass",
        "reason": "default",
    }
    row.update(fields)
    with database(server) as conn:
        return _insert(conn, "calls", row)


def update_call(server: LiveServer, call_id: int, **fields: Any) -> None:
    """Change a call's row (it reached an operator, it ended)."""
    assignments = ", ".join(f"{column} = ?" for column in fields)
    with database(server) as conn:
        conn.execute(f"UPDATE calls SET {assignments} WHERE id = ?", [*fields.values(), call_id])


def add_disposition(
    server: LiveServer, call_id: int, caller: str, disposition: str, operator: str, ts: float
) -> None:
    """A verdict in `dispositions`, as the service records one."""
    row = {
        "call_id": call_id,
        "caller": caller,
        "disposition": disposition,
        "operator": operator,
        "recorded_ts": ts,
    }
    with database(server) as conn:
        _insert(conn, "dispositions", row)


def desk_requests(server: LiveServer, line: str) -> list[sqlite3.Row]:
    """Every request the console wrote for `line`, oldest first."""
    with database(server) as conn:
        return conn.execute(
            "SELECT * FROM desk_requests WHERE line = ? ORDER BY id", [line]
        ).fetchall()


def finish_request(server: LiveServer, request_id: int, result: str) -> None:
    """Mark a request done with `result`, as the service's poller does."""
    now = time.time()
    with database(server) as conn:
        conn.execute(
            "UPDATE desk_requests SET done_ts = ?, done_at = ?, result = ? WHERE id = ?",
            [now, iso_at(now, server.settings.zone), result, request_id],
        )


def audit_rows(server: LiveServer, actor: str, prefix: str = "console.") -> list[sqlite3.Row]:
    """The audit rows `actor` left with actions starting with `prefix`, oldest first."""
    with database(server) as conn:
        return conn.execute(
            "SELECT * FROM audit_log WHERE actor = ? AND action LIKE ? ORDER BY id",
            [actor, prefix + "%"],
        ).fetchall()


def count(server: LiveServer, table: str) -> int:
    """Rows in `table`."""
    with database(server) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def wait_until(check: Any, timeout_s: float = 5.0, interval_s: float = 0.05) -> Any:
    """Poll `check()` until it returns something truthy; that value (or AssertionError)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {check}")
        time.sleep(interval_s)


def call_row(line: str, caller_raw: str | None, started_ts: float, **fields: Any) -> dict[str, Any]:
    """A finished `calls` row as the call log writes it: `caller` normalised from the raw."""
    caller = normalise(caller_raw)
    row: dict[str, Any] = {
        "line": line,
        "caller_raw": caller_raw,
        "caller": caller.e164,
        "number_class": caller.number_class.value,
        "started_at": iso_at(started_ts, ZONE),
        "started_ts": started_ts,
        "decision": "pass",
        "reason": "default",
        "reached_operator": 0,
        "ended_at": iso_at(started_ts + 30.0, ZONE),
        "ended_ts": started_ts + 30.0,
        "end_cause": "caller_hung_up",
        "line_seconds": 30.0,
    }
    row.update(fields)
    return row


def add_calls(server: LiveServer, rows: list[dict[str, Any]]) -> list[int]:
    """Many `calls` rows in one transaction (as the call log's batched writer); their ids."""
    ids: list[int] = []
    with database(server) as conn:
        conn.execute("BEGIN IMMEDIATE")
        ids = [_insert(conn, "calls", row) for row in rows]
        conn.execute("COMMIT")
    return ids


HEARTBEAT_EVERY_S = 2.0  # the service beats every 10 s; tests beat faster, to be safe


def _beat(server: LiveServer) -> None:
    """One heartbeat in `service_state`, from this (living) process."""
    now = time.time()
    with database(server) as conn:
        updated = conn.execute(
            "UPDATE service_state SET heartbeat_ts = ?, pid = ?, updated_ts = ? WHERE id = 1",
            [now, os.getpid(), now],
        ).rowcount
        if not updated:
            conn.execute(
                "INSERT INTO service_state (id, pid, started_ts, heartbeat_ts, updated_ts)"
                " VALUES (1, ?, ?, ?, ?)",
                [os.getpid(), now, now, now],
            )


@contextmanager
def service_beating(server: LiveServer) -> Iterator[None]:
    """The line service's heartbeat, kept fresh while the block runs (the console then
    shows the lines as reported); its row's heartbeat and pid as they were afterwards."""
    with database(server) as conn:
        kept = conn.execute("SELECT pid, heartbeat_ts FROM service_state WHERE id = 1").fetchone()
    stop = threading.Event()

    def beat_until_stopped() -> None:
        while not stop.is_set():
            _beat(server)
            stop.wait(HEARTBEAT_EVERY_S)

    _beat(server)
    beater = threading.Thread(target=beat_until_stopped, daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join(timeout=10)
        with database(server) as conn:
            if kept is None:
                conn.execute("DELETE FROM service_state WHERE id = 1")
            else:
                conn.execute(
                    "UPDATE service_state SET pid = ?, heartbeat_ts = ? WHERE id = 1",
                    [kept["pid"], kept["heartbeat_ts"]],
                )
