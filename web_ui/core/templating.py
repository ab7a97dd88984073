"""Rendering pages: a Jinja2 environment with autoescaping, and the context every page gets.

Every template receives `t` (the translator in the viewer's language), `lang`, `user`
(None before login), `csrf_token` (the session's, for forms), `nav` (the links the
user's role may follow), `site_name`, `when` (a time in the site's zone) and `path`.
Autoescaping is on for every template and `StrictUndefined` turns a misspelt variable
into an error in the tests instead of an empty string on a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import Response

from web_ui.auth.sessions import Session
from web_ui.core.i18n import LANGUAGE_COOKIE, Translator, format_time, language_or_default
from web_ui.core.web_settings import WebSettings
from web_ui.users.service import Language, Role

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"


@dataclass(frozen=True)
class NavLink:
    """One entry of the navigation bar and the least role that sees it."""

    href: str
    label_key: str
    minimum: Role


NAV_LINKS = (
    NavLink("/", "nav.home", Role.SUPERVISOR),  # an operator's home is the console
    NavLink("/console", "nav.console", Role.OPERATOR),
    NavLink("/calls", "nav.calls", Role.SUPERVISOR),
    NavLink("/reports", "nav.reports", Role.SUPERVISOR),
    NavLink("/rules", "nav.rules", Role.SUPERVISOR),
    NavLink("/settings", "nav.settings", Role.SUPERVISOR),
    NavLink("/lines", "nav.lines", Role.TECHNICIAN),
    NavLink("/users", "nav.users", Role.SUPERVISOR),  # supervisors: lift login locks
    NavLink("/audit", "nav.audit", Role.SUPERVISOR),
    NavLink("/system", "nav.system", Role.TECHNICIAN),
    NavLink("/profile", "nav.profile", Role.OPERATOR),
    NavLink("/docs", "nav.api", Role.TECHNICIAN),
)


def viewer_language(request: Request, session: Session | None) -> Language:
    """The user's own choice when logged in; else the login page's cookie; else `id`."""
    if session is not None:
        return session.user.language
    return language_or_default(request.cookies.get(LANGUAGE_COOKIE))


class Pages:
    """The app's templates and how to render one for a request."""

    def __init__(self, settings: WebSettings) -> None:
        self._settings = settings
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates = Jinja2Templates(env=environment)

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        session: Session | None,
        status_code: int = 200,
        language: Language | None = None,
    ) -> Response:
        """The template `name` rendered for this viewer (in `language` if given)."""
        language = language or viewer_language(request, session)
        zone = self._settings.zone
        user = session.user if session else None
        full: dict[str, Any] = {
            "t": Translator(language),
            "lang": language,
            "user": user,
            "csrf_token": session.csrf_token if session else "",
            "nav": [link for link in NAV_LINKS if user and user.role.at_least(link.minimum)],
            "site_name": self._settings.site_name,
            "zone_name": f"{self._settings.timezone} ({datetime.now(zone).tzname()})",
            "when": lambda ts: format_time(ts, zone, language),
            "path": request.url.path,
            "done": None,
            "error": None,
        }
        full.update(context or {})
        return self.templates.TemplateResponse(request, name, full, status_code=status_code)
