"""Lines configured on the lines page: add, edit, remove over HTTP, against the live server.

The configuration file's lines come from `service_state.base_config`, as the line service
publishes them at start; these tests write that row as it would. The real line service
applying the page's lines (a new line screens a call, a removal never cuts another
line's call) is in `test_line_config_live.py`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any, get_args

import httpx
import pytest

from tests.web_ui.conftest import ApiSession, LiveServer
from tests.web_ui.line_service import audit_rows, database, line_name
from tests.web_ui.screening_helpers import clear_lines
from web_ui.core.i18n import MESSAGES
from web_ui.lines.config_form import CHECKOUT_RULES, FIELDS, Applied, parse_rules, read_slots
from web_ui.users.service import Role

FileLines = Callable[[list[dict[str, Any]]], None]


@pytest.fixture
def file_lines(server: LiveServer) -> Iterator[FileLines]:
    """`file_lines([...])`: the service's row as if its file had these `[[lines]]`; the
    row as it was, and no page lines, afterwards."""
    with database(server) as conn:
        saved = conn.execute("SELECT * FROM service_state WHERE id = 1").fetchone()
    kept = dict(saved) if saved is not None else None
    clear_lines(server)

    def write(lines: list[dict[str, Any]]) -> None:
        with database(server) as conn:
            conn.execute(
                "INSERT INTO service_state (id, base_config, started_ts, updated_ts)"
                " VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                " base_config = excluded.base_config, started_ts = excluded.started_ts",
                [json.dumps({"lines": lines}), time.time(), time.time()],
            )

    yield write
    clear_lines(server)
    with database(server) as conn:
        conn.execute("DELETE FROM service_state WHERE id = 1")
        if kept is not None:
            columns = list(kept)
            conn.execute(
                f"INSERT INTO service_state ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [kept[column] for column in columns],
            )


def add(session: ApiSession, **line: Any) -> httpx.Response:
    return session.client.post("/api/lines", json=line, headers=session.headers())


def view(session: ApiSession) -> dict[str, Any]:
    answer = session.client.get("/api/lines/config")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def stored(server: LiveServer) -> list[sqlite3.Row]:
    with database(server) as conn:
        return conn.execute("SELECT * FROM web_lines ORDER BY position").fetchall()


def refused_fields(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["detail"] == "error.line_config_invalid"
    return [error["field"] for error in body["errors"]]


# ------------------------------------------------------------------ the API


def test_the_first_line_added_takes_over_the_files_lines_and_is_audited(
    api_session: Callable[..., ApiSession], server: LiveServer, file_lines: FileLines
) -> None:
    one, two, new = line_name("cfga"), line_name("cfgb"), line_name("cfgc")
    file_lines([{"name": one, "port": "/dev/siaga/line1"}, {"name": two, "port": "/dev/ttyS2"}])
    session = api_session(Role.TECHNICIAN, language="en")
    before = view(session)
    assert before["source"] == "file" and before["overridden"] == []
    assert [entry["config"]["name"] for entry in before["lines"]] == [one, two]

    answer = add(
        session, name=new, port="/dev/siaga/line3", family="huawei", desk="desk3",
        voice_port="/dev/siaga/line3-voice", deflect_to="112", usb_port="1-1.3",
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json()["family"] == "huawei" and answer.json()["baudrate"] == 115200

    after = view(session)
    assert after["source"] == "database" and after["version"] > before["version"]
    assert [entry["config"]["name"] for entry in after["lines"]] == [one, two, new]
    assert [entry["file_differs"] for entry in after["lines"]] == [[], [], None]
    assert [entry["config"]["name"] for entry in after["overridden"]] == [one, two]
    assert [row["name"] for row in stored(server)] == [one, two, new]
    [audited] = audit_rows(server, session.user.username, prefix="lines.")
    assert audited["action"] == "lines.add" and audited["target"] == f"line:{new}"
    assert json.loads(audited["after"])["copied_from_file"] == [one, two]
    page = session.client.get("/lines").text
    assert "Lines in force: those set on this page" in page
    assert "Configuration file entries not in force" in page


def test_a_bad_field_is_refused_with_its_name_and_nothing_is_stored(
    api_session: Callable[..., ApiSession], server: LiveServer, file_lines: FileLines
) -> None:
    one = line_name("cfga")
    file_lines([{"name": one, "port": "/dev/siaga/line1"}])
    session = api_session(Role.TECHNICIAN, language="en")
    assert refused_fields(add(session, name="x y", port="/dev/ttyS5")) == ["name"]
    assert refused_fields(add(session, name=line_name("n"), port="")) == ["port"]
    assert refused_fields(add(session, name=line_name("n"), port="/dev/a", imei="123")) == ["imei"]
    assert refused_fields(add(session, name=line_name("n"), port="/dev/a", family="nokia")) == [
        "family"
    ]
    assert refused_fields(add(session, name=line_name("n"), port="/dev/a", baudrate="fast")) == [
        "baudrate"
    ]
    assert refused_fields(add(session, name=line_name("n"), port="/dev/a", usb_port="usb1")) == [
        "usb_port"
    ]
    duplicate_port = add(session, name=line_name("n"), port="/dev/siaga/line1")
    assert refused_fields(duplicate_port) == ["port"]
    assert one in duplicate_port.json()["errors"][0]["msg"]
    assert refused_fields(add(session, name=one, port="/dev/ttyS9")) == ["name"]
    assert stored(server) == [] and audit_rows(server, session.user.username, "lines.") == []
    assert view(session)["source"] == "file"


def test_an_edit_keeps_the_name_and_shows_where_it_overrides_the_file(
    api_session: Callable[..., ApiSession], server: LiveServer, file_lines: FileLines
) -> None:
    one, two = line_name("cfga"), line_name("cfgb")
    file_lines([{"name": one, "port": "/dev/siaga/line1"}, {"name": two, "port": "/dev/ttyS2"}])
    session = api_session(Role.TECHNICIAN, language="en")
    answer = session.client.put(
        f"/api/lines/{one}",
        json={"name": "renamed", "port": "/dev/siaga/line2", "desk": "desk7"},
        headers=session.headers(),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == one and answer.json()["desk"] == "desk7"
    entry = next(e for e in view(session)["lines"] if e["config"]["name"] == one)
    assert entry["origin"] == "database" and entry["file_differs"] == ["port", "desk"]
    page = session.client.get("/lines").text
    assert (
        "Overrides the configuration file&#39;s entry (differs in: AT port, Operator desk)" in page
    )
    taken = session.client.put(
        f"/api/lines/{two}", json={"port": "/dev/siaga/line2"}, headers=session.headers()
    )
    assert refused_fields(taken) == ["port"]
    missing = session.client.put(
        "/api/lines/no-such-line", json={"port": "/dev/x"}, headers=session.headers()
    )
    assert missing.status_code == 404
    actions = [row["action"] for row in audit_rows(server, session.user.username, "lines.")]
    assert actions == ["lines.edit"]


def test_a_removal_is_audited_and_the_last_line_stays_while_the_file_has_lines(
    api_session: Callable[..., ApiSession], server: LiveServer, file_lines: FileLines
) -> None:
    one, two = line_name("cfga"), line_name("cfgb")
    file_lines([{"name": one, "port": "/dev/siaga/line1"}])
    session = api_session(Role.TECHNICIAN, language="en")
    assert add(session, name=two, port="/dev/siaga/line2").status_code == 201
    removed = session.client.delete(f"/api/lines/{one}", headers=session.headers())
    assert removed.status_code == 200 and removed.json()["port"] == "/dev/siaga/line1"
    assert [row["name"] for row in stored(server)] == [two]
    last = session.client.delete(f"/api/lines/{two}", headers=session.headers())
    assert last.status_code == 409 and last.json()["detail"] == "error.line_last"
    assert session.client.delete(f"/api/lines/{one}", headers=session.headers()).status_code == 404
    actions = [row["action"] for row in audit_rows(server, session.user.username, "lines.")]
    assert actions == ["lines.add", "lines.remove"]
    assert json.loads(audit_rows(server, session.user.username, "lines.")[1]["before"])["name"] == (
        one
    )


# ------------------------------------------------------------------ the page's forms


def test_the_form_names_the_bad_field_and_keeps_what_was_typed(
    api_session: Callable[..., ApiSession], server: LiveServer, file_lines: FileLines
) -> None:
    file_lines([])
    session = api_session(Role.TECHNICIAN, language="en")
    form = session.client.get("/lines/add")
    assert form.status_code == 200
    assert '<option value="/dev/siaga/line1">' in form.text  # the USB slots' stable names
    assert '<option value="/dev/siaga/line1-voice">' in form.text
    name = line_name("form")
    typed = {"csrf_token": session.csrf, "name": name, "port": "/dev/siaga/line2",
             "family": "ec25", "desk": "desk-9", "imei": "12345", "baudrate": "115200",
             "reject_method": "chup", "call_waiting": "reject", "listen": "on",
             "enabled": "on"}  # fmt: skip
    refused = session.client.post("/lines/add", data=typed)
    assert refused.status_code == 422
    assert 'id="field-imei-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert 'value="desk-9"' in refused.text and f'value="{name}"' in refused.text
    assert '<option value="ec25" selected>' in refused.text
    assert stored(server) == []

    saved = session.client.post("/lines/add", data={**typed, "imei": "356938035643809"})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/lines?done=")
    [row] = stored(server)
    config = json.loads(row["config"])
    assert (config["family"], config["reject_method"], config["rtscts"]) == ("ec25", "chup", False)
    edit = session.client.get(f"/lines/{name}/edit")
    assert edit.status_code == 200 and 'value="356938035643809"' in edit.text
    changed = session.client.post(
        f"/lines/{name}/edit", data={**typed, "imei": "", "desk": "desk2", "rtscts": "on"}
    )
    assert changed.status_code == 303
    config = json.loads(stored(server)[0]["config"])
    assert (config["desk"], config["imei"], config["rtscts"]) == ("desk2", None, True)
    page = session.client.get("/lines").text
    assert f'action="/lines/{name}/remove"' in page and "Line changed." not in page
    gone = session.client.post(f"/lines/{name}/remove", data={"csrf_token": session.csrf})
    assert gone.status_code == 303 and stored(server) == []  # the file has no lines


# ------------------------------------------------------------------ port choices


def test_the_slots_of_the_udev_rules_are_offered_as_ports() -> None:
    slots = {slot.line: slot for slot in parse_rules(CHECKOUT_RULES.read_text(encoding="utf-8"))}
    assert sorted(slots) == ["line1", "line2", "line3", "line4"]
    assert slots["line1"].port == "/dev/siaga/line1" and slots["line1"].usb_port == "1-1.1"
    assert slots["line2"].voice_port == "/dev/siaga/line2-voice"
    assert slots["line4"].family == "usb-serial" and slots["line4"].voice_port is None
    assert read_slots([CHECKOUT_RULES.with_name("missing.rules"), CHECKOUT_RULES]) == list(
        slots.values()
    )


def test_every_word_of_the_line_settings_exists_in_both_languages() -> None:
    keys = (
        [f"lines.field.{name}" for name in (*FIELDS, "lines")]
        + [f"lines.applied.{word}" for word in get_args(Applied)]
        + [f"lines.source.{source}" for source in ("file", "database")]
        + [f"action.lines.{action}" for action in ("add", "edit", "remove")]
        + ["error.line_config_invalid", "error.line_last"]
    )
    assert sorted(set(keys) - set(MESSAGES)) == []
