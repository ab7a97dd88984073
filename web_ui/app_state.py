"""What one app instance keeps in `app.state`, and typed accessors for handlers.

`app.state` is untyped; `pages_of` and `setup_of` give handlers the objects with their
types. `SetupToken` is the setup page's one-time token, kept in this process's memory
only: a restart before setup makes (and logs) a new one.
"""

from __future__ import annotations

import secrets
import threading

from fastapi import Request

from web_ui.templating import Pages


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


def pages_of(request: Request) -> Pages:
    """The app's page renderer."""
    pages: Pages = request.app.state.pages
    return pages


def setup_of(request: Request) -> SetupToken:
    """The app's setup token."""
    setup: SetupToken = request.app.state.setup
    return setup
