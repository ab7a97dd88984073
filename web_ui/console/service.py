"""The operator console's data: every line live, a waiting caller's history, desk requests.

The line service is another process; the two talk only through the database (migration
`0007_desk`). The service UPSERTs one `line_status` row per line on every state change and
carries out the rows the console adds to `desk_requests`, filling `done_ts` and `result`.
This module reads `line_status`, `calls` and `dispositions` through the store
(`appliance.store.status`, `appliance.store.queries`; it never writes them), writes
`desk_requests`, and adds block rules, each change in one transaction with its audit row.

A block is added with `appliance.store.rules.add_rule` on the request's connection, inside
this module's transaction, so the audit row commits with the rule or not at all: the same
row, id form and `rule_added` event as `siaga block add` (an exact E.164 pattern, action
`challenge`, an expiry read by `appliance.expiry`), and the `rules_version` trigger tells
the running line service to reload, as for a rule from the CLI. Rules are read through
`appliance.store.rules` too.

The web UI never imports the line code (it drives modems): the line states are the
contract's words, and a test checks them against `appliance.model.LineState`.

**Is the line service alive?** Its `service_state` row carries a heartbeat written every
10 s and its process id. It is running while the heartbeat is at most
`HEARTBEAT_FRESH_S` old (the dashboard's test too); sooner than that, a heartbeat older
than `PID_GONE_AFTER_S` from a process that no longer exists on this machine (killed,
crashed) counts as stopped. The age guard keeps a service in another PID namespace, whose
process the web process cannot see, from ever looking dead while it beats; a service that
recorded the web process's own PID namespace (`pid_namespace`) is asked at any age, so a
killed one is stopped at the console's next look, not 15 s later. A heartbeat
stamped more than `FUTURE_SLACK_S` ahead of this process's clock (the clock stepped back
on the box, or a demo's accelerated clock wrote it) says nothing about when the service
last beat: then only its process decides, running while it still exists. While it is
not running, `line_status` holds only what it last said, and the console says so.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from appliance.expiry import duration_s
from appliance.model import (
    DEFAULT_GENUINE_KINDS,
    JUNK_DISPOSITIONS,
    NEUTRAL_DISPOSITIONS,
    LineState,
    NumberClass,
    is_genuine,
    is_valid_disposition,
)
from appliance.rules import is_rule_pattern
from appliance.store import queries
from appliance.store import requests as request_store
from appliance.store import rules as rule_store
from appliance.store import status as status_store
from appliance.store.requests import DeskRequestKind, add_desk_request
from web_ui.core.db import transaction
from web_ui.core.i18n import format_time
from web_ui.core.kinds import configured_kinds
from web_ui.core.models import (
    CallerHistory,
    ConsoleServicePublic,
    ConsoleSnapshot,
    DeskRequestPublic,
    DispositionPublic,
    LinePublic,
    RecentCall,
    RulePublic,
)
from web_ui.core.wording import error_words
from web_ui.users import audit
from web_ui.users.audit import Actor
from web_ui.users.service import Language, UserError

logger = logging.getLogger(__name__)

# The colour group each line state (`appliance.model.LineState`, the words the line service
# writes to `line_status.state`) is shown in: what an operator must look at (waiting)
# stands out from what they need not.
STATE_TONES: dict[str, str] = {
    LineState.DOWN: "bad",
    LineState.INITIALISING: "quiet",
    LineState.IDLE: "ok",
    LineState.RINGING: "busy",
    LineState.SCREENING: "busy",
    LineState.REJECTING: "busy",
    LineState.ANNOUNCING: "busy",
    LineState.CHALLENGING: "busy",
    LineState.HOLDING: "busy",
    LineState.OPERATOR_RINGING: "waiting",
    LineState.CONNECTED: "live",
    LineState.FAILED: "bad",
    LineState.DISABLED: "quiet",  # a technician took it out of service (the lines page)
}
LINE_STATES: tuple[str, ...] = tuple(state.value for state in LineState)
# What a line that answers may still be unable to do (`line_status.degraded`, written by
# the line service when its modem refuses a setting: appliance.line `_set_degraded`).
DEGRADED_KINDS: tuple[str, ...] = (
    "no_caller_id",
    "no_key_detection",
    "no_voice_port",
    "no_fail_over",
)


def degraded_list(value: object) -> list[str]:
    """`line_status.degraded` ("no_caller_id,no_key_detection") as a list of known kinds."""
    if not value:
        return []
    return [kind for kind in str(value).split(",") if kind in DEGRADED_KINDS]


WAITING = LineState.OPERATOR_RINGING.value
CONNECTED = LineState.CONNECTED.value
REQUEST_RESULTS: tuple[str, ...] = ("ok", "no_such_call", "expired", "invalid")

RECENT_CALL_S = 120.0  # an ended call stays on its line's card this long, to be recorded
DISPOSITION_WINDOW_S = 600.0  # a disposition is accepted this long after the call ended
RECENT_LOOKBACK_S = 3 * 3600.0  # calls that started earlier are not looked at as "recent"
NOT_ANSWERING_S = 5.0  # a request still not picked up after this: the service is down
REQUESTS_SHOWN_S = 120.0  # a user's own requests stay in their snapshot this long
REQUESTS_SCANNED = 50
DISPOSITIONS_SHOWN = 10
DAY_S = 86_400.0
# The console's block buttons, in the expiry grammar every rule uses (`appliance.expiry`).
BLOCK_DURATIONS_S: dict[str, float] = {duration: duration_s(duration) for duration in ("24h", "7d")}
SAME_BLOCK_SLACK_S = 60.0  # a block ending this much earlier still counts as the same one
# Keys the console keeps for itself: A answers, H hangs up.
RESERVED_KEYS = frozenset({"A", "H"})
# Genuine kinds take the digit keys in order; a tenth kind and beyond (a centre may
# configure up to 20) has a button but no key: operators click it.
DIGIT_KEYS = 9


HEARTBEAT_FRESH_S = 30.0  # the line service beats every 10 s: three missed beats
PID_GONE_AFTER_S = 15.0  # a heartbeat this old from a vanished process: stopped
FUTURE_SLACK_S = 5.0  # a heartbeat further ahead than this: the clocks disagree

RowLike = sqlite3.Row | Mapping[str, Any]
RequestStatus = Literal["pending", "done", "not_answering"]


class ConsoleError(UserError):
    """A console request that cannot be carried out; `code` is a message key."""


@dataclass(frozen=True)
class DispositionChoice:
    """One verdict an operator may record, with its keyboard key (None: click only)."""

    value: str
    key: str | None

    @property
    def label_key(self) -> str:
        """Its name in the message catalogue: `disposition.genuine.fire`."""
        return "disposition." + self.value.replace(":", ".")


def disposition_choices(
    kinds: Sequence[str] = DEFAULT_GENUINE_KINDS,
) -> tuple[DispositionChoice, ...]:
    """Every disposition an operator may record: the genuine `kinds` in their order, the
    first nine on keys 1-9 (the rest click only), then the others on a letter.

    Junk first (prank, ghost), then neutral (info, wrong number); a letter is the word's
    first, unless another choice or the console already uses it.
    """
    choices = [
        DispositionChoice(f"genuine:{kind}", str(number) if number <= DIGIT_KEYS else None)
        for number, kind in enumerate(kinds, start=1)
    ]
    taken = set(RESERVED_KEYS)
    for value in sorted(JUNK_DISPOSITIONS) + sorted(NEUTRAL_DISPOSITIONS):
        letter = value[0].upper()
        choices.append(DispositionChoice(value, None if letter in taken else letter))
        taken.add(letter)
    return tuple(choice for choice in choices if is_valid_disposition(choice.value, kinds))


def choices_public(conn: sqlite3.Connection, language: Language) -> list[dict[str, Any]]:
    """The console's buttons for the configured kinds, named in `language`."""
    catalogue = configured_kinds(conn)
    return [
        {
            "value": choice.value,
            "key": choice.key,
            "label": catalogue.disposition_label(choice.value, language),
            "genuine": is_genuine(choice.value),
        }
        for choice in disposition_choices(catalogue.kinds)
    ]


