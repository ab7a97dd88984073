"""Screening settings: reading typed numbers, the logic, the API, the page, and a change
made in the browser screening the next call of a real line service."""

from __future__ import annotations

import html
import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from appliance.config import Config
from appliance.model import LineState
from tests.web_ui.conftest import Account, ApiSession, LiveServer, browser_login, wait_for
from tests.web_ui.real_centre import RealCentre, running_centre
from tests.web_ui.screening_helpers import clear_settings
from web_ui.core import db as web_db
from web_ui.core.i18n import MESSAGES
from web_ui.settings import service as screening
from web_ui.settings.form import (
    FIELDS,
    GROUPS,
    LADDER_COLUMNS,
    duration_words,
    format_number,
    html_id,
    parse_count,
    parse_number,
    parse_seconds,
    parse_share,
    seconds_text,
)
from web_ui.users.audit import Actor
from web_ui.users.service import Role

ZONE_NAME = "Asia/Jakarta"
STEP_S = 20.0  # each step of the real-time test waits at most this long (a shared machine)
_subscribers = itertools.count(1)


def fresh_number() -> tuple[str, str]:
    """(national form, E.164) of a number no other test uses."""
    n = 66000000 + next(_subscribers)
    return f"0819-{n // 10000:04d}-{n % 10000:04d}", f"+62819{n:08d}"


def rows(server: LiveServer, sql: str, params: list[Any] | None = None) -> list[sqlite3.Row]:
    conn = sqlite3.connect(server.db_path, timeout=10.0)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params or []).fetchall()
    finally:
        conn.close()


def version(server: LiveServer) -> int:
    return int(rows(server, "SELECT version FROM settings_version WHERE id = 1")[0][0])


def audit_count(server: LiveServer) -> int:
    return int(
        rows(server, "SELECT count(*) FROM audit_log WHERE action = 'settings.change'")[0][0]
    )


@pytest.fixture
def supervisor(api_session: Callable[..., ApiSession]) -> ApiSession:
    return api_session(Role.SUPERVISOR)


@pytest.fixture
def clean_settings(server: LiveServer) -> Iterator[None]:
    """No override before the test, and none left after it."""
    clear_settings(server)
    yield
    clear_settings(server)


def current(session: ApiSession) -> dict[str, Any]:
    answer = session.client.get("/api/settings")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def patch(session: ApiSession, body: dict[str, Any]) -> Any:
    return session.client.patch("/api/settings", json=body, headers=session.headers())


# ------------------------------------------------------------------ reading typed numbers


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("0,5", "id", 0.5),
        ("0.5", "id", 0.5),
        ("86.400", "id", 86_400.0),
        ("1.234,5", "id", 1_234.5),
        ("86,400", "en", 86_400.0),
        ("0.5", "en", 0.5),
        ("0,5", "en", 0.5),
        ("1,234.5", "en", 1_234.5),
        (" 600 ", "id", 600.0),
        ("1 000", "en", 1_000.0),
        ("-3", "id", -3.0),
    ],
)
def test_numbers_are_read_as_they_are_written_in_each_language(
    text: str, language: str, expected: float
) -> None:
    assert parse_number(text, language) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "1.2.3,4.5", "0x10", "1e3", "5 5,5.5"])
def test_what_is_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text, "id")


def test_counts_durations_and_shares() -> None:
    assert parse_count("1.000", "id") == 1000
    with pytest.raises(ValueError):
        parse_count("2,5", "id")
    assert parse_seconds("10 menit", "id") == 600.0
    assert parse_seconds("1,5 jam", "id") == 5_400.0
    assert parse_seconds("7 hari", "id") == 604_800.0
    assert parse_seconds("7d", "en") == 604_800.0
    assert parse_seconds("90", "en") == 90.0
    with pytest.raises(ValueError):
        parse_seconds("10 tahun", "id")
    assert parse_share("50 %", "id") == 0.5
    assert parse_share("0,25", "id") == 0.25
    assert format_number(0.5, "id") == "0,5"
    assert format_number(600.0, "en") == "600"
    assert duration_words(2_592_000, "id") == "30 hari"
    assert duration_words(90, "en") == "1 min 30 s"
    assert [seconds_text(value, "id") for value in (604_800, 7_200, 600, 90, 0.5)] == [
        "7 hari", "2 jam", "10 menit", "90 detik", "0,5 detik"
    ]  # fmt: skip
    for value in (604_800.0, 7_200.0, 600.0, 90.0, 0.5):
        for language in ("id", "en"):
            assert parse_seconds(seconds_text(value, language), language) == value


