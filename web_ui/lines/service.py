"""The lines page's data: every modem line, a technician's enable/disable, and AT tests.

The line service is another process; the two meet only in the database (migration
`0013_service_and_line_admin`). This module reads `line_status` (each line's state and
modem health, written by the service), `service_state.base_config` (the configuration
file the service runs on) and `line_requests`, and writes `line_admin` and
`line_requests`, each change in one transaction with its audit row. The service side is
`appliance/line_admin.py`, whose docstring holds the contract.

Decisions:
- `line_admin` is the technician's choice per line, kept across restarts of either
  process; a line with no row is enabled. Disabling takes the line out of service (the
  service closes its port so a SIM or modem can be swapped; the line shows `disabled`)
  until it is enabled again.
- A call in progress is never cut: disabling a line whose `line_status` shows a call
  (ringing to connected) is refused with 409 `error.line_in_call`. A call that rings
  between this check and the service's next poll is not cut either: the service applies
  the disable once that call has ended (the page says the disable is waiting).
- The lines in force are the lines page's own (`web_lines`, `web_ui/lines/config_form.py`)
  while it has any, else the configuration file's (`service_state.base_config`); see
  `appliance/web_lines.py`. Lines their configuration disables (`enabled = false`) are
  never built by the service: they are listed as such, without controls (409
  `error.line_disabled_in_config`). Lines in force that the service never reported are
  listed without a state; AT tests are accepted for them (a line just added), and the
  service answers once the line is up.
- An AT test is one command from `appliance.line_admin.AT_TEST_COMMANDS`, a fixed list
  of read-only queries (anything else: 422, and the service refuses it too): a test can
  never dial or switch the radio off. The service runs it only on an idle line and
  answers `not_ready` otherwise. The page's form waits on the server for the answer (up
  to a few seconds, no script needed) and shows each line's latest test; the API gives
  the request at once and `GET /api/lines/requests/{id}` to poll.
- Every enable, disable and test is audited (`lines.enable`, `lines.disable`,
  `lines.at_test`) with the state before and the change after.

The web UI never imports the line code (it drives modems); the line states are the
contract's words (`web_ui.console.service.STATE_TONES`, checked against the service's).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, StrictBool

from appliance.line_admin import AT_TEST_COMMANDS
from appliance.model import CALL_STATES
from appliance.store import requests as request_store
from appliance.store import status as status_store
from appliance.store.requests import add_at_test, set_line_enabled
from appliance.web_lines import stored_rows
from web_ui.console.service import STATE_TONES, degraded_list
from web_ui.core.db import transaction
from web_ui.core.models import InputModel
from web_ui.users import audit
from web_ui.users.audit import Actor
from web_ui.users.service import UserError

logger = logging.getLogger(__name__)

REGISTRATIONS: tuple[str, ...] = ("home", "roaming", "searching", "denied", "idle", "unknown")
CSQ_MAX = 31  # +CSQ: 0-31, 99 = not known
NOT_ANSWERING_S = 8.0  # a test not done after this: the line service is not running
TEST_SHOWN_S = 3600.0  # a line's latest test stays on the page this long
LINE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"  # as appliance.config.LineConfig.name

RequestStatus = Literal["pending", "done", "not_answering"]


class LinesError(UserError):
    """A lines page request that cannot be carried out; `code` is a message key."""


class LineEnabledUpdate(InputModel):
    """`PUT /api/lines/{line}/enabled`: take the line out of service, or back in."""

    enabled: StrictBool


class AtTestCreate(InputModel):
    """`POST /api/lines/{line}/test`: one read-only AT command from the fixed list."""

    command: str = Field(max_length=16, json_schema_extra={"enum": list(AT_TEST_COMMANDS)})


class LineRequestPublic(BaseModel):
    """An AT test; `result` is null until the line service has carried it out."""

    id: int
    kind: str
    line: str
    command: str | None
    requested_by: str
    requested_ts: float
    requested_at: datetime
    done_ts: float | None
    done_at: datetime | None
    result: str | None
    answer: str | None
    status: RequestStatus


class LineListed(BaseModel):
    """A line as the page and the API show it (times in the site's zone).

    `state` is null for a line the configuration lists but the service never reported.
    `signal` is the modem's raw CSQ (0-31, 99 unknown), also given as dBm and percent.
    `enabled` is the technician's choice; `disabled_in_config` lines cannot be changed.
    """

    line: str
    state: str | None
    tone: str
    since_ts: float | None
    since_at: datetime | None
    desk: str | None
    family: str | None
    model: str | None
    imei: str | None
    signal: int | None
    signal_dbm: int | None
    signal_percent: int | None
    registration: str | None
    last_error: str | None
    degraded: list[str]  # no_caller_id, no_key_detection, no_voice_port
    holds_call: bool
    enabled: bool
    enabled_by: str | None
    enabled_changed_ts: float | None
    enabled_changed_at: datetime | None
    disabled_in_config: bool
    latest_test: LineRequestPublic | None


@dataclass(frozen=True)
class ConfiguredLine:
    """A line of the configuration file the service runs on."""

    name: str
    enabled: bool


# ------------------------------------------------------------------ reading


def _local(ts: float | None, zone: ZoneInfo) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(float(ts), zone)


def signal_dbm(csq: int | None) -> int | None:
    """CSQ as dBm (27.007: 0 is -113 dBm or less, each step 2 dB); None when unknown."""
    if csq is None or not 0 <= csq <= CSQ_MAX:
        return None
    return -113 + 2 * csq


def signal_percent(csq: int | None) -> int | None:
    """CSQ as a percentage of the best reading (31); None when unknown."""
    if csq is None or not 0 <= csq <= CSQ_MAX:
        return None
    return round(100 * csq / CSQ_MAX)


def configured_lines(conn: sqlite3.Connection) -> dict[str, ConfiguredLine]:
    """The lines in force: the lines page's (`web_lines`) while it has any, else those of
    the configuration file the service last started on (none if unknown)."""
    stored = stored_rows(conn)
    if stored:
        return {name: _stored_line(name, str(row["config"])) for name, row in stored.items()}
    base = status_store.base_config(conn)
    if base is None:
        return {}
    try:
        config = json.loads(base)
        entries = config.get("lines") or []
        found = {
            str(entry["name"]): ConfiguredLine(str(entry["name"]), bool(entry.get("enabled", True)))
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("name"), str)
        }
    except (ValueError, AttributeError, TypeError):
        logger.warning("service_state.base_config is not a configuration: lines not shown")
        return {}
    return found


def _stored_line(name: str, text: str) -> ConfiguredLine:
    try:
        enabled = json.loads(text).get("enabled", True)
    except (ValueError, AttributeError):
        enabled = True  # the service refuses such a row; the page shows the line anyway
    return ConfiguredLine(name, bool(enabled))


def _status_rows(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {str(row["line"]): row for row in status_store.line_statuses(conn)}


def request_public(row: sqlite3.Row, zone: ZoneInfo, now_ts: float) -> LineRequestPublic:
    """A `line_requests` row as the API shows it; `status` says if the service answers."""
    requested_ts = float(row["requested_ts"])
    status: RequestStatus
    if row["result"] is not None:
        status = "done"
    elif now_ts - requested_ts >= NOT_ANSWERING_S:
        status = "not_answering"
    else:
        status = "pending"
    done_ts = row["done_ts"]
    requested_at = _local(requested_ts, zone)
    assert requested_at is not None
    return LineRequestPublic(
        id=int(row["id"]),
        kind=str(row["kind"]),
        line=str(row["line"]),
        command=row["command"],
        requested_by=str(row["requested_by"]),
        requested_ts=requested_ts,
        requested_at=requested_at,
        done_ts=None if done_ts is None else float(done_ts),
        done_at=_local(done_ts, zone),
        result=row["result"],
        answer=row["answer"],
        status=status,
    )


def _latest_tests(
    conn: sqlite3.Connection, zone: ZoneInfo, now_ts: float
) -> dict[str, LineRequestPublic]:
    """Each line's latest test of the last hour (the newest row per line wins)."""
    rows = request_store.line_requests_since(conn, now_ts - TEST_SHOWN_S)
    return {str(row["line"]): request_public(row, zone, now_ts) for row in rows}


def _listed(
    name: str,
    status: sqlite3.Row | None,
    admin: sqlite3.Row | None,
    configured: ConfiguredLine | None,
    latest: LineRequestPublic | None,
    zone: ZoneInfo,
) -> LineListed:
    def field(column: str) -> Any:
        return None if status is None else status[column]

    state = None if status is None else str(status["state"])
    csq = field("signal")
    changed_ts = None if admin is None else float(admin["updated_ts"])
    return LineListed(
        line=name,
        state=state,
        tone=STATE_TONES.get(state or "", "quiet"),
        since_ts=field("since_ts"),
        since_at=_local(field("since_ts"), zone),
        desk=field("desk"),
        family=field("family"),
        model=field("model"),
        imei=field("imei"),
        signal=csq,
        signal_dbm=signal_dbm(csq),
        signal_percent=signal_percent(csq),
        registration=field("registration"),
        last_error=field("last_error"),
        degraded=degraded_list(field("degraded")),
        holds_call=state in CALL_STATES,
        enabled=admin is None or bool(admin["enabled"]),
        enabled_by=None if admin is None else str(admin["updated_by"]),
        enabled_changed_ts=changed_ts,
        enabled_changed_at=_local(changed_ts, zone),
        disabled_in_config=configured is not None and not configured.enabled,
        latest_test=latest,
    )


def list_lines(
    conn: sqlite3.Connection, zone: ZoneInfo, now_ts: float | None = None
) -> list[LineListed]:
    """Every line the service reported or the configuration file lists, by name."""
    now = time.time() if now_ts is None else now_ts
    statuses, admins = _status_rows(conn), status_store.line_choices(conn)
    configured, latest = configured_lines(conn), _latest_tests(conn, zone, now)
    names = sorted(set(statuses) | set(configured))
    return [
        _listed(
            name,
            statuses.get(name),
            admins.get(name),
            configured.get(name),
            latest.get(name),
            zone,
        )
        for name in names
    ]


def get_line(conn: sqlite3.Connection, name: str, zone: ZoneInfo) -> LineListed | None:
    """One line (as in `list_lines`), or None if neither the service nor the file knows it."""
    return next((line for line in list_lines(conn, zone) if line.line == name), None)


def get_request(
    conn: sqlite3.Connection, request_id: int, zone: ZoneInfo, now_ts: float | None = None
) -> LineRequestPublic | None:
    """One AT test by id."""
    row = request_store.line_request(conn, request_id)
    if row is None:
        return None
    return request_public(row, zone, time.time() if now_ts is None else now_ts)


# ------------------------------------------------------------------ changes


def _known(conn: sqlite3.Connection, name: str, zone: ZoneInfo) -> LineListed:
    line = get_line(conn, name, zone)
    if line is None:
        raise LinesError("error.line_not_found", status=404)
    if line.disabled_in_config:
        raise LinesError("error.line_disabled_in_config", status=409)
    return line


def _summary(line: LineListed) -> dict[str, Any]:
    return {"enabled": line.enabled, "state": line.state}


def set_enabled(
    conn: sqlite3.Connection, actor: Actor, name: str, enabled: bool, zone: ZoneInfo
) -> LineListed:
    """Take a line out of service or put it back (an unchanged choice writes nothing).

    409 when disabling a line that holds a call, or one the configuration file disables.
    """
    now_ts = time.time()
    with transaction(conn):
        line = _known(conn, name, zone)
        if line.enabled == enabled:
            return line
        if not enabled and line.holds_call:
            raise LinesError("error.line_in_call", status=409)
        set_line_enabled(conn, line=name, enabled=enabled, by=actor.name, ts=now_ts, zone=zone)
        audit.record(
            conn,
            actor,
            "lines.enable" if enabled else "lines.disable",
            target=f"line:{name}",
            before=_summary(line),
            after={"enabled": enabled},
            zone=zone,
            now_ts=now_ts,
        )
    logger.info("line %s %s by %s", name, "enabled" if enabled else "disabled", actor.name)
    changed = get_line(conn, name, zone)
    assert changed is not None
    return changed


def request_test(
    conn: sqlite3.Connection, actor: Actor, name: str, command: str, zone: ZoneInfo
) -> int:
    """Ask the line service to send `command` (from the fixed list) on the line; its id."""
    if command not in AT_TEST_COMMANDS:
        raise LinesError("error.at_command_not_allowed", status=422)
    now_ts = time.time()
    with transaction(conn):
        line = _known(conn, name, zone)
        request_id = add_at_test(
            conn, line=name, command=command, by=actor.name, ts=now_ts, zone=zone
        )
        audit.record(
            conn,
            actor,
            "lines.at_test",
            target=f"line:{name}",
            before=_summary(line),
            after={"request_id": request_id, "command": command},
            zone=zone,
            now_ts=now_ts,
        )
    return request_id


def wait_for_result(
    conn: sqlite3.Connection,
    request_id: int,
    zone: ZoneInfo,
    timeout_s: float,
    interval_s: float = 0.1,
) -> LineRequestPublic | None:
    """Poll the request until the service has filled its result or `timeout_s` passed.

    For the page's form (run on a worker thread: it sleeps); the connection is in
    autocommit mode, so each read sees the service's latest commit.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = get_request(conn, request_id, zone)
        if found is None or found.result is not None or time.monotonic() >= deadline:
            return found
        time.sleep(interval_s)
