"""A site's server with one account per appliance (`appliance.cluster.permissions`).

The server runs with the `authorization` block Siaga writes: each box shares through its
own account; a box without credentials is refused; a box cannot speak for another, nor
delete the site's streams.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import APIError

from appliance.cluster.agent import ensure_streams
from appliance.cluster.permissions import server_authorization
from tests.cluster.conftest import SITE, AgentThread, NatsServer, rows, wait_for
from tests.cluster.test_sharing import NUMBER, block, record_verdicts, rule_row

ADMIN = ("siaga-admin", "admin-secret-1")
PASSWORDS = {"a": "secret-for-a", "b": "secret-for-b"}


@pytest.fixture
def guarded_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server that knows only the site's accounts; the streams made by the admin."""
    folder = tmp_path / "nats"
    folder.mkdir()
    server = NatsServer(folder, config_text=server_authorization(SITE, PASSWORDS, admin=ADMIN))
    server.start()

    async def create_streams() -> None:
        client = await nats.connect(server.url, user=ADMIN[0], password=ADMIN[1])
        await ensure_streams(client.jetstream(), replicas=1)
        await client.close()

    asyncio.run(create_streams())
    yield server
    server.kill()


def password_file(tmp_path: Path, box: str) -> Path:
    path = tmp_path / f"{box}.password"
    path.write_text(PASSWORDS[box] + "\n", encoding="utf-8")
    return path


def test_boxes_share_through_their_own_accounts(
    tmp_path: Path, guarded_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    boxes = [
        agents(guarded_server, box, db, user=box, password_file=password_file(tmp_path, box))
        for box, db in (("a", a), ("b", b))
    ]
    for box in boxes:
        wait_for(box.is_connected, "the box to connect with its account")
    rule_id = block(a, "+62866")
    wait_for(lambda: rule_row(b, rule_id), "the rule on box b")
    record_verdicts(b, NUMBER, ["prank"])
    wait_for(lambda: rows(a, "SELECT count(*) FROM peer_facts") == [(1,)], "the verdict on a")
    assert boxes[0].agent.refused == boxes[1].agent.refused == 0


def test_a_box_without_credentials_is_refused(
    tmp_path: Path, guarded_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    db = tmp_path / "stranger.db"
    stranger = agents(guarded_server, "c", db)
    block(db, "+62833")
    time.sleep(2.0)  # several tries, each refused
    assert not stranger.is_connected()
    assert rows(db, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(1,)]


def test_a_box_cannot_speak_for_another_or_delete_the_streams(
    tmp_path: Path, guarded_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    b = tmp_path / "b.db"
    box_b = agents(guarded_server, "b", b, user="b", password_file=password_file(tmp_path, "b"))
    wait_for(box_b.is_connected, "box b to connect")
    errors: list[str] = []

    async def forge() -> None:
        async def note(error: Exception) -> None:
            errors.append(str(error))

        client = await nats.connect(
            guarded_server.url, user="a", password=PASSWORDS["a"], error_cb=note
        )
        js = client.jetstream(timeout=1.0)
        forged = {"origin": "c", "seq": 1, "kind": "verdict", "caller": NUMBER,
                  "value": "prank", "ts": time.time()}  # fmt: skip
        await client.publish(f"siaga.fact.{SITE}.c", json.dumps(forged).encode())
        with pytest.raises((APIError, nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.delete_stream("SIAGA_FACTS")
        await client.flush()
        await asyncio.sleep(0.5)
        await client.close()

    asyncio.run(forge())
    assert any("permissions violation" in error.lower() for error in errors), errors
    time.sleep(1.0)
    assert rows(b, "SELECT count(*) FROM peer_facts") == [(0,)]
