"""Connecting `siaga sync` and `siaga hub` to their NATS servers, over TLS when asked.

TLS is asked for by naming the servers' CA in `[cluster]` `tls_ca` (or by a `tls://`
server address). The client (nats-py) upgrades a connection to TLS only when the server's
first message says the server requires it, whatever the address's scheme: a server
without TLS, or something on the LAN answering in its place, would otherwise get a plain
session and the box's password in clear. So when TLS is asked for, the password is handed
to the client only once the TLS handshake has succeeded, and a session that did not shake
hands is closed before it is used (`TlsRefused`). A server whose certificate the CA did not
sign is refused by the handshake itself; the error says which CA was used.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.errors import NoServersError

from appliance.cluster.permissions import inbox_prefix
from appliance.config import ClusterConfig

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
CLOSE_WAIT_S = 1.0


class TlsRefused(ConnectionError):
    """No session: TLS was asked for and the server could not give it safely."""


class HandshakeWitness(ssl.SSLContext):
    """A client TLS context that remembers whether it wrapped a connection: asyncio wraps
    the socket only to shake hands, and a failed handshake ends the connection attempt, so
    a connection that got past it with `shook_hands` set is encrypted."""

    shook_hands = False

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.shook_hands = True
        return super().wrap_bio(*args, **kwargs)


def wants_tls(cluster: ClusterConfig) -> bool:
    """TLS is required: a CA is named, or a server address says `tls://`."""
    return cluster.tls_ca is not None or any(url.startswith("tls://") for url in cluster.servers)


def tls_context(cluster: ClusterConfig) -> HandshakeWitness:
    """The context that checks the servers' certificates: against `tls_ca`, else the
    system's CAs; and shows this box's own (`tls_cert`, `tls_key`) to a server that asks
    for one. A file that cannot be read is said plainly."""
    context = HandshakeWitness(ssl.PROTOCOL_TLS_CLIENT)  # names and chain checked
    if cluster.tls_ca is None:
        context.load_default_certs()
        return context
    try:
        context.load_verify_locations(cafile=str(cluster.tls_ca))
    except (OSError, ssl.SSLError) as exc:
        raise TlsRefused(f"cannot read the CA in tls_ca ({cluster.tls_ca}): {exc}") from None
    if cluster.tls_cert is not None and cluster.tls_key is not None:
        try:
            context.load_cert_chain(certfile=str(cluster.tls_cert), keyfile=str(cluster.tls_key))
        except (OSError, ssl.SSLError) as exc:
            raise TlsRefused(
                f"cannot read this box's certificate ({cluster.tls_cert}) with its key"
                f" ({cluster.tls_key}): {exc}"
            ) from None
    return context


def connect_options(cluster: ClusterConfig, tls: HandshakeWitness | None = None) -> dict[str, Any]:
    """`Client.connect` arguments for the `[cluster]` table: servers, credentials, TLS.

    With `tls`, the password is read only once that context has shaken hands.

    The client does not reconnect by itself: the caller's loop does, and resumes its
    durable consumers, so an outage of any length ends the same way."""
    options: dict[str, Any] = {
        "servers": list(cluster.servers),
        "name": f"siaga-{cluster.site}-{cluster.appliance}",
        "connect_timeout": CONNECT_TIMEOUT_S,
        "allow_reconnect": False,
        # Each server tried twice at most, then `NoServersError` (0 would try for ever,
        # inside one `connect`, with nothing in the journal).
        "max_reconnect_attempts": 1,
    }
    # Replies and deliveries on this box's own inbox, the only one its account may read.
    options["inbox_prefix"] = inbox_prefix(cluster.site, cluster.user or cluster.appliance)
    if cluster.credentials is not None:
        options["user_credentials"] = str(cluster.credentials)
    if cluster.user is not None:
        options["user"] = cluster.user
    if cluster.password_file is not None:
        password = _read_password(cluster.password_file)
        options["password"] = password if tls is None else _after_handshake(password, tls, cluster)
    if tls is not None:
        options["tls"] = tls
    return options


def _read_password(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def _after_handshake(password: str, tls: HandshakeWitness, cluster: ClusterConfig) -> Any:
    """The password as the client asks for it while it builds its first command: only
    after the TLS handshake, never in clear."""

    def hand_over() -> str:
        if not tls.shook_hands:
            raise TlsRefused(_no_tls_message(cluster))
        return password

    return hand_over


def _no_tls_message(cluster: ClusterConfig) -> str:
    return (
        f"the server ({', '.join(cluster.servers)}) offers no TLS, and [cluster] asks"
        " for it (tls_ca or tls://): refused, no credentials sent"
    )


def _untrusted_message(cluster: ClusterConfig, exc: ssl.SSLCertVerificationError) -> str:
    trusted_by = (
        f"the CA in tls_ca ({cluster.tls_ca})"
        if cluster.tls_ca is not None
        else "the system's CAs (no tls_ca in [cluster])"
    )
    return (
        f"the certificate of the server ({', '.join(cluster.servers)}) is not vouched"
        f" for by {trusted_by}: {exc.verify_message or exc}; refused"
    )


def _unreachable_message(cluster: ClusterConfig, last_error: Exception | None) -> str:
    reason = "" if last_error is None else f": {type(last_error).__name__}: {last_error}"
    return f"no server answered ({', '.join(cluster.servers)}){reason}"


async def connect(cluster: ClusterConfig, role: str) -> Client:
    """A connected client, over TLS when `[cluster]` asks for it; raises `TlsRefused` (a
    `ConnectionError`) when TLS is asked for and not had, and whatever the client raises
    for an unreachable server or refused credentials. `role` begins the client's log lines."""
    tls = tls_context(cluster) if wants_tls(cluster) else None
    nc = Client()
    failures: list[Exception] = []  # while connecting: reported once, by the caller

    async def note_error(exc: Exception) -> None:
        if not nc.is_connected:
            failures.append(exc)
            return
        logger.warning("%s: the NATS client reported %s: %s", role, type(exc).__name__, exc)

    try:
        await nc.connect(error_cb=note_error, **connect_options(cluster, tls))
    except ssl.SSLCertVerificationError as exc:
        await close_quietly(nc)
        raise TlsRefused(_untrusted_message(cluster, exc)) from None
    except NoServersError:
        await close_quietly(nc)
        last = next((e for e in reversed(failures) if not isinstance(e, NoServersError)), None)
        raise ConnectionError(_unreachable_message(cluster, last)) from None
    except BaseException:
        await close_quietly(nc)
        raise
    if tls is not None and not tls.shook_hands:  # connected without credentials to send
        await close_quietly(nc)
        raise TlsRefused(_no_tls_message(cluster))
    return nc


async def close_quietly(nc: Client) -> None:
    """Close the client, waiting at most `CLOSE_WAIT_S`: after a failed TLS handshake the
    client's close waits for a socket it has already closed, and would wait forever."""
    try:
        await asyncio.wait_for(nc.close(), CLOSE_WAIT_S)
    except TimeoutError:
        logger.debug("closing the connection did not finish within %.1f s", CLOSE_WAIT_S)
    except Exception:  # closing a dead connection can fail; nothing is lost by it
        logger.debug("closing the connection failed", exc_info=True)
