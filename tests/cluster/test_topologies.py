"""The shapes a site and a province take: three clustered servers, and leaf nodes.

- A site on three clustered servers with every stream replicated three times: `kill -9`
  of the server a box is talking to, in the middle of a burst, loses nothing.
- A province whose sites' servers are leaf nodes of the hub's: the hub catches up after
  its link was down for 10 s (the hub's server also restarted meanwhile) and for two and
  a half minutes while the sites took calls every 30 s; every call reaches it once.
- A site's stream holding two copies of one message (the box re-sent it after the
  duplicate window): the hub takes the copy and goes on.
- A box on a slow link (every byte from its server two and a half seconds late, longer
  than a fetch waits): it keeps its session and still converges.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from tests.cluster.conftest import (
    AgentThread,
    Link,
    NatsServer,
    connected,
    jetstream_ready,
    rows,
    wait_for,
)
from tests.cluster.test_sharing import NUMBER, block, record_verdicts, rule_row

BURST = 150
HUB_ALONE_S = 10.0  # the hub up, its link to the sites still down
LONG_CUT_S = 150.0  # a province link down for minutes, as a real outage is
CUT_ROUND_S = 30.0  # while it is down, each site takes calls this often


def tails(servers: list[NatsServer], lines: int = 15) -> str:
    """The last lines of each server's logs, for a failure message."""
    found = []
    for server in servers:
        for log in sorted(server.folder.glob("server-*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            found.append(f"--- {log.parent.name}/{log.name}\n" + "\n".join(text))
    return "\n".join(found)


def test_kill_9_of_a_clustered_server_during_a_burst_loses_nothing(
    tmp_path: Path, three_servers: list[NatsServer], agents: Callable[..., AgentThread]
) -> None:
    jetstream_ready(three_servers)
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    urls = tuple(server.url for server in three_servers)
    boxes = [
        agents(three_servers[0], box, db, servers=urls, replicas=3)
        for box, db in (("a", a), ("b", b))
    ]
    connected(*boxes, timeout_s=60)
    rule_id = block(a, "+62844")
    try:  # a cluster still settling its leaders on a busy machine takes a while
        wait_for(lambda: rule_row(b, rule_id), "the rule on box b", timeout_s=90)
    except pytest.fail.Exception:
        said = "\n".join(box.describe() for box in boxes) + "\n" + tails(three_servers)
        pytest.fail(f"the rule never reached box b; the boxes and servers said:\n{said}")

    record_verdicts(a, NUMBER, ["prank"] * (BURST // 2))
    talking_to = next(s for s in three_servers if s.url.endswith(boxes[0].agent.server))
    talking_to.kill()
    record_verdicts(a, NUMBER, ["ghost"] * (BURST - BURST // 2), first_call_id=BURST)
    wait_for(
        lambda: rows(b, "SELECT count(*) FROM peer_facts") == [(BURST,)],
        f"all {BURST} verdicts on box b",
        timeout_s=90,
    )
    time.sleep(0.5)
    assert rows(b, "SELECT count(*), count(DISTINCT origin_seq) FROM peer_facts") == [
        (BURST, BURST)
    ]
    assert rows(a, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(0,)]
    assert not boxes[0].agent.server.endswith(str(talking_to.port))


@pytest.mark.parametrize(
    ("hub_restarts", "cut_s"),
    [
        pytest.param(False, HUB_ALONE_S, id="link-cut"),
        pytest.param(True, HUB_ALONE_S, id="link-cut-hub-restarted"),
        pytest.param(False, LONG_CUT_S, id="link-cut-for-minutes", marks=pytest.mark.timeout(400)),
    ],
)
def test_the_hub_gathers_sites_on_leaf_nodes_and_catches_up_after_the_link_heals(
    tmp_path: Path,
    province: tuple[dict[str, NatsServer], Link],
    agents: Callable[..., AgentThread],
    hub_restarts: bool,
    cut_s: float,
) -> None:
    servers, link = province
    serang, cilegon, hub = tmp_path / "serang.db", tmp_path / "cilegon.db", tmp_path / "hub.db"
    box_serang = agents(servers["serang"], "box1", serang, domain="serang")
    box_cilegon = agents(servers["cilegon"], "box1", cilegon, site="cilegon", domain="cilegon")
    the_hub = agents(
        servers["hub"], "hub", hub, site="banten", hub=True, site_domains=("serang", "cilegon")
    )
    connected(box_serang, box_cilegon, the_hub, timeout_s=60)

    record_verdicts(serang, NUMBER, ["prank", "ghost"])
    record_verdicts(cilegon, "+6281300001111", ["genuine:fire"])
    count = "SELECT count(*) FROM calls WHERE disposition IS NOT NULL"
    wait_for(lambda: rows(hub, count) == [(3,)], "three judged calls at the hub", timeout_s=60)

    link.cut()  # the province's link down; the sites go on taking calls all the while
    rounds = max(1, round(cut_s / CUT_ROUND_S))
    for index in range(rounds):
        record_verdicts(serang, NUMBER, ["prank"] * 5, first_call_id=10 * (index + 1))
        record_verdicts(cilegon, "+6281300001111", ["ghost"] * 5, first_call_id=10 * (index + 1))
        for db in (serang, cilegon):
            wait_for(
                lambda db=db: (
                    rows(db, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(0,)]
                ),
                "each site's outbox sent to its own server",
            )
        if hub_restarts and index == 0:  # the worst order: the hub is back, the sites not
            servers["hub"].kill()
            servers["hub"].start()
        time.sleep(cut_s / rounds)
    assert rows(hub, count) == [(3,)], "a call crossed the cut link"
    link.heal()
    total = 3 + 10 * rounds
    wait_for(lambda: rows(hub, count) == [(total,)], "every call at the hub", timeout_s=90)
    time.sleep(1.0)
    assert rows(hub, "SELECT site, count(*) FROM calls GROUP BY site ORDER BY site") == [
        ("cilegon", 1 + 5 * rounds),
        ("serang", 2 + 5 * rounds),
    ]
    assert the_hub.agent.refused == 0


async def _store_again(server: NatsServer, stream: str, duplicate_window_s: float) -> None:
    """Store a second copy of `stream`'s last message, its message id unchanged, as a box
    does that re-sends after its acknowledgement was lost and the duplicate window ran out
    (here the site's window is made short so the test need not wait an hour)."""
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        config = info.config
        config.duplicate_window = duplicate_window_s
        await js.update_stream(config)
        last = await js.get_msg(stream, info.state.last_seq)
        await asyncio.sleep(duplicate_window_s * 2)
        assert last.subject is not None
        await js.publish(last.subject, last.data or b"", headers=dict(last.headers or {}))
    finally:
        await nc.close()


def test_a_message_stored_twice_at_a_site_does_not_hold_the_province_up(
    tmp_path: Path,
    province: tuple[dict[str, NatsServer], Link],
    agents: Callable[..., AgentThread],
) -> None:
    servers, _ = province
    serang, hub = tmp_path / "serang.db", tmp_path / "hub.db"
    box = agents(servers["serang"], "box1", serang, domain="serang")
    the_hub = agents(servers["hub"], "hub", hub, site="banten", hub=True, site_domains=("serang",))
    connected(box, the_hub, timeout_s=60)
    judged = "SELECT count(*) FROM calls WHERE disposition IS NOT NULL"

    record_verdicts(serang, NUMBER, ["prank"])
    wait_for(lambda: rows(hub, judged) == [(1,)], "the first call at the hub", timeout_s=60)
    asyncio.run(_store_again(servers["serang"], "SIAGA_CALLS", 0.2))
    record_verdicts(serang, NUMBER, ["ghost"], first_call_id=2)
    wait_for(lambda: rows(hub, judged) == [(2,)], "the next call at the hub", timeout_s=30)
    assert rows(hub, "SELECT count(*) FROM calls") == [(2,)]


async def _store_as_another_site(server: NatsServer, site: str) -> None:
    """Store the last call of the server's calls stream again, on another site's subject
    and under a new message id: what a site's administrator account could publish."""
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("SIAGA_CALLS")
        last = await js.get_msg("SIAGA_CALLS", info.state.last_seq)
        assert last.subject is not None
        appliance = last.subject.rsplit(".", 1)[-1]
        await js.publish(
            f"siaga.call.{site}.{appliance}", last.data or b"", headers={"Nats-Msg-Id": "forged-1"}
        )
    finally:
        await nc.close()


def test_a_sites_server_cannot_speak_for_another_site_at_the_hub(
    tmp_path: Path,
    province: tuple[dict[str, NatsServer], Link],
    agents: Callable[..., AgentThread],
) -> None:
    """The hub takes from each site's domain only that site's subjects: a call stored on
    serang's server under cilegon's subject never reaches the hub as cilegon's."""
    servers, _ = province
    serang, hub = tmp_path / "serang.db", tmp_path / "hub.db"
    box = agents(servers["serang"], "box1", serang, domain="serang")
    the_hub = agents(
        servers["hub"], "hub", hub, site="banten", hub=True, site_domains=("serang", "cilegon")
    )
    connected(box, the_hub, timeout_s=60)
    judged = "SELECT count(*) FROM calls WHERE disposition IS NOT NULL"
    record_verdicts(serang, NUMBER, ["prank"])
    wait_for(lambda: rows(hub, judged) == [(1,)], "the first call at the hub", timeout_s=60)

    asyncio.run(_store_as_another_site(servers["serang"], "cilegon"))
    record_verdicts(serang, NUMBER, ["ghost"], first_call_id=2)  # a call after the forgery
    wait_for(lambda: rows(hub, judged) == [(2,)], "the next call at the hub", timeout_s=30)
    time.sleep(0.5)
    assert rows(hub, "SELECT site, count(*) FROM calls GROUP BY site") == [("serang", 2)]


@pytest.fixture
def slow_link(nats_server: NatsServer) -> Iterator[Link]:
    link = Link(nats_server.port)
    yield link
    link.close()


def test_a_box_on_a_slow_link_keeps_its_session_and_converges(
    tmp_path: Path,
    nats_server: NatsServer,
    slow_link: Link,
    agents: Callable[..., AgentThread],
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a = agents(nats_server, "a", a)
    box_b = agents(nats_server, "b", b, servers=(slow_link.url,))
    connected(box_a, box_b)
    slow_link.slow(2.5)  # longer than a fetch waits for its answer
    time.sleep(6.0)  # several fetches answered too late
    rule_id = block(a, "+62845")
    record_verdicts(a, NUMBER, ["prank"] * 3)
    wait_for(lambda: rule_row(b, rule_id), "the rule on the box behind the slow link", 60)
    wait_for(lambda: rows(b, "SELECT count(*) FROM peer_facts") == [(3,)], "a's verdicts on b", 60)
    sessions = "SELECT count(*) FROM events WHERE kind = 'sync_connected'"
    assert rows(b, sessions) == [(1,)], "the slow link must not end box b's session"
