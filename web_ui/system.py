"""The system page's work: versions and uptimes, the database, backup, restore and logs.

**What runs.** Siaga's version (`appliance.package_version`), the web process's uptime
(since this module was loaded, at the process's start) and the line service's, from its
`service_state` row: it counts as running only with a heartbeat at most 30 s old
(`web_ui.dashboard.HEARTBEAT_FRESH_S`), else the page says "not running".

**The database.** The size of the main file and of its write-ahead log, the free space on
its filesystem, the row counts of the large tables (`count(*)`: about 10 ms for 2 million
calls, answered from the smallest index), and the safety copies earlier restores left.

**Backup** (`make_backup`). A consistent copy made with SQLite's online backup API in one
step (one read transaction: the line service keeps writing meanwhile, the copy is the
database as it was when the step began), converted to a single self-contained file
(rollback journal, no `-wal`), written to a temporary file in the database's own
directory (the filesystem that holds the data has the room; `/tmp` may be a small RAM
disk) and streamed to the browser as `siaga-backup-YYYYMMDD-HHMM.db` (site time). The
temporary file is unlinked as soon as it is open for sending, so no copy is left behind
however the download ends. A backup holds everything in the database: calls, rules,
settings, users with their password hashes, the audit log; it never holds the web secret
(`*.web-secret`, a separate file), so sessions stored in it are useless to whoever
holds it. Each download is audited (`system.backup`).

**Restore** is two steps. `web_ui.restore_upload` streams the upload, after the login
check, straight from the request to a temporary file next to the database (`start_upload`;
at most `MAX_RESTORE_BYTES`, 2 GB, counted while it is read; a larger `Content-Length` is
refused before the body is read, by `web_ui.request_limits`) and `inspect_upload` checks it before
anything else is touched: the SQLite header, `PRAGMA integrity_check` = ok, Siaga's
tables (`_migrations`, `calls`, `dispositions`, `events`, `rules`), no migration this
version does not know (a backup from a newer Siaga is refused, naming the migrations),
then it migrates the copy to the current schema and checks that the result holds exactly
the tables, indexes, triggers and views this version makes, each with the very SQL this
version creates it with (`_check_schema`: blanks normalised, nothing else), and at
least one enabled technician account (else nobody could log in to manage the box
afterwards). The page then shows
what the backup holds and asks the technician to type RESTORE. `restore` then:

1. takes the database's write lock (every writer waits, the line service's call log
   queues its writes in memory), makes the safety copy `<db>.before-restore-YYYYMMDD-
   HHMMSS` with the backup API, and reads what must outlive the restore (below);
2. copies the upload into the live database with the backup API
   (`upload.backup(live)`): other connections see the old or the new database, never a
   mixture;
3. in one transaction on the restored database: ends every session, puts back the rows
   that describe the running line service, bumps the change counters, and appends a
   `database_restored` event and the `system.restore` audit row (in the restored
   database, where it is not lost).

**Sessions.** The restored database holds the backup's users and sessions. Every session
is deleted after a restore: the backup's were live when it was made and may since have
been logged out or revoked, and the restoring user's own session is not in the backup.
Everyone, the restoring technician included, is logged out and logs in again with an
account from the backup (the confirmation step lists its technicians).

**The running line service** is another process and keeps running on the same file. So
that it follows the restore without a restart:

- `rules_version` and `settings_version` are set one above the higher of the replaced
  and the restored value. The service compares its marker for inequality, so a counter
  that went down would also be noticed, but a backup whose counter happened to equal
  the live one would not; after the bump the service reloads the rules and the settings
  within a second.
- `service_state` and `line_status` (the service's process, heartbeat, flood mode and
  each line's live state) are kept from the replaced database: the backup's are stale.
- Console and line requests made after the backup (`desk_requests`, `line_requests`
  with ids above the backup's) are kept: they are the record of what was asked of the
  running service, and request ids keep rising, which the service relies on to tell a
  new request from one it has already handled.
- While the service runs, a backup whose call ids run past the live database's is
  refused: the service numbers new calls from its own memory and would overwrite them.

What the service keeps in memory (its history of recent calls for throttling, the abuse
ladder and flood detection; the SMS caps; the next call id) came from the replaced data,
so it watches for the `database_restored` event this restore writes, and stops within a
second of it (`appliance.service.LineService._notice_restore`); systemd starts it again
on the restored data. The confirmation page says so.

**Logs.** The newest `EVENTS_SHOWN` rows of `events`, filterable by kind, and, best effort,
the last lines of the journal of `siaga` and `siaga-web` (`JOURNAL_COMMAND`, a fixed
argument list: nothing the user sends reaches it), when `journalctl` exists and answers
within 2 s; otherwise the page says why there are none.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, PrivateAttr
from sqlite_utils import Database

from appliance import package_version
from appliance.migrations import MIGRATION_SET, apply_migrations, pending_migrations
from appliance.store import callbacks
from appliance.store.backup import backup_name, copy_database
from appliance.store.db import connect_writer
from appliance.store.events import add_event
from web_ui import audit
from web_ui import db as web_db
from web_ui.audit import Actor
from web_ui.dashboard import ServicePublic, service_status
from web_ui.i18n import translate
from web_ui.settings import WebSettings
from web_ui.users import Language, UserError

logger = logging.getLogger(__name__)

WEB_STARTED_TS = time.time()  # this module is loaded when the web process starts
MAX_RESTORE_BYTES = 2 * 1024**3  # the message `system.restore.too_large` says 2 GB
MULTIPART_SLACK_BYTES = 64 * 1024  # the form's other fields and boundaries
COPY_CHUNK_BYTES = 1024 * 1024
TEMP_MAX_AGE_S = 3600.0  # an upload not confirmed within an hour is removed
FREE_SPACE_MARGIN_BYTES = 64 * 1024 * 1024
UPLOAD_PREFIX = ".siaga-restore-"
BACKUP_PREFIX = ".siaga-backup-"
SAFETY_INFIX = ".before-restore-"
CONFIRM_WORD = "RESTORE"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
SQLITE_MAGIC = b"SQLite format 3\x00"
REQUIRED_TABLES: tuple[str, ...] = ("_migrations", "calls", "dispositions", "events", "rules")
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
# Rows the running line service owns that describe the present, not the data.
SERVICE_TABLES: tuple[str, ...] = ("service_state", "line_status")
REQUEST_TABLES: tuple[str, ...] = ("desk_requests", "line_requests")
COUNTER_TABLES: tuple[str, ...] = ("rules_version", "settings_version")
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


class RestoreError(UserError):
    """An upload that cannot be restored; `code` is a message key, `values` fill it in."""

    def __init__(self, code: str, status: int = 422, **values: object) -> None:
        super().__init__(code, status)
        self.values = values

    def message(self, language: Language) -> str:
        """The reason in the viewer's language."""
        return translate(language, self.code, **self.values)


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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def database_bytes(db_path: Path) -> tuple[int, int]:
    """(main file, write-ahead log) sizes in bytes."""
    return _size(db_path), _size(_sibling(db_path, "-wal"))


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows in each of the large tables (a fixed list: no name comes from a request)."""
    present = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    return {
        table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        for table in BIG_TABLES
        if table in present
    }


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
    return [str(row[0]) for row in conn.execute("SELECT DISTINCT kind FROM events ORDER BY kind")]


def recent_events(
    conn: sqlite3.Connection, zone: ZoneInfo, kind: str | None, limit: int = EVENTS_SHOWN
) -> list[EventPublic]:
    """The newest events, of one kind or all, newest first."""
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    rows = conn.execute(
        f"SELECT id, ts, kind, line, detail FROM events {where} ORDER BY ts DESC, id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
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


# ------------------------------------------------------------------ temporary files


def _folder(settings: WebSettings) -> Path:
    return settings.db_path.resolve().parent


def remove_with_siblings(path: Path) -> None:
    """Remove a database file and its `-wal`, `-shm` and `-journal` files, if there."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            _sibling(path, suffix).unlink()


