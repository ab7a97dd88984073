"""Limits on what a request may send, enforced before routing and before any login check.

`RequestLimits` is a pure ASGI middleware, the outermost of the app's own, so no router,
dependency or form parser sees a byte more than the route allows:

- **Body size per route** (`body_limit`): a `Content-Length` above the route's limit is
  answered 413 at once, unread; a body without one (chunked) is counted as it arrives and
  answered 413 the moment it passes the limit. The rest is never read: the connection is
  closed. Login and setup take a few kilobytes, ordinary forms and JSON 128 KB, the rules
  import 1 MB, and only the restore upload `appliance.store.restore.MAX_RESTORE_BYTES` (2 GB) plus
  the form's own bytes, which its handler streams to disk after the login check.
- **An answer before the body** (a login redirect for an anonymous upload) closes the
  connection, so the server does not go on reading a body nobody will use.
- **Body read timeout**: a client that stops sending in the middle of its body for
  `body_idle_s` gets 408 and the connection is closed, so a stalled upload ties up neither
  a descriptor nor a worker for long. Headers that never finish are the server's business
  (`web_ui.core.server`); this only watches bodies.

A refusal is final: whatever the app sends afterwards is dropped, and an error it raises
because its body was cut short is not logged as a server error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from appliance.store import restore
from web_ui.core.i18n import translate
from web_ui.core.web_settings import BODY_IDLE_S

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

LOGIN_BODY_BYTES = 8 * 1024
FORM_BODY_BYTES = 128 * 1024
RULES_IMPORT_BODY_BYTES = 1024 * 1024

LOGIN_PATHS = frozenset({"/login", "/setup", "/api/login"})
RULES_IMPORT_PATHS = frozenset({"/rules/import", "/rules/import/confirm"})
RESTORE_PATH = "/system/restore"


def body_limit(method: str, path: str) -> int:
    """The most bytes of body the route `method path` accepts."""
    if method == "POST" and path == RESTORE_PATH:
        return restore.MAX_RESTORE_BYTES + restore.MULTIPART_SLACK_BYTES
    if path in LOGIN_PATHS:
        return LOGIN_BODY_BYTES
    if path in RULES_IMPORT_PATHS:
        return RULES_IMPORT_BODY_BYTES
    return FORM_BODY_BYTES


def _declared_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _has_body(scope: MutableMapping[str, Any]) -> bool:
    declared = _declared_length(scope)
    if declared is not None:
        return declared > 0
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", []))


def _refusal(path: str, status: int) -> tuple[bytes, bytes]:
    """(content type, body) of a 413 or 408, in both languages (no session is known yet)."""
    code = "error.too_large" if status == 413 else "error.request_timeout"
    if path.startswith("/api/"):
        body = {"detail": code, "message": translate("en", code)}
        return b"application/json", json.dumps(body).encode()
    text = f"{translate('id', code)}\n{translate('en', code)}\n"
    return b"text/plain; charset=utf-8", text.encode()


class _BodyGuard:
    """One request's view of its body: counted, timed, and cut off at the limit."""

    def __init__(
        self, scope: MutableMapping[str, Any], receive: Receive, send: Send, idle_s: float
    ) -> None:
        self._path = str(scope.get("path", ""))
        self._receive = receive
        self._send = send
        self._limit = body_limit(str(scope.get("method", "")), self._path)
        self._idle_s = idle_s
        self._received = 0
        self._body_done = not _has_body(scope)
        self._response_started = False
        self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        if self._body_done:  # a stream waiting for the client to go: no timeout
            return await self._receive()
        with anyio.move_on_after(self._idle_s) as waited:
            message = await self._receive()
        if waited.cancelled_caught:
            await self.refuse(408)
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                await self.refuse(413)
                return {"type": "http.disconnect"}
            self._body_done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self._response_started = True
            if not self._body_done:  # answered unread (a login redirect): read no more
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
        await self._send(message)

    async def refuse(self, status: int) -> None:
        """Answer `status` (if nothing was answered yet) and close the connection."""
        if self.refused:
            return
        self.refused = True
        logger.info("request to %s refused with %d (body limit or timeout)", self._path, status)
        if self._response_started:
            return
        content_type, body = _refusal(self._path, status)
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
        ]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


class RequestLimits:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app: Asgi, body_idle_s: float = BODY_IDLE_S) -> None:
        self.app = app
        self.body_idle_s = body_idle_s

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = _BodyGuard(scope, receive, send, self.body_idle_s)
        declared = _declared_length(scope)
        if declared is not None and declared > body_limit(scope["method"], scope["path"]):
            await guard.refuse(413)
            return
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.refused:
                raise
            logger.debug("the app stopped after its body was refused", exc_info=True)
