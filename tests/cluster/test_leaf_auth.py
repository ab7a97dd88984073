"""Each site's leaf-node link to the province hub with a credential of its own.

The hub's server takes the accounts `siaga nats-accounts --leaf-site ... --hub-url ...`
writes for it (a user per site's link, usable on the leaf-node port only, with the
permissions `appliance.cluster.permissions.leaf_permissions` gives it), and each site's
server includes the file the command wrote for its remote. Real nats-server processes:
- Sites linked with their own credentials (over TLS, as docs/cluster.md sets the link up)
  get the province's rule, which decides their box's call, and send their calls to the
  hub; no site's server stores another's calls.
- A server with no credential, a wrong password or the hub's administrator's password
  (a client's, not a link's) does not link: the rule never reaches its box, and the hub
  and the site's server say why, at each try.
- A server that dials with another site's credential links as that site only: the hub
  gets none of its own calls.
- A site's link cannot use the hub's streams: it cannot read every site's calls there,
  purge the province's rules, delete a stream or make one.
"""

from __future__ import annotations

import asyncio
import shutil
import stat
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import api
from nats.js.errors import APIError

from appliance.cluster.permissions import (
    ACCOUNTS_FILE,
    ADMIN_USER,
    PROVINCE_RULES_STREAM,
    leaf_user,
)
from appliance.model import Action
from tests.cluster.conftest import (
    AgentThread,
    Link,
    NatsServer,
    connected,
    free_port,
    nats_accounts,
    province_servers,
    rows,
    secret,
    wait_for,
)
from tests.cluster.test_province import RING, RING_PREFIX, province_block, screened
from tests.cluster.test_sharing import NUMBER, record_verdicts, rule_row
from tests.cluster.tls_certificates import Certificates

LINKED = ("serang", "cilegon")  # the sites `siaga nats-accounts` made a link for
NOT_ARRIVED_S = 3.0  # how long a refused link is watched for anything crossing it
REFUSED_AT_HUB = 'authentication error - User "{user}"'
REFUSED_AT_SITE = "Leafnode Error 'Authorization Violation'"
NO_CREDENTIAL = "no credentials"  # the user the hub takes a leaf without one for
JUDGED = "SELECT site, appliance, caller FROM calls WHERE disposition IS NOT NULL ORDER BY site"
OTHER_NUMBER = "+6281300001111"


class LeafProvince:
    """The hub's server with the accounts `siaga nats-accounts` writes for it (a link for
    each of `LINKED`), and sites' servers as its leaf nodes, behind one `Link`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.link = Link(free_port())
        self.accounts = tmp_path / "accounts"
        leaf_sites = [option for site in LINKED for option in ("--leaf-site", site)]
        hub_url = f"nats-leaf://127.0.0.1:{self.link.port}"
        nats_accounts(self.accounts, "--site", "banten", "--hub-url", hub_url, *leaf_sites)
        self.servers: dict[str, NatsServer] = {}

    @staticmethod
    def credential_of(site: str) -> str:
        """A remote's url from the file `siaga nats-accounts` wrote for `site`'s link."""
        return f'include "{leaf_user(site)}.conf"'

    def dialing_as(self, user: str, password: str) -> str:
        """A remote's url with a credential written in by hand."""
        return f'url: "nats-leaf://{user}:{password}@127.0.0.1:{self.link.port}"'

    def start(
        self, remotes: Mapping[str, str | None], *, tls: Certificates | None = None
    ) -> dict[str, NatsServer]:
        """Start the hub's server and one server per site of `remotes`, whose value is
        its remote's url (None: the hub's address with no credential); with `tls`, the
        hub's leaf-node port speaks TLS only and each remote trusts the site's CA."""
        urls = {site: url for site, url in remotes.items() if url is not None}
        remote_tls = tls.remote_block() if tls else ""
        self.servers, _ = province_servers(
            self.tmp_path,
            dict.fromkeys(remotes, remote_tls),
            hub_tls=tls.server_block() if tls else "",
            hub_config=f'include "{ACCOUNTS_FILE}"',
            link=self.link,
            remote_urls=urls,
        )
        # nats-server resolves an include beside its own configuration file.
        shutil.copy(self.accounts / ACCOUNTS_FILE, self.servers["hub"].folder)
        for site in remotes:
            for made in self.accounts.glob("leaf-*.conf"):
                shutil.copy(made, self.servers[site].folder)
        for server in self.servers.values():
            server.start()
        return self.servers

    def admin(self) -> dict[str, Any]:
        """The hub's `[cluster]` credential: the administrator's account."""
        return {"user": ADMIN_USER, "password_file": self.accounts / f"{ADMIN_USER}.password"}

    def close(self) -> None:
        self.link.close()
        for server in self.servers.values():
            server.kill()


