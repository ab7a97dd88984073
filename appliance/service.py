"""The line service: wires every modem line to the screening policy and the call log.

It is the only writer of the call log. It rebuilds the policy's memory from the log at
start, keeps the rules in the database in force (a rule the CLI, the web UI or `siaga
sync` wrote screens within a second), keeps line occupancy for flood detection, and
offers the operator-side API: answer a waiting call, hang up, record a disposition.

It is made of parts, each handed only what it uses, run under one `asyncio.TaskGroup`:

- `gateway` (`appliance/gateway.py`): what the lines ask of the policy (screen a caller,
  record a challenge, the flood's alarms, the call-back list);
- `supervisor` (`appliance/line_supervisor.py`): the lines themselves, built, run,
  restarted after a crash, disabled, enabled and replaced;
- `recovery` (`appliance/recovery_actions.py`): the recovery ladder's steps a line cannot
  take itself (power key, USB reset);
- `board_wiring` (`appliance/board_wiring.py`): each line on the board (status LED, desk
  lamp, answer button, power key);
- a `RequestPoller` (`appliance/request_poller.py`) per request table the web UI writes:
  the console's (`appliance/desk.py`) and the lines page's (`appliance/line_admin.py`:
  a disabled line lets go of its modem until enabled again; the web UI's lines).

The service itself hears what the lines tell (`LineListener`), publishes their status,
and keeps the rules, the settings and the site's facts in force.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Literal, Protocol

from appliance import package_version
from appliance.board_wiring import BoardWiring
from appliance.clock import Clock
from appliance.cluster.feed import PeerFactFeed, declare_sharing
from appliance.config import Config, ConfigError, LineConfig
from appliance.desk import DESK_POLL_S, DESK_REQUESTS, DeskRequests, line_status_fields
from appliance.gateway import PolicyGateway
from appliance.housekeeping import Housekeeping
from appliance.line import ActiveCall, Line, describe_call
from appliance.line_admin import LINE_ADMIN_POLL_S, LINE_REQUESTS, LineAdmin
from appliance.line_supervisor import LineSupervisor
from appliance.model import (
    CALL_STATES,
    CallerNumber,
    LineState,
    is_well_formed_disposition,
)
from appliance.policy import (
    HistoryRow,
    PolicyState,
    SharedFact,
    flood_reason,
)
from appliance.recovery_actions import RecoveryActions
from appliance.request_poller import RequestPoller
from appliance.settings import (
    config_digest,
    effective_config,
    read_overrides,
    settings_version,
)
from appliance.store import CallLog, RuleStore, open_readonly
from appliance.store import status as status_store
from appliance.store.rules import StoredRules
from appliance.web_lines import lines_at_start
from firmware.board import Board, UsbPortReset, open_board

logger = logging.getLogger(__name__)


def _health_key(line: Line) -> tuple[Any, ...]:
    health = line.health
    return (health.family, health.model, health.imei, health.signal, health.registration,
            health.last_error, health.degraded)  # fmt: skip


RULE_POLL_S = 1.0
FLOOD_TICK_S = 10.0
CLOCK_STEP_S = 5.0  # a wall-clock jump larger than this (in one flood tick) is a step
REPLAY_WINDOW_S = 31 * 86_400.0  # longest memory the policy needs (immunity: 30 days)
RECENT_CALLS_KEPT = 10_000
FROM_CONFIG: Literal["from_config"] = "from_config"  # the board named in `config.board`


class OperatorDesk(Protocol):
    """Who is told about calls that need an operator (simulated operators, the web UI)."""

    def call_started(self, line: Line, call: ActiveCall) -> None:
        """A call started ringing on `line`; its row is not written yet (a simulator
        labels it with its scenario's id here, `call.scenario_ref`)."""
        return None

    def call_waiting(self, line: Line, call: ActiveCall) -> None:
        """A call waits on `line` for an operator."""
        ...

    def call_ended(self, line: Line, call: ActiveCall) -> None:
        """A call on `line` ended."""
        ...

    def call_back_listed(self, caller: CallerNumber, reason: str, ts: float) -> None:
        """A caller went on the call-back list (a desk that calls back may take it)."""
        return None


class LineService:
    """Runs every configured line and the policy they share."""

    def __init__(
        self,
        config: Config,
        *,
        call_log: CallLog,
        rule_store: RuleStore | None,
        clock: Clock,
        lines: Iterable[LineConfig] | None = None,
        health_interval_s: float = 60.0,
        rule_poll_s: float | None = RULE_POLL_S,
        desk_poll_s: float | None = DESK_POLL_S,
        line_admin_poll_s: float | None = None,
        board: Board | Literal["from_config"] | None = FROM_CONFIG,
        usb: UsbPortReset | None = None,
        clock_probe: Callable[[], bool | None] | None = None,
        lines_from_database: bool = False,
    ) -> None:
        """`board`: the board I/O (LEDs, lamps, buttons, power keys); by default the one
        `config.board` names (the service then owns and closes it); None: no board (the
        simulator, which must never touch a Pi's pins). `usb`: the USB port resetter
        (a fake sysfs root in tests). `clock_probe`: says whether the system clock is
        synchronised (`appliance.timesync`); None on a virtual clock. `line_admin_poll_s`:
        how often the lines page's choices and tests are looked for; by default as often
        as `LINE_ADMIN_POLL_S` is to `DESK_POLL_S` (once a second at the desk's default,
        and in real time under the demo's faster clock); never when the desk is not polled
        (the simulator and benchmarks run without the web UI). `lines_from_database`:
        the lines the web UI stores replace `lines` (the file's) while it has any, at
        start and while running (`siaga run`; needs the line admin's polling)."""
        self.config = config  # in force: the file's, with the web UI's settings over it
        self.base_config = config  # the file's
        self._settings_version: int | None = None
        self._restore_marker = 0
        self.restored = False  # the data was restored from a backup while running: restart
        self.clock = clock
        self.call_log = call_log
        self.rule_store = rule_store
        self.policy = PolicyState(config.policy)
        # The site's verdicts, which `siaga sync` keeps in the database ([cluster]), and the
        # call-backs served, this box's own included (a box alone has only those).
        self._peer_facts = PeerFactFeed(call_log.path)
        self.desks: list[OperatorDesk] = []
        self._rule_poll_s = rule_poll_s
        self._desk_poll_s = desk_poll_s
        if line_admin_poll_s is None and desk_poll_s is not None:
            line_admin_poll_s = desk_poll_s * LINE_ADMIN_POLL_S / DESK_POLL_S
        self._line_admin_poll_s = line_admin_poll_s
        self._rule_marker: object = None
        self._state_since: dict[str, float] = {}  # line -> when it entered its state
        self._published_health: dict[str, tuple[Any, ...]] = {}
        self._recent: OrderedDict[int, CallerNumber] = OrderedDict()
        self._verdicts: dict[int, str] = {}  # the latest verdict on each call in `_recent`
        self._stop = asyncio.Event()
        # The running lines: the supervisor's, read by the gateway, housekeeping and board.
        self.lines: dict[str, Line] = {}
        self.housekeeping = Housekeeping(
            config, lines=self.lines, call_log=call_log, clock=clock, clock_probe=clock_probe
        )
        # What the lines ask: screening, the flood's alarms, the call-back list.
        self.gateway = PolicyGateway(
            config,
            self.policy,
            call_log=call_log,
            clock=clock,
            housekeeping=self.housekeeping,
            lines=self.lines,
            desks=self.desks,
        )
        self._owns_board = board == FROM_CONFIG
        if board == FROM_CONFIG:
            board = open_board(config.board.name, config.board.backend)
        self.board: Board | None = board if not isinstance(board, str) else None
        self.board_wiring = BoardWiring(self.board, self.lines) if self.board else None
        self.recovery = RecoveryActions(self.board_wiring, usb or UsbPortReset())
        line_configs = tuple(lines if lines is not None else config.lines)
        # The file's lines: in force unless the web UI's are (appliance/web_lines.py).
        self.supervisor = LineSupervisor(
            config,
            line_configs,
            lines=self.lines,
            screener=self.gateway,
            call_log=call_log,
            listener=self,
            recovery=self.recovery,
            clock=clock,
            health_interval_s=health_interval_s,
        )
        if self.board_wiring is not None:  # given again by `prepare` to the web UI's lines
            self.board_wiring.assign_slots(line_configs)
        self.line_admin = (
            LineAdmin(
                self.supervisor,
                call_log.path,
                call_log=call_log,
                clock=clock,
                lines_from_database=lines_from_database,
            )
            if line_admin_poll_s
            else None
        )
        self.lines_from_database = lines_from_database and self.line_admin is not None

    @property
    def usb(self) -> UsbPortReset:
        """The USB port resetter the recovery ladder's last step uses."""
        return self.recovery.usb

    @usb.setter
    def usb(self, usb: UsbPortReset) -> None:
        self.recovery.usb = usb

    # ----------------------------------------------------------------- lifecycle

    def prepare(self) -> None:
        """Rebuild the policy's memory from the call log and load the rules."""
        now_ts = self.clock.timestamp()
        rows = self.call_log.history_since(now_ts - REPLAY_WINDOW_S)
        shared = self._shared_facts_at_start(now_ts)
        count = self.policy.replay((HistoryRow(**row) for row in rows), now_ts, shared=shared)
        logger.info("policy memory rebuilt from %s call(s) in the log", count)
        if self.policy.flood_active:
            # The box restarted during a flood: the alarm must not be forgotten.
            logger.warning("ALARM flood_on: still in flood mode after a restart")
            self.call_log.add_event(
                "flood_on", detail={"reason": flood_reason("restart")}, ts=now_ts
            )
        self.reload_settings()
        self._restore_marker = self._latest_restore()
        self._record_configuration(now_ts)
        self._publish_service_state(now_ts)
        self.reload_rules()
        self.housekeeping.prepare()
        if self.line_admin is not None:  # before any line opens its port
            if self.lines_from_database:
                wanted = lines_at_start(self.supervisor.file_lines, self.call_log.path)
                if self.supervisor.use_lines_at_start(wanted) and self.board_wiring is not None:
                    self.board_wiring.assign_slots(wanted.lines)  # in their order
            self.line_admin.apply_at_start()

    def _shared_facts_at_start(self, now_ts: float) -> list[SharedFact]:
        """Turn sharing on or off as `[cluster]` says; the site's facts for the replay."""
        declare_sharing(self.call_log.path, self.config.cluster, now_ts)
        facts = self._peer_facts.since(now_ts - REPLAY_WINDOW_S)
        logger.info(
            "%d verdict(s), challenge outcome(s) and call-back(s) served from the site",
            len(facts),
        )
        return facts

    async def _poll_peer_facts(self, feed: PeerFactFeed, interval_s: float) -> None:
        """Fold the site's new verdicts, challenge outcomes and call-backs served (this
        box's own marks included) into the policy."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                for fact in feed.new():
                    self.policy.record_shared_fact(fact)
            except Exception:  # a locked or broken database must not stop the lines
                logger.exception("reading the site's verdicts failed; trying again")

    def _publish_service_state(self, now_ts: float) -> None:
        """The service's row for the web UI: who runs, since when, on which configuration
        file (the base the settings page validates against) and whether a flood is on."""
        self.call_log.set_service_state(
            {
                "pid": os.getpid(),
                "pid_namespace": status_store.pid_namespace(),
                "version": package_version(),
                "started_ts": now_ts,
                "base_config": json.dumps(self.base_config.model_dump(mode="json")),
                "flood_active": int(self.policy.flood_active),
                "heartbeat_ts": now_ts,
            },
            now_ts,
        )

    def _record_configuration(self, now_ts: float) -> None:
        """Log a `config_change` event when the configuration differs from the last run's."""
        settings = self.config.model_dump(mode="json")
        digest = config_digest(self.config)
        last = self.call_log.last_event("config_change")
        if last is not None and last["detail"].get("digest") == digest:
            return
        previous = last["detail"].get("digest") if last else None
        logger.info("configuration %s (previous %s)", digest, previous)
        self.call_log.add_event(
            "config_change",
            detail={"digest": digest, "previous": previous, "settings": settings},
            ts=now_ts,
        )

    async def run(self) -> None:
        """Run every line and the service's pollers until `stop()`, in one task group.

        Each task guards its own faults (a line's modem, a locked database), so a task
        that fails is a bug: the group then stops the others and `run()` raises it, and the
        process exits for systemd to start again, rather than going on with a poller dead
        and nobody told. Lines added or enabled later join the same group."""
        try:
            async with asyncio.TaskGroup() as group:
                self.supervisor.start(group)
                background = [
                    group.create_task(job, name=name) for name, job in self._background_jobs()
                ]
                if self.board_wiring is not None:
                    self.board_wiring.start()
                await self._stop.wait()
                self.supervisor.stop()
                for task in background:
                    task.cancel()
        finally:
            self.supervisor.left_group()
            self._close_board()

    def _background_jobs(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """The service's own loops beside the lines, by name: flood, housekeeping, and the
        pollers of what the web UI and the other boxes change."""
        jobs: list[tuple[str, Coroutine[Any, Any, None]]] = [
            ("flood", self._tick_flood()),
            ("housekeeping", self.housekeeping.run()),
        ]
        if self._rule_poll_s is not None and self.rule_store is not None:
            jobs.append(("rules", self._poll_rules(self._rule_poll_s)))
            jobs.append(("settings", self._poll_settings(self._rule_poll_s)))
        if self._desk_poll_s is not None:
            desk = DeskRequests(
                self.lines,
                record_disposition=self.record_disposition,
                call_log=self.call_log,
                clock=self.clock,
                site=lambda: self.config.site,
            )
            poller = RequestPoller(
                self.call_log.path, DESK_REQUESTS, desk, interval_s=self._desk_poll_s
            )
            jobs.append(("desk", poller.run()))
        if self._rule_poll_s is not None:
            jobs.append(("peer-facts", self._poll_peer_facts(self._peer_facts, self._rule_poll_s)))
        if self.line_admin is not None and self._line_admin_poll_s is not None:
            poller = RequestPoller(
                self.call_log.path,
                LINE_REQUESTS,
                self.line_admin,
                interval_s=self._line_admin_poll_s,
            )
            jobs.append(("line-admin", poller.run()))
        return jobs

    def stop(self) -> None:
        """Ask `run()` to stop."""
        self._stop.set()

    # ----------------------------------------------------------------- rules

    def reload_rules(self) -> int:
        """Screen with the rules in the database (`StoredRules`: the line service holds
        only the set of patterns listed, read again here) and log how many are in force.
        Called at start and whenever the rules changed. Without a rule store, the
        policy's own rules stay."""
        if self.rule_store is None:
            return 0
        if not isinstance(self.policy.allow, StoredRules):
            path, now = self.rule_store.path, self.clock.timestamp
            self.policy.allow = StoredRules(path, "allow", now)
            self.policy.block = StoredRules(path, "block", now)
        for rules in (self.policy.allow, self.policy.block):
            if isinstance(rules, StoredRules):
                rules.refresh()
        allow, block = len(self.policy.allow), len(self.policy.block)
        logger.info("rules in force: %d allow, %d block", allow, block)
        return allow + block

    async def _poll_rules(self, interval_s: float) -> None:
        assert self.rule_store is not None
        self._rule_marker, _ = self.rule_store.changed_since(None)
        while True:
            await asyncio.sleep(interval_s)
            try:
                self._rule_marker, changed = self.rule_store.changed_since(self._rule_marker)
                if changed:
                    self.reload_rules()
            except Exception:  # a locked or broken database must not stop the lines
                logger.exception(
                    "could not read the rules' version; screening reads them as before"
                )

    # ----------------------------------------------------------------- settings

    def reload_settings(self) -> bool:
        """Apply the web UI's settings if they changed; True when new ones were applied.

        Settings that do not validate (they should not reach the table: the web UI checks
        them with the same function) are refused with an error, and the ones in force stay.
        """
        conn = open_readonly(self.call_log.path)
        try:
            version = settings_version(conn)
            if version == self._settings_version:
                return False
            overrides = read_overrides(conn)
        finally:
            conn.close()
        self._settings_version = version
        try:
            config = effective_config(self.base_config, overrides)
        except ConfigError as exc:
            logger.error("settings from the web UI refused, keeping those in force: %s", exc)
            return False
        if config == self.config:
            return False
        self.apply_config(config)
        return True

    def apply_config(self, config: Config) -> None:
        """Put new screening settings in force under running lines, and log the change."""
        self.config = config
        self.gateway.config = config
        self.policy.reconfigure(config.policy)
        self.supervisor.reconfigure(config)
        self.housekeeping.reconfigure(config)
        logger.warning("screening settings changed from the web UI: now in force")
        self._record_configuration(self.clock.timestamp())

    async def _poll_settings(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.reload_settings()
                self._notice_restore()
            except Exception:  # a locked or broken database must not stop the lines
                logger.exception("settings reload failed; keeping the settings in force")

    # ----------------------------------------------------------------- restore

    def _latest_restore(self) -> int:
        """The id of the newest `database_restored` event (the web UI's restore writes
        one into the restored data); 0 when the database was never restored."""
        conn = open_readonly(self.call_log.path)
        try:
            found = conn.execute(
                "SELECT max(id) FROM events WHERE kind = 'database_restored'"
            ).fetchone()
        finally:
            conn.close()
        return int(found[0] or 0)

    def _notice_restore(self) -> None:
        """A restore from a backup replaced the data under the running service: what it
        keeps in memory (the policy's history, SMS caps, the next call id) came from the
        data that is gone, so it stops, to start again on the restored data (systemd's
        Restart=always; `siaga run` exits with status 75 to say so)."""
        latest = self._latest_restore()
        if latest == self._restore_marker:
            return
        logger.warning(
            "ALARM the database was restored from a backup: the line service stops to start "
            "again on the restored data"
        )
        self.restored = True
        self.stop()

    # ----------------------------------------------------------------- SupervisorListener

    def line_state_changed(self, line: Line, old: LineState, new: LineState) -> None:
        """Publish the line's status (the console, the board) and track occupancy (flood
        detection)."""
        if self.board_wiring is not None:
            self.board_wiring.line_state_changed(line, old, new)
        if new is LineState.FAILED:
            self.housekeeping.text_supervisors(
                "line_down", f"line {line.name} is down: {line.health.last_error}", about=line.name
            )
        self._state_since[line.name] = self.clock.timestamp()
        self._publish_status(line)
        if new is LineState.RINGING and line.call is not None:
            for desk in self.desks:
                desk.call_started(line, line.call)
        if (old in SCREENING_STATES) == (new in SCREENING_STATES) and (old in CALL_STATES) == (
            new in CALL_STATES
        ):
            return
        busy = sum(1 for each in self.lines.values() if each.state in CALL_STATES)
        screening = sum(1 for each in self.lines.values() if each.state in SCREENING_STATES)
        out = (LineState.FAILED, LineState.DISABLED)
        available = sum(1 for each in self.lines.values() if each.state not in out)
        now_ts = self.clock.timestamp()
        self.gateway.flood_changes(
            self.policy.record_line_occupancy(busy, max(available, 1), now_ts, screening=screening)
        )

    def call_needs_operator(self, line: Line, call: ActiveCall) -> None:
        """Tell every desk a call is waiting."""
        self._publish_status(line)  # with the waiting time and the unverified flag
        if call.caller is not None:
            self._remember(call.call_id, call.caller)
        for desk in self.desks:
            desk.call_waiting(line, call)

    def call_finished(self, line: Line, call: ActiveCall) -> None:
        """Log the call in one line, list an unserved caller for a call-back and tell
        every desk it ended."""
        logger.info("%s", describe_call(line.name, call))
        if call.caller is not None:
            self._remember(call.call_id, call.caller)
            try:
                self.gateway.call_back_if_unserved(line, call)
            except Exception:
                logger.exception("call %d: the call-back list could not be updated", call.call_id)
        for desk in self.desks:
            desk.call_ended(line, call)

    def caller_missed(self, line: Line, caller: CallerNumber, ts: float) -> None:
        """A caller rang while the line was starting: on the call-back list."""
        try:
            self.gateway.list_for_call_back(caller, line.name, None, "rang_while_starting", {}, ts)
        except Exception:
            logger.exception("line %s: the call-back list could not be updated", line.name)

    def line_alarm(self, line: Line, kind: str, message: str) -> None:
        """A line's alarm (logged and stored by the line): show the line's health now and
        text the supervisors (`sms.alarms` says which kinds)."""
        self._publish_status(line)
        self.housekeeping.text_supervisors(kind, message, about=line.name)

    def line_removed(self, name: str, *, replaced: bool) -> None:
        """The supervisor dropped a line: forget its status, and its row unless a line of
        the same name takes its place."""
        self._published_health.pop(name, None)
        self._state_since.pop(name, None)
        if not replaced:
            self.call_log.forget_line_status(name)

    # ----------------------------------------------------------------- the board

    def _close_board(self) -> None:
        try:
            if self.board_wiring is not None:
                self.board_wiring.close()
            if self.board is not None and self._owns_board:
                self.board.close()
        except Exception:  # a GPIO fault at shutdown must not hide why the service stopped
            logger.exception("board: closing failed")

    # ----------------------------------------------------------------- operator API

    def answer(self, line_name: str, operator: str) -> bool:
        """An operator answers the call waiting on `line_name`."""
        return self.supervisor.answer(line_name, operator)

    def hang_up(self, line_name: str) -> bool:
        """An operator ends the call connected on `line_name`."""
        return self.supervisor.hang_up(line_name)

    def record_disposition(
        self,
        call_id: int,
        disposition: str,
        operator: str,
        *,
        caller: CallerNumber | None = None,
        earlier: str | None = None,
    ) -> None:
        """An operator's verdict on a call: feeds the policy and the call log.

        `caller` is needed only for calls this process did not see end (the console may
        record a verdict after a restart); calls seen lately are remembered. `earlier` is
        the verdict the call's row holds (the desk reads it), for a verdict recorded
        before a restart; one given since is remembered here.
        """
        # Any well-formed kind: the desk checks the configured ones, while a replayed
        # scenario or a verdict from before a configuration change may name another.
        if not is_well_formed_disposition(disposition):
            raise ValueError(f"unknown disposition {disposition!r}")
        now_ts = self.clock.timestamp()
        caller = self._recent.get(call_id) or caller
        earlier = self._verdicts.get(call_id, earlier)
        if call_id in self._recent:
            self._verdicts[call_id] = disposition
        if caller is not None and earlier != disposition:  # the same again counts once
            before = self._ladder_level(caller, now_ts)
            if earlier is not None:
                # The call keeps its latest verdict (the call log, and so the replay after a
                # restart, hold only that one): the earlier one stops counting here too.
                self.policy.withdraw_disposition(caller, earlier, now_ts)
            self.policy.record_disposition(caller, disposition, now_ts)
            self._flag_for_supervisor(caller, before, now_ts)
            if caller.e164 is not None and self._ladder_level(caller, now_ts) > before:
                self.housekeeping.restriction_entered(caller.e164)  # the SMS warning
        self.call_log.record_disposition(call_id, disposition, operator, now_ts)

    def _ladder_level(self, caller: CallerNumber, now_ts: float) -> int:
        if caller.e164 is None:
            return 0
        status = self.policy.ladder_status(caller.e164, now_ts)
        return status.level if status is not None else 0

    def _flag_for_supervisor(self, caller: CallerNumber, level_before: int, now_ts: float) -> None:
        """A number that climbed onto a flagged ladder step goes on the supervisor's list
        (the centre asks the carrier or Kominfo to act on it): an event and an alarm."""
        if caller.e164 is None:
            return
        status = self.policy.ladder_status(caller.e164, now_ts)
        if status is None or not status.flag_supervisor or status.level <= level_before:
            return
        junk_24h = self.policy.junk_count(caller.e164, now_ts, 86_400.0)
        message = (
            f"{caller.e164} reached ladder level {status.level} "
            f"({junk_24h} prank/ghost calls in 24 h)"
        )
        logger.warning("ALARM supervisor_flag: %s", message)
        self.housekeeping.text_supervisors("supervisor_flag", message, about=caller.e164)
        self.call_log.add_event(
            "supervisor_flag",
            detail={
                "caller": caller.e164,
                "level": status.level,
                "junk_24h": junk_24h,
                "until_ts": status.until,
            },
            ts=now_ts,
        )

    def _publish_status(self, line: Line) -> None:
        now_ts = self.clock.timestamp()
        since_ts = self._state_since.setdefault(line.name, now_ts)
        self.call_log.set_line_status(line.name, line_status_fields(line, since_ts), now_ts)
        self._published_health[line.name] = _health_key(line)

    def publish_changed_health(self) -> None:
        """Publish the lines whose modem health (signal, network, errors) changed."""
        for line in self.lines.values():
            if self._published_health.get(line.name) != _health_key(line):
                self._publish_status(line)
                if self.board_wiring is not None:  # registration lost or back: the LED
                    self.board_wiring.show(line)

    def _remember(self, call_id: int, caller: CallerNumber) -> None:
        self._recent[call_id] = caller
        self._recent.move_to_end(call_id)
        while len(self._recent) > RECENT_CALLS_KEPT:
            forgotten, _ = self._recent.popitem(last=False)
            self._verdicts.pop(forgotten, None)

    # ----------------------------------------------------------------- flood

    async def _tick_flood(self) -> None:
        loop = asyncio.get_running_loop()
        last_wall, last_mono = self.clock.timestamp(), loop.time()
        while True:
            await asyncio.sleep(FLOOD_TICK_S)
            now_ts, mono = self.clock.timestamp(), loop.time()
            self._notice_clock_step((now_ts - last_wall) - (mono - last_mono), now_ts)
            last_wall, last_mono = now_ts, mono
            self.gateway.flood_changes(self.policy.tick(now_ts))
            self.gateway.release_flood_callers(now_ts)
            self.publish_changed_health()
            self.call_log.set_service_state({"heartbeat_ts": now_ts}, now_ts)

    def _notice_clock_step(self, step_s: float, now_ts: float) -> None:
        """The wall clock moved unlike the monotonic one: log it, and restart the timing
        of line saturation so the step is not read as a flood."""
        if abs(step_s) < CLOCK_STEP_S:
            return
        logger.warning("the wall clock stepped by %+.0f s", step_s)
        self.policy.flood.clock_stepped(now_ts)
        self.call_log.add_event("clock_step", detail={"step_s": round(step_s, 1)}, ts=now_ts)


# A line in one of these holds a call no operator has taken yet (flood trunk reservation).
SCREENING_STATES = frozenset(
    {
        LineState.RINGING,
        LineState.SCREENING,
        LineState.REJECTING,
        LineState.ANNOUNCING,
        LineState.CHALLENGING,
    }
)