def sweep_temporary_files(folder: Path, now_ts: float) -> int:
    """Remove uploads and backups older than an hour (a confirmation never came, a crash)."""
    removed = 0
    for prefix in (UPLOAD_PREFIX, BACKUP_PREFIX):
        for path in folder.glob(prefix + "*"):
            with contextlib.suppress(FileNotFoundError):
                if now_ts - path.stat().st_mtime > TEMP_MAX_AGE_S:
                    path.unlink()
                    removed += 1
    if removed:
        logger.info("removed %d stale temporary backup or restore file(s) in %s", removed, folder)
    return removed


def require_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed + FREE_SPACE_MARGIN_BYTES:
        raise RestoreError(
            "system.error.no_space",
            507,
            needed_mb=(needed + FREE_SPACE_MARGIN_BYTES) // 2**20,
            free_mb=free // 2**20,
        )


# ------------------------------------------------------------------ backup


@dataclass(frozen=True)
class BackupFile:
    """A finished backup waiting to be sent, and the name the browser saves it under."""

    path: Path
    download_name: str
    size: int


def make_backup(settings: WebSettings, now_ts: float) -> BackupFile:
    """A backup of the live database in a temporary file next to it (see the module doc)."""
    folder = _folder(settings)
    sweep_temporary_files(folder, now_ts)
    require_free_space(folder, sum(database_bytes(settings.db_path)))
    handle, name = tempfile.mkstemp(prefix=BACKUP_PREFIX, suffix=".db", dir=folder)
    os.close(handle)
    path = Path(name)
    try:
        copy_database(settings.db_path, path, busy_timeout_s=settings.busy_timeout_s)
    except BaseException:
        remove_with_siblings(path)
        raise
    return BackupFile(path, backup_name(now_ts, settings.zone), path.stat().st_size)


