"""The call-back list's store, on real SQLite files: listing, dedupe, marks, migration.

Releases are written the way the line service writes them, through a real `CallLog`
(`add_callback`, its writer thread and queue); marks the way the web process makes them,
through `mark_callback` inside a `BEGIN IMMEDIATE` transaction of a connection of its own.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from appliance.migrations import MIGRATIONS_TABLE, migration
from appliance.model import Action, NumberClass, Reason
from appliance.store import (
    CALLBACK_REASONS,
    CallbackNotFoundError,
    CallbackNotOpenError,
    CallLog,
    mark_callback,
    oldest_open,
    open_callbacks,
    open_count,
    open_readonly,
)
from appliance.store.callbacks import (
    NOTE_MAX_CHARS,
    callback_release,
    flood_list,
    flood_signature,
    get_callback,
    last_ended_flood,
    upsert_release,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Jakarta")
T0 = 1_712_120_400.0  # 2024-04-03 12:00 WIB
CALLER = "+6281234567890"
OTHER = "+6281298760000"
HEARD = {"voice_heard": False, "keys": "", "listened_s": 12.0}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "siaga.db"


@pytest.fixture
def log(db_path: Path) -> Iterator[CallLog]:
    call_log = CallLog(db_path)
    call_log.open(now_ts=T0)
    yield call_log
    call_log.close()


def release(log: CallLog, caller: str = CALLER, **fields: Any) -> None:
    """One release as the line service reports it (defaults: silent after the challenge)."""
    values: dict[str, Any] = {
        "caller": caller,
        "caller_raw": "0" + caller.removeprefix("+62"),
        "line": "gsm1",
        "call_id": None,
        "reason": "silent_after_challenge",
        "detail": HEARD,
        "ts": T0,
    }
    values.update(fields)
    log.add_callback(**values)


def entries(path: Path) -> list[dict[str, Any]]:
    conn = open_readonly(path)
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM callbacks ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def web(db_path: Path, log: CallLog) -> Iterator[sqlite3.Connection]:
    """A connection as the web process opens one (autocommit, its own transactions)."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=5.0)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def mark(
    conn: sqlite3.Connection, callback_id: int, status: str, note: str | None = None
) -> dict[str, Any]:
    """Mark as the web UI does: in one BEGIN IMMEDIATE transaction; the entry after."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        marked = mark_callback(
            conn, callback_id, status, by="siti", note=note, ts=T0 + 600, zone=ZONE
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return marked.after


# ------------------------------------------------------------------ listing


def test_a_release_is_listed_durably_with_what_was_heard(log: CallLog, db_path: Path) -> None:
    release(log, call_id=7)
    assert log.flush()
    [entry] = entries(db_path)
    assert entry["caller"] == CALLER and entry["caller_raw"] == "081234567890"
    assert (entry["line"], entry["call_id"]) == ("gsm1", 7)
    assert entry["reason"] == "silent_after_challenge"
    assert entry["detail"] == '{"keys": "", "listened_s": 12.0, "voice_heard": false}'
    assert (entry["first_ts"], entry["last_ts"]) == (T0, T0)
    assert entry["first_at"] == entry["last_at"] == "2024-04-03T12:00:00.000+07:00"
    assert (entry["attempts"], entry["status"]) == (1, "open")
    assert entry["status_ts"] is None and entry["status_by"] is None and entry["note"] is None


def test_a_caller_already_listed_is_counted_not_listed_twice(log: CallLog, db_path: Path) -> None:
    release(log, call_id=7)
    release(log, OTHER, ts=T0 + 5)
    release(
        log,
        call_id=9,
        line="gsm2",
        reason="hung_up_during_prompt",
        detail={"listened_s": 3.5},
        ts=T0 + 60,
    )
    # Written late (behind a newer one): it counts, but shows nothing older than it has.
    release(log, call_id=8, line="gsm3", reason="rang_while_starting", ts=T0 + 30)
    assert log.flush()
    mine, other = entries(db_path)
    assert mine["attempts"] == 3 and other["attempts"] == 1
    assert (mine["line"], mine["call_id"], mine["reason"]) == ("gsm2", 9, "hung_up_during_prompt")
    assert mine["detail"] == '{"listened_s": 3.5}'
    assert (mine["first_ts"], mine["last_ts"]) == (T0, T0 + 60)
    assert mine["last_at"] == "2024-04-03T12:01:00.000+07:00"


def test_a_release_written_twice_is_one_attempt(db_path: Path, log: CallLog) -> None:
    """A commit that failed ambiguously and was retried must not count the caller twice."""
    same = callback_release(
        caller=CALLER,
        caller_raw=None,
        line="gsm1",
        call_id=4,
        reason="silent_after_challenge",
        detail={},
        ts=T0,
    )
    with Database(db_path) as db:
        for _ in range(2):
            upsert_release(db.conn, same, ZONE)
        db.conn.commit()
    [entry] = entries(db_path)
    assert entry["attempts"] == 1


@pytest.mark.parametrize(
    "caller", [None, "", "081234567890", "withheld", "+62 812", "+6281234567890<script>"]
)
def test_a_caller_without_a_number_is_not_listed_and_nothing_raises(
    log: CallLog, db_path: Path, caller: Any
) -> None:
    release(log, caller="+6281111111111")  # a real one still lands around it
    log.add_callback(
        caller=caller, caller_raw=caller, line="gsm1", call_id=None, reason="x", detail={}, ts=T0
    )
    assert log.flush()
    assert [entry["caller"] for entry in entries(db_path)] == ["+6281111111111"]
    assert log.stats.dropped == 0


def test_a_reason_that_is_no_machine_word_is_refused_without_raising(
    log: CallLog, db_path: Path
) -> None:
    release(log, reason="<b>silent</b>")
    release(log, OTHER, reason=Reason.FLOOD)  # an enum is written as its value
    assert log.flush()
    assert [(entry["caller"], entry["reason"]) for entry in entries(db_path)] == [(OTHER, "flood")]


def test_the_reasons_the_line_service_gives_are_machine_words_with_words_for_people() -> None:
    from web_ui.messages.callbacks import MESSAGES

    for reason in CALLBACK_REASONS:
        assert reason.isidentifier() and reason == reason.lower(), reason
        indonesian, english = MESSAGES[f"callbacks.reason.{reason}"]
        assert indonesian and english


def test_the_open_list_is_newest_first_with_the_callers_calls_and_last_verdict(
    log: CallLog, db_path: Path
) -> None:
    for offset in (-40 * 86_400.0, -3600.0, -60.0):  # the first is older than 30 days
        call_id = log.new_call_id()
        log.call_started(
            call_id,
            {
                "line": "gsm1",
                "caller": CALLER,
                "caller_raw": "081234567890",
                "number_class": NumberClass.NUMBER,
                "started_ts": T0 + offset,
                "decision": Action.PASS,
                "reason": Reason.DEFAULT,
            },
        )
    log.record_disposition(1, "genuine:fire", "budi", T0 - 40 * 86_400.0)
    log.record_disposition(2, "prank", "siti", T0 - 3000)
    release(log, call_id=3, ts=T0)
    release(log, OTHER, ts=T0 + 10)
    assert log.flush()
    conn = open_readonly(db_path)
    try:
        listed = open_callbacks(conn, now_ts=T0 + 20)
        assert [entry["caller"] for entry in listed] == [OTHER, CALLER]
        assert (listed[1]["calls_30d"], listed[1]["last_disposition"]) == (2, "prank")
        assert (listed[0]["calls_30d"], listed[0]["last_disposition"]) == (0, None)
        assert listed[1]["detail"] == HEARD
        assert [e["caller"] for e in open_callbacks(conn, now_ts=T0, limit=1)] == [OTHER]
        assert open_count(conn) == 2
        oldest = oldest_open(conn)
        assert oldest is not None and oldest["caller"] == CALLER
    finally:
        conn.close()


def started(log: CallLog, caller: str, ts: float, rule: str | None = None) -> int:
    """A call's first row as the line service writes it; its id."""
    call_id = log.new_call_id()
    log.call_started(
        call_id,
        {
            "line": "gsm1",
            "caller": caller,
            "caller_raw": "0" + caller.removeprefix("+62"),
            "number_class": NumberClass.NUMBER,
            "started_ts": ts,
            "decision": Action.PASS if rule is None else Action.REJECT,
            "reason": Reason.DEFAULT if rule is None else Reason.FLOOD,
            "rule": rule,
        },
    )
    return call_id


