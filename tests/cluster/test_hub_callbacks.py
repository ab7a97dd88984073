"""Every site's call-back list at the province hub, through a real nats-server.

Each box is a real SQLite file whose call-back list is written as the line service writes
it (`CallLog.add_callback`) and marked as the web UI marks it (`mark_callback` in a write
transaction); its `SyncAgent` publishes every change of an entry, and the `Hub` keeps one
row per (site, appliance, entry id there) at its latest revision. A caller served on one
box (an entry marked `done`) is taken off the site's other boxes' lists, and the hub's.
Garbage, copies and late old revisions are published with a plain client, as anything on
the network could.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nats
import pytest
from sqlite_utils import Database

from appliance.cluster import agent as sync_agent
from appliance.cluster import store
from appliance.cluster.messages import (
    CALLBACKS_STREAM,
    callback_message_id,
    callback_subject,
    decode_callback,
)
from appliance.cluster.permissions import ADMIN_USER
from appliance.migrations import migration
from appliance.store import CallLog
from appliance.store.callbacks import mark_callback
from appliance.store.db import connect_writer, immediate
from tests.cluster.conftest import (
    SITE,
    ZONE,
    AgentThread,
    Link,
    NatsServer,
    connected,
    nats_accounts,
    rows,
    secret,
    wait_for,
)
from tests.cluster.test_permissions import share_a_rule_and_a_verdict, start_guarded_server

CALLER = "+6281277770001"
OTHER = "+6281377770002"
LATER = "+6281477770003"
UNSENT_CALLBACKS = "SELECT count(*) FROM outbox WHERE kind = 'callback' AND sent_ts IS NULL"


def release(
    db: Path, caller: str, *, line: str = "gsm1", reason: str = "silent_after_challenge"
) -> None:
    """List a release of `caller` as the line service does (one attempt more when the
    caller is listed already)."""
    log = CallLog(db, timezone=ZONE)
    log.open()
    try:
        log.add_callback(
            caller=caller, caller_raw="0" + caller.removeprefix("+62"), line=line,
            call_id=None, reason=reason, detail={"voice_heard": False, "keys": ""},
            ts=time.time(),
        )  # fmt: skip
        assert log.flush()
    finally:
        log.close()


def mark(db: Path, caller: str, status: str, *, by: str, note: str) -> None:
    """Mark the caller's open entry as the web UI does, in its own write transaction."""
    writer = connect_writer(db)
    try:
        with immediate(writer):
            [(entry_id,)] = writer.execute(
                "SELECT id FROM callbacks WHERE caller = ? AND status = 'open'", [caller]
            ).fetchall()
            mark_callback(
                writer.conn, entry_id, status, by=by, note=note, ts=time.time(),
                zone=ZoneInfo(ZONE),
            )  # fmt: skip
    finally:
        writer.close()


def hub_entries(hub: Path) -> list[tuple[Any, ...]]:
    return rows(
        hub,
        "SELECT site, appliance, origin_id, caller, status, attempts, revision FROM hub_callbacks"
        " ORDER BY site, appliance, origin_id",
    )


def sent_states(db: Path, appliance: str) -> list[dict[str, Any]]:
    """Each call-back message the box's outbox made, as it went out."""
    return [
        {**json.loads(payload), "origin": appliance, "seq": outbox_id}
        for outbox_id, payload in rows(
            db, "SELECT id, payload FROM outbox WHERE kind = 'callback' ORDER BY id"
        )
    ]


def publish(url: str, messages: list[tuple[str, bytes, str | None]]) -> list[bool]:
    """Publish on JetStream with a plain client; whether the server took each as a copy."""

    async def run() -> list[bool]:
        client = await nats.connect(url)
        js = client.jetstream()
        copies = []
        for subject, data, msg_id in messages:
            headers = {"Nats-Msg-Id": msg_id} if msg_id else None
            ack = await js.publish(subject, data, headers=headers)
            copies.append(bool(ack.duplicate))
        await client.close()
        return copies

    return asyncio.run(run())


def stream_messages(url: str, **auth: str) -> int:
    async def run() -> int:
        client = await nats.connect(url, **auth)
        info = await client.jetstream().stream_info(CALLBACKS_STREAM)
        await client.close()
        return int(info.state.messages)

    return asyncio.run(run())


