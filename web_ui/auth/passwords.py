"""Password hashing with Argon2id (argon2-cffi), and the rules a new password must meet.

argon2-cffi's defaults follow RFC 9106's second recommended profile (64 MiB, 3 passes),
about a quarter of a second on a Raspberry Pi 4. Hashing is slow on purpose, so callers do
it outside any database transaction. A hash made with older parameters is re-made at the
next successful login (`needs_rehash`).

Every hash and check goes through one `HashingPool` per process: at most
`HASHING_WORKERS` (2, or 1 on a machine of 2 cores or fewer) run at once,
`HASHING_WAITING` more may wait up to `HASHING_WAIT_S` for a turn, and anything beyond is
refused at once with `HashingBusyError` (the web UI answers 429). A flood of logins
therefore costs at most two Argon2 memories (128 MiB) and a handful of worker threads,
and leaves the rest of the thread pool to the console. Each check keeps a core busy for
its quarter second, so at most half the machine's cores hash at once: with two running
on two cores the event loop that serves the console got a fraction of one, and an
operator's console took seconds to answer during a flood of logins
(`bench/bench_web_load.py`).

Argon2 itself runs in `HASHING_WORKERS` threads of its own at the lowest CPU priority
(`HASHING_NICE`, Linux's per-thread nice value): when the machine has no core to spare,
the event loop and the console's requests run first and the password checks wait,
instead of the checks taking their turn on the CPU beside the console. With Argon2 in
the request's own thread, a login flood on a busy 2-core machine put an operator's
console at p95 300 ms; with the same checks replaced by sleeps of the same length, at
its p95 alone (42 ms): the check's CPU, not the requests, was the cost. Where the nice
value cannot be set (a seccomp filter without `setpriority`), the threads run at the
process's priority and the start says so in the log.

The hash that unknown names are checked against (`burn_verify_time`) is made once, in
the pool, under a lock: made lazily without one, a flood of logins for unknown names at
start made one per request, dozens at once outside the pool, 64 MiB each.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
HASHING_WORKERS = 2 if (os.cpu_count() or 1) > 2 else 1  # at most half the cores
HASHING_WAITING = 4
HASHING_WAIT_S = 5.0
HASHING_NICE = 19  # the lowest priority: any other runnable thread goes first

logger = logging.getLogger(__name__)

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


def _lowest_priority() -> None:
    """Run this thread (an Argon2 worker) at `HASHING_NICE`, if the system lets it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICE)
    except (OSError, AttributeError) as refused:
        logger.info("password checks run at normal CPU priority (%s)", refused)


_ARGON2 = ThreadPoolExecutor(
    max_workers=HASHING_WORKERS, thread_name_prefix="argon2", initializer=_lowest_priority
)


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
        return _ARGON2.submit(_hasher.hash, password).result()


def verify_password(password_hash: str, password: str) -> bool:
    """True if `password` matches; False for a wrong password or a damaged hash."""
    with POOL.slot():
        try:
            return _ARGON2.submit(_hasher.verify, password_hash, password).result()
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


_dummy_lock = threading.Lock()
_dummy: list[str] = []


def _dummy_hash() -> str:
    """A hash to check unknown names against, made once, in the pool: a flood of logins
    for unknown names at start makes one hash, not one per request."""
    with _dummy_lock:
        if not _dummy:
            with POOL.slot():
                made = _ARGON2.submit(_hasher.hash, "siaga-no-such-user-dummy-password")
                _dummy.append(made.result())
        return _dummy[0]


def burn_verify_time(password: str) -> None:
    """Spend as long as a real check, for a user name that does not exist.

    Without it a failed login for an unknown name would answer at once, and the response
    time alone would tell an attacker which names exist.
    """
    verify_password(_dummy_hash(), password)
