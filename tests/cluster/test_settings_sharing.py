"""Appliances of one site share their screening settings through a real nats-server.

Each box is a real SQLite file whose settings are changed with the web UI's own function
(`web_ui.settings.service.change_settings`), and a real `SyncAgent`; the server is a real
`nats-server` with JetStream, the boxes cut off from it through relays the tests cut and
heal, and fed garbage as the tests need.
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nats
import pytest
from nats.js.errors import NotFoundError

from appliance.cluster import store
from appliance.cluster.messages import MessageRefused, decode_setting
from appliance.cluster.run import print_status
from appliance.cluster.schema import SHARED_SECTIONS
from appliance.config import Config
from appliance.settings import LIVE_SECTIONS, effective_config, read_overrides
from appliance.store.db import connect_writer
from tests.cluster.conftest import (
    SITE,
    ZONE,
    AgentThread,
    Link,
    NatsServer,
    connected,
    rows,
    wait_for,
)
from web_ui.core import db as web_db
from web_ui.settings.service import change_settings
from web_ui.users.audit import Actor

MAX_CALLS = "policy.throttle.max_calls"
UNSENT = "SELECT count(*) FROM outbox WHERE sent_ts IS NULL"


def change(
    db: Path, changes: Mapping[str, Any], *, resets: Sequence[str] = (), by: str = "sup1"
) -> None:
    """Settings changed as a supervisor changes them on the web UI's settings page."""
    web_db.migrate(db, busy_timeout_s=10.0)
    conn = web_db.connect(db, busy_timeout_s=10.0)
    try:
        outcome = change_settings(conn, Actor(name=by), ZoneInfo(ZONE), changes=changes,
                                  resets=resets)  # fmt: skip
    finally:
        conn.close()
    assert outcome.stored


def section(db: Path, name: str) -> dict[str, Any] | None:
    """The stored overrides of one section (None: no row)."""
    found = rows(db, "SELECT value FROM settings WHERE section = ?", name)
    return json.loads(found[0][0]) if found else None


def updated_by(db: Path, name: str) -> str | None:
    found = rows(db, "SELECT updated_by FROM settings WHERE section = ?", name)
    return found[0][0] if found else None


def version(db: Path) -> int:
    return int(rows(db, "SELECT version FROM settings_version WHERE id = 1")[0][0])


def events(db: Path, kind: str) -> list[dict[str, Any]]:
    return [
        json.loads(row[0]) for row in rows(db, "SELECT detail FROM events WHERE kind = ?", kind)
    ]


def drained(db: Path) -> bool:
    return rows(db, UNSENT) == [(0,)]