def test_every_field_has_its_words_in_both_languages() -> None:
    keys = {group.title_key for group in GROUPS}
    keys |= {f"settings.ladder.{column}" for column in LADDER_COLUMNS}
    for field in FIELDS.values():
        keys |= {field.label_key, field.help_key}
        keys |= {f"{field.choice_key}{choice}" for choice in field.choices}
    missing = sorted(keys - set(MESSAGES))
    assert missing == []


# ------------------------------------------------------------------ the logic, on its own database


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "siaga.db"
    web_db.migrate(path, busy_timeout_s=5.0)
    connection = web_db.connect(path, busy_timeout_s=5.0)
    yield connection
    connection.close()


def publish_base(conn: sqlite3.Connection, base: Config, heartbeat_ts: float) -> None:
    """The line service's row, as it writes it at start."""
    conn.execute(
        "INSERT OR REPLACE INTO service_state (id, base_config, heartbeat_ts, updated_ts)"
        " VALUES (1, ?, ?, ?)",
        [json.dumps(base.model_dump(mode="json")), heartbeat_ts, heartbeat_ts],
    )


def test_without_a_line_service_the_defaults_are_the_base(conn: sqlite3.Connection) -> None:
    view = screening.read_view(conn)
    assert view.base_source == "defaults"
    assert view.line_service == "never_ran"
    assert view.in_force == Config()


def test_only_differences_from_the_file_are_stored_audited_and_reset(
    conn: sqlite3.Connection,
) -> None:
    zone = ZoneInfo(ZONE_NAME)
    base = Config.model_validate({"policy": {"throttle": {"max_calls": 5}}})
    publish_base(conn, base, time.time())
    actor = Actor(name="sup1", user_id=None)
    outcome = screening.change_settings(
        conn,
        actor,
        zone,
        changes={"policy.throttle.max_calls": 7, "policy.throttle.window_s": 600.0},
    )
    assert outcome.changed == {"policy.throttle.max_calls": (5, 7)}
    [stored] = conn.execute("SELECT * FROM settings").fetchall()
    assert json.loads(stored["value"]) == {"throttle": {"max_calls": 7}}  # 600 is the file's
    assert stored["updated_by"] == "sup1" and stored["updated_at"].endswith("+07:00")
    [entry] = conn.execute("SELECT * FROM audit_log").fetchall()
    assert entry["action"] == "settings.change" and entry["actor"] == "sup1"
    assert json.loads(entry["before"]) == {"policy.throttle.max_calls": 5}
    assert json.loads(entry["after"]) == {"policy.throttle.max_calls": 7}

    view = screening.read_view(conn)
    assert view.base_source == "line_service"
    assert view.in_force.policy.throttle.max_calls == 7
    assert view.line_service == "pending"  # no config_change from the service yet
    conn.execute(
        "INSERT INTO events (ts, kind, detail) VALUES (?, 'config_change', ?)",
        [time.time(), json.dumps({"digest": screening.config_digest(view.in_force)})],
    )
    assert screening.read_view(conn).line_service == "applied"
    publish_base(conn, base, time.time() - 600)
    assert screening.read_view(conn).line_service == "not_running"

    again = screening.change_settings(conn, actor, zone, changes={}, resets=["policy.throttle"])
    assert again.changed == {"policy.throttle.max_calls": (7, 5)}
    assert conn.execute("SELECT count(*) FROM settings").fetchone()[0] == 0


def test_a_refused_change_stores_nothing(conn: sqlite3.Connection) -> None:
    before = screening.read_view(conn).version
    ladder = [{"count": 5, "restrict_s": 60.0}, {"count": 3, "restrict_s": 60.0}]
    with pytest.raises(screening.SettingsRefusedError) as refused:
        screening.change_settings(
            conn, Actor(name="sup1"), ZoneInfo(ZONE_NAME), changes={"policy.abuse.ladder": ladder}
        )
    assert [problem.field for problem in refused.value.problems] == ["policy.abuse"]
    assert screening.read_view(conn).version == before
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


