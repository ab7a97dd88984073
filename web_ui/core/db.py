"""The web UI's connections to Siaga's SQLite file (the same file as the call log).

The schema is brought up to date once at start with the appliance's own `connect_writer`
(WAL, migrations). Each request then gets a short-lived plain `sqlite3` connection in
autocommit mode: reads take no lock, and each change is one `BEGIN IMMEDIATE` transaction
of a few statements (`transaction`), so the line service's call-log writer never waits on
the web UI for more than a few milliseconds. Slow work (password hashing) always happens
before the transaction starts, never inside it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance.store.db import connect_writer, immediate_connection

# One short write transaction that takes the write lock at BEGIN (waits, not fails).
transaction = immediate_connection


def migrate(path: Path, *, busy_timeout_s: float) -> None:
    """Create the database if needed and apply every pending migration."""
    connect_writer(path, busy_timeout_s=busy_timeout_s).close()


def connect(path: Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection for one request or one command; rows are `sqlite3.Row`.

    `check_same_thread=False`: FastAPI may run a request's dependency and its handler on
    different worker threads, one after the other, never at once.
    """
    conn = sqlite3.connect(
        str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    # As the call log: a committed change (an audit row) survives a power cut.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def connect_readonly(path: Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection SQLite itself refuses to write through (`mode=ro`), for long watchers.

    The console's event stream keeps one open for as long as a browser listens; it may be
    used from one worker thread after another, never from two at once.
    """
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(
        uri, uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn
