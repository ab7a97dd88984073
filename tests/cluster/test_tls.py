"""Sharing over TLS, against a real nats-server whose certificate the installer's CA signed.

The CA is made at test time by the installer's own function (`install.sh`'s
`tls_make_ca`, as for `siaga web`'s HTTPS), the server's certificate signed by it with the
shell lines docs/cluster.md gives, and the server runs with a `tls {}` block, so it speaks
only TLS:
- boxes whose `[cluster]` names the CA in `tls_ca` connect and share (one with a `tls://`
  address, one with `nats://`: the client upgrades either way);
- a box given another CA is refused with a clear line in its log, keeps trying, and its
  line service screens as before (real `siaga run` and `siaga sync` processes);
- a plain-text client is refused by the server;
- a box that names a CA never talks plain text to a server that offers no TLS: its
  password never leaves it;
- with mutual TLS (the server asks every client for a certificate the site's CA signed,
  each box's made with the lines docs/cluster.md gives), the boxes holding theirs share,
  and a box with none, or with one a stranger's CA signed, is refused in the handshake.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from tests.cluster.conftest import AgentThread, NatsServer, connected, rows, wait_for
from tests.cluster.test_centres import BLOCKED, Box
from tests.cluster.test_sharing import block, rule_row
from tests.cluster.tls_certificates import Certificates, plain_text_session
from tests.faults.conftest import query, wait_real


@pytest.fixture
def tls_server(tmp_path: Path, certificates: Certificates) -> Iterator[NatsServer]:
    """A JetStream server that speaks TLS only, with the installer's CA's certificate."""
    folder = tmp_path / "nats"
    folder.mkdir()
    server = NatsServer(folder, config_text=certificates.server_block())
    server.start()
    yield server
    server.kill()


def test_boxes_that_name_the_ca_share_over_tls(
    tmp_path: Path,
    tls_server: NatsServer,
    certificates: Certificates,
    agents: Callable[..., AgentThread],
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    tls_url = tls_server.url.replace("nats://", "tls://")
    box_a = agents(tls_server, "a", a, tls_ca=certificates.ca, servers=(tls_url,))
    box_b = agents(tls_server, "b", b, tls_ca=certificates.ca)  # nats://: upgraded too
    connected(box_a, box_b)
    rule_id = block(a, "+62877")
    shared = wait_for(lambda: rule_row(b, rule_id), "the rule on box b")
    assert shared["origin"] == "a"
    assert box_a.agent.refused == box_b.agent.refused == 0


def test_a_box_given_another_ca_is_refused_and_keeps_screening(
    tmp_path: Path, tls_server: NatsServer, certificates: Certificates
) -> None:
    box = Box(
        tmp_path / "box", "a", tls_server, cluster_extra=f'tls_ca = "{certificates.stranger_ca}"\n'
    )
    try:
        box.start(wait_connected=False)
        sync = box.sync
        assert sync is not None
        refusal = f"is not vouched for by the CA in tls_ca ({certificates.stranger_ca})"
        wait_real(lambda: sync.output().count(refusal) >= 3, "three refused tries")
        assert sync.process.poll() is None, sync.output()  # still trying, not dead
        assert "Traceback" not in sync.output()
        assert not box.centre.events("sync_connected")

        box.centre.block(BLOCKED, action="reject")  # the supervisor's block, while refused
        wait_real(lambda: box.rules_loaded() == 1, "the line service to load the block")
        row = box.call_and_hang_up(BLOCKED)
        assert (row["decision"], row["reason"]) == ("reject", "blocklist")
        unsent = query(box.centre.db, "SELECT kind FROM outbox WHERE sent_ts IS NULL")
        assert "rule" in {found["kind"] for found in unsent}  # kept for when the CA is right
    finally:
        box.close()


def test_plain_text_to_the_tls_server_is_refused(tls_server: NatsServer) -> None:
    info, answer = plain_text_session(tls_server.port)
    assert info["tls_required"] is True
    assert b"PONG" not in answer

    async def without_the_ca() -> None:  # a client trusting only the system's CAs
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            await nats.connect(tls_server.url, allow_reconnect=False, connect_timeout=5)

    asyncio.run(without_the_ca())


class ServerWithoutTls:
    """Something on the server's address that speaks NATS but offers no TLS (a server
    set up without it, or a machine answering in its place): it asks for credentials and
    keeps whatever a client sends it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.sessions = 0
        self.thread = threading.Thread(target=self._serve, name="no-tls", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        info = {"server_id": "impostor", "version": "2.9.10", "proto": 1, "headers": True,
                "max_payload": 1048576, "auth_required": True}  # fmt: skip
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sessions += 1
            with client:
                client.settimeout(1.0)
                client.sendall(b"INFO " + json.dumps(info).encode() + b"\r\n")
                try:
                    while chunk := client.recv(4096):
                        self.received += chunk
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def test_a_box_that_names_a_ca_never_talks_plain_text(
    tmp_path: Path,
    certificates: Certificates,
    agents: Callable[..., AgentThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    impostor = ServerWithoutTls()
    password_file = tmp_path / "a.password"
    password_file.write_text("not-for-strangers\n", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="appliance.cluster.agent")
    try:
        box = agents(
            None, "a", tmp_path / "a.db", servers=(f"nats://127.0.0.1:{impostor.port}",),
            tls_ca=certificates.ca, user="a", password_file=password_file,
        )  # fmt: skip
        wait_for(lambda: impostor.sessions >= 3, "three tries")
        time.sleep(1.5)  # the last try's bytes, if any, have arrived
    finally:
        impostor.close()
    assert not box.is_connected()
    assert b"not-for-strangers" not in impostor.received
    assert b"CONNECT" not in impostor.received
    assert "offers no TLS" in caplog.text
    assert rows(tmp_path / "a.db", "SELECT count(*) FROM events WHERE kind = 'sync_connected'") == [
        (0,)
    ]


@pytest.fixture
def verifying_server(tmp_path: Path, certificates: Certificates) -> Iterator[NatsServer]:
    """A JetStream server that asks every client for a certificate the site's CA signed."""
    folder = tmp_path / "nats-verify"
    folder.mkdir()
    server = NatsServer(folder, config_text=certificates.server_block(verify=True))
    server.start()
    yield server
    server.kill()


def test_with_mutual_tls_only_boxes_holding_a_certificate_of_the_site_get_in(
    tmp_path: Path,
    verifying_server: NatsServer,
    certificates: Certificates,
    agents: Callable[..., AgentThread],
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    mine = {
        box: dict(zip(("tls_cert", "tls_key"), certificates.box_certificate(box), strict=True))
        for box in ("a", "b")
    }
    box_a = agents(verifying_server, "a", a, tls_ca=certificates.ca, **mine["a"])
    box_b = agents(verifying_server, "b", b, tls_ca=certificates.ca, **mine["b"])
    connected(box_a, box_b)
    rule_id = block(a, "+62877")
    assert wait_for(lambda: rule_row(b, rule_id), "the rule on box b")["origin"] == "a"

    strangers_cert, strangers_key = certificates.box_certificate("c", stranger=True)
    no_certificate = agents(verifying_server, "c", tmp_path / "c.db", tls_ca=certificates.ca)
    strangers = {"tls_cert": strangers_cert, "tls_key": strangers_key}
    strangers_box = agents(
        verifying_server, "d", tmp_path / "d.db", tls_ca=certificates.ca, **strangers
    )
    intruders = [no_certificate, strangers_box]
    for index, intruder in enumerate(intruders):
        block(intruder.db, f"+6281100000{index}")
    time.sleep(3.0)  # several tries each (the first wait 0.2 s, doubling)
    for intruder in intruders:
        assert not intruder.is_connected()
        assert rows(intruder.db, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") != [(0,)]
    assert rows(b, "SELECT count(*) FROM rules") == [(1,)]  # nothing of theirs arrived
    log = verifying_server.log()
    assert "client didn't provide a certificate" in log, log[-2000:]
    assert "certificate signed by unknown authority" in log, log[-2000:]


def test_a_box_certificate_needs_its_key_and_the_ca() -> None:
    from appliance.config import ClusterConfig

    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        ClusterConfig(site="serang", appliance="a", tls_ca=Path("ca.crt"), tls_cert=Path("a.crt"))
    with pytest.raises(ValueError, match="tls_cert needs tls_ca"):
        ClusterConfig(site="serang", appliance="a", tls_cert=Path("a.crt"), tls_key=Path("a.key"))
