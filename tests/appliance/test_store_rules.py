"""Rule and event writes on a caller's connection (`appliance.store.rules`, `.events`).

The web UI commits a rule with its audit row or not at all, so the store's functions run
inside the caller's transaction: these tests hold them to that, to the one id form, and
to the same rows and events `RuleStore` (the CLI's way in) writes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.store import RuleStore, add_event
from appliance.store import rules as rule_store
from appliance.store.db import connect_writer

WIB = ZoneInfo("Asia/Jakarta")
T0 = datetime(2024, 4, 3, 19, 2, 11, 123000, tzinfo=WIB).timestamp()
DAY_S = 86_400.0
NUMBER = "+6281234567890"
ID_FORM = re.compile(r"[ab]-[0-9a-f]{16}")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection in autocommit mode, as the web UI opens one per request."""
    path = tmp_path / "siaga.db"
    connect_writer(path).close()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    yield connection
    connection.close()


def block(pattern: str = NUMBER, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "block",
        "pattern": pattern,
        "reason": "prank x3",
        "created_by": "supervisor",
        "created_ts": T0,
        **extra,
    }


def events(conn: sqlite3.Connection) -> list[tuple[str, dict[str, Any]]]:
    found = conn.execute("SELECT kind, detail FROM events ORDER BY id").fetchall()
    return [(row["kind"], json.loads(row["detail"])) for row in found]


