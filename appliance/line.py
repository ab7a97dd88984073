"""One GSM line: its call state machine, from RING to the call-log row.

A `Line` owns one modem through an `ATChannel`. It connects and initialises the modem,
turns each incoming call into a `Decision` through the `Screener`, carries the decision out
on the modem (reject, announce, challenge, or alert an operator) and reports every step to
the `CallRecorder` (the call log) and to a `LineListener` (the service, the web UI).

Design points:
- URCs arrive on the channel's reader callback and are queued to the coroutine serving the
  current call; nothing here blocks the event loop, so eight lines share one thread.
- RING and +CLIP may arrive in separate reads, in either order, or +CLIP alone: the call
  starts on whichever comes first and waits up to `CLIP_WAIT_S` for the number.
- Fail open: if carrying out a restriction fails (the modem refuses to answer or play,
  a family without in-call audio), the call is passed to an operator and logged
  `fail_open`. A caller who is challenged, never presses the key and stays on the line is
  passed to an operator too, unless the restriction rests on junk evidence
  (`challenge.hang_up_unverified_for`): the UK lost two callers to a filter that dropped
  everyone who did not press.
- A lost port (USB unplug) puts the line in FAILED and it reconnects with a bounded,
  growing back-off; a modem that reboots is initialised again. A modem that stays dead
  climbs the recovery ladder (`appliance/recovery.py`): re-initialisation, a power-key
  cycle, a USB port reset, each an ALARM and a `recovery` event.
- A line proves all the time that it can see callers: every health poll, and a check
  right after anything that smells of a reset (a plain RING where +CRING was asked for,
  a call without +CLIP, the echo back after ATE0, a lone boot line, an ERROR), reads back
  the settings screening depends on (`ModemFamily.setting_checks`: caller ID, key
  detection, the voice path) and sends the initialisation again when one is lost: an
  ALARM and a `settings_lost` event. A setting the modem refuses is retried with a growing
  back-off while the line shows "degraded" (`LineHealth.degraded`, an ALARM and a
  `line_degraded` event, SMS included). A reboot is recognised only from a boot sequence
  (two boot lines), and one boot gives one re-initialisation.
- No call outlives the service or a hung modem: at start a line asks the modem for its
  calls (`AT+CLCC`) and releases one left off-hook; while a call waits for or talks to an
  operator the line asks every `CALL_POLL_S` (`AT+CLCC`, never during its own prompts and
  keys), so a modem that stops answering or lost the call is noticed within seconds; a
  watchdog per state (`[watchdog]`) ends or alarms a call held past sane limits.
- A technician can take a line out of service (`take_out_of_service`, from the web UI's
  lines page through `appliance/line_admin.py`): it lets go of its port, rests in
  DISABLED (no reconnecting, no recovery ladder, no alarms) until `return_to_service`,
  and `query` sends one read-only AT command for a technician's test while it is idle.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from appliance.caller_data import PhantomRings, RingingCall, ringing_call
from appliance.clock import Clock
from appliance.config import ChallengeConfig, LineConfig, PromptText, WatchdogConfig
from appliance.model import (
    CALL_STATES,
    Action,
    CallerNumber,
    ChallengeResult,
    Decision,
    LineState,
    Reason,
    line_error,
)
from appliance.numbers import normalise
from appliance.policy import FLOOD_RETRY_RULE, FLOOD_SHORT_RULE
from appliance.recovery import ModemRecovery, RecoveryLadder
from firmware.at.channel import ATChannel, ATCommandError, ATTimeoutError, ChannelClosedError
from firmware.at.parser import parse_line
from firmware.at.urc import (
    CallConnected,
    CallEnded,
    CallerId,
    CallStatus,
    CallWaiting,
    Clip,
    CliValidity,
    Dtmf,
    ModemBooted,
    OtherUrc,
    PromptFinished,
    Ring,
    Urc,
)
from firmware.families import (
    ModemFamily,
    Prompt,
    SettingCheck,
    detect_family,
    family_by_name,
    read_pcm_recording,
    stream_pcm_prompt,
    stream_pcm_prompt_to,
)

if TYPE_CHECKING:
    from appliance.store.calllog import InterruptedCall
    from firmware.audio import VoiceListener

logger = logging.getLogger(__name__)

CLIP_WAIT_S = 1.0  # RING without +CLIP: how long to wait for the number before deciding
COMMAND_TIMEOUT_S = 5.0
PROMPT_GRACE_S = 3.0  # a prompt's finished-URC may never come: give up this long after
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
HEALTH_FAILURES_BEFORE_RESET = 2
HOLD_REPEAT_S = 20.0  # a caller waiting for an operator hears 'please hold' this often
MISSED_CALLERS_KEPT = 16  # distinct callers remembered while a line initialises
COMMIT_WAIT_S = 2.0  # longest a call's end report waits for its row to be committed
# A call's row is committed before the command that carries its decision out (ATH or
# AT+CHUP, ATA, AT+CTFR), so a kill -9 or a power cut after that command never leaves a
# call without its row. A stalled disk delays the command at most this long; the call then
# goes on and its row follows when the disk can be written (docs/faults.md, durability).
ROW_BEFORE_ACTION_MAX_S = 0.5
# Call forwarding (27.007 +CCFC) for the fail-over: the reasons registered, what a line
# lacks without it, and how long the network may take to answer.
CCFC_NO_REPLY, CCFC_NOT_REACHABLE = 2, 3
NO_FAIL_OVER = "no_fail_over"
SUPPLEMENTARY_TIMEOUT_S = 20.0
CLCC_CHECK_TIMEOUT_S = 2.0  # "does a call ring?" (AT+CLCC) when RING or NO CARRIER is doubtful
# While a call waits for or talks to an operator the modem is asked for its calls this often
# (AT+CLCC): a hung modem is noticed after CALL_POLL_FAILURES unanswered polls in a row.
CALL_POLL_S = 3.0
CALL_POLL_TIMEOUT_S = 2.0
CALL_POLL_FAILURES = 2
CALL_GONE_POLLS = 2  # polls in a row without our call: the modem lost it (a silent reset)
SETTINGS_RETRY_FIRST_S = 5.0  # a refused setting is tried again after this, doubling ...
SETTINGS_RETRY_MAX_S = 300.0  # ... up to this
BOOT_SEQUENCE_S = 30.0  # boot lines less than this apart belong to one boot
BOOT_LINES_FOR_REBOOT = 2  # distinct boot lines that make a reboot (one alone: a check)
LONE_BOOT_LINE_WAIT_S = 5.0  # a boot line still alone after this: check the settings
REBOOT_LOOKBACK_S = 5.0  # a call that ended this shortly before a reboot ended by it
_DUE_SLACK_S = 0.01  # a poll this close to due is due (loop times are floats)


# The end cause of a call released in the challenge once its flood was recognised
# (`Line.release_in_flood`): a junk record, so its caller is not called back.
FLOOD_RELEASED_CAUSE = "flood_released"

# States in which the line waits for people and sends the modem nothing of its own: there
# the in-call poll (AT+CLCC) runs. In the others the line's own commands, each with its
# timeout, would notice a hung modem, and a poll could only come between them.
POLLED_CALL_STATES = frozenset({LineState.HOLDING, LineState.OPERATOR_RINGING, LineState.CONNECTED})


class Screener(Protocol):
    """The policy as a line sees it (implemented by the service)."""

    def screen(self, caller: CallerNumber, now_ts: float) -> Decision:
        """Record the arrival and decide; never raises (fails open)."""
        ...

    def decide_again(self, caller: CallerNumber, now_ts: float) -> Decision:
        """Decide for a caller whose arrival is already counted (a call that rang on
        through a restart of the service); never raises."""
        ...

    def note_challenge(
        self,
        caller: CallerNumber,
        result: ChallengeResult,
        now_ts: float,
        voice_heard: bool | None = None,
    ) -> None:
        """Record a challenge's outcome and what the line heard meanwhile."""
        ...

    def note_waiting(self, caller: CallerNumber, now_ts: float) -> None:
        """A caller was seen waiting on this busy line (`+CCWA`); never raises."""
        ...

    def note_operator_contact(self, caller: CallerNumber, now_ts: float) -> None:
        """Record that an operator answered this caller."""
        ...

    def is_reported(self, caller: CallerNumber, now_ts: float) -> bool:
        """True when operators recorded a prank or ghost call from this number lately."""
        ...

    def release_unverified(
        self,
        caller: CallerNumber,
        decision: Decision,
        now_ts: float,
        voice_heard: bool | None = None,
    ) -> bool:
        """True to release a challenged caller who never pressed the key (else pass them);
        `voice_heard` says what the line heard during the challenge (None: not listening)."""
        ...


class CallRecorder(Protocol):
    """The call log as a line sees it: non-blocking, never raises."""

    def new_call_id(self) -> int:
        """A fresh call id."""
        ...

    def claim_interrupted_call(
        self, line: str, caller_raw: str | None, now_ts: float
    ) -> InterruptedCall | None:
        """The call the last run left in flight on `line` from `caller_raw`, once."""
        ...

    def call_started(self, call_id: int, fields: dict[str, Any]) -> None:
        """Enqueue the first row of a call."""
        ...

    def call_updated(self, call_id: int, fields: dict[str, Any]) -> None:
        """Enqueue changes to a call's row."""
        ...

    def add_event(
        self, kind: str, *, line: str | None = None, detail: dict[str, Any] | None = None, ts: float
    ) -> None:
        """Enqueue an event row."""
        ...

    def when_committed(self) -> concurrent.futures.Future[None]:
        """A future resolved once everything enqueued so far is on disk."""
        ...


class LineListener(Protocol):
    """Who hears about a line's life (the service)."""

    def line_state_changed(self, line: Line, old: LineState, new: LineState) -> None:
        """A state change, for occupancy counts and the live console."""
        ...

    def call_needs_operator(self, line: Line, call: ActiveCall) -> None:
        """A call is waiting for an operator: alert the desk."""
        ...

    def call_finished(self, line: Line, call: ActiveCall) -> None:
        """A call ended (its row is enqueued)."""
        ...

    def caller_missed(self, line: Line, caller: CallerNumber, ts: float) -> None:
        """A caller rang while the line could not take calls (it was starting)."""
        ...

    def line_alarm(self, line: Line, kind: str, message: str) -> None:
        """An alarm the line logged and stored as an event (`line_degraded`,
        `call_watchdog`, ...): publish the line's health and text the supervisors."""
        ...


class CallerGone(Exception):
    """The caller hung up (or the network ended the call)."""


class NoCallRinging(Exception):
    """RING heard, but the modem lists no ringing call (AT+CLCC): noise, not a call."""


class DecisionChanged(Exception):
    """A late number changed the decision of a call still ringing for an operator."""


class ModemErrorReplies(ATCommandError):
    """The modem answers an error even to a plain `AT`: it answers errors to everything
    (a firmware fault, a wrong port), which is what the line reports at once."""

    def __init__(self, final_line: str) -> None:
        super().__init__("AT", final_line, [])
        self.args = (line_error("errors_to_all", reply=final_line),)


@dataclass
class ActiveCall:
    """What a line knows about the call it is handling."""

    call_id: int
    started_ts: float
    started_mono: float = field(default_factory=time.monotonic)  # for its duration
    caller_id: CallerId | None = None
    caller: CallerNumber | None = None
    decision: Decision | None = None
    decision_us: int | None = None
    answered: bool = False  # the modem has taken the call off-hook (ATA)
    challenge_result: ChallengeResult | None = None
    keys: str = ""
    operator: str | None = None
    operator_ts: float | None = None
    waiting_since_ts: float | None = None
    unverified: bool = False  # reached the operator without pressing the challenge key
    voice_heard: bool | None = None  # heard during the challenge; None: the line could not listen
    voice_listener: VoiceListener | None = field(default=None, repr=False)
    ended_ts: float | None = None
    end_cause: str | None = None
    scenario_ref: str | None = None
    modem_call_id: int | None = None  # Huawei ^CONN:<id>, to tell our ^CEND from others
    waiting_reported: set[str | None] = field(default_factory=set)  # +CCWA callers logged
    rings: int = 0  # RINGs heard for this call
    first_clip: CallerId | None = None  # the first +CLIP heard for this call
    other_caller_id: CallerId | None = None  # a second, different number in its ring cycle
    released: bool = False  # its release was sent: a RING/+CLIP now is another caller's
    late_clip: bool = False  # a +CLIP came after a decision taken without a number
    resumed: bool = False  # it rang on through a restart of the service: its row is reused
    clip_seen: bool = False  # a +CLIP came for this call (else its number is 'unavailable')
    blind_reported: bool = False  # its `caller_id_lost` alarm is logged
    events: asyncio.Queue[Urc] = field(default_factory=asyncio.Queue)