def open_for_sending(path: Path) -> BinaryIO:
    """Open the backup and unlink it at once: the open file still reads, nothing is left."""
    handle = path.open("rb")
    remove_with_siblings(path)
    return handle


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file in 1 MB pieces; closed when done (or when the download is abandoned)."""
    try:
        while chunk := handle.read(COPY_CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


# ------------------------------------------------------------------ restore: the upload


@dataclass(frozen=True)
class UploadSummary:
    """What a checked upload holds, for the confirmation step."""

    token: str
    size: int
    calls: int
    first_call_ts: float | None
    last_call_ts: float | None
    max_call_id: int
    users: int
    technicians: list[str]
    migrated: list[str]  # migrations applied to bring it to this version's schema


def upload_path(settings: WebSettings, token: str) -> Path:
    """Where the upload `token` is kept; a malformed token is refused (no path tricks)."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise RestoreError("system.restore.expired", 404)
    return _folder(settings) / f"{UPLOAD_PREFIX}{token}.db"


def start_upload(settings: WebSettings, *, expected_bytes: int) -> tuple[str, Path]:
    """A new, empty, owner-only file next to the database for an upload: (token, path).

    Refused at once when `expected_bytes` (the request's declared size, 0 when unknown)
    is over `MAX_RESTORE_BYTES` or more than the disk has free; the writer
    (`web_ui.restore_upload`) counts the bytes again as they arrive.
    """
    folder = _folder(settings)
    sweep_temporary_files(folder, time.time())
    if expected_bytes > MAX_RESTORE_BYTES + MULTIPART_SLACK_BYTES:
        raise RestoreError("system.restore.too_large", 413)
    require_free_space(folder, expected_bytes)
    token = secrets.token_urlsafe(18)
    path = upload_path(settings, token)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return token, path


@functools.cache
def known_migrations() -> frozenset[str]:
    """The names of every migration this version has."""
    return frozenset(pending_migrations(Database(memory=True, execute_plugins=False)))


SchemaObject = tuple[str, str, str, str]  # type, name, table, normalised SQL


@functools.cache
def reference_schema() -> frozenset[SchemaObject]:
    """Every table, index, trigger and view a new database of this version has, with its
    SQL (normalised): what a restored database must hold, exactly."""
    db = Database(memory=True, execute_plugins=False)
    apply_migrations(db)
    return frozenset(_schema_objects(db.conn))


def normalise_sql(sql: str | None) -> str:
    """A schema object's SQL with each run of blanks made one space (SQLite keeps the text
    as it was written); nothing else is changed, so any other difference is a change."""
    return " ".join((sql or "").split())