def test_a_caller_released_on_a_sites_box_is_on_the_hubs_list_once_with_its_site(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    serang, cilegon, hub = tmp_path / "serang.db", tmp_path / "cilegon.db", tmp_path / "hub.db"
    boxes = [
        agents(nats_server, "box1", serang),
        agents(nats_server, "box1", cilegon, site="cilegon"),
    ]
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(*boxes, the_hub)

    release(serang, CALLER, line="gsm2")
    release(cilegon, OTHER)
    wait_for(
        lambda: (
            hub_entries(hub)
            == [
                ("cilegon", "box1", 1, OTHER, "open", 1, 2),
                ("serang", "box1", 1, CALLER, "open", 1, 2),
            ]
        ),
        "both sites' callers on the hub's list",
    )

    release(serang, CALLER, line="gsm3", reason="hung_up_during_prompt")  # one attempt more
    wait_for(lambda: hub_entries(hub)[1][4:] == ("open", 2, 4), "the attempt at the hub")
    serang_row = "SELECT line, reason, status_by, note FROM hub_callbacks WHERE site = 'serang'"
    assert rows(hub, serang_row) == [("gsm3", "hung_up_during_prompt", None, None)]

    mark(serang, CALLER, "done", by="op1", note="rang back, a real fire")
    wait_for(lambda: hub_entries(hub)[1][4:] == ("done", 2, 5), "the mark at the hub")
    assert rows(hub, serang_row) == [
        ("gsm3", "hung_up_during_prompt", "op1", "rang back, a real fire")
    ]

    release(serang, CALLER)  # released again after the mark: a new entry there, and here
    wait_for(lambda: len(hub_entries(hub)) == 3, "the caller's new entry")
    assert hub_entries(hub) == [
        ("cilegon", "box1", 1, OTHER, "open", 1, 2),
        ("serang", "box1", 1, CALLER, "done", 2, 5),
        ("serang", "box1", 2, CALLER, "open", 1, 2),
    ]
    assert the_hub.agent.refused == 0
    assert all(box.agent.refused == 0 for box in boxes)


def test_a_caller_served_on_one_box_leaves_the_lists_of_the_sites_other_boxes(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b, hub = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "hub.db"
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(box_a, box_b, the_hub)
    release(a, CALLER)  # the caller was released on both boxes (a hunt over every line)
    release(b, CALLER)
    release(b, LATER)
    mark(a, CALLER, "done", by="op1", note="called back: a fall, ambulance sent")

    closed_on_b = "SELECT status, status_by FROM callbacks WHERE caller = ?"
    wait_for(lambda: rows(b, closed_on_b, CALLER) == [("done", "sync:a")], "b's entry closed")
    assert rows(b, closed_on_b, LATER) == [("open", None)]  # another caller's entry stays
    at_hub = "SELECT appliance, status FROM hub_callbacks WHERE caller = ? ORDER BY appliance"
    wait_for(
        lambda: rows(hub, at_hub, CALLER) == [("a", "done"), ("b", "done")],
        "both boxes' entries closed on the hub's list",
    )
    assert rows(b, "SELECT kind, origin, value FROM peer_facts") == [("callback", "a", "done")]
    assert rows(b, "SELECT count(*) FROM outbox WHERE kind = 'fact'") == [(0,)]  # no echo
    assert box_a.agent.refused == box_b.agent.refused == the_hub.agent.refused == 0


def test_a_copy_and_an_older_revision_arriving_late_change_nothing(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    serang, hub = tmp_path / "serang.db", tmp_path / "hub.db"
    box = agents(nats_server, "box1", serang)
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(box, the_hub)
    release(serang, CALLER)
    release(serang, CALLER)
    mark(serang, CALLER, "unreachable", by="op2", note="no answer twice")
    wait_for(
        lambda: hub_entries(hub) == [(SITE, "box1", 1, CALLER, "unreachable", 2, 5)], "the mark"
    )
    kept = rows(hub, "SELECT * FROM hub_callbacks")
    changes = the_hub.agent.callbacks
    assert stream_messages(nats_server.url) == 3

    box.stop()  # the acknowledgements lost: the box sends its three states again
    writer = connect_writer(serang)
    with immediate(writer):
        writer.execute("UPDATE outbox SET sent_ts = NULL WHERE kind = 'callback'")
    writer.close()
    box = agents(nats_server, "box1", serang)
    wait_for(lambda: rows(serang, UNSENT_CALLBACKS) == [(0,)], "the re-send")
    assert stream_messages(nats_server.url) == 3  # each dropped as a copy by its message id

    states = sent_states(serang, "box1")
    assert [state["revision"] for state in states] == [2, 4, 5]
    subject = callback_subject(SITE, "box1")
    newest, oldest = states[-1], states[0]
    copies = publish(
        nats_server.url,
        [
            # the newest state under its own message id: the server knows it
            (subject, json.dumps(newest).encode(),
             callback_message_id(SITE, "box1", newest["id"], newest["revision"])),
            # past the duplicate window: a copy of the newest, then the oldest, come late
            (subject, json.dumps(newest).encode(), "late-copy"),
            (subject, json.dumps(oldest).encode(), "late-old-revision"),
        ],
    )  # fmt: skip
    assert copies == [True, False, False]

    release(serang, LATER)  # behind them in the stream: once it is here, they were read
    wait_for(lambda: len(hub_entries(hub)) == 2, "the later caller")
    assert rows(hub, "SELECT * FROM hub_callbacks WHERE origin_id = 1") == kept
    assert the_hub.agent.callbacks == changes + 1
    assert the_hub.agent.refused == 0


def test_a_malformed_callback_message_is_refused_and_the_hub_goes_on(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    hub = tmp_path / "hub.db"
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(the_hub)  # the streams are made
    now = time.time()
    good = {
        "origin": "evil", "seq": 1, "id": 1, "revision": 2, "caller": CALLER,
        "caller_raw": "081277770001", "line": "gsm1", "call_id": None,
        "reason": "silent_after_challenge", "detail": {}, "first_ts": now, "last_ts": now,
        "attempts": 1, "status": "open", "status_ts": None, "status_by": None, "note": None,
    }  # fmt: skip
    subject = callback_subject(SITE, "evil")
    garbage: list[tuple[str, bytes | str]] = [
        (subject, b"\xff\xfe not json"),
        (subject, b"[1, 2, 3]"),
        (subject, json.dumps({**good, "caller": "<script>alert(1)</script>"})),
        (subject, json.dumps({**good, "status": "deleted"})),
        (subject, json.dumps({**good, "reason": "DROP TABLE callbacks"})),
        (subject, json.dumps({**good, "revision": 99})),  # not the revision of its state
        (subject, json.dumps({**good, "status": "done", "revision": 3})),  # marked: when?
        (subject, json.dumps({**good, "first_ts": 1.5}).replace("1.5", "1e999")),
        (subject, json.dumps({**good, "note": "x" * 501})),
        (callback_subject(SITE, "mallory"), json.dumps(good)),  # claims another box's
        (subject, json.dumps({**good, "id": 2}) + " " * 20_000),
    ]
    publish(
        nats_server.url,
        [
            (where, body if isinstance(body, bytes) else body.encode(), None)
            for where, body in garbage
        ],
    )
    publish(nats_server.url, [(subject, json.dumps({**good, "id": 3}).encode(), None)])
    wait_for(lambda: hub_entries(hub) == [(SITE, "evil", 3, CALLER, "open", 1, 2)], "the good one")
    assert the_hub.agent.refused == len(garbage)
    assert the_hub.is_connected()


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    """The site's accounts as `siaga nats-accounts --site serang --out DIR a b` makes them."""
    folder = tmp_path / "accounts"
    nats_accounts(folder, "--site", SITE, "a", "b")
    return folder


def test_a_box_publishes_its_own_callbacks_only(
    tmp_path: Path, accounts: Path, agents: Callable[..., AgentThread]
) -> None:
    server = start_guarded_server(tmp_path, accounts, province=True)
    try:
        a, hub = tmp_path / "a.db", tmp_path / "hub.db"
        box = agents(server, "a", a, user="a", password_file=accounts / "a.password")
        the_hub = agents(
            server, "hub", hub, site="banten", hub=True,
            user=ADMIN_USER, password_file=accounts / f"{ADMIN_USER}.password",
        )  # fmt: skip
        connected(box, the_hub)
        release(a, CALLER)
        wait_for(lambda: hub_entries(hub) == [(SITE, "a", 1, CALLER, "open", 1, 2)], "a's caller")

        errors = forge_as_b(server, accounts)
        assert any("permissions violation" in error.lower() for error in errors), errors
        assert any(callback_subject(SITE, "a") in error for error in errors), errors
        assert any(callback_subject("cilegon", "b") in error for error in errors), errors

        release(a, OTHER)  # behind anything that reached the stream
        wait_for(lambda: len(hub_entries(hub)) == 2, "a's second caller")
        assert hub_entries(hub) == [
            (SITE, "a", 1, CALLER, "open", 1, 2),
            (SITE, "a", 2, OTHER, "open", 1, 2),
        ]
        assert the_hub.agent.refused == 0
    finally:
        server.kill()


def forge_as_b(server: NatsServer, accounts: Path) -> list[str]:
    """Box b's account publishes a call-back as box a, and as itself on another site's
    subject; the errors the server sent back."""
    errors: list[str] = []

    async def run() -> None:
        async def note(error: Exception) -> None:
            errors.append(str(error))

        client = await nats.connect(
            server.url, user="b", password=secret(accounts, "b"), error_cb=note
        )
        forged = {"origin": "a", "seq": 9, "id": 9, "revision": 2, "caller": LATER,
                  "reason": "silent_after_challenge", "first_ts": time.time(),
                  "last_ts": time.time(), "attempts": 1, "status": "open"}  # fmt: skip
        await client.publish(callback_subject(SITE, "a"), json.dumps(forged).encode())
        forged["origin"] = "b"
        await client.publish(callback_subject("cilegon", "b"), json.dumps(forged).encode())
        await client.flush()
        await asyncio.sleep(0.5)
        await client.close()

    asyncio.run(run())
    return errors


def test_without_the_callback_stream_the_entries_wait_and_the_rest_is_shared(
    tmp_path: Path,
    accounts: Path,
    agents: Callable[..., AgentThread],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server set up before the call-back list was shared: the boxes' accounts may not
    make its stream; rules and verdicts go on, the entries wait in the outbox, and go out
    once the administrator has made the stream."""
    caplog.set_level(logging.WARNING, logger="appliance.cluster.agent")
    monkeypatch.setattr(sync_agent, "STREAM_RETRY_S", 0.5)
    server = start_guarded_server(tmp_path, accounts, province=True, settings=False)
    try:
        a, b = tmp_path / "a.db", tmp_path / "b.db"
        boxes = [
            agents(server, box, db, user=box, password_file=accounts / f"{box}.password")
            for box, db in (("a", a), ("b", b))
        ]
        connected(*boxes)
        release(a, CALLER)
        share_a_rule_and_a_verdict(a, b)
        wait_for(lambda: "no call-back stream yet" in caplog.text, "the reason in the log")
        assert rows(a, UNSENT_CALLBACKS) == [(1,)]

        async def make_stream() -> None:
            client = await nats.connect(
                server.url, user=ADMIN_USER, password=secret(accounts, ADMIN_USER)
            )
            await sync_agent.ensure_callbacks_stream(client.jetstream(), replicas=1)
            await client.close()

        asyncio.run(make_stream())
        wait_for(lambda: rows(a, UNSENT_CALLBACKS) == [(0,)], "the entry sent")
        admin = {"user": ADMIN_USER, "password": secret(accounts, ADMIN_USER)}
        assert stream_messages(server.url, **admin) == 1
        assert all(box.is_connected() for box in boxes)
    finally:
        server.kill()


def test_a_box_sharing_before_the_upgrade_queues_its_open_entries(tmp_path: Path) -> None:
    """The migration queues the entries open on a box that shares already (the hub then
    lists the callers who were waiting), and not the ones marked."""
    path = tmp_path / "old.db"
    now = time.time()
    with Database(path) as db:
        migration.apply(db, stop_before="0024_callbacks_sharing")
        db.execute(
            "UPDATE cluster_identity SET site = ?, appliance = 'box1', enabled = 1 WHERE id = 1",
            [SITE],
        )
        db.execute(
            "INSERT INTO callbacks (caller, reason, first_ts, last_ts, attempts)"
            " VALUES (?, 'hung_up_waiting', ?, ?, 3)",
            [CALLER, now - 60, now - 30],
        )
        db.execute(
            "INSERT INTO callbacks (caller, reason, first_ts, last_ts, status, status_ts)"
            " VALUES (?, 'line_fault', ?, ?, 'done', ?)",
            [OTHER, now - 60, now - 60, now - 10],
        )
        db.conn.commit()
    writer = connect_writer(path)  # the pending migration runs
    try:
        [queued] = store.unsent(writer, 10)
    finally:
        writer.close()
    body = {**queued.payload, "origin": "box1", "seq": queued.id}
    site, entry = decode_callback(callback_subject(SITE, "box1"), json.dumps(body).encode())
    assert (site, entry.caller, entry.attempts, entry.status, entry.revision) == (
        SITE, CALLER, 3, "open", 6,
    )  # fmt: skip
    assert rows(path, "SELECT count(*) FROM hub_callbacks") == [(0,)]


def test_a_site_on_a_leaf_node_sends_its_callers_to_the_hub(
    tmp_path: Path,
    province: tuple[dict[str, NatsServer], Link],
    agents: Callable[..., AgentThread],
) -> None:
    """Sites whose servers are leaf nodes of the hub's, each its own JetStream domain: the
    hub gathers their call-back streams into its own, as it does their calls."""
    servers, _ = province
    serang, cilegon, hub = tmp_path / "serang.db", tmp_path / "cilegon.db", tmp_path / "hub.db"
    boxes = [
        agents(servers["serang"], "box1", serang, domain="serang"),
        agents(servers["cilegon"], "box1", cilegon, site="cilegon", domain="cilegon"),
    ]
    the_hub = agents(
        servers["hub"], "hub", hub, site="banten", hub=True, site_domains=("serang", "cilegon")
    )
    connected(*boxes, the_hub)
    release(serang, CALLER)
    release(cilegon, OTHER)
    mark(cilegon, OTHER, "done", by="op1", note="rang back")
    expected = [
        ("cilegon", "box1", 1, OTHER, "done", 1, 3),
        (SITE, "box1", 1, CALLER, "open", 1, 2),
    ]
    wait_for(lambda: hub_entries(hub) == expected, "both sites' entries at the hub")
    assert the_hub.agent.refused == 0
