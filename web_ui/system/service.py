"""The system page's work: versions and uptimes, the database, its backups, and logs.

**What runs.** Siaga's version (`appliance.package_version`), the web process's uptime
(since this module was loaded, at the process's start) and the line service's, from its
`service_state` row: it counts as running only with a heartbeat at most 30 s old
(`web_ui.home.service.HEARTBEAT_FRESH_S`), else the page says "not running".

**The database.** The size of the main file and of its write-ahead log, the free space on
its filesystem, the row counts of the large tables (`count(*)`: about 10 ms for 2 million
calls, answered from the smallest index), and the safety copies earlier restores left.

**Backup and restore** are `appliance.store.restore`'s (the CLI's `siaga backup` and
`siaga restore` use them too); this module adds what only the web UI needs: the audit
rows of a download and of a restore (who, from where), and a refusal in the viewer's
language.

**Logs.** The newest `EVENTS_SHOWN` rows of `events`, filterable by kind, and, best effort,
the last lines of the journal of `siaga` and `siaga-web` (`JOURNAL_COMMAND`, a fixed
argument list: nothing the user sends reaches it), when `journalctl` exists and answers
within 2 s; otherwise the page says why there are none.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, PrivateAttr

from appliance import package_version
from appliance.store import callbacks
from appliance.store import events as event_store
from appliance.store import status as status_store
from appliance.store.restore import (
    MAX_RESTORE_BYTES,
    SAFETY_INFIX,
    BackupFile,
    RestoreAudit,
    RestoreOutcome,
    RestoreRefused,
    database_bytes,
)
from web_ui.core import db as web_db
from web_ui.core.i18n import translate
from web_ui.core.web_settings import WebSettings
from web_ui.core.wording import format_count
from web_ui.home.service import ServicePublic, service_status
from web_ui.users import audit
from web_ui.users.audit import Actor
from web_ui.users.service import Language

logger = logging.getLogger(__name__)

WEB_STARTED_TS = time.time()  # this module is loaded when the web process starts
BIG_TABLES: tuple[str, ...] = (
    "calls",
    "dispositions",
    "events",
    "rules",
    "audit_log",
    "sms_outbox",
    "desk_requests",
    "line_requests",
    "users",
    "web_sessions",
)
EVENTS_SHOWN = 200
EVENT_DETAIL_CHARS = 500
JOURNAL_COMMAND: tuple[str, ...] = (
    "journalctl",
    "--no-pager",
    "-o",
    "short-iso",
    "-n",
    "200",
    "-u",
    "siaga",
    "-u",
    "siaga-web",
)
JOURNAL_TIMEOUT_S = 2.0
JOURNAL_LINES = 200

JournalState = Literal["ok", "empty", "missing", "failed", "timeout"]


# ------------------------------------------------------------------ the API's view


class SafetyCopyPublic(BaseModel):
    """A copy of the database kept by an earlier restore (delete it when it is not needed)."""

    name: str
    bytes: int
    modified_at: datetime


class EventPublic(BaseModel):
    """One `events` row; `detail` is its JSON text, cut at 500 characters."""

    id: int
    ts: float
    at: datetime
    kind: str
    line: str | None
    detail: str
    _values: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def values(self) -> dict[str, Any]:
        """The whole detail as a dict, for the page to put in words (not in the API)."""
        return self._values


class JournalPublic(BaseModel):
    """The journal's last lines of `siaga` and `siaga-web`, when they could be read."""

    state: JournalState
    lines: list[str]
    note: str  # what journalctl said on stderr, or why it did not run


class SystemPublic(BaseModel):
    """`GET /api/system`: versions, uptimes, the database, and the logs."""

    version: str
    now_at: datetime
    web_started_at: datetime
    web_uptime_s: float
    service: ServicePublic
    db_path: str
    db_bytes: int
    wal_bytes: int
    disk_free_bytes: int
    disk_total_bytes: int
    tables: dict[str, int]
    safety_copies: list[SafetyCopyPublic]
    max_restore_bytes: int
    event_kind: str | None
    event_kinds: list[str]
    events: list[EventPublic]
    journal: JournalPublic


# ------------------------------------------------------------------ what runs, the database


