"""The one poller of the web UI's request tables (`appliance.request_poller`).

A table of its own stands in for `desk_requests` and `line_requests` (the console's and
the lines page's are tested through the service in test_desk.py and test_line_admin.py);
the handler records what it was handed, and writes outcomes only when told to, as the
call log's writer thread would, late.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from appliance.request_poller import EXPIRED, Outcome, RequestPoller, RequestTable
from tests.appliance.conftest import run_virtual

TABLE = RequestTable("requests", ("kind",), batch=3)


def make_db(tmp_path: Path) -> Path:
    db = tmp_path / "requests.db"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "CREATE TABLE requests (id INTEGER PRIMARY KEY, kind TEXT, done_ts REAL, result TEXT)"
        )
    conn.close()
    return db


def ask(db: Path, *kinds: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany("INSERT INTO requests (kind) VALUES (?)", [(kind,) for kind in kinds])
    conn.close()


@dataclass
class Handler:
    """Records what the poller hands it; `commit` writes the outcomes so far."""

    db: Path
    handed: list[tuple[int, str]] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    before: list[sqlite3.Connection] = field(default_factory=list)
    fail_before: BaseException | None = None

    def stale(self, row: sqlite3.Row) -> bool:
        return bool(row["kind"] == "old")

    async def before_requests(self, conn: sqlite3.Connection) -> None:
        self.before.append(conn)
        if self.fail_before is not None:
            failure, self.fail_before = self.fail_before, None
            raise failure

    async def carry_out(self, row: sqlite3.Row, conn: sqlite3.Connection) -> Outcome:
        assert conn is self.before[-1]  # the same connection, within one poll
        self.handed.append((int(row["id"]), str(row["kind"])))
        return Outcome("ok", answer=str(row["kind"]))

    def done(self, request_id: int, outcome: Outcome) -> None:
        self.outcomes[request_id] = outcome

    def commit(self) -> None:
        conn = sqlite3.connect(self.db)
        with conn:
            conn.executemany(
                "UPDATE requests SET done_ts = 1.0, result = ? WHERE id = ?",
                [(outcome.result, request_id) for request_id, outcome in self.outcomes.items()],
            )
        conn.close()


def test_each_pending_request_is_handed_once_oldest_first_a_batch_a_poll(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    handler = Handler(db)
    poller = RequestPoller(db, TABLE, handler, interval_s=1.0)
    ask(db, "a", "b", "c", "d")

    async def scenario() -> None:
        assert await poller.poll_once() == 3  # the batch
        assert handler.handed == [(1, "a"), (2, "b"), (3, "c")]
        # Not committed yet: the rows still read pending, and are not handed again.
        assert await poller.poll_once() == 0
        handler.commit()
        assert await poller.poll_once() == 1
        ask(db, "e")  # a new row, seen by the next poll (each read ends its transaction)
        handler.commit()
        assert await poller.poll_once() == 1
        assert [request_id for request_id, _ in handler.handed] == [1, 2, 3, 4, 5]
        assert handler.outcomes[5] == Outcome("ok", answer="e")

    try:
        run_virtual(scenario)
    finally:
        poller.close()


def test_stale_requests_found_at_start_expire_and_are_not_carried_out(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    handler = Handler(db)
    poller = RequestPoller(db, TABLE, handler, interval_s=1.0)
    ask(db, "old", "new", "old")

    async def scenario() -> None:
        assert poller.expire_stale() == 2
        assert handler.outcomes == {1: EXPIRED, 3: EXPIRED}
        assert await poller.poll_once() == 1
        assert handler.handed == [(2, "new")]

    try:
        run_virtual(scenario)
    finally:
        poller.close()


@pytest.mark.parametrize(
    "failure", [sqlite3.OperationalError("database is locked"), RuntimeError("a bug")]
)
def test_a_failing_poll_is_logged_and_the_next_one_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: BaseException
) -> None:
    db = make_db(tmp_path)
    handler = Handler(db, fail_before=failure)
    poller = RequestPoller(db, TABLE, handler, interval_s=0.5)
    ask(db, "a")

    async def scenario() -> None:
        runner = asyncio.create_task(poller.run())
        await asyncio.sleep(0.75)  # two polls: the first fails, the second serves
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    with caplog.at_level(logging.WARNING, logger="appliance.request_poller"):
        run_virtual(scenario)
    assert handler.handed == [(1, "a")]
    assert str(failure) in caplog.text
    # A database error closes the connection (reopened at the next poll); a bug does not.
    reopened = isinstance(failure, sqlite3.Error)
    assert (handler.before[0] is not handler.before[1]) is reopened


def test_a_database_not_there_at_start_is_logged_and_polled_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "requests.db"
    handler = Handler(db)
    poller = RequestPoller(db, TABLE, handler, interval_s=0.5)

    async def scenario() -> None:
        runner = asyncio.create_task(poller.run())
        await asyncio.sleep(0.25)  # the start and the first poll found no database
        make_db(tmp_path)
        ask(db, "a")
        await asyncio.sleep(0.5)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    with caplog.at_level(logging.WARNING, logger="appliance.request_poller"):
        run_virtual(scenario)
    assert "requests: unable to open database file" in caplog.text
    assert handler.handed == [(1, "a")]
