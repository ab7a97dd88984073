"""A database that looks like a centre's after a busy week, for the page sweep.

`seed_centre` fills a fresh web UI's database the way its writers fill it: the line
service's rows (`calls`, `events`, `line_status`, `service_state`, the call-back list
through its own `CallLog` writer) are written as the service writes them, and everything
a person does (rules, users, settings, lines, call-back marks, exports, a lockout) goes
through the web UI's own API, so the audit log holds what real use leaves there.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from appliance.config import Config
from appliance.model import DEFAULT_GENUINE_KINDS
from appliance.store import CallLog
from appliance.store.db import iso_at
from tests.web_ui.conftest import Account, ApiSession, LiveServer
from tests.web_ui.line_service import ZONE, add_calls, call_row, database
from tests.web_ui.own_server import add_account, logged_in
from web_ui.users.service import Role

logger = logging.getLogger(__name__)

HOUR_S = 3600.0
DAY_S = 86_400.0
LINES = ("gsm1", "gsm2", "gsm3", "gsm4")
WAITING_CALLER = "+6281234500001"
LONG_REASON = (
    "Penelepon berulang kali menghubungi 112 tanpa keadaan darurat selama tiga minggu; "
    "dilaporkan oleh shift malam dan dikonfirmasi oleh supervisor pada rapat mingguan. "
    "Tinjau ulang sebulan lagi, Polresta."
)
assert len(LONG_REASON) == 200, len(LONG_REASON)
CALLBACK_NOTE = "tidak diangkat, coba lagi jam 10"
RULE_REASONS = ("Kantor BPBD", "iseng berulang", "diam berulang", "blok nomor robot")
DISPLAY_NAMES = ("Siti Rahma", "Budi Santoso", "Dewi Lestari", "Agus Teknisi")
# What people typed in Bahasa Indonesia (reasons, notes, names): data, shown as typed on
# the English pages too.
TYPED_IN_INDONESIAN = (LONG_REASON, CALLBACK_NOTE, *RULE_REASONS, *DISPLAY_NAMES)


@dataclass(frozen=True)
class Centre:
    """What the sweep needs to know of the seeded database."""

    technicians: dict[str, Account]  # by their language
    edit_line: str  # a line the lines page may edit
    caller_number: str  # a number with several calls, for the call log's filter


def _now() -> float:
    return time.time()


# ------------------------------------------------------------------ the line service's rows


def _base_config() -> str:
    config = Config.model_validate(
        {"lines": [{"name": name, "port": f"/dev/siaga/{name}"} for name in LINES]}
    )
    return json.dumps(config.model_dump(mode="json"))


def seed_service(server: LiveServer) -> None:
    """The line service's row: running, in flood mode, on a published configuration."""
    now = _now()
    with database(server) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO service_state (id, pid, version, started_ts, started_at,"
            " base_config, flood_active, flood_since_ts, flood_reason, heartbeat_ts,"
            " updated_ts) VALUES (1, ?, '0.1.0', ?, ?, ?, 1, ?, ?, ?, ?)",
            [
                4242,
                now - 3 * DAY_S - 5 * HOUR_S,
                iso_at(now - 3 * DAY_S, ZONE),
                _base_config(),
                now - 20 * 60,
                "one number: 14 calls from +6281234500077 in 600 s",
                now,
                now,
            ],
        )


def _line_status(line: str, state: str, **fields: Any) -> dict[str, Any]:
    now = _now()
    row: dict[str, Any] = {
        "line": line,
        "state": state,
        "since_ts": now - 95.0,
        "updated_ts": now,
        "unverified": 0,
        "family": "simcom",
        "model": "SIMCOM_SIM7600G-H",
        "imei": "867584030123456",
        "signal": 21,
        "registration": "home",
    }
    row.update(fields)
    return row


def seed_lines(server: LiveServer, waiting_call: int, connected_call: int) -> None:
    """Four lines: a caller waiting for an operator, a call in progress, a failed modem
    (its last error as the line writes it) and an idle line that cannot see callers."""
    now = _now()
    rows = [
        _line_status(
            "gsm1",
            "operator_ringing",
            call_id=waiting_call,
            caller_raw="081234500001",
            caller=WAITING_CALLER,
            number_class="number",
            decision="challenge",
            reason="throttle",
            challenge_result="passed",
            voice_heard=1,
            waiting_since_ts=now - 12.0,
        ),
        _line_status(
            "gsm2",
            "connected",
            call_id=connected_call,
            caller_raw="081234500002",
            caller="+6281234500002",
            number_class="number",
            decision="pass",
            reason="default",
            operator="sup1",
        ),
        _line_status(
            "gsm3",
            "failed",
            signal=None,
            registration="searching",
            last_error="ATTimeoutError: 'AT+CSQ': no final result within 5.0 s",
        ),
        _line_status("gsm4", "idle", signal=7, registration="denied", degraded="no_caller_id"),
    ]
    with database(server) as conn:
        for row in rows:
            columns = ", ".join(row)
            marks = ", ".join("?" * len(row))
            conn.execute(
                f"INSERT OR REPLACE INTO line_status ({columns}) VALUES ({marks})",
                list(row.values()),
            )


