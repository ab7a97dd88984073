"""`create_app(settings)`: the whole web application, built on demand (nothing at import).

At start (the lifespan) the database is migrated; if it holds no account yet, a one-time
setup token is made and its `/setup?token=...` link written to `<db>.setup-link`, a file
only the service's user may read, and to the terminal when there is one; the log (the
journal, which more people may read) names the file, never the token.
Errors are answered per audience: the JSON API gets JSON with a stable code and 401/403,
pages get the login page (303) or a translated error page.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from appliance import package_version
from appliance.store.restore import RestoreRefused
from web_ui.auth import profile
from web_ui.auth import router as auth
from web_ui.auth.login_guard import AddressThrottle, LoginGate
from web_ui.auth.passwords import HashingBusyError
from web_ui.callbacks import router as callbacks
from web_ui.callbacks import sites as site_callbacks
from web_ui.calls import router as calls
from web_ui.console import router as console
from web_ui.core import api_docs as docs
from web_ui.core import db as database
from web_ui.core.app_state import SetupToken, remove_setup_link, write_setup_link
from web_ui.core.deps import ForbiddenError, NotAuthenticatedError
from web_ui.core.i18n import translate
from web_ui.core.request_limits import RequestLimits
from web_ui.core.security import add_security_headers, is_api_request
from web_ui.core.streams import StreamRegistry
from web_ui.core.templating import Pages
from web_ui.core.web_settings import WebSettings
from web_ui.home import router as home
from web_ui.lines import router as lines
from web_ui.reports import router as reports
from web_ui.rules import router as rules
from web_ui.settings import router as screening
from web_ui.system import router as system
from web_ui.users import audit_router as audit
from web_ui.users import router as users
from web_ui.users.service import UserError, count_users

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


RESOURCES = (
    auth,
    home,
    console,
    callbacks,
    site_callbacks,
    calls,
    reports,
    rules,
    screening,
    lines,
    users,
    audit,
    system,
    profile,
    docs,
)  # each has `pages` and `api` routers
API_DESCRIPTION = (
    "Siaga's JSON API. Log in with `POST /api/login` (or the login page): the session "
    "cookie authenticates every call. Every call that changes something must send the "
    "session's CSRF token (from the login answer or `GET /api/me`) as `X-CSRF-Token`."
)


def _announce_setup(app: FastAPI, settings: WebSettings) -> None:
    conn = database.connect(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        if count_users(conn) > 0:
            remove_setup_link(settings.db_path)
            return
    finally:
        conn.close()
    setup: SetupToken = app.state.setup
    link = f"{settings.base_url}/setup?token={setup.issue()}"
    path = write_setup_link(settings.db_path, link)
    logger.warning(
        "no web UI account exists yet: the one-time link to create the first technician is "
        "in %s (readable by this service's user only; valid once, until this process "
        "stops), or run `siaga user add NAME --role technician`",
        path,
    )
    if sys.stderr.isatty():  # someone is watching this terminal: no journal keeps it
        sys.stderr.write(f"\nCreate the first technician account: {link}\n\n")
        sys.stderr.flush()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: WebSettings = app.state.settings
    database.migrate(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    _announce_setup(app, settings)
    yield


def create_app(settings: WebSettings) -> FastAPI:
    """The web application for `settings` (a new one on every call)."""
    app = FastAPI(
        title="Siaga",
        version=package_version(),
        description=API_DESCRIPTION,
        docs_url=None,  # served by `web_ui.core.api_docs` with local assets, behind login
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.pages = Pages(settings)
    app.state.setup = SetupToken()
    app.state.streams = StreamRegistry()
    app.state.login_throttle = AddressThrottle(
        failures=settings.login_throttle_failures, window_s=settings.login_throttle_window_s
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in RESOURCES:
        app.include_router(module.pages)
        app.include_router(module.api)
    _add_error_handlers(app)
    # At most a few logins inside the app at once, refusals held back (web_ui.auth.login_guard);
    # inside the security headers' middleware, so its own answers carry them too.
    app.add_middleware(LoginGate)

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        add_security_headers(request, response)
        return response

    # Added last, so outermost: bodies are bounded before anything else reads them.
    app.add_middleware(RequestLimits, body_idle_s=settings.body_idle_s)
    return app


# ------------------------------------------------------------------ errors


def _error_page(request: Request, code: str, status: int) -> Response:
    pages: Pages = request.app.state.pages
    session = getattr(request.state, "session", None)
    return pages.render(
        request, "error.html", {"message_key": code}, session=session, status_code=status
    )


def _json_error(code: str, status: int) -> JSONResponse:
    return JSONResponse({"detail": code, "message": translate("en", code)}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    async def not_authenticated(request: Request, exc: Exception) -> Response:
        if is_api_request(request):
            return JSONResponse({"detail": "not_authenticated"}, status_code=401)
        target = "/login"
        if request.method == "GET":
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target += "?next=" + quote(path, safe="")
        return RedirectResponse(target, status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        code = exc.code if isinstance(exc, ForbiddenError) else "error.forbidden"
        if is_api_request(request):
            return _json_error(code, 403)
        return _error_page(request, code, 403)

    async def user_error(request: Request, exc: Exception) -> Response:
        code, status = (
            (exc.code, exc.status) if isinstance(exc, UserError | RestoreRefused) else ("", 400)
        )
        if is_api_request(request):
            return _json_error(code or "error.invalid_input", status)
        return _error_page(request, code or "error.invalid_input", status)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        code = "error.not_found" if status == 404 else "error.invalid_input"
        if status == 405:
            code = "error.not_found"
        if is_api_request(request):
            return _json_error(code, status)
        return _error_page(request, code, status)

    async def invalid_input(request: Request, exc: Exception) -> Response:
        if is_api_request(request) and isinstance(exc, RequestValidationError):
            return JSONResponse(
                {"detail": "error.invalid_input", "errors": _plain_errors(exc)}, status_code=422
            )
        return _error_page(request, "error.invalid_input", 400)

    async def hashing_busy(request: Request, exc: Exception) -> Response:
        response = (
            _json_error("login.busy", 429)
            if is_api_request(request)
            else _error_page(request, "login.busy", 429)
        )
        response.headers["Retry-After"] = "1"
        return response

    app.add_exception_handler(HashingBusyError, hashing_busy)
    app.add_exception_handler(NotAuthenticatedError, not_authenticated)
    app.add_exception_handler(ForbiddenError, forbidden)
    app.add_exception_handler(UserError, user_error)
    app.add_exception_handler(RestoreRefused, user_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_input)


def _plain_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """Validation errors without the submitted values (they may hold a password)."""
    return [
        {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
