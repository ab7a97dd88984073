"""Who may reach what: anonymous users, the wrong role, and requests without a CSRF token.

The table `ROUTES` lists every route the app has with the least role it needs; a test
checks the table against the app's own routes, so a new route without an entry here
fails until someone decides who may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.web_ui.conftest import Account, ApiSession, LiveServer, api_login
from web_ui.app import RESOURCES
from web_ui.users.service import Role


@dataclass(frozen=True)
class Route:
    """One route and the least role that may use it."""

    method: str
    path: str
    minimum: Role
    streams: bool = False  # an endless response (Server-Sent Events)

    @property
    def is_api(self) -> bool:
        """JSON API (401/403 as JSON) rather than a page (login redirect, HTML 403)."""
        return self.path.startswith("/api/") or self.path == "/openapi.json"

    def url(self, user_id: int) -> str:
        """The path with its parameter filled in."""
        path = self.path.replace("{user_id}", str(user_id)).replace("{request_id}", "1")
        path = path.replace("{callback_id}", "1")
        return path.replace("{rule_id}", "b-unknown").replace("{line}", "no-such-line")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


OPERATOR, SUPERVISOR, TECHNICIAN = Role.OPERATOR, Role.SUPERVISOR, Role.TECHNICIAN
ROUTES = [
    Route("GET", "/", OPERATOR),
    Route("GET", "/api/dashboard", SUPERVISOR),
    Route("GET", "/profile", OPERATOR),
    Route("POST", "/profile/language", OPERATOR),
    Route("POST", "/profile/password", OPERATOR),
    Route("POST", "/logout", OPERATOR),
    Route("GET", "/docs", TECHNICIAN),
    Route("GET", "/openapi.json", TECHNICIAN),
    Route("GET", "/console", OPERATOR),
    Route("GET", "/api/console", OPERATOR),
    Route("GET", "/api/console/events", OPERATOR, streams=True),
    Route("GET", "/api/console/requests/{request_id}", OPERATOR),
    Route("POST", "/api/console/answer", OPERATOR),
    Route("POST", "/api/console/hang_up", OPERATOR),
    Route("POST", "/api/console/disposition", OPERATOR),
    Route("POST", "/api/console/block", SUPERVISOR),
    Route("GET", "/api/callbacks", OPERATOR),
    Route("POST", "/api/callbacks/{callback_id}", OPERATOR),
    Route("POST", "/api/callbacks/flood/dismiss", SUPERVISOR),
    Route("GET", "/callbacks", OPERATOR),
    Route("GET", "/api/callbacks/sites", OPERATOR),
    Route("GET", "/audit", SUPERVISOR),
    Route("GET", "/calls", SUPERVISOR),
    Route("GET", "/calls.csv", SUPERVISOR),
    Route("GET", "/api/calls", SUPERVISOR),
    Route("GET", "/reports", SUPERVISOR),
    Route("GET", "/reports.csv", SUPERVISOR),
    Route("GET", "/api/reports", SUPERVISOR),
    Route("GET", "/rules", SUPERVISOR),
    Route("POST", "/rules", SUPERVISOR),
    Route("GET", "/rules.csv", SUPERVISOR),
    Route("POST", "/rules/{rule_id}/remove", SUPERVISOR),
    Route("POST", "/rules/import", SUPERVISOR),
    Route("POST", "/rules/import/confirm", SUPERVISOR),
    Route("GET", "/api/rules", SUPERVISOR),
    Route("POST", "/api/rules", SUPERVISOR),
    Route("DELETE", "/api/rules/{rule_id}", SUPERVISOR),
    Route("GET", "/settings", SUPERVISOR),
    Route("POST", "/settings", SUPERVISOR),
    Route("POST", "/settings/reset", SUPERVISOR),
    Route("GET", "/api/settings", SUPERVISOR),
    Route("PATCH", "/api/settings", SUPERVISOR),
    Route("GET", "/lines", TECHNICIAN),
    Route("POST", "/lines/{line}/enable", TECHNICIAN),
    Route("POST", "/lines/{line}/disable", TECHNICIAN),
    Route("POST", "/lines/{line}/test", TECHNICIAN),
    Route("GET", "/api/lines", TECHNICIAN),
    Route("PUT", "/api/lines/{line}/enabled", TECHNICIAN),
    Route("POST", "/api/lines/{line}/test", TECHNICIAN),
    Route("GET", "/api/lines/requests/{request_id}", TECHNICIAN),
    Route("GET", "/lines/add", TECHNICIAN),
    Route("POST", "/lines/add", TECHNICIAN),
    Route("GET", "/lines/{line}/edit", TECHNICIAN),
    Route("POST", "/lines/{line}/edit", TECHNICIAN),
    Route("POST", "/lines/{line}/remove", TECHNICIAN),
    Route("GET", "/api/lines/config", TECHNICIAN),
    Route("POST", "/api/lines", TECHNICIAN),
    Route("PUT", "/api/lines/{line}", TECHNICIAN),
    Route("DELETE", "/api/lines/{line}", TECHNICIAN),
    Route("GET", "/users", SUPERVISOR),  # a supervisor sees the locked accounts only
    Route("POST", "/users", TECHNICIAN),
    Route("POST", "/users/{user_id}/role", TECHNICIAN),
    Route("POST", "/users/{user_id}/disable", TECHNICIAN),
    Route("POST", "/users/{user_id}/enable", TECHNICIAN),
    Route("POST", "/users/{user_id}/password", TECHNICIAN),
    Route("POST", "/users/{user_id}/unlock", SUPERVISOR),
    Route("GET", "/api/me", OPERATOR),
    Route("PATCH", "/api/me", OPERATOR),
    Route("POST", "/api/me/password", OPERATOR),
    Route("POST", "/api/logout", OPERATOR),
    Route("GET", "/api/audit", SUPERVISOR),
    Route("GET", "/api/users", TECHNICIAN),
    Route("POST", "/api/users", TECHNICIAN),
    Route("GET", "/api/users/{user_id}", TECHNICIAN),
    Route("PATCH", "/api/users/{user_id}", TECHNICIAN),
    Route("POST", "/api/users/{user_id}/password", TECHNICIAN),
    Route("POST", "/api/users/{user_id}/unlock", SUPERVISOR),
    Route("GET", "/system", TECHNICIAN),
    Route("GET", "/system/backup", TECHNICIAN),
    Route("POST", "/system/restore", TECHNICIAN),
    Route("POST", "/system/restore/confirm", TECHNICIAN),
    Route("GET", "/api/system", TECHNICIAN),
]
# Reachable without a session, on purpose.
PUBLIC = {"GET /login", "POST /login", "GET /setup", "POST /setup", "POST /api/login"}
CHANGING = [route for route in ROUTES if route.method != "GET"]
TARGET_USER_ID = 1  # any id: the request must be refused before it is looked up


@pytest.fixture(scope="module")
def by_role(
    server: LiveServer, make_user: Callable[..., Account]
) -> Iterator[dict[Role, ApiSession]]:
    """One logged-in API session per role, shared by the tests that change nothing."""
    sessions = {role: api_login(server, make_user(role)) for role in Role}
    yield sessions
    for session in sessions.values():
        session.client.close()


def send(
    client: httpx.Client, route: Route, headers: dict[str, str] | None = None
) -> httpx.Response:
    """The request a client would make, with a plausible body for its kind."""
    url = route.url(TARGET_USER_ID)
    if route.method == "GET":
        return client.get(url, headers=headers)
    if route.is_api:
        return client.request(route.method, url, json={}, headers=headers)
    return client.request(route.method, url, data={"role": "technician"}, headers=headers)


def test_the_route_table_covers_every_route_of_the_app() -> None:
    found = {
        f"{method} {route.path}"
        for module in RESOURCES
        for router in (module.pages, module.api)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert found == {str(route) for route in ROUTES} | PUBLIC


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_users_are_refused(server: LiveServer, route: Route) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        answer = send(client, route)
    if route.is_api:
        assert answer.status_code == 401
        assert answer.json() == {"detail": "not_authenticated"}
    else:
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.minimum is not OPERATOR], ids=str)
def test_a_lower_role_is_refused_with_403(by_role: dict[Role, ApiSession], route: Route) -> None:
    lower = OPERATOR if route.minimum is SUPERVISOR else SUPERVISOR
    session = by_role[lower]
    answer = send(session.client, route, headers=session.headers())
    assert answer.status_code == 403
    if route.is_api:
        assert answer.json()["detail"] == "error.forbidden"
    else:
        assert "tidak memiliki akses" in answer.text


@pytest.mark.parametrize("route", CHANGING, ids=str)
def test_a_change_without_the_csrf_token_is_refused(
    by_role: dict[Role, ApiSession], route: Route
) -> None:
    session = by_role[TECHNICIAN]
    answer = send(session.client, route)
    assert answer.status_code == 403
    if route.is_api:
        assert answer.json()["detail"] == "error.csrf"
    # The session is still alive: a refused logout did not log out.
    assert session.client.get("/api/me").status_code == 200


def test_the_csrf_token_of_another_session_is_refused(
    api_session: Callable[..., ApiSession],
) -> None:
    mine, other = api_session(OPERATOR), api_session(OPERATOR)
    answer = mine.client.patch("/api/me", json={"language": "en"}, headers=other.headers())
    assert answer.status_code == 403
    answer = mine.client.post(
        "/profile/language", data={"language": "en", "csrf_token": other.csrf}
    )
    assert answer.status_code == 403
    assert mine.client.get("/api/me").json()["user"]["language"] == "id"


def test_a_form_with_its_csrf_token_is_accepted(
    api_session: Callable[..., ApiSession],
) -> None:
    session = api_session(OPERATOR)
    answer = session.client.post(
        "/profile/language", data={"language": "en", "csrf_token": session.csrf, "next": "/"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert session.client.get("/api/me").json()["user"]["language"] == "en"


def test_each_role_reaches_its_own_pages(by_role: dict[Role, ApiSession]) -> None:
    for role, session in by_role.items():
        for route in ROUTES:
            if route.method != "GET" or "{" in route.path or route.streams:
                continue
            status = session.client.get(route.path).status_code
            expected = 200 if role.at_least(route.minimum) else 403
            if route.path == "/" and role is OPERATOR:
                expected = 303  # an operator's home is the console
            assert status == expected, f"{role} {route}"


def test_operators_start_on_the_console(by_role: dict[Role, ApiSession]) -> None:
    answer = by_role[OPERATOR].client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_role_may_open_the_event_stream(by_role: dict[Role, ApiSession], role: Role) -> None:
    with by_role[role].client.stream("GET", "/api/console/events", timeout=5.0) as stream:
        assert stream.status_code == 200
        assert next(stream.iter_lines()) == "retry: 1000"
