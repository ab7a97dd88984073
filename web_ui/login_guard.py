"""Per-address throttling of password checks, before any Argon2 or database work.

`AddressThrottle` keeps, in this process's memory, for each client address: how many of
its password checks are running now, and when its recent failures happened. An address
is refused at once (429, `login.throttled`), without a password check or a database
write, while

- it already has `in_flight` checks running (2): one address cannot take every slot of
  the hashing pool (`web_ui.passwords.POOL`) from the other desks; or
- it failed `failures` times (30) within `window_s` (10 minutes), whatever the names: a
  guesser who cycles through names (each name has its own lockout per address,
  `web_ui.sessions`) is slowed to three guesses a minute.

At most `MAX_ADDRESSES` addresses are remembered; the one seen longest ago is forgotten
first. A restart forgets everything, which costs an attacker a restart of the web process
they cannot cause.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_ADDRESSES = 4096
UNKNOWN_ADDRESS = "?"


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