def _call_specs() -> list[dict[str, Any]]:
    """One call of every outcome the call log knows (decision, reason, end, verdict)."""
    genuine = [
        {"disposition": f"genuine:{kind}", "reached_operator": 1} for kind in DEFAULT_GENUINE_KINDS
    ]
    return [
        *genuine,
        {"disposition": "info", "reached_operator": 1, "end_cause": "operator_hung_up"},
        {"disposition": "prank", "reached_operator": 1},
        {"disposition": "ghost", "reached_operator": 1},
        {"disposition": "wrong_number", "reached_operator": 1},
        {"reached_operator": 1, "end_cause": "interrupted", "interrupted": 1},
        {"decision": "pass", "reason": "allowlist", "reached_operator": 1},
        {"decision": "pass", "reason": "immune", "reached_operator": 1},
        {"decision": "pass", "reason": "fail_open", "end_cause": "error"},
        {"decision": "challenge", "reason": "throttle", "challenge_result": "passed",
         "end_cause": "challenge_passed", "reached_operator": 1, "voice_heard": 1},
        {"decision": "challenge", "reason": "no_history", "challenge_result": "failed",
         "end_cause": "challenge_failed", "voice_heard": 0},
        {"decision": "challenge", "reason": "flood", "challenge_result": "timeout",
         "end_cause": "challenge_timeout"},
        {"decision": "challenge", "reason": "flood", "challenge_result": "caller_hung_up",
         "end_cause": "flood_released"},
        {"decision": "challenge", "reason": "withheld", "number_class": "withheld",
         "caller_raw": "", "caller": None, "end_cause": "challenge_caller_hung_up"},
        {"decision": "announce", "reason": "abuse", "end_cause": "announced"},
        {"decision": "reject", "reason": "blocklist", "end_cause": "rejected"},
        {"decision": "reject", "reason": "unparseable", "caller_raw": "PRIVATE-Nr",
         "end_cause": "rejected"},
        {"decision": "pass", "reason": "unavailable", "caller_raw": None, "end_cause": "deflected"},
        {"end_cause": "modem_reset"},
        {"end_cause": "modem_not_answering"},
        {"end_cause": "watchdog_operator_ringing", "time_trusted": 0},
        {"end_cause": "line_failed"},
    ]  # fmt: skip


def seed_calls(server: LiveServer) -> tuple[int, int]:
    """Calls of every outcome spread over the last days (most of them today), a caller
    with many calls; the ids of the call waiting on gsm1 and the one connected on gsm2."""
    now = _now()
    rows: list[dict[str, Any]] = []
    for index, spec in enumerate(_call_specs()):
        started = now - (index + 1) * 17 * 60.0
        raw = spec.pop("caller_raw", f"0812345{index:05d}")
        row = call_row(LINES[index % 2], raw, started, **spec)
        if row.get("disposition"):
            row["operator"] = "sup1"
            row["disposition_ts"] = started + 40.0
        rows.append(row)
    for day in range(1, 9):  # the same number, day after day: a repeater
        rows.append(call_row("gsm1", "081234500001", now - day * DAY_S, disposition="prank"))
    going_on = {"ended_ts": None, "ended_at": None, "end_cause": None, "line_seconds": None}
    waiting = call_row("gsm1", "081234500001", now - 30.0, decision="challenge",
                       reason="throttle", challenge_result="passed", **going_on)  # fmt: skip
    connected = call_row("gsm2", "081234500002", now - 200.0, reached_operator=1, **going_on)
    ids = add_calls(server, [*rows, waiting, connected])
    return ids[-2], ids[-1]


def _event(kind: str, ago_s: float, detail: dict[str, Any], line: str | None = None) -> list[Any]:
    ts = _now() - ago_s
    return [iso_at(ts, ZONE), ts, kind, line, json.dumps(detail)]


