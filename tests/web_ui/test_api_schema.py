"""The JSON API against its own OpenAPI document (schemathesis).

Every operation the web UI describes is called with requests generated from its schema,
over real HTTP to the live server, as a logged-in technician (the role that may call
everything) with the session's CSRF token. What must hold for all of them: no 500, and
every response conforms to the schema it documents. Logout and the calls that would end
the session or lock the account are left out, so the run keeps its login.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.web_ui.conftest import Account, LiveServer, api_login
from tests.web_ui.screening_helpers import clear_lines, clear_settings
from web_ui.users.service import Role

# What must hold for every generated request: no server error; every answer has a status,
# a content type and a body its schema documents. `positive_data_acceptance` (every
# request the schema allows is accepted) is left out on purpose: several operations
# validate what no JSON schema can say (a phone number that is a real Indonesian number,
# a date range of at most a year, a call still on its line, the password policy) and
# answer 422 or 409 for schema-valid requests, as they must.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]

# These end or change the session the run depends on: covered by the auth tests.
SKIPPED_PATHS = ("/api/logout", "/api/login", "/api/me/password")


def _document(server: LiveServer, make_user: Callable[..., Account]) -> dict[str, Any]:
    session = api_login(server, make_user(Role.TECHNICIAN))
    document: dict[str, Any] = session.client.get("/openapi.json").json()
    document["paths"] = {
        path: item for path, item in document["paths"].items() if path not in SKIPPED_PATHS
    }
    return document


def _session(server: LiveServer, user: Account) -> requests.Session:
    http = requests.Session()
    answer = http.post(
        server.url + "/api/login", json={"username": user.username, "password": user.password}
    )
    answer.raise_for_status()
    http.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return http


def test_every_api_operation_conforms_to_its_schema(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    schema = schemathesis.openapi.from_dict(_document(server, make_user))
    http = _session(server, make_user(Role.TECHNICIAN))
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10  # the API is really there

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(base_url=server.url, session=http)
            assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as failure:  # every operation's, then fail
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    clear_settings(server)  # fuzzed screening settings must not reach the tests after this
    clear_lines(server)  # nor fuzzed lines (the page's lines replace the file's)
    assert not failures, "\n\n".join(failures)
