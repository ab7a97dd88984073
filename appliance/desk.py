"""The line service's side of the operator console: live line status out, requests in.

The web UI is another process (a crash there never touches screening), so the two talk
through the database (migration 0007): the service writes each line's live status to
`line_status`, through the call log's writer like everything else it writes; operators'
requests (answer, hang up, record a disposition) arrive as rows in `desk_requests`, which
`DeskRequests` polls on a read-only connection, carries out on the lines and marks done.

Requests survive either process restarting: a disposition written while the service is
down is applied at its next start. Answer and hang-up requests found pending at start are
for calls that no longer exist and are marked `expired`; while the service runs it picks
requests up within `poll_s`, so none grows old.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from appliance.clock import Clock
from appliance.config import Config
from appliance.line import ActiveCall, Line
from appliance.model import CallerNumber, LineState, is_valid_disposition
from appliance.numbers import normalise
from appliance.store import CallLog, open_readonly

logger = logging.getLogger(__name__)

DESK_POLL_S = 0.25
_BATCH = 100


def line_status_fields(line: Line, since_ts: float) -> dict[str, Any]:
    """The `line_status` row of `line`: its state, the call it holds, its modem's health."""
    health = line.health
    fields: dict[str, Any] = {
        "state": line.state.value,
        "since_ts": since_ts,
        "desk": line.config.desk,
        "family": health.family,
        "model": health.model,
        "imei": health.imei,
        "signal": health.signal,
        "registration": health.registration,
        "last_error": health.last_error,
        "degraded": ",".join(health.degraded) or None,
    }
    call = line.call
    if call is not None and line.state is not LineState.IDLE:
        fields.update(_call_fields(call))
    return fields


def _call_fields(call: ActiveCall) -> dict[str, Any]:
    caller = call.caller
    decision = call.decision
    return {
        "call_id": call.call_id,
        "caller_raw": caller.raw if caller else (call.caller_id.raw if call.caller_id else None),
        "caller": caller.e164 if caller else None,
        "number_class": caller.number_class.value if caller else None,
        "decision": decision.action.value if decision else None,
        "reason": decision.reason.value if decision else None,
        "rule": decision.rule if decision else None,
        "challenge_result": call.challenge_result.value if call.challenge_result else None,
        "voice_heard": None if call.voice_heard is None else int(call.voice_heard),
        "unverified": int(call.unverified),
        "waiting_since_ts": call.waiting_since_ts,
        "operator": call.operator,
    }


class DeskHost(Protocol):
    """What the desk uses of the line service (`appliance.service.LineService`)."""

    call_log: CallLog
    clock: Clock
    config: Config
    lines: dict[str, Line]

    def record_disposition(
        self,
        call_id: int,
        disposition: str,
        operator: str,
        *,
        caller: CallerNumber | None = None,
        earlier: str | None = None,
    ) -> None: ...


class DeskRequests:
    """Carries out the console's `desk_requests` on the service's lines."""

    def __init__(self, service: DeskHost, db_path: Path) -> None:
        self._service = service
        self._db_path = db_path
        self._conn: sqlite3.Connection | None = None
        self._handled: set[int] = set()  # done, but perhaps not yet committed

    def expire_stale(self) -> int:
        """At start: answer/hang-up requests left from before are for calls long gone."""
        stale = [row for row in self._pending() if row["kind"] in ("answer", "hang_up")]
        for row in stale:
            self._done(int(row["id"]), "expired")
        return len(stale)

    def poll_once(self) -> int:
        """Carry out every pending request once; returns how many were handled."""
        handled = 0
        for row in self._pending():
            request_id = int(row["id"])
            if request_id in self._handled:
                continue
            self._done(request_id, self._carry_out(row))
            handled += 1
        return handled

    async def run(self, interval_s: float = DESK_POLL_S) -> None:
        """Poll until cancelled; a locked or broken database is logged, never fatal."""
        while True:
            try:
                self.poll_once()
            except sqlite3.Error as exc:
                logger.warning("desk requests: %s", exc)
                self.close()
            except Exception:
                logger.exception("desk requests: unexpected error")
            await asyncio.sleep(interval_s)

    def close(self) -> None:
        """Close the read-only connection (it is reopened on the next poll)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ internals

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_readonly(self._db_path)
        return self._conn

    def _pending(self) -> list[sqlite3.Row]:
        conn = self._connection()
        rows = conn.execute(
            "SELECT id, kind, line, call_id, disposition, operator FROM desk_requests"
            " WHERE done_ts IS NULL ORDER BY id LIMIT ?",
            (_BATCH,),
        ).fetchall()
        conn.commit()  # end the read transaction: the next poll sees new rows
        return rows

    def _done(self, request_id: int, result: str) -> None:
        self._handled.add(request_id)
        self._service.call_log.desk_request_done(
            request_id, result, self._service.clock.timestamp()
        )
        if len(self._handled) > 10 * _BATCH:  # committed long ago: forget them
            self._handled = set(sorted(self._handled)[-_BATCH:])

    def _carry_out(self, row: sqlite3.Row) -> str:
        kind, operator = row["kind"], row["operator"] or "operator"
        logger.info(
            "desk request %d: %s line %s call %s by %s", row["id"], kind, row["line"],
            row["call_id"], operator,
        )  # fmt: skip
        if kind == "disposition":
            return self._disposition(row["call_id"], row["disposition"], operator)
        line = self._service.lines.get(row["line"] or "")
        if line is None:
            return "invalid"
        call = line.call
        if call is None or call.call_id != row["call_id"]:
            return "no_such_call"
        if kind == "answer":
            return "ok" if line.operator_answer(operator) else "no_such_call"
        if kind == "hang_up":
            return "ok" if line.operator_hang_up() else "no_such_call"
        return "invalid"

    def _disposition(self, call_id: object, disposition: object, operator: str) -> str:
        if not isinstance(call_id, int) or not isinstance(disposition, str):
            return "invalid"
        # The kinds the console offers: it reads them from the configuration this service
        # published (`service_state.base_config`), so both agree on what an operator may pick.
        if not is_valid_disposition(disposition, self._service.config.site.genuine_kinds):
            return "invalid"
        found = (
            self._connection()
            .execute("SELECT caller_raw, disposition FROM calls WHERE id = ?", (call_id,))
            .fetchone()
        )
        if found is None:
            return "no_such_call"
        caller = normalise(found["caller_raw"], self._service.config.site.region)
        self._service.record_disposition(
            call_id, disposition, operator, caller=caller, earlier=found["disposition"]
        )
        return "ok"