def seed_events(server: LiveServer) -> None:
    """An alarm of every kind the dashboard shows, and the system page's other events,
    with the details the line service writes."""
    error = "ATTimeoutError: 'AT+CSQ': no final result within 5.0 s"
    events = [
        _event("recovery", 600, {"step": "reinitialise", "outcome": "done", "detail":
               "reconnecting", "round": 1, "error": error}, "gsm3"),
        _event("recovery", 560, {"step": "power_cycle", "outcome": "skipped", "detail":
               "no recovery actions wired", "round": 1, "error": error}, "gsm3"),
        _event("recovery", 520, {"step": "usb_reset", "outcome": "failed", "detail":
               "UsbResetError: no such device 1-1.3", "round": 1, "error": error}, "gsm3"),
        _event("recovery", 480, {"step": "exhausted", "round": 1, "error": error}, "gsm3"),
        _event("recovery", 300, {"step": "recovered", "after": "power_cycle",
               "steps": ["reinitialise", "power_cycle"]}, "gsm1"),
        _event("alarm", 900, {"kind": "clock_unsynced", "message": "the system clock is not "
               "synchronised (no NTP): call times are marked untrusted"}),
        _event("alarm", 950, {"kind": "disk_low", "message":
               "180 MB free of 29000 MB on /var/lib/siaga"}),
        _event("flood_on", 1200, {"reason": "one number: 14 calls from +6281234500077 in 600 s",
               "hot_prefix": "+62812345000"}),
        _event("line_crashed", 1300, {"error": "KeyError: 'state'"}, "gsm2"),
        _event("supervisor_flag", 1400, {"caller": "+6281234500001", "level": 3,
               "junk_24h": 6, "until_ts": _now() + 7 * DAY_S}),
        _event("modem_changed", 1500, {"expected": "867584030123456", "found":
               "867584030999999"}, "gsm4"),
        _event("missed_call", 1600, {"caller_raw": "081234500003", "caller": "+6281234500003",
               "rings": 3, "while": "initialising"}, "gsm3"),
        _event("settings_lost", 1700, {"lost": ["no_caller_id"], "restored": ["no_caller_id"],
               "found_on": "health poll"}, "gsm4"),
        _event("line_degraded", 1800, {"missing": ["no_caller_id"], "found_on": "health poll",
               "retry_s": 300.0}, "gsm4"),
        _event("caller_id_lost", 1900, {"call_id": 17}, "gsm4"),
        _event("call_watchdog", 2000, {"call_id": 12, "state": "operator_ringing",
               "held_s": 601.4, "limit_s": 600.0, "action": "alarm"}, "gsm1"),
        _event("call_left_up", 2100, {"caller_raw": "081234500004", "state": "active",
               "released": True}, "gsm2"),
        _event("line_failed", 610, {"error": error}, "gsm3"),
        _event("line_up", 5000, {"family": "simcom", "imei": "867584030123456"}, "gsm1"),
        _event("flood_off", 9000, {"reason": "quiet for 900 s", "hot_prefix": None}),
        _event("clock_step", 9500, {"step_s": -3600.0}),
        _event("phantom_ring", 9600, {"rings": 2, "rings_before": 0}, "gsm2"),
    ]  # fmt: skip
    with database(server) as conn:
        conn.executemany(
            "INSERT INTO events (at, ts, kind, line, detail) VALUES (?, ?, ?, ?, ?)", events
        )


def seed_callbacks(server: LiveServer) -> None:
    """Open call-back entries for each reason, through the line service's own writer."""
    from appliance.store.callbacks import CALLBACK_REASONS

    log = CallLog(server.db_path, timezone="Asia/Jakarta")
    log.open()
    try:
        now = _now()
        for index, reason in enumerate(CALLBACK_REASONS):
            log.add_callback(
                caller=f"+62812555{index:05d}",
                caller_raw=f"0812555{index:05d}",
                line=LINES[index % len(LINES)],
                call_id=None,
                reason=reason,
                detail={"voice_heard": index % 2 == 0, "keys": "", "listened_s": 12.0},
                ts=now - (index + 1) * 25 * 60.0,
            )
        assert log.flush()
    finally:
        log.close()


# ------------------------------------------------------------------ what people do (the API)


def _post(session: ApiSession, path: str, body: dict[str, Any], method: str = "POST") -> Any:
    answer = session.client.request(method, path, json=body, headers=session.headers())
    assert answer.status_code < 300, (path, answer.status_code, answer.text)
    return answer.json() if answer.content else None


