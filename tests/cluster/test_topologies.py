"""The shapes a site and a province take: three clustered servers, and leaf nodes.

- A site on three clustered servers with every stream replicated three times: `kill -9`
  of the server a box is talking to, in the middle of a burst, loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cluster.conftest import AgentThread, NatsServer, free_port, rows, wait_for
from tests.cluster.test_sharing import NUMBER, block, record_verdicts, rule_row

BURST = 150


@pytest.fixture
def three_servers(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """One site's three servers in a JetStream cluster."""
    client_ports = [free_port() for _ in range(3)]
    route_ports = [free_port() for _ in range(3)]
    routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in route_ports)
    servers = []
    for index in range(3):
        folder = tmp_path / f"n{index + 1}"
        folder.mkdir()
        cluster = (
            f"server_name: n{index + 1}\n"
            f'cluster {{ name: serang, listen: "127.0.0.1:{route_ports[index]}", '
            f"routes: [{routes}] }}"
        )
        servers.append(NatsServer(folder, config_text=cluster, port=client_ports[index]))
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.kill()


def test_kill_9_of_a_clustered_server_during_a_burst_loses_nothing(
    tmp_path: Path, three_servers: list[NatsServer], agents: Callable[..., AgentThread]
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    urls = tuple(server.url for server in three_servers)
    boxes = [
        agents(three_servers[0], box, db, servers=urls, replicas=3)
        for box, db in (("a", a), ("b", b))
    ]
    for box in boxes:
        wait_for(box.is_connected, "the box to join the cluster", timeout_s=60)
    rule_id = block(a, "+62844")
    wait_for(lambda: rule_row(b, rule_id), "the rule on box b")

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


@pytest.fixture
def province(tmp_path: Path) -> Iterator[dict[str, NatsServer]]:
    """The province hub's server, and two sites' servers as its leaf nodes, each with its
    own JetStream domain."""
    leaf_port = free_port()
    hub_folder = tmp_path / "hub-server"
    hub_folder.mkdir()
    servers = {
        "hub": NatsServer(
            hub_folder,
            domain="hub",
            config_text=f'server_name: hub\nleafnodes {{ listen: "127.0.0.1:{leaf_port}" }}',
        )
    }
    for site in ("serang", "cilegon"):
        folder = tmp_path / f"{site}-server"
        folder.mkdir()
        servers[site] = NatsServer(
            folder,
            domain=site,
            config_text=(
                f"server_name: {site}\n"
                f'leafnodes {{ remotes: [{{ url: "nats-leaf://127.0.0.1:{leaf_port}" }}] }}'
            ),
        )
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.kill()


def test_the_hub_gathers_sites_on_leaf_nodes_and_catches_up_after_the_link_heals(
    tmp_path: Path, province: dict[str, NatsServer], agents: Callable[..., AgentThread]
) -> None:
    serang, cilegon, hub = tmp_path / "serang.db", tmp_path / "cilegon.db", tmp_path / "hub.db"
    box_serang = agents(province["serang"], "box1", serang, domain="serang")
    box_cilegon = agents(province["cilegon"], "box1", cilegon, site="cilegon", domain="cilegon")
    the_hub = agents(
        province["hub"], "hub", hub, site="banten", hub=True, site_domains=("serang", "cilegon")
    )
    for part in (box_serang, box_cilegon, the_hub):
        wait_for(part.is_connected, "every part to connect", timeout_s=60)

    record_verdicts(serang, NUMBER, ["prank", "ghost"])
    record_verdicts(cilegon, "+6281300001111", ["genuine:fire"])
    count = "SELECT count(*) FROM calls WHERE disposition IS NOT NULL"
    wait_for(lambda: rows(hub, count) == [(3,)], "three judged calls at the hub", timeout_s=60)

    province["hub"].kill()  # the province's link (and hub) down; the sites go on
    record_verdicts(serang, NUMBER, ["prank"] * 5, first_call_id=10)
    record_verdicts(cilegon, "+6281300001111", ["ghost"] * 5, first_call_id=10)
    for db in (serang, cilegon):
        wait_for(
            lambda db=db: rows(db, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(0,)],
            "each site's outbox sent to its own server",
        )
    province["hub"].start()
    wait_for(lambda: rows(hub, count) == [(13,)], "every call at the hub", timeout_s=90)
    time.sleep(1.0)
    assert rows(hub, "SELECT site, count(*) FROM calls GROUP BY site ORDER BY site") == [
        ("cilegon", 6),
        ("serang", 7),
    ]
    assert the_hub.agent.refused == 0