@pytest.fixture
def leaf_province(tmp_path: Path) -> Iterator[LeafProvince]:
    """The hub's accounts written and its link made; the servers stopped at teardown."""
    made = LeafProvince(tmp_path)
    yield made
    made.close()


def start_parts(
    province: LeafProvince,
    agents: Callable[..., AgentThread],
    boxes: dict[str, Path],
    gathered: tuple[str, ...],
) -> None:
    """A box on each site's server reading the province's rules through its mirror, and
    the hub gathering the sites of `gathered`; all connected."""
    servers = province.servers
    parts = [
        agents(servers[site], "box1", db, site=site, domain=site, province_domain="hub")
        for site, db in boxes.items()
    ]
    hub = province.tmp_path / "hub.db"
    parts.append(
        agents(
            servers["hub"], "hub", hub, site="banten", hub=True, site_domains=gathered,
            **province.admin(),
        )
    )  # fmt: skip
    connected(*parts, timeout_s=60)


def stream_subjects(server: NatsServer, stream: str) -> set[str]:
    """The subjects `stream` holds messages on, on `server`."""

    async def subjects() -> set[str]:
        nc = await nats.connect(server.url)
        try:
            info = await nc.jetstream().stream_info(stream, subjects_filter=">")
            return set(info.state.subjects or {})
        finally:
            await nc.close()

    return asyncio.run(subjects())


def test_sites_linked_with_their_own_credentials_share_with_the_hub_and_not_each_other(
    tmp_path: Path,
    leaf_province: LeafProvince,
    certificates: Certificates,
    agents: Callable[..., AgentThread],
) -> None:
    remotes = {site: leaf_province.credential_of(site) for site in LINKED}
    servers = leaf_province.start(remotes, tls=certificates)
    boxes = {site: tmp_path / f"{site}-box1.db" for site in LINKED}
    start_parts(leaf_province, agents, boxes, gathered=LINKED)
    hub = tmp_path / "hub.db"

    rule_id = province_block(hub, RING_PREFIX)
    for db in boxes.values():
        wait_for(lambda db=db: rule_row(db, rule_id), f"the province's rule on {db.name}", 60)
        assert screened(db, RING) == (Action.REJECT.value, "blocklist", rule_id)
    record_verdicts(boxes["serang"], NUMBER, ["prank"])
    record_verdicts(boxes["cilegon"], OTHER_NUMBER, ["ghost"])
    expected = [("cilegon", "box1", OTHER_NUMBER), ("serang", "box1", NUMBER)]
    wait_for(lambda: rows(hub, JUDGED) == expected, "each site's call at the hub", 60)

    for site in LINKED:  # before, each site's server also stored the other's messages
        for stream, kind in (("SIAGA_CALLS", "call"), ("SIAGA_FACTS", "fact")):
            assert stream_subjects(servers[site], stream) == {f"siaga.{kind}.{site}.box1"}
    assert "authentication error" not in servers["hub"].log()
    for server in servers.values():
        assert REFUSED_AT_SITE not in server.log()
        assert "handshake error" not in server.log()