def printable(text: object) -> str:
    """`text` for a log line or a terminal: caller ID comes from outside, so control
    characters (terminal escapes, newlines that forge log lines) become '?'."""
    if text is None:
        return "-"
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def _same_caller(one: CallerId | None, other: CallerId | None) -> bool:
    """The same caller ID (number and validity); a missing one matches nothing."""
    if one is None or other is None:
        return False
    return (one.raw, one.validity) == (other.raw, other.validity)


def _resumed_fields(call: ActiveCall) -> dict[str, Any]:
    """A call that rang on through a restart opens its row again: the last run marked it
    ended (interrupted, which stays 1 as a trace); the restarted service ends it."""
    if not call.resumed:
        return {}
    return {"ended_ts": None, "end_cause": None, "line_seconds": None}


def _drain(queue: asyncio.Queue[Urc]) -> list[Urc]:
    """Everything waiting in `queue`, taken out."""
    taken = []
    while not queue.empty():
        taken.append(queue.get_nowait())
    return taken


def describe_call(line_name: str, call: ActiveCall) -> str:
    """One line saying what happened to a call, for the log and the demo."""
    decision = call.decision
    parts = [
        line_name,
        f"call {call.call_id}",
        printable(call.caller.raw if call.caller else None),
        f"{decision.action}/{decision.reason}" if decision else "-",
    ]
    if call.challenge_result is not None:
        heard = {True: ", voice heard", False: ", no voice", None: ""}[call.voice_heard]
        parts.append(f"[{call.challenge_result}{heard}]")
    if call.ended_ts is None:
        parts.append("waiting for an operator")
    else:
        parts.append(f"-> {call.end_cause}")
    if call.operator:
        parts.append(f"(answered by {printable(call.operator)})")
    return " ".join(parts)


@dataclass
class MissedRinging:
    """A caller heard ringing while the line could not take calls (INITIALISING)."""

    caller_id: CallerId | None  # None: RING without +CLIP (caller ID not enabled yet)
    first_ts: float
    last_ts: float
    rings: int = 1
    reported: bool = False  # its `missed_call` event is written


@dataclass(frozen=True)
class QueryAnswer:
    """The outcome of a technician's AT command: `ok` (the modem's reply lines and OK),
    `error` (its error result, or no answer in time) or `not_ready` (the line is not
    idle: busy with a call, initialising, failed or disabled)."""

    result: str
    lines: tuple[str, ...] = ()


@dataclass
class LineHealth:
    """The latest answers to the modem's health questions."""

    manufacturer: str | None = None
    model: str | None = None
    imei: str | None = None
    family: str | None = None
    signal: int | None = None
    registration: str | None = None
    last_error: str | None = None
    # What the line cannot do although it answers (`no_caller_id`, `no_key_detection`,
    # `no_voice_port`): settings the modem refuses; () while it can do everything.
    degraded: tuple[str, ...] = ()
    # The network's time (AT+CCLK? once the network has set the module's clock) minus the
    # system clock, in seconds, and when it was read; None: no network time.
    network_clock_offset_s: float | None = None
    network_clock_at_ts: float | None = None