# ------------------------------------------------------------------ the service


def process_exists(pid: int) -> bool:
    """True unless this machine certainly has no process `pid` (signal 0 sends nothing)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM), or we cannot tell: assume it lives
        return True
    return True


def service_running(
    heartbeat_age_s: float | None, pid: int | None, pid_namespace: str | None = None
) -> bool:
    """The line service's liveness from its heartbeat's age, process id and the PID
    namespace it recorded (see above); a negative age is a heartbeat stamped in the
    future."""
    if heartbeat_age_s is None or heartbeat_age_s > HEARTBEAT_FRESH_S:
        return False
    if heartbeat_age_s < -FUTURE_SLACK_S:  # its age means nothing: ask the process
        return pid is not None and process_exists(int(pid))
    if pid is not None and (heartbeat_age_s > PID_GONE_AFTER_S or _seen_from_here(pid_namespace)):
        return process_exists(int(pid))
    return True


def _seen_from_here(pid_namespace: str | None) -> bool:
    """Whether the service's process id names a process of this one's namespace."""
    return pid_namespace is not None and pid_namespace == status_store.pid_namespace()


def service_health(conn: sqlite3.Connection, now_ts: float, zone: ZoneInfo) -> ConsoleServicePublic:
    """Whether the line service runs, and when it was last heard from."""
    row = status_store.service_state(conn)
    if row is None:
        return ConsoleServicePublic(
            running=False, known=False, heartbeat_ts=None, heartbeat_at=None
        )
    heartbeat_ts = None if row["heartbeat_ts"] is None else float(row["heartbeat_ts"])
    age_s = None if heartbeat_ts is None else now_ts - heartbeat_ts  # < 0: in the future
    return ConsoleServicePublic(
        running=service_running(age_s, row["pid"], row["pid_namespace"]),
        known=True,
        heartbeat_ts=heartbeat_ts,
        heartbeat_at=None if heartbeat_ts is None else _local(heartbeat_ts, zone),
    )


# ------------------------------------------------------------------ reading


def _local(ts: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, zone)


def _has_number(caller: str | None, number_class: str | None) -> bool:
    known_class = number_class in (None, NumberClass.NUMBER.value)
    return caller is not None and known_class and is_rule_pattern(caller)


def _history(
    conn: sqlite3.Connection,
    caller: str | None,
    number_class: str | None,
    call_id: int | None,
    now_ts: float,
    zone: ZoneInfo,
    language: Language,
) -> CallerHistory:
    """Earlier calls, verdicts and rules of the number; nothing for a withheld caller."""
    if caller is None or not _has_number(caller, number_class):
        return CallerHistory(available=False)
    calls_30d, calls_24h = queries.caller_call_counts(
        conn,
        caller,
        since_ts=now_ts - 30 * DAY_S,
        recent_since_ts=now_ts - DAY_S,
        except_call_id=call_id or None,
    )
    verdicts = queries.caller_dispositions(conn, caller, DISPOSITIONS_SHOWN)
    return CallerHistory(
        available=True,
        calls_24h=calls_24h,
        calls_30d=calls_30d,
        dispositions=[
            DispositionPublic(
                disposition=str(row["disposition"]),
                operator=row["operator"],
                at=_local(float(row["recorded_ts"]), zone),
                at_text=format_time(float(row["recorded_ts"]), zone, language),
            )
            for row in verdicts
        ],
        rules=active_rules(conn, caller, now_ts, zone, language),
    )


def active_rules(
    conn: sqlite3.Connection, caller: str, now_ts: float, zone: ZoneInfo, language: Language
) -> list[RulePublic]:
    """Allow and block rules in force for `caller` (exact, or a prefix of it)."""
    rows = rule_store.rules_for_number(conn, caller, now_ts)
    return [_rule_public(row, zone, language) for row in rows]


def _rule_public(row: RowLike, zone: ZoneInfo, language: Language) -> RulePublic:
    expires_ts = row["expires_ts"]
    return RulePublic(
        id=str(row["id"]),
        kind=str(row["kind"]),
        pattern=str(row["pattern"]),
        match=str(row["match"]),
        action=str(row["action"]),
        reason=str(row["reason"] or ""),
        created_by=str(row["created_by"] or ""),
        expires_at=None if expires_ts is None else _local(float(expires_ts), zone),
        expires_text=None if expires_ts is None else format_time(expires_ts, zone, language),
    )


def _recent_calls(conn: sqlite3.Connection, now_ts: float) -> dict[str, sqlite3.Row]:
    """Per line, the latest call an operator answered that ended in the last 2 minutes.

    Bounded by `started_ts` (indexed): the query stays instant over millions of calls.
    """
    rows = queries.recently_answered(
        conn,
        started_since_ts=now_ts - RECENT_LOOKBACK_S,
        ended_since_ts=now_ts - RECENT_CALL_S,
    )
    return {str(row["line"]): row for row in rows}  # the latest per line wins


def _recent_call(row: sqlite3.Row, zone: ZoneInfo) -> RecentCall:
    ended_ts = float(row["ended_ts"])
    return RecentCall(
        call_id=int(row["id"]),
        caller_raw=row["caller_raw"],
        caller=row["caller"],
        number_class=row["number_class"],
        ended_ts=ended_ts,
        ended_at=_local(ended_ts, zone),
        disposition=row["disposition"],
        operator=row["operator"],
    )


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _line_public(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    recent: sqlite3.Row | None,
    now_ts: float,
    zone: ZoneInfo,
    language: Language,
) -> LinePublic:
    state = str(row["state"])
    call_id = None if row["call_id"] is None else int(row["call_id"])
    holds_call = state in (WAITING, CONNECTED) and call_id is not None
    history = None
    if holds_call:
        history = _history(
            conn, row["caller"], row["number_class"], call_id, now_ts, zone, language
        )
    ended = None
    if recent is not None and int(recent["id"]) != call_id:
        ended = _recent_call(recent, zone)
    since_ts = float(row["since_ts"])
    return LinePublic(
        line=str(row["line"]),
        state=state,
        tone=STATE_TONES.get(state, "quiet"),
        since_ts=since_ts,
        since_at=_local(since_ts, zone),
        call_id=call_id,
        caller_raw=row["caller_raw"],
        caller=row["caller"],
        number_class=row["number_class"],
        decision=row["decision"],
        reason=row["reason"],
        rule=row["rule"],
        challenge_result=row["challenge_result"],
        voice_heard=_flag(row["voice_heard"]),
        unverified=bool(row["unverified"]),
        waiting_since_ts=row["waiting_since_ts"],
        operator=row["operator"],
        desk=row["desk"],
        signal=row["signal"],
        registration=row["registration"],
        last_error=row["last_error"],
        last_error_text=_error_text(row["last_error"], language),
        degraded=degraded_list(row["degraded"]),
        updated_ts=float(row["updated_ts"]),
        history=history,
        recent_call=ended,
    )


def _error_text(last_error: str | None, language: Language) -> str | None:
    """A line's last error in words (`web_ui.core.wording`), None for none."""
    return error_words(last_error, language).sentence if last_error else None


