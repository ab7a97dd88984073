"""Password hashing with Argon2id (argon2-cffi), and the rules a new password must meet.

argon2-cffi's defaults follow RFC 9106's second recommended profile (64 MiB, 3 passes),
about a quarter of a second on a Raspberry Pi 4. Hashing is slow on purpose, so callers do
it outside any database transaction. A hash made with older parameters is re-made at the
next successful login (`needs_rehash`).
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256

_hasher = PasswordHasher()


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
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if `password` matches; False for a wrong password or a damaged hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("siaga-no-such-user-dummy-password")


def burn_verify_time(password: str) -> None:
    """Spend as long as a real check, for a user name that does not exist.

    Without it a failed login for an unknown name would answer at once, and the response
    time alone would tell an attacker which names exist.
    """
    verify_password(_dummy_hash(), password)