class Line:
    """One modem line and its call state machine."""

    def __init__(
        self,
        config: LineConfig,
        *,
        screener: Screener,
        recorder: CallRecorder,
        listener: LineListener,
        clock: Clock,
        prompts: PromptText,
        challenge: ChallengeConfig,
        region: str = "ID",
        health_interval_s: float = 60.0,
        recordings_dir: Path | None = None,
        recovery: ModemRecovery[Line] | None = None,
        watchdog: WatchdogConfig | None = None,
    ) -> None:
        self.config = config
        self._recordings_dir = recordings_dir
        self.name = config.name
        self._screener = screener
        self._recorder = recorder
        self._listener = listener
        self._clock = clock
        self._prompts = prompts
        self._challenge = challenge
        self._region = region
        self._health_interval_s = health_interval_s
        self.state = LineState.DOWN
        self.health = LineHealth()
        self.channel: ATChannel | None = None
        self.family: ModemFamily | None = None
        self.call: ActiveCall | None = None
        self._call_task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        # Set on every state change: the serve loop re-plans its wait (idle lines sleep until
        # their next health poll, not every CALL_POLL_S: a simulated month wakes far less).
        self._state_wake = asyncio.Event()
        self._stopping = False
        self._operator_answered = asyncio.Event()
        self._operator_hung_up = asyncio.Event()
        self._reinit_task: asyncio.Task[None] | None = None
        self._reports: set[asyncio.Task[None]] = set()  # end-of-call reports awaiting commit
        self._outage_logged = False  # a line_failed event was logged for this outage
        self._host_prompt_task: asyncio.Task[None] | None = None
        self._recordings: dict[str, bytes | None] = {}  # host-side prompt recordings by file
        self._recovery = recovery
        self._ladder: RecoveryLadder[Line] = RecoveryLadder(self.name, recorder, clock, recovery)
        self._disabled = False  # taken out of service by a technician
        # Callers heard ringing while INITIALISING, by raw number (None: RING only).
        self._missed: dict[str | None, MissedRinging] = {}
        self._running = False  # inside `run()`
        self._phantoms = PhantomRings()  # bare RINGs with no call behind them
        # Callers the modem listed ringing when the line came up (AT+CLCC): one of them may
        # be a call the last run of the service left in flight, to finish in its row.
        self._ringing_at_start: set[str | None] = set()
        self._watchdog = watchdog or WatchdogConfig()
        self._state_mono = 0.0  # loop time the line entered its state (the watchdog's start)
        self._watchdog_fired: set[tuple[int, LineState]] = set()  # (call id, state) alarmed
        self._check_task: asyncio.Task[None] | None = None  # a settings check under way
        self._settings_lock = asyncio.Lock()
        self._crc_on = False  # AT+CRC=1 was accepted: a plain RING means a reset
        self._fail_over_registered = False  # the network took `fail_over_to` (AT+CCFC)
        self._echo_off = False  # ATE0 was accepted: an echo means a reset
        self._settings_retry_s = SETTINGS_RETRY_FIRST_S
        self._settings_retry_at: float | None = None  # loop time of the next retry
        self._boot_seen: set[str] = set()  # boot lines of the boot under way
        self._boot_last = float("-inf")  # loop time of the last boot line
        self._boot_first = float("-inf")  # ... and of the first of its boot
        self._reboot_handled = False  # the boot under way was acted on
        self._last_ended: tuple[ActiveCall, float] | None = None  # and its loop time
        self._call_polls_failed = 0  # in-call polls unanswered in a row
        self._call_polls_without_call = 0  # in-call polls in a row listing no call
        self._clip_lost_at: float | None = None  # loop time a check last found +CLIP off

    def reconfigure(
        self,
        *,
        prompts: PromptText,
        challenge: ChallengeConfig,
        watchdog: WatchdogConfig | None = None,
    ) -> None:
        """New prompts and challenge settings: from the next prompt and the next call on
        (a call in progress keeps the key it was asked for)."""
        self._prompts = prompts
        self._challenge = challenge
        if watchdog is not None:
            self._watchdog = watchdog

    # ----------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Keep the line connected until `stop()`: connect, serve, reconnect with back-off."""
        delay_s = BACKOFF_FIRST_S
        self._running = True
        try:
            while not self._stopping:
                try:
                    await self._connect()
                    delay_s = BACKOFF_FIRST_S
                    self._ladder.recovered()
                    self.health.last_error = None  # the line answers again: nothing wrong now
                    await self._serve_until_lost()
                except (OSError, ATCommandError, ATTimeoutError, ChannelClosedError) as exc:
                    self.health.last_error = f"{type(exc).__name__}: {exc}"
                    logger.warning("line %s: %s", self.name, self.health.last_error)
                if self._stopping:
                    break
                self._fail_line()
                await self._ladder.climb(self)  # re-initialise, power-cycle, reset USB
                logger.info("line %s: reconnecting in %.0f s", self.name, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, BACKOFF_MAX_S)
        finally:
            # Also when cancelled (the service stops its lines that way, possibly mid-
            # initialisation): the port and its exclusive lock must not outlive the line.
            self._running = False
            self._close_channel()
            self._rest()

    def _rest(self) -> None:
        """`run()` is over: DISABLED (the owner logs who disabled it), else DOWN."""
        if self._disabled:
            self._set_state(LineState.DISABLED)
            return
        if self.state not in (LineState.DOWN, LineState.DISABLED):
            self._recorder.add_event("line_down", line=self.name, ts=self._clock.timestamp())
        self._set_state(LineState.DOWN)

    def stop(self) -> None:
        """Ask `run()` to finish; the current call, if any, is released by the modem's owner."""
        self._stopping = True
        self._mark_lost()

    @property
    def disabled(self) -> bool:
        """True while a technician has the line out of service."""
        return self._disabled

    def take_out_of_service(self) -> None:
        """A technician disabled the line: close its port now (a new SIM or modem can go
        in) and let `run()` end in DISABLED, where it stays, without reconnecting or
        climbing the recovery ladder, until `return_to_service()`.

        The owner checks first that the line holds no call, and cancels `run()` if it is
        waiting in a back-off or a recovery step; a line not running rests at once.
        """
        self._disabled = True
        self.stop()
        self._close_channel()
        if not self._running:
            self._set_state(LineState.DISABLED)

    def return_to_service(self) -> None:
        """A technician enabled the line again: the owner runs `run()` anew, which opens
        the port and initialises the modem (perhaps another one) with a fresh recovery
        ladder."""
        self._disabled = False
        self._stopping = False
        self._ladder = RecoveryLadder(self.name, self._recorder, self._clock, self._recovery)

    async def query(self, command: str, timeout_s: float) -> QueryAnswer:
        """Send one AT command for a technician's test, only while the line is idle.

        The caller vouches that `command` is harmless (a read-only query from a fixed
        list). It queues behind the line's own commands like a health poll; a call that
        rings meanwhile is handled as usual, its commands waiting at most `timeout_s`.
        """
        channel = self.channel
        if self.state is not LineState.IDLE or channel is None or self._disabled:
            return QueryAnswer("not_ready")
        try:
            lines = await channel.command(command, timeout_s=timeout_s)
        except ATCommandError as exc:
            return QueryAnswer("error", (*exc.lines, exc.final_line))
        except ATTimeoutError as exc:
            return QueryAnswer("error", (str(exc),))
        except ChannelClosedError:
            return QueryAnswer("not_ready")
        return QueryAnswer("ok", (*lines, "OK"))

    async def _connect(self) -> None:
        self._set_state(LineState.INITIALISING)
        self._lost = asyncio.Event()
        channel = ATChannel(
            self.config.port,
            name=self.name,
            baudrate=self.config.baudrate,
            rtscts=self.config.rtscts,
            on_urc=self._on_urc,
            on_lost=self._on_lost,
            on_echo=self._on_echo,
        )
        await channel.open()
        self.channel = channel
        await self._initialise()
        await self._release_calls_left_up(channel)
        self._outage_logged = False
        self._recorder.add_event(
            "line_up",
            line=self.name,
            detail={"family": self.health.family, "imei": self.health.imei},
            ts=self._clock.timestamp(),
        )
        self._set_state(LineState.IDLE)

    async def _initialise(self) -> None:
        channel = self._require_channel()
        self._echo_off = False
        await self._wake(channel)
        await channel.command("ATE0")
        self._echo_off = True
        await self._identify(channel)
        family = self._require_family()
        await self._send_init_commands(channel)
        # The boot under way, if any, is covered: its later lines start no second round.
        self._reboot_handled = bool(self._boot_seen)
        self._set_degraded(await self._missing_settings(channel), "initialisation")
        logger.info(
            "line %s: %s %s ready (family %s, IMEI %s)",
            self.name,
            self.health.manufacturer,
            self.health.model,
            family.name,
            self.health.imei,
        )

    async def _send_init_commands(self, channel: ATChannel) -> None:
        """The family's initialisation; a refusal is logged, and what screening needs is
        read back afterwards (`_missing_settings`): the line then shows it degraded."""
        self._crc_on = False
        family = self._require_family()
        for command in family.init_commands() + family.optional_init_commands():
            try:
                await channel.command(command, timeout_s=COMMAND_TIMEOUT_S)
            except ATCommandError as exc:
                # Optional features (call waiting, network time) differ between firmware
                # versions; the line still works without them, so only log it.
                logger.warning("line %s: %s refused: %s", self.name, command, exc)
                continue
            self._crc_on = self._crc_on or command == "AT+CRC=1"
        if self.config.fail_over_to:
            self._fail_over_registered = await self._register_fail_over(channel)

    async def _register_fail_over(self, channel: ATChannel) -> bool:
        """Have the network forward this line's calls to the backup number when the modem
        does not answer (no reply) or cannot be reached (off, no signal, its box down):
        fail open for the whole box. Never on busy: a flood would follow. A supplementary
        service goes to the network, so it may take seconds; refused or unanswered, the
        line screens on and shows `no_fail_over` (retried with the other settings)."""
        number, after_s = self.config.fail_over_to, self.config.fail_over_after_s
        commands = (
            f'AT+CCFC={CCFC_NO_REPLY},3,"{number}",145,1,,,{after_s}',
            f'AT+CCFC={CCFC_NOT_REACHABLE},3,"{number}",145,1',
        )
        for command in commands:
            try:
                await channel.command(command, timeout_s=SUPPLEMENTARY_TIMEOUT_S)
            except (ATCommandError, ATTimeoutError) as exc:
                logger.warning("line %s: fail-over to %s not registered: %s: %s",
                               self.name, number, command, exc)  # fmt: skip
                return False
        logger.info("line %s: calls unanswered for %d s or unreachable go to %s",
                    self.name, after_s, number)  # fmt: skip
        return True

    async def _missing_settings(self, channel: ATChannel) -> list[str]:
        """What the line lacks now (`SettingCheck.missing`), read back from the modem; a
        query the modem refuses counts as the setting off. Raises ATTimeoutError. The
        fail-over is what its last registration gave (a network query on every health
        poll would cost seconds of signalling each time)."""
        missing = []
        for check in self._require_family().setting_checks():
            if not await self._setting_on(channel, check):
                missing.append(check.missing)
        if self.config.fail_over_to and not self._fail_over_registered:
            missing.append(NO_FAIL_OVER)
        return missing

    @staticmethod
    async def _setting_on(channel: ATChannel, check: SettingCheck) -> bool:
        try:
            lines = await channel.command(check.query, timeout_s=COMMAND_TIMEOUT_S)
        except ATCommandError:
            return False
        return check.is_on(lines)

    async def _wake(self, channel: ATChannel) -> None:
        """A modem that just powered up may miss the first commands: try a few times."""
        for attempt in range(3):
            try:
                await channel.command("AT", timeout_s=2.0)
                return
            except ATCommandError as exc:
                if attempt == 2:
                    raise ModemErrorReplies(exc.final_line) from exc
            except ATTimeoutError:
                if attempt == 2:
                    raise

    async def _identify(self, channel: ATChannel) -> None:
        self.health.manufacturer = await self._query(channel, "AT+CGMI")
        self.health.model = await self._query(channel, "AT+CGMM")
        self.health.imei = await self._query(channel, "AT+CGSN")
        self._check_identity()
        if self.config.family == "auto":
            self.family = detect_family(self.health.manufacturer or "", self.health.model or "")
        else:
            self.family = family_by_name(self.config.family)
        self.health.family = self.family.name

    def _check_identity(self) -> None:
        """The modem on this port should be the one configured (`imei`): the stable port
        names follow USB slots, so swapped modems swap lines. That is worth an alarm, not
        a dead line: screening goes on with whatever modem answers."""
        expected, found = self.config.imei, self.health.imei
        if expected is None or found is None or expected in found:
            return
        logger.warning(
            "ALARM modem_changed: line %s expected IMEI %s, found %s (modems swapped between "
            "USB slots?); screening goes on",
            self.name,
            expected,
            printable(found),
        )
        self._recorder.add_event(
            "modem_changed",
            line=self.name,
            detail={"expected": expected, "found": found},
            ts=self._clock.timestamp(),
        )

    async def _query(self, channel: ATChannel, command: str) -> str | None:
        try:
            lines = await channel.command(command)
        except ATCommandError:
            return None
        return lines[0].strip() if lines else None

    async def _serve_until_lost(self) -> None:
        """Idle: the health poll every `health_interval_s` (and the retry of a refused
        setting when due); a call up: the watchdog and the in-call poll every CALL_POLL_S."""
        failures = 0
        loop = asyncio.get_running_loop()
        next_health = loop.time() + self._health_interval_s
        next_watch: float | None = None  # loop time of the next watch of the call up
        while not self._lost.is_set():
            self._state_wake.clear()
            wait_s = CALL_POLL_S
            if self.state in CALL_STATES:
                if next_watch is None:  # a call began: watched every CALL_POLL_S from now
                    next_watch = loop.time() + CALL_POLL_S
                wait_s = next_watch - loop.time()
            else:
                next_watch = None
            if self.state is LineState.IDLE:
                # Until the next health poll (or settings retry): a call wakes the loop.
                wait_s = next_health - loop.time()
                if self._settings_retry_at is not None:
                    wait_s = min(wait_s, self._settings_retry_at - loop.time())
            # Never a zero wait: a timer a rounding error away would spin the loop.
            await self._sleep_unless_woken(max(wait_s, _DUE_SLACK_S))
            if self._lost.is_set():
                continue
            if self.state in CALL_STATES:
                if next_watch is not None and loop.time() + _DUE_SLACK_S >= next_watch:
                    next_watch = loop.time() + CALL_POLL_S
                    await self._watch_call()
                continue
            self._call_polls_failed = self._call_polls_without_call = 0
            if self.state is not LineState.IDLE:
                continue
            now = loop.time() + _DUE_SLACK_S
            if now >= next_health:
                next_health = loop.time() + self._health_interval_s
                failures = 0 if await self._poll_health() else failures + 1
                if failures >= HEALTH_FAILURES_BEFORE_RESET:
                    raise ATTimeoutError("AT+CSQ (health poll)", COMMAND_TIMEOUT_S)
            elif self._settings_retry_at is not None and now >= self._settings_retry_at:
                await self._check_settings("retry")

    async def _sleep_unless_woken(self, wait_s: float) -> None:
        """Sleep `wait_s`, or until the line is lost or changes state (`_mark_lost` and
        `_set_state` set the wake). One timer and no task: this runs at every state change
        of every line, between a caller ID and its action."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._state_wake.wait()

    def _mark_lost(self) -> None:
        """The port is lost or the line stops: `run()` leaves its serve loop."""
        self._lost.set()
        self._state_wake.set()

    async def _poll_health(self) -> bool:
        """Signal, registration, the network's clock, and the settings screening needs.

        An error to AT+CSQ is followed by a plain AT: a modem that answers ERROR to that
        too is reported as such at once (ModemErrorReplies), not as a timeout later."""
        channel = self.channel
        if channel is None:
            return False
        try:
            signal = await channel.command("AT+CSQ", timeout_s=COMMAND_TIMEOUT_S)
            registration = await channel.command("AT+CREG?", timeout_s=COMMAND_TIMEOUT_S)
        except ATCommandError as exc:
            await self._expect_answers_to_at(channel)
            return self._poll_failed(exc)
        except ATTimeoutError as exc:
            return self._poll_failed(exc)
        except ChannelClosedError:
            return False
        self.health.signal = _parse_csq(signal)
        self.health.registration = _parse_creg(registration)
        if (self.health.last_error or "").startswith("health poll"):
            self.health.last_error = None  # the modem answers again
        await self._read_network_clock(channel)
        with contextlib.suppress(ChannelClosedError):
            await self._check_settings("health poll")
        return True

    def _poll_failed(self, exc: Exception) -> bool:
        self.health.last_error = line_error("health_poll", inner=exc)
        logger.warning("line %s: health poll failed: %s", self.name, exc)
        return False

    async def _expect_answers_to_at(self, channel: ATChannel) -> None:
        """Raise ModemErrorReplies if the modem answers an error to a plain AT."""
        try:
            await channel.command("AT", timeout_s=COMMAND_TIMEOUT_S)
        except ATCommandError as exc:
            error = ModemErrorReplies(exc.final_line)
            self.health.last_error = str(error)
            logger.warning("ALARM line %s: %s", self.name, error)
            raise error from exc

    # ----------------------------------------------------------------- settings

    def _request_check(self, why: str, delay_s: float = 0.0) -> None:
        """Check the settings soon (something smelled of a reset): one check at a time,
        never while the line initialises, never blocking the call in progress."""
        if self.channel is None or (self._check_task is not None and not self._check_task.done()):
            return
        self._check_task = asyncio.get_running_loop().create_task(self._run_check(why, delay_s))

    async def _run_check(self, why: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if self.state not in CALL_STATES and self.state is not LineState.IDLE:
            return  # initialising (which reads the settings back itself), failed or down
        channel = self.channel
        if channel is None:
            return
        try:
            await self._expect_answers_to_at(channel)
            await self._check_settings(why)
        except ModemErrorReplies:
            self._mark_lost()  # FAILED, then the recovery ladder
        except ATTimeoutError as exc:
            logger.warning("line %s: settings check (%s): %s", self.name, why, exc)
        except (ATCommandError, ChannelClosedError) as exc:
            logger.info("line %s: settings check (%s): %s", self.name, why, exc)

    async def _check_settings(self, why: str) -> None:
        """Read back what screening depends on; if something is off, send the
        initialisation again and read back once more. A setting found off that was on
        (a silent reset) is an ALARM and a `settings_lost` event; one that stays off
        leaves the line degraded and is retried with a back-off."""
        async with self._settings_lock:  # two smells at once: one check, one report
            await self._check_settings_now(why)

    async def _check_settings_now(self, why: str) -> None:
        channel = self._require_channel()
        missing = await self._missing_settings(channel)
        if not missing:
            self._set_degraded([], why)
            return
        with contextlib.suppress(ATCommandError):
            await channel.command("ATE0", timeout_s=COMMAND_TIMEOUT_S)
            self._echo_off = True
        await self._send_init_commands(channel)
        still = await self._missing_settings(channel)
        lost = [name for name in missing if name not in self.health.degraded]
        if lost:
            self._report_settings_lost(lost, still, why)
        self._set_degraded(still, why)

    def _report_settings_lost(self, lost: list[str], still: list[str], why: str) -> None:
        restored = [name for name in lost if name not in still]
        logger.warning(
            "ALARM settings_lost: line %s: the modem lost %s (found on %s; it reset without "
            "a word?); %s",
            self.name, ", ".join(lost), why,
            f"restored: {', '.join(restored)}" if restored else "not restored",
        )  # fmt: skip
        self._recorder.add_event(
            "settings_lost",
            line=self.name,
            detail={"lost": lost, "restored": restored, "found_on": why},
            ts=self._clock.timestamp(),
        )
        if "no_caller_id" in lost:
            self._clip_lost_at = asyncio.get_running_loop().time()
            call = self.call
            caller_id = call.caller_id if call is not None else None
            if call is not None and caller_id is not None and caller_id.raw is None:
                self._report_blind_call(call)

    def _set_degraded(self, missing: list[str], why: str) -> None:
        """Show what the line cannot do (an ALARM, an event and the SMS path when it
        starts), retry with a growing back-off while it lasts, and say when it ends."""
        loop = asyncio.get_running_loop()
        before, now = self.health.degraded, tuple(missing)
        if not now:
            self._settings_retry_at, self._settings_retry_s = None, SETTINGS_RETRY_FIRST_S
            if before:
                self.health.degraded = ()
                logger.warning("line %s: no longer degraded (%s)", self.name, why)
                self._recorder.add_event(
                    "line_restored",
                    line=self.name,
                    detail={"restored": list(before), "found_on": why},
                    ts=self._clock.timestamp(),
                )
                self._listener.line_alarm(
                    self, "line_restored", f"line {self.name} sees callers again"
                )
            return
        self._settings_retry_at = loop.time() + self._settings_retry_s
        retry_s = self._settings_retry_s
        self._settings_retry_s = min(self._settings_retry_s * 2, SETTINGS_RETRY_MAX_S)
        if now == before:
            logger.info("line %s: still degraded (%s); next try in %.0f s", self.name,
                        ", ".join(now), retry_s)  # fmt: skip
            return
        self.health.degraded = now
        message = (
            f"line {self.name} is degraded: {', '.join(now).replace('_', ' ')} (the modem "
            f"refused its settings, {why}); retrying in {retry_s:.0f} s"
        )
        logger.warning("ALARM line_degraded: %s", message)
        self._recorder.add_event(
            "line_degraded",
            line=self.name,
            detail={"missing": list(now), "found_on": why, "retry_s": retry_s},
            ts=self._clock.timestamp(),
        )
        self._listener.line_alarm(self, "line_degraded", message)

    def _report_blind_call(self, call: ActiveCall) -> None:
        """A call came without a number on a line that had lost caller ID: an ALARM and a
        `caller_id_lost` event naming the call (once)."""
        if call.blind_reported:
            return
        call.blind_reported = True
        logger.warning(
            "ALARM caller_id_lost: line %s: call %d arrived without a number because the "
            "modem had lost caller ID (restored for the next call)",
            self.name,
            call.call_id,
        )
        self._recorder.add_event(
            "caller_id_lost",
            line=self.name,
            detail={"call_id": call.call_id},
            ts=self._clock.timestamp(),
        )

    def _on_echo(self) -> None:
        """The modem echoed a command after ATE0 was accepted: it reset."""
        if self._echo_off:
            self._echo_off = False
            self._request_check("the echo back after ATE0")

    # ----------------------------------------------------------------- calls left up

    async def _release_calls_left_up(self, channel: ATChannel) -> None:
        """At start: a call the modem still holds (the service was killed or restarted
        mid-call, a pocket dial that never hung up) is released and logged: an ALARM
        and a `call_left_up` event. A call still ringing is left alone: its next RING
        makes it a call of its own."""
        try:
            lines = await channel.command("AT+CLCC", timeout_s=COMMAND_TIMEOUT_S)
        except ATCommandError as exc:
            logger.info("line %s: cannot list the modem's calls: %s", self.name, exc)
            return
        for status in _call_statuses(lines):
            if status.direction == 1 and status.state in (CLCC_INCOMING, CLCC_WAITING):
                self._ringing_at_start.add(status.number)  # it may have rung through a restart
                continue
            released = True
            try:
                await channel.command(self._require_family().hangup_command())
            except ATCommandError:
                released = False
            logger.warning(
                "ALARM call_left_up: line %s: the modem still held a call from %s (%s) at "
                "start; %s",
                self.name, printable(status.number), _CLCC_STATES.get(status.state, "?"),
                "released" if released else "it refused to release it",
            )  # fmt: skip
            self._recorder.add_event(
                "call_left_up",
                line=self.name,
                detail={
                    "caller_raw": status.number,
                    "state": _CLCC_STATES.get(status.state, str(status.state)),
                    "released": released,
                },
                ts=self._clock.timestamp(),
            )

    # ----------------------------------------------------------------- a call up

    async def _watch_call(self) -> None:
        """The watchdog, then (where the line waits for people) the in-call poll."""
        call = self.call
        if call is None or self._watchdog_ends(call):
            return
        if self.state not in POLLED_CALL_STATES:
            return  # the line's own commands would time out on a hung modem
        await self._poll_in_call(call)

    async def _poll_in_call(self, call: ActiveCall) -> None:
        """AT+CLCC: a modem that does not answer twice in a row is hung; one that lists no
        call twice in a row lost ours (it reset without a word)."""
        channel = self.channel
        if channel is None:
            return
        try:
            lines = await channel.command("AT+CLCC", timeout_s=CALL_POLL_TIMEOUT_S)
        except ATTimeoutError:
            self._call_polls_failed += 1
            if self._call_polls_failed >= CALL_POLL_FAILURES and self.call is call:
                self._modem_hung_in_call(call)
            return
        except ATCommandError as exc:
            self._request_check(f"AT+CLCC answered {exc.final_line}")
            return
        except ChannelClosedError:
            return
        self._call_polls_failed = 0
        if _call_statuses(lines) or self.call is not call:
            self._call_polls_without_call = 0
            return
        self._call_polls_without_call += 1
        if self._call_polls_without_call >= CALL_GONE_POLLS:
            logger.warning(
                "ALARM line %s: the modem lists no call while call %d is up: it reset",
                self.name,
                call.call_id,
            )
            self._end_call_now(call, "modem_reset")
            self._request_check("a call the modem lost")

    def _modem_hung_in_call(self, call: ActiveCall) -> None:
        self.health.last_error = line_error(
            "hung_in_call", call=call.call_id, polls=CALL_POLL_FAILURES
        )
        logger.warning("ALARM line %s: %s", self.name, self.health.last_error)
        self._end_call_now(call, "modem_not_answering")
        self._mark_lost()  # FAILED, then the recovery ladder

    def _end_call_now(self, call: ActiveCall, cause: str) -> None:
        """End the call from outside its coroutine (the modem failed it, the watchdog)."""
        if self._call_task is not None and not self._call_task.done():
            self._call_task.cancel()
        self._finish_call(call, cause)

    def _watchdog_ends(self, call: ActiveCall) -> bool:
        """A call held past its state's limit (`[watchdog]`): an ALARM and an event, once
        per call and state; ended where the limit says so. True if it was ended."""
        state = self.state
        limit_s, action = self._watchdog_limit(state)
        held_s = asyncio.get_running_loop().time() - self._state_mono
        if held_s < limit_s or (call.call_id, state) in self._watchdog_fired:
            return False
        self._watchdog_fired.add((call.call_id, state))
        ends = action == "end"
        message = (
            f"line {self.name}: call {call.call_id} {state.value.replace('_', ' ')} for "
            f"{held_s:.0f} s (limit {limit_s:.0f} s): {'ended' if ends else 'still up'}"
        )
        logger.warning("ALARM call_watchdog: %s", message)
        self._recorder.add_event(
            "call_watchdog",
            line=self.name,
            detail={
                "call_id": call.call_id,
                "state": state.value,
                "held_s": round(held_s, 1),
                "limit_s": limit_s,
                "action": action,
            },
            ts=self._clock.timestamp(),
        )
        self._listener.line_alarm(self, "call_watchdog", message)
        if not ends:
            return False
        self._end_call_now(call, f"watchdog_{state.value}")
        asyncio.get_running_loop().create_task(
            self._quiet_command(self._require_family().hangup_command())
        )
        return True

    def _watchdog_limit(self, state: LineState) -> tuple[float, str]:
        limits = self._watchdog
        if state in (LineState.OPERATOR_RINGING,):
            return limits.operator_ringing_s, limits.operator_ringing
        if state is LineState.CONNECTED:
            return limits.connected_s, limits.connected
        if state in (LineState.ANNOUNCING, LineState.CHALLENGING, LineState.HOLDING):
            return limits.challenge_s, "end"
        return limits.ringing_s, "end"

    async def _read_network_clock(self, channel: ATChannel) -> None:
        """Compare the system clock with the network's (AT+CCLK?). A module whose clock
        the network never set reports its power-on default (2004, 1980): no network time.
        Optional: an error here is not a health failure."""
        try:
            reply = await channel.command("AT+CCLK?", timeout_s=COMMAND_TIMEOUT_S)
        except (ATTimeoutError, ATCommandError):
            return
        network_ts = parse_cclk(reply)
        now_ts = self._clock.timestamp()
        if network_ts is None:
            self.health.network_clock_offset_s = None
            return
        self.health.network_clock_offset_s = round(network_ts - now_ts, 1)
        self.health.network_clock_at_ts = now_ts

    def _on_lost(self, exc: BaseException) -> None:
        self.health.last_error = line_error("port_lost", inner=exc)
        logger.error("line %s: port lost: %s", self.name, exc)
        self._mark_lost()

    def _fail_line(self) -> None:
        self._close_channel()
        if self.call is not None and self._call_task is not None:
            self._call_task.cancel()
            self._finish_call(self.call, "line_failed")
        if not self._outage_logged:
            # Once per outage: each reconnect attempt passes through INITIALISING, and an
            # unplugged modem would otherwise log an event every back-off period.
            self._outage_logged = True
            self._recorder.add_event(
                "line_failed",
                line=self.name,
                detail={"error": self.health.last_error},
                ts=self._clock.timestamp(),
            )
        self._set_state(LineState.FAILED)

    def _close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    # ----------------------------------------------------------------- URC intake

    def _on_urc(self, urc: Urc) -> None:
        if isinstance(urc, ModemBooted):
            self._on_modem_booted(urc)
            return
        if isinstance(urc, Ring) and not urc.extended and self._crc_on:
            self._request_check("a plain RING where +CRING was set")
        elif isinstance(urc, Clip) and self.call is not None:
            self.call.clip_seen = True
        if isinstance(urc, CallWaiting):
            self._on_call_waiting(urc)
            return
        if self.call is not None:
            if self._ends_another_call(self.call, urc):
                logger.info("line %s: %r ends another call, not ours", self.name, urc.text)
                return
            if isinstance(urc, Clip) and self._clip_taken(self.call, urc):
                return
            self.call.events.put_nowait(urc)
            return
        if isinstance(urc, Ring) and self.state is LineState.IDLE and self._ring_is_noise():
            return
        if isinstance(urc, Ring | Clip) and self.state is LineState.IDLE:
            self._start_call(urc)
        elif isinstance(urc, Ring | Clip) and self.state is LineState.INITIALISING:
            self._note_missed_ringing(urc)
        elif not isinstance(urc, CallEnded | PromptFinished | Dtmf):
            logger.debug("line %s: ignored %r in state %s", self.name, urc, self.state)

    def _note_missed_ringing(self, urc: Ring | Clip) -> None:
        """A call rings while the line is initialising (a modem being reset, a line
        starting): it cannot be answered, but it must not go unnoticed. Kept here, and
        logged as a `missed_call` event when the line leaves INITIALISING."""
        now_ts = self._clock.timestamp()
        caller_id = urc.caller if isinstance(urc, Clip) else None
        key = None  # a RING: whose, the +CLIP that follows it says
        if caller_id is not None:  # a withheld number has no raw text, but a validity
            key = caller_id.raw if caller_id.raw is not None else f"<{caller_id.validity}>"
        if key is not None and None in self._missed:  # the RING before this +CLIP
            ring_only = self._missed.pop(None)
            self._missed[key] = MissedRinging(caller_id, ring_only.first_ts, now_ts, 1)
            return
        if key is None and self._missed:  # a RING of the caller already heard
            latest = max(self._missed.values(), key=lambda missed: missed.last_ts)
            latest.last_ts, latest.rings = now_ts, latest.rings + 1
            return
        found = self._missed.get(key)
        if found is None:
            if len(self._missed) < MISSED_CALLERS_KEPT:
                self._missed[key] = MissedRinging(caller_id, now_ts, now_ts)
            return
        found.last_ts = now_ts

    def _report_missed_ringing(self) -> None:
        """Log each caller heard ringing while the line was initialising, once: an ALARM
        and a `missed_call` event (the web UI's dashboard lists it among the alarms), so
        that a supervisor can call back. Called as the line leaves INITIALISING; a caller
        who keeps ringing through several attempts is reported once, and one still
        ringing reaches the line once it is idle, as a call of its own."""
        for ringing in self._missed.values():
            if ringing.reported:
                continue
            ringing.reported = True
            caller = normalise(ringing.caller_id, self._region) if ringing.caller_id else None
            shown = ringing.caller_id.raw if ringing.caller_id else None
            logger.warning(
                "ALARM line %s: a call from %s rang while the line was initialising "
                "and could not be answered",
                self.name,
                shown or "an unknown number",
            )
            if caller is not None:
                self._listener.caller_missed(self, caller, ringing.first_ts)
            self._recorder.add_event(
                "missed_call",
                line=self.name,
                detail={
                    "caller_raw": shown,
                    "caller": caller.e164 if caller else None,
                    "rings": ringing.rings,
                    "while": LineState.INITIALISING.value,
                },
                ts=ringing.first_ts,
            )

    @staticmethod
    def _ends_another_call(call: ActiveCall, urc: Urc) -> bool:
        """True for a Huawei `^CEND:<id>` of a call other than `call` (a waiting call).

        Huawei reports every call's end, including the waiting call released with
        AT+CHLD=0; `^CONN:<id>` told us our call's id when it was answered. Only a
        waiting call can have another id, and it can only wait behind an answered call.
        """
        if isinstance(urc, CallConnected):
            call.modem_call_id = urc.call_id or call.modem_call_id
            return False
        if not isinstance(urc, CallEnded) or call.modem_call_id is None:
            return False
        return urc.call_id is not None and urc.call_id != call.modem_call_id

    def _on_modem_booted(self, urc: ModemBooted) -> None:
        """A reboot is a boot *sequence*: BOOT_LINES_FOR_REBOOT distinct boot lines less
        than BOOT_SEQUENCE_S apart, acted on once (one re-initialisation, one event). A
        lone `+CPIN: READY` or `+CFUN: 1` (a SIM refresh, a network event) only has the
        settings checked, without touching the call in progress."""
        now = asyncio.get_running_loop().time()
        if now - self._boot_last > BOOT_SEQUENCE_S:
            self._boot_seen.clear()
            self._boot_first = now
            self._reboot_handled = False
        self._boot_last = now
        self._boot_seen.add(urc.text)
        if self.state in (LineState.INITIALISING, LineState.DOWN, LineState.FAILED):
            return
        if self._reboot_handled:
            return  # a later line of the boot already acted on
        if len(self._boot_seen) < BOOT_LINES_FOR_REBOOT:
            # Wait a moment: the next line of a real boot makes it a reboot instead.
            self._request_check(f"a lone {urc.text!r}", delay_s=LONE_BOOT_LINE_WAIT_S)
            return
        self._reboot_handled = True
        if self._check_task is not None:
            self._check_task.cancel()  # the re-initialisation reads the settings back
        logger.warning("line %s: modem rebooted (%s): initialising again", self.name,
                       ", ".join(sorted(self._boot_seen)))  # fmt: skip
        if self.call is not None and self._call_task is not None:
            self._call_task.cancel()
            self._finish_call(self.call, "modem_rebooted")
        else:
            self._blame_reboot_for_last_call()
        if self._reinit_task is None or self._reinit_task.done():
            self._reinit_task = asyncio.get_running_loop().create_task(self._reinitialise())

    def _blame_reboot_for_last_call(self) -> None:
        """A call that 'hung up' just before the boot lines (the modem dropped it with a
        NO CARRIER as it reset) ended because of the reboot: its row says so."""
        if self._last_ended is None:
            return
        call, ended_at = self._last_ended
        if call.end_cause != "caller_hung_up" or self._boot_first - ended_at > REBOOT_LOOKBACK_S:
            return
        call.end_cause = "modem_rebooted"
        fields: dict[str, Any] = {"end_cause": "modem_rebooted"}
        if call.challenge_result is ChallengeResult.CALLER_HUNG_UP:
            call.challenge_result = None  # the caller did not hang up: no result
            fields["challenge_result"] = None
        logger.warning("line %s: call %d ended by the modem's reboot", self.name, call.call_id)
        self._recorder.call_updated(call.call_id, fields)

    async def _reinitialise(self) -> None:
        self._set_state(LineState.INITIALISING)
        try:
            await self._initialise()
        except (ATCommandError, ATTimeoutError, ChannelClosedError) as exc:
            self.health.last_error = line_error("reinit", inner=exc)
            self._mark_lost()
            return
        self.health.last_error = None
        self._recorder.add_event("line_reinitialised", line=self.name, ts=self._clock.timestamp())
        self._set_state(LineState.IDLE)

    def _on_call_waiting(self, urc: CallWaiting) -> None:
        # +CCWA repeats with every ring of the waiting call: log each waiting caller once
        # per call in progress, or one caller who waited 30 s counts as six. A line that
        # releases waiting callers at once sees each +CCWA from a new caller: each one
        # counts for flood detection (the callers a flood hides behind busy lines).
        rejecting = self.config.call_waiting == "reject"
        reported = self.call.waiting_reported if self.call is not None else set()
        if rejecting or urc.caller.raw not in reported:
            caller = normalise(urc.caller, self._region)
            self._screener.note_waiting(caller, self._clock.timestamp())
        if urc.caller.raw not in reported:
            reported.add(urc.caller.raw)
            self._log_call_waiting(urc)
        if rejecting and self.channel is not None:
            # AT+CHLD=0 releases the waiting call as "user busy"; the caller can redial
            # and may land on a free line.
            asyncio.get_running_loop().create_task(self._quiet_command("AT+CHLD=0"))

    def _log_call_waiting(self, urc: CallWaiting) -> None:
        caller = normalise(urc.caller, self._region)
        self._recorder.add_event(
            "call_waiting",
            line=self.name,
            detail={
                "caller_raw": urc.caller.raw,
                "caller": caller.e164,
                "action": self.config.call_waiting,
            },
            ts=self._clock.timestamp(),
        )

    async def _quiet_command(self, command: str) -> None:
        channel = self.channel
        if channel is None:
            return
        try:
            await channel.command(command, timeout_s=COMMAND_TIMEOUT_S)
        except (ATCommandError, ATTimeoutError, ChannelClosedError) as exc:
            logger.warning("line %s: %s failed: %s", self.name, command, exc)

    # ----------------------------------------------------------------- one call

    def _start_call(self, first: Urc) -> None:
        call = ActiveCall(
            call_id=self._recorder.new_call_id(),
            started_ts=self._clock.timestamp(),
            started_mono=asyncio.get_running_loop().time(),
        )
        self.call = call
        self._watchdog_fired.clear()
        self._operator_answered = asyncio.Event()
        self._operator_hung_up = asyncio.Event()
        self._set_state(LineState.RINGING)
        call.events.put_nowait(first)
        self._call_task = asyncio.get_running_loop().create_task(self._serve_call(call))

    async def _serve_call(self, call: ActiveCall) -> None:
        try:
            await self._screen(call)
            await self._carry_out(call)
        except NoCallRinging:
            self._drop_phantom(call)
        except CallerGone as gone:
            self._finish_call(call, str(gone) or "caller_hung_up")
        except ChannelClosedError:
            self._finish_call(call, "line_failed")
        except ATTimeoutError as exc:
            # The modem stopped answering mid-call: nothing more can be done on it. The
            # row says why; the line then checks whether it answers a plain AT at all.
            logger.warning("ALARM line %s: call %d: the modem stopped answering (%s)",
                           self.name, call.call_id, exc)  # fmt: skip
            self.health.last_error = line_error("stopped_in_call", call=call.call_id)
            self._finish_call(call, "modem_not_answering")
            self._request_check("a command unanswered during a call")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "line %s: call %d failed; passing to an operator", self.name, call.call_id
            )
            await self._fail_open_after_error(call)
        finally:
            if call.voice_listener is not None:  # also when the line stops mid-call
                call.voice_listener.close()

    async def _screen(self, call: ActiveCall) -> None:
        caller_id = await self._await_caller_id(call)
        known_ns = time.perf_counter_ns()
        if not call.clip_seen:
            self._note_call_without_clip(call, blind=caller_id.raw is None)
        call.caller_id = caller_id
        call.caller = normalise(caller_id, self._region)
        self._set_state(LineState.SCREENING)
        call.decision = self._decide(call)
        call.decision_us = (time.perf_counter_ns() - known_ns) // 1000
        self._recorder.call_started(call.call_id, self._start_fields(call))

    async def _await_caller_id(self, call: ActiveCall) -> CallerId:
        """The first +CLIP of the call. Without one within CLIP_WAIT_S the modem is asked
        for its calls (AT+CLCC): the number it lists, else 'unavailable'; when it lists no
        ringing call at all the RINGs were noise (`NoCallRinging`: no row). A NO CARRIER
        before the caller ID is checked the same way: a stale one is ignored."""
        deadline = asyncio.get_running_loop().time() + CLIP_WAIT_S
        while True:
            try:
                urc = await self._next_event(call, deadline)
            except CallerGone:
                asked, ringing = await self._modem_ringing_call()
                if not asked or ringing is None:
                    raise
                logger.warning(
                    "line %s: a stale NO CARRIER before the caller ID (the call still rings): "
                    "ignored",
                    self.name,
                )
                continue
            if urc is None:
                return await self._caller_id_from_modem(call)
            if isinstance(urc, Clip):
                return urc.caller

    async def _caller_id_from_modem(self, call: ActiveCall) -> CallerId:
        """No +CLIP in time: the caller ID AT+CLCC lists, 'unavailable' when it lists the
        call without a number or cannot say; `NoCallRinging` when no call rings."""
        unavailable = CallerId(None, None, CliValidity.UNAVAILABLE)
        asked, ringing = await self._modem_ringing_call()
        if call.first_clip is not None:  # the +CLIP came while the modem was asked
            return call.first_clip
        if not asked:
            return unavailable
        if ringing is None:
            raise NoCallRinging
        if ringing.caller_id.raw is not None:
            logger.warning(
                "line %s: no +CLIP for a ringing call; its number %s is taken from AT+CLCC",
                self.name,
                printable(ringing.caller_id.raw),
            )
        return ringing.caller_id

    async def _modem_ringing_call(self) -> tuple[bool, RingingCall | None]:
        """Ask the modem whether a call rings (AT+CLCC): (asked, the ringing call or None).
        `asked` is False when the modem refused or did not answer: nobody can tell."""
        try:
            lines = await self._require_channel().command("AT+CLCC", timeout_s=CLCC_CHECK_TIMEOUT_S)
        except (ATCommandError, ATTimeoutError) as exc:
            logger.info("line %s: AT+CLCC: %s", self.name, exc)
            return False, None
        return True, ringing_call(lines)

    def _decide(self, call: ActiveCall) -> Decision:
        """Decide the call; one that rang on through a restart of the service is finished
        in the row the last run gave it (its arrival is already counted)."""
        assert call.caller is not None
        now_ts = self._clock.timestamp()
        if self._resume_interrupted_call(call, now_ts):
            return self._screener.decide_again(call.caller, now_ts)
        return self._screener.screen(call.caller, now_ts)

    def _resume_interrupted_call(self, call: ActiveCall, now_ts: float) -> bool:
        """True when `call` is one the last run left in flight and the modem listed ringing
        as the line came up: it takes that call's id, start and row (interrupted stays 1,
        the restarted service writes the rest: one call, one row)."""
        candidates, self._ringing_at_start = self._ringing_at_start, set()
        raw = call.caller_id.raw if call.caller_id is not None else None
        if raw not in candidates and None not in candidates:
            return False
        found = self._recorder.claim_interrupted_call(self.name, raw, now_ts)
        if found is None:
            return False
        shift_s = max(0.0, now_ts - found.started_ts)
        call.call_id, call.started_ts, call.resumed = found.call_id, found.started_ts, True
        call.started_mono -= shift_s
        logger.warning(
            "line %s: call %d from %s rang on through a restart of the service: "
            "finished in its own row",
            self.name,
            call.call_id,
            printable(raw),
        )
        self._recorder.add_event(
            "call_resumed",
            line=self.name,
            detail={"call_id": call.call_id, "caller_raw": raw, "rang_s": round(shift_s, 1)},
            ts=now_ts,
        )
        return True

    # ----------------------------------------------------------------- caller data

    def _ring_is_noise(self) -> bool:
        """A bare RING while idle, in a burst of RINGs with no call behind them."""
        return self._phantoms.is_noise(asyncio.get_running_loop().time())

    def _drop_phantom(self, call: ActiveCall) -> None:
        """The modem lists no call behind the RINGs that started `call`: no row, no
        report; the first of a burst is a WARNING and a `phantom_ring` event."""
        rings = max(1, call.rings) + sum(1 for urc in _drain(call.events) if isinstance(urc, Ring))
        new_burst = self._phantoms.confirmed(rings, asyncio.get_running_loop().time())
        self.call = None
        if self.state in CALL_STATES:
            self._set_state(LineState.IDLE)
        if not new_burst:
            logger.debug("line %s: %d more RING(s) with no call behind them", self.name, rings)
            return
        logger.warning(
            "line %s: RING with no call behind it (AT+CLCC lists none): a burst of bare "
            "RINGs is counted, not logged as calls",
            self.name,
        )
        self._recorder.add_event(
            "phantom_ring",
            line=self.name,
            detail={"rings": rings, "rings_before": self._phantoms.total - rings},
            ts=self._clock.timestamp(),
        )

    def _clip_taken(self, call: ActiveCall, urc: Clip) -> bool:
        """A +CLIP during `call`: True when it is handled here (a repeat, a second number,
        a late number), False to queue it to the call (its first, or the next caller's)."""
        caller = urc.caller
        if call.released or call.answered:
            return False  # the next caller's (it rang as this call was released)
        if call.first_clip is None:
            call.first_clip = caller
            if call.decision is None:
                return False  # the number `_await_caller_id` waits for
        if _same_caller(caller, call.first_clip) and call.decision is None:
            return True  # a repeat within the ring cycle
        if call.decision is not None and _same_caller(caller, call.caller_id):
            return True  # a repeat, or the number AT+CLCC gave
        decided_blind = call.caller_id is not None and call.caller_id.raw is None
        if call.decision is not None and decided_blind and not call.late_clip and caller.raw:
            self._take_late_caller_id(call, caller)
            return True
        self._note_other_number(call, caller)
        return True

    def _note_other_number(self, call: ActiveCall, caller: CallerId) -> None:
        """A second, different number in the call's ring cycle: kept in the row beside the
        one it was screened on (`other_caller_raw`), and logged."""
        kept = call.other_caller_id
        if kept is not None:
            if not _same_caller(kept, caller):
                logger.warning(
                    "line %s: a third number %s for one call: logged, not kept",
                    self.name,
                    printable(caller.raw),
                )
            return
        call.other_caller_id = caller
        first = call.first_clip.raw if call.first_clip is not None else None
        logger.warning(
            "line %s: call %d: a second number %s in one ring cycle (screened on %s); "
            "both are kept in its row",
            self.name,
            call.call_id,
            printable(caller.raw),
            printable(first),
        )
        if call.decision is not None:  # the row exists: add it now
            self._recorder.call_updated(call.call_id, self._other_caller_fields(call))

    def _other_caller_fields(self, call: ActiveCall) -> dict[str, Any]:
        other = call.other_caller_id
        if other is None:
            return {}
        return {
            "other_caller_raw": other.raw,
            "other_caller": normalise(other, self._region).e164,
        }

    def _take_late_caller_id(self, call: ActiveCall, caller: CallerId) -> None:
        """The number came (+CLIP with a later RING) after the call was decided without
        one, while it still rings: the row and the decision follow it. A decision that no
        longer passes the call is carried out (`_pass_to_operator` hears of it)."""
        before = call.decision
        assert before is not None
        call.late_clip = True
        call.caller_id = caller
        call.caller = normalise(caller, self._region)
        now_ts = self._clock.timestamp()
        call.decision = self._screener.screen(call.caller, now_ts)
        logger.warning(
            "line %s: call %d: its number %s came only with a later RING (decided %s/%s "
            "without it); now %s/%s",
            self.name,
            call.call_id,
            printable(caller.raw),
            before.action,
            before.reason,
            call.decision.action,
            call.decision.reason,
        )
        self._recorder.call_updated(
            call.call_id,
            {
                "caller_raw": call.caller.raw,
                "caller": call.caller.e164,
                "number_class": call.caller.number_class.value,
                "decision": call.decision.action.value,
                "reason": call.decision.reason.value,
                "rule": call.decision.rule,
            },
        )
        call.events.put_nowait(OtherUrc(text="late caller ID"))  # wakes a waiting coroutine

    def _decision_changed_while_ringing(self, call: ActiveCall) -> bool:
        """A late number turned a call waiting unanswered for an operator into one to
        restrict: True once, then the new decision is carried out."""
        decision = call.decision
        if not call.late_clip or call.answered or decision is None:
            return False
        return decision.action is not Action.PASS and self.state is LineState.OPERATOR_RINGING

    def _note_call_without_clip(self, call: ActiveCall, *, blind: bool) -> None:
        """No +CLIP came for this call: if a check during its ring found caller ID lost
        and no number came another way (`blind`), the call is blind because of it (an
        ALARM); otherwise check now (in the background: the call goes on)."""
        lost_at = self._clip_lost_at
        if blind and lost_at is not None and lost_at >= call.started_mono - CLIP_WAIT_S:
            self._report_blind_call(call)
        else:
            self._request_check("a call without caller ID")

    def _start_fields(self, call: ActiveCall) -> dict[str, Any]:
        assert call.caller is not None and call.decision is not None
        return {
            "line": self.name,
            "desk": self.config.desk,
            "caller_raw": call.caller.raw,
            "caller": call.caller.e164,
            "number_class": call.caller.number_class.value,
            "started_ts": call.started_ts,
            "decision": call.decision.action.value,
            "reason": call.decision.reason.value,
            "rule": call.decision.rule,
            "decision_us": call.decision_us,
            "reached_operator": 0,
            "scenario_ref": call.scenario_ref,
            **self._other_caller_fields(call),
            **_resumed_fields(call),
        }

    async def _carry_out(self, call: ActiveCall) -> None:
        assert call.decision is not None
        action = call.decision.action
        if action is not Action.PASS or self.config.deflect_to:
            await self._row_on_disk_before_action(call)
        if action is Action.REJECT:
            await self._reject(call)
        elif action is Action.ANNOUNCE:
            await self._announce(call)
        elif action is Action.CHALLENGE:
            await self._challenge_call(call)
        else:
            await self._pass_to_operator(call)

    async def _row_on_disk_before_action(self, call: ActiveCall) -> None:
        """Wait until the call's row is committed (one fsync), at most
        ROW_BEFORE_ACTION_MAX_S: the command that follows (ATH, ATA, AT+CTFR) then never
        leaves a call without its row, whenever the process dies or the power goes."""
        committed = asyncio.wrap_future(self._recorder.when_committed())
        try:
            await asyncio.wait_for(committed, ROW_BEFORE_ACTION_MAX_S)
        except TimeoutError:
            logger.warning(
                "line %s: call %d's row is not on disk after %.1f s (call log stalled); "
                "carrying the decision out all the same",
                self.name,
                call.call_id,
                ROW_BEFORE_ACTION_MAX_S,
            )

    async def _reject(self, call: ActiveCall) -> None:
        self._set_state(LineState.REJECTING)
        family = self._require_family()
        call.released = True
        await self._command(family.reject_command(self.config.reject_method))
        self._finish_call(call, "rejected")

    async def _announce(self, call: ActiveCall) -> None:
        self._set_state(LineState.ANNOUNCING)
        if not await self._answer(call) or not self._can_play():
            await self._fall_back_to_operator(call, "announce_unavailable")
            return
        await self._play_and_wait(call, self._prompt("announce"))
        await self._hang_up()
        self._finish_call(call, "announced")

    async def _challenge_call(self, call: ActiveCall) -> None:
        self._set_state(LineState.CHALLENGING)
        if not self._can_play() or not await self._answer(call):
            await self._fall_back_to_operator(call, "challenge_unavailable")
            return
        await self._start_listening(call)
        assert call.decision is not None
        flood = call.decision.reason is Reason.FLOOD
        short = call.decision.rule == FLOOD_SHORT_RULE
        result = await (self._run_flood_challenge(call) if short else self._run_challenge(call))
        call.challenge_result = result  # at once: a caller who pressed is never released
        await self._stop_listening(call)
        assert call.caller is not None
        now_ts = self._clock.timestamp()
        self._screener.note_challenge(call.caller, result, now_ts, call.voice_heard)
        self._recorder.call_updated(
            call.call_id,
            {
                "challenge_result": result.value,
                "challenge_ts": now_ts,
                "voice_heard": None if call.voice_heard is None else int(call.voice_heard),
            },
        )
        if result is ChallengeResult.PASSED:
            await self._warn_reported_caller(call)
            await self._connect_to_operator(call)
        elif flood:
            await self._end_flood_challenge(call, result, goodbye=not short)
        elif self._hang_up_unverified(call):
            await self._play_and_wait(call, self._prompt("silent_goodbye"))
            await self._hang_up()
            self._finish_call(call, "challenge_" + result.value)
        else:
            call.unverified = True
            await self._connect_to_operator(call)

    async def _end_flood_challenge(
        self, call: ActiveCall, result: ChallengeResult, *, goodbye: bool
    ) -> None:
        """No key in flood mode: a caller heard speaking goes to an operator, the rest are
        released; after the short challenge at once, with no goodbye: every second of a
        line counts, and the call-back list keeps whoever had no junk record (the
        service's `call_finished`).

        A line that cannot listen cannot tell a caller who only speaks from a silent one.
        A first attempt is released all the same (the flood's callers would otherwise
        reach operators on every such line); a caller trying again (`flood:retry`) who
        stayed on through the whole challenge goes to an operator: a flood spread over
        fresh numbers does not try again, a person who must speak does."""
        assert call.decision is not None
        retry_unheard = call.voice_heard is None and call.decision.rule == FLOOD_RETRY_RULE
        if call.voice_heard or retry_unheard:
            call.unverified = True
            await self._connect_to_operator(call)
            return
        if goodbye:
            await self._play_and_wait(call, self._prompt("silent_goodbye"))
        await self._hang_up()
        self._finish_call(call, "challenge_" + result.value)

    async def _warn_reported_caller(self, call: ActiveCall) -> None:
        """A number operators reported for pranks reaches them later, after a warning.

        Romania's ANCOM routes numbers with six or more prank calls a day through a
        recorded message before a 112 operator, for five days: delayed, never cut off. We
        do it for any number with a prank or ghost disposition within the junk-evidence
        window (7 days by default): a child who learned the key hears that the number is
        on record and has to wait; a parent with a real emergency on the same phone stays
        on the line and gets through, some 40 s later.
        """
        assert call.caller is not None
        if not self._challenge.warn_reported or not self._screener.is_reported(
            call.caller, self._clock.timestamp()
        ):
            return
        self._set_state(LineState.HOLDING)
        started = self._clock.timestamp()
        await self._play_and_wait(call, self._prompt("reported"))
        await self._start_prompt(self._prompt("connecting"))  # not silence: "please hold"
        deadline = asyncio.get_running_loop().time() + self._challenge.reported_hold_s
        while await self._next_event(call, deadline) is not None:
            pass  # keys pressed while holding change nothing; hanging up raises CallerGone
        self._recorder.call_updated(
            call.call_id, {"hold_s": round(self._clock.timestamp() - started, 3)}
        )
        self._set_state(LineState.CHALLENGING)

    def _hang_up_unverified(self, call: ActiveCall) -> bool:
        assert call.decision is not None and call.caller is not None
        return self._screener.release_unverified(
            call.caller, call.decision, self._clock.timestamp(), call.voice_heard
        )

    async def _start_listening(self, call: ActiveCall) -> None:
        """Hear the caller on the voice port during the challenge, where the line can.

        Listening is an aid, never a condition: if the modem refuses the audio routing or
        the port will not open, the call goes on unheard (`voice_heard` stays None) and an
        unverified caller is passed to an operator as on a line that cannot listen.
        """
        commands = self._require_family().listen_commands()
        voice_port = self.config.voice_port
        if commands is None or voice_port is None or not self.config.listen:
            return
        # Imported here: numpy (the detector's) is loaded only where a line listens.
        from firmware.audio import VoiceListener

        listener = VoiceListener(voice_port)
        try:
            listener.open()
            for command in commands:
                await self._command(command)
        except (OSError, ATCommandError, ATTimeoutError) as exc:
            logger.warning("line %s: cannot listen to the call: %s", self.name, exc)
            listener.close()
            return
        call.voice_listener = listener

    async def _stop_listening(self, call: ActiveCall) -> None:
        """Keep what was heard and give the audio back to the modem's own path.

        The port stays open and drained until the call ends: a Huawei stick streams audio
        for the whole call, and a modem whose audio nobody reads can stall.
        """
        listener = call.voice_listener
        if listener is None:
            return
        listener.flush()
        call.voice_heard = listener.heard
        listener.analyse = False
        logger.debug(
            "line %s: call %d: %.1f s of voice in %.1f s heard",
            self.name,
            call.call_id,
            listener.detector.heard_s,
            listener.detector.listened_s,
        )
        for command in self._require_family().stop_listen_commands():
            try:
                await self._command(command)
            except (ATCommandError, ATTimeoutError) as exc:
                logger.warning("line %s: %s: %s", self.name, command, exc)

    async def _run_challenge(self, call: ActiveCall) -> ChallengeResult:
        """Play the prompt up to `attempts` times; the escape key may be pressed any time."""
        key = self._challenge.key
        pressed_wrong = False
        for _attempt in range(self._challenge.attempts):
            call.keys = ""
            prompt = self._prompt("challenge")
            if await self._prompt_collecting_keys(call, prompt, key):
                return ChallengeResult.PASSED
            pressed_wrong = pressed_wrong or bool(call.keys)
        return ChallengeResult.FAILED if pressed_wrong else ChallengeResult.TIMEOUT

    async def _run_flood_challenge(self, call: ActiveCall) -> ChallengeResult:
        """Flood mode: one short prompt, then `flood_wait_s` for the key."""
        call.keys = ""
        prompt = self._prompt("flood_challenge")
        wait_s = self._challenge.flood_wait_s
        if await self._prompt_collecting_keys(call, prompt, self._challenge.key, wait_s):
            return ChallengeResult.PASSED
        return ChallengeResult.FAILED if call.keys else ChallengeResult.TIMEOUT

    async def _prompt_collecting_keys(
        self, call: ActiveCall, prompt: Prompt, key: str, wait_s: float | None = None
    ) -> bool:
        """Play `prompt`, then wait `wait_s` (default `wait_after_prompt_s`); True as soon
        as the keys pressed end with `key`."""
        loop = asyncio.get_running_loop()
        if wait_s is None:
            wait_s = self._challenge.wait_after_prompt_s
        playing = await self._start_prompt(prompt)
        deadline = loop.time() + prompt.duration_s + PROMPT_GRACE_S
        while True:
            urc = await self._next_event(call, deadline)
            if urc is None:
                if playing:  # the finished-URC never came: treat the prompt as over
                    playing = False
                    deadline = loop.time() + wait_s
                    continue
                return False
            if isinstance(urc, Dtmf):
                call.keys += urc.key
                if call.keys.endswith(key):
                    if playing:
                        await self._stop_prompt(prompt)
                    return True
            elif isinstance(urc, PromptFinished) and playing:
                playing = False
                deadline = loop.time() + wait_s

    async def _connect_to_operator(self, call: ActiveCall) -> None:
        """A caller already answered by the challenge hears 'connecting' while we alert."""
        await self._start_prompt(self._prompt("connecting"))
        await self._pass_to_operator(call)

    async def _pass_to_operator(self, call: ActiveCall) -> None:
        deflect_to = self.config.deflect_to
        if deflect_to and not call.answered and await self._deflect(call, deflect_to):
            return
        self._set_state(LineState.OPERATOR_RINGING)
        call.waiting_since_ts = self._clock.timestamp()
        self._listener.call_needs_operator(self, call)
        # A caller we already answered (the challenge) must not wait in silence.
        hold = self._prompt("connecting") if call.answered else None
        try:
            await self._wait_for(call, self._operator_answered, hold=hold)
        except DecisionChanged:
            await self._carry_out(call)  # the late number's decision
            return
        if hold is not None:
            await self._stop_prompt(hold)  # the operator speaks, not the recording
        if not call.answered:
            await self._answer_for_operator(call)
        self._record_operator_contact(call)
        self._set_state(LineState.CONNECTED)
        await self._wait_for(call, self._operator_hung_up)
        await self._hang_up()
        self._finish_call(call, "operator_hung_up")

    async def _answer_for_operator(self, call: ActiveCall) -> None:
        if not await self._answer(call):
            raise CallerGone("caller_hung_up")

    async def _deflect(self, call: ActiveCall, number: str) -> bool:
        """Send the call on to `number` (AT+CTFR); False if the network refused it.

        Call deflection needs a network service the SIM may not have, or may have lost for
        a while: a refusal keeps this call on the line for the desk, and the next call tries
        deflecting again.
        """
        family = self._require_family()
        call.released = True
        try:
            await self._command(family.deflect_command(number))
        except ATCommandError as exc:
            logger.warning("line %s: deflection refused (%s); alerting the desk", self.name, exc)
            call.released = False
            return False
        self._finish_call(call, "deflected")
        return True

    async def _fall_back_to_operator(self, call: ActiveCall, why: str) -> None:
        """Fail open: the restriction could not be carried out, so the call goes through."""
        logger.warning("line %s: %s; passing call %d to an operator", self.name, why, call.call_id)
        call.decision = Decision(Action.PASS, Reason.FAIL_OPEN, why)
        self._recorder.call_updated(
            call.call_id, {"decision": "pass", "reason": Reason.FAIL_OPEN.value, "rule": why}
        )
        self._recorder.add_event(
            "fail_open",
            line=self.name,
            detail={"call_id": call.call_id, "why": why},
            ts=self._clock.timestamp(),
        )
        await self._pass_to_operator(call)

    async def _fail_open_after_error(self, call: ActiveCall) -> None:
        if call.ended_ts is not None:
            return
        try:
            if call.decision is None:
                call.caller = call.caller or normalise(call.caller_id, self._region)
                call.decision = Decision(Action.PASS, Reason.FAIL_OPEN, "error")
                self._recorder.call_started(call.call_id, self._start_fields(call))
                await self._pass_to_operator(call)
            else:
                await self._fall_back_to_operator(call, "error")
        except CallerGone:
            self._finish_call(call, "caller_hung_up")
        except Exception:
            logger.exception("line %s: fail-open of call %d failed", self.name, call.call_id)
            self._finish_call(call, "error")

    # ----------------------------------------------------------------- operator side

    def operator_answer(self, operator: str) -> bool:
        """An operator takes the call waiting on this line; False if there is none."""
        call = self.call
        if call is None or self.state is not LineState.OPERATOR_RINGING or call.operator:
            return False
        call.operator = operator
        call.operator_ts = self._clock.timestamp()
        self._operator_answered.set()
        return True

    def _record_operator_contact(self, call: ActiveCall) -> None:
        """The operator is now talking to the caller: only now is the call 'reached'.

        Not at the operator's click: a caller who hung up just before (the ATA finds
        NO CARRIER) never spoke to anyone and must not count as reached, nor give the
        number the policy's credit for operator contact.
        """
        assert call.caller is not None and call.operator_ts is not None
        self._screener.note_operator_contact(call.caller, call.operator_ts)
        self._recorder.call_updated(
            call.call_id,
            {"reached_operator": 1, "operator_ts": call.operator_ts, "operator": call.operator},
        )

    def release_in_flood(self, rule: str) -> bool:
        """Release the call this line is challenging: flood mode now rejects its caller on
        a flood signature (`rule`, e.g. `flood:+6281234567`). False when the line is no
        longer challenging (the caller pressed the key, or hung up, meanwhile)."""
        call = self.call
        if call is None or self.state is not LineState.CHALLENGING:
            return False
        if call.challenge_result is not None:
            return False  # the challenge is over (the key pressed, a voice heard): not now
        logger.info(
            "line %s: call %d released in the challenge: the flood's signature (%s)",
            self.name,
            call.call_id,
            rule,
        )
        self._end_call_now(call, FLOOD_RELEASED_CAUSE)
        asyncio.get_running_loop().create_task(
            self._quiet_command(self._require_family().hangup_command())
        )
        return True

    def operator_hang_up(self) -> bool:
        """The operator ends the connected call; False if no call is connected."""
        if self.call is None or self.state is not LineState.CONNECTED:
            return False
        self._operator_hung_up.set()
        return True

    # ----------------------------------------------------------------- modem actions

    async def _answer(self, call: ActiveCall) -> bool:
        """Take the call off-hook; False if the caller had already gone."""
        if call.answered:
            return True
        try:
            await self._command(self._require_family().answer_command())
        except ATCommandError as exc:
            if "NO CARRIER" in str(exc):
                raise CallerGone("caller_hung_up") from exc
            logger.warning("line %s: answer refused: %s", self.name, exc)
            return False
        call.answered = True
        for command in self._require_family().after_answer_commands():
            try:
                await self._command(command)
            except (ATCommandError, ATTimeoutError) as exc:
                logger.warning("line %s: %s after answering: %s", self.name, command, exc)
        return True

    async def _hang_up(self) -> None:
        with contextlib.suppress(ATCommandError, ATTimeoutError):
            await self._command(self._require_family().hangup_command())

    def _can_play(self) -> bool:
        family = self._require_family()
        probe = Prompt(name="probe", text="", duration_s=1.0)
        return family.play_command(probe) is not None or (
            family.host_audio and self.config.voice_port is not None
        )

    async def _start_prompt(self, prompt: Prompt) -> bool:
        """Start playing; True if a finished-URC (or host playback) will follow."""
        family = self._require_family()
        command = family.play_command(prompt)
        if command is not None:
            try:
                await self._command(command)
            except (ATCommandError, ATTimeoutError) as exc:
                logger.warning("line %s: prompt %s refused: %s", self.name, prompt.name, exc)
                return False
            return True
        if family.host_audio and self.config.voice_port is not None and self.call is not None:
            # One stream at a time: a new prompt replaces the one in play, as on a modem.
            self._cancel_host_prompt()
            self._host_prompt_task = asyncio.get_running_loop().create_task(
                self._host_prompt(self.call, self.config.voice_port, prompt)
            )
            return True
        return False

    async def _host_prompt(self, call: ActiveCall, voice_port: str, prompt: Prompt) -> None:
        """Huawei sticks have no player: stream PCM, then report 'finished' like a URC.

        While the line listens it owns the voice port, so the prompt goes out through the
        listener's descriptor; otherwise the port is opened for the prompt alone.
        """
        recording = self._host_recording(prompt)
        listener = call.voice_listener
        try:
            if listener is not None and listener.is_open:
                await stream_pcm_prompt_to(listener.fileno(), prompt.duration_s, recording)
            else:
                await stream_pcm_prompt(voice_port, prompt.duration_s, recording)
        except OSError as exc:
            logger.warning("line %s: voice port %s: %s", self.name, voice_port, exc)
        if self.call is call:  # never into the next call's queue
            call.events.put_nowait(PromptFinished(text="host PCM prompt finished"))

    def _host_recording(self, prompt: Prompt) -> bytes | None:
        """The WAV recording of a prompt for the host-side player, read once per file.

        The host cannot speak text: a prompt without a usable recording plays a tone, and
        the line says so once (ERROR: a caller hears no words on this line).
        """
        key = prompt.file or f"<text:{prompt.name}>"
        if key not in self._recordings:
            recording: bytes | None = None
            try:
                if prompt.file is None or self._recordings_dir is None:
                    raise ValueError(f"no {prompt.name}_file: a Huawei line cannot speak text")
                recording = read_pcm_recording(self._recordings_dir / prompt.file)
            except ValueError as exc:
                logger.error("line %s: prompt %s: %s; playing a tone", self.name, prompt.name, exc)
            self._recordings[key] = recording
        return self._recordings[key]

    def _cancel_host_prompt(self) -> None:
        if self._host_prompt_task is not None:
            self._host_prompt_task.cancel()
            self._host_prompt_task = None

    async def _stop_prompt(self, prompt: Prompt) -> None:
        self._cancel_host_prompt()
        command = self._require_family().stop_play_command(prompt)
        if command is not None:
            with contextlib.suppress(ATCommandError, ATTimeoutError):
                await self._command(command)

    async def _play_and_wait(self, call: ActiveCall, prompt: Prompt) -> None:
        playing = await self._start_prompt(prompt)
        if not playing:
            return
        deadline = asyncio.get_running_loop().time() + prompt.duration_s + PROMPT_GRACE_S
        while True:
            urc = await self._next_event(call, deadline)
            if urc is None or isinstance(urc, PromptFinished):
                return

    async def _command(self, command: str) -> list[str]:
        try:
            return await self._require_channel().command(command, timeout_s=COMMAND_TIMEOUT_S)
        except ATCommandError as exc:
            if exc.final_line == "ERROR":  # not a reasoned refusal (+CME ERROR: ...)
                self._request_check(f"{command} answered ERROR")
            raise

    def _prompt(self, name: str) -> Prompt:
        texts = self._prompts
        text, seconds, file = {
            "challenge": (texts.challenge, texts.challenge_seconds, texts.challenge_file),
            "flood_challenge": (
                texts.flood_challenge,
                texts.flood_challenge_seconds,
                texts.flood_challenge_file,
            ),
            "connecting": (texts.connecting, texts.connecting_seconds, texts.connecting_file),
            "announce": (texts.announce, texts.announce_seconds, texts.announce_file),
            "silent_goodbye": (texts.silent_goodbye, texts.goodbye_seconds, texts.goodbye_file),
            "reported": (texts.reported, texts.reported_seconds, texts.reported_file),
        }[name]
        return Prompt(name=name, text=text, duration_s=seconds, file=file)

    # ----------------------------------------------------------------- waiting

    async def _next_event(self, call: ActiveCall, deadline: float) -> Urc | None:
        """The next URC of this call before `deadline` (loop time); raises CallerGone."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):  # no task, unlike wait_for on 3.11
                    urc = await call.events.get()
            except TimeoutError:
                return None
            if isinstance(urc, CallEnded):
                raise CallerGone("caller_hung_up")
            if isinstance(urc, Ring):
                call.rings += 1
                continue  # RING repeats every few seconds until the call is answered
            return urc

    async def _wait_for(
        self, call: ActiveCall, event: asyncio.Event, *, hold: Prompt | None = None
    ) -> None:
        """Wait for an operator event; the caller may hang up meanwhile.

        With `hold`, that prompt is played again every HOLD_REPEAT_S while waiting.
        """
        loop = asyncio.get_running_loop()
        next_hold = loop.time() + HOLD_REPEAT_S
        waiter = asyncio.ensure_future(event.wait())
        try:
            while not event.is_set():
                getter = asyncio.ensure_future(call.events.get())
                timeout = None if hold is None else max(0.0, next_hold - loop.time())
                done, _ = await asyncio.wait(
                    {waiter, getter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    if isinstance(getter.result(), CallEnded):
                        raise CallerGone("caller_hung_up")
                    if self._decision_changed_while_ringing(call):
                        call.late_clip = False
                        raise DecisionChanged
                    continue
                getter.cancel()
                if not done and hold is not None:
                    await self._start_prompt(hold)
                    next_hold = loop.time() + HOLD_REPEAT_S
        finally:
            waiter.cancel()

    # ----------------------------------------------------------------- bookkeeping

    def _finish_call(self, call: ActiveCall, cause: str) -> None:
        if call.ended_ts is not None:
            return
        # On the call's own timeline: a wall clock stepped back mid-call (NTP correcting
        # a Pi's saved time) must not end it before it started.
        call.ended_ts = call.started_ts + self._elapsed_since(call.started_mono)
        call.end_cause = cause
        self._cancel_host_prompt()
        if call.voice_listener is not None:
            call.voice_listener.close()
        self._last_ended = (call, asyncio.get_running_loop().time())
        hung_up = cause == "caller_hung_up"
        if call.challenge_result is None and self.state is LineState.CHALLENGING and hung_up:
            call.challenge_result = ChallengeResult.CALLER_HUNG_UP
            if call.caller is not None:
                self._screener.note_challenge(
                    call.caller, call.challenge_result, call.ended_ts, call.voice_heard
                )
        fields: dict[str, Any] = {
            "ended_ts": call.ended_ts,
            "end_cause": cause,
            "line_seconds": round(call.ended_ts - call.started_ts, 3),
        }
        if call.challenge_result is not None:
            fields["challenge_result"] = call.challenge_result.value
        if call.decision is None:
            # The call ended before it was screened (caller hung up during the first ring).
            call.caller = call.caller or normalise(call.caller_id, self._region)
            call.decision = Decision(Action.PASS, Reason.DEFAULT, "ended_before_screening")
            self._recorder.call_started(call.call_id, self._start_fields(call))
        self._recorder.call_updated(call.call_id, fields)
        self.call = None
        self._report_finished_when_committed(call)
        if self.state in CALL_STATES:
            self._set_state(LineState.IDLE)
        self._start_call_that_rang_meanwhile(call)

    @staticmethod
    def _elapsed_since(started_mono: float) -> float:
        """Seconds since `started_mono` on the loop's monotonic clock (never negative)."""
        return max(0.0, asyncio.get_running_loop().time() - started_mono)

    def _start_call_that_rang_meanwhile(self, ended: ActiveCall) -> None:
        """A new caller's RING/+CLIP can arrive in the same read as the OK of the command
        that released the last call: the reader hands them to the call still in progress,
        which is ending. Left in its queue they would be lost, and the caller seen only at
        the next ring, 5 s later, or never if they give up first. Start that call now.
        (The ending call's own RINGs are consumed while it is screened and answered, so
        what is left after its end is a new caller's.)"""
        if self.call is not None or self.state is not LineState.IDLE:
            return
        leftovers: list[Urc] = []
        while not ended.events.empty():
            urc = ended.events.get_nowait()
            if isinstance(urc, Ring | Clip):
                leftovers.append(urc)
        if not leftovers:
            return
        now = asyncio.get_running_loop().time()
        if self._phantoms.in_burst(now) and not any(isinstance(u, Clip) for u in leftovers):
            self._phantoms.count(len(leftovers), now)  # bare RINGs of the burst: noise
            return
        logger.info("line %s: a new call rang as the last one ended", self.name)
        first, *rest = leftovers
        self._start_call(first)
        if self.call is not None:
            for urc in rest:
                self.call.events.put_nowait(urc)

    def _report_finished_when_committed(self, call: ActiveCall) -> None:
        """Tell the listener a call ended once its row is on disk.

        Whoever sees a call end (an operator's console, the log) can then rely on its row
        surviving a kill -9 or a power cut. The line itself is free at once; a stalled
        call log delays the report by at most COMMIT_WAIT_S, never the next call.
        """
        committed = asyncio.wrap_future(self._recorder.when_committed())
        task = asyncio.get_running_loop().create_task(self._report_finished(call, committed))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _report_finished(self, call: ActiveCall, committed: asyncio.Future[None]) -> None:
        try:
            await asyncio.wait_for(committed, COMMIT_WAIT_S)
        except TimeoutError:
            logger.warning(
                "line %s: call %d's row is not on disk yet (call log stalled)",
                self.name,
                call.call_id,
            )
        self._listener.call_finished(self, call)

    def _set_state(self, new: LineState) -> None:
        old = self.state
        if old is new:
            return
        self.state = new
        self._state_mono = _loop_time()
        self._state_wake.set()
        logger.debug("line %s: %s -> %s", self.name, old, new)
        if old is LineState.INITIALISING and self._missed:
            self._report_missed_ringing()
        if new not in (LineState.INITIALISING, LineState.FAILED):
            self._missed.clear()  # up (or stopped): the next caller is a call of its own
        self._listener.line_state_changed(self, old, new)

    def _require_channel(self) -> ATChannel:
        if self.channel is None:
            raise ChannelClosedError(f"line {self.name} has no open port")
        return self.channel

    def _require_family(self) -> ModemFamily:
        if self.family is None:
            raise RuntimeError(f"line {self.name} is not initialised")
        return self.family


_CCLK = re.compile(r'\+CCLK:\s*"(\d\d)/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d+)"')
NETWORK_TIME_FROM_YEAR = 2020  # older: the module's RTC default, not the network's time


def parse_cclk(lines: list[str]) -> float | None:
    """POSIX time from `+CCLK: "yy/MM/dd,hh:mm:ss±zz"` (local time, zone in quarter hours);
    None when absent, malformed or before NETWORK_TIME_FROM_YEAR."""
    for line in lines:
        match = _CCLK.search(line)
        if match is None:
            continue
        yy, month, day, hour, minute, second, quarters = (int(g) for g in match.groups())
        year = 1900 + yy if yy >= 70 else 2000 + yy  # "80/01/06": a 1980 RTC default
        if year < NETWORK_TIME_FROM_YEAR:
            return None
        try:
            zone = timezone(timedelta(minutes=15 * quarters))
            moment = datetime(year, month, day, hour, minute, second, tzinfo=zone)
        except ValueError:
            return None
        return moment.timestamp()
    return None


def _loop_time() -> float:
    """The running loop's clock (the watchdog's); 0 outside a loop (a line set up early)."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return 0.0


CLCC_INCOMING, CLCC_WAITING = 4, 5
_CLCC_STATES = {0: "active", 1: "held", 2: "dialing", 3: "alerting", 4: "incoming", 5: "waiting"}


def _call_statuses(lines: list[str]) -> list[CallStatus]:
    """The calls an AT+CLCC reply lists (a disconnecting one, state 6, is none)."""
    statuses = (parse_line(line) for line in lines)
    return [s for s in statuses if isinstance(s, CallStatus) and s.state in _CLCC_STATES]


def _parse_csq(lines: list[str]) -> int | None:
    """`+CSQ: 20,0` -> 20 (0-31, 99 = unknown)."""
    for line in lines:
        if line.startswith("+CSQ:"):
            value = line.removeprefix("+CSQ:").split(",")[0].strip()
            return int(value) if value.isdigit() else None
    return None


_REGISTRATION = {"0": "idle", "1": "home", "2": "searching", "3": "denied", "5": "roaming"}


def _parse_creg(lines: list[str]) -> str | None:
    """`+CREG: 0,1` -> 'home'."""
    for line in lines:
        if line.startswith("+CREG:"):
            fields = line.removeprefix("+CREG:").split(",")
            stat = fields[1].strip() if len(fields) > 1 else fields[0].strip()
            return _REGISTRATION.get(stat, "unknown")
    return None