def _schema_objects(conn: sqlite3.Connection) -> set[SchemaObject]:
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    )
    return {
        (str(kind), str(name), str(table), normalise_sql(sql)) for kind, name, table, sql in rows
    }


def _check_header(path: Path) -> None:
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise RestoreError("system.restore.not_sqlite")


def _check_integrity(conn: sqlite3.Connection) -> None:
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise RestoreError("system.restore.damaged", problem=str(exc)) from None
    if [tuple(row) for row in rows] != [("ok",)]:
        raise RestoreError("system.restore.damaged", problem=str(rows[0][0]))


def _applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Siaga's migrations recorded in the database; refuses one that is not Siaga's."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise RestoreError("system.restore.not_siaga", missing=", ".join(missing))
    try:
        rows = conn.execute(
            "SELECT name FROM _migrations WHERE migration_set = ? ORDER BY rowid", [MIGRATION_SET]
        ).fetchall()
    except sqlite3.DatabaseError:
        raise RestoreError("system.restore.not_siaga", missing="_migrations") from None
    applied = [str(row[0]) for row in rows]
    if not applied:
        raise RestoreError("system.restore.not_siaga", missing="_migrations")
    return applied


def _check_known(applied: list[str]) -> None:
    unknown = [name for name in applied if name not in known_migrations()]
    if unknown:
        raise RestoreError("system.restore.newer", names=", ".join(unknown))


def _match_page_size(path: Path, page_size: int) -> None:
    """Rebuild the copy with the live database's page size: the backup API cannot change
    the page size of a database in WAL mode."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if int(conn.execute("PRAGMA page_size").fetchone()[0]) == page_size:
            return
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(f"PRAGMA page_size={int(page_size)}")
        conn.execute("VACUUM")
    finally:
        conn.close()


def _migrate(path: Path, busy_timeout_s: float) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        pending = pending_migrations(Database(conn, execute_plugins=False))
    finally:
        conn.close()
    try:
        connect_writer(path, busy_timeout_s=busy_timeout_s).close()
    except Exception as exc:  # a damaged schema a migration trips over
        raise RestoreError("system.restore.migration_failed", problem=str(exc)) from None
    return pending


def _check_schema(conn: sqlite3.Connection) -> None:
    """Refuse a database whose schema is not, object for object and SQL for SQL, the one
    this version makes: a changed trigger would run in the live database after the restore
    (an audit trigger made a no-op, a trigger that plants rules)."""
    found = _schema_objects(conn)
    odd = {(kind, name) for kind, name, _, _ in found ^ reference_schema()}
    if odd:
        names = ", ".join(f"{kind} {name}" for kind, name in sorted(odd)[:10])
        raise RestoreError("system.restore.unexpected_schema", names=names)


def _max_id(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"').fetchone()[0])


def summarize(path: Path, token: str, migrated: list[str]) -> UploadSummary:
    """What a checked upload holds: calls, their span, accounts."""
    conn = sqlite3.connect(path)
    try:
        calls, first, last = conn.execute(
            "SELECT count(*), min(started_ts), max(started_ts) FROM calls"
        ).fetchone()
        technicians = [
            str(row[0])
            for row in conn.execute(
                "SELECT username FROM users WHERE role = 'technician' AND disabled = 0"
                " ORDER BY username"
            )
        ]
        users = int(conn.execute("SELECT count(*) FROM users").fetchone()[0])
        max_call_id = _max_id(conn, "calls")
    finally:
        conn.close()
    return UploadSummary(
        token=token,
        size=_size(path),
        calls=int(calls),
        first_call_ts=first,
        last_call_ts=last,
        max_call_id=max_call_id,
        users=users,
        technicians=technicians,
        migrated=migrated,
    )


def _live_facts(settings: WebSettings) -> tuple[int, int]:
    """(page size, highest call id) of the live database."""
    conn = web_db.connect(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0]), _max_id(conn, "calls")
    finally:
        conn.close()


def _check_call_ids(summary: UploadSummary, live_max_call_id: int, service_running: bool) -> None:
    if service_running and summary.max_call_id > live_max_call_id:
        raise RestoreError(
            "system.restore.service_running",
            409,
            backup_id=summary.max_call_id,
            live_id=live_max_call_id,
        )


def inspect_upload(settings: WebSettings, token: str, *, service_running: bool) -> UploadSummary:
    """Check an upload and bring it to this version's schema; refused uploads are removed."""
    path = upload_path(settings, token)
    try:
        _check_header(path)
        conn = sqlite3.connect(path)
        try:
            _check_integrity(conn)
            _check_known(_applied_migrations(conn))
        finally:
            conn.close()
        page_size, live_max_call_id = _live_facts(settings)
        _match_page_size(path, page_size)
        migrated = _migrate(path, settings.busy_timeout_s)
        conn = sqlite3.connect(path)
        try:
            _check_schema(conn)
        finally:
            conn.close()
        summary = summarize(path, token, migrated)
        if not summary.technicians:
            raise RestoreError("system.restore.no_technician")
        _check_call_ids(summary, live_max_call_id, service_running)
    except BaseException:
        remove_with_siblings(path)
        raise
    logger.info(
        "restore upload %s checked: %d calls, %d bytes, migrated %s",
        token[:6], summary.calls, summary.size, summary.migrated or "none",
    )  # fmt: skip
    return summary