def test_a_caller_who_gets_through_is_taken_off_the_list(log: CallLog, db_path: Path) -> None:
    release(log, CALLER, ts=T0)
    release(log, OTHER, ts=T0)
    call_id = started(log, CALLER, T0 + 60)
    log.call_updated(call_id, {"reached_operator": 0})  # ringing the desk: not yet
    assert log.flush()
    assert [entry["status"] for entry in entries(db_path)] == ["open", "open"]
    log.call_updated(call_id, {"reached_operator": 1, "operator_ts": T0 + 70, "operator": "siti"})
    assert log.flush()
    mine, other = entries(db_path)
    assert (mine["status"], mine["status_by"], mine["status_ts"]) == ("done", "siaga", T0 + 70)
    assert mine["note"] == f"reached an operator on call {call_id}"
    assert other["status"] == "open"  # another caller's entry stays


def test_an_entry_listed_after_the_call_began_stays_open(log: CallLog, db_path: Path) -> None:
    call_id = started(log, CALLER, T0)
    release(log, CALLER, ts=T0 + 30)  # released on another line meanwhile
    log.call_updated(call_id, {"reached_operator": 1, "operator_ts": T0 + 40, "operator": "siti"})
    assert log.flush()
    assert [entry["status"] for entry in entries(db_path)] == ["open"]


