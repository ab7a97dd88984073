"""The home page: operators go straight on to the console, other roles land here."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web_ui.app_state import pages_of
from web_ui.deps import CurrentUser, SessionDep
from web_ui.users import Role

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["home"])


@pages.get("/")
def home_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    """Welcome, role, and the time in the site's zone; an operator's home is the console."""
    if user.role is Role.OPERATOR:
        return RedirectResponse("/console", status_code=303)
    return pages_of(request).render(request, "home.html", {"now_ts": time.time()}, session=session)