def checked_upload(settings: WebSettings, token: str, now_ts: float) -> Path:
    """The path of an upload still waiting for its confirmation (at most an hour old)."""
    path = upload_path(settings, token)
    try:
        age_s = now_ts - path.stat().st_mtime
    except FileNotFoundError:
        raise RestoreError("system.restore.expired", 404) from None
    if age_s > TEMP_MAX_AGE_S:
        remove_with_siblings(path)
        raise RestoreError("system.restore.expired", 404)
    return path


def discard_upload(settings: WebSettings, token: str) -> None:
    """Remove an upload that will not be restored."""
    with contextlib.suppress(RestoreError):
        remove_with_siblings(upload_path(settings, token))


# ------------------------------------------------------------------ restore: the swap


@dataclass(frozen=True)
class KeptRows:
    """What the replaced database hands on to the restored one (see the module doc)."""

    rows: dict[str, list[dict[str, Any]]]
    counters: dict[str, int]
    calls: int


@dataclass(frozen=True)
class RestoreOutcome:
    """A finished restore."""

    safety_copy: Path
    calls_before: int
    summary: UploadSummary


def safety_copy_path(db_path: Path, now_ts: float, zone: ZoneInfo) -> Path:
    """`<db>.before-restore-YYYYMMDD-HHMMSS` (site time), made unique if it exists."""
    base = f"{db_path.name}{SAFETY_INFIX}{_local(now_ts, zone):%Y%m%d-%H%M%S}"
    path = db_path.with_name(base)
    number = 2
    while path.exists():
        path = db_path.with_name(f"{base}-{number}")
        number += 1
    return path