def request_public(row: RowLike, zone: ZoneInfo, now_ts: float) -> DeskRequestPublic:
    """A desk request as the API shows it; `status` says whether the service is answering."""
    requested_ts = float(row["requested_ts"])
    status: RequestStatus
    if row["result"] is not None:
        status = "done"
    elif now_ts - requested_ts >= NOT_ANSWERING_S:
        status = "not_answering"
    else:
        status = "pending"
    done_ts = row["done_ts"]
    return DeskRequestPublic(
        id=int(row["id"]),
        kind=str(row["kind"]),
        line=row["line"],
        call_id=row["call_id"],
        disposition=row["disposition"],
        operator=str(row["operator"]),
        requested_ts=requested_ts,
        requested_at=_local(requested_ts, zone),
        done_ts=done_ts,
        done_at=None if done_ts is None else _local(float(done_ts), zone),
        result=row["result"],
        status=status,
    )


def _my_requests(
    conn: sqlite3.Connection, username: str, now_ts: float, zone: ZoneInfo
) -> list[DeskRequestPublic]:
    # The newest rows by id (the primary key), so the scan is bounded however many exist.
    rows = request_store.recent_desk_requests(conn, REQUESTS_SCANNED)
    mine = [
        row
        for row in rows
        if row["operator"] == username and float(row["requested_ts"]) >= now_ts - REQUESTS_SHOWN_S
    ]
    return [request_public(row, zone, now_ts) for row in reversed(mine)]


