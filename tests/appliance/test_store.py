"""The durable store on real SQLite files: call log, rules, migrations, read-only queries."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from appliance.migrations import MIGRATIONS_TABLE, apply_migrations, migration
from appliance.model import Action, NumberClass, Reason
from appliance.policy import HistoryRow
from appliance.rules import Rule
from appliance.store import (
    CallLog,
    CallLogBusyError,
    RuleStore,
    open_readonly,
    rule_from_row,
    search_calls,
    tail,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
JAKARTA = ZoneInfo("Asia/Jakarta")
# 2024-04-03 19:02:11.123 in Jakarta (12:02:11.123 UTC)
T0 = datetime(2024, 4, 3, 19, 2, 11, 123000, tzinfo=JAKARTA).timestamp()
DAY_S = 86_400.0

CONTRACT_COLUMNS = {
    "id",
    "line",
    "caller_raw",
    "caller",
    "started_at",
    "decision",
    "reason",
    "challenge_result",
    "reached_operator",
    "operator_at",
    "ended_at",
    "disposition",
    "decision_us",
    "scenario_ref",
}
EXTRA_COLUMNS = {
    "number_class",
    "rule",
    "started_ts",
    "ended_ts",
    "operator_ts",
    "disposition_at",
    "disposition_ts",
    "challenge_at",
    "challenge_ts",
    "end_cause",
    "interrupted",
    "time_trusted",
    "desk",
    "operator",
    "line_seconds",
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "siaga.db"  # a missing directory: open() creates it


@pytest.fixture
def log(db_path: Path) -> Iterator[CallLog]:
    call_log = CallLog(db_path)
    call_log.open(now_ts=T0)
    yield call_log
    call_log.close()


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = open_readonly(path)
    try:
        return [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def call(path: Path, call_id: int) -> dict[str, Any]:
    found = rows(path, "SELECT * FROM calls WHERE id = ?", (call_id,))
    assert found, f"call {call_id} not written"
    return found[0]


def start_fields(started_ts: float, caller: str | None = "+6281234567890") -> dict[str, Any]:
    return {
        "line": "gsm1",
        "caller_raw": None if caller is None else "0" + caller.removeprefix("+62"),
        "caller": caller,
        "number_class": NumberClass.NUMBER if caller else NumberClass.WITHHELD,
        "started_ts": started_ts,
        "decision": Action.PASS,
        "reason": Reason.DEFAULT,
        "decision_us": 420,
    }


# ------------------------------------------------------------------ migrations, schema


def test_migrations_apply_once_and_are_idempotent_across_reopen(db_path: Path) -> None:
    for _ in range(3):
        call_log = CallLog(db_path)
        call_log.open(now_ts=T0)
        call_log.close()

    applied = rows(db_path, f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id")
    assert [row["name"] for row in applied] == [m.name for m in migration._migrations]
    with Database(db_path) as db:
        assert apply_migrations(db) == []


def test_schema_has_every_contract_column_and_the_report_indexes(log: CallLog) -> None:
    with Database(log.path) as db:
        calls = db.table("calls")
        assert set(calls.columns_dict) >= CONTRACT_COLUMNS | EXTRA_COLUMNS
        assert calls.pks == ["id"]
        indexed = {tuple(index.columns) for index in calls.indexes}
        assert {
            ("started_ts",),
            ("caller", "started_ts"),
            ("disposition", "started_ts"),  # search by verdict, newest first
            ("decision", "started_ts"),
            ("decision", "reason"),
            ("scenario_ref",),
        } <= indexed
        assert {("kind", "pattern")} <= {tuple(i.columns) for i in db.table("rules").indexes}
        assert {"dispositions", "events", "rules", "rules_version"} <= set(db.table_names())


def test_database_is_in_wal_mode_with_full_sync(log: CallLog) -> None:
    conn = open_readonly(log.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    # synchronous is per connection: look at the writer's own (FULL == 2).
    assert log._db is not None
    assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2


# ----------------------------------------------------------------------------- calls


def test_async_rows_appear_after_flush_with_iso_twins(log: CallLog) -> None:
    call_id = log.new_call_id()
    log.call_started(call_id, start_fields(T0))
    log.call_updated(call_id, {"challenge_result": "passed", "challenge_ts": T0 + 4})
    log.call_updated(call_id, {"operator_ts": T0 + 5, "reached_operator": True, "desk": "d1"})
    log.call_updated(call_id, {"ended_ts": T0 + 65.5, "end_cause": "caller_hung_up"})

    assert log.flush()
    row = call(log.path, call_id)
    assert row["started_at"] == "2024-04-03T19:02:11.123+07:00"
    assert row["challenge_at"] == "2024-04-03T19:02:15.123+07:00"
    assert row["operator_at"] == "2024-04-03T19:02:16.123+07:00"
    assert row["ended_at"] == "2024-04-03T19:03:16.623+07:00"
    assert (row["decision"], row["reason"], row["number_class"]) == ("pass", "default", "number")
    assert (row["reached_operator"], row["interrupted"], row["time_trusted"]) == (1, 0, 1)
    assert (row["caller"], row["caller_raw"], row["decision_us"]) == (
        "+6281234567890",
        "081234567890",
        420,
    )
    stats = log.stats
    assert stats.queue_depth == 0
    assert stats.rows_written >= 3
    assert stats.commits >= 1
    assert stats.last_error is None


def test_iso_timestamps_follow_the_configured_zone(db_path: Path) -> None:
    call_log = CallLog(db_path, timezone="Asia/Jayapura")  # WIT, +09:00
    call_log.open(now_ts=T0)
    call_id = call_log.new_call_id()
    call_log.call_started(call_id, start_fields(T0))
    assert call_log.flush()
    call_log.close()
    assert call(db_path, call_id)["started_at"] == "2024-04-03T21:02:11.123+09:00"


def test_call_ids_continue_after_reopen(db_path: Path) -> None:
    call_log = CallLog(db_path)
    call_log.open(now_ts=T0)
    first = [call_log.new_call_id() for _ in range(3)]
    for call_id in first:
        call_log.call_started(call_id, {**start_fields(T0), "ended_ts": T0 + 1})
    call_log.close()

    reopened = CallLog(db_path)
    reopened.open(now_ts=T0)
    assert reopened.new_call_id() == max(first) + 1
    reopened.close()


def test_unknown_fields_are_ignored_and_bad_values_dropped_without_losing_others(
    log: CallLog,
) -> None:
    good, bad = log.new_call_id(), log.new_call_id()
    log.call_started(good, {**start_fields(T0), "no_such_column": 1})
    log.call_started(bad, {**start_fields(T0), "line": object()})  # cannot be bound
    log.add_event("alarm", detail={"what": "test"}, ts=T0)

    assert log.flush()
    assert call(log.path, good)["line"] == "gsm1"
    assert rows(log.path, "SELECT id FROM calls WHERE id = ?", (bad,)) == []
    assert [e["kind"] for e in rows(log.path, "SELECT kind FROM events")] == ["alarm"]
    assert log.stats.dropped == 1


def test_enqueueing_never_raises_even_after_close(db_path: Path) -> None:
    call_log = CallLog(db_path)
    call_log.open(now_ts=T0)
    call_id = call_log.new_call_id()
    call_log.close()
    call_log.close()  # idempotent

    call_log.call_updated(call_id, {"ended_ts": T0})
    call_log.record_disposition(call_id, "prank", "op1", T0)
    call_log.add_event("alarm", ts=T0)
    assert call_log.stats.dropped == 3


def test_a_second_writer_on_the_same_file_is_refused(log: CallLog) -> None:
    intruder = CallLog(log.path)
    with pytest.raises(CallLogBusyError):
        intruder.open(now_ts=T0)
    log.close()
    intruder.open(now_ts=T0)  # the lock went with the first writer
    intruder.close()


def test_call_ids_are_handed_out_even_when_the_log_could_not_open(tmp_path: Path) -> None:
    call_log = CallLog(tmp_path / "never-opened.db")
    assert [call_log.new_call_id(), call_log.new_call_id()] == [1, 2]
    call_log.call_started(1, start_fields(T0))  # dropped and counted, never raised
    assert call_log.stats.dropped == 1


def test_disposition_updates_the_call_and_keeps_the_history(log: CallLog) -> None:
    call_id = log.new_call_id()
    log.call_started(call_id, start_fields(T0))
    log.record_disposition(call_id, "prank", "op1", T0 + 60)
    log.record_disposition(call_id, "genuine:fire", "op2", T0 + 120)  # a correction
    log.record_disposition(call_id, "ghost", "op3", T0 + 90)  # late write of an older verdict

    assert log.flush()
    row = call(log.path, call_id)
    assert row["disposition"] == "genuine:fire"
    assert row["disposition_ts"] == T0 + 120
    assert row["disposition_at"] == "2024-04-03T19:04:11.123+07:00"
    assert row["operator"] == "op1"
    history = rows(log.path, "SELECT * FROM dispositions ORDER BY id")
    assert [h["disposition"] for h in history] == ["prank", "genuine:fire", "ghost"]
    assert {h["caller"] for h in history} == {"+6281234567890"}
    assert {h["call_id"] for h in history} == {call_id}


def test_events_are_written_with_json_detail(log: CallLog) -> None:
    log.add_event("line_down", line="gsm2", detail={"error": "timeout", "retry_s": 5}, ts=T0)
    assert log.flush()
    (event,) = rows(log.path, "SELECT * FROM events")
    assert event["kind"] == "line_down"
    assert event["line"] == "gsm2"
    assert event["at"] == "2024-04-03T19:02:11.123+07:00"
    assert event["detail"] == '{"error": "timeout", "retry_s": 5}'


def test_history_since_is_ordered_by_started_ts_and_feeds_the_policy(log: CallLog) -> None:
    offsets = [30.0, -10.0, 10.0, -DAY_S * 40, 20.0]
    for offset in offsets:
        log.call_started(log.new_call_id(), start_fields(T0 + offset))
    late = log.new_call_id()
    log.call_started(late, start_fields(T0 + 5))
    log.call_updated(late, {"challenge_result": "passed", "challenge_ts": T0 + 7})
    log.call_updated(late, {"reached_operator": 1, "operator_ts": T0 + 8})
    log.record_disposition(late, "genuine:health", "op1", T0 + 100)
    withheld = log.new_call_id()
    log.call_started(withheld, start_fields(T0 + 40, caller=None))
    assert log.flush()

    history = [HistoryRow(**row) for row in log.history_since(T0 - DAY_S * 30)]
    assert [h.started_at for h in history] == [T0 - 10, T0 + 5, T0 + 10, T0 + 20, T0 + 30, T0 + 40]
    assert history[1] == HistoryRow(
        caller_e164="+6281234567890",
        number_class=NumberClass.NUMBER,
        started_at=T0 + 5,
        reached_operator=True,
        operator_at=T0 + 8,
        disposition="genuine:health",
        disposition_at=T0 + 100,
        challenge_result="passed",
        challenge_at=T0 + 7,
    )
    assert history[-1].number_class is NumberClass.WITHHELD
    assert history[-1].caller_e164 is None
    assert history[0].reached_operator is False


# ----------------------------------------------------------------------- durability

_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from appliance.store import CallLog

call_log = CallLog(Path(sys.argv[1]))
call_log.open(now_ts={t0})
for i in range(6):
    call_id = call_log.new_call_id()
    call_log.call_started(call_id, {{"line": "gsm1", "started_ts": {t0} + i, "decision": "pass"}})
    if i < 4:
        ended = {{"ended_ts": {t0} + 30 + i, "end_cause": "operator_hung_up"}}
        call_log.call_updated(call_id, ended)
if not call_log.flush(30):
    sys.exit(3)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_flushed_rows_survive_kill_9_and_calls_in_flight_are_marked_interrupted(
    db_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER.format(t0=T0)), str(db_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr

    call_log = CallLog(db_path)
    call_log.open(now_ts=T0 + 3600)
    call_log.close()

    calls = rows(db_path, "SELECT * FROM calls ORDER BY id")
    assert [c["id"] for c in calls] == [1, 2, 3, 4, 5, 6]
    for ended in calls[:4]:
        assert ended["ended_at"] is not None
        assert (ended["interrupted"], ended["end_cause"]) == (0, "operator_hung_up")
    for in_flight in calls[4:]:
        assert (in_flight["interrupted"], in_flight["end_cause"]) == (1, "interrupted")
        assert in_flight["ended_at"] == in_flight["started_at"]
    (event,) = rows(db_path, "SELECT * FROM events WHERE kind = 'interrupted_calls'")
    assert event["detail"] == '{"call_ids": [5, 6], "count": 2}'


def test_writes_blocked_by_another_writer_are_retried_and_nothing_is_lost(db_path: Path) -> None:
    call_log = CallLog(db_path, busy_timeout_s=0.02, retry_max_s=0.05)
    call_log.open(now_ts=T0)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock, as a stuck CLI would
    try:
        call_ids = [call_log.new_call_id() for _ in range(5)]
        for call_id in call_ids:
            call_log.call_started(call_id, start_fields(T0 + call_id))
        call_log.add_event("alarm", ts=T0)

        assert call_log.flush(timeout_s=0.3) is False
        stats = call_log.stats
        assert stats.failing
        assert stats.last_error is not None
        assert "locked" in stats.last_error
        assert stats.queue_depth == 6
    finally:
        blocker.execute("COMMIT")
        blocker.close()

    assert call_log.flush(timeout_s=30)
    assert not call_log.stats.failing
    call_log.close()
    assert [c["id"] for c in rows(db_path, "SELECT id FROM calls ORDER BY id")] == call_ids
    assert call_log.stats.dropped == 0


# ------------------------------------------------------------------------------ rules


def block_rule(pattern: str = "+6281234567890", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "block",
        "pattern": pattern,
        "reason": "prank x3",
        "created_by": "supervisor",
        "created_ts": T0,
        **extra,
    }


def test_rule_changes_are_seen_from_another_connection(db_path: Path) -> None:
    with RuleStore(db_path) as service, RuleStore(db_path) as cli:
        marker, changed = service.changed_since(None)
        assert changed
        assert service.changed_since(marker) == (marker, False)

        rule_id = cli.add(block_rule())
        marker, changed = service.changed_since(marker)
        assert changed
        assert [r["id"] for r in service.active(T0)] == [rule_id]

        assert cli.remove(rule_id, "supervisor", T0 + 60, reason="mistake")
        marker, changed = service.changed_since(marker)
        assert changed
        assert service.active(T0 + 61) == []
        assert service.changed_since(marker) == (marker, False)


def test_rules_defaults_listing_and_soft_delete(db_path: Path) -> None:
    with RuleStore(db_path) as store:
        blocked = store.add(block_rule())
        allowed = store.add(
            {
                "kind": "allow",
                "pattern": "+62254",
                "match": "prefix",
                "reason": "RSUD Serang",
                "created_by": "tech",
                "created_ts": T0 + 1,
            }
        )
        rule = store.get(blocked)
        assert rule is not None
        assert (rule["action"], rule["match"], rule["created_at"]) == (
            "challenge",
            "exact",
            "2024-04-03T19:02:11.123+07:00",
        )
        allow_rule = store.get(allowed)
        assert allow_rule is not None
        assert (allow_rule["action"], allow_rule["match"]) == ("pass", "prefix")
        assert [r["id"] for r in store.list(kind="allow")] == [allowed]

        assert store.remove(blocked, "supervisor", T0 + 10)
        assert store.remove(blocked, "supervisor", T0 + 20) is False  # already removed
        assert [r["id"] for r in store.list()] == [allowed]
        everything = {r["id"]: r for r in store.list(include_removed=True)}
        assert everything[blocked]["status"] == "removed"
        assert everything[blocked]["removed_by"] == "supervisor"
        assert store.remove("b-nope", "supervisor", T0) is False

    kinds = [e["kind"] for e in rows(db_path, "SELECT kind FROM events ORDER BY id")]
    assert kinds == ["rule_added", "rule_added", "rule_removed"]


def test_rules_expire_without_being_removed(db_path: Path) -> None:
    with RuleStore(db_path) as store:
        temporary = store.add(block_rule(expires_ts=T0 + DAY_S))
        permanent = store.add(block_rule("+6285700000000", action="reject"))

        assert {r["id"] for r in store.active(T0 + DAY_S - 1)} == {temporary, permanent}
        assert [r["id"] for r in store.active(T0 + DAY_S)] == [permanent]
        statuses = {r["id"]: r["status"] for r in store.list(now_ts=T0 + DAY_S)}
        assert statuses == {permanent: "active"}
        statuses = {
            r["id"]: r["status"] for r in store.list(include_removed=True, now_ts=T0 + DAY_S)
        }
        assert statuses == {temporary: "expired", permanent: "active"}
        rule = store.get(temporary)
        assert rule is not None
        assert rule["expires_at"] == "2024-04-04T19:02:11.123+07:00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "maybe"}, "kind"),
        ({"pattern": "081234567890"}, "pattern"),  # national form: never matches a caller
        ({"pattern": "withheld"}, "pattern"),
        ({"match": "regex"}, "match"),
        ({"action": "pass"}, "action"),  # a block rule must restrict
        ({"reason": " "}, "reason"),  # a permanent block needs one
        ({"created_by": ""}, "created_by"),
        ({"expires_ts": T0 - 1}, "expires_ts"),
        ({"colour": "red"}, "colour"),
        ({"id": "b-1"}, "already exists"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(
    db_path: Path, change: dict[str, Any], message: str
) -> None:
    with RuleStore(db_path) as store:
        store.add(block_rule(id="b-1"))
        with pytest.raises(ValueError, match=message):
            store.add({**block_rule(), **change})


def test_reason_is_optional_for_allow_rules_and_temporary_blocks(db_path: Path) -> None:
    with RuleStore(db_path) as store:
        store.add(block_rule(reason="", expires_ts=T0 + DAY_S))
        store.add({"kind": "allow", "pattern": "+62254200000", "created_by": "tech"})
        assert len(store.list()) == 2


def test_stored_rules_become_policy_rules(db_path: Path) -> None:
    with RuleStore(db_path) as store:
        rule_id = store.add(block_rule("+62812", match="prefix", expires_ts=T0 + DAY_S))
        (row,) = store.active(T0)
    assert rule_from_row(row) == Rule(
        id=rule_id,
        kind="block",
        pattern="+62812",
        match="prefix",
        action=Action.CHALLENGE,
        reason="prank x3",
        created_by="supervisor",
        created_at=T0,
        expires_at=T0 + DAY_S,
    )


def test_rule_writes_coexist_with_the_running_call_log(log: CallLog) -> None:
    with RuleStore(log.path) as cli:
        rule_id = cli.add(block_rule())
    call_id = log.new_call_id()
    log.call_started(call_id, start_fields(T0))
    assert log.flush()
    assert call(log.path, call_id)["id"] == call_id
    with RuleStore(log.path) as service:
        assert [r["id"] for r in service.active(T0)] == [rule_id]


# --------------------------------------------------------------------- read-only side


def test_readonly_connection_refuses_writes(log: CallLog) -> None:
    conn = open_readonly(log.path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM calls")
    finally:
        conn.close()


def test_tail_and_search(log: CallLog) -> None:
    callers = ["+6281111111111", "+6282222222222", "+6281111111111", None]
    for index, caller in enumerate(callers):
        call_id = log.new_call_id()
        log.call_started(call_id, start_fields(T0 + index * 60, caller))
    log.call_updated(3, {"decision": "challenge", "reason": "throttle"})
    log.record_disposition(1, "genuine:fire", "op1", T0 + 30)
    log.record_disposition(2, "prank", "op1", T0 + 90)
    assert log.flush()

    conn = open_readonly(log.path)
    try:
        assert [c["id"] for c in tail(conn, 2)] == [3, 4]
        assert [c["id"] for c in search_calls(conn, number="+6281111111111")] == [3, 1]
        assert [c["id"] for c in search_calls(conn, number="082222222222")] == [2]  # raw form
        assert [c["id"] for c in search_calls(conn, since_ts=T0 + 60, until_ts=T0 + 180)] == [3, 2]
        assert [c["id"] for c in search_calls(conn, decision="challenge", reason="throttle")] == [3]
        assert [c["id"] for c in search_calls(conn, disposition="genuine")] == [1]
        assert [c["id"] for c in search_calls(conn, disposition="prank")] == [2]
        assert [c["id"] for c in search_calls(conn, limit=1)] == [4]
    finally:
        conn.close()


def test_when_committed_resolves_once_the_rows_are_on_disk(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.db")
    log.open()
    try:
        call_id = log.new_call_id()
        log.call_started(call_id, {"line": "line1", "started_ts": 1_700_000_000.0})
        log.call_updated(call_id, {"ended_ts": 1_700_000_060.0, "end_cause": "caller_hung_up"})
        log.when_committed().result(timeout=10)
        reader = sqlite3.connect(tmp_path / "calls.db")
        ended = reader.execute("select ended_ts from calls where id = ?", (call_id,)).fetchone()
        reader.close()
        assert ended == (1_700_000_060.0,)
        assert log.commit_waiters == 0
        assert log.when_committed().done()  # nothing pending: resolved at once
    finally:
        log.close()
