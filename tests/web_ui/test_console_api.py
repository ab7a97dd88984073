"""The console's JSON API and event stream against a real server and SQLite file.

The tests write `line_status`, `calls` and `dispositions` as the line service does
(`tests/web_ui/line_service.py`) and check what the web process reads and writes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.config import Config
from appliance.model import (
    DEFAULT_GENUINE_KINDS,
    JUNK_DISPOSITIONS,
    NEUTRAL_DISPOSITIONS,
    Action,
    ChallengeResult,
    LineState,
    NumberClass,
    Reason,
)
from tests.web_ui.conftest import ApiSession, LiveServer, serve
from tests.web_ui.line_service import (
    add_call,
    add_disposition,
    audit_rows,
    count,
    database,
    desk_requests,
    finish_request,
    line_name,
    remove_line,
    set_line,
    wait_until,
)
from tests.web_ui.own_server import logged_in
from tests.web_ui.real_centre import running_centre
from web_ui.console import router as console_router
from web_ui.console.service import LINE_STATES, REQUEST_RESULTS, disposition_choices
from web_ui.core.i18n import MESSAGES
from web_ui.users.service import Role

NUMBER = "+6281298765401"


@pytest.fixture
def line(server: LiveServer) -> Iterator[str]:
    """A line name for this test only; its status row is removed afterwards."""
    name = line_name("api")
    yield name
    remove_line(server, name)


def waiting_call(server: LiveServer, line: str, caller: str | None = NUMBER, **fields: Any) -> int:
    """A call waiting for an operator on `line`, as the service reports it; its id."""
    now = time.time()
    number_class = "number" if caller else "withheld"
    call_id = add_call(server, line, caller, now, number_class=number_class)
    set_line(
        server,
        line,
        "operator_ringing",
        call_id=call_id,
        caller=caller,
        caller_raw=caller,
        number_class=number_class,
        decision="pass",
        reason="default",
        waiting_since_ts=now,
        **fields,
    )
    return call_id


def post(session: ApiSession, path: str, body: dict[str, Any]) -> httpx.Response:
    return session.client.post(f"/api/console/{path}", json=body, headers=session.headers())


# ------------------------------------------------------------------ the contract's words


def test_the_console_knows_every_line_state_of_the_line_service() -> None:
    assert list(LINE_STATES) == [state.value for state in LineState]


def test_every_word_the_console_shows_exists_in_both_languages() -> None:
    keys = (
        [f"state.{state}" for state in LINE_STATES]
        + [f"decision.{action.value}" for action in Action]
        + [f"reason.{reason.value}" for reason in Reason]
        + [f"number_class.{kind.value}" for kind in NumberClass]
        + [f"challenge.{result.value}" for result in ChallengeResult]
        + [f"result.{result}" for result in REQUEST_RESULTS]
        + [choice.label_key for choice in disposition_choices()]
        + [f"action.console.{kind}" for kind in ("answer", "hang_up", "disposition", "block")]
    )
    assert sorted(set(keys) - set(MESSAGES)) == []


def test_every_disposition_of_the_model_has_one_button_and_a_unique_key() -> None:
    choices = disposition_choices()
    expected = {f"genuine:{kind}" for kind in DEFAULT_GENUINE_KINDS} | JUNK_DISPOSITIONS
    assert {choice.value for choice in choices} == expected | NEUTRAL_DISPOSITIONS
    keys = [choice.key for choice in choices if choice.key]
    assert len(keys) == len(set(keys)) == len(choices)
    assert [c.key for c in choices[: len(DEFAULT_GENUINE_KINDS)]] == [
        str(n) for n in range(1, len(DEFAULT_GENUINE_KINDS) + 1)
    ]
    by_value = {choice.value: choice.key for choice in choices}
    assert (by_value["prank"], by_value["ghost"], by_value["info"]) == ("P", "G", "I")
    assert by_value["wrong_number"] == "W"


# ------------------------------------------------------------------ reading


def test_the_snapshot_shows_a_waiting_callers_history(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    now = time.time()
    caller = "+6281298765402"
    earlier = add_call(server, line, caller, now - 3600)
    add_call(server, line, caller, now - 10 * 86400)
    add_call(server, line, caller, now - 40 * 86400)  # older than 30 days: not counted
    add_disposition(server, earlier, caller, "prank", "siti", now - 3500)
    call_id = waiting_call(server, line, caller, challenge_result="passed", voice_heard=0)
    operator = api_session(Role.OPERATOR)
    snapshot = operator.client.get("/api/console").json()
    shown = next(each for each in snapshot["lines"] if each["line"] == line)
    assert shown["state"] == "operator_ringing" and shown["tone"] == "waiting"
    assert shown["call_id"] == call_id
    assert shown["challenge_result"] == "passed" and shown["voice_heard"] is False
    history = shown["history"]
    assert (history["available"], history["calls_24h"], history["calls_30d"]) == (True, 1, 2)
    assert [d["disposition"] for d in history["dispositions"]] == ["prank"]
    assert history["dispositions"][0]["at"].endswith("+07:00")
    assert shown["since_at"].endswith("+07:00")


def test_a_withheld_caller_has_no_history(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    waiting_call(server, line, None)
    snapshot = api_session(Role.OPERATOR).client.get("/api/console").json()
    shown = next(each for each in snapshot["lines"] if each["line"] == line)
    assert shown["history"] == {
        "available": False,
        "calls_24h": 0,
        "calls_30d": 0,
        "dispositions": [],
        "rules": [],
    }


def test_the_event_stream_sends_a_snapshot_at_once_and_on_every_change(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    set_line(server, line, "idle")
    operator = api_session(Role.OPERATOR)
    with operator.client.stream("GET", "/api/console/events", timeout=5.0) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = snapshots(stream.iter_lines())
        first = next(events)
        assert state_of(first, line) == "idle"
        started = time.monotonic()
        set_line(server, line, "ringing")
        changed = next(events)
        assert state_of(changed, line) == "ringing"
        assert time.monotonic() - started < 2.0


def test_the_event_stream_beats_while_idle_and_ends_with_its_session(
    api_session: Callable[..., ApiSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_router, "HEARTBEAT_S", 0.3)  # the same server, beating faster
    operator = api_session(Role.OPERATOR)
    with operator.client.stream("GET", "/api/console/events", timeout=5.0) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(line for line in lines if line.startswith(":")) == ": heartbeat"
        logout = operator.client.post("/api/logout", headers=operator.headers())
        assert logout.status_code == 204
        rest = list(lines)  # the stream ends once it has said so
        assert "event: logout" in rest


def snapshots(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The `snapshot` events of an SSE stream, parsed."""
    event = ""
    for text in lines:
        if text.startswith("event: "):
            event = text.removeprefix("event: ")
        elif text.startswith("data: ") and event == "snapshot":
            yield json.loads(text.removeprefix("data: "))