def test_dismissing_a_flood_keeps_the_callers_a_person_may_be_behind(
    log: CallLog, db_path: Path
) -> None:
    block = "+62857120"
    log.add_event("flood_on", detail={"reason": "block", "hot_prefix": block}, ts=T0)
    flood_numbers = [f"{block}{index:04d}" for index in range(4)]
    for offset, number in enumerate(flood_numbers):
        release(log, number, ts=T0 + 10 + offset, reason="released_in_flood")
    started(log, "+628131110000", T0 + 20, rule="flood:+62813111")  # a second hot block
    release(log, "+628131110001", ts=T0 + 21, reason="released_in_flood")
    outside = "+6281377770000"  # not one of the flood's numbers
    release(log, outside, ts=T0 + 30, reason="waiting_during_flood")
    tried_twice = f"{block}9999"
    release(log, tried_twice, ts=T0 + 40, reason="released_in_flood")
    release(log, tried_twice, ts=T0 + 80, reason="waiting_during_flood")
    release(log, OTHER, ts=T0 - 60)  # listed before the flood
    log.add_event("flood_off", detail={}, ts=T0 + 600)
    assert log.flush()
    conn = sqlite3.connect(db_path)
    try:
        flood = last_ended_flood(conn)
        assert flood is not None
        assert flood_signature(conn, flood) == ("+62813111", block)
        split = flood_list(conn, flood)
        assert [entry["caller"] for entry in split.dismissable] == [
            *flood_numbers,
            "+628131110001",
        ]
        assert [entry["caller"] for entry in split.kept] == [outside, tried_twice]
    finally:
        conn.close()


def test_a_flood_without_a_signature_keeps_only_who_tried_again_or_was_genuine(
    log: CallLog, db_path: Path
) -> None:
    genuine = "+6281311112222"
    call_id = started(log, genuine, T0 - 86_400)
    log.record_disposition(call_id, "genuine:fire", "budi", T0 - 86_000)
    log.add_event("flood_on", detail={"reason": "waiting", "hot_prefix": None}, ts=T0)
    for caller in (CALLER, OTHER, genuine):
        release(log, caller, ts=T0 + 10, reason="waiting_during_flood")
    release(log, OTHER, ts=T0 + 50, reason="waiting_during_flood")
    log.add_event("flood_off", detail={}, ts=T0 + 600)
    assert log.flush()
    conn = sqlite3.connect(db_path)
    try:
        flood = last_ended_flood(conn)
        assert flood is not None and flood_signature(conn, flood) == ()
        split = flood_list(conn, flood)
        assert [entry["caller"] for entry in split.dismissable] == [CALLER]
        assert [entry["caller"] for entry in split.kept] == [OTHER, genuine]
    finally:
        conn.close()


