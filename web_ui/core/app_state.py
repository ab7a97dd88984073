"""What one app instance keeps in `app.state`, and typed accessors for handlers.

`app.state` is untyped; `pages_of`, `setup_of`, `throttle_of` and `streams_of` give handlers the
objects with their types. `SetupToken` is the setup page's one-time token, kept in this
process's memory only: a restart before setup makes (and announces) a new one. Its link
is written to `<db>.setup-link` (0600) and removed once used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path

from fastapi import Request

from web_ui.auth.login_guard import AddressThrottle
from web_ui.core.streams import StreamRegistry
from web_ui.core.templating import Pages


class SetupToken:
    """The one-time token of the setup page."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._lock = threading.Lock()

    def issue(self) -> str:
        """Make the token (once per process start, when there is no account)."""
        with self._lock:
            self._token = secrets.token_urlsafe(32)
            return self._token

    @property
    def active(self) -> bool:
        """True from `issue` until the token has been used."""
        return self._token is not None

    def matches(self, candidate: str | None) -> bool:
        """True if `candidate` is the live token (constant-time comparison)."""
        token = self._token
        if token is None or not candidate:
            return False
        return secrets.compare_digest(token.encode(), candidate.encode())

    def consume(self, candidate: str | None) -> bool:
        """Use the token up: True once, for the right token; False ever after."""
        with self._lock:
            if not self.matches(candidate):
                return False
            self._token = None
            return True


SETUP_LINK_SUFFIX = ".setup-link"


def setup_link_path(db_path: Path) -> Path:
    """Where the setup link of the database at `db_path` is written: `siaga.db.setup-link`."""
    return db_path.with_name(db_path.name + SETUP_LINK_SUFFIX)


def write_setup_link(db_path: Path, link: str) -> Path:
    """Write the setup link to its file, readable by its owner only (0600); its path."""
    path = setup_link_path(db_path)
    remove_setup_link(db_path)  # a new file, so its mode is ours whatever was there
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(link + "\n")
    return path


def remove_setup_link(db_path: Path) -> None:
    """Remove the setup link's file (the token is used, or an account exists)."""
    with contextlib.suppress(FileNotFoundError):
        setup_link_path(db_path).unlink()


def pages_of(request: Request) -> Pages:
    """The app's page renderer."""
    pages: Pages = request.app.state.pages
    return pages


def throttle_of(request: Request) -> AddressThrottle:
    """The app's per-address login throttle."""
    throttle: AddressThrottle = request.app.state.login_throttle
    return throttle


def streams_of(request: Request) -> StreamRegistry:
    """The app's count of live event streams per session."""
    streams: StreamRegistry = request.app.state.streams
    return streams


def setup_of(request: Request) -> SetupToken:
    """The app's setup token."""
    setup: SetupToken = request.app.state.setup
    return setup
