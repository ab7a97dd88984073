"""How `siaga web` (and the tests' live server) runs uvicorn: timeouts and trusted headers.

- **Headers must arrive whole within `header_timeout_s`** (10 s) of the connection opening
  or of the previous answer (`HeaderTimeoutProtocol`, uvicorn's h11 protocol with a
  timer): a connection that sends nothing, or dribbles its headers a byte at a time, is
  closed unanswered. uvicorn itself only times out idle keep-alive connections between
  requests, never one that has not finished its first request's headers, so without this a
  few thousand stalled sockets would use up the process's descriptors. Each connection's
  timer is set at a random point of the timeout's last fifth (8-10 s): a thousand
  connections stalled at once were otherwise all closed, and at once opened again, in
  the same instant, a burst that held the event loop, and an operator's console request,
  for half a second (`bench/bench_web_load.py`). Headers are at
  most 16 KB (h11's own limit); bodies are bounded in time and size by
  `web_ui.core.request_limits`; idle keep-alive connections close after `KEEP_ALIVE_S`.
- **`X-Forwarded-For` is not trusted** (`proxy_headers=False`): Siaga is served directly,
  never behind a proxy, so the address in the audit log and the lockouts is always the
  peer's own.
- **A TLS handshake must finish within `TLS_HANDSHAKE_S`** (10 s) of the connection
  opening (`SiagaEventLoop`): asyncio's own default is 60 s, so a client that opens TCP
  and never finishes its ClientHello held a descriptor for a minute. The handshake runs
  on the event loop without a worker thread, so a stalled one blocks nobody meanwhile;
  the header timer starts once it is done. Closing a TLS connection waits at most
  `TLS_SHUTDOWN_S` (5 s) for the peer's close_notify instead of 30 s.
- The installed unit raises the descriptor limit (`LimitNOFILE=` in
  `systemd/siaga-web.service`) well above the connections this can leave open at once.
- **HTTPS** (`TlsFiles`): given a certificate and its key (the installer makes both, signed
  by the box's own certificate authority, in /etc/siaga/tls/), the UI is served over TLS
  1.2 or 1.3 with forward-secret AEAD ciphers only. `check_listening` refuses plain HTTP
  on any address beyond loopback unless the operator of the box said so explicitly
  (`siaga web --insecure-http`): passwords, session cookies and CSRF tokens must not cross
  the centre's network in clear. `check_tls_files` loads the pair before anything binds,
  so a missing, unreadable or mismatched file is one clear line, not a traceback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from web_ui.core.web_settings import WebSettings

logger = logging.getLogger(__name__)

KEEP_ALIVE_S = 5
TLS_HANDSHAKE_S = 10.0
TLS_SHUTDOWN_S = 5.0
HEADER_TIMEOUT_SPREAD = 0.2  # the last fifth of the header timeout
GRACEFUL_SHUTDOWN_S = 2  # an open console's event stream would hold a stop for a minute
# TLS 1.2 suites with forward secrecy and authenticated encryption (TLS 1.3's are all so).
TLS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


class ListenError(Exception):
    """The web UI cannot listen as asked; the message says why and what to do."""


@dataclass(frozen=True)
class TlsFiles:
    """The server certificate (PEM, the chain after it if any) and its private key."""

    certificate: Path
    key: Path


def is_loopback(host: str) -> bool:
    """True when `host` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name, or "" (every address): it may face the network


def check_listening(host: str, tls: TlsFiles | None, *, insecure_http: bool) -> None:
    """Refuse plain HTTP beyond loopback unless `insecure_http` says it is meant (then say
    so loudly in the log)."""
    if tls is not None or is_loopback(host):
        return
    if insecure_http:
        logger.warning(
            "INSECURE: plain HTTP on %s (--insecure-http): passwords and session cookies"
            " cross the network unencrypted",
            host or "every address",
        )
        return
    raise ListenError(
        f"refusing to serve plain HTTP on {host or 'every address'}: passwords and session"
        " cookies would cross the network unencrypted. Give --tls-cert and --tls-key (the"
        " installer makes /etc/siaga/tls/server.crt and server.key; the installed"
        " siaga-web service passes them), or listen on 127.0.0.1, or, only on a network"
        " nobody else can reach, add --insecure-http"
    )


def check_tls_files(tls: TlsFiles) -> None:
    """Load the certificate and key as the server will, so a bad pair stops the start with
    one clear message (which file, and what is wrong with it)."""
    for what, path in (("certificate", tls.certificate), ("key", tls.key)):
        if not path.is_file():
            raise ListenError(
                f"no TLS {what} at {path}: run the installer again (sudo ./install.sh)"
            )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(tls.certificate, tls.key)
    except PermissionError as exc:
        raise ListenError(
            f"cannot read {exc.filename or tls.key}: permission denied (the key is for root"
            " and the siaga group: run siaga web as the siaga user)"
        ) from None
    except ssl.SSLError as exc:
        raise ListenError(
            f"{tls.certificate} and {tls.key} are not a usable certificate and key ({exc.reason}):"
            " run the installer again (sudo ./install.sh) to make a new pair"
        ) from None


def tls_options(tls: TlsFiles | None) -> dict[str, Any]:
    """uvicorn's options to serve `tls` (none for plain HTTP)."""
    if tls is None:
        return {}
    return {
        "ssl_certfile": str(tls.certificate),
        "ssl_keyfile": str(tls.key),
        "ssl_ciphers": TLS_CIPHERS,
    }


class SiagaEventLoop(asyncio.SelectorEventLoop):
    """asyncio's loop, whose TLS servers bound the handshake and the closing of a
    connection (`TLS_HANDSHAKE_S`, `TLS_SHUTDOWN_S`); uvicorn makes its server with
    neither, so asyncio's defaults (60 s and 30 s) would apply."""

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", TLS_HANDSHAKE_S)
            kwargs.setdefault("ssl_shutdown_timeout", TLS_SHUTDOWN_S)
        return await super().create_server(*args, **kwargs)


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers stall."""

    header_timeout_s: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_headers():
            if self._header_timer is None:
                self._arm_header_timer()  # the next request of a kept-alive connection
        else:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._waiting_for_headers():
            self._disarm_header_timer()  # idle again: uvicorn's keep-alive timer runs

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        return bool(self.conn.their_state is h11.IDLE)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        spread = 1.0 - HEADER_TIMEOUT_SPREAD * random.random()
        self._header_timer = self.loop.call_later(
            self.header_timeout_s * spread, self._headers_too_slow
        )

    def _disarm_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
        self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            self.transport.close()


def protocol_for(settings: WebSettings) -> type[HeaderTimeoutProtocol]:
    """The protocol class with this configuration's header timeout."""
    return type(
        "SiagaHttpProtocol",
        (HeaderTimeoutProtocol,),
        {"header_timeout_s": settings.header_timeout_s},
    )


def uvicorn_config(app: Any, settings: WebSettings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the web UI; `options` add the rest (host and port, or
    logging)."""
    return uvicorn.Config(
        app,
        http=protocol_for(settings),
        loop=f"{__name__}:SiagaEventLoop",  # bounded TLS handshakes
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
        **options,
    )


def serve_forever(app: Any, settings: WebSettings, **options: Any) -> None:
    """Run the web UI until it is stopped (SIGTERM, Ctrl-C)."""
    uvicorn.Server(uvicorn_config(app, settings, **options)).run()