# ------------------------------------------------------------------ marking


def test_a_marked_entry_leaves_the_open_list_and_a_later_release_opens_a_new_one(
    log: CallLog, db_path: Path, web: sqlite3.Connection
) -> None:
    release(log, call_id=3)
    release(log, call_id=4, ts=T0 + 60)
    assert log.flush()
    [entry] = entries(db_path)
    after = mark(web, entry["id"], "done", note="  called back: all well  ")
    assert (after["status"], after["status_by"]) == ("done", "siti")
    assert after["note"] == "called back: all well"  # trimmed
    assert after["status_ts"] == T0 + 600
    assert after["status_at"] == "2024-04-03T12:10:00.000+07:00"
    assert after["attempts"] == 2 and after["detail"] == HEARD
    assert open_callbacks(web, now_ts=T0 + 700) == [] and open_count(web) == 0
    assert oldest_open(web) is None

    release(log, call_id=5, ts=T0 + 900, reason="waiting_during_flood", detail={})
    assert log.flush()
    old, new = entries(db_path)
    assert (old["status"], old["attempts"]) == ("done", 2)
    assert (new["status"], new["attempts"], new["call_id"]) == ("open", 1, 5)
    assert new["first_ts"] == T0 + 900
    assert mark(web, new["id"], "unreachable")["note"] is None


def test_an_entry_is_marked_once_and_refusals_change_nothing(
    log: CallLog, db_path: Path, web: sqlite3.Connection
) -> None:
    release(log)
    assert log.flush()
    [entry] = entries(db_path)
    mark(web, entry["id"], "unreachable", note="no answer twice")
    with pytest.raises(CallbackNotOpenError, match=r"marked unreachable by siti"):
        mark(web, entry["id"], "done")
    with pytest.raises(CallbackNotFoundError):
        mark(web, entry["id"] + 100, "done")
    release(log, OTHER)
    assert log.flush()
    other = entries(db_path)[1]["id"]
    with pytest.raises(ValueError, match="done or unreachable"):
        mark(web, other, "open")
    with pytest.raises(ValueError, match="at most"):
        mark(web, other, "done", note="x" * (NOTE_MAX_CHARS + 1))
    first, second = entries(db_path)
    assert (first["status"], first["note"]) == ("unreachable", "no answer twice")
    assert second["status"] == "open" and second["status_by"] is None
    assert get_callback(web, other) is not None and get_callback(web, 10**9) is None


# ------------------------------------------------------------------ schema


def test_the_schema_keeps_one_open_entry_per_caller_and_only_numbers(
    log: CallLog, db_path: Path
) -> None:
    release(log)
    assert log.flush()
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        insert = (
            "INSERT INTO callbacks (caller, reason, first_ts, last_ts, status)"
            " VALUES (?, 'x', 0, 0, ?)"
        )
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(insert, [CALLER, "open"])
        conn.execute(insert, [CALLER, "done"])  # closed entries of the same caller: any number
        conn.execute(insert, [CALLER, "done"])
        for caller in (None, "081234567890", "+", "+62<script>", "+1234567890123456"):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(insert, [caller, "open"])
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(insert, [OTHER, "called"])
    finally:
        conn.close()


def test_the_open_list_and_the_callers_entries_are_read_through_indexes(
    log: CallLog, db_path: Path
) -> None:
    conn = open_readonly(db_path)
    statements = []
    conn.set_trace_callback(statements.append)
    try:
        open_callbacks(conn, now_ts=T0)
        open_count(conn)
        oldest_open(conn)
        plans = {
            sql: " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            for sql in statements
            if sql.startswith("SELECT")
        }
        by_caller = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM callbacks WHERE caller = ? ORDER BY last_ts DESC",
            [CALLER],
        ).fetchall()
    finally:
        conn.close()
    assert len(plans) == 3
    for sql, plan in plans.items():
        assert "SCAN callbacks" not in plan, (sql, plan)
        assert "callbacks_" in plan, (sql, plan)
        assert "SCAN calls" not in plan and "SCAN dispositions" not in plan, (sql, plan)
    assert "USING INDEX callbacks_caller" in " ".join(row[3] for row in by_caller)


