"""The call log: one durable row per call, written off the call path by a single thread.

Lines never wait for the database. They take a call id from memory (`new_call_id`), hand
field updates to `call_started` / `call_updated`, and go on; a writer thread drains the
queue and commits. Nothing here raises into a line: a locked, full or broken database is
logged, exposed in `stats`, and retried, while calls carry on (fail open, R3).

Durability, as implemented and tested: the writer wakes on the first queued item, takes
everything queued (up to `_BATCH_MAX` items), writes it in ONE transaction and commits
(group commit). With WAL and synchronous=FULL a commit is on disk when it returns. So once
`flush()` returns True, every item enqueued before the call survives kill -9 and power
loss; without a flush an item is committed one fsync (a few ms) after it is enqueued, as
long as the database is writable. Calls still in flight when the process dies are marked
`interrupted` at the next `open()`; one of them that still rings when the restarted line
hears it is finished in the same row (`claim_interrupted_call`), not given a second one.
The line commits a call's first row before it carries the decision out (appliance/line.py,
`ROW_BEFORE_ACTION_MAX_S`), so a call that was acted on always has its row.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.store._sqlite import (
    DEFAULT_BUSY_TIMEOUT_S,
    connect_writer,
    highest_id_sql,
    immediate,
    is_transient,
    iso_at,
    open_readonly,
)
from appliance.store.callbacks import (
    CallbackRelease,
    callback_release,
    close_reached,
    upsert_release,
)
from appliance.store.events import add_event, last_written_events
from appliance.store.queries import read_history

logger = logging.getLogger(__name__)

# `*_ts` (POSIX seconds, given by callers) -> the ISO 8601 twin the store fills in.
TS_TWINS: dict[str, str] = {
    "started_ts": "started_at",
    "operator_ts": "operator_at",
    "ended_ts": "ended_at",
    "disposition_ts": "disposition_at",
    "challenge_ts": "challenge_at",
}

# Columns of `line_status` (migration 0007) the service may set; others are ignored.
_LINE_STATUS_COLUMNS = frozenset(
    {
        "state", "since_ts", "call_id", "caller_raw", "caller", "number_class", "decision",
        "reason", "rule", "challenge_result", "voice_heard", "unverified", "waiting_since_ts",
        "operator", "desk", "family", "model", "imei", "signal", "registration", "last_error",
        "degraded",
    }
)  # fmt: skip

# Columns of `service_state` (migration 0013) the service may set; others are ignored.
_SERVICE_STATE_COLUMNS = frozenset(
    {
        "pid", "pid_namespace", "version", "started_ts", "base_config", "flood_active",
        "flood_since_ts", "flood_reason", "heartbeat_ts",
    }
)  # fmt: skip


def _plain(value: Any) -> Any:
    """Enum members as their values, bools as 0/1, for SQLite."""
    if isinstance(value, bool):
        return int(value)
    return getattr(value, "value", value)


# Items per transaction: large enough to keep up with a flood, small enough that one
# transaction never holds the write lock for long against the CLI's rule writes.
_BATCH_MAX = 500
_RETRY_FIRST_S = 0.05


@dataclass(frozen=True, slots=True)
class CallLogStats:
    """A snapshot of the writer's health, for the status page and the alarm logic."""

    rows_written: int  # rows inserted or updated, all tables
    commits: int
    queue_depth: int  # items enqueued and not yet committed or dropped
    dropped: int  # items given up: unwritable data (logged) or the queue at capacity
    failing: bool  # True from a failed write until the next successful commit
    last_error: str | None  # the most recent write error, kept after recovery


@dataclass(frozen=True, slots=True)
class _CallWrite:
    call_id: int
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _DispositionWrite:
    call_id: int
    disposition: str
    operator: str | None
    ts: float


@dataclass(frozen=True, slots=True)
class _EventWrite:
    kind: str
    line: str | None
    detail: dict[str, Any] | None
    ts: float


@dataclass(frozen=True, slots=True)
class _LineStatusWrite:
    line: str
    fields: dict[str, Any]
    ts: float


@dataclass(frozen=True, slots=True)
class _LineStatusForget:
    line: str


