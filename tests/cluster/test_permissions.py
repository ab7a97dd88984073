"""A site's server with one account per appliance (`appliance.cluster.permissions`).

The server runs with the accounts `siaga nats-accounts` writes: each box shares through its
own account; a box without credentials is refused; a box cannot speak for another, nor
delete the site's streams, nor write the province's rules or another site's settings, nor
read through another box's consumer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import APIError

from appliance.cluster.agent import ensure_site_streams, ensure_streams
from appliance.cluster.permissions import ADMIN_USER, inbox_prefix
from appliance.cluster.province import ensure_province_rules
from tests.cluster.conftest import (
    SITE,
    AgentThread,
    NatsServer,
    connected,
    nats_accounts,
    rows,
    secret,
    wait_for,
)
from tests.cluster.test_settings_sharing import MAX_CALLS, change, section
from tests.cluster.test_sharing import NUMBER, block, record_verdicts, rule_row


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    """The site's accounts as `siaga nats-accounts --site serang --out DIR a b` makes them."""
    folder = tmp_path / "accounts"
    assert nats_accounts(folder, "--site", SITE, "a", "b") == [
        folder / name
        for name in ("nats-accounts.conf", "a.password", "b.password", "siaga-admin.password")
    ]
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct((folder / "a.password").stat().st_mode & 0o777) == "0o600"
    return folder


def start_guarded_server(
    tmp_path: Path, accounts: Path, *, province: bool, settings: bool = True
) -> NatsServer:
    """A server that knows only the site's accounts (its configuration includes the file
    `siaga nats-accounts` wrote); the streams made by the admin, the province's rule
    bucket too unless `province` is False, the settings bucket unless `settings` is."""
    folder = tmp_path / "nats"
    folder.mkdir()
    # nats-server resolves an include beside its own configuration file.
    shutil.copy(accounts / "nats-accounts.conf", folder / "nats-accounts.conf")
    server = NatsServer(folder, config_text='include "nats-accounts.conf"')
    server.start()

    async def create_streams() -> None:
        client = await nats.connect(
            server.url, user=ADMIN_USER, password=secret(accounts, ADMIN_USER)
        )
        if settings:
            await ensure_streams(client.jetstream(), replicas=1)
        else:  # as a server set up before settings were shared
            await ensure_site_streams(client.jetstream(), replicas=1)
        if province:
            await ensure_province_rules(client.jetstream(), replicas=1)
        await client.close()

    asyncio.run(create_streams())
    return server


@pytest.fixture
def guarded_server(tmp_path: Path, accounts: Path) -> Iterator[NatsServer]:
    server = start_guarded_server(tmp_path, accounts, province=True)
    yield server
    server.kill()


def test_the_servers_accounts_file_holds_hashes_never_a_password(accounts: Path) -> None:
    conf = (accounts / "nats-accounts.conf").read_text(encoding="utf-8")
    for user in ("a", "b", ADMIN_USER):
        assert secret(accounts, user) not in conf, f"{user}'s password in the server's file"
    assert conf.count('"password": "$2b$') == 3  # two boxes and the admin, hashed