# ------------------------------------------------------------------ the API


@pytest.mark.usefixtures("clean_settings")
def test_the_api_shows_the_values_in_force_the_base_and_the_overrides(
    supervisor: ApiSession,
) -> None:
    found = current(supervisor)
    assert set(found["values"]) == {"policy", "challenge", "prompts", "sms"}
    assert found["values"] == found["base"] and found["overrides"] == {}
    assert found["base_source"] in ("line_service", "defaults")
    assert found["line_service"] in ("applied", "pending", "not_running", "never_ran")


@pytest.mark.usefixtures("clean_settings")
def test_an_api_change_is_stored_and_audited_with_before_and_after(
    server: LiveServer, supervisor: ApiSession
) -> None:
    base = current(supervisor)["base"]
    old_max = base["policy"]["throttle"]["max_calls"]
    window = base["policy"]["throttle"]["window_s"]
    answer = patch(
        supervisor,
        {
            "policy": {"throttle": {"max_calls": old_max + 4, "window_s": window}},
            "sms": {"supervisors": ["0812-3456-7890", "62 813 1111 2222"]},
        },
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["changed"] == ["policy.throttle.max_calls", "sms.supervisors"]
    assert found["values"]["policy"]["throttle"]["max_calls"] == old_max + 4
    numbers = ["+6281234567890", "+6281311112222"]
    assert found["overrides"] == {
        "policy": {"throttle": {"max_calls": old_max + 4}},  # the window is the file's
        "sms": {"supervisors": numbers},
    }
    assert found["updated_by"] == supervisor.user.username
    stored = {row["section"]: row for row in rows(server, "SELECT * FROM settings")}
    assert set(stored) == {"policy", "sms"}
    assert stored["policy"]["updated_by"] == supervisor.user.username
    [entry] = rows(
        server,
        "SELECT * FROM audit_log WHERE action = 'settings.change' AND actor = ?",
        [supervisor.user.username],
    )
    assert json.loads(entry["before"]) == {
        "policy.throttle.max_calls": old_max,
        "sms.supervisors": base["sms"]["supervisors"],
    }
    assert json.loads(entry["after"]) == {
        "policy.throttle.max_calls": old_max + 4,
        "sms.supervisors": numbers,
    }

    reset = patch(supervisor, {"reset": ["policy.throttle", "sms"]})
    assert reset.status_code == 200, reset.text
    assert reset.json()["overrides"] == {}
    assert rows(server, "SELECT * FROM settings") == []


@pytest.mark.usefixtures("clean_settings")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"policy": {"throttle": {"max_calls": 0}}}, None),
        ({"challenge": {"key": "5a"}}, None),
        ({"lines": []}, None),
        (
            {
                "policy": {
                    "abuse": {
                        "ladder": [{"count": 5, "restrict_s": 60}, {"count": 3, "restrict_s": 60}]
                    }
                }
            },
            "policy.abuse",
        ),
        ({"sms": {"supervisors": ["0812"]}}, "sms.supervisors"),
        ({"reset": ["policy.no_such_thing"]}, "policy.no_such_thing"),
        ({"prompts": {"id": {"challenge": "tekan 5"}, "en": {"challenge": ""}}}, None),
    ],
)
def test_the_api_refuses_bad_values_by_field_and_stores_nothing(
    server: LiveServer, supervisor: ApiSession, body: dict[str, Any], field: str | None
) -> None:
    before = version(server), audit_count(server)
    answer = patch(supervisor, body)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert errors and all(error["loc"][0] == "body" and error["msg"] for error in errors)
    if field is not None:
        assert answer.json()["detail"] == "error.settings_invalid"
        assert [error["field"] for error in errors] == [field]
    assert (version(server), audit_count(server)) == before
    assert rows(server, "SELECT * FROM settings") == []


