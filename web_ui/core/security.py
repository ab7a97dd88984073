"""Browser-facing protections that are not about one user: anonymous forms, redirects, headers.

- The login and setup forms are posted before any session exists, so they cannot carry
  a session's CSRF token. They use a signed double-submit token instead: a random value in
  an HttpOnly, SameSite=Strict cookie, and HMAC(secret, value) in the form. A page on
  another site can neither read the cookie nor compute the HMAC.
- `safe_next` keeps the login page's `next=` parameter on this site (no open redirect).
- `security_headers` sets a strict Content-Security-Policy (only this site's own scripts,
  styles and images: nothing can be fetched from the internet, and injected markup cannot
  run), no framing, no referrer (the setup link holds a token), and no caching of pages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from web_ui.core.web_settings import WebSettings

FORM_COOKIE = "siaga_form"
FORM_FIELD = "form_token"

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI starts itself with an inline script and inline styles; still nothing remote.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _sign(settings: WebSettings, value: str) -> str:
    message = b"anonymous-form:" + value.encode()
    return hmac.new(settings.secret_bytes(), message, hashlib.sha256).hexdigest()


def anonymous_form_token(request: Request, settings: WebSettings) -> tuple[str, str]:
    """(cookie value, form token) for an anonymous form; set the cookie with `set_form_cookie`."""
    value = request.cookies.get(FORM_COOKIE)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
    return value, _sign(settings, value)


def set_form_cookie(response: Response, value: str, settings: WebSettings) -> None:
    """Give the browser the cookie its anonymous form token is checked against."""
    response.set_cookie(
        FORM_COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )


def anonymous_form_ok(request: Request, settings: WebSettings, sent: str | None) -> bool:
    """True if the posted form token matches this browser's form cookie."""
    value = request.cookies.get(FORM_COOKIE)
    if not value or not sent:
        return False
    return hmac.compare_digest(sent.encode(), _sign(settings, value).encode())


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another site) becomes `/`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 32 for char in target):
        return "/"
    return target


def client_address(request: Request) -> str | None:
    """The peer's address, for audit rows and lockout records."""
    return request.client.host if request.client else None


def add_security_headers(request: Request, response: Response) -> None:
    """Set the headers every response carries (see the module docstring)."""
    path = request.url.path
    csp = DOCS_CSP if path == "/docs" else PAGE_CSP
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if not path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


def set_session_cookie(response: Response, name: str, token: str, settings: WebSettings) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when configured."""
    response.set_cookie(
        name,
        token,
        max_age=int(settings.session_absolute_s),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )


def is_api_request(request: Request) -> bool:
    """True for the JSON API (errors as JSON, 401), False for pages (HTML, login redirect)."""
    path = request.url.path
    return path.startswith("/api/") or path == "/openapi.json"