def test_a_rule_and_its_event_commit_with_the_callers_transaction(
    conn: sqlite3.Connection,
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    row = rule_store.add_rule(conn, block(expires_ts=T0 + DAY_S), WIB)
    conn.execute("COMMIT")
    assert ID_FORM.fullmatch(row["id"])
    assert (row["created_at"], row["expires_at"]) == (
        "2024-04-03T19:02:11.123+07:00",
        "2024-04-04T19:02:11.123+07:00",
    )
    stored = rule_store.get_rule(conn, row["id"])
    assert stored is not None and {key: stored[key] for key in row} == row
    assert events(conn) == [("rule_added", row)]


def test_a_rolled_back_transaction_leaves_neither_rule_nor_event(
    conn: sqlite3.Connection,
) -> None:
    version = conn.execute("SELECT version FROM rules_version").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    rule_store.add_rule(conn, block(), WIB)
    conn.execute("ROLLBACK")
    assert rule_store.list_rules(conn, include_removed=True) == []
    assert events(conn) == []
    assert conn.execute("SELECT version FROM rules_version").fetchone()[0] == version


def test_writes_outside_a_transaction_are_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        rule_store.add_rule(conn, block(), WIB)
    with pytest.raises(RuntimeError, match="transaction"):
        rule_store.remove_rule(conn, "b-1", "supervisor", T0, WIB)
    assert rule_store.list_rules(conn, include_removed=True) == []


def test_the_rules_table_triggers_fire(conn: sqlite3.Connection) -> None:
    before = conn.execute("SELECT version FROM rules_version").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    added = rule_store.add_rule(conn, block(), WIB)
    conn.execute("COMMIT")
    after_add = conn.execute("SELECT version FROM rules_version").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    rule_store.remove_rule(conn, added["id"], "supervisor", T0 + 1, WIB)
    conn.execute("COMMIT")
    after_remove = conn.execute("SELECT version FROM rules_version").fetchone()[0]
    assert before < after_add < after_remove


def test_an_identical_rule_in_force_is_refused_unless_laid_over(
    conn: sqlite3.Connection,
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    first = rule_store.add_rule(conn, block(expires_ts=T0 + DAY_S), WIB)
    with pytest.raises(rule_store.DuplicateRuleError) as refused:
        rule_store.add_rule(conn, block(expires_ts=T0 + 7 * DAY_S), WIB)
    assert refused.value.existing_id == first["id"]
    longer = rule_store.add_rule(
        conn, block(expires_ts=T0 + 7 * DAY_S, created_ts=T0 + 1), WIB, refuse_identical=False
    )
    conn.execute("COMMIT")
    covering = rule_store.exact_block_until(conn, NUMBER, T0 + 2 * DAY_S)
    assert covering is not None and covering["id"] == longer["id"]
    assert rule_store.exact_block_until(conn, NUMBER, T0 + 8 * DAY_S) is None
    in_force = rule_store.list_rules(conn, now_ts=T0 + 2)
    assert [row["id"] for row in in_force] == [first["id"], longer["id"]]


def test_removal_is_a_soft_delete_returning_the_row_before(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    added = rule_store.add_rule(conn, block(), WIB)
    before = rule_store.remove_rule(conn, added["id"], "supervisor", T0 + 60, WIB, reason="web")
    again = rule_store.remove_rule(conn, added["id"], "supervisor", T0 + 61, WIB)
    unknown = rule_store.remove_rule(conn, "b-nope", "supervisor", T0 + 61, WIB)
    conn.execute("COMMIT")
    assert before is not None and before["removed_ts"] is None
    assert (again, unknown) == (None, None)
    stored = rule_store.get_rule(conn, added["id"])
    assert stored is not None
    assert (stored["removed_by"], stored["removed_reason"]) == ("supervisor", "web")
    assert stored["removed_at"] == "2024-04-03T19:03:11.123+07:00"
    assert [kind for kind, _ in events(conn)] == ["rule_added", "rule_removed"]
    assert events(conn)[1][1] == {"id": added["id"], "by": "supervisor", "reason": "web"}
    listed = rule_store.list_rules(conn, include_removed=True)
    assert [(row["id"], row["status"]) for row in listed] == [(added["id"], "removed")]


def test_rules_for_a_number_are_exact_and_prefix_rules_in_force(
    conn: sqlite3.Connection,
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    prefix = rule_store.add_rule(conn, block("+62812", match="prefix"), WIB)
    exact = rule_store.add_rule(
        conn, {"kind": "allow", "pattern": NUMBER, "created_by": "tech", "created_ts": T0 + 1}, WIB
    )
    rule_store.add_rule(conn, block("+62813", match="prefix"), WIB)
    rule_store.add_rule(conn, block("+6281234567891", expires_ts=T0 + 10), WIB)
    expired = rule_store.add_rule(conn, block(expires_ts=T0 + 10, action="reject"), WIB)
    conn.execute("COMMIT")
    found = rule_store.rules_for_number(conn, NUMBER, T0 + 20)
    assert [row["id"] for row in found] == [exact["id"], prefix["id"]]
    assert expired["id"] not in {row["id"] for row in found}
    assert exact["action"] == "pass"


def test_rule_store_and_the_functions_write_the_same_rows(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    with RuleStore(tmp_path / "siaga.db") as store:
        by_store = store.get(store.add(block()))
    conn.execute("BEGIN IMMEDIATE")
    by_function = rule_store.add_rule(conn, block("+6281234567891"), WIB)
    conn.execute("COMMIT")
    assert by_store is not None
    assert ID_FORM.fullmatch(by_store["id"]) and ID_FORM.fullmatch(by_function["id"])
    assert set(by_function) < set(by_store)
    differing = {key for key in by_function if by_function[key] != by_store[key]}
    assert differing == {"id", "pattern"}


def test_older_id_forms_stay_valid(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    legacy = rule_store.add_rule(conn, block(id="3f9c0a1e5d7b"), WIB)
    conn.execute("COMMIT")
    assert [row["id"] for row in rule_store.list_rules(conn)] == [legacy["id"]]
    conn.execute("BEGIN IMMEDIATE")
    assert rule_store.remove_rule(conn, "3f9c0a1e5d7b", "supervisor", T0 + 1, WIB) is not None
    conn.execute("COMMIT")


def test_add_event_writes_one_row_in_the_callers_transaction(
    conn: sqlite3.Connection,
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    event_id = add_event(conn, "alarm", T0, WIB, detail={"kind": "login_lockouts"})
    conn.execute("ROLLBACK")
    assert events(conn) == []
    event_id = add_event(conn, "recovery", T0, WIB, line="line1", detail={"step": 1})
    row = conn.execute("SELECT * FROM events WHERE id = ?", [event_id]).fetchone()
    assert (row["at"], row["ts"], row["kind"], row["line"]) == (
        "2024-04-03T19:02:11.123+07:00",
        T0,
        "recovery",
        "line1",
    )
    assert json.loads(row["detail"]) == {"step": 1}