def test_a_server_without_its_links_credential_does_not_link(
    tmp_path: Path, leaf_province: LeafProvince, agents: Callable[..., AgentThread]
) -> None:
    admin_password = secret(leaf_province.accounts, ADMIN_USER)
    refused = {  # the site, what its remote says, the user the hub refuses
        "cilegon": (None, NO_CREDENTIAL),
        "lebak": (
            leaf_province.dialing_as(leaf_user("cilegon"), "not-its-password"),
            leaf_user("cilegon"),
        ),
        "pandeglang": (leaf_province.dialing_as(ADMIN_USER, admin_password), ADMIN_USER),
    }
    servers = leaf_province.start(
        {"serang": leaf_province.credential_of("serang")}
        | {site: remote for site, (remote, _) in refused.items()}
    )
    boxes = {site: tmp_path / f"{site}-box1.db" for site in ("serang", *refused)}
    start_parts(leaf_province, agents, boxes, gathered=("serang",))

    rule_id = province_block(tmp_path / "hub.db", RING_PREFIX)
    wait_for(lambda: rule_row(boxes["serang"], rule_id), "the rule on serang's box", 60)
    time.sleep(NOT_ARRIVED_S)
    for site, (_, user) in refused.items():
        assert rule_row(boxes[site], rule_id) is None, f"a rule crossed {site}'s refused link"
        assert screened(boxes[site], RING)[1] != "blocklist"
        wait_for(
            lambda site=site: servers[site].log().count(REFUSED_AT_SITE) >= 2,
            f"{site}'s server to say why, at each try",
        )
        assert REFUSED_AT_HUB.format(user=user) in servers["hub"].log()
    assert REFUSED_AT_SITE not in servers["serang"].log()


def test_a_server_with_another_sites_credential_links_only_as_that_site(
    tmp_path: Path, leaf_province: LeafProvince, agents: Callable[..., AgentThread]
) -> None:
    servers = leaf_province.start(
        {
            "serang": leaf_province.credential_of("serang"),
            "cilegon": leaf_province.credential_of("serang"),
        }
    )
    boxes = {site: tmp_path / f"{site}-box1.db" for site in LINKED}
    start_parts(leaf_province, agents, boxes, gathered=LINKED)
    hub = tmp_path / "hub.db"

    rule_id = province_block(hub, RING_PREFIX)  # serang's link may read the province's rules
    for db in boxes.values():
        wait_for(lambda db=db: rule_row(db, rule_id), f"the province's rule on {db.name}", 60)
    record_verdicts(boxes["serang"], NUMBER, ["prank"])
    record_verdicts(boxes["cilegon"], OTHER_NUMBER, ["ghost"])
    wait_for(lambda: rows(hub, JUDGED) == [("serang", "box1", NUMBER)], "serang's call", 60)
    time.sleep(NOT_ARRIVED_S)
    assert rows(hub, JUDGED) == [("serang", "box1", NUMBER)], "cilegon answered as itself"
    assert stream_subjects(servers["serang"], "SIAGA_CALLS") == {"siaga.call.serang.box1"}
    assert "authentication error" not in servers["hub"].log()


async def _forbidden(site: NatsServer) -> list[str]:
    """From a client of the site's server, through its link: read every site's calls at
    the hub, purge the province's rules, delete a stream, make one. Each refused."""
    nc = await nats.connect(site.url)
    js = nc.jetstream(domain="hub", timeout=1.0)
    refused = []
    attempts: dict[str, Callable[[], Awaitable[object]]] = {
        "read the calls": lambda: js.stream_info("SIAGA_CALLS_ALL"),
        "consume the calls": lambda: js.add_consumer(
            "SIAGA_CALLS_ALL", api.ConsumerConfig(deliver_subject="stolen.calls")
        ),
        "purge the province's rules": lambda: js.purge_stream(PROVINCE_RULES_STREAM),
        "delete a stream": lambda: js.delete_stream("SIAGA_CALLS_ALL"),
        "make a stream": lambda: js.add_stream(name="INTRUDER", subjects=["intruder.>"]),
    }
    try:
        for what, attempt in attempts.items():
            try:
                await attempt()
            except (APIError, nats.errors.TimeoutError, nats.errors.NoRespondersError):
                refused.append(what)
    finally:
        await nc.close()
    return refused


async def _hub_streams(hub: NatsServer, accounts: Path) -> dict[str, int]:
    """Each of the hub's streams and how many messages it holds, seen by its admin."""
    nc = await nats.connect(hub.url, user=ADMIN_USER, password=secret(accounts, ADMIN_USER))
    try:
        return {
            info.config.name: info.state.messages
            for info in await nc.jetstream().streams_info()
            if info.config.name is not None
        }
    finally:
        await nc.close()