@pytest.mark.usefixtures("clean_settings")
def test_the_flood_reputation_and_flood_challenge_settings_are_stored_over_the_api(
    server: LiveServer, supervisor: ApiSession
) -> None:
    base = current(supervisor)["base"]
    flood, abuse = base["policy"]["flood"], base["policy"]["abuse"]
    language = sorted(base["prompts"])[0]
    # Every value differs from the file's, whatever file the line service started on.
    body = {
        "policy": {
            "flood": {
                "enabled": not flood["enabled"],
                "saturation_occupancy": 0.75 if flood["saturation_occupancy"] != 0.75 else 0.8,
                "reseize_s": flood["reseize_s"] + 1,
                "reseize_min": flood["reseize_min"] + 1,
                "waiting_min_calls": flood["waiting_min_calls"] + 1,
                "new_numbers_min": flood["new_numbers_min"] + 1,
                "number_min_calls": flood["number_min_calls"] + 1,
                "block_min_numbers": flood["block_min_numbers"] + 1,
                "withheld_min_calls": flood["withheld_min_calls"] + 1,
                "withheld_min_share": 0.6 if flood["withheld_min_share"] != 0.6 else 0.7,
                "reserve_lines": flood["reserve_lines"] + 1,
                "redial_window_s": flood["redial_window_s"] + 60,
                "short_challenge_free_lines": flood["short_challenge_free_lines"] + 1,
            },
            "abuse": {
                "reputation_half_life_s": abuse["reputation_half_life_s"] + 86_400,
                "reputation_threshold": abuse["reputation_threshold"] + 0.5,
            },
        },
        "challenge": {
            "flood_wait_s": base["challenge"]["flood_wait_s"] + 1,
            "silent_to_idle_operator": not base["challenge"]["silent_to_idle_operator"],
        },
        "prompts": {
            language: {
                "flood_challenge": "Darurat 112: tekan 5 sekarang.",
                "flood_challenge_seconds": base["prompts"][language]["flood_challenge_seconds"] + 1,
            }
        },
    }
    answer = patch(supervisor, body)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    names = sorted(screening.leaves(body))
    assert found["changed"] == names
    assert found["overrides"] == body  # each differs from the file's: each is stored
    in_force = screening.leaves(found["values"])
    assert {name: in_force[name] for name in names} == screening.leaves(body)
    [entry] = rows(
        server,
        "SELECT * FROM audit_log WHERE action = 'settings.change' AND actor = ?",
        [supervisor.user.username],
    )
    assert json.loads(entry["after"]) == screening.leaves(body)
    assert json.loads(entry["before"]) == {
        name: value for name, value in screening.leaves(base).items() if name in names
    }


@pytest.mark.usefixtures("clean_settings")
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"policy": {"flood": {"saturation_occupancy": 1.5}}}, "policy.flood.saturation_occupancy"),
        ({"policy": {"flood": {"withheld_min_share": 0}}}, "policy.flood.withheld_min_share"),
        ({"policy": {"flood": {"reserve_lines": -1}}}, "policy.flood.reserve_lines"),
        ({"policy": {"flood": {"block_min_numbers": 1}}}, "policy.flood.block_min_numbers"),
        ({"policy": {"flood": {"redial_window_s": 0}}}, "policy.flood.redial_window_s"),
        ({"policy": {"flood": {"enabled": "perhaps"}}}, "policy.flood.enabled"),
        ({"policy": {"abuse": {"reputation_threshold": -1}}}, "policy.abuse.reputation_threshold"),
        (
            {"policy": {"abuse": {"reputation_half_life_s": 0}}},
            "policy.abuse.reputation_half_life_s",
        ),
        ({"challenge": {"flood_wait_s": -5}}, "challenge.flood_wait_s"),
        ({"prompts": {"id": {"flood_challenge": ""}}}, "prompts.id.flood_challenge"),
    ],
)
def test_the_api_refuses_a_bad_flood_or_reputation_value_naming_it(
    server: LiveServer, supervisor: ApiSession, body: dict[str, Any], loc: str
) -> None:
    before = version(server), audit_count(server)
    answer = patch(supervisor, body)
    assert answer.status_code == 422, answer.text
    assert [error["loc"] for error in answer.json()["errors"]] == [["body", *loc.split(".")]]
    assert (version(server), audit_count(server)) == before
    assert rows(server, "SELECT * FROM settings") == []


