"""The line service's side of the operator console: live line status out, requests in.

The web UI is another process (a crash there never touches screening), so the two talk
through the database (migration 0007): the service writes each line's live status to
`line_status`, through the call log's writer like everything else it writes; operators'
requests (answer, hang up, record a disposition) arrive as rows in `desk_requests`, which
the service's `RequestPoller` (`appliance/request_poller.py`) reads on a read-only
connection and hands to `DeskRequests`, which carries them out on the lines and marks
them done.

Requests survive either process restarting: a disposition written while the service is
down is applied at its next start. Answer and hang-up requests found pending at start are
for calls that no longer exist and are marked `expired`; while the service runs it picks
requests up within `DESK_POLL_S`, so none grows old.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from appliance.clock import Clock
from appliance.config import SiteConfig
from appliance.line import ActiveCall, Line
from appliance.model import CallerNumber, LineState, is_valid_disposition
from appliance.numbers import normalise
from appliance.request_poller import Outcome, RequestTable
from appliance.store import CallLog
from appliance.store.queries import call_summary

logger = logging.getLogger(__name__)

DESK_POLL_S = 0.25
DESK_REQUESTS = RequestTable(
    "desk_requests", ("kind", "line", "call_id", "disposition", "operator"), batch=100
)


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


class RecordDisposition(Protocol):
    """The line service's `record_disposition`: an operator's verdict on a call."""

    def __call__(
        self,
        call_id: int,
        disposition: str,
        operator: str,
        *,
        caller: CallerNumber | None = None,
        earlier: str | None = None,
    ) -> None: ...


class DeskRequests:
    """Carries out the console's `desk_requests` on the lines (a `RequestHandler`)."""

    def __init__(
        self,
        lines: Mapping[str, Line],
        *,
        record_disposition: RecordDisposition,
        call_log: CallLog,
        clock: Clock,
        site: Callable[[], SiteConfig],
    ) -> None:
        """`lines`: the running lines by name; `record_disposition`: where a verdict goes
        (the policy and the call log); `site`: the site's settings in force (the kinds
        of genuine call an operator may pick, the region to read numbers in)."""
        self._lines = lines
        self._record_disposition = record_disposition
        self._call_log = call_log
        self._clock = clock
        self._site = site

    def stale(self, row: sqlite3.Row) -> bool:
        """At start: answer/hang-up requests left from before are for calls long gone."""
        return row["kind"] in ("answer", "hang_up")

    async def before_requests(self, conn: sqlite3.Connection) -> None:
        """Nothing to read besides the requests."""
        return None

    async def carry_out(self, row: sqlite3.Row, conn: sqlite3.Connection) -> Outcome:
        """Answer, hang up or record a disposition, as the row asks."""
        return Outcome(self._carry_out(row, conn))

    def done(self, request_id: int, outcome: Outcome) -> None:
        """Write the request's result (`desk_requests.result`)."""
        self._call_log.desk_request_done(request_id, outcome.result, self._clock.timestamp())

    # ------------------------------------------------------------------ internals

    def _carry_out(self, row: sqlite3.Row, conn: sqlite3.Connection) -> str:
        kind, operator = row["kind"], row["operator"] or "operator"
        logger.info(
            "desk request %d: %s line %s call %s by %s", row["id"], kind, row["line"],
            row["call_id"], operator,
        )  # fmt: skip
        if kind == "disposition":
            return self._disposition(conn, row["call_id"], row["disposition"], operator)
        line = self._lines.get(row["line"] or "")
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

    def _disposition(
        self, conn: sqlite3.Connection, call_id: object, disposition: object, operator: str
    ) -> str:
        if not isinstance(call_id, int) or not isinstance(disposition, str):
            return "invalid"
        site = self._site()
        # The kinds the console offers: it reads them from the configuration this service
        # published (`service_state.base_config`), so both agree on what an operator may pick.
        if not is_valid_disposition(disposition, site.genuine_kinds):
            return "invalid"
        found = call_summary(conn, call_id)
        if found is None:
            return "no_such_call"
        caller = normalise(found["caller_raw"], site.region)
        self._record_disposition(
            call_id, disposition, operator, caller=caller, earlier=found["disposition"]
        )
        return "ok"