def state_of(snapshot: dict[str, Any], line: str) -> str:
    return str(next(each["state"] for each in snapshot["lines"] if each["line"] == line))


# ------------------------------------------------------------------ actions


def test_answer_writes_one_request_with_its_audit_row_and_a_double_click_adds_none(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    call_id = waiting_call(server, line)
    operator = api_session(Role.OPERATOR)
    first = post(operator, "answer", {"line": line, "call_id": call_id})
    assert first.status_code == 201, first.text
    again = post(operator, "answer", {"line": line, "call_id": call_id})
    assert again.json()["id"] == first.json()["id"]
    [row] = desk_requests(server, line)
    assert (row["kind"], row["call_id"], row["operator"]) == (
        "answer",
        call_id,
        operator.user.username,
    )
    assert row["done_ts"] is None and row["requested_at"].endswith("+07:00")
    [audit] = audit_rows(server, operator.user.username)
    assert (audit["action"], audit["target"]) == ("console.answer", f"line:{line}")
    assert json.loads(audit["before"])["state"] == "operator_ringing"
    assert json.loads(audit["after"])["request_id"] == row["id"]
    assert first.json()["status"] == "pending"
    finish_request(server, row["id"], "ok")
    done = operator.client.get(f"/api/console/requests/{row['id']}").json()
    assert (done["result"], done["status"]) == ("ok", "done")
    assert operator.client.get("/api/console/requests/999999999").status_code == 404


def test_answering_a_call_that_no_longer_waits_is_refused(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    call_id = waiting_call(server, line)
    set_line(server, line, "idle")  # the caller hung up
    operator = api_session(Role.OPERATOR)
    answer = post(operator, "answer", {"line": line, "call_id": call_id})
    assert answer.status_code == 409
    assert answer.json()["detail"] == "error.call_not_waiting"
    hang_up = post(operator, "hang_up", {"line": line, "call_id": call_id})
    assert hang_up.json()["detail"] == "error.call_not_connected"
    assert desk_requests(server, line) == []


BAD_INPUT = [
    ("answer", {"line": "no-such-line", "call_id": 1}, "error.unknown_line"),
    ("disposition", {"disposition": "genuine:alien"}, "error.bad_disposition"),
    ("disposition", {"disposition": "GENUINE:FIRE"}, "error.bad_disposition"),
    ("answer", {"call_id": "abc"}, "error.invalid_input"),
    ("answer", {"call_id": "12"}, "error.invalid_input"),
    ("hang_up", {"call_id": 1.5}, "error.invalid_input"),
    ("answer", {"call_id": None}, "error.invalid_input"),
    ("answer", {"extra": 1}, "error.invalid_input"),
    ("disposition", {"disposition": "x" * 41}, "error.invalid_input"),
]


@pytest.mark.parametrize(
    ("path", "body", "code"), BAD_INPUT, ids=[b[2] + "-" + b[0] for b in BAD_INPUT]
)
def test_bad_input_is_refused_with_422_and_nothing_is_written(
    server: LiveServer,
    api_session: Callable[..., ApiSession],
    line: str,
    path: str,
    body: dict[str, Any],
    code: str,
) -> None:
    call_id = waiting_call(server, line)
    full = {"line": line, "call_id": call_id} | body
    operator = api_session(Role.OPERATOR)
    before = count(server, "desk_requests"), count(server, "audit_log")
    answer = post(operator, path, full)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == code
    assert (count(server, "desk_requests"), count(server, "audit_log")) == before


def test_a_disposition_is_refused_for_a_call_nobody_answered(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    call_id = waiting_call(server, line)
    operator = api_session(Role.OPERATOR)
    answer = post(
        operator, "disposition", {"line": line, "call_id": call_id, "disposition": "prank"}
    )
    assert answer.status_code == 409
    assert answer.json()["detail"] == "error.call_not_recordable"


# ------------------------------------------------------------------ blocks


def rules_for(server: LiveServer, number: str) -> list[Any]:
    with database(server) as conn:
        return conn.execute(
            "SELECT * FROM rules WHERE pattern = ? ORDER BY created_ts", [number]
        ).fetchall()


def test_a_supervisor_blocks_for_7_days_with_the_disposition_as_reason(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    number = "+6281298765403"
    call_id = waiting_call(server, line, number)
    set_line(server, line, "connected", call_id=call_id, caller=number, number_class="number")
    supervisor = api_session(Role.SUPERVISOR)
    recorded = post(
        supervisor, "disposition", {"line": line, "call_id": call_id, "disposition": "prank"}
    )
    assert recorded.status_code == 201
    answer = post(supervisor, "block", {"line": line, "call_id": call_id, "duration": "7d"})
    assert answer.status_code == 201, answer.text
    [rule] = rules_for(server, number)
    assert (rule["kind"], rule["match"], rule["action"]) == ("block", "exact", "challenge")
    assert rule["reason"] == "console: prank"
    assert rule["created_by"] == supervisor.user.username
    assert rule["expires_ts"] - rule["created_ts"] == pytest.approx(7 * 86400)
    assert rule["expires_at"].endswith("+07:00")
    assert answer.json()["rule"]["id"] == rule["id"]
    assert re.fullmatch(r"b-[0-9a-f]{16}", rule["id"])  # the store's id form, as everywhere
    again = post(supervisor, "block", {"line": line, "call_id": call_id, "duration": "24h"})
    assert again.status_code == 200 and again.json()["created"] is False
    assert len(rules_for(server, number)) == 1
    actions = [row["action"] for row in audit_rows(server, supervisor.user.username)]
    assert actions == ["console.disposition", "console.block"]
    with database(server) as conn:
        event = conn.execute(
            "SELECT * FROM events WHERE kind = 'rule_added' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert json.loads(event["detail"])["id"] == rule["id"]


def test_a_longer_block_is_laid_over_a_shorter_one_in_force(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    number = "+6281298765405"
    call_id = waiting_call(server, line, number)
    supervisor = api_session(Role.SUPERVISOR)
    short = post(supervisor, "block", {"line": line, "call_id": call_id, "duration": "24h"})
    assert short.status_code == 201, short.text
    longer = post(supervisor, "block", {"line": line, "call_id": call_id, "duration": "7d"})
    assert longer.status_code == 201, longer.text
    spans = [rule["expires_ts"] - rule["created_ts"] for rule in rules_for(server, number)]
    assert spans == [pytest.approx(86400), pytest.approx(7 * 86400)]


def test_blocking_is_refused_for_operators_and_withheld_callers(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    number = "+6281298765404"
    call_id = waiting_call(server, line, number)
    operator = api_session(Role.OPERATOR)
    refused = post(operator, "block", {"line": line, "call_id": call_id, "duration": "24h"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "error.forbidden"
    withheld_line = line_name("api")
    try:
        withheld = waiting_call(server, withheld_line, None)
        supervisor = api_session(Role.SUPERVISOR)
        body = {"line": withheld_line, "call_id": withheld, "duration": "24h"}
        answer = post(supervisor, "block", body)
        assert answer.status_code == 422
        assert answer.json()["detail"] == "error.no_number"
        bad = post(supervisor, "block", body | {"duration": "forever"})
        assert bad.status_code == 422
    finally:
        remove_line(server, withheld_line)
    assert rules_for(server, number) == []


# ------------------------------------------------------------------ the centre's own kinds

KIND_LINE = "kinds1"
KIND_CALLER = "081299990077"
# Eleven kinds: a kind of the default list (fire), new ones, and two beyond the ninth key.
CENTRE_KINDS = (
    "flood",
    "fire",
    "landslide",
    "tsunami",
    "volcano",
    "drowning",
    "snake_bite",
    "gas_leak",
    "power_cut",
    "missing_person",
    "fallen_rock",
)
STEP_S = 15.0  # real time on a shared machine


def test_choices_follow_the_kinds_given_with_keys_for_the_first_nine() -> None:
    choices = disposition_choices(CENTRE_KINDS)
    genuine = [choice for choice in choices if choice.value.startswith("genuine:")]
    assert [choice.value for choice in genuine] == [f"genuine:{kind}" for kind in CENTRE_KINDS]
    assert [choice.key for choice in genuine] == [*"123456789", None, None]
    assert {choice.value: choice.key for choice in choices[len(CENTRE_KINDS) :]} == {
        "ghost": "G",
        "prank": "P",
        "info": "I",
        "wrong_number": "W",
    }


def test_on_the_default_configuration_the_console_offers_the_default_kinds(
    api_session: Callable[..., ApiSession],
) -> None:
    boot = _boot(api_session(Role.OPERATOR, language="en"))
    offered = [choice for choice in boot["dispositions"] if choice["genuine"]]
    assert [c["value"] for c in offered] == [f"genuine:{k}" for k in DEFAULT_GENUINE_KINDS]
    assert [c["key"] for c in offered] == [*"123456789"]
    assert [c["label"] for c in offered] == [
        MESSAGES[f"disposition.genuine.{kind}"][1] for kind in DEFAULT_GENUINE_KINDS
    ]
    assert 'id="keys-click-only"' not in boot["page"]


def _centre_config() -> Config:
    """English prompts a second long, and the centre's own kinds with one label."""
    site = {"language": "en", "genuine_kinds": list(CENTRE_KINDS)}
    config = Config.model_validate({"site": site | {"kind_labels": {"flood": "Banjir bandang"}}})
    short = {
        f"{name}_seconds": 1.0
        for name in ("challenge", "connecting", "announce", "goodbye", "reported")
    }
    prompts = {"en": config.prompts["en"].model_copy(update=short)}
    challenge = config.challenge.model_copy(update={"wait_after_prompt_s": 2.0})
    return config.model_copy(update={"prompts": prompts, "challenge": challenge})


def _boot(session: ApiSession) -> dict[str, Any]:
    """The console page's boot data (what its script starts from)."""
    page = session.client.get("/console")
    assert page.status_code == 200, page.text
    found = re.search(
        r'<script type="application/json" id="console-boot">(.*?)</script>', page.text
    )
    assert found is not None
    boot: dict[str, Any] = json.loads(found.group(1))
    boot["page"] = page.text
    return boot


def _line_now(session: ApiSession) -> dict[str, Any]:
    lines = session.client.get("/api/console").json()["lines"]
    return next((each for each in lines if each["line"] == KIND_LINE), {})


def _disposition_of(server: LiveServer, call_id: int) -> str | None:
    with database(server) as conn:
        row = conn.execute("SELECT disposition FROM calls WHERE id = ?", [call_id]).fetchone()
    return None if row is None else row["disposition"]


def test_the_console_offers_the_services_kinds_and_the_service_records_them(
    tmp_path: Path,
) -> None:
    """The real line service runs on eleven kinds of its own; the web UI takes them from
    what the service published, offers them, and a kind past the ninth key is recorded."""
    with (
        serve(tmp_path / "siaga.db") as own,
        running_centre(own, _centre_config(), line=KIND_LINE) as centre,
    ):
        operator = logged_in(own, Role.OPERATOR)
        wait_until(lambda: _line_now(operator).get("state") == "idle", STEP_S)
        boot = _boot(operator)
        offered = [c for c in boot["dispositions"] if c["genuine"]]
        assert [c["value"] for c in offered] == [f"genuine:{kind}" for kind in CENTRE_KINDS]
        assert [c["key"] for c in offered] == [*"123456789", None, None]
        labels = {c["value"]: c["label"] for c in offered}
        assert labels["genuine:flood"] == "Banjir bandang"  # site.kind_labels
        assert labels["genuine:fire"] == "Kebakaran"  # the catalogue, in Bahasa Indonesia
        assert labels["genuine:fallen_rock"] == "Fallen rock"  # the slug in words
        assert "Missing person, Fallen rock" in boot["page"]  # the keys list: click only

        centre.do(lambda: centre.modem.incoming_call(KIND_CALLER))
        wait_until(lambda: _line_now(operator).get("state") == "challenging", STEP_S)
        centre.do(lambda: centre.modem.caller_presses("5"))
        waiting = wait_until(
            lambda: (line := _line_now(operator)).get("state") == "operator_ringing" and line,
            STEP_S,
        )
        call_id = waiting["call_id"]
        target = {"line": KIND_LINE, "call_id": call_id}
        assert post(operator, "answer", target).status_code == 201
        wait_until(lambda: _line_now(operator).get("state") == "connected", STEP_S)

        dropped = post(operator, "disposition", target | {"disposition": "genuine:electrical"})
        assert dropped.status_code == 422  # a default kind this centre does not use
        assert dropped.json()["detail"] == "error.bad_disposition"
        recorded = post(operator, "disposition", target | {"disposition": "genuine:fallen_rock"})
        assert recorded.status_code == 201, recorded.text
        wait_until(lambda: _disposition_of(own, call_id) == "genuine:fallen_rock", STEP_S)
        assert post(operator, "hang_up", target).status_code == 201
        wait_until(lambda: _line_now(operator).get("state") == "idle", STEP_S)
        assert centre.service.policy.has_good_history("+6281299990077", time.time())

        supervisor = logged_in(own, Role.SUPERVISOR)
        today = datetime.now(own.settings.zone).date().isoformat()
        figures = supervisor.client.get("/api/reports", params={"since": today, "until": today})
        body = figures.json()
        assert body["columns"][2:13] == [f"valid_{kind}" for kind in CENTRE_KINDS]
        assert body["totals"]["figures"]["valid_fallen_rock"] == 1
        assert "valid_electrical" not in body["columns"]


def test_a_degraded_line_tells_the_operator_what_it_cannot_do(
    server: LiveServer, api_session: Callable[..., ApiSession], line: str
) -> None:
    """A line whose modem refused caller ID answers calls, but the console says so: the
    kinds come from `line_status.degraded` (unknown words are left out), in both languages."""
    set_line(server, line, "idle", degraded="no_caller_id,bogus")
    snapshot = api_session(Role.OPERATOR).client.get("/api/console").json()
    shown = next(each for each in snapshot["lines"] if each["line"] == line)
    assert (shown["state"], shown["degraded"]) == ("idle", ["no_caller_id"])
    for kind in ("no_caller_id", "no_key_detection", "no_voice_port"):
        assert f"state.degraded.{kind}" in MESSAGES
    assert (
        MESSAGES["state.degraded"][1].format(what=MESSAGES["state.degraded.no_caller_id"][1])
        == "Degraded: no caller ID"
    )
