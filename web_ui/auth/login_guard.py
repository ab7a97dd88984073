"""Per-address throttling of password checks, before any Argon2 or database work.

`AddressThrottle` keeps, in this process's memory, for each client address: how many of
its password checks are running now, and when its recent failures happened. An address
is refused at once (429, `login.throttled`), without a password check or a database
write, while

- it already has `in_flight` checks running (2): one address cannot take every slot of
  the hashing pool (`web_ui.auth.passwords.POOL`) from the other desks; or
- it failed `failures` times (30) within `window_s` (10 minutes), whatever the names: a
  guesser who cycles through names (each name has its own lockout per address,
  `web_ui.auth.sessions`) is slowed to three guesses a minute.

At most `MAX_ADDRESSES` addresses are remembered; the one seen longest ago is forgotten
first. A restart forgets everything, which costs an attacker a restart of the web process
they cannot cause.

`LoginGate`, an ASGI middleware in front of the login routes (`POST /login`,
`POST /api/login`), keeps a flood of logins from crowding out everyone else:

- **At most `LOGINS_AT_ONCE` (8) logins are inside the app at once**, the rest wait their
  turn in order, costing a suspended coroutine each and neither a thread, a database
  connection nor a parse. Every request crosses the single event loop several times
  (to a worker thread for each dependency and the handler, and back); with 150 logins
  inside at once, an operator's console request waited behind all of them at every
  crossing, seconds in all. At most `LOGINS_WAITING` (512) may wait; beyond that a login
  is answered 429 `login.busy` without entering the app.
- **A refusal is held back** before it is sent (any 429 to a login: throttled, locked,
  the hashing pool busy), outside the eight places: `REFUSAL_HOLD_S` (1 s) for an
  address's first refusal in a row, twice as long for each further one up to
  `REFUSAL_HOLD_MAX_S` (8 s); any other answer to the address (a wrong password checked,
  a login) starts it again at 1 s. A client that asks again the moment it is answered
  gets one refusal every 8 s instead of as many as the server can write, each costing
  the event loop what a request costs; a person who is refused reads the message a
  second or two later. The counts are per address, in memory, at most `MAX_ADDRESSES`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.requests import Request

from web_ui.core.i18n import LANGUAGE_COOKIE, language_or_default, translate

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

MAX_ADDRESSES = 4096
UNKNOWN_ADDRESS = "?"
GATED_PATHS = frozenset({"/login", "/api/login"})
LOGINS_AT_ONCE = 8  # the hashing pool's 2 running and 4 waiting, and 2 it refuses at once
LOGINS_WAITING = 512
REFUSAL_HOLD_S = 1.0
REFUSAL_HOLD_MAX_S = 8.0


class ThrottledError(Exception):
    """The address must wait `retry_after_s` seconds (0: until its other checks end)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


@dataclass
class _Address:
    in_flight: int = 0
    failures: deque[float] = field(default_factory=deque)


class AddressThrottle:
    """The throttle (see the module docstring); one per app, shared by its threads."""

    def __init__(self, *, failures: int, window_s: float, in_flight: int = 2) -> None:
        self._failures = failures
        self._window_s = window_s
        self._in_flight = in_flight
        self._addresses: OrderedDict[str, _Address] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, address: str) -> _Address:
        entry = self._addresses.get(address)
        if entry is None:
            entry = self._addresses[address] = _Address()
            while len(self._addresses) > MAX_ADDRESSES:
                self._addresses.popitem(last=False)
        self._addresses.move_to_end(address)
        return entry

    def _forget_old(self, entry: _Address, now: float) -> None:
        while entry.failures and entry.failures[0] <= now - self._window_s:
            entry.failures.popleft()

    @contextlib.contextmanager
    def attempt(self, address: str | None) -> Iterator[None]:
        """Hold one of the address's check slots for the block, or `ThrottledError`."""
        key = address or UNKNOWN_ADDRESS
        now = time.monotonic()
        with self._lock:
            entry = self._entry(key)
            self._forget_old(entry, now)
            if len(entry.failures) >= self._failures:
                wait_s = entry.failures[0] + self._window_s - now
                raise ThrottledError(max(1, math.ceil(wait_s)))
            if entry.in_flight >= self._in_flight:
                raise ThrottledError(1)
            entry.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                entry.in_flight -= 1

    def failed(self, address: str | None) -> None:
        """Count a failed password check from `address`."""
        with self._lock:
            self._entry(address or UNKNOWN_ADDRESS).failures.append(time.monotonic())