def test_a_setting_changed_on_one_box_is_in_force_on_the_other_and_a_reset_removes_it(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    connected(box_a, box_b)
    before = version(b)

    change(a, {MAX_CALLS: 7})
    wait_for(lambda: section(b, "policy") == {"throttle": {"max_calls": 7}}, "the setting on b")
    assert version(b) == before + 1  # the line service puts it in force at its next look
    assert updated_by(b, "policy") == "sync:a"
    reader = connect_writer(b)
    in_force = effective_config(Config(), read_overrides(reader.conn))
    reader.close()
    assert in_force.policy.throttle.max_calls == 7

    wait_for(lambda: drained(a), "a's outbox sent")
    a_version = version(a)
    time.sleep(1.0)  # what b applied must not come back to a
    assert rows(b, "SELECT count(*) FROM outbox WHERE kind = 'setting'") == [(0,)]
    assert rows(a, "SELECT count(*) FROM outbox WHERE kind = 'setting'") == [(1,)]
    assert version(a) == a_version and updated_by(a, "policy") == "sup1"

    change(a, {}, resets=["policy.throttle"])  # back to the file: the row is deleted
    wait_for(lambda: section(b, "policy") is None, "the section removed on b")
    assert version(b) == before + 2
    assert box_a.agent.refused == box_b.agent.refused == 0
    assert events(a, "setting_conflict") == events(b, "setting_conflict") == []


def test_the_same_revision_applied_twice_changes_nothing(tmp_path: Path) -> None:
    db = connect_writer(tmp_path / "b.db")
    store.declare(db, SITE, "b", time.time())
    zone = ZoneInfo(ZONE)
    value = {"throttle": {"max_calls": 7}}

    def apply(revision: int, new: dict[str, Any] | None) -> str:
        entry = store.SharedSetting("policy", new, time.time(), "a", revision)
        [outcome] = store.apply_settings(db, [entry], zone)
        return outcome.result

    before = version(tmp_path / "b.db")
    assert apply(5, value) == "applied"
    assert apply(5, value) == "stale"
    assert apply(4, {"throttle": {"max_calls": 9}}) == "stale"
    assert apply(6, value) == "unchanged"  # a newer revision, the same value
    assert version(tmp_path / "b.db") == before + 1
    assert apply(7, None) == "applied"
    assert apply(7, None) == "stale"
    assert apply(8, None) == "unchanged"
    assert version(tmp_path / "b.db") == before + 2
    assert store.setting_revision(db, "policy") == 8
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM outbox") == [(0,)]  # no echo
    db.close()


@pytest.fixture
def links(nats_server: NatsServer) -> Iterator[dict[str, Link]]:
    """One relay to the server per box, to cut each box off on its own."""
    found = {box: Link(nats_server.port) for box in ("a", "b")}
    yield found
    for link in found.values():
        link.close()


@pytest.mark.parametrize("first_back", ["a", "b"])
def test_two_boxes_editing_one_section_apart_converge_on_the_later_edit(
    tmp_path: Path,
    nats_server: NatsServer,
    links: dict[str, Link],
    agents: Callable[..., AgentThread],
    first_back: str,
) -> None:
    """`first_back` reconnects first and publishes; the other finds a revision it has not
    seen and settles the conflict: b's edit, the later one, wins either way."""
    dbs = {box: tmp_path / f"{box}.db" for box in ("a", "b")}
    boxes = {box: agents(None, box, dbs[box], servers=(links[box].url,)) for box in dbs}
    connected(*boxes.values())
    change(dbs["a"], {MAX_CALLS: 7})
    wait_for(lambda: section(dbs["b"], "policy") is not None, "the first value on b")

    for link in links.values():
        link.cut()
    wait_for(lambda: not any(box.is_connected() for box in boxes.values()), "both cut off")
    change(dbs["a"], {MAX_CALLS: 8}, by="sup-a")
    time.sleep(0.05)
    change(dbs["b"], {MAX_CALLS: 9}, by="sup-b")

    second_back = "b" if first_back == "a" else "a"
    links[first_back].heal()
    wait_for(lambda: drained(dbs[first_back]), f"{first_back}'s outbox sent")
    links[second_back].heal()
    later = {"throttle": {"max_calls": 9}}
    for box, db in dbs.items():
        wait_for(lambda db=db: section(db, "policy") == later, f"the later edit on {box}")
        wait_for(lambda db=db: events(db, "setting_conflict"), f"the conflict noted on {box}")
        wait_for(lambda db=db: drained(db), f"{box}'s outbox sent")
    for db in dbs.values():
        [conflict] = events(db, "setting_conflict")
        assert conflict["section"] == "policy" and conflict["resolved_by"] == second_back
        assert conflict["kept"]["value"] == later and conflict["kept"]["origin"] == "b"
        assert conflict["lost"]["value"] == {"throttle": {"max_calls": 8}}
        assert conflict["lost"]["updated_by"] == "sup-a"
    assert updated_by(dbs["b"], "policy") == "sup-b"
    assert updated_by(dbs["a"], "policy") == "sync:b"


def test_a_box_joining_takes_the_sites_value_and_brings_its_own_for_the_rest(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a = agents(nats_server, "a", a)
    connected(box_a)
    change(a, {MAX_CALLS: 7})
    wait_for(lambda: drained(a), "the site's value published")
    change(b, {MAX_CALLS: 5, "challenge.attempts": 3}, by="sup-b")  # before b shares
    assert rows(b, "SELECT count(*) FROM outbox") == [(0,)]
    before = version(b)

    box_b = agents(nats_server, "b", b)
    connected(box_b)
    site_value = {"throttle": {"max_calls": 7}}
    wait_for(lambda: section(b, "policy") == site_value, "the site's policy on b")
    wait_for(lambda: section(a, "challenge") == {"attempts": 3}, "b's challenge on a")
    wait_for(lambda: drained(b), "b's offers settled")
    time.sleep(1.0)
    assert section(a, "policy") == site_value  # the site's value stays
    assert section(b, "challenge") == {"attempts": 3} and updated_by(a, "challenge") == "sync:b"
    assert version(b) == before + 1
    assert events(a, "setting_conflict") == events(b, "setting_conflict") == []
    status = io.StringIO()
    print_status(sqlite3.connect(f"file:{b}?mode=ro", uri=True), status)  # `siaga sync --status`
    assert "settings sections as another appliance set them: 1\n" in status.getvalue()


def test_garbage_in_the_settings_bucket_is_refused_and_counted(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    b = tmp_path / "b.db"
    web_db.migrate(b, busy_timeout_s=10.0)
    conn = web_db.connect(b, busy_timeout_s=10.0)
    with web_db.transaction(conn):  # the line service's base, as it writes it at start
        conn.execute(
            "INSERT INTO service_state (id, base_config, updated_ts) VALUES (1, ?, ?)",
            [json.dumps(Config().model_dump(mode="json")), time.time()],
        )
    conn.close()
    box_b = agents(nats_server, "b", b)
    connected(box_b)
    good = {"section": "challenge", "value": {"attempts": 3}, "updated_ts": time.time(),
            "updated_by": "sup-x", "origin": "x"}  # fmt: skip
    garbage: list[tuple[str, bytes | dict[str, Any]]] = [
        ("policy", b"\xff\xfe not json"),
        ("policy", b"[1, 2, 3]"),
        ("policy", {**good, "section": "policy", "value": [1, 2]}),
        ("policy", {**good, "section": "policy", "value": "max_calls=1"}),
        ("policy", {**good, "section": "sms"}),  # under another section's key
        ("lines", {**good, "section": "lines"}),  # not a section that changes live
        ("sms", {**good, "section": "sms", "origin": "../etc"}),
        ("sms", {**good, "section": "sms", "updated_ts": -1.0}),
        ("sms", {**good, "section": "sms", "value": {"warning_text": "x" * 20_000}}),
        ("prompts", {**good, "section": "prompts", "value": {"x": 1e999}}),
        ("policy", {**good, "section": "policy", "value": {"throttle": {"max_calls": -1}}}),
    ]

    async def feed() -> None:
        client = await nats.connect(nats_server.url)
        js = client.jetstream()
        for _ in range(200):  # b's consumer first, or a key's older entries are skipped
            try:
                await js.consumer_info("KV_siaga_settings", f"settings-{SITE}-b")
                break
            except NotFoundError:
                await asyncio.sleep(0.05)
        for key, body in [*garbage, ("challenge", good)]:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            await js.publish(f"$KV.siaga_settings.{SITE}.{key}", data)
        await js.publish("$KV.siaga_settings.cilegon.policy", json.dumps(good).encode())
        await client.close()

    asyncio.run(feed())
    wait_for(lambda: section(b, "challenge") == {"attempts": 3}, "the one good section")
    wait_for(lambda: box_b.agent.refused >= len(garbage), "every bad message refused")
    assert rows(b, "SELECT section FROM settings") == [("challenge",)]
    [refused] = events(b, "setting_refused")  # the one b's line service could not use
    assert refused["section"] == "policy" and "max_calls" in refused["reason"]
    assert box_b.is_connected()


def test_decoding_refuses_another_sites_key() -> None:
    body = {"section": "policy", "value": {}, "updated_ts": time.time(), "origin": "a"}
    data = json.dumps(body).encode()
    assert decode_setting(f"{SITE}.policy", SITE, data).value == {}
    with pytest.raises(MessageRefused, match="stored under key"):
        decode_setting("cilegon.policy", SITE, data)
    with pytest.raises(MessageRefused):
        decode_setting(f"{SITE}.policy", SITE, json.dumps({**body, "value": None}).encode()[:-1])
    assert decode_setting(f"{SITE}.policy", SITE, json.dumps({**body, "value": None}).encode())


def test_the_shared_sections_are_the_live_ones() -> None:
    """The triggers share the sections written out when they were made; a section made
    live since needs a migration that makes them again."""
    assert SHARED_SECTIONS == LIVE_SECTIONS
