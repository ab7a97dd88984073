"""One poller for the web UI's request tables: pending rows in, each carried out once.

The web UI is another process (a crash there never touches screening): it asks the line
service for something by inserting a row into a request table, `desk_requests` (the
operator console: `appliance/desk.py`) or `line_requests` (the lines page:
`appliance/line_admin.py`), and the service fills in the row's `done_ts` and `result`
through the call log's single writer. A `RequestPoller` serves one table for one
`RequestHandler`: every `interval_s` it reads the table's pending rows (`done_ts IS
NULL`, oldest first, one batch) on a read-only connection of its own, hands each to the
handler once and passes the outcome back to it to write. The outcome is written by the
call log's thread, so a row may still read pending at the next poll: the ids handled are
remembered until long committed. Each read ends its transaction, so the next poll sees
new rows.

At start, the pending rows the handler calls stale (nobody waits for them any more) are
marked `expired`. Fail open: a locked or broken database is logged, the connection closed
(it is reopened at the next poll) and the poll tried again; nothing here raises into the
lines or stalls screening.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from appliance.store import open_readonly

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestTable:
    """A request table: its name, the columns its handler reads besides `id`, and how
    many rows a poll reads at most."""

    name: str
    columns: tuple[str, ...]
    batch: int

    def pending_query(self) -> str:
        """The oldest pending rows, at most `batch` (the query's parameter)."""
        columns = ", ".join(("id", *self.columns))
        return f"SELECT {columns} FROM {self.name} WHERE done_ts IS NULL ORDER BY id LIMIT ?"


@dataclass(frozen=True)
class Outcome:
    """What became of a request: its `result` and, where the table has one, an `answer`."""

    result: str
    answer: str | None = None


EXPIRED = Outcome("expired")


class RequestHandler(Protocol):
    """One table's side: what its rows ask for, and where their outcomes go."""

    def stale(self, row: sqlite3.Row) -> bool:
        """Found pending at start: True when nobody waits for it any more."""
        ...

    async def before_requests(self, conn: sqlite3.Connection) -> None:
        """Each poll, before the rows: what else the handler reads (on `conn`)."""
        ...

    async def carry_out(self, row: sqlite3.Row, conn: sqlite3.Connection) -> Outcome:
        """Do what the row asks; `conn` reads other tables if it needs to."""
        ...

    def done(self, request_id: int, outcome: Outcome) -> None:
        """Write the outcome of a request (through the call log's writer; never raises)."""
        ...


class RequestPoller:
    """Every `interval_s`, the pending rows of `table`, each handed to `handler` once."""

    def __init__(
        self, db_path: Path, table: RequestTable, handler: RequestHandler, *, interval_s: float
    ) -> None:
        self.table = table
        self.interval_s = interval_s
        self._db_path = db_path
        self._handler = handler
        self._conn: sqlite3.Connection | None = None
        self._handled: set[int] = set()  # done, but perhaps not yet committed

    def expire_stale(self) -> int:
        """At start: mark the pending rows the handler calls stale `expired`; how many."""
        stale = [row for row in self._pending() if self._handler.stale(row)]
        for row in stale:
            self._done(int(row["id"]), EXPIRED)
        return len(stale)

    async def poll_once(self) -> int:
        """The handler's own reads, then every pending request once; how many were handled."""
        await self._handler.before_requests(self._connection())
        handled = 0
        for row in self._pending():
            request_id = int(row["id"])
            if request_id in self._handled:
                continue
            self._done(request_id, await self._handler.carry_out(row, self._connection()))
            handled += 1
        return handled

    async def run(self) -> None:
        """Expire the stale requests, then poll until cancelled; a locked or broken
        database is logged, never fatal."""
        try:
            try:
                expired = self.expire_stale()
                if expired:
                    logger.info(
                        "%s: %d request(s) from before the start expired", self.table.name, expired
                    )
            except sqlite3.Error as exc:
                logger.warning("%s: %s", self.table.name, exc)
                self.close()
            while True:
                try:
                    await self.poll_once()
                except sqlite3.Error as exc:
                    logger.warning("%s: %s", self.table.name, exc)
                    self.close()
                except Exception:
                    logger.exception("%s: unexpected error", self.table.name)
                await asyncio.sleep(self.interval_s)
        finally:
            self.close()

    def close(self) -> None:
        """Close the read-only connection (it is reopened on the next poll)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ internals

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_readonly(self._db_path)
        return self._conn

    def _pending(self) -> list[sqlite3.Row]:
        conn = self._connection()
        rows = conn.execute(self.table.pending_query(), (self.table.batch,)).fetchall()
        conn.commit()  # end the read transaction: the next poll sees new rows
        return rows

    def _done(self, request_id: int, outcome: Outcome) -> None:
        self._handled.add(request_id)
        self._handler.done(request_id, outcome)
        if len(self._handled) > 10 * self.table.batch:  # committed long ago: forget them
            self._handled = set(sorted(self._handled)[-self.table.batch :])
