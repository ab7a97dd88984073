"""A rule's reason longer than the form allows, sent by a client that ignores `maxlength`.

The browser stops typing at 200 characters, but a script, an old browser or a paste
through a form filler does not. Before, such a reason got a bare 400 page and everything
typed was lost; now it comes back as the rules page with the reason named and the form as
it was sent, like any other bad field, and nothing is stored.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable

import pytest
from markupsafe import escape

from tests.web_ui.conftest import ApiSession, LiveServer
from web_ui.rules.csv_import import MAX_REASON_CHARS
from web_ui.users.service import Role

_subscribers = itertools.count(1)


def fresh_number() -> tuple[str, str]:
    """(national form, E.164) of a number no other test uses."""
    n = 57000000 + next(_subscribers)
    return f"0819{n:08d}", f"+62819{n:08d}"


def stored(server: LiveServer, e164: str) -> int:
    """How many rules exist for `e164`."""
    conn = sqlite3.connect(server.db_path)
    try:
        return int(
            conn.execute("SELECT count(*) FROM rules WHERE pattern = ?", [e164]).fetchone()[0]
        )
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("language", "named"),
    [("id", "Alasan terlalu panjang (paling banyak 200 karakter)"),
     ("en", "The reason is too long (at most 200 characters)")],
)  # fmt: skip
@pytest.mark.parametrize("length", [MAX_REASON_CHARS + 1, 5_000])
def test_a_too_long_reason_comes_back_as_the_form_with_the_field_named(
    server: LiveServer,
    api_session: Callable[..., ApiSession],
    language: str,
    named: str,
    length: int,
) -> None:
    supervisor = api_session(Role.SUPERVISOR, language=language)
    national, e164 = fresh_number()
    reason = ("iseng <b>berulang</b> " * 400)[:length]
    form = {"kind": "block", "number": national, "action": "reject", "expires": "7d"}
    answer = supervisor.client.post(
        "/rules", data={"csrf_token": supervisor.csrf, **form, "reason": reason}
    )
    assert answer.status_code == 422
    assert named in answer.text
    assert f'value="{escape(reason)}"' in answer.text  # what was typed is kept, escaped
    assert f'value="{national}"' in answer.text
    assert 'id="rule-reason"' in answer.text  # the rules page, not an error page
    assert stored(server, e164) == 0


def test_a_reason_of_exactly_the_limit_is_stored(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    supervisor = api_session(Role.SUPERVISOR)
    national, e164 = fresh_number()
    answer = supervisor.client.post(
        "/rules",
        data={"csrf_token": supervisor.csrf, "kind": "block", "number": national,
              "action": "reject", "reason": "x" * MAX_REASON_CHARS},
    )  # fmt: skip
    assert answer.status_code == 303
    assert stored(server, e164) == 1


def test_a_too_long_number_comes_back_as_the_form_too(
    server: LiveServer, api_session: Callable[..., ApiSession]
) -> None:
    supervisor = api_session(Role.SUPERVISOR, language="en")
    number = "0819" + "1" * 80
    answer = supervisor.client.post(
        "/rules",
        data={"csrf_token": supervisor.csrf, "kind": "block", "number": number,
              "reason": "typed by a script"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "is not a whole number" in answer.text
    assert f'value="{number}"' in answer.text and 'value="typed by a script"' in answer.text
