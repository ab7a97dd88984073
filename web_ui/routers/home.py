"""The home page every role lands on after login (the console arrives in a later step)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from web_ui.app_state import pages_of
from web_ui.deps import CurrentUser, SessionDep

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["home"])


@pages.get("/")
def home_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    """Welcome, role, and the time in the site's zone."""
    return pages_of(request).render(request, "home.html", {"now_ts": time.time()}, session=session)