def test_the_migration_adds_the_list_to_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Database(path) as db:
        migration.apply(db, stop_before="0014_callbacks")
        db.execute(
            "INSERT INTO calls (line, caller, started_ts, decision) VALUES ('gsm1', ?, ?, 'pass')",
            [CALLER, T0],
        )
        db.conn.commit()
        assert "callbacks" not in db.table_names()
    call_log = CallLog(path)
    call_log.open(now_ts=T0)
    try:
        release(call_log, call_id=1)
        assert call_log.flush()
    finally:
        call_log.close()
    with Database(path) as db:
        applied = [row["name"] for row in db.query(f"SELECT name FROM {MIGRATIONS_TABLE}")]
        assert "0014_callbacks" in applied
        indexes = {index.name for index in db.table("callbacks").indexes}
        assert {"callbacks_open_caller", "callbacks_status_last", "callbacks_caller"} <= indexes
        assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == 1
    [entry] = entries(path)
    assert (entry["caller"], entry["call_id"], entry["status"]) == (CALLER, 1, "open")


# ------------------------------------------------------------------ durability

_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from appliance.store import CallLog

call_log = CallLog(Path(sys.argv[1]))
call_log.open(now_ts={t0})
for n in range(3):
    call_log.add_callback(
        caller="+628123456780" + str(n), caller_raw=None, line="gsm1", call_id=None,
        reason="rang_while_starting", detail={{"rings": n + 1}}, ts={t0} + n,
    )
if not call_log.flush(30):
    sys.exit(3)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_flushed_release_survives_kill_9(db_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER.format(t0=T0)), str(db_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    listed = entries(db_path)
    assert [entry["caller"] for entry in listed] == [f"+628123456780{n}" for n in range(3)]
    assert [entry["detail"] for entry in listed] == ['{"rings": 1}', '{"rings": 2}', '{"rings": 3}']


def test_which_ended_calls_go_on_the_call_back_list() -> None:
    """Every caller who never reached an operator, except those released on a junk record."""
    from appliance.gateway import call_back_reason
    from appliance.line import ActiveCall
    from appliance.model import Action, ChallengeResult, Decision, Reason

    def ended(
        decision: Decision, result: ChallengeResult | None = None, **fields: Any
    ) -> ActiveCall:
        call = ActiveCall(call_id=1, started_ts=0.0, decision=decision, challenge_result=result)
        for name, value in fields.items():
            setattr(call, name, value)
        return call

    challenge = Decision(Action.CHALLENGE, Reason.NO_HISTORY)
    assert call_back_reason(ended(challenge, ChallengeResult.TIMEOUT)) == "silent_after_challenge"
    assert (
        call_back_reason(ended(challenge, ChallengeResult.CALLER_HUNG_UP))
        == "hung_up_during_prompt"
    )
    assert call_back_reason(ended(challenge, ChallengeResult.FAILED)) == "wrong_keys"
    spoke = ended(
        challenge, ChallengeResult.TIMEOUT, voice_heard=True, end_cause="challenge_timeout"
    )
    assert call_back_reason(spoke) == "spoke_without_key"  # the pocket pattern
    gone = ended(challenge, ChallengeResult.TIMEOUT, voice_heard=True, end_cause="caller_hung_up")
    assert call_back_reason(gone) == "hung_up_waiting"  # heard, passed, gave up waiting
    reserve = Decision(Action.REJECT, Reason.FLOOD, "flood:reserve")
    assert call_back_reason(ended(reserve)) == "released_in_flood"
    assert call_back_reason(ended(Decision(Action.PASS, Reason.DEFAULT))) == "hung_up_waiting"
    # Junk records: a flood signature, a block rule, the ladder; and anyone who got through.
    assert call_back_reason(ended(Decision(Action.REJECT, Reason.FLOOD, "flood:+628"))) is None
    assert call_back_reason(ended(Decision(Action.CHALLENGE, Reason.BLOCKLIST, "r1"))) is None
    assert call_back_reason(ended(Decision(Action.CHALLENGE, Reason.ABUSE, "reputation"))) is None
    reached = ended(Decision(Action.PASS, Reason.DEFAULT), operator_ts=5.0)
    assert call_back_reason(reached) is None