def snapshot(
    conn: sqlite3.Connection,
    *,
    username: str,
    zone: ZoneInfo,
    language: Language,
    now_ts: float | None = None,
) -> ConsoleSnapshot:
    """Everything the console shows, for one user (their own recent requests included)."""
    now = time.time() if now_ts is None else now_ts
    recent = _recent_calls(conn, now)
    lines = [
        _line_public(conn, row, recent.get(str(row["line"])), now, zone, language)
        for row in status_store.line_statuses(conn)
    ]
    return ConsoleSnapshot(
        now_ts=now,
        service=service_health(conn, now, zone),
        lines=lines,
        requests=_my_requests(conn, username, now, zone),
    )


def get_request(conn: sqlite3.Connection, request_id: int) -> sqlite3.Row | None:
    """One desk request by id."""
    return request_store.desk_request(conn, request_id)


def change_marker(conn: sqlite3.Connection) -> int:
    """A number that changes whenever another connection commits to the database."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


# ------------------------------------------------------------------ requests


def _status_summary(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "state": row["state"],
        "call_id": row["call_id"],
        "caller": row["caller"],
        "caller_raw": row["caller_raw"],
    }


def _known_line(conn: sqlite3.Connection, line: str) -> sqlite3.Row:
    row = status_store.line_status(conn, line)
    if row is None:
        raise ConsoleError("error.unknown_line", status=422)
    return row


def _pending_twin(conn: sqlite3.Connection, kind: str, call_id: int, now_ts: float) -> int | None:
    """A request of the same kind for the same call still waiting (a double click)."""
    return request_store.pending_desk_request(
        conn, kind=kind, call_id=call_id, since_ts=now_ts - NOT_ANSWERING_S
    )


def _after(request_id: int, kind: str, line: str, call_id: int, **extra: Any) -> dict[str, Any]:
    return {"request_id": request_id, "kind": kind, "line": line, "call_id": call_id, **extra}


def _call_request(
    conn: sqlite3.Connection,
    actor: Actor,
    kind: DeskRequestKind,
    line: str,
    call_id: int,
    zone: ZoneInfo,
    *,
    needs_state: str,
    refusal: str,
) -> int:
    """A request about the call `line` holds in `needs_state` (a double click: the first)."""
    now_ts = time.time()
    with transaction(conn):
        status = _known_line(conn, line)
        if status["state"] != needs_state or status["call_id"] != call_id:
            raise ConsoleError(refusal, status=409)
        twin = _pending_twin(conn, kind, call_id, now_ts)
        if twin is not None:
            return twin
        request_id = add_desk_request(
            conn, kind=kind, line=line, call_id=call_id, disposition=None, operator=actor.name,
            ts=now_ts, zone=zone,
        )  # fmt: skip
        audit.record(
            conn,
            actor,
            f"console.{kind}",
            target=f"line:{line}",
            before=_status_summary(status),
            after=_after(request_id, kind, line, call_id),
            zone=zone,
            now_ts=now_ts,
        )
    return request_id


def request_answer(
    conn: sqlite3.Connection, actor: Actor, line: str, call_id: int, zone: ZoneInfo
) -> int:
    """Ask the line service to put the call waiting on `line` through to this operator."""
    return _call_request(
        conn,
        actor,
        "answer",
        line,
        call_id,
        zone,
        needs_state=WAITING,
        refusal="error.call_not_waiting",
    )


def request_hang_up(
    conn: sqlite3.Connection, actor: Actor, line: str, call_id: int, zone: ZoneInfo
) -> int:
    """Ask the line service to end the connected call on `line`."""
    return _call_request(
        conn,
        actor,
        "hang_up",
        line,
        call_id,
        zone,
        needs_state=CONNECTED,
        refusal="error.call_not_connected",
    )


def _recordable(
    status: sqlite3.Row, call: sqlite3.Row | None, line: str, call_id: int, now_ts: float
) -> bool:
    """The call connected on `line` now, or one an operator took there that ended lately."""
    if status["state"] == CONNECTED and status["call_id"] == call_id:
        return True
    if call is None or call["line"] != line:
        return False
    answered = bool(call["reached_operator"]) or call["operator_ts"] is not None
    ended_ts = call["ended_ts"]
    if ended_ts is None:  # still going, or the service stopped before it could say
        return answered and float(call["started_ts"] or 0) >= now_ts - RECENT_LOOKBACK_S
    return answered and float(ended_ts) >= now_ts - DISPOSITION_WINDOW_S


def request_disposition(
    conn: sqlite3.Connection,
    actor: Actor,
    line: str,
    call_id: int,
    disposition: str,
    zone: ZoneInfo,
) -> int:
    """Record the operator's verdict on a call taken on `line` (the service applies it)."""
    if not is_valid_disposition(disposition, configured_kinds(conn).kinds):
        raise ConsoleError("error.bad_disposition", status=422)
    now_ts = time.time()
    with transaction(conn):
        status = _known_line(conn, line)
        call = queries.call_summary(conn, call_id)
        if not _recordable(status, call, line, call_id, now_ts):
            raise ConsoleError("error.call_not_recordable", status=409)
        request_id = add_desk_request(
            conn, kind="disposition", line=line, call_id=call_id, disposition=disposition,
            operator=actor.name, ts=now_ts, zone=zone,
        )  # fmt: skip
        audit.record(
            conn,
            actor,
            "console.disposition",
            target=f"call:{call_id}",
            before={"disposition": None if call is None else call["disposition"]},
            after=_after(request_id, "disposition", line, call_id, disposition=disposition),
            zone=zone,
            now_ts=now_ts,
        )
    return request_id


