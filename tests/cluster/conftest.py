"""Real `nats-server` processes with JetStream for the sharing tests, and agents to run.

Each server listens on a free loopback port and keeps its JetStream files in the test's
temporary folder; `stop()` and `start()` again on the same port and folder model a server
that went down and came back with its streams, `kill()` a `kill -9`. Agents are the real
`SyncAgent` on real SQLite files, each on its own thread and event loop, so a test reads
and writes the databases from plain code as the CLI and web UI do. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from appliance.cluster.agent import SyncAgent
from appliance.cluster.hub import Hub
from appliance.config import ClusterConfig
from tests.cluster.tls_certificates import Certificates

DEADLINE_S = 30.0
SITE = "serang"
ZONE = "Asia/Jakarta"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = DEADLINE_S) -> Any:
    """Poll `condition` until it is truthy; fail the test naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def connected(*parts: AgentThread, timeout_s: float = DEADLINE_S) -> None:
    """Wait until every agent has a session with its server."""
    for part in parts:
        wait_for(part.is_connected, f"{part.agent.cluster.appliance} to connect", timeout_s)


def jetstream_ready(servers: list[NatsServer], timeout_s: float = 60.0) -> None:
    """Wait until every server answers a JetStream request: a cluster has elected its
    meta leader (on a busy machine that takes seconds, and an agent that meets the
    election backs off, doubling its wait)."""

    async def answers(server: NatsServer) -> bool:
        try:
            client = await nats.connect(server.url, connect_timeout=2, max_reconnect_attempts=0)
        except Exception:
            return False
        try:
            await client.jetstream().account_info()
            return True
        except Exception:
            return False
        finally:
            await client.close()

    for server in servers:
        wait_for(
            lambda server=server: asyncio.run(answers(server)),
            f"JetStream on {server.url}",
            timeout_s=timeout_s,
        )


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of `sql` on a read-only connection."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def nats_accounts(folder: Path, *args: str) -> list[Path]:
    """Run `siaga nats-accounts --out folder ARGS` as a technician does; the files it says
    it wrote."""
    result = subprocess.run(
        [sys.executable, "-m", "web_ui.cli", "nats-accounts", "--out", str(folder), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [Path(line) for line in result.stdout.split()]


def secret(accounts: Path, user: str) -> str:
    """The password `siaga nats-accounts` keeps for `user` in the folder `accounts`."""
    return (accounts / f"{user}.password").read_text(encoding="utf-8").strip()


class NatsServer:
    """One `nats-server -js` on loopback, restartable on the same port and store folder."""

    def __init__(
        self,
        folder: Path,
        *,
        config_text: str = "",
        domain: str | None = None,
        port: int | None = None,
        jetstream: bool = True,
    ) -> None:
        self.binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.folder = folder
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.route_port: int | None = None  # its `cluster {}` listener, when it has one
        self.config = folder / "server.conf"
        domain_line = f", domain: {domain}" if domain else ""
        streams = (
            f'jetstream {{ store_dir: "{folder / "js"}"{domain_line} }}\n' if jetstream else ""
        )
        self.config.write_text(
            f'listen: "127.0.0.1:{self.port}"\n{streams}{config_text}\n', encoding="utf-8"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"server-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(self._listening, f"nats-server on port {self.port}")

    def log(self) -> str:
        """What the server wrote since it last started."""
        return (self.folder / f"server-{self.starts}.log").read_text(errors="replace")

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"nats-server exited: {self.log()[-2000:]}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
        ):
            return True
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A running JetStream server, stopped at teardown."""
    folder = tmp_path / "nats"
    folder.mkdir()
    server = NatsServer(folder)
    server.start()
    yield server
    server.kill()


class Link:
    """A TCP relay to a loopback port, on its own thread, that can be made slow or cut:
    `slow(2.5)` delays every byte coming back from the port by 2.5 s from then on, in
    order, as a congested mobile link does; `cut()` drops every connection and refuses new
    ones until `heal()`. Clients (agents, or a leaf server) connect to `port` instead."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.delay_s = 0.0
        self.is_cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="link", daemon=True)
        self.thread.start()
        ready.wait(timeout=10)

    def slow(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def cut(self) -> None:
        self.is_cut = True
        self.loop.call_soon_threadsafe(self._drop_all)

    def heal(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", self.port))
        ready.set()
        self.loop.run_forever()
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        if self.is_cut:
            client_out.transport.abort()
            return
        try:
            server_in, server_out = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_out.transport.abort()
            return
        self._writers.update((client_out, server_out))
        await asyncio.gather(
            self._copy(client_in, server_out, delayed=False),
            self._copy(server_in, client_out, delayed=True),
            return_exceptions=True,
        )
        self._writers.difference_update((client_out, server_out))
        for writer in (client_out, server_out):
            writer.transport.abort()

    async def _copy(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        """Copy until end of file; each chunk leaves when its delay is up, in order, and
        the end of file last."""
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await pending.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not chunk:
                    sink.transport.abort()
                    return
                sink.write(chunk)
                await sink.drain()

        sender = asyncio.create_task(deliver())
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(65536):
                await pending.put((time.monotonic() + (self.delay_s if delayed else 0), chunk))
        await pending.put((time.monotonic() + (self.delay_s if delayed else 0), b""))
        with contextlib.suppress(ConnectionError):
            await sender


def province_servers(
    tmp_path: Path,
    sites: dict[str, str],
    *,
    hub_tls: str = "",
    hub_config: str = "",
    link: Link | None = None,
    remote_urls: dict[str, str] | None = None,
) -> tuple[dict[str, NatsServer], Link]:
    """The province hub's server, and each site's server as its leaf node, each with its
    own JetStream domain, not started; the sites reach the hub through one `Link` that can
    be cut. `sites` maps each site to what its remote entry adds (a `tls {}` block, or
    ""); `hub_tls` is the `tls {}` block of the hub's `leafnodes {}`, `hub_config` more of
    the hub's configuration (an `include`). `link`, made beforehand (its `target_port` the
    hub's leaf port), lets a test write the link's address into a file first;
    `remote_urls` maps a site to what its remote entry says instead of the link's `url`
    (an `include` of a file that holds the url and a credential)."""
    link = link or Link(free_port())
    hub_folder = tmp_path / "hub-server"
    hub_folder.mkdir()
    leafnodes = (  # the hub tells leaf nodes the link's address, or they would go round it
        f'leafnodes {{ listen: "127.0.0.1:{link.target_port}", advertise: "127.0.0.1:{link.port}"'
        f"{', ' if hub_tls else ''}{hub_tls} }}"
    )
    servers = {
        "hub": NatsServer(
            hub_folder, domain="hub", config_text=f"server_name: hub\n{leafnodes}\n{hub_config}"
        )
    }
    for site, remote_tls in sites.items():
        folder = tmp_path / f"{site}-server"
        folder.mkdir()
        url = (remote_urls or {}).get(site, f'url: "nats-leaf://127.0.0.1:{link.port}"')
        remote = f"{url}{', ' if remote_tls else ''}{remote_tls}"
        servers[site] = NatsServer(
            folder,
            domain=site,
            config_text=f"server_name: {site}\nleafnodes {{ remotes: [{{ {remote} }}] }}",
        )
    return servers, link


@pytest.fixture
def province(tmp_path: Path) -> Iterator[tuple[dict[str, NatsServer], Link]]:
    """The province hub's server, and two sites' servers as its leaf nodes, each with its
    own JetStream domain; the sites reach the hub through one `Link` that can be cut."""
    servers, link = province_servers(tmp_path, {"serang": "", "cilegon": ""})
    for server in servers.values():
        server.start()
    yield servers, link
    link.close()
    for server in servers.values():
        server.kill()


def site_cluster(tmp_path: Path, route_tls: list[str]) -> list[NatsServer]:
    """One site's servers in the JetStream cluster `serang`, one per entry of `route_tls`
    (the `tls {}` block of that server's `cluster {}`, or ""), not started. Every server
    lists the first three's routes: a fourth joins by reaching them."""
    client_ports = [free_port() for _ in route_tls]
    route_ports = [free_port() for _ in route_tls]
    routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in route_ports[:3])
    servers = []
    for index, tls in enumerate(route_tls):
        folder = tmp_path / f"n{index + 1}"
        folder.mkdir()
        cluster = (
            f"server_name: n{index + 1}\n"
            f'cluster {{ name: serang, listen: "127.0.0.1:{route_ports[index]}", '
            f"routes: [{routes}]{', ' if tls else ''}{tls} }}"
        )
        server = NatsServer(folder, config_text=cluster, port=client_ports[index])
        server.route_port = route_ports[index]
        servers.append(server)
    return servers


@pytest.fixture
def three_servers(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """One site's three servers in a JetStream cluster."""
    servers = site_cluster(tmp_path, ["", "", ""])
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.kill()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """The site's CA and its server certificate, and a stranger's (`Certificates`)."""
    return Certificates(tmp_path_factory.mktemp("nats-tls"))


class AgentThread:
    """A `SyncAgent` (or, given `hub=True`, a `Hub`) on its own thread and event loop, as
    `siaga sync` and `siaga hub` run them."""

    def __init__(self, cluster: ClusterConfig, db: Path, *, hub: bool = False) -> None:
        self.db = db
        self.agent: SyncAgent | Hub = (Hub if hub else SyncAgent)(cluster, db, timezone=ZONE)
        self.loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        # A daemon: an agent that would not stop (a failed test's) cannot hold the run open.
        self.thread = threading.Thread(
            target=self._run, name=f"agent-{cluster.appliance}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._task = self.loop.create_task(self.agent.run())
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self._task)
        self.agent.close()
        self.loop.close()

    def is_connected(self) -> bool:
        return self.agent.connected.is_set()

    def describe(self) -> str:
        """What the agent did and what its outbox holds, for a failure message."""
        agent = self.agent
        unsent = rows(
            self.db,
            "SELECT count(*), max(attempts), max(last_error) FROM outbox WHERE sent_ts IS NULL",
        )
        return (
            f"{agent.cluster.appliance}: connected={self.is_connected()} server={agent.server}"
            f" published={agent.published} applied_rules={getattr(agent, 'applied_rules', '-')}"
            f" unsent (count, attempts, last error)={unsent}"
        )

    def stop(self) -> None:
        """Cancel the agent's task, again each second while it runs: on Python 3.11 the
        NATS client can lose a cancellation that meets a failure (`asyncio.wait_for`)."""
        if self.thread.is_alive():
            wait_for(lambda: self._task is not None, "the agent to start")
            assert self._task is not None
            for _ in range(20):
                self.loop.call_soon_threadsafe(self._task.cancel)
                self.thread.join(timeout=1.0)
                if not self.thread.is_alive():
                    return


@pytest.fixture
def agents() -> Iterator[Callable[..., AgentThread]]:
    """Start agents: `agents(server, "a", db)` (`hub=True`: the hub; `servers=(url, ...)`
    instead of the server's address); each is stopped at teardown."""
    started: list[AgentThread] = []

    def start(
        server: NatsServer | None, appliance: str, db: Path, *, hub: bool = False, **options: Any
    ) -> AgentThread:
        servers = options.pop("servers", None)
        if servers is None:
            assert server is not None, "a server, or servers=(url, ...)"
            servers = (server.url,)
        cluster = ClusterConfig(
            site=options.pop("site", SITE),
            appliance=appliance,
            servers=servers,
            retry_s=0.2,
            **options,
        )
        agent = AgentThread(cluster, db, hub=hub)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
