"""TLS between the servers: a site's leaf-node link to the province hub, and the routes of
a site's three clustered servers, against real nats-server processes.

The certificates are the site's CA made by the installer's own function and a server
certificate signed with the lines docs/cluster.md gives (`tls_certificates`), one for
every server (it names 127.0.0.1); a stranger's CA signed one of its own.
- A site whose server is a leaf node of the hub's over TLS gets the province's rule made
  at the hub, and its box decides the next call with it; the hub's leaf-node listener
  refuses a plain-text peer.
- A site whose remote trusts another CA is refused at each try: the rule reaches a site
  beside it that trusts the right CA, never this one, and the site's server says why.
- Three servers whose routes use TLS form their cluster: a rule made on a box connected to
  one server reaches a box connected to another, with every stream kept three times; the
  route listener refuses plain text.
- A fourth server whose certificate another CA signed does not join: a message published
  on it never reaches the others, and its log says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from appliance.model import Action
from tests.cluster.conftest import (
    AgentThread,
    Link,
    NatsServer,
    connected,
    jetstream_ready,
    province_servers,
    site_cluster,
    wait_for,
)
from tests.cluster.test_province import RING, RING_PREFIX, province_block, screened
from tests.cluster.test_sharing import block, rule_row
from tests.cluster.test_topologies import tails
from tests.cluster.tls_certificates import Certificates, plain_text_session

NOT_ARRIVED_S = 3.0  # how long a refused link is watched for anything crossing it
# What the servers log when they refuse a peer (nats-server 2.9 and 2.15 word the first a
# little differently: "...error: x509: ..." and "...error: tls: failed to verify
# certificate: x509: ...").
UNKNOWN_CA = r"(tls: failed to verify certificate: )?x509: certificate signed by unknown authority"
BAD_CERTIFICATE = r"remote error: tls: bad certificate"  # said by the side it refused
LEAF_REFUSED_AT_SITE = re.compile(f"TLS leafnode handshake error: {UNKNOWN_CA}")
LEAF_REFUSED_AT_HUB = re.compile(f"TLS leafnode handshake error: {BAD_CERTIFICATE}")
ROUTE_REFUSED_AT_STRANGER = re.compile(f"TLS route handshake error: {UNKNOWN_CA}")
ROUTE_REFUSED_AT_SITE = re.compile(f"TLS route handshake error: {BAD_CERTIFICATE}")
NOT_TLS = "TLS route handshake error: tls: first record does not look like a TLS handshake"
SUBJECT = "siaga.test.routes"


@pytest.fixture
def started() -> Iterator[Callable[[list[NatsServer]], list[NatsServer]]]:
    """Start servers: `started(servers)`; each is killed at teardown."""
    running: list[NatsServer] = []

    def start(servers: list[NatsServer]) -> list[NatsServer]:
        for server in servers:
            running.append(server)
            server.start()
        return servers

    yield start
    for server in running:
        server.kill()


@pytest.fixture
def links() -> Iterator[list[Link]]:
    """Links to close at teardown."""
    made: list[Link] = []
    yield made
    for link in made:
        link.close()


def tls_province(
    tmp_path: Path,
    certificates: Certificates,
    sites: dict[str, bool],
    started: Callable[[list[NatsServer]], list[NatsServer]],
    links: list[Link],
) -> tuple[dict[str, NatsServer], Link]:
    """The hub's server with a `tls {}` block in its `leafnodes {}`, and each site's server
    its leaf node whose remote names the site's CA (the stranger's where `sites` says
    True), all started."""
    remotes = {site: certificates.remote_block(stranger=other) for site, other in sites.items()}
    servers, link = province_servers(tmp_path, remotes, hub_tls=certificates.server_block())
    links.append(link)
    started(list(servers.values()))
    return servers, link


def test_a_site_on_a_tls_leaf_link_gets_the_provinces_rule(
    tmp_path: Path,
    certificates: Certificates,
    started: Callable[[list[NatsServer]], list[NatsServer]],
    links: list[Link],
    agents: Callable[..., AgentThread],
) -> None:
    servers, link = tls_province(tmp_path, certificates, {"serang": False}, started, links)
    hub, box = tmp_path / "hub.db", tmp_path / "serang-box1.db"
    the_box = agents(servers["serang"], "box1", box, domain="serang", province_domain="hub")
    the_hub = agents(servers["hub"], "hub", hub, site="banten", hub=True, site_domains=("serang",))
    connected(the_box, the_hub, timeout_s=60)

    rule_id = province_block(hub, RING_PREFIX)
    wait_for(lambda: rule_row(box, rule_id), "the province's rule across the TLS link", 60)
    assert screened(box, RING) == (Action.REJECT.value, "blocklist", rule_id)
    assert the_box.agent.refused == 0
    assert "handshake error" not in servers["serang"].log() + servers["hub"].log()

    info, answer = plain_text_session(link.target_port)  # the hub's leaf-node listener
    assert info["tls_required"] is True
    assert b"PONG" not in answer


def test_a_leaf_link_that_trusts_another_ca_is_refused_and_nothing_crosses(
    tmp_path: Path,
    certificates: Certificates,
    started: Callable[[list[NatsServer]], list[NatsServer]],
    links: list[Link],
    agents: Callable[..., AgentThread],
) -> None:
    sites = {"serang": False, "cilegon": True}  # cilegon's remote trusts another CA
    servers, _ = tls_province(tmp_path, certificates, sites, started, links)
    hub = tmp_path / "hub.db"
    boxes = {site: tmp_path / f"{site}-box1.db" for site in sites}
    parts = [
        agents(servers[site], "box1", db, site=site, domain=site, province_domain="hub")
        for site, db in boxes.items()
    ]
    the_hub = agents(servers["hub"], "hub", hub, site="banten", hub=True, site_domains=("serang",))
    connected(*parts, the_hub, timeout_s=60)  # cilegon's box still reaches its own server

    rule_id = province_block(hub, RING_PREFIX)
    wait_for(lambda: rule_row(boxes["serang"], rule_id), "the rule on serang's box", 60)
    time.sleep(NOT_ARRIVED_S)
    assert rule_row(boxes["cilegon"], rule_id) is None, "a rule crossed a refused link"
    assert screened(boxes["cilegon"], RING)[1] != "blocklist"
    wait_for(
        lambda: len(LEAF_REFUSED_AT_SITE.findall(servers["cilegon"].log())) >= 2,
        "the site's server to say why, at each try",
    )
    assert LEAF_REFUSED_AT_HUB.search(servers["hub"].log())
    assert "handshake error" not in servers["serang"].log()


def tls_cluster(
    tmp_path: Path,
    certificates: Certificates,
    started: Callable[[list[NatsServer]], list[NatsServer]],
    strangers: int = 0,
) -> list[NatsServer]:
    """A site's three servers whose routes use TLS, and `strangers` more that reach for
    them with a certificate another CA signed, all started."""
    blocks = [certificates.server_block(peers_ca=True)] * 3
    blocks += [certificates.server_block(stranger=True, peers_ca=True)] * strangers
    return started(site_cluster(tmp_path, blocks))


def test_three_servers_with_tls_routes_replicate(
    tmp_path: Path,
    certificates: Certificates,
    started: Callable[[list[NatsServer]], list[NatsServer]],
    agents: Callable[..., AgentThread],
) -> None:
    servers = tls_cluster(tmp_path, certificates, started)
    jetstream_ready(servers)
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    box_a = agents(servers[0], "a", a, replicas=3)  # each box on a server of its own
    box_b = agents(servers[2], "b", b, replicas=3)
    connected(box_a, box_b, timeout_s=60)
    rule_id = block(a, "+62844")
    try:  # a cluster still settling its leaders on a busy machine takes a while
        wait_for(lambda: rule_row(b, rule_id), "the rule on box b", timeout_s=90)
    except pytest.fail.Exception:
        boxes = f"{box_a.describe()}\n{box_b.describe()}"
        pytest.fail(f"the rule never reached box b:\n{boxes}\nthe servers said:\n{tails(servers)}")
    assert box_a.agent.refused == box_b.agent.refused == 0
    for server in servers:
        assert "handshake error" not in server.log(), tails([server])
        assert server.route_port is not None
        assert _clear_text_answer(server.route_port) == b""
        wait_for(lambda server=server: NOT_TLS in server.log(), "the route listener's refusal")


def _clear_text_answer(port: int) -> bytes:
    """What a route listener sends back in clear to a peer that speaks without TLS: a
    listener without TLS starts with its INFO, one with TLS waits for a handshake and
    hangs up on anything else."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(4096):
                answer += chunk
    return answer