# ------------------------------------------------------------------ blocks


@dataclass(frozen=True)
class BlockOutcome:
    """The rule a console block made (or the one already in force), and if it is new."""

    rule: RulePublic
    created: bool


def _number_of_call(
    conn: sqlite3.Connection, status: sqlite3.Row, line: str, call_id: int, now_ts: float
) -> tuple[str | None, str | None]:
    """(caller E.164, number class) of the call on `line` now or lately; 409 if none."""
    if status["call_id"] == call_id:
        return status["caller"], status["number_class"]
    call = queries.call_summary(conn, call_id)
    recent = call is not None and float(call["started_ts"] or 0) >= now_ts - RECENT_LOOKBACK_S
    if call is None or call["line"] != line or not recent:
        raise ConsoleError("error.call_not_on_line", status=409)
    return call["caller"], call["number_class"]


def _block_reason(conn: sqlite3.Connection, call_id: int) -> str:
    """`console: <the call's latest disposition>`, or `console: supervisor` without one."""
    row = request_store.latest_disposition_request(conn, call_id)
    if row is None:
        row = queries.call_summary(conn, call_id)
    disposition = None if row is None else row["disposition"]
    return f"console: {disposition or 'supervisor'}"


def _block_rule(
    caller: str, reason: str, by: str, now_ts: float, expires_ts: float
) -> dict[str, Any]:
    """What `appliance.store.rules.add_rule` is given for a console block."""
    return {
        "kind": "block",
        "pattern": caller,
        "match": "exact",
        "action": "challenge",
        "reason": reason,
        "created_by": by,
        "created_ts": now_ts,
        "expires_ts": expires_ts,
    }


