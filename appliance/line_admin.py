"""The line service's side of the web UI's lines page: technicians' choices and tests in.

Like the operator console (`appliance/desk.py`), the web UI is another process and the
two meet only in the database (migration `0013_service_and_line_admin`). The service's
`RequestPoller` (`appliance/request_poller.py`) polls `line_requests` for `LineAdmin` on
a read-only connection, which first reads `line_admin` and `web_lines` on it at every
poll; `LineAdmin` writes nothing itself: results go through the call log's single
writer, and it changes the running lines only through the `LineSupervisor`.

- `line_admin` (line, enabled 0/1, who, when) is a technician's choice per line, kept
  across restarts of either process. A disabled line is taken out of service: the
  service stops that `Line`, which closes its serial port (a technician can swap the SIM
  or the modem), rests in `LineState.DISABLED` (published to `line_status` as
  `disabled`; a short-flash LED on the board) and neither reconnects nor climbs the
  recovery ladder, so it raises no alarms. Enabling it starts the line again. The choice
  is applied at start, before any port is opened (`apply_at_start`), and polled every
  `LINE_ADMIN_POLL_S` while the service runs. A line with no row is as its configuration
  says; lines disabled in the configuration file are never built and are not affected.
- A call in progress is never cut: a disable that finds the line holding a call (from
  the first ring to the operator's hang-up) waits, and is applied at the first poll
  that finds the line free. The web UI also refuses, with 409, to disable a line its
  `line_status` shows in a call; this wait covers the call that rings in between.
- `line_requests` of kind `at_test` carry one AT command, which must be one of
  `AT_TEST_COMMANDS`, fixed read-only queries (anything else is `refused`: a test must
  never dial, hang up or switch the radio off). It is sent on the line's own AT channel
  only while the line is idle (else `not_ready`, as for a disabled line), with a
  `AT_TEST_TIMEOUT_S` timeout; `done_ts`, `result` (`ok`, `error`, `no_such_line`,
  `not_ready`, `refused`, `expired`) and `answer` (the reply lines, newline-joined, at
  most `ANSWER_MAX_CHARS`) are filled in. Requests found pending at start that are
  older than `STALE_REQUEST_S` are `expired`: nobody is waiting for them any more.

- `web_lines` (migration `0020_web_lines`) holds the lines a technician configured on the
  page; while it has any they are the lines in force, else the file's
  (`appliance/web_lines.py` has the rule). With `lines_from_database` (`siaga run`) the
  service reads them at start, and each poll that finds `web_lines_version` changed
  brings the running lines in step (`LineSupervisor.apply_lines`): a new line starts, a
  removed one stops, a changed one restarts; only those, and only when they hold no
  call: one in a call is dealt with at the first poll that finds it free, like a
  disable. Each applied set is a `lines_change` event (the version, the source, the
  lines in force and those still waiting), which the page reads to say whether its
  change is in force. A set the table holds but `LineConfig`/`Config` refuse (a
  hand-edited row) is logged as an ALARM and the lines in force stay.

Fail open: a locked or broken database is logged and the poll tried again later; nothing
here raises into the lines or stalls screening.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from appliance.clock import Clock
from appliance.line_supervisor import LineSupervisor
from appliance.request_poller import Outcome, RequestTable
from appliance.store import CallLog, open_readonly
from appliance.store.status import line_choices
from appliance.web_lines import LinesInForce, in_force, read_stored, stored_version

logger = logging.getLogger(__name__)

LINE_ADMIN_POLL_S = 1.0
# The AT commands a technician may send from the lines page: read-only queries only.
AT_TEST_COMMANDS: tuple[str, ...] = (
    "AT",  # does the modem answer at all
    "ATI",  # identification
    "AT+CGMR",  # firmware revision
    "AT+CGSN",  # IMEI
    "AT+CPIN?",  # SIM status
    "AT+CCID",  # SIM serial (ICCID); some firmware answers ERROR
    "AT+CIMI",  # subscriber identity (IMSI)
    "AT+CSQ",  # signal quality
    "AT+CREG?",  # network registration
    "AT+COPS?",  # the network operator
    "AT+CCLK?",  # the module's clock (set by the network)
)
LINE_REQUEST_RESULTS: tuple[str, ...] = (
    "ok",
    "error",
    "no_such_line",
    "not_ready",
    "refused",
    "expired",
)
AT_TEST_TIMEOUT_S = 3.0
ANSWER_MAX_CHARS = 2000
STALE_REQUEST_S = 10.0
LINE_REQUESTS = RequestTable(
    "line_requests", ("kind", "line", "command", "requested_by", "requested_ts"), batch=20
)


@dataclass(frozen=True)
class AdminChoice:
    """A technician's choice for one line (a `line_admin` row)."""

    line: str
    enabled: bool
    updated_by: str


