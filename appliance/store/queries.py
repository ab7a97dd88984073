"""Read-only queries over the call log for the CLI, reports, the policy's start-up replay,
the line service's desk and the web UI's console.

None of them writes: the CLI's and reports' take a connection from `open_readonly()`,
and the console's run on the request's connection, inside its transaction when it has
one. Rows read for the console are `sqlite3.Row`, whatever the connection's factory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from appliance.model import NumberClass
from appliance.store._sqlite import row_cursor
from appliance.store.call_search import CallQuery, page_calls

_HISTORY_BATCH = 500
_NUMBER_CLASSES: dict[str | None, NumberClass] = {member.value: member for member in NumberClass}

# calls column -> key of a history row. The keys are the fields of the policy's
# `HistoryRow` (times in POSIX seconds), so the service builds one with `HistoryRow(**row)`.
HISTORY_COLUMNS: dict[str, str] = {
    "caller": "caller_e164",
    "number_class": "number_class",
    "started_ts": "started_at",
    "reached_operator": "reached_operator",
    "operator_ts": "operator_at",
    "disposition": "disposition",
    "disposition_ts": "disposition_at",
    "challenge_result": "challenge_result",
    "challenge_ts": "challenge_at",
    "voice_heard": "voice_heard",
}


def read_history(conn: sqlite3.Connection, since_ts: float) -> Iterator[dict[str, Any]]:
    """Calls that started at or after `since_ts`, oldest first (by started_ts, then id).

    Each row is a dict keyed as `HISTORY_COLUMNS` says, `number_class` as a `NumberClass`
    and `reached_operator` as a bool. Rows are fetched in batches, so replaying months of
    history never loads it all at once.
    """
    cursor = conn.execute(
        f"SELECT {', '.join(HISTORY_COLUMNS)} FROM calls"
        " WHERE started_ts >= ? ORDER BY started_ts, id",
        (since_ts,),
    )
    keys = list(HISTORY_COLUMNS.values())
    while batch := cursor.fetchmany(_HISTORY_BATCH):
        for values in batch:
            row = dict(zip(keys, values, strict=True))
            row["number_class"] = _number_class(row["number_class"], row["caller_e164"])
            row["reached_operator"] = bool(row["reached_operator"])
            heard = row["voice_heard"]
            row["voice_heard"] = None if heard is None else bool(heard)
            yield row


def _number_class(stored: str | None, caller_e164: str | None) -> NumberClass:
    """The stored class; for a row without a valid one, what the caller column implies."""
    if stored in _NUMBER_CLASSES:
        return _NUMBER_CLASSES[stored]
    return NumberClass.NUMBER if caller_e164 else NumberClass.UNAVAILABLE


def tail(conn: sqlite3.Connection, n: int = 20) -> list[dict[str, Any]]:
    """The `n` most recent calls, oldest first (as `tail` prints them)."""
    cursor = conn.execute(
        "SELECT * FROM calls ORDER BY started_ts DESC, id DESC LIMIT ?", (max(n, 0),)
    )
    return list(reversed(_dicts(cursor)))


def search_calls(
    conn: sqlite3.Connection,
    *,
    number: str | None = None,
    since_ts: float | None = None,
    until_ts: float | None = None,
    decision: str | None = None,
    reason: str | None = None,
    disposition: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Calls matching every given filter, newest first, as dicts (`siaga calls`).

    `number`: an E.164 number (`+62...`, matched on `caller`, indexed); anything else is
    matched exactly against `caller_raw`. Normalise before calling to find every form.
    `since_ts` is inclusive, `until_ts` exclusive. `disposition="genuine"` matches every
    `genuine:<kind>`; other values match exactly. The search is `call_search`'s, the
    web UI's call log's.
    """
    e164 = number is not None and number.startswith("+")
    query = CallQuery(
        since_ts=since_ts,
        until_ts=until_ts,
        caller=number if e164 else None,
        caller_raw=None if e164 else number,
        decision=decision,
        reason=reason,
        disposition=disposition,
    )
    found = page_calls(conn, query, limit=limit)
    return [dict(zip(found.columns, row, strict=True)) for row in found.rows]


def call_summary(conn: sqlite3.Connection, call_id: int) -> sqlite3.Row | None:
    """What the console and the desk check of one call before acting on it (its line,
    caller, times, whether it reached an operator, its verdict), or None."""
    row: sqlite3.Row | None = (
        row_cursor(conn)
        .execute(
            "SELECT id, line, caller_raw, caller, number_class, started_ts, ended_ts,"
            " reached_operator, operator_ts, disposition FROM calls WHERE id = ?",
            [call_id],
        )
        .fetchone()
    )
    return row


def recently_answered(
    conn: sqlite3.Connection, *, started_since_ts: float, ended_since_ts: float
) -> list[sqlite3.Row]:
    """Calls an operator answered that started at or after `started_since_ts` (the
    indexed bound) and ended at or after `ended_since_ts`, the latest ended last."""
    return (
        row_cursor(conn)
        .execute(
            "SELECT id, line, caller_raw, caller, number_class, ended_ts, disposition, operator"
            " FROM calls WHERE started_ts >= ? AND ended_ts >= ?"
            " AND (reached_operator = 1 OR operator_ts IS NOT NULL) ORDER BY ended_ts",
            [started_since_ts, ended_since_ts],
        )
        .fetchall()
    )


def caller_call_counts(
    conn: sqlite3.Connection,
    caller: str,
    *,
    since_ts: float,
    recent_since_ts: float,
    except_call_id: int | None,
) -> tuple[int, int]:
    """(calls of `caller` started at or after `since_ts`, those at or after
    `recent_since_ts`), the call `except_call_id` (the one ringing now) left out."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(started_ts >= ?), 0) FROM calls"
        " WHERE caller = ? AND started_ts >= ? AND id != ?",
        [recent_since_ts, caller, since_ts, -1 if except_call_id is None else except_call_id],
    ).fetchone()
    return int(row[0]), int(row[1])


def caller_dispositions(conn: sqlite3.Connection, caller: str, limit: int) -> list[sqlite3.Row]:
    """The latest `limit` verdicts recorded on `caller`'s calls (`disposition`,
    `operator`, `recorded_ts`), newest first."""
    return (
        row_cursor(conn)
        .execute(
            "SELECT disposition, operator, recorded_ts FROM dispositions WHERE caller = ?"
            " ORDER BY recorded_ts DESC, id DESC LIMIT ?",
            [caller, limit],
        )
        .fetchall()
    )


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """All rows of `cursor` as plain dicts, whatever the connection's row factory."""
    columns = [description[0] for description in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