def test_a_sites_link_cannot_use_the_hubs_streams(
    tmp_path: Path, leaf_province: LeafProvince, agents: Callable[..., AgentThread]
) -> None:
    servers = leaf_province.start({"serang": leaf_province.credential_of("serang")})
    box = tmp_path / "serang-box1.db"
    start_parts(leaf_province, agents, {"serang": box}, gathered=("serang",))
    hub = tmp_path / "hub.db"
    first = province_block(hub, RING_PREFIX)
    wait_for(lambda: rule_row(box, first), "the province's rule on the box", 60)

    assert asyncio.run(_forbidden(servers["serang"])) == [
        "read the calls",
        "consume the calls",
        "purge the province's rules",
        "delete a stream",
        "make a stream",
    ]
    streams = asyncio.run(_hub_streams(servers["hub"], leaf_province.accounts))
    assert streams[PROVINCE_RULES_STREAM] == 1
    assert "SIAGA_CALLS_ALL" in streams
    assert "INTRUDER" not in streams
    second = province_block(hub, "+6285799900022")  # the link itself is still up
    wait_for(lambda: rule_row(box, second), "the next province rule on the box", 60)


async def _delivered_at_hub(
    hub: NatsServer, accounts: Path, site: NatsServer, subjects: list[str]
) -> list[str]:
    """Publish on each of `subjects` from a client of `site`'s server, through its link;
    the subjects the hub's administrator heard on the sources' delivery subjects."""
    heard: list[str] = []

    async def note(msg: Any) -> None:
        heard.append(msg.subject)

    listener = await nats.connect(hub.url, user=ADMIN_USER, password=secret(accounts, ADMIN_USER))
    await listener.subscribe("siaga.deliver.>", cb=note)
    await listener.flush()
    await asyncio.sleep(1.0)  # the hub's interest reaches the site's server
    sender = await nats.connect(site.url)
    try:
        for _ in range(3):
            for subject in subjects:
                await sender.publish(subject, b"{}")
            await sender.flush()
            await asyncio.sleep(NOT_ARRIVED_S / 3)
    finally:
        await sender.close()
        await listener.close()
    return sorted(set(heard) & set(subjects))  # not the sources' own deliveries


def test_a_sites_link_delivers_only_into_its_own_sources_at_the_hub(
    tmp_path: Path, leaf_province: LeafProvince, agents: Callable[..., AgentThread]
) -> None:
    """The hub's sources take each site's streams on a delivery prefix of that site's own
    (`source_deliver_prefix`), and a site's link may send on its prefix only: a site's
    server cannot put messages into another site's sources, as one that guessed their
    delivery subject could when every link might send any `$JS.S.*`."""
    servers = leaf_province.start({site: leaf_province.credential_of(site) for site in LINKED})
    boxes = {site: tmp_path / f"{site}-box1.db" for site in LINKED}
    start_parts(leaf_province, agents, boxes, gathered=LINKED)
    record_verdicts(boxes["serang"], NUMBER, ["prank"])
    hub = tmp_path / "hub.db"
    wait_for(lambda: rows(hub, JUDGED) == [("serang", "box1", NUMBER)], "serang's call", 60)

    own, other = "siaga.deliver.cilegon.S.probe", "siaga.deliver.serang.S.forged"
    heard = asyncio.run(
        _delivered_at_hub(servers["hub"], leaf_province.accounts, servers["cilegon"], [own, other])
    )
    assert heard == [own]  # its own prefix crosses the link; serang's does not
    assert rows(hub, JUDGED) == [("serang", "box1", NUMBER)]


def test_the_hub_keeps_only_hashes_and_a_new_site_changes_no_links_password(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "accounts"
    hub_url = "nats-leaf://hub.example:7422"
    first = nats_accounts(folder, "--site", "banten", "--hub-url", hub_url, "--leaf-site", "serang")
    assert first == [
        folder / name
        for name in (
            ACCOUNTS_FILE,
            "siaga-admin.password",
            "leaf-serang.password",
            "leaf-serang.conf",
        )
    ]
    password = secret(folder, "leaf-serang")
    assert password not in (folder / ACCOUNTS_FILE).read_text(encoding="utf-8")
    assert (
        (folder / "leaf-serang.conf")
        .read_text(encoding="utf-8")
        .endswith(f'url: "nats-leaf://leaf-serang:{password}@hub.example:7422"\n')
    )
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in first)

    again = ("--leaf-site", "serang", "--leaf-site", "cilegon")
    nats_accounts(folder, "--site", "banten", "--hub-url", hub_url, *again)
    assert secret(folder, "leaf-serang") == password
    assert (folder / "leaf-cilegon.conf").exists()