def test_boxes_share_through_their_own_accounts(
    tmp_path: Path,
    guarded_server: NatsServer,
    accounts: Path,
    agents: Callable[..., AgentThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.cluster.agent")
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    boxes = [
        agents(guarded_server, box, db, user=box, password_file=accounts / f"{box}.password")
        for box, db in (("a", a), ("b", b))
    ]
    connected(*boxes)
    share_a_rule_and_a_verdict(a, b)
    change(b, {MAX_CALLS: 6})
    wait_for(lambda: section(a, "policy") == {"throttle": {"max_calls": 6}}, "the setting on a")
    assert boxes[0].agent.refused == boxes[1].agent.refused == 0
    assert "no province rules yet" not in caplog.text  # its consumer of them is allowed
    assert "no settings bucket yet" not in caplog.text  # nor its consumer of the settings


def share_a_rule_and_a_verdict(a: Path, b: Path) -> None:
    rule_id = block(a, "+62866")
    wait_for(lambda: rule_row(b, rule_id), "the rule on box b")
    record_verdicts(b, NUMBER, ["prank"])
    wait_for(lambda: rows(a, "SELECT count(*) FROM peer_facts") == [(1,)], "the verdict on a")


def test_a_site_without_the_settings_bucket_still_shares_the_rest(
    tmp_path: Path,
    accounts: Path,
    agents: Callable[..., AgentThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server set up before settings were shared: the boxes' accounts may not create the
    bucket; rules and verdicts go on, a change of the settings waits in the outbox without
    holding up what comes after it, and the journal says why."""
    caplog.set_level(logging.WARNING, logger="appliance.cluster.agent")
    server = start_guarded_server(tmp_path, accounts, province=True, settings=False)
    try:
        a, b = tmp_path / "a.db", tmp_path / "b.db"
        boxes = [
            agents(server, box, db, user=box, password_file=accounts / f"{box}.password")
            for box, db in (("a", a), ("b", b))
        ]
        connected(*boxes)
        change(a, {MAX_CALLS: 6})
        share_a_rule_and_a_verdict(a, b)
        wait_for(lambda: "no settings bucket yet" in caplog.text, "the reason in the log")
        waiting = "SELECT count(*) FROM outbox WHERE kind = 'setting' AND sent_ts IS NULL"
        assert rows(a, waiting) == [(1,)]
        assert section(b, "policy") is None
        assert all(box.is_connected() for box in boxes)
    finally:
        server.kill()


def test_a_site_without_the_provinces_bucket_still_shares(
    tmp_path: Path,
    accounts: Path,
    agents: Callable[..., AgentThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server set up before province rules existed: the boxes' accounts may not create
    the province's bucket; the site's sharing goes on, and the journal says why."""
    caplog.set_level(logging.WARNING, logger="appliance.cluster.agent")
    server = start_guarded_server(tmp_path, accounts, province=False)
    try:
        a, b = tmp_path / "a.db", tmp_path / "b.db"
        boxes = [
            agents(server, box, db, user=box, password_file=accounts / f"{box}.password")
            for box, db in (("a", a), ("b", b))
        ]
        connected(*boxes)
        share_a_rule_and_a_verdict(a, b)
        wait_for(lambda: "no province rules yet" in caplog.text, "the reason in the log")
        assert all(box.is_connected() for box in boxes)
    finally:
        server.kill()


def test_a_box_reads_only_its_own_inbox(
    tmp_path: Path,
    guarded_server: NatsServer,
    accounts: Path,
    agents: Callable[..., AgentThread],
) -> None:
    """The server's replies and deliveries to one box (and what the hub fetches: another
    box's calls, facts and settings) are not another box's to read: box b may not listen
    on every inbox, nor on box a's, while box a shares through its own."""
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    boxes = [
        agents(guarded_server, box, db, user=box, password_file=accounts / f"{box}.password")
        for box, db in (("a", a), ("b", b))
    ]
    connected(*boxes)
    errors: list[str] = []
    heard: list[str] = []

    async def snoop() -> None:
        async def note(error: Exception) -> None:
            errors.append(str(error))

        async def listen(msg: nats.aio.msg.Msg) -> None:
            heard.append(msg.subject)

        client = await nats.connect(
            guarded_server.url,
            user="b",
            password=secret(accounts, "b"),
            inbox_prefix=inbox_prefix(SITE, "b"),
            error_cb=note,
        )
        await client.subscribe("_INBOX.>", cb=listen)
        await client.subscribe(f"{inbox_prefix(SITE, 'a')}.>", cb=listen)
        await client.flush()
        share_a_rule_and_a_verdict(a, b)  # box a's replies flow meanwhile, on its inbox
        await asyncio.sleep(0.5)
        await client.close()

    asyncio.run(snoop())
    refused = [error.lower() for error in errors if "subscription" in error.lower()]
    assert refused == [
        'nats: permissions violation for subscription to "_inbox.>"',
        f'nats: permissions violation for subscription to "{inbox_prefix(SITE, "a").lower()}.>"',
    ], errors
    assert heard == []
    # Both boxes shared through their own inboxes all along.
    assert boxes[0].agent.refused == boxes[1].agent.refused == 0


def test_a_box_without_credentials_is_refused(
    tmp_path: Path, guarded_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    db = tmp_path / "stranger.db"
    stranger = agents(guarded_server, "c", db)
    block(db, "+62833")
    unsent = "SELECT count(*) FROM outbox WHERE kind = 'rule' AND sent_ts IS NULL"
    wait_for(lambda: rows(db, unsent) == [(1,)], "the rule in the box's outbox")
    time.sleep(2.0)  # several tries, each refused
    assert not stranger.is_connected()
    assert rows(db, unsent) == [(1,)]  # kept, to be sent once the box has credentials


def test_a_box_cannot_speak_for_another_or_delete_the_streams(
    tmp_path: Path,
    guarded_server: NatsServer,
    accounts: Path,
    agents: Callable[..., AgentThread],
) -> None:
    b = tmp_path / "b.db"
    box_b = agents(guarded_server, "b", b, user="b", password_file=accounts / "b.password")
    wait_for(box_b.is_connected, "box b to connect")
    errors: list[str] = []

    async def forge() -> None:
        async def note(error: Exception) -> None:
            errors.append(str(error))

        client = await nats.connect(
            guarded_server.url, user="a", password=secret(accounts, "a"), error_cb=note
        )
        js = client.jetstream(timeout=1.0)
        forged = {"origin": "c", "seq": 1, "kind": "verdict", "caller": NUMBER,
                  "value": "prank", "ts": time.time()}  # fmt: skip
        await client.publish(f"siaga.fact.{SITE}.c", json.dumps(forged).encode())
        await client.publish("$KV.siaga_province_rules.b-1", b"{}")  # the hub's alone
        await client.publish("$KV.siaga_settings.cilegon.policy", b"{}")  # another site's
        await client.publish(f"$JS.API.CONSUMER.MSG.NEXT.KV_siaga_settings.settings-{SITE}-b", b"1")
        with pytest.raises((APIError, nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.delete_stream("SIAGA_FACTS")
        await client.flush()
        await asyncio.sleep(0.5)
        await client.close()

    asyncio.run(forge())
    assert any("permissions violation" in error.lower() for error in errors), errors
    assert any("siaga_province_rules" in error for error in errors), errors
    assert any("siaga_settings.cilegon" in error for error in errors), errors
    assert any(f"settings-{SITE}-b" in error for error in errors), errors
    time.sleep(1.0)
    assert rows(b, "SELECT count(*) FROM peer_facts") == [(0,)]
