"""A backup of the database: one consistent, self-contained SQLite file.

SQLite's online backup API copies the database in one step (one read transaction): the
line service keeps writing meanwhile, and the copy is the database as it was when the
step began. The copy is then turned into a single file (rollback journal, no `-wal`
beside it). It holds everything in the database (calls, rules, settings, the web UI's
accounts with their password hashes, the audit log), never the web secret, which is a
file of its own. `siaga backup` (the command line) and the web UI's system page
(`appliance.store.restore.make_backup`) both make their copies here; restoring one is
`appliance.store.restore`'s work.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo


def copy_database(source: Path, target: Path, *, busy_timeout_s: float) -> None:
    """A consistent copy of `source` in `target` (backup API, one step), as one file."""
    src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True, timeout=busy_timeout_s)
    try:
        dst = sqlite3.connect(target, timeout=busy_timeout_s)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # no -wal beside it: one file
        finally:
            dst.close()
    finally:
        src.close()


def backup_name(now_ts: float, zone: ZoneInfo) -> str:
    """`siaga-backup-YYYYMMDD-HHMM.db` in the site's time."""
    return f"siaga-backup-{datetime.fromtimestamp(now_ts, zone):%Y%m%d-%H%M}.db"