def block_number(
    conn: sqlite3.Connection,
    actor: Actor,
    line: str,
    call_id: int,
    duration: str,
    zone: ZoneInfo,
    language: Language,
) -> BlockOutcome:
    """Challenge the caller of a call on `line` for 24 hours or 7 days (supervisors)."""
    if duration not in BLOCK_DURATIONS_S:
        raise ConsoleError("error.bad_duration", status=422)
    now_ts = time.time()
    expires_ts = now_ts + BLOCK_DURATIONS_S[duration]
    with transaction(conn):
        status = _known_line(conn, line)
        caller, number_class = _number_of_call(conn, status, line, call_id, now_ts)
        if caller is None or not _has_number(caller, number_class):
            raise ConsoleError("error.no_number", status=422)
        # An exact block already in force at least as long: a second click adds nothing.
        existing = rule_store.exact_block_until(conn, caller, expires_ts - SAME_BLOCK_SLACK_S)
        if existing is not None:
            return BlockOutcome(_rule_public(existing, zone, language), created=False)
        before = [
            rule.model_dump(mode="json")
            for rule in active_rules(conn, caller, now_ts, zone, language)
        ]
        wanted = _block_rule(caller, _block_reason(conn, call_id), actor.name, now_ts, expires_ts)
        # A shorter block in force stays: the longer one is laid over it (the newest wins).
        row = rule_store.add_rule(conn, wanted, zone, refuse_identical=False)
        audit.record(
            conn,
            actor,
            "console.block",
            target=caller,
            before={"rules": before},
            after={**row, "line": line, "call_id": call_id, "duration": duration},
            zone=zone,
            now_ts=now_ts,
        )
    logger.info(
        "rule %s added by %s from the console: block %s for %s",
        row["id"],
        actor.name,
        caller,
        duration,
    )
    return BlockOutcome(_rule_public(row, zone, language), created=True)
