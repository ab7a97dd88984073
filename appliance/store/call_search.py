"""Call search: which calls a set of filters finds, newest first, a page at a time.

One implementation for `siaga calls` and the web UI's call log and its CSV export. A
`CallQuery` names what must hold (each field left None holds for every call); the SQL is
written so that SQLite walks one of the call log's indexes in time order and stops after
a page: `started_ts`, `(caller, started_ts)`, `(disposition, started_ts)` and
`(decision, started_ts)`. Where two indexes could serve, the one that does not also give
the order is switched off with a unary `+` (a `reason` filter would otherwise pick
`(decision, reason)` and sort every matching row before returning a page).

Paging is keyset, never OFFSET: a page starts just past a `CallCursor` (a row's
`started_ts` and `id`), so page 1,000 costs what page 1 costs. `iter_calls` reads every
match in batches, each batch its own statement, so a long export never holds one read
open for minutes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

# The disposition filter's words beside a disposition itself.
EVERY_GENUINE = "genuine"  # every `genuine:<kind>`
NO_VERDICT = "none"  # no disposition recorded


@dataclass(frozen=True)
class CallQuery:
    """The calls to find: every field given must hold.

    `since_ts` is inclusive, `until_ts` exclusive (POSIX seconds). A caller is matched by
    exactly one of `caller` (an E.164 number), `caller_prefix` (an E.164 prefix) or
    `caller_raw` (the text as received). `disposition` is one disposition, or
    `EVERY_GENUINE`, or `NO_VERDICT`. Callers check values against the known ones; this
    only binds them as parameters.
    """

    since_ts: float | None = None
    until_ts: float | None = None
    caller: str | None = None
    caller_prefix: str | None = None
    caller_raw: str | None = None
    decision: str | None = None
    reason: str | None = None
    disposition: str | None = None
    line: str | None = None

    def where(self, extra: Sequence[str] = ()) -> tuple[str, list[Any]]:
        """`WHERE ...` (or '') with `extra` clauses appended, and its parameters."""
        clauses, params = self._clauses()
        clauses += extra
        return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params

    def _clauses(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            clauses.append(clause)
            params.extend(values)

        if self.since_ts is not None:
            add("started_ts >= ?", self.since_ts)
        if self.until_ts is not None:
            add("started_ts < ?", self.until_ts)
        if self.caller is not None:
            add("caller = ?", self.caller)
        if self.caller_prefix is not None:
            # ':' sorts just after '9': every "+<prefix><digits>" lies in [prefix, prefix:).
            add("caller >= ?", self.caller_prefix)
            add("caller < ?", self.caller_prefix + ":")
        if self.caller_raw is not None:
            add("caller_raw = ?", self.caller_raw)
        if self.decision is not None:
            add("decision = ?", self.decision)
        if self.reason is not None:
            add("+reason = ?", self.reason)  # see the module docstring
        if self.disposition == NO_VERDICT:
            add("disposition IS NULL")
        elif self.disposition == EVERY_GENUINE:
            # A range rather than LIKE, so the (disposition, started_ts) index serves it.
            add("disposition >= ?", "genuine:")
            add("disposition < ?", "genuine;")
        elif self.disposition is not None:
            add("disposition = ?", self.disposition)
        if self.line is not None:
            add("line = ?", self.line)
        return clauses, params


@dataclass(frozen=True)
class CallCursor:
    """A position in the log: a row's `started_ts` and `id`; text form `ts_id`."""

    started_ts: float
    id: int

    def __str__(self) -> str:
        return f"{self.started_ts!r}_{self.id}"

    @classmethod
    def parse(cls, text: str) -> CallCursor:
        """The cursor written by `str()`; `ValueError` for anything else."""
        ts_text, _, id_text = text.partition("_")
        started_ts, row_id = float(ts_text), int(id_text)
        if started_ts != started_ts or row_id < 0:  # NaN
            raise ValueError(f"not a call cursor: {text!r}")
        return cls(started_ts, row_id)


@dataclass(frozen=True)
class CallPage:
    """One page of calls, newest first, and the cursors of the pages around it."""

    rows: list[Any]  # as the connection's row factory makes them
    columns: tuple[str, ...]
    older: CallCursor | None  # the last row shown, when older rows exist
    newer: CallCursor | None  # the first row shown, when newer rows exist


@dataclass(frozen=True)
class _Fetched:
    rows: list[Any]
    columns: tuple[str, ...]

    def cursor(self, row: Any) -> CallCursor:
        return CallCursor(
            float(row[self.columns.index("started_ts")]), int(row[self.columns.index("id")])
        )


def _fetch(
    conn: sqlite3.Connection,
    query: CallQuery,
    columns: str,
    position: tuple[list[str], list[Any]],
    order: str,
    n: int,
) -> _Fetched:
    extra, extra_params = position
    where, params = query.where(extra)
    sql = f"SELECT {columns} FROM calls{where} ORDER BY started_ts {order}, id {order} LIMIT ?"
    cursor = conn.execute(sql, [*params, *extra_params, n])
    names = tuple(description[0] for description in cursor.description)
    return _Fetched(cursor.fetchall(), names)


def _older_than(cursor: CallCursor | None) -> tuple[list[str], list[Any]]:
    if cursor is None:
        return [], []
    # `started_ts <= ?` first: a plain range the started_ts index serves on its own.
    clauses = ["started_ts <= ?", "(started_ts < ? OR id < ?)"]
    return clauses, [cursor.started_ts, cursor.started_ts, cursor.id]


def _newer_than(cursor: CallCursor) -> tuple[list[str], list[Any]]:
    clauses = ["started_ts >= ?", "(started_ts > ? OR id > ?)"]
    return clauses, [cursor.started_ts, cursor.started_ts, cursor.id]


def page_calls(
    conn: sqlite3.Connection,
    query: CallQuery,
    *,
    before: CallCursor | None = None,
    after: CallCursor | None = None,
    limit: int,
    columns: str = "*",
) -> CallPage:
    """Up to `limit` calls older than `before` (or newer than `after`), newest first.
    `columns` must include `started_ts` and `id`."""
    limit = max(limit, 0)
    if after is not None:
        return _page_newer(conn, query, after, limit, columns)
    found = _fetch(conn, query, columns, _older_than(before), "DESC", limit + 1)
    rows = found.rows[:limit]
    older = found.cursor(rows[-1]) if len(found.rows) > limit and rows else None
    newer = None
    if rows and before is not None:
        first = found.cursor(rows[0])
        if _fetch(conn, query, "id", _newer_than(first), "ASC", 1).rows:
            newer = first
    return CallPage(rows, found.columns, older, newer)


def _page_newer(
    conn: sqlite3.Connection, query: CallQuery, after: CallCursor, limit: int, columns: str
) -> CallPage:
    """The page just newer than `after` (the "newer" link): older rows exist by definition."""
    found = _fetch(conn, query, columns, _newer_than(after), "ASC", limit + 1)
    rows = list(reversed(found.rows[:limit]))
    newer = found.cursor(rows[0]) if len(found.rows) > limit else None
    older = found.cursor(rows[-1]) if rows else after
    return CallPage(rows, found.columns, older, newer)


def iter_calls(
    conn: sqlite3.Connection, query: CallQuery, *, columns: str = "*", batch: int = 1000
) -> Iterator[Any]:
    """Every matching call, newest first, fetched `batch` rows at a time."""
    before: CallCursor | None = None
    while True:
        found = _fetch(conn, query, columns, _older_than(before), "DESC", batch)
        yield from found.rows
        if len(found.rows) < batch:
            return
        before = found.cursor(found.rows[-1])