def seed_rules(session: ApiSession) -> None:
    """A rule of every kind and action, prefix and exact, with and without expiry; one
    removed (the audit log shows both)."""
    office, repeats, silent, robots = RULE_REASONS
    rules = [
        {"kind": "allow", "number": "0812-3456-7890", "reason": office},
        {"kind": "block", "number": "081234500001", "action": "challenge", "expires": "7d",
         "reason": repeats},
        {"kind": "block", "number": "081234500005", "action": "announce", "expires": "24h",
         "reason": silent},
        {"kind": "block", "number": "+62 899", "match": "prefix", "action": "reject",
         "reason": robots},
        {"kind": "block", "number": "081234500006", "action": "reject", "reason": LONG_REASON},
    ]  # fmt: skip
    added = [_post(session, "/api/rules", rule) for rule in rules]
    extra = _post(session, "/api/rules", {"kind": "block", "number": "081234500009"
                                          , "expires": "7d"})  # fmt: skip
    assert added
    _post(session, f"/api/rules/{extra['id']}", {}, method="DELETE")


def seed_people(server: LiveServer, technician: ApiSession) -> None:
    """Users of every role; one renamed and disabled, one with a reset password, one
    locked out by failed logins."""
    made = {}
    for username, role, name in zip(
        ("siti.op", "budi.op", "dewi.sup"),
        ("operator", "operator", "supervisor"),
        DISPLAY_NAMES,
        strict=False,
    ):
        body = {"username": username, "display_name": name, "role": role,
                "password": "kata-sandi-rahasia-112"}  # fmt: skip
        made[username] = _post(technician, "/api/users", body)["id"]
    _post(technician, f"/api/users/{made['budi.op']}", {"disabled": True}, method="PATCH")
    _post(technician, f"/api/users/{made['siti.op']}", {"role": "supervisor"}, method="PATCH")
    _post(technician, f"/api/users/{made['dewi.sup']}/password",
          {"new_password": "kata-sandi-baru-112"})  # fmt: skip
    for _ in range(5):  # the fifth failure locks the account for this address
        technician.client.post(
            "/api/login", json={"username": "dewi.sup", "password": "salah-salah-salah"}
        )


def seed_settings_and_lines(technician: ApiSession) -> None:
    """A changed screening setting (a week, in seconds, as stored) and a line added,
    edited and taken out of service on the lines page."""
    week = {"policy": {"throttle": {"window_s": 7 * DAY_S, "max_calls": 4}}}
    _post(technician, "/api/settings", week, method="PATCH")
    _post(technician, "/api/lines", {"name": "gsm5", "port": "/dev/siaga/gsm5"})
    _post(technician, "/api/lines/gsm5", {"name": "gsm5", "port": "/dev/siaga/gsm5",
          "reject_method": "busy"}, method="PUT")  # fmt: skip
    _post(technician, "/api/lines/gsm4/enabled", {"enabled": False}, method="PUT")


def seed_marks_and_exports(technician: ApiSession, waiting_call: int) -> None:
    """A call-back marked, a console block, and the three CSV exports (all audited)."""
    listed = technician.client.get("/api/callbacks").json()["entries"]
    _post(technician, f"/api/callbacks/{listed[0]['id']}",
          {"status": "unreachable", "note": CALLBACK_NOTE})  # fmt: skip
    _post(technician, "/api/console/block",
          {"line": "gsm1", "call_id": waiting_call, "duration": "7d"})  # fmt: skip
    for path in ("/calls.csv?decision=reject", "/reports.csv", "/rules.csv?dialect=excel"):
        assert technician.client.get(path).status_code == 200, path


def seed_centre(server: LiveServer) -> Centre:
    """Everything above, in the order a week at a centre would leave it."""
    seed_service(server)
    seed_callbacks(server)  # first: its writer, opening, ends calls left without an end
    waiting_call, connected_call = seed_calls(server)
    seed_lines(server, waiting_call, connected_call)
    seed_events(server)
    technician = logged_in(server, Role.TECHNICIAN)
    try:
        seed_rules(technician)
        seed_people(server, technician)
        seed_settings_and_lines(technician)
        seed_marks_and_exports(technician, waiting_call)
    finally:
        technician.client.close()
    technicians = {
        language: add_account(
            server, Role.TECHNICIAN, language=language, display_name=DISPLAY_NAMES[-1]
        )
        for language in ("id", "en")
    }
    logger.info("sweep database seeded at %s", server.db_path)
    return Centre(technicians=technicians, edit_line="gsm5", caller_number="081234500001")