# ------------------------------------------------------------------ the page


def form(session: ApiSession, **fields: str | list[str]) -> dict[str, str | list[str]]:
    return {"csrf_token": session.csrf, **fields}


@pytest.mark.usefixtures("clean_settings")
def test_the_page_speaks_each_users_language(api_session: Callable[..., ApiSession]) -> None:
    indonesian = api_session(Role.SUPERVISOR).client.get("/settings")
    english = api_session(Role.TECHNICIAN, language="en").client.get("/settings")
    assert indonesian.status_code == english.status_code == 200
    assert "<h1>Pengaturan penyaringan</h1>" in indonesian.text
    assert "Panggilan berulang" in indonesian.text and "Tangga penyalahgunaan" in indonesian.text
    assert "<h1>Screening settings</h1>" in english.text and "Flood mode" in english.text
    languages = set(current(api_session(Role.SUPERVISOR))["values"]["prompts"])
    for name in FIELDS:
        if name != "policy.abuse.ladder" and name.split(".")[:2] not in (
            ["prompts", language] for language in {"id", "en"} - languages
        ):
            assert f'name="{name}"' in english.text, name
    assert 'name="policy.abuse.ladder[0].count"' in english.text


@pytest.mark.usefixtures("clean_settings")
def test_the_form_reads_indonesian_numbers_durations_and_phone_numbers(
    server: LiveServer, supervisor: ApiSession
) -> None:
    national, e164 = fresh_number()
    answer = supervisor.client.post(
        "/settings",
        data=form(
            supervisor,
            **{
                "policy.flood.block_min_share": "25 %",
                "policy.throttle.window_s": "15 menit",
                "policy.abuse.immunity_s": "1.209.600",
                "policy.challenge_unknown": "0",  # the hidden 0 of an unticked box
                "sms.supervisors": f"{national}\r\n{national}",
            },
        ),
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/settings?done=done.settings_saved"
    values = current(supervisor)["values"]
    assert values["policy"]["flood"]["block_min_share"] == 0.25
    assert values["policy"]["throttle"]["window_s"] == 900.0
    assert values["policy"]["abuse"]["immunity_s"] == 1_209_600.0
    assert values["policy"]["challenge_unknown"] is False
    assert values["sms"]["supervisors"] == [e164]

    page = supervisor.client.get("/settings?done=done.settings_saved").text
    assert 'id="done"' in page
    assert 'value="0,25"' in page and 'value="15 menit"' in page and 'value="14 hari"' in page
    assert 'id="f-policy-flood-block_min_share-reset"' in page  # changed: it can be reset

    reset = supervisor.client.post(
        "/settings/reset", data=form(supervisor, target="policy.flood.block_min_share")
    )
    assert reset.headers["location"] == "/settings?done=done.settings_reset"
    after = current(supervisor)
    assert "flood" not in after["overrides"]["policy"]
    assert after["overrides"]["policy"]["throttle"] == {"window_s": 900.0}
    group = supervisor.client.post("/settings/reset", data=form(supervisor, target="callers"))
    assert group.status_code == 303
    assert "challenge_unknown" not in current(supervisor)["overrides"]["policy"]


@pytest.mark.usefixtures("clean_settings")
def test_the_form_shows_each_problem_beside_its_field_and_stores_nothing(
    server: LiveServer, supervisor: ApiSession
) -> None:
    before = version(server), audit_count(server)
    answer = supervisor.client.post(
        "/settings",
        data=form(
            supervisor,
            **{
                "policy.throttle.max_calls": "0",
                "policy.flood.block_min_share": "banyak",
                "challenge.key": "12345",
                "sms.supervisors": "0812",
                "policy.abuse.ladder": "1",
                "policy.abuse.ladder[0].count": "5",
                "policy.abuse.ladder[0].restrict_s": "1 hari",
                "policy.abuse.ladder[1].count": "3",
                "policy.abuse.ladder[1].restrict_s": "",
            },
        ),
    )
    assert answer.status_code == 422
    page = answer.text
    assert 'id="error-summary"' in page
    for field_id, words in [
        ("f-policy-throttle-max_calls", "Harus lebih dari 0."),
        ("f-policy-flood-block_min_share", "\u201cbanyak\u201d bukan angka"),
        ("f-challenge-key", "Hanya 1 sampai 4 tombol"),
        ("f-sms-supervisors", "\u201c0812\u201d bukan nomor telepon lengkap"),
        ("f-policy-abuse-ladder-1-restrict_s", "Wajib diisi."),
    ]:
        start = page.index(f'id="{field_id}-error"')
        assert words in page[start : start + 200], field_id
    assert 'value="banyak"' in page  # what was typed is shown again
    assert (version(server), audit_count(server)) == before


@pytest.mark.usefixtures("clean_settings")
def test_the_page_shows_the_flood_reputation_and_flood_challenge_settings(
    api_session: Callable[..., ApiSession],
) -> None:
    supervisor = api_session(Role.SUPERVISOR)
    values = current(supervisor)["values"]
    indonesian = supervisor.client.get("/settings").text
    english = api_session(Role.TECHNICIAN, language="en").client.get("/settings").text
    for card in ("flood", "flood_sources", "flood_lines"):
        assert f'id="group-{card}"' in indonesian and f'id="group-{card}"' in english
    assert "Mode banjir panggilan: nomor asal banjir" in indonesian
    assert "Flood mode: spare lines and the short challenge" in english
    assert "Batas reputasi iseng" in indonesian and "Prank reputation limit" in english
    for name in (
        "policy.flood.enabled",
        "policy.flood.saturation_occupancy",
        "policy.flood.reserve_lines",
        "policy.abuse.reputation_half_life_s",
        "policy.abuse.reputation_threshold",
        "challenge.flood_wait_s",
        "challenge.silent_to_idle_operator",
    ):
        assert f'name="{name}"' in indonesian, name
    # A yes/no is a checkbox after its hidden "0", ticked as the value in force says.
    enabled = values["policy"]["flood"]["enabled"]
    checkbox = indonesian[indonesian.index('id="f-policy-flood-enabled"') :][:120]
    assert (" checked" in checkbox) is enabled
    share = format_number(values["policy"]["flood"]["saturation_occupancy"], "id")
    assert f'name="policy.flood.saturation_occupancy" value="{share}"' in indonesian
    half_life = values["policy"]["abuse"]["reputation_half_life_s"]
    shown = seconds_text(half_life, "id")  # `10 hari`, not 864000
    assert f'name="policy.abuse.reputation_half_life_s" value="{shown}"' in indonesian
    for language, prompt in values["prompts"].items():
        assert f'name="prompts.{language}.flood_challenge_seconds"' in english
        textarea = english.index(f'name="prompts.{language}.flood_challenge"')
        assert html.escape(prompt["flood_challenge"]) in english[textarea : textarea + 600]


@pytest.mark.usefixtures("clean_settings")
def test_the_form_reads_the_flood_and_reputation_settings(
    server: LiveServer, supervisor: ApiSession
) -> None:
    values = current(supervisor)["values"]
    language = sorted(values["prompts"])[0]
    reserve = values["policy"]["flood"]["reserve_lines"]
    answer = supervisor.client.post(
        "/settings",
        data=form(
            supervisor,
            **{
                "policy.flood.enabled": "0",  # the hidden 0 of an unticked box
                "policy.flood.saturation_occupancy": "75 %",
                "policy.flood.withheld_min_share": "0,6",
                "policy.flood.reserve_lines": str(reserve + 1),
                "policy.abuse.reputation_half_life_s": "14 hari",
                "policy.abuse.reputation_threshold": "2,5",
                "challenge.flood_wait_s": "4",
                "challenge.silent_to_idle_operator": ["0", "1"],  # a ticked box
                f"prompts.{language}.flood_challenge": "Darurat 112: tekan 5.\r\n",
            },
        ),
    )
    assert answer.status_code == 303, answer.text
    after = current(supervisor)["values"]
    flood, abuse = after["policy"]["flood"], after["policy"]["abuse"]
    assert flood["enabled"] is False
    assert (flood["saturation_occupancy"], flood["withheld_min_share"]) == (0.75, 0.6)
    assert flood["reserve_lines"] == reserve + 1
    assert (abuse["reputation_half_life_s"], abuse["reputation_threshold"]) == (1_209_600.0, 2.5)
    assert after["challenge"]["flood_wait_s"] == 4.0
    assert after["challenge"]["silent_to_idle_operator"] is True
    assert after["prompts"][language]["flood_challenge"] == "Darurat 112: tekan 5."

    page = supervisor.client.get("/settings").text
    assert 'name="policy.flood.saturation_occupancy" value="0,75"' in page
    assert 'name="policy.abuse.reputation_threshold" value="2,5"' in page
    assert 'name="policy.abuse.reputation_half_life_s" value="14 hari"' in page
    assert 'id="f-policy-flood-enabled-reset"' in page  # changed: it can be reset
    reset = supervisor.client.post("/settings/reset", data=form(supervisor, target="flood"))
    assert reset.headers["location"] == "/settings?done=done.settings_reset"
    overrides = current(supervisor)["overrides"]["policy"]
    assert set(overrides["flood"]) == {"withheld_min_share", "reserve_lines"}  # other cards
    assert set(overrides["abuse"]) == {"reputation_half_life_s", "reputation_threshold"}


@pytest.mark.usefixtures("clean_settings")
def test_a_bad_flood_or_reputation_value_is_shown_beside_its_field_as_typed(
    server: LiveServer, supervisor: ApiSession
) -> None:
    before = version(server), audit_count(server)
    typed = {
        "policy.flood.saturation_occupancy": "150 %",
        "policy.flood.block_min_numbers": "1",
        "policy.flood.reserve_lines": "-1",
        "policy.abuse.reputation_threshold": "banyak",
        "policy.abuse.reputation_half_life_s": "0 hari",
        "challenge.flood_wait_s": "2 tahun",
    }
    answer = supervisor.client.post("/settings", data=form(supervisor, **typed))
    assert answer.status_code == 422
    page = answer.text
    assert "Tidak disimpan: 6 isian perlu diperbaiki." in page
    for name, words in [
        ("policy.flood.saturation_occupancy", "Paling banyak 1."),
        ("policy.flood.block_min_numbers", "Paling sedikit 2."),
        ("policy.flood.reserve_lines", "Paling sedikit 0."),
        ("policy.abuse.reputation_threshold", "\u201cbanyak\u201d bukan angka"),
        ("policy.abuse.reputation_half_life_s", "Harus lebih dari 0."),
        ("challenge.flood_wait_s", "\u201c2 tahun\u201d bukan angka"),
    ]:
        field_id = html_id(name)
        start = page.index(f'id="{field_id}-error"')
        assert words in page[start : start + 200], name
        assert f'name="{name}" value="{typed[name]}"' in page, name  # kept as typed
        summary = page[page.index('id="error-summary"') :]
        assert f'href="#{field_id}"' in summary[: summary.index("</ul>")], name
    assert (version(server), audit_count(server)) == before
    assert rows(server, "SELECT * FROM settings") == []


@pytest.mark.usefixtures("clean_settings")
def test_prompt_text_is_shown_escaped(supervisor: ApiSession) -> None:
    markup = '<script>alert("siaga")</script> tekan 5'  # a challenge prompt names the key
    language = sorted(current(supervisor)["values"]["prompts"])[0]
    answer = patch(supervisor, {"prompts": {language: {"challenge": markup}}})
    assert answer.status_code == 200, answer.text
    page = supervisor.client.get("/settings").text
    assert markup not in page and "&lt;script&gt;alert(" in page


# ------------------------------------------------------------------ a change reaching the lines


LINE = "scr1"
CALLER = "081277710001"


def _centre_config() -> Config:
    """New numbers pass (no challenge for lack of history), and no flood can start."""
    config = Config.model_validate(
        {
            "site": {"language": "en"},
            "policy": {
                "challenge_unknown": False,
                "flood": {"max_calls_in_window": 100_000, "saturation_s": 86_400.0},
            },
            "challenge": {"wait_after_prompt_s": 2.0},
        }
    )
    short = {
        f"{name}_seconds": 1.0
        for name in ("challenge", "connecting", "announce", "goodbye", "reported")
    }
    return config.model_copy(
        update={"prompts": {"en": config.prompts["en"].model_copy(update=short)}}
    )


@pytest.fixture
def centre(server: LiveServer) -> Iterator[RealCentre]:
    """The real line service on one virtual SIM7600, in real time, in a thread of its own."""
    with running_centre(
        server, _centre_config(), line=LINE, listen=True, desk_poll_s=None
    ) as centre:
        yield centre


def wait_until(check: Callable[[], Any], what: str, timeout_s: float = STEP_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.1)


def last_call(server: LiveServer) -> sqlite3.Row | None:
    found = rows(server, "SELECT * FROM calls WHERE line = ? ORDER BY id DESC LIMIT 1", [LINE])
    return found[0] if found else None


def ring(centre: RealCentre, server: LiveServer, *, then: str) -> tuple[sqlite3.Row, sqlite3.Row]:
    """The caller rings; once the line says `then`, hangs up. The call's row, and the
    line's status row as the console read it during the call."""
    previous = last_call(server)
    before = previous["id"] if previous is not None else 0
    centre.do(lambda: centre.modem.incoming_call(CALLER))

    def status_row() -> sqlite3.Row | None:
        found = rows(server, "SELECT * FROM line_status WHERE line = ?", [LINE])
        return found[0] if found and found[0]["state"] == then else None

    status: sqlite3.Row = wait_until(status_row, f"line {LINE} {then}")
    call: sqlite3.Row = wait_until(
        lambda: (row := last_call(server)) is not None and row["id"] > before and row,
        "the call's row",
    )
    centre.do(lambda: centre.modem.caller_hangs_up())
    line = centre.service.lines[LINE]
    wait_until(lambda: line.state == LineState.IDLE, f"line {LINE} idle again")
    return call, status


def test_a_threshold_changed_in_the_browser_screens_the_next_call(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    screenshot: Callable[[str], Path],
    centre: RealCentre,
) -> None:
    clear_settings(server)
    try:
        wait_until(lambda: centre.service.lines[LINE].state == LineState.IDLE, f"line {LINE} up")
        # Twice: under the file's throttle (more than 3 calls), this caller passes.
        for _ in range(2):
            call, status = ring(centre, server, then="operator_ringing")
            assert (call["decision"], call["reason"]) == ("pass", "default")
            assert (status["decision"], status["reason"]) == ("pass", "default")

        browser_login(browser, server, make_user(Role.SUPERVISOR))
        browser.get(server.url + "/settings")
        wait_for(browser, "#f-policy-throttle-max_calls")
        wait_until(
            lambda: (
                browser.find_element(By.ID, "base-source").get_attribute("data-source")
                == "line_service"
                or browser.refresh()
            ),
            "the line service's base on the page",
        )
        set_field(browser, "f-policy-throttle-max_calls", "0")
        wait_for(browser, "#f-policy-throttle-max_calls-error")
        error = browser.find_element(By.ID, "f-policy-throttle-max_calls-error").text
        assert error == "Harus lebih dari 0."
        screenshot("refused")

        set_field(browser, "f-policy-throttle-max_calls", "1")
        wait_for(browser, "#done")
        WebDriverWait(browser, STEP_S, poll_frequency=0.5).until(
            lambda d: (
                d.refresh()
                or d.find_element(By.ID, "line-service").get_attribute("data-status") == "applied"
            )
        )
        assert centre.service.config.policy.throttle.max_calls == 1
        assert (
            "Diubah; di berkas: 3."
            in browser.find_element(By.ID, "f-policy-throttle-max_calls-file").text
        )
        screenshot("applied")

        # The third call is over the new limit of one: challenged for repeat calls.
        call, status = ring(centre, server, then="challenging")
        assert (call["decision"], call["reason"]) == ("challenge", "throttle")
        assert (status["decision"], status["reason"]) == ("challenge", "throttle")
    finally:
        clear_settings(server)


def set_field(driver: webdriver.Chrome, field_id: str, text: str) -> None:
    """Type `text` into a field of the settings form and save the form."""
    field = driver.find_element(By.ID, field_id)
    field.clear()
    field.send_keys(text)
    driver.find_element(By.ID, "settings-save").click()