async def _crosses(subscribed: NatsServer, published: NatsServer, within_s: float) -> bool:
    """Whether a message published on one server reaches a subscriber on another within
    `within_s`, published again every 0.1 s (interest takes a moment to travel a route)."""
    reader, writer = await nats.connect(subscribed.url), await nats.connect(published.url)
    try:
        subscription = await reader.subscribe(SUBJECT)
        await reader.flush()
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            await writer.publish(SUBJECT, b"across")
            await writer.flush()
            try:
                await subscription.next_msg(timeout=0.1)
                return True
            except nats.errors.TimeoutError:
                continue
        return False
    finally:
        await reader.close()
        await writer.close()


def test_a_route_peer_with_another_cas_certificate_does_not_join(
    tmp_path: Path,
    certificates: Certificates,
    started: Callable[[list[NatsServer]], list[NatsServer]],
) -> None:
    *site, stranger = tls_cluster(tmp_path, certificates, started, strangers=1)
    wait_for(lambda: ROUTE_REFUSED_AT_STRANGER.search(stranger.log()), "the stranger's refusal")
    assert asyncio.run(_crosses(site[0], site[1], 30.0)), "the site's own routes carry nothing"
    assert not asyncio.run(_crosses(site[0], stranger, NOT_ARRIVED_S)), "the stranger joined"
    assert any(ROUTE_REFUSED_AT_SITE.search(server.log()) for server in site), tails(site)