def _local(ts: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, zone)


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows in each of the large tables (a fixed list: no name comes from a request)."""
    return status_store.table_counts(conn, BIG_TABLES)


def safety_copies(db_path: Path, zone: ZoneInfo) -> list[SafetyCopyPublic]:
    """The `<db>.before-restore-*` files next to the database, newest first."""
    found = []
    for path in db_path.parent.glob(db_path.name + SAFETY_INFIX + "*"):
        if path.is_file() and not path.name.endswith(("-wal", "-shm", "-journal")):
            stat = path.stat()
            found.append(
                SafetyCopyPublic(
                    name=path.name, bytes=stat.st_size, modified_at=_local(stat.st_mtime, zone)
                )
            )
    return sorted(found, key=lambda copy: copy.modified_at, reverse=True)


def event_kinds(conn: sqlite3.Connection) -> list[str]:
    """Every event kind in the log (read from the `(kind, ts)` index)."""
    return event_store.event_kinds(conn)


def recent_events(
    conn: sqlite3.Connection, zone: ZoneInfo, kind: str | None, limit: int = EVENTS_SHOWN
) -> list[EventPublic]:
    """The newest events, of one kind or all, newest first."""
    rows = event_store.latest_events(conn, kinds=(kind,) if kind else None, limit=limit)
    events = []
    for row in rows:
        detail = str(row["detail"] or "")
        if len(detail) > EVENT_DETAIL_CHARS:
            detail = detail[: EVENT_DETAIL_CHARS - 1] + "\u2026"
        event = EventPublic(
            id=int(row["id"]),
            ts=float(row["ts"]),
            at=_local(float(row["ts"]), zone),
            kind=str(row["kind"]),
            line=row["line"],
            detail=detail,
        )
        event._values = callbacks.decode_detail(row["detail"])
        events.append(event)
    return events


def read_journal() -> JournalPublic:
    """The journal's last lines of both services, or why they cannot be shown."""
    program = shutil.which(JOURNAL_COMMAND[0])
    if program is None:
        return JournalPublic(state="missing", lines=[], note="")
    try:
        done = subprocess.run(  # a fixed argument list, no shell
            [program, *JOURNAL_COMMAND[1:]],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            timeout=JOURNAL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return JournalPublic(state="timeout", lines=[], note="")
    except OSError as exc:
        return JournalPublic(state="failed", lines=[], note=str(exc))
    note = done.stderr.strip()[-EVENT_DETAIL_CHARS:]
    if done.returncode != 0:
        return JournalPublic(state="failed", lines=[], note=note)
    lines = [line for line in done.stdout.splitlines() if line and not line.startswith("-- ")]
    state: JournalState = "ok" if lines else "empty"
    return JournalPublic(state=state, lines=lines[-JOURNAL_LINES:], note=note)


def system_info(
    conn: sqlite3.Connection, settings: WebSettings, *, now_ts: float, kind: str | None
) -> SystemPublic:
    """Everything the system page shows (the journal included)."""
    zone = settings.zone
    db_bytes, wal_bytes = database_bytes(settings.db_path)
    disk = shutil.disk_usage(settings.db_path.resolve().parent)
    return SystemPublic(
        version=package_version(),
        now_at=_local(now_ts, zone),
        web_started_at=_local(WEB_STARTED_TS, zone),
        web_uptime_s=max(0.0, now_ts - WEB_STARTED_TS),
        service=service_status(conn, now_ts, zone),
        db_path=str(settings.db_path),
        db_bytes=db_bytes,
        wal_bytes=wal_bytes,
        disk_free_bytes=disk.free,
        disk_total_bytes=disk.total,
        tables=table_counts(conn),
        safety_copies=safety_copies(settings.db_path, zone),
        max_restore_bytes=MAX_RESTORE_BYTES,
        event_kind=kind or None,
        event_kinds=event_kinds(conn),
        events=recent_events(conn, zone, kind or None),
        journal=read_journal(),
    )


def audit_backup(
    conn: sqlite3.Connection, actor: Actor, backup: BackupFile, zone: ZoneInfo
) -> None:
    """The audit row of a backup download."""
    with web_db.transaction(conn):
        audit.record(
            conn,
            actor,
            "system.backup",
            target=backup.download_name,
            before=None,
            after={"bytes": backup.size},
            zone=zone,
        )


def restore_audit(actor: Actor, zone: ZoneInfo, now_ts: float) -> RestoreAudit:
    """The audit row of a restore by `actor`, written in the restored database."""

    def record(conn: sqlite3.Connection, outcome: RestoreOutcome) -> None:
        summary = outcome.summary
        audit.record(
            conn,
            actor,
            "system.restore",
            target=outcome.safety_copy.name,
            before={"calls": outcome.calls_before},
            after={
                "calls": summary.calls,
                "users": summary.users,
                "bytes": summary.size,
                "migrated": summary.migrated,
                "safety_copy": outcome.safety_copy.name,
            },
            zone=zone,
            now_ts=now_ts,
        )

    return record


def refusal_text(refused: RestoreRefused, language: Language) -> str:
    """Why a backup or a restore was refused, in the viewer's language; sizes (the
    megabytes needed and free) with the language's thousands separator."""
    values = {
        name: format_count(value, language)
        if isinstance(value, int) and name.endswith("_mb")
        else value
        for name, value in refused.values.items()
    }
    return translate(language, refused.code, **values)
