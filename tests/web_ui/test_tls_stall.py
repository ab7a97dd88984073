"""TLS handshakes that stall: the real `siaga web` over HTTPS, real sockets on loopback.

A client that opens TCP and never starts the TLS handshake, or sends the first byte of a
ClientHello and stops, is closed by the server within `TLS_HANDSHAKE_S` (asyncio's own
default would hold it 60 s), and while such clients wait, a real HTTPS client is served
at once: a stalled handshake holds no worker.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.web_ui.test_https import Certificates, WebProcess, make_certificates, start_web
from web_ui.core.server import TLS_HANDSHAKE_S

STALLED = 40  # half send nothing, half one byte of a ClientHello
CLIENT_HELLO_FIRST_BYTE = b"\x16"  # a TLS record of type handshake, then nothing
SLACK_S = 4.0  # the server's timer fires on its loop; the test reads in 0.25 s steps


@pytest.fixture(scope="module")
def tls_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebProcess, Certificates]]:
    """`siaga web` with the installer's certificate, on a new database."""
    certificates = make_certificates(tmp_path_factory.mktemp("tls-stall-ca"))
    folder: Path = tmp_path_factory.mktemp("tls-stall-web")
    web = start_web(
        folder, "--tls-cert", str(certificates.certificate), "--tls-key", str(certificates.key)
    )
    try:
        yield web, certificates
    finally:
        web.process.terminate()
        web.process.wait(timeout=10)


def wait_listening(port: int) -> None:
    """Until the server accepts connections (it logs its start just before it listens)."""
    deadline = time.monotonic() + 20.0
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert time.monotonic() < deadline, "siaga web does not listen"
        time.sleep(0.05)


def open_stalled(port: int, count: int) -> list[socket.socket]:
    """`count` connections; every second one sends a ClientHello's first byte and stops."""
    sockets = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        if index % 2:
            sock.sendall(CLIENT_HELLO_FIRST_BYTE)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed `sock` (end of stream, or a reset)."""
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_stalled_handshakes_are_closed_in_bounded_time_and_block_nobody(
    tls_web: tuple[WebProcess, Certificates],
) -> None:
    web, certificates = tls_web
    port = urlsplit(web.url).port
    assert port is not None
    wait_listening(port)
    opened = time.monotonic()
    stalled = open_stalled(port, STALLED)
    try:
        with httpx.Client(
            base_url=web.url, verify=certificates.trusting_only_the_ca(), timeout=10.0
        ) as client:
            started = time.monotonic()
            answer = client.get("/login")
            served_s = time.monotonic() - started
        assert answer.status_code == 200
        assert served_s < 2.0, f"a real client waited {served_s:.1f} s behind stalled ones"
        open_socks = {sock.fileno(): sock for sock in stalled}
        closed_after: dict[int, float] = {}
        deadline = opened + TLS_HANDSHAKE_S + SLACK_S
        while open_socks and time.monotonic() < deadline:
            for fd, sock in list(open_socks.items()):
                if closed_by_server(sock):
                    closed_after[fd] = time.monotonic() - opened
                    del open_socks[fd]
            time.sleep(0.25)
        assert not open_socks, f"{len(open_socks)} stalled handshakes still open"
        assert min(closed_after.values()) >= TLS_HANDSHAKE_S - 1.0  # the timeout, not a bug
        assert max(closed_after.values()) < TLS_HANDSHAKE_S + SLACK_S
    finally:
        for sock in stalled:
            sock.close()
    assert web.process.poll() is None