def read_choices(conn: sqlite3.Connection) -> dict[str, AdminChoice]:
    """Every `line_admin` row, by line."""
    return {
        line: AdminChoice(line, bool(row["enabled"]), str(row["updated_by"] or ""))
        for line, row in line_choices(conn).items()
    }


def truncated_answer(lines: tuple[str, ...]) -> str:
    """The reply lines joined with newlines, cut to `ANSWER_MAX_CHARS`."""
    text = "\n".join(lines)
    if len(text) <= ANSWER_MAX_CHARS:
        return text
    return text[: ANSWER_MAX_CHARS - 3] + "..."


class LineAdmin:
    """Applies `line_admin` (and the web UI's lines) to the supervisor's lines, and
    carries out `line_requests` (a `RequestHandler`)."""

    def __init__(
        self,
        supervisor: LineSupervisor,
        db_path: Path,
        *,
        call_log: CallLog,
        clock: Clock,
        lines_from_database: bool = False,
    ) -> None:
        """`supervisor`: the running lines, which it disables, enables and replaces;
        `db_path`: the database read at start (`apply_at_start`); `lines_from_database`:
        the web UI's stored lines are brought in force at every poll."""
        self._supervisor = supervisor
        self._db_path = db_path
        self._call_log = call_log
        self._clock = clock
        self._lines_from_database = lines_from_database
        self._waiting_for_call_end: set[str] = set()  # disables put off by a call
        self._lines_version: int | None = None  # of `web_lines` last read
        self._wanted: LinesInForce | None = None  # the set to bring the lines to
        self._lines_waiting: list[str] | None = None  # lines a call holds back, last told

    def apply_at_start(self) -> int:
        """Before the lines open their ports: take the disabled ones out of service.

        Returns how many were disabled; a database error is logged and leaves every line
        enabled (the poll applies the choices once the database answers).
        """
        try:
            conn = open_readonly(self._db_path)
            try:
                choices = read_choices(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            logger.warning("line admin: cannot read line_admin at start: %s", exc)
            return 0
        disabled = 0
        for name, choice in choices.items():
            line = self._supervisor.lines.get(name)
            if line is not None and not choice.enabled and not line.disabled:
                logger.warning("line %s is disabled by %s (web UI)", name, choice.updated_by)
                line.take_out_of_service()
                disabled += 1
        return disabled

    # ------------------------------------------------------------------ RequestHandler

    def stale(self, row: sqlite3.Row) -> bool:
        """At start: tests left from before `STALE_REQUEST_S` have nobody waiting."""
        return float(row["requested_ts"]) < self._clock.timestamp() - STALE_REQUEST_S

    async def before_requests(self, conn: sqlite3.Connection) -> None:
        """Each poll, before the tests: the lines in force, then the choices."""
        if self._lines_from_database:
            await self.apply_lines(conn)
        await self.apply_choices(conn)

    async def carry_out(self, row: sqlite3.Row, conn: sqlite3.Connection) -> Outcome:
        """Send a test's AT command on its line, if it is one of `AT_TEST_COMMANDS`."""
        name, command = str(row["line"]), row["command"]
        logger.info(
            "line request %d: %s %r on line %s by %s",
            row["id"], row["kind"], command, name, row["requested_by"],
        )  # fmt: skip
        if row["kind"] != "at_test" or command not in AT_TEST_COMMANDS:
            return Outcome("refused")
        line = self._supervisor.lines.get(name)
        if line is None:
            return Outcome("no_such_line")
        answer = await line.query(str(command), AT_TEST_TIMEOUT_S)
        if answer.result == "not_ready":
            return Outcome("not_ready")
        return Outcome(answer.result, truncated_answer(answer.lines))

    def done(self, request_id: int, outcome: Outcome) -> None:
        """Write the test's result and answer (`line_requests`)."""
        self._call_log.line_request_done(
            request_id, outcome.result, outcome.answer, self._clock.timestamp()
        )

    # ------------------------------------------------------------------ enable/disable

    async def apply_choices(self, conn: sqlite3.Connection) -> None:
        """Bring every line in step with its `line_admin` row."""
        choices = _choices(conn)
        for name, line in self._supervisor.lines.items():
            choice = choices.get(name)
            wanted_enabled = choice is None or choice.enabled
            by = choice.updated_by if choice is not None else None
            if wanted_enabled:
                self._waiting_for_call_end.discard(name)
                if line.disabled:
                    self._supervisor.enable_line(name, by=by)
            elif not line.disabled:
                await self._disable(name, by)

    async def _disable(self, name: str, by: str | None) -> None:
        if await self._supervisor.disable_line(name, by=by):
            self._waiting_for_call_end.discard(name)
        elif name not in self._waiting_for_call_end:
            self._waiting_for_call_end.add(name)
            logger.warning("line %s: disabled by %s once its call ends", name, by)

    # ------------------------------------------------------------------ lines in force

    async def apply_lines(self, conn: sqlite3.Connection) -> None:
        """Read `web_lines` if it changed, and bring the running lines in step with it."""
        self._read_lines(conn)
        wanted = self._wanted
        if wanted is None:
            return
        if self._lines_waiting == [] and self._supervisor.in_step(wanted):
            return
        disabled = {name for name, choice in _choices(conn).items() if not choice.enabled}
        waiting = await self._supervisor.apply_lines(wanted, disabled=disabled)
        if waiting != self._lines_waiting:
            self._lines_waiting = waiting
            self._tell(wanted, waiting)

    def _read_lines(self, conn: sqlite3.Connection) -> None:
        try:
            version = stored_version(conn)
            if version == self._lines_version:
                return
            stored = read_stored(conn)
        finally:
            conn.commit()
        self._lines_version = version
        if stored.problems:
            logger.error(
                "ALARM lines from the web UI refused (version %d), keeping the lines in force: %s",
                version, "; ".join(stored.problems),
            )  # fmt: skip
            self._call_log.add_event(
                "lines_refused",
                detail={"version": version, "problems": list(stored.problems)},
                ts=self._clock.timestamp(),
            )
            return
        self._wanted = in_force(self._supervisor.file_lines, stored)
        self._lines_waiting = None  # a new set: tell once it is applied

    def _tell(self, wanted: LinesInForce, waiting: list[str]) -> None:
        names = [line.name for line in wanted.lines]
        detail = {
            "version": self._lines_version,
            "source": wanted.source,
            "lines": names,
            "waiting": waiting,
        }
        if waiting:
            logger.warning("lines: %s wait for their calls to end", ", ".join(waiting))
        else:
            logger.info("lines in force (%s): %s", wanted.source, ", ".join(names))
        self._call_log.add_event("lines_change", detail=detail, ts=self._clock.timestamp())


def _choices(conn: sqlite3.Connection) -> dict[str, AdminChoice]:
    choices = read_choices(conn)
    conn.commit()  # end the read transaction: the next poll sees new rows
    return choices
