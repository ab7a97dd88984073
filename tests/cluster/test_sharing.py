"""Appliances of one site share rules and verdicts through a real nats-server.

Each box is a real SQLite file written through the project's own stores (the CLI's rule
store, the service's call log) and a real `SyncAgent`; the server is a real `nats-server`
with JetStream, stopped, restarted and fed garbage as the tests need.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import nats
import pytest

from appliance.cluster import store
from appliance.cluster.feed import PeerFactFeed
from appliance.cluster.messages import MessageRefused, decode_fact, fact_subject
from appliance.config import PolicyConfig
from appliance.model import CallerNumber, NumberClass
from appliance.policy import PolicyState, SharedFact
from appliance.store import CallLog, RuleStore
from appliance.store.callbacks import callback_release, mark_callback, upsert_release
from appliance.store.db import connect_writer, immediate
from tests.cluster.conftest import SITE, ZONE, AgentThread, NatsServer, connected, rows, wait_for

NUMBER = "+6281234567890"


def block(db: Path, pattern: str, *, by: str = "supervisor", reason: str = "prank crew") -> str:
    """A block added as `siaga block add` does."""
    rules = RuleStore(db, timezone=ZONE)
    try:
        return rules.add(
            {"kind": "block", "pattern": pattern, "match": "prefix", "action": "reject",
             "reason": reason, "created_by": by}
        )  # fmt: skip
    finally:
        rules.close()


def unblock(db: Path, rule_id: str, *, by: str, reason: str) -> None:
    rules = RuleStore(db, timezone=ZONE)
    try:
        assert rules.remove(rule_id, by, time.time(), reason=reason)
    finally:
        rules.close()


def rule_row(db: Path, rule_id: str) -> dict[str, object] | None:
    found = rows(
        db,
        "SELECT pattern, action, removed_ts, removed_by, removed_reason, origin FROM rules"
        " WHERE id = ?",
        rule_id,
    )
    if not found:
        return None
    names = ("pattern", "action", "removed_ts", "removed_by", "removed_reason", "origin")
    return dict(zip(names, found[0], strict=True))


def shared_columns(db: Path, rule_id: str) -> dict[str, object]:
    """The rule as the site shares it (`origin` is NULL on the box that made it)."""
    row = rule_row(db, rule_id) or {}
    return {name: value for name, value in row.items() if name != "origin"}


def record_verdicts(db: Path, caller: str, verdicts: list[str], first_call_id: int = 1) -> None:
    """Calls from `caller` and an operator's verdict on each, through the service's writer."""
    log = CallLog(db, timezone=ZONE)
    log.open()
    try:
        now = time.time()
        for offset, verdict in enumerate(verdicts):
            call_id = first_call_id + offset
            log.call_started(
                call_id,
                {"line": "line1", "caller_raw": caller, "caller": caller,
                 "number_class": "number", "started_ts": now - 60 + offset,
                 "decision": "pass", "reason": "no_history"},
            )  # fmt: skip
            log.call_updated(call_id, {"ended_ts": now - 30 + offset, "end_cause": "operator"})
            log.record_disposition(call_id, verdict, "op1", now - 20 + offset)
        assert log.flush()
    finally:
        log.close()


def test_a_rule_added_on_one_box_is_in_force_on_the_other_and_removal_comes_back(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    connected(box_a, box_b)

    rule_id = block(a, "+62899")
    shared = wait_for(lambda: rule_row(b, rule_id), "the rule on box b")
    assert shared == {"pattern": "+62899", "action": "reject", "removed_ts": None,
                      "removed_by": None, "removed_reason": None, "origin": "a"}  # fmt: skip
    active_on_b = RuleStore(b, timezone=ZONE).active(time.time())
    assert [row["id"] for row in active_on_b] == [rule_id]

    unblock(b, rule_id, by="supervisor-b", reason="carrier took the range back")
    removed = wait_for(
        lambda: (rule_row(a, rule_id) or {}).get("removed_ts"), "the removal on box a"
    )
    assert removed == rule_row(b, rule_id)["removed_ts"]  # type: ignore[index]
    assert rule_row(a, rule_id)["removed_by"] == "supervisor-b"  # type: ignore[index]
    assert rows(b, "SELECT count(*) FROM outbox WHERE kind = 'rule' AND sent_ts IS NULL") == [(0,)]


def test_rules_made_before_a_box_joined_reach_the_site(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    older = [block(a, f"+6289{digit}") for digit in range(3)]
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    connected(box_a, box_b)
    wait_for(
        lambda: len(rows(b, "SELECT id FROM rules WHERE origin = 'a'")) == 3,
        "box a's three older rules on box b",
    )
    assert sorted(row[0] for row in rows(b, "SELECT id FROM rules")) == sorted(older)


def test_a_verdict_on_one_box_restricts_the_number_on_the_other_once(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    connected(box_a, box_b)
    connect_writer(b).close()  # box b's schema, as its service makes it at start
    feed = PeerFactFeed(b)
    assert feed.since(0.0) == []

    record_verdicts(a, NUMBER, ["prank", "prank", "ghost"])
    wait_for(lambda: len(rows(b, "SELECT id FROM peer_facts")) == 3, "three verdicts on box b")
    facts = feed.new()
    assert [(fact.caller_e164, fact.kind, fact.value) for fact in facts] == [
        (NUMBER, "verdict", "prank"),
        (NUMBER, "verdict", "prank"),
        (NUMBER, "verdict", "ghost"),
    ]
    policy = PolicyState(PolicyConfig())
    now = time.time()
    assert policy.ladder_status(NUMBER, now) is None
    for fact in facts:
        policy.record_shared_fact(fact)
    status = policy.ladder_status(NUMBER, now)
    assert status is not None and status.level == 1  # three junk verdicts: the first step

    assert rows(a, "SELECT count(*) FROM peer_facts") == [(0,)]  # its own are not echoed
    box_b.stop()  # a restart replays the stream from where its consumer stopped
    agents(nats_server, "b", b)
    record_verdicts(a, NUMBER, ["genuine:fire"], first_call_id=10)
    wait_for(lambda: len(rows(b, "SELECT id FROM peer_facts")) == 4, "the fourth verdict")
    time.sleep(0.5)
    assert rows(b, "SELECT count(*), count(DISTINCT origin_seq) FROM peer_facts") == [(4, 4)]


def test_a_message_resent_after_a_lost_acknowledgement_is_applied_once(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    connected(box_a, box_b)
    record_verdicts(a, NUMBER, ["prank"])
    wait_for(lambda: rows(b, "SELECT count(*) FROM peer_facts") == [(1,)], "the verdict")
    box_a.stop()
    db = connect_writer(a)
    with db.conn:  # as if the server's acknowledgement had never arrived
        db.execute("UPDATE outbox SET sent_ts = NULL WHERE kind = 'fact'")
    db.close()
    agents(nats_server, "a", a)
    wait_for(
        lambda: rows(a, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(0,)],
        "the re-send",
    )
    time.sleep(0.5)
    assert rows(b, "SELECT count(*) FROM peer_facts") == [(1,)]


LONG_DOWN_S = 150.0  # the site's server down for minutes, as a real outage is
DOWN_ROUND_S = 30.0  # while it is down, both boxes change rules and take calls this often


@pytest.mark.parametrize(
    "down_s",
    [
        pytest.param(0.0, id="seconds"),
        pytest.param(LONG_DOWN_S, id="for-minutes", marks=pytest.mark.timeout(400)),
    ],
)
def test_a_partition_loses_nothing_and_a_conflict_is_recorded(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread], down_s: float
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    connected(box_a, box_b)
    contested = block(a, "+62877")
    wait_for(lambda: rule_row(b, contested), "the contested rule on box b")

    nats_server.kill()
    wait_for(lambda: not box_a.is_connected() and not box_b.is_connected(), "the link down")
    only_a, only_b = [block(a, "+62811")], [block(b, "+62822")]
    unblock(a, contested, by="supervisor-a", reason="reported in error")
    time.sleep(0.01)
    unblock(b, contested, by="supervisor-b", reason="range reassigned")
    record_verdicts(a, NUMBER, ["prank", "prank"])
    rounds = round(down_s / DOWN_ROUND_S)
    for index in range(rounds):  # both sides go on while the server stays down
        time.sleep(DOWN_ROUND_S)
        only_a.append(block(a, f"+628119{index:02d}"))
        only_b.append(block(b, f"+628229{index:02d}"))
        record_verdicts(a, NUMBER, ["ghost"], first_call_id=10 + index)
    assert rows(a, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL")[0][0] >= 4 + 2 * rounds

    nats_server.start()
    # After minutes down, an agent's next try may be its longest wait (60 s) away.
    back_s = 30.0 if down_s == 0 else 90.0
    connected(box_a, box_b, timeout_s=back_s)
    for db, others in ((a, only_b), (b, only_a)):
        for other in others:
            wait_for(lambda db=db, other=other: rule_row(db, other), f"{other} on {db.name}")
    verdicts = 2 + rounds
    wait_for(lambda: rows(b, "SELECT count(*) FROM peer_facts") == [(verdicts,)], "every verdict")
    wait_for(
        lambda: shared_columns(a, contested) == shared_columns(b, contested),
        "one removal on both boxes",
    )
    merged = rule_row(a, contested)
    assert merged is not None and merged["removed_by"] == "supervisor-a"  # the earlier one
    conflicts = rows(a, "SELECT detail FROM events WHERE kind = 'rule_conflict'") + rows(
        b, "SELECT detail FROM events WHERE kind = 'rule_conflict'"
    )
    assert conflicts, "a conflict resolved silently"
    assert json.loads(conflicts[0][0])["id"] == contested
    for db in (a, b):
        assert rows(db, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(0,)]
    assert rows(b, "SELECT count(*), count(DISTINCT origin_seq) FROM peer_facts") == [
        (verdicts, verdicts)
    ]


def test_garbage_on_the_site_subjects_is_refused_and_sharing_goes_on(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    b = tmp_path / "b.db"
    box_b = agents(nats_server, "b", b)
    wait_for(box_b.is_connected, "box b to connect")

    async def attack() -> None:
        client = await nats.connect(nats_server.url)
        js = client.jetstream()
        fact = f"siaga.fact.{SITE}"
        good = {"origin": "evil", "seq": 1, "kind": "verdict", "caller": NUMBER,
                "value": "prank", "ts": time.time()}  # fmt: skip
        for subject, body in (
            (f"{fact}.evil", b"\xff\xfe not json"),
            (f"{fact}.evil", b"[1, 2, 3]"),
            (f"{fact}.evil", json.dumps({**good, "caller": "<script>alert(1)</script>"})),
            (f"{fact}.evil", json.dumps({**good, "value": "DROP TABLE calls"})),
            (f"{fact}.evil", json.dumps({**good, "ts": float("nan")}).replace("NaN", "1e999")),
            (f"{fact}.mallory", json.dumps(good)),  # claims to be another box
            (f"{fact}.evil", json.dumps({**good, "seq": 2}) + " " * 20_000),
            (f"{fact}.evil", json.dumps({**good, "seq": 4, "kind": "callback", "value": "x"})),
            (f"$KV.siaga_rules.{SITE}.b-1", b"{}"),
            (f"$KV.siaga_rules.{SITE}.b-2", json.dumps({"id": "b-3", "kind": "block"})),
            (f"$KV.siaga_rules.{SITE}.b-4",
             json.dumps({"id": "b-4", "kind": "block", "pattern": "+62", "match": "prefix",
                         "action": "explode", "created_ts": 1.0, "origin": "evil"})),
        ):  # fmt: skip
            data = body if isinstance(body, bytes) else body.encode()
            await js.publish(subject, data)
        await js.publish(f"{fact}.evil", json.dumps({**good, "seq": 3}).encode())
        await client.close()

    asyncio.run(attack())
    wait_for(lambda: rows(b, "SELECT count(*) FROM peer_facts") == [(1,)], "the one good fact")
    wait_for(lambda: box_b.agent.refused >= 11, "eleven refusals")
    assert rows(b, "SELECT origin, origin_seq, value FROM peer_facts") == [("evil", 3, "prank")]
    assert rows(b, "SELECT count(*) FROM rules") == [(0,)]
    assert box_b.is_connected()


def test_a_box_without_cluster_keeps_no_outbox(tmp_path: Path) -> None:
    db_path = tmp_path / "solo.db"
    block(db_path, "+62855")
    record_verdicts(db_path, NUMBER, ["prank"])
    assert rows(db_path, "SELECT count(*) FROM outbox") == [(0,)]
    db = connect_writer(db_path)
    assert store.declare(db, SITE, "solo", time.time())
    assert rows(db_path, "SELECT kind, key FROM outbox") == [
        ("rule", rows(db_path, "SELECT id FROM rules")[0][0])
    ]
    assert store.withdraw(db)
    db.close()
    block(db_path, "+62856")
    assert rows(db_path, "SELECT count(*) FROM outbox") == [(1,)]


def test_the_line_service_is_fed_the_sites_facts_in_order(tmp_path: Path) -> None:
    db_path = tmp_path / "b.db"
    record_verdicts(db_path, NUMBER, ["prank"])  # the call log's tables
    db = connect_writer(db_path)
    now = time.time()
    sent = [
        store.ReceivedFact("a", 1, "verdict", NUMBER, "prank", now - 30),
        store.ReceivedFact("a", 2, "callback", NUMBER, "done", now - 20),
        store.ReceivedFact("a", 3, "challenge", NUMBER, "passed", now - 10),
    ]
    assert store.add_peer_facts(db, sent, now, ZoneInfo(ZONE)) == 3
    db.close()
    feed = PeerFactFeed(db_path)
    assert [fact.kind for fact in feed.since(now - 60)] == ["verdict", "callback", "challenge"]
    db = connect_writer(db_path)
    later = [
        store.ReceivedFact("a", 4, "callback", NUMBER, "done", now),
        store.ReceivedFact("a", 5, "verdict", NUMBER, "ghost", now),
    ]
    store.add_peer_facts(db, later, now, ZoneInfo(ZONE))
    db.close()
    assert [(fact.kind, fact.value) for fact in feed.new()] == [
        ("callback", "done"),
        ("verdict", "ghost"),
    ]


@pytest.mark.parametrize("sharing", [False, True], ids=["alone", "sharing"])
def test_a_call_back_marked_on_this_box_reaches_its_own_line_service(
    tmp_path: Path, sharing: bool
) -> None:
    """An operator's call-back marked `done` here is a contact with the number on this box
    too, sharing or alone: the feed hands it over once, as a `callback` fact."""
    db_path = tmp_path / "b.db"
    record_verdicts(db_path, NUMBER, ["prank"])  # the call log's tables
    db = connect_writer(db_path)
    now = time.time()
    if sharing:
        store.declare(db, SITE, "b", now)
    feed = PeerFactFeed(db_path)
    assert feed.since(now - 60) == []
    release = callback_release(
        caller=NUMBER, caller_raw=NUMBER, line="line1", call_id=1, reason="silent_after_challenge",
        detail={}, ts=now - 50,
    )  # fmt: skip
    with immediate(db):
        upsert_release(db.conn, release, ZoneInfo(ZONE))
    entry_id = rows(db_path, "SELECT id FROM callbacks")[0][0]
    with immediate(db):
        mark_callback(db.conn, entry_id, "unreachable", by="op1", note=None, ts=now - 40,
                      zone=ZoneInfo(ZONE))  # fmt: skip
        upsert_release(db.conn, replace(release, ts=now - 30), ZoneInfo(ZONE))
    assert feed.new() == []  # nobody reached the caller
    second_id = rows(db_path, "SELECT max(id) FROM callbacks")[0][0]
    with immediate(db):
        mark_callback(db.conn, second_id, "done", by="op1", note="ibu jatuh, sudah dikirim",
                      ts=now - 10, zone=ZoneInfo(ZONE))  # fmt: skip
    db.close()
    mark = SharedFact(NUMBER, "callback", "done", now - 10, origin="b" if sharing else "")
    assert feed.new() == [mark]
    assert feed.new() == []
    # The fact a sharing box publishes is the site's; its own copy counts no peer.
    published = rows(db_path, "SELECT count(*) FROM outbox WHERE kind = 'fact'")[0][0]
    assert published == (1 if sharing else 0)
    assert PeerFactFeed(db_path).since(now - 60) == [mark]


def test_a_call_back_served_restarts_the_throttle_window() -> None:
    """A caller an operator reached by call-back is not throttled for the calls before it,
    as after a call an operator answered."""
    policy = PolicyState(PolicyConfig())
    now = time.time()
    caller = CallerNumber(raw=NUMBER, e164=NUMBER, number_class=NumberClass.NUMBER)
    for offset in (300, 200, 100):
        policy.record_arrival(caller, now - offset)
    assert policy.calls_in_window(NUMBER, now, 3600) == 3
    policy.record_shared_fact(SharedFact(NUMBER, "callback", "done", now - 50))
    assert policy.calls_in_window(NUMBER, now, 3600) == 0
    replayed = PolicyState(PolicyConfig())
    replayed.replay([], now, shared=[SharedFact(NUMBER, "callback", "done", now - 150)])
    for offset in (300, 200, 100):
        replayed.record_arrival(caller, now - offset)
    assert replayed.calls_in_window(NUMBER, now, 3600) == 1


@pytest.mark.parametrize("kind", ["verdict", "challenge"])
def test_replay_folds_the_sites_facts_in(kind: Literal["verdict", "challenge"]) -> None:
    policy = PolicyState(PolicyConfig())
    now = time.time()
    value = "prank" if kind == "verdict" else "passed"
    facts = [SharedFact(NUMBER, kind, value, now - 60 + i) for i in range(3)]
    policy.replay([], now, shared=facts)
    status = policy.ladder_status(NUMBER, now)
    if kind == "verdict":
        assert status is not None and status.level == 1
    else:
        assert status is None


def test_the_line_service_does_not_load_the_nats_client() -> None:
    """Sharing lives in its own process; the line service only reads SQLite."""
    probe = (
        "import sys, appliance.service, appliance.cli; "
        "print(sorted(m for m in sys.modules if m == 'nats' or m.startswith('nats.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def sharing_box(db_path: Path) -> Path:
    """A call log that shares as box `a` of the site (its outbox triggers on)."""
    record_verdicts(db_path, NUMBER, [])  # the call log's tables
    db = connect_writer(db_path)
    store.declare(db, SITE, "a", time.time())
    db.close()
    return db_path


def outbox_facts(db_path: Path) -> list[dict[str, Any]]:
    """The facts waiting to be published, oldest first, as their payloads."""
    db = connect_writer(db_path)
    try:
        return [row.payload for row in store.unsent(db, 100) if row.kind == "fact"]
    finally:
        db.close()


def test_a_replaced_verdict_is_withdrawn_for_the_site(tmp_path: Path) -> None:
    """An operator's second verdict on a call: the box sends the earlier one withdrawn
    beside the new one, and a peer folding both counts only the new one."""
    db_path = sharing_box(tmp_path / "a.db")
    record_verdicts(db_path, NUMBER, ["prank", "prank", "prank"])
    log = CallLog(db_path, timezone=ZONE)
    log.open()
    log.record_disposition(3, "info", "op1", time.time())  # the third was a wrong click
    log.record_disposition(2, "prank", "op1", time.time())  # a double click: no new fact
    assert log.flush()
    log.close()
    facts = outbox_facts(db_path)
    assert [(fact["kind"], fact["value"], fact["call"]) for fact in facts] == [
        ("verdict", "prank", 1),
        ("verdict", "prank", 2),
        ("verdict", "prank", 3),
        ("withdrawn", "prank", 3),
        ("verdict", "info", 3),
    ]
    peer = PolicyState(PolicyConfig())
    for fact in facts:
        peer.record_shared_fact(SharedFact(NUMBER, fact["kind"], fact["value"], fact["ts"]))
    assert peer.ladder_status(NUMBER, time.time()) is None
    withdrawn = json.dumps({**facts[3], "origin": "a", "seq": 4})
    assert decode_fact(fact_subject(SITE, "a"), withdrawn.encode()).kind == "withdrawn"


def test_a_boxs_own_flood_mode_is_shared_and_a_followed_one_is_not(tmp_path: Path) -> None:
    """Flood mode from this box's own signals goes to the site; flood mode entered only
    because another box is in one stays here (the boxes must not hold each other in it)."""
    db_path = sharing_box(tmp_path / "a.db")
    log = CallLog(db_path, timezone=ZONE)
    log.open()
    now = time.time()
    log.add_event("flood_on", detail={"reason": "rate: 61 calls in 60 s (limit 60)"}, ts=now)
    log.add_event("flood_off", detail={"reason": "quiet for 120 s"}, ts=now + 300)
    log.add_event("flood_on", detail={"reason": "site: b in flood mode"}, ts=now + 400)
    log.add_event("flood_off", detail={"reason": "quiet for 120 s"}, ts=now + 900)
    assert log.flush()
    log.close()
    facts = outbox_facts(db_path)
    assert [(fact["kind"], fact["value"], fact["caller"]) for fact in facts] == [
        ("flood", "on", None),
        ("flood", "off", None),
        ("flood", "off", None),  # harmless: a box with no flood of a's forgets nothing
    ]
    message = json.dumps({**facts[0], "origin": "a", "seq": 1}).encode()
    assert decode_fact(fact_subject(SITE, "a"), message).kind == "flood"
    for bad in ({"caller": NUMBER}, {"value": "maybe"}):
        refused = json.dumps({**facts[0], **bad, "origin": "a", "seq": 2}).encode()
        with pytest.raises(MessageRefused):
            decode_fact(fact_subject(SITE, "a"), refused)