def _rows(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    columns = [description[0] for description in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _keep(conn: sqlite3.Connection, restored_max_ids: dict[str, int]) -> KeptRows:
    rows = {table: _rows(conn, f'SELECT * FROM "{table}"', []) for table in SERVICE_TABLES}
    for table in REQUEST_TABLES:
        rows[table] = _rows(
            conn, f'SELECT * FROM "{table}" WHERE id > ? ORDER BY id', [restored_max_ids[table]]
        )
    counters = {
        table: int(conn.execute(f'SELECT version FROM "{table}" WHERE id = 1').fetchone()[0])
        for table in COUNTER_TABLES
    }
    calls = int(conn.execute("SELECT count(*) FROM calls").fetchone()[0])
    return KeptRows(rows=rows, counters=counters, calls=calls)


def _safety_copy_and_keep(
    settings: WebSettings, safety: Path, restored_max_ids: dict[str, int]
) -> KeptRows:
    """Under the write lock: the safety copy, and the rows the restored database keeps."""
    busy_s = settings.busy_timeout_s
    lock = web_db.connect(settings.db_path, busy_timeout_s=busy_s)
    try:
        lock.execute("BEGIN IMMEDIATE")  # nobody writes until the copy is made
        try:
            copy_database(settings.db_path, safety, busy_timeout_s=busy_s)
            os.chmod(safety, 0o600)  # it holds password hashes
            reader = web_db.connect(settings.db_path, busy_timeout_s=busy_s)
            try:
                return _keep(reader, restored_max_ids)
            finally:
                reader.close()
        finally:
            lock.execute("ROLLBACK")
    finally:
        lock.close()


def _copy_into_live(upload: Path, settings: WebSettings) -> None:
    source = sqlite3.connect(upload, timeout=settings.busy_timeout_s)
    try:
        live = sqlite3.connect(settings.db_path, timeout=settings.busy_timeout_s)
        try:
            source.backup(live)  # other connections see the old or the new, never a mix
        finally:
            live.close()
    finally:
        source.close()


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" * len(row))
    conn.execute(
        f'INSERT OR REPLACE INTO "{table}" ({columns}) VALUES ({marks})', list(row.values())
    )


def _hand_on(conn: sqlite3.Connection, kept: KeptRows) -> None:
    """Put back the running service's rows and push the change counters past both values."""
    for table in SERVICE_TABLES:
        conn.execute(f'DELETE FROM "{table}"')
    for table, rows in kept.rows.items():
        for row in rows:
            _insert(conn, table, row)
    for table, before in kept.counters.items():
        restored = int(conn.execute(f'SELECT version FROM "{table}" WHERE id = 1').fetchone()[0])
        conn.execute(f'UPDATE "{table}" SET version = ? WHERE id = 1', [max(before, restored) + 1])


def _record_restore(
    conn: sqlite3.Connection,
    actor: Actor,
    outcome: RestoreOutcome,
    zone: ZoneInfo,
    now_ts: float,
) -> None:
    summary = outcome.summary
    after = {
        "calls": summary.calls,
        "users": summary.users,
        "bytes": summary.size,
        "migrated": summary.migrated,
        "safety_copy": outcome.safety_copy.name,
    }
    add_event(conn, "database_restored", now_ts, zone, detail={"by": actor.name, **after})
    audit.record(
        conn,
        actor,
        "system.restore",
        target=outcome.safety_copy.name,
        before={"calls": outcome.calls_before},
        after=after,
        zone=zone,
        now_ts=now_ts,
    )


def restore(
    settings: WebSettings, token: str, actor: Actor, *, now_ts: float, service_running: bool
) -> RestoreOutcome:
    """Replace the live database with a checked upload (see the module doc for each step)."""
    path = checked_upload(settings, token, now_ts)
    summary = summarize(path, token, [])
    _, live_max_call_id = _live_facts(settings)
    _check_call_ids(summary, live_max_call_id, service_running)
    require_free_space(_folder(settings), sum(database_bytes(settings.db_path)) + summary.size)
    conn = sqlite3.connect(path)
    try:
        _check_known(_applied_migrations(conn))
        restored_max_ids = {table: _max_id(conn, table) for table in REQUEST_TABLES}
    finally:
        conn.close()
    safety = safety_copy_path(settings.db_path, now_ts, settings.zone)
    try:
        kept = _safety_copy_and_keep(settings, safety, restored_max_ids)
    except sqlite3.OperationalError as exc:  # the write lock did not come within the timeout
        remove_with_siblings(safety)
        logger.warning("restore: no safety copy, the database is busy: %s", exc)
        raise RestoreError("system.error.busy", 503) from None
    logger.warning("restore by %s: safety copy of the database in %s", actor.name, safety)
    _copy_into_live(path, settings)
    outcome = RestoreOutcome(safety_copy=safety, calls_before=kept.calls, summary=summary)
    live = web_db.connect(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        with web_db.transaction(live):
            _hand_on(live, kept)
            live.execute("DELETE FROM web_sessions")  # everyone logs in again
            _record_restore(live, actor, outcome, settings.zone, now_ts)
        # The copy went through the write-ahead log: give its disk space back now.
        live.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        live.close()
    remove_with_siblings(path)
    logger.warning(
        "database restored by %s: %d calls now (%d before); every session ended",
        actor.name, summary.calls, kept.calls,
    )  # fmt: skip
    return outcome


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