@dataclass(frozen=True, slots=True)
class _DeskRequestDone:
    request_id: int
    result: str
    ts: float


@dataclass(frozen=True, slots=True)
class _LineRequestDone:
    request_id: int
    result: str
    answer: str | None
    ts: float


@dataclass(frozen=True, slots=True)
class _ServiceStateWrite:
    fields: dict[str, Any]
    ts: float


@dataclass(frozen=True, slots=True)
class _SmsWrite:
    sms_id: str
    fields: dict[str, Any]


# The report figures of one month from its call rows: (connection, "YYYY-MM", from_ts,
# to_ts) -> {column: value}. The report layer computes them (`appliance.report`); the call
# log only keeps them, so it is handed the function rather than importing that layer.
MonthFigures = Callable[[sqlite3.Connection, str, float, float], Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class _ArchiveMonth:
    month: str  # "YYYY-MM", local
    from_ts: float
    to_ts: float
    ts: float
    figures: MonthFigures


_Item = (
    _CallWrite
    | _DispositionWrite
    | _EventWrite
    | _LineStatusWrite
    | _LineStatusForget
    | _DeskRequestDone
    | _LineRequestDone
    | _ServiceStateWrite
    | _SmsWrite
    | _ArchiveMonth
    | CallbackRelease
)


# The longest a call rings before the network gives up (no-reply timers are 30-180 s):
# a call left in flight by the last run is taken over only this soon after it started.
RESUME_WINDOW_S = 180.0


@dataclass(frozen=True, slots=True)
class InterruptedCall:
    """A call the last run left in flight before an operator took it: it may still ring."""

    call_id: int
    line: str
    caller_raw: str | None
    started_ts: float


class CallLogBusyError(RuntimeError):
    """Another process already writes this call log (ids would collide)."""


class CallLog:
    """The appliance service's single writer for calls, dispositions and events.

    `open()` before use and `close()` at shutdown. Enqueueing methods may be called from
    any thread; they take a short in-memory lock and never touch the database.
    """

    def __init__(
        self,
        path: Path,
        *,
        timezone: str = "Asia/Jakarta",
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        retry_max_s: float = 2.0,
        max_queue: int = 100_000,
        close_timeout_s: float = 10.0,
    ) -> None:
        """`max_queue` bounds memory while the database is unwritable (about 1 kB an item)."""
        self.path = Path(path)
        self.time_trusted: bool | None = None  # is the system clock right? (appliance.timesync)
        self._zone = ZoneInfo(timezone)
        self._busy_timeout_s = busy_timeout_s
        self._retry_max_s = retry_max_s
        self._max_queue = max_queue
        self._close_timeout_s = close_timeout_s

        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)  # the writer waits here
        self._progress = threading.Condition(self._lock)  # flush() waits here
        self._pending: deque[_Item] = deque()
        self._enqueued = 0  # items ever accepted
        self._finished = 0  # items ever committed or dropped, in queue order
        self._commit_waiters: list[tuple[int, Future[None]]] = []  # (target, future)
        self._stopping = False
        self._abort = threading.Event()  # close() gave up waiting: stop retrying

        self._db: Database | None = None
        self._lock_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._call_columns: frozenset[str] = frozenset()
        self._last_id = 0
        self._state = "new"  # new -> open -> closed (-> open again)
        self._warned_keys: set[str] = set()
        # Calls the last run left in flight that may still ring (no operator took them):
        # a line that finds one ringing takes it over in its row (`claim_interrupted_call`).
        self._resumable: list[InterruptedCall] = []

        self._rows_written = 0
        self._commits = 0
        self._dropped = 0
        self._failing = False
        self._failures_in_row = 0
        self._last_error: str | None = None

    # ----------------------------------------------------------------- lifecycle

    def open(self, *, now_ts: float | None = None) -> None:
        """Open (creating if needed), migrate, close out the last run, start the writer.

        `now_ts` stamps the `interrupted_calls` event (default: the system clock).
        Raises `CallLogBusyError` if another process has it open, and `sqlite3.Error` /
        `OSError` if it cannot be opened at all. The service then runs without a log (fail
        open: `new_call_id` still works, writes are dropped and counted) and raises an alarm.
        """
        if self._state == "open":
            logger.warning("call log %s is already open", self.path)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock_writer(self.path)
        try:
            db = connect_writer(self.path, busy_timeout_s=self._busy_timeout_s)
            try:
                max_id = self._prepare(db, time.time() if now_ts is None else now_ts)
            except BaseException:
                db.close()
                raise
        except BaseException:
            os.close(lock_fd)
            raise
        self._lock_fd = lock_fd
        with self._lock:
            self._last_id = max(self._last_id, max_id)
            self._db = db
            self._state = "open"
            self._stopping = False
            self._abort.clear()
        self._thread = threading.Thread(target=self._run, name="calllog-writer", daemon=True)
        self._thread.start()
        logger.info("call log %s open (next call id %d)", self.path, self._last_id + 1)

    def _prepare(self, db: Database, now_ts: float) -> int:
        """Learn the columns, close out the previous run; return the highest call id given
        out: in the table, or before a restore replaced it (`id_floors`)."""
        self._call_columns = frozenset(db.table("calls").columns_dict) - {"id"}
        self._mark_interrupted(db, now_ts)
        return int(db.execute(highest_id_sql("calls")).fetchone()[0])

    def close(self) -> None:
        """Write everything queued, stop the writer and close the database. Idempotent.

        Waits up to `close_timeout_s` for a failing database; what is still queued after
        that is logged as lost.
        """
        thread = self._thread
        if thread is None:
            return
        with self._lock:
            self._state = "closed"
            self._stopping = True
            self._has_work.notify_all()
        thread.join(self._close_timeout_s)
        if thread.is_alive():
            self._abort.set()
            thread.join()
        with self._lock:
            lost = len(self._pending)
            self._pending.clear()
            self._dropped += lost
            self._finished += lost
            self._progress.notify_all()
            self._resolve_commit_waiters()
        if lost:
            logger.error("call log closed with %d queued writes lost: %s", lost, self._last_error)
        if self._db is not None:
            self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the writer lock
        self._db = None
        self._lock_fd = None
        self._thread = None
        logger.info("call log %s closed", self.path)

    # ------------------------------------------------------------- for the lines

    def new_call_id(self) -> int:
        """A fresh call id, from memory: the line never waits for the database.

        Works even if `open()` failed (the calls go on unlogged); ids handed out then are
        never written, and a later `open()` continues above both them and the table.
        """
        with self._lock:
            self._last_id += 1
            return self._last_id

    def claim_interrupted_call(
        self, line: str, caller_raw: str | None, now_ts: float
    ) -> InterruptedCall | None:
        """The call the last run left in flight on `line` from `caller_raw`, if it started
        at most `RESUME_WINDOW_S` ago and nobody claimed it yet: a call that rang on
        through a restart of the service, to be finished in its own row rather than get a
        second one. Claimed once; None when there is no such call."""
        with self._lock:
            for index, found in enumerate(self._resumable):
                recent = 0.0 <= now_ts - found.started_ts <= RESUME_WINDOW_S
                if found.line == line and found.caller_raw == caller_raw and recent:
                    return self._resumable.pop(index)
        return None

    def call_started(self, call_id: int, fields: Mapping[str, Any]) -> None:
        """Queue the first row of a call. Never blocks, never raises.

        The row carries `time_trusted` when the owner keeps `self.time_trusted` up to date
        (None: the clock's state is unknown, and the column keeps its default, 1).
        """
        trusted = self.time_trusted
        extra = {} if trusted is None else {"time_trusted": int(trusted)}
        self._submit(lambda: _CallWrite(call_id, {**fields, **extra}))

    def call_updated(self, call_id: int, fields: Mapping[str, Any]) -> None:
        """Queue changed columns of a call (`*_ts` keys get their `*_at` twin). Never raises."""
        self._submit(lambda: _CallWrite(call_id, dict(fields)))

    def record_disposition(
        self, call_id: int, disposition: str, operator: str | None, ts: float
    ) -> None:
        """Queue an operator's verdict: appended to `dispositions`, latest one in `calls`."""
        self._submit(lambda: _DispositionWrite(call_id, str(disposition), operator, ts))

    def add_event(
        self,
        kind: str,
        *,
        line: str | None = None,
        detail: Mapping[str, Any] | None = None,
        ts: float,
    ) -> None:
        """Queue an appliance event (line_up, flood_on, alarm, ...). Never raises."""
        self._submit(lambda: _EventWrite(str(kind), line, dict(detail or {}), ts))

    def set_line_status(self, line: str, fields: Mapping[str, Any], ts: float) -> None:
        """Queue a line's live status (`line_status`, read by the operator console): the
        row is replaced, so `fields` must hold every column worth keeping. Never raises."""
        self._submit(lambda: _LineStatusWrite(str(line), dict(fields), ts))

    def forget_line_status(self, line: str) -> None:
        """Queue the removal of a line's `line_status` row (the line is no longer
        configured, so no console shows it). Never raises."""
        self._submit(lambda: _LineStatusForget(str(line)))

    def desk_request_done(self, request_id: int, result: str, ts: float) -> None:
        """Queue the outcome of a console request (`desk_requests.result`). Never raises."""
        self._submit(lambda: _DeskRequestDone(int(request_id), str(result), ts))

    def line_request_done(
        self, request_id: int, result: str, answer: str | None, ts: float
    ) -> None:
        """Queue the outcome of a technician's line request (`line_requests.result` and
        `answer`, the modem's reply lines). Never raises."""
        self._submit(
            lambda: _LineRequestDone(
                int(request_id), str(result), None if answer is None else str(answer), ts
            )
        )

    def set_service_state(self, fields: Mapping[str, Any], ts: float) -> None:
        """Queue changes to the service's own row (`service_state`, read by the web UI's
        dashboard and system pages): only the columns in `fields` change. Never raises."""
        self._submit(lambda: _ServiceStateWrite(dict(fields), ts))

    def archive_month(
        self, month: str, from_ts: float, to_ts: float, ts: float, figures: MonthFigures
    ) -> None:
        """Queue the retention of one local month: its report figures (computed by
        `figures` in the same transaction) go to `monthly_figures` and its call rows (with
        their dispositions) are deleted, in one transaction. Figures already archived for
        the month are added to."""
        self._submit(lambda: _ArchiveMonth(month, from_ts, to_ts, ts, figures))

    def add_callback(
        self,
        *,
        caller: str,
        caller_raw: str | None,
        line: str | None,
        call_id: int | None,
        reason: str,
        detail: Mapping[str, Any],
        ts: float,
    ) -> None:
        """Queue a caller released without an operator for the call-back list (`callbacks`,
        `appliance.store.callbacks`): a new open entry, or one attempt more on the caller's
        open entry. A caller with no E.164 number cannot be called back: logged, not
        listed. Never raises."""
        try:
            release = callback_release(
                caller=caller,
                caller_raw=caller_raw,
                line=line,
                call_id=call_id,
                reason=reason,
                detail=detail,
                ts=ts,
            )
        except ValueError as exc:  # no number to call, or not a reason word
            logger.info("call-back not listed (as given %r): %s", caller_raw, exc)
            return
        self._submit(lambda: release)

    def sms_saved(self, sms_id: str, fields: Mapping[str, Any]) -> None:
        """Queue an `sms_outbox` row's columns (insert or update; `*_ts` get `*_at`)."""
        self._submit(lambda: _SmsWrite(str(sms_id), dict(fields)))

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything enqueued so far is committed (or dropped and logged).

        Returns False on timeout, e.g. while the database is locked or the disk is full.
        """
        with self._lock:
            target = self._enqueued
            return self._progress.wait_for(lambda: self._finished >= target, timeout_s)

    def when_committed(self) -> Future[None]:
        """A future resolved once everything enqueued so far is committed (or dropped).

        It lets an asyncio caller (`asyncio.wrap_future`) learn that a call's row is on disk
        without blocking the event loop: the lines tell the operator desks that a call
        ended only then, so a call anyone saw end survives a kill -9.
        """
        future: Future[None] = Future()
        with self._lock:
            if self._finished >= self._enqueued:
                future.set_result(None)
            else:
                self._commit_waiters.append((self._enqueued, future))
        return future

    @property
    def commit_waiters(self) -> int:
        """How many `when_committed` futures are still pending."""
        with self._lock:
            return len(self._commit_waiters)

    # ------------------------------------------------------------------ reading

    def history_since(self, ts: float) -> Iterator[dict[str, Any]]:
        """Committed calls that started at or after `ts`, ordered by started_ts.

        For the policy's replay at start-up: dicts keyed as the policy's `HistoryRow`
        fields (see `queries.HISTORY_COLUMNS`), times in POSIX seconds. Reads through its
        own read-only connection, closed when the iterator is exhausted; call `flush()`
        first to include writes still queued in this process.
        """
        conn = open_readonly(self.path, busy_timeout_s=self._busy_timeout_s)
        try:
            yield from read_history(conn, ts)
        finally:
            conn.close()

    def last_event(self, kind: str) -> dict[str, Any] | None:
        """The most recent committed event of `kind` (ts and decoded detail), or None."""
        conn = open_readonly(self.path, busy_timeout_s=self._busy_timeout_s)
        try:
            found = last_written_events(conn, (kind,), limit=1)
        finally:
            conn.close()
        if not found:
            return None
        detail = json.loads(found[0]["detail"]) if found[0]["detail"] else {}
        return {"ts": found[0]["ts"], "detail": detail}

    @property
    def stats(self) -> CallLogStats:
        """The writer's counters and health."""
        with self._lock:
            return CallLogStats(
                rows_written=self._rows_written,
                commits=self._commits,
                queue_depth=len(self._pending),
                dropped=self._dropped,
                failing=self._failing,
                last_error=self._last_error,
            )

    # ------------------------------------------------------------ enqueue side

    def _submit(self, make_item: Callable[[], _Item]) -> None:
        """Build and queue an item; any failure is logged, never raised (fail open)."""
        try:
            item = make_item()
            with self._lock:
                if self._state != "open":
                    self._drop_while_closed()
                    return
                if len(self._pending) >= self._max_queue:
                    self._dropped += 1
                    if self._dropped % 1000 == 1:
                        logger.error(
                            "call log queue full (%d items): dropping writes, %d so far",
                            self._max_queue,
                            self._dropped,
                        )
                    return
                self._pending.append(item)
                self._enqueued += 1
                self._has_work.notify()
        except Exception:
            logger.exception("could not queue a call-log write; the call goes on")

    def _drop_while_closed(self) -> None:
        """Count a write submitted while the log is not open (caller holds the lock)."""
        self._dropped += 1
        if self._dropped % 1000 == 1:
            logger.warning("call log %s is not open: write dropped", self.path)

    # ------------------------------------------------------------- writer side

    def _run(self) -> None:
        """The writer thread: group-commit whatever is queued, back off while failing."""
        delay_s = _RETRY_FIRST_S
        while (batch := self._next_batch()) is not None:
            try:
                consumed = self._write_batch(batch)
            except Exception:  # a bug here must not kill the only writer
                logger.exception("call-log writer error")
                consumed = 0
            self._consume(consumed)
            if consumed:
                delay_s = _RETRY_FIRST_S
            else:
                self._abort.wait(delay_s)
                delay_s = min(delay_s * 2, self._retry_max_s)

    def _next_batch(self) -> list[_Item] | None:
        """Up to `_BATCH_MAX` queued items (left in the queue until committed); None: stop."""
        with self._lock:
            while not self._pending and not self._stopping:
                self._has_work.wait()
            if self._abort.is_set() or not self._pending:
                return None
            return list(itertools.islice(self._pending, _BATCH_MAX))

    def _consume(self, count: int) -> None:
        """Remove the first `count` items, now committed or dropped, and wake flush()."""
        if not count:
            return
        with self._lock:
            for _ in range(count):
                self._pending.popleft()
            self._finished += count
            self._progress.notify_all()
            self._resolve_commit_waiters()

    def _resolve_commit_waiters(self) -> None:
        """Resolve the futures whose items are all committed (called with the lock held)."""
        still_waiting = []
        for target, future in self._commit_waiters:
            if self._finished >= target:
                if not future.done():
                    future.set_result(None)
            else:
                still_waiting.append((target, future))
        self._commit_waiters = still_waiting

    def _write_batch(self, batch: list[_Item]) -> int:
        """Commit `batch` in one transaction; return how many items left the queue."""
        try:
            self._commit(batch)
        except Exception as exc:
            if is_transient(exc):
                self._note_failure(exc)
                return 0
            # One bad item spoils the whole transaction: write them one by one so only
            # that item is lost, not the calls around it.
            return self._write_singly(batch)
        return len(batch)

    def _write_singly(self, batch: list[_Item]) -> int:
        for index, item in enumerate(batch):
            try:
                self._commit([item])
            except Exception as exc:
                if is_transient(exc):
                    self._note_failure(exc)
                    return index
                logger.error("dropping unwritable call-log item %r: %s", item, exc)
                with self._lock:
                    self._dropped += 1
                    self._last_error = f"dropped item: {exc}"
        return len(batch)

    def _commit(self, batch: list[_Item]) -> None:
        db = self._db
        if db is None:
            raise RuntimeError("call log is not open")
        with immediate(db):
            rows = sum(self._apply(db, item) for item in batch)
        with self._lock:
            self._rows_written += rows
            self._commits += 1
            if self._failing:
                logger.warning(
                    "call log writable again after %d failed attempts", self._failures_in_row
                )
            self._failing = False
            self._failures_in_row = 0

    def _note_failure(self, exc: BaseException) -> None:
        with self._lock:
            self._failures_in_row += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            first = not self._failing
            self._failing = True
        if first:
            logger.error("call log write failed, will retry: %s", exc)
        else:
            logger.debug("call log write failed again: %s", exc)

    # ------------------------------------------------------- one item to SQL

    def _apply(self, db: Database, item: _Item) -> int:
        """Write one item inside the open transaction; return the rows it touched."""
        if isinstance(item, _CallWrite):
            return self._apply_call(db, item)
        if isinstance(item, _DispositionWrite):
            return self._apply_disposition(db, item)
        if isinstance(item, _LineStatusWrite):
            return self._apply_line_status(db, item)
        if isinstance(item, _LineStatusForget):
            return db.execute("DELETE FROM line_status WHERE line = ?", [item.line]).rowcount
        if isinstance(item, _SmsWrite):
            return self._apply_sms(db, item)
        if isinstance(item, _ServiceStateWrite):
            return self._apply_service_state(db, item)
        if isinstance(item, CallbackRelease):
            return upsert_release(db.conn, item, self._zone)
        if isinstance(item, _ArchiveMonth):
            return self._apply_archive(db, item)
        if isinstance(item, _LineRequestDone):
            cursor = db.execute(
                "UPDATE line_requests SET done_ts = ?, done_at = ?, result = ?, answer = ?"
                " WHERE id = ? AND done_ts IS NULL",
                [item.ts, iso_at(item.ts, self._zone), item.result, item.answer, item.request_id],
            )
            return cursor.rowcount
        if isinstance(item, _DeskRequestDone):
            cursor = db.execute(
                "UPDATE desk_requests SET done_ts = ?, done_at = ?, result = ?"
                " WHERE id = ? AND done_ts IS NULL",
                [item.ts, iso_at(item.ts, self._zone), item.result, item.request_id],
            )
            return cursor.rowcount
        add_event(db.conn, item.kind, item.ts, self._zone, line=item.line, detail=item.detail)
        return 1

    def _apply_call(self, db: Database, item: _CallWrite) -> int:
        row = self._call_row(item.fields)
        row["id"] = item.call_id
        # Upsert for starts and updates alike: an update whose start row was lost still
        # lands, and a start retried after an ambiguous failure cannot duplicate. One plain
        # statement rather than sqlite-utils' upsert(), which reads the schema and issues
        # several statements per row: this runs for every call event, holding the GIL the
        # lines need.
        columns = list(row)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in columns if name != "id")
        sql = (
            f"INSERT INTO calls ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT(id) DO UPDATE SET {assignments}"
        )
        db.execute(sql, [row[name] for name in columns])
        if row.get("reached_operator") and row.get("operator_ts") is not None:
            # The caller got through: nobody needs to ring them back.
            return 1 + close_reached(db.conn, item.call_id, float(row["operator_ts"]), self._zone)
        return 1

    def _apply_line_status(self, db: Database, item: _LineStatusWrite) -> int:
        row = {name: value for name, value in item.fields.items() if name in _LINE_STATUS_COLUMNS}
        row["line"] = item.line
        row["updated_ts"] = item.ts
        if row.get("since_ts") is not None:
            row["since_at"] = iso_at(float(row["since_ts"]), self._zone)
        columns = list(row)
        db.execute(
            f"INSERT OR REPLACE INTO line_status ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})",
            [_plain(row[name]) for name in columns],
        )
        return 1

    def _apply_service_state(self, db: Database, item: _ServiceStateWrite) -> int:
        row = {
            name: _plain(value)
            for name, value in item.fields.items()
            if name in _SERVICE_STATE_COLUMNS
        }
        if row.get("started_ts") is not None:
            row["started_at"] = iso_at(float(row["started_ts"]), self._zone)
        row.update(id=1, updated_ts=item.ts)
        columns = list(row)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in columns if name != "id")
        db.execute(
            f"INSERT INTO service_state ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT(id) DO UPDATE SET {assignments}",
            [row[name] for name in columns],
        )
        return 1

    def _apply_archive(self, db: Database, item: _ArchiveMonth) -> int:
        range_sql = "started_ts >= ? AND started_ts < ?"
        span = [item.from_ts, item.to_ts]
        calls = db.execute(f"SELECT COUNT(*) FROM calls WHERE {range_sql}", span).fetchone()[0]
        if not calls:
            return 0
        figures = dict(item.figures(db.conn, item.month, item.from_ts, item.to_ts))
        found = db.execute(
            "SELECT figures, calls_removed FROM monthly_figures WHERE month = ?", [item.month]
        ).fetchone()
        if found is not None:  # late rows of a month archived before: add them up
            for key, value in json.loads(found[0]).items():
                figures[key] = figures.get(key, 0) + value
            calls += int(found[1])
        db.execute(
            "INSERT OR REPLACE INTO monthly_figures"
            " (month, from_ts, to_ts, figures, calls_removed, archived_ts, archived_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [item.month, item.from_ts, item.to_ts, json.dumps(figures), calls, item.ts,
             iso_at(item.ts, self._zone)],
        )  # fmt: skip
        db.execute(
            f"DELETE FROM dispositions WHERE call_id IN (SELECT id FROM calls WHERE {range_sql})",
            span,
        )
        deleted = db.execute(f"DELETE FROM calls WHERE {range_sql}", span).rowcount
        logger.info("retention: %s archived, %d call rows removed", item.month, deleted)
        return 1 + deleted

    def _apply_sms(self, db: Database, item: _SmsWrite) -> int:
        """A new outbox row (its fields include `kind`), or changes to an existing one."""
        row = dict(item.fields)
        for stamp in ("created", "sent"):
            if row.get(f"{stamp}_ts") is not None:
                row[f"{stamp}_at"] = iso_at(float(row[f"{stamp}_ts"]), self._zone)
        columns = list(row)
        if "kind" in row:
            row["id"] = item.sms_id
            columns.append("id")
            sql = (
                f"INSERT OR IGNORE INTO sms_outbox ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})"
            )
            return db.execute(sql, [row[name] for name in columns]).rowcount
        assignments = ", ".join(f"{name} = ?" for name in columns)
        cursor = db.execute(
            f"UPDATE sms_outbox SET {assignments} WHERE id = ?",
            [*(row[name] for name in columns), item.sms_id],
        )
        return cursor.rowcount

    def _apply_disposition(self, db: Database, item: _DispositionWrite) -> int:
        found = db.execute("SELECT caller FROM calls WHERE id = ?", [item.call_id]).fetchone()
        recorded_at = iso_at(item.ts, self._zone)
        db.table("dispositions").insert(
            {
                "call_id": item.call_id,
                "caller": found[0] if found else None,
                "disposition": item.disposition,
                "operator": item.operator,
                "recorded_at": recorded_at,
                "recorded_ts": item.ts,
            }
        )
        if found is None:
            logger.warning("disposition for unknown call %d kept in history only", item.call_id)
            return 1
        # "Later" means a later verdict time, so a delayed write never undoes a correction.
        cursor = db.execute(
            "UPDATE calls SET disposition = ?, disposition_at = ?, disposition_ts = ?,"
            " operator = COALESCE(operator, ?)"
            " WHERE id = ? AND (disposition_ts IS NULL OR disposition_ts <= ?)",
            [item.disposition, recorded_at, item.ts, item.operator, item.call_id, item.ts],
        )
        return 1 + cursor.rowcount

    def _call_row(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Known columns only (unknown keys logged once), enums as values, ISO twins filled."""
        row: dict[str, Any] = {}
        for key, value in fields.items():
            if key not in self._call_columns:
                if key not in self._warned_keys:
                    self._warned_keys.add(key)
                    logger.warning("call-log field %r is not a calls column; ignored", key)
                continue
            row[key] = value.value if isinstance(value, Enum) else value
        return _with_iso(row, self._zone)

    # ------------------------------------------------------ previous run

    def _mark_interrupted(self, db: Database, now_ts: float) -> int:
        """Close out calls a previous run left in flight: interrupted=1, ended at last sign."""
        with immediate(db):
            rows = db.execute(
                "SELECT id, started_ts, operator_ts, started_at, line, caller_raw FROM calls"
                " WHERE ended_at IS NULL ORDER BY id"
            ).fetchall()
            for call_id, started_ts, operator_ts, started_at, line, caller_raw in rows:
                update = _interrupted_update(started_ts, operator_ts, started_at, now_ts)
                db.table("calls").update(call_id, _with_iso(update, self._zone))
                if operator_ts is None and started_ts is not None and line is not None:
                    self._resumable.append(
                        InterruptedCall(call_id, line, caller_raw, float(started_ts))
                    )
            if rows:
                ids = [row[0] for row in rows]
                detail = {"count": len(ids), "call_ids": ids[:100]}
                add_event(db.conn, "interrupted_calls", now_ts, self._zone, detail=detail)
        if rows:
            logger.warning(
                "%d calls were in flight when the last run stopped; marked interrupted", len(rows)
            )
        return len(rows)


def _lock_writer(path: Path) -> int:
    """Take the single-writer lock for `path`; return the descriptor that holds it.

    Two writers on one file would hand out the same call ids and mark each other's live
    calls interrupted (a `siaga simulate --db` pointed at the live database, or a restart
    overlapping the old process). flock is released by the kernel when the process dies,
    even by kill -9, so a crash never leaves a stale lock.
    """
    lock_path = path.with_name(path.name + ".writer-lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CallLogBusyError(f"{path} is already open for writing by another process") from None
    return fd


def _interrupted_update(
    started_ts: float | None, operator_ts: float | None, started_at: str | None, now_ts: float
) -> dict[str, Any]:
    """The columns closing an interrupted call; it ended at the last moment we know of.

    ended_at must become non-NULL even for a row with no time at all, or the call would be
    "interrupted" again at every start; `now_ts` is the last resort.
    """
    known = [ts for ts in (started_ts, operator_ts) if ts is not None]
    update: dict[str, Any] = {"interrupted": 1, "end_cause": "interrupted"}
    if known:
        update["ended_ts"] = max(known)
    elif started_at:
        update["ended_at"] = started_at
    else:
        update["ended_ts"] = now_ts
    return update


def _with_iso(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """`row` with the ISO 8601 twin of each `*_ts` key filled in."""
    for ts_key, at_key in TS_TWINS.items():
        if ts_key in row:
            ts = row[ts_key]
            row[at_key] = None if ts is None else iso_at(float(ts), zone)
    return row