class _HoldRefusal:
    """A `send` that passes an answer on, unless it is a 429: that one is kept whole in
    `held` to be sent later."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.held: list[Message] = []

    async def __call__(self, message: Message) -> None:
        if (message["type"] == "http.response.start" and message.get("status") == 429) or self.held:
            self.held.append(message)
        else:
            await self._send(message)


async def _read_body(receive: Receive) -> None:
    """Read a request's body to its end (`web_ui.core.request_limits` bounds it)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _busy_answer(scope: MutableMapping[str, Any]) -> tuple[bytes, bytes]:
    """(content type, body) of a `login.busy` refusal made here: the API's own for
    `/api/login`; for a page, both languages (no template here)."""
    if str(scope["path"]).startswith("/api/"):
        language = language_or_default(Request(scope).cookies.get(LANGUAGE_COOKIE))
        body = {"detail": "login.busy", "message": translate(language, "login.busy")}
        return b"application/json", json.dumps(body).encode()
    text = f"{translate('id', 'login.busy')}\n{translate('en', 'login.busy')}\n"
    return b"text/plain; charset=utf-8", text.encode()


class RefusalHolds:
    """How long to hold the next refusal to each address: doubling while they come in a
    row, from `first_s` up to `max_s`; an answer that is no refusal starts again."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self._in_a_row: OrderedDict[str, int] = OrderedDict()

    def refused(self, address: str | None) -> float:
        """Count a refusal to `address`; the seconds to hold it."""
        key = address or UNKNOWN_ADDRESS
        count = self._in_a_row.pop(key, 0) + 1
        self._in_a_row[key] = count
        while len(self._in_a_row) > MAX_ADDRESSES:
            self._in_a_row.popitem(last=False)
        return float(min(self._max_s, self._first_s * 2 ** min(count - 1, 16)))

    def answered(self, address: str | None) -> None:
        """`address` got an answer that is no refusal."""
        self._in_a_row.pop(address or UNKNOWN_ADDRESS, None)


def _address(scope: MutableMapping[str, Any]) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


class LoginGate:
    """The ASGI middleware in front of the login routes (see the module docstring)."""

    def __init__(
        self,
        app: Asgi,
        *,
        at_once: int = LOGINS_AT_ONCE,
        waiting: int = LOGINS_WAITING,
        hold_s: float = REFUSAL_HOLD_S,
        hold_max_s: float = REFUSAL_HOLD_MAX_S,
    ) -> None:
        self.app = app
        self._places = anyio.Semaphore(at_once)  # waiters are served in order
        self._max_waiting = waiting
        self._waiting = 0
        self.holds = RefusalHolds(hold_s, hold_max_s)
        self.inside = 0  # logins inside the app now (for tests)
        self.peak = 0

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        gated = (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path") in GATED_PATHS
        )
        if not gated:
            await self.app(scope, receive, send)
            return
        address = _address(scope)
        if self._waiting >= self._max_waiting:
            await _read_body(receive)  # read, so the connection may serve another request
            await anyio.sleep(self.holds.refused(address))
            await self._refuse(scope, send)
            return
        holding = await self._inside(scope, receive, send)
        if not holding.held:
            self.holds.answered(address)
            return
        await anyio.sleep(self.holds.refused(address))
        for message in holding.held:
            await send(message)

    async def _inside(
        self, scope: MutableMapping[str, Any], receive: Receive, send: Send
    ) -> _HoldRefusal:
        """Run the app in one of the places, after those waiting before; its refusal, if
        it refused, is kept in what this returns."""
        self._waiting += 1
        try:
            await self._places.acquire()
        finally:
            self._waiting -= 1
        holding = _HoldRefusal(send)
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        try:
            await self.app(scope, receive, holding)
        finally:
            self.inside -= 1
            self._places.release()
        return holding

    async def _refuse(self, scope: MutableMapping[str, Any], send: Send) -> None:
        logger.info("login to %s refused: %d already waiting", scope["path"], self._max_waiting)
        content_type, body = _busy_answer(scope)
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
