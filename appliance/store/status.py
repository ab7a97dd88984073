"""What the line service says about itself and its lines, read back by the web UI and tools.

The line service publishes its state through its call log's writer (`CallLog`): one
`service_state` row (its process and the process namespace it runs in, version, start,
heartbeat, flood mode and the configuration file it started on, `base_config`) and one
`line_status` row per line. A technician's choice to take a line out of service is a
`line_admin` row (`appliance.store.requests.set_line_enabled`). Here is how they are
read, one function per fact, for every reader (the web UI's pages, the line service's own
line admin, the settings a box takes from its hub in `appliance.cluster.store`), and how
big the database's tables are (the system page, `siaga demo`).

Rows are `sqlite3.Row` whatever the connection's row factory.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable

from appliance.store._sqlite import row_cursor


def pid_namespace() -> str | None:
    """This process's PID namespace (`pid:[4026531836]`), or None where it cannot be read.
    The line service records its own beside its process id: a reader in the same one can
    tell at once whether that process still exists; in another, the id means nothing."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def service_state(conn: sqlite3.Connection) -> sqlite3.Row | None:
    """The line service's row (`service_state`), or None before it first ran here."""
    row: sqlite3.Row | None = (
        row_cursor(conn).execute("SELECT * FROM service_state WHERE id = 1").fetchone()
    )
    return row


def base_config(conn: sqlite3.Connection) -> str | None:
    """The configuration file the line service last started on, as the JSON it published
    (`service_state.base_config`); None when it never did."""
    row = conn.execute("SELECT base_config FROM service_state WHERE id = 1").fetchone()
    return str(row[0]) if row is not None and row[0] else None


def line_statuses(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every line's `line_status` row, by line name."""
    return row_cursor(conn).execute("SELECT * FROM line_status ORDER BY line").fetchall()


def line_status(conn: sqlite3.Connection, line: str) -> sqlite3.Row | None:
    """One line's `line_status` row, or None for a line the service does not report."""
    row: sqlite3.Row | None = (
        row_cursor(conn).execute("SELECT * FROM line_status WHERE line = ?", [line]).fetchone()
    )
    return row


def line_choices(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    """Every `line_admin` row (a technician's latest choice for a line), by line."""
    rows = row_cursor(conn).execute("SELECT * FROM line_admin").fetchall()
    return {str(row["line"]): row for row in rows}


def table_counts(conn: sqlite3.Connection, tables: Iterable[str]) -> dict[str, int]:
    """Rows in each of `tables` the database has, in the given order (a missing one is
    left out). The names are quoted, never bound: pass a fixed list, never a request's."""
    present = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    return {
        table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        for table in tables
        if table in present
    }
