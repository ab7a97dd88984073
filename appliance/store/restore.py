"""Backup and restore of the whole database, for the web UI's system page and the CLI.

The functions take the database as a `DatabaseFile` (its path, the busy timeout, the
site's time zone) and refuse with `RestoreRefused`, whose `code` is a key of the web UI's
message catalogue (`system.restore.*`, `system.error.*`) and whose `values` fill it in:
the web UI shows it in the viewer's language, `siaga restore` in English. Who restored the
database is the caller's to record (`restore(..., audit=...)`), in the same transaction.

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

**Restore** is two steps. The caller streams the upload to a temporary file next to the
database made by `start_upload` (at most `MAX_RESTORE_BYTES`, 2 GB: the web UI counts the
bytes while it reads them, after the login check, and refuses a larger `Content-Length`
before the body is read; `siaga restore` copies a file) and `inspect_upload` checks it before
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
- Ids already given out are not given again. The site's other boxes and the hub keep
  each call, call-back entry, verdict and event once by its id (a call's id, an entry's
  id, the outbox's number), so a new call numbered again from an older backup's last id
  would be dropped there as one already held. The replaced database's highest call and
  entry ids go to `id_floors`, above which the call log and the call-back list number
  new rows, and the outbox's `sqlite_sequence` goes on from the higher of the two.

What the service keeps in memory (its history of recent calls for throttling, the abuse
ladder and flood detection; the SMS caps; the next call id) came from the replaced data,
so it watches for the `database_restored` event this restore writes, and stops within a
second of it (`appliance.service.LineService._notice_restore`); systemd starts it again
on the restored data. The confirmation page says so.
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
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.migrations import MIGRATION_SET, apply_migrations, pending_migrations
from appliance.store._sqlite import highest_id_sql
from appliance.store.backup import backup_name, copy_database
from appliance.store.db import connect_writer, immediate_connection
from appliance.store.events import add_event

logger = logging.getLogger(__name__)

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
# Rows the running line service owns that describe the present, not the data.
SERVICE_TABLES: tuple[str, ...] = ("service_state", "line_status")
REQUEST_TABLES: tuple[str, ...] = ("desk_requests", "line_requests")
COUNTER_TABLES: tuple[str, ...] = ("rules_version", "settings_version")
# Tables whose ids the site's other boxes and the hub know rows by (`_keep_id_floors`).
ID_FLOOR_TABLES: tuple[str, ...] = ("calls", "callbacks")


class DatabaseFile(Protocol):
    """The live database as these functions need it (the web UI's settings are one)."""

    @property
    def db_path(self) -> Path: ...

    @property
    def busy_timeout_s(self) -> float: ...

    @property
    def zone(self) -> ZoneInfo: ...


class RestoreRefused(ValueError):
    """A backup or an upload that cannot be made or restored; nothing was changed.

    `code` is a message key, `values` fill it in, `status` is the HTTP status the web UI
    answers with."""

    def __init__(self, code: str, status: int = 422, **values: object) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.values = values


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


def _connect(path: Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection that waits for the lock and commits durably (as the call log does)."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


# ------------------------------------------------------------------ temporary files


def _folder(database: DatabaseFile) -> Path:
    return database.db_path.resolve().parent


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
        raise RestoreRefused(
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


def make_backup(database: DatabaseFile, now_ts: float) -> BackupFile:
    """A backup of the live database in a temporary file next to it (see the module doc)."""
    folder = _folder(database)
    sweep_temporary_files(folder, now_ts)
    require_free_space(folder, sum(database_bytes(database.db_path)))
    handle, name = tempfile.mkstemp(prefix=BACKUP_PREFIX, suffix=".db", dir=folder)
    os.close(handle)
    path = Path(name)
    try:
        copy_database(database.db_path, path, busy_timeout_s=database.busy_timeout_s)
    except BaseException:
        remove_with_siblings(path)
        raise
    return BackupFile(path, backup_name(now_ts, database.zone), path.stat().st_size)


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


def upload_path(database: DatabaseFile, token: str) -> Path:
    """Where the upload `token` is kept; a malformed token is refused (no path tricks)."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise RestoreRefused("system.restore.expired", 404)
    return _folder(database) / f"{UPLOAD_PREFIX}{token}.db"


def start_upload(database: DatabaseFile, *, expected_bytes: int) -> tuple[str, Path]:
    """A new, empty, owner-only file next to the database for an upload: (token, path).

    Refused at once when `expected_bytes` (the request's declared size, 0 when unknown)
    is over `MAX_RESTORE_BYTES` or more than the disk has free; the writer
    (`web_ui.system.restore_upload`) counts the bytes again as they arrive.
    """
    folder = _folder(database)
    sweep_temporary_files(folder, time.time())
    if expected_bytes > MAX_RESTORE_BYTES + MULTIPART_SLACK_BYTES:
        raise RestoreRefused("system.restore.too_large", 413)
    require_free_space(folder, expected_bytes)
    token = secrets.token_urlsafe(18)
    path = upload_path(database, token)
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
            raise RestoreRefused("system.restore.not_sqlite")


def _check_integrity(conn: sqlite3.Connection) -> None:
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise RestoreRefused("system.restore.damaged", problem=str(exc)) from None
    if [tuple(row) for row in rows] != [("ok",)]:
        raise RestoreRefused("system.restore.damaged", problem=str(rows[0][0]))


def _applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Siaga's migrations recorded in the database; refuses one that is not Siaga's."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise RestoreRefused("system.restore.not_siaga", missing=", ".join(missing))
    try:
        rows = conn.execute(
            "SELECT name FROM _migrations WHERE migration_set = ? ORDER BY rowid", [MIGRATION_SET]
        ).fetchall()
    except sqlite3.DatabaseError:
        raise RestoreRefused("system.restore.not_siaga", missing="_migrations") from None
    applied = [str(row[0]) for row in rows]
    if not applied:
        raise RestoreRefused("system.restore.not_siaga", missing="_migrations")
    return applied


def _check_known(applied: list[str]) -> None:
    unknown = [name for name in applied if name not in known_migrations()]
    if unknown:
        raise RestoreRefused("system.restore.newer", names=", ".join(unknown))


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
        raise RestoreRefused("system.restore.migration_failed", problem=str(exc)) from None
    return pending


def _check_schema(conn: sqlite3.Connection) -> None:
    """Refuse a database whose schema is not, object for object and SQL for SQL, the one
    this version makes: a changed trigger would run in the live database after the restore
    (an audit trigger made a no-op, a trigger that plants rules)."""
    found = _schema_objects(conn)
    odd = {(kind, name) for kind, name, _, _ in found ^ reference_schema()}
    if odd:
        names = ", ".join(f"{kind} {name}" for kind, name in sorted(odd)[:10])
        raise RestoreRefused("system.restore.unexpected_schema", names=names)


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


def _live_facts(database: DatabaseFile) -> tuple[int, int]:
    """(page size, highest call id) of the live database."""
    conn = _connect(database.db_path, busy_timeout_s=database.busy_timeout_s)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0]), _max_id(conn, "calls")
    finally:
        conn.close()


def _check_call_ids(summary: UploadSummary, live_max_call_id: int, service_running: bool) -> None:
    if service_running and summary.max_call_id > live_max_call_id:
        raise RestoreRefused(
            "system.restore.service_running",
            409,
            backup_id=summary.max_call_id,
            live_id=live_max_call_id,
        )


def inspect_upload(database: DatabaseFile, token: str, *, service_running: bool) -> UploadSummary:
    """Check an upload and bring it to this version's schema; refused uploads are removed."""
    path = upload_path(database, token)
    try:
        _check_header(path)
        conn = sqlite3.connect(path)
        try:
            _check_integrity(conn)
            _check_known(_applied_migrations(conn))
        finally:
            conn.close()
        page_size, live_max_call_id = _live_facts(database)
        _match_page_size(path, page_size)
        migrated = _migrate(path, database.busy_timeout_s)
        conn = sqlite3.connect(path)
        try:
            _check_schema(conn)
        finally:
            conn.close()
        summary = summarize(path, token, migrated)
        if not summary.technicians:
            raise RestoreRefused("system.restore.no_technician")
        _check_call_ids(summary, live_max_call_id, service_running)
    except BaseException:
        remove_with_siblings(path)
        raise
    logger.info(
        "restore upload %s checked: %d calls, %d bytes, migrated %s",
        token[:6], summary.calls, summary.size, summary.migrated or "none",
    )  # fmt: skip
    return summary


def checked_upload(database: DatabaseFile, token: str, now_ts: float) -> Path:
    """The path of an upload still waiting for its confirmation (at most an hour old)."""
    path = upload_path(database, token)
    try:
        age_s = now_ts - path.stat().st_mtime
    except FileNotFoundError:
        raise RestoreRefused("system.restore.expired", 404) from None
    if age_s > TEMP_MAX_AGE_S:
        remove_with_siblings(path)
        raise RestoreRefused("system.restore.expired", 404)
    return path


def discard_upload(database: DatabaseFile, token: str) -> None:
    """Remove an upload that will not be restored."""
    with contextlib.suppress(RestoreRefused):
        remove_with_siblings(upload_path(database, token))


# ------------------------------------------------------------------ restore: the swap


@dataclass(frozen=True)
class KeptRows:
    """What the replaced database hands on to the restored one (see the module doc)."""

    rows: dict[str, list[dict[str, Any]]]
    counters: dict[str, int]
    calls: int
    id_floors: dict[str, int]  # per table of `ID_FLOOR_TABLES`, the highest id it gave out
    outbox_seq: int  # the highest outbox id it gave out (0: none)


@dataclass(frozen=True)
class RestoreOutcome:
    """A finished restore."""

    safety_copy: Path
    calls_before: int
    summary: UploadSummary


RestoreAudit = Callable[[sqlite3.Connection, RestoreOutcome], None]


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
    return KeptRows(
        rows=rows,
        counters=counters,
        calls=calls,
        id_floors={
            table: int(conn.execute(highest_id_sql(table)).fetchone()[0])
            for table in ID_FLOOR_TABLES
        },
        outbox_seq=_outbox_seq(conn),
    )


def _outbox_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    return 0 if row is None else int(row[0])


def _safety_copy_and_keep(
    database: DatabaseFile, safety: Path, restored_max_ids: dict[str, int]
) -> KeptRows:
    """Under the write lock: the safety copy, and the rows the restored database keeps."""
    busy_s = database.busy_timeout_s
    lock = _connect(database.db_path, busy_timeout_s=busy_s)
    try:
        lock.execute("BEGIN IMMEDIATE")  # nobody writes until the copy is made
        try:
            copy_database(database.db_path, safety, busy_timeout_s=busy_s)
            os.chmod(safety, 0o600)  # it holds password hashes
            reader = _connect(database.db_path, busy_timeout_s=busy_s)
            try:
                return _keep(reader, restored_max_ids)
            finally:
                reader.close()
        finally:
            lock.execute("ROLLBACK")
    finally:
        lock.close()


def _copy_into_live(upload: Path, database: DatabaseFile) -> None:
    source = sqlite3.connect(upload, timeout=database.busy_timeout_s)
    try:
        live = sqlite3.connect(database.db_path, timeout=database.busy_timeout_s)
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
    """Put back the running service's rows, push the change counters past both values,
    and keep the next call id and outbox id above those the replaced database gave out."""
    for table in SERVICE_TABLES:
        conn.execute(f'DELETE FROM "{table}"')
    for table, rows in kept.rows.items():
        for row in rows:
            _insert(conn, table, row)
    for table, before in kept.counters.items():
        restored = int(conn.execute(f'SELECT version FROM "{table}" WHERE id = 1').fetchone()[0])
        conn.execute(f'UPDATE "{table}" SET version = ? WHERE id = 1', [max(before, restored) + 1])
    _keep_id_floors(conn, kept)


def _keep_id_floors(conn: sqlite3.Connection, kept: KeptRows) -> None:
    """The ids the replaced database published (to the site's other boxes and the hub,
    which keep each call, verdict and event once by its id) are never given again: the
    call log numbers new calls, and the call-back list new entries, above `id_floors`,
    and the outbox's AUTOINCREMENT goes on
    from its `sqlite_sequence`."""
    for table, floor in kept.id_floors.items():
        conn.execute(
            "INSERT INTO id_floors (name, floor) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET floor = max(floor, excluded.floor)",
            [table, floor],
        )
    if kept.outbox_seq > _outbox_seq(conn):
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", [kept.outbox_seq]
        )


def _record_restore(
    conn: sqlite3.Connection,
    outcome: RestoreOutcome,
    by: str,
    zone: ZoneInfo,
    now_ts: float,
) -> None:
    """The `database_restored` event, in the restored database."""
    summary = outcome.summary
    detail = {
        "by": by,
        "calls": summary.calls,
        "users": summary.users,
        "bytes": summary.size,
        "migrated": summary.migrated,
        "safety_copy": outcome.safety_copy.name,
    }
    add_event(conn, "database_restored", now_ts, zone, detail=detail)


def restore(
    database: DatabaseFile,
    token: str,
    *,
    by: str,
    audit: RestoreAudit,
    now_ts: float,
    service_running: bool,
) -> RestoreOutcome:
    """Replace the live database with a checked upload (see the module doc for each step).

    `by` names who restored it (in the `database_restored` event); `audit` writes the
    caller's audit row in the restored database, inside the transaction that hands the
    running service's rows on."""
    path = checked_upload(database, token, now_ts)
    summary = summarize(path, token, [])
    _, live_max_call_id = _live_facts(database)
    _check_call_ids(summary, live_max_call_id, service_running)
    require_free_space(_folder(database), sum(database_bytes(database.db_path)) + summary.size)
    conn = sqlite3.connect(path)
    try:
        _check_known(_applied_migrations(conn))
        restored_max_ids = {table: _max_id(conn, table) for table in REQUEST_TABLES}
    finally:
        conn.close()
    safety = safety_copy_path(database.db_path, now_ts, database.zone)
    try:
        kept = _safety_copy_and_keep(database, safety, restored_max_ids)
    except sqlite3.OperationalError as exc:  # the write lock did not come within the timeout
        remove_with_siblings(safety)
        logger.warning("restore: no safety copy, the database is busy: %s", exc)
        raise RestoreRefused("system.error.busy", 503) from None
    logger.warning("restore by %s: safety copy of the database in %s", by, safety)
    _copy_into_live(path, database)
    outcome = RestoreOutcome(safety_copy=safety, calls_before=kept.calls, summary=summary)
    live = _connect(database.db_path, busy_timeout_s=database.busy_timeout_s)
    try:
        with immediate_connection(live):
            _hand_on(live, kept)
            live.execute("DELETE FROM web_sessions")  # everyone logs in again
            _record_restore(live, outcome, by, database.zone, now_ts)
            audit(live, outcome)
        # The copy went through the write-ahead log: give its disk space back now.
        live.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        live.close()
    remove_with_siblings(path)
    logger.warning(
        "database restored by %s: %d calls now (%d before); every session ended",
        by, summary.calls, kept.calls,
    )  # fmt: skip
    return outcome
