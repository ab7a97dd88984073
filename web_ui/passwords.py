"""Password hashing with Argon2id (argon2-cffi), and the rules a new password must meet.

argon2-cffi's defaults follow RFC 9106's second recommended profile (64 MiB, 3 passes),
about a quarter of a second on a Raspberry Pi 4. Hashing is slow on purpose, so callers do
it outside any database transaction. A hash made with older parameters is re-made at the
next successful login (`needs_rehash`).

Every hash and check goes through one `HashingPool` per process: at most
`HASHING_WORKERS` (2) run at once, `HASHING_WAITING` more may wait up to
`HASHING_WAIT_S` for a turn, and anything beyond is refused at once with
`HashingBusyError` (the web UI answers 429). A flood of logins therefore costs at most two
Argon2 memories (128 MiB) and a handful of worker threads, and leaves the rest of the
thread pool to the console.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
HASHING_WORKERS = 2
HASHING_WAITING = 4
HASHING_WAIT_S = 5.0

_hasher = PasswordHasher()


class HashingBusyError(RuntimeError):
    """Every hashing slot is taken and the queue is full: try again in a moment."""


class HashingPool:
    """At most `workers` Argon2 runs at once, `waiting` more queued, the rest refused."""

    def __init__(self, workers: int, waiting: int, wait_s: float) -> None:
        self._running = threading.BoundedSemaphore(workers)
        self._admitted = 0
        self._inside = 0
        self.peak = 0  # the most runs there ever were at once (for tests and benches)
        self._capacity = workers + waiting
        self._wait_s = wait_s
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a hashing slot for the block; `HashingBusyError` when none comes."""
        with self._lock:
            if self._admitted >= self._capacity:
                raise HashingBusyError
            self._admitted += 1
        try:
            if not self._running.acquire(timeout=self._wait_s):
                raise HashingBusyError
            with self._lock:
                self._inside += 1
                self.peak = max(self.peak, self._inside)
            try:
                yield
            finally:
                with self._lock:
                    self._inside -= 1
                self._running.release()
        finally:
            with self._lock:
                self._admitted -= 1


POOL = HashingPool(HASHING_WORKERS, HASHING_WAITING, HASHING_WAIT_S)


class PasswordRejectedError(ValueError):
    """A new password that breaks a rule; `code` is the message catalogue key."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def check_new_password(password: str, username: str) -> None:
    """Raise `PasswordRejectedError` unless `password` may be set for `username`."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordRejectedError("error.password_short")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordRejectedError("error.password_long")
    if password.strip().lower() == username.strip().lower():
        raise PasswordRejectedError("error.password_is_username")


def hash_password(password: str) -> str:
    """An Argon2id hash of `password` (encoded with its salt and parameters)."""
    with POOL.slot():
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if `password` matches; False for a wrong password or a damaged hash."""
    with POOL.slot():
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("siaga-no-such-user-dummy-password")  # once, outside the pool


def burn_verify_time(password: str) -> None:
    """Spend as long as a real check, for a user name that does not exist.

    Without it a failed login for an unknown name would answer at once, and the response
    time alone would tell an attacker which names exist.
    """
    verify_password(_dummy_hash(), password)
