"""`siaga simulate` and `siaga demo`: the real appliance against virtual modems.

The real line service (policy, line state machines, AT over pseudo-terminals, SQLite call
log) runs against one `VirtualModem` per line. A `ScenarioDriver` plays each scenario call
as the caller would (ring, press keys, give up, talk, hang up) and `SimulatedOperators`
answer calls that reach them. With `VirtualTimeLoop` the month runs as fast as the machine
allows; with `ScaledTimeLoop` (the demo) it runs at a chosen multiple of real time.
`appliance.site_simulation` builds several boxes of one site from the same parts
(`start_modems`, `build_box`), one driver hunting over all their lines.

The network side follows the contract in docs/contracts.md: a call that arrives while
every line is busy is lost (the caller hears busy) and never rings a line. With call
waiting on the SIMs (`SimulationOptions.call_waiting`, the default) the network first
presents it waiting (`+CCWA`) on a line in conversation that has none yet: a line that
releases it busy loses it all the same, one that leaves it waiting rings it when its call
ends, unless the caller gave up (`waiting_patience_s`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import selectors
import sqlite3
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from appliance.clock import Clock, LoopClock, VirtualTimeLoop
from appliance.config import CallWaitingMode, Config, LineConfig
from appliance.desk import DESK_POLL_S
from appliance.line import ActiveCall, Line
from appliance.model import CallerNumber, LineState
from appliance.scenario import ScenarioCall, subscriber_key
from appliance.score import CallOutcome, incident_key, score
from appliance.service import RULE_POLL_S, LineService, OperatorDesk
from appliance.store import CallLog, RuleStore, open_readonly
from firmware.virtual_modem import CallerSound, ModemState, VirtualCall, VirtualModem

logger = logging.getLogger(__name__)

# Families the virtual lines cycle through by default, so every dialect is exercised.
# "generic" is left out: it has no in-call audio, so it cannot challenge (it fails open).
# The LTE modules come first, as Siaga recommends them (docs/hardware.md): they hand the
# call's audio to the host, so their lines can listen, and Indonesia has switched 3G off
# with 2G to follow. Calls take the first free line, so line1 carries most of them.
MIXED_FAMILIES = ("sim7600", "ec25", "sim800", "m95", "huawei")
LEAD_IN_S = 60.0  # lines are brought up this long before the first scenario call
STARTUP_TIMEOUT_S = 120.0  # loop seconds to wait for every line to become idle
# Virtual modems send call audio in 250 ms chunks, not a real modem's 20 ms frames: the
# listener is indifferent to chunk size and a simulated month runs several times faster.
SIMULATED_AUDIO_CHUNK_S = 0.5
WAITING_PATIENCE_S = 20.0  # a caller left waiting on a busy line gives up after this
CALL_BACK_TALK_S = 60.0  # an operator's call-back that is answered: ring, ask, note
CALL_BACK_LOOK_AGAIN_S = 30.0  # operators glance at the list this often in a flood
CALL_BACK_NO_ANSWER_S = 30.0  # one that rings out
# The columns of the service's row that say when it started and that it still runs.
SERVICE_ROW_TIMES = frozenset({"started_ts", "heartbeat_ts"})
# Callers' voices range from a low adult voice to a child's (pitch in Hz).
VOICE_PITCH_HZ = (95, 320)


@dataclass(frozen=True)
class SimulationOptions:
    """How the simulated centre is built."""

    lines: int = 4
    operators: int = 4
    operator_answer_s: float = 5.0
    family: str = "mixed"
    config: Config = field(default_factory=Config)
    # The SIMs have call waiting: a caller who finds every line busy is presented as
    # waiting (+CCWA) on a line in conversation that has no waiting call yet. A line that
    # releases them busy (`call_waiting = "reject"`) loses them (the contract's "lost
    # busy") but sees the attempt; one that keeps them (`queue`) answers them once its
    # call ends, if they are still waiting. Without call waiting they are lost unseen.
    call_waiting: bool = True
    # The longest a caller stays waiting on a busy line: the network's no-reply timer for
    # a waiting call, or the caller giving up sooner (their own patience).
    waiting_patience_s: float = WAITING_PATIENCE_S
    # What the lines do with a waiting caller (`LineConfig.call_waiting`); None: its default.
    line_call_waiting: CallWaitingMode | None = None
    # The operators' call-back protocol (docs/web-ui.md, "Call-back list"): an idle
    # operator calls back only while this many other operators stay free for incoming
    # calls, and not while flood mode is on (a flood's list is mostly the flood's own
    # numbers; its genuine callers redial, and the list waits for the flood to end).
    call_back_spare_operators: int = 1
    call_backs_in_flood: bool = False
    # The clock that stamps the service's own row (`service_state`: its start and its
    # heartbeat), which the web UI judges against its own clock to say whether the
    # service runs. None: the simulation's. The demo gives the machine's: its clock runs
    # `--speed` times faster than the web UI's.
    service_state_clock: Clock | None = None

    def family_of(self, index: int) -> str:
        """The modem family of line `index` (0-based)."""
        if self.family == "mixed":
            return MIXED_FAMILIES[index % len(MIXED_FAMILIES)]
        return self.family


@dataclass
class _CallInPlay:
    """A scenario call the driver is playing on a virtual modem."""

    scenario: ScenarioCall
    modem: VirtualModem
    virtual: VirtualCall
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    connected: bool = False

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


class ScenarioDriver:
    """Plays scenario calls as their callers would, on the virtual modems."""

    def __init__(
        self,
        modems: dict[str, VirtualModem],
        clock: LoopClock,
        challenge_key: str,
        *,
        call_waiting: bool = False,
        waiting_patience_s: float = WAITING_PATIENCE_S,
    ) -> None:
        self._modems = modems
        self._clock = clock
        self._challenge_key = challenge_key
        self._call_waiting = call_waiting
        self._waiting_patience_s = waiting_patience_s
        self.presented_waiting = 0
        self.answered_after_waiting = 0  # waiting callers a line took once it was free
        self._by_subscriber: dict[str, list[ScenarioCall]] = {}
        self._playing: dict[str, _CallInPlay] = {}  # line name -> call
        self._waiting: dict[str, _CallInPlay] = {}  # line name -> the call waiting there
        self.lost_busy: set[str] = set()
        self.ended: set[str] = set()
        self.reached: set[str] = set()  # scenario calls an operator answered
        self.skipped: set[str] = set()  # redials not made: the first call got through
        self.by_id: dict[str, ScenarioCall] = {}
        self._expected = 0
        self.finished = asyncio.Event()
        for name, modem in modems.items():
            modem.on_answered = self._callback(name, self._answered)
            modem.on_ended = self._callback(name, self._ended)

    def schedule(self, calls: Sequence[ScenarioCall]) -> None:
        """Arrange for every call to arrive at its time."""
        loop = asyncio.get_running_loop()
        self._expected = len(calls)
        for call in calls:
            self.by_id[call.id] = call
            subscriber = subscriber_key(call.caller)
            if subscriber is not None:
                self._by_subscriber.setdefault(subscriber, []).append(call)
            loop.call_at(self._clock.to_loop_time(call.at), self._arrive, call)
        if not calls:
            self.finished.set()

    def latest_call_of(self, subscriber: str, at_ts: float) -> ScenarioCall | None:
        """The subscriber's latest scenario call at or before `at_ts`."""
        found = None
        for call in self._by_subscriber.get(subscriber, ()):
            if call.at.timestamp() > at_ts:
                break
            found = call
        return found

    def scenario_ref(self, line_name: str) -> str | None:
        """The scenario id of the call ringing on `line_name` (for the call log)."""
        playing = self._playing.get(line_name)
        return playing.scenario.id if playing else None

    def operator_connected(self, line_name: str) -> None:
        """An operator answered: the caller talks `talk_s`, then hangs up."""
        playing = self._playing.get(line_name)
        if playing is None or playing.connected:
            return
        playing.connected = True
        self.reached.add(playing.scenario.id)
        playing.cancel_timers()
        loop = asyncio.get_running_loop()
        playing.timers.append(
            loop.call_later(playing.scenario.talk_s, self._caller_hangs_up, line_name)
        )

    def _arrive(self, call: ScenarioCall) -> None:
        if self._redial_needless(call):
            self.skipped.add(call.id)
            self._check_finished()
            return
        name = next(
            (
                n
                for n, m in self._modems.items()
                if n not in self._playing and m.is_up and m.state is ModemState.IDLE
            ),
            None,
        )
        if name is None:
            if not (self._call_waiting and self._present_waiting(call)):
                logger.debug("scenario %s: every line busy, lost", call.id)
                self.lost_busy.add(call.id)
                self._check_finished()
            return
        modem = self._modems[name]
        virtual = _dial(modem, call)
        playing = _CallInPlay(call, modem, virtual)
        self._playing[name] = playing
        self._give_up_after(playing, name, call.hangup_after_s)

    def _give_up_after(self, playing: _CallInPlay, line_name: str, delay_s: float) -> None:
        loop = asyncio.get_running_loop()
        playing.timers.append(loop.call_later(delay_s, self._caller_gives_up, line_name))

    def _redial_needless(self, call: ScenarioCall) -> bool:
        """A redial whose first call reached an operator, or is still on the line."""
        first = call.redial_of
        if first is None or first not in self.by_id:
            return False
        still_on = any(p.scenario.id == first for p in self._playing.values())
        return first in self.reached or first in self.skipped or still_on

    def _present_waiting(self, call: ScenarioCall) -> bool:
        """Knock on the first line in conversation that has no waiting call yet: the
        network's call waiting. False when no line can take a waiting call (the caller
        hears busy). The caller stays until the line takes them, they give up
        (`hangup_after_s`) or the network stops (`waiting_patience_s`)."""
        for name, modem in self._modems.items():
            if not modem.is_up or modem.state is not ModemState.ACTIVE or name in self._waiting:
                continue
            try:
                virtual = _dial(modem, call)
            except RuntimeError:  # already a waiting call there, or call waiting is off
                continue
            self.presented_waiting += 1
            waiting = _CallInPlay(call, modem, virtual)
            self._waiting[name] = waiting
            patience_s = min(call.hangup_after_s, self._waiting_patience_s)
            waiting.timers.append(
                asyncio.get_running_loop().call_later(patience_s, _give_up_waiting, modem, virtual)
            )
            return True
        return False

    def _waiting_ended(self, line_name: str, virtual: VirtualCall) -> bool:
        """The call waiting on `line_name` ended while still waiting: released busy by
        the line, given up by the caller or the network. That caller is lost busy."""
        waiting = self._waiting.get(line_name)
        if waiting is None or waiting.virtual is not virtual:
            return False
        waiting.cancel_timers()
        del self._waiting[line_name]
        self.lost_busy.add(waiting.scenario.id)
        self._check_finished()
        return True

    def _take_waiting(self, line_name: str) -> None:
        """The line's call ended with a caller still waiting: the modem rings that call
        now, and the caller hangs up at the end of their own patience, counted from
        their arrival (a caller who waits less long than that gave up waiting)."""
        waiting = self._waiting.pop(line_name, None)
        if waiting is None:
            return
        waiting.cancel_timers()
        if not waiting.virtual.live:
            self.lost_busy.add(waiting.scenario.id)
            return
        self.answered_after_waiting += 1
        self._playing[line_name] = waiting
        waited_s = self._clock.timestamp() - waiting.scenario.at.timestamp()
        self._give_up_after(
            waiting, line_name, max(0.0, waiting.scenario.hangup_after_s - waited_s)
        )

    def _answered(self, line_name: str, virtual: VirtualCall) -> None:
        playing = self._playing.get(line_name)
        if playing is None or playing.virtual is not virtual or playing.connected:
            return
        press = playing.scenario.answer.press
        if press is None:
            return
        keys = self._challenge_key if press == "?" else press
        loop = asyncio.get_running_loop()
        playing.timers.append(
            loop.call_later(playing.scenario.answer.after_s, self._presses, line_name, keys)
        )

    def _presses(self, line_name: str, keys: str) -> None:
        playing = self._playing.get(line_name)
        if playing is not None and not playing.connected:
            playing.modem.caller_presses(keys)

    def _caller_gives_up(self, line_name: str) -> None:
        playing = self._playing.get(line_name)
        if playing is not None and not playing.connected:
            playing.modem.caller_hangs_up(playing.virtual)

    def _caller_hangs_up(self, line_name: str) -> None:
        playing = self._playing.get(line_name)
        if playing is not None:
            playing.modem.caller_hangs_up(playing.virtual)

    def _ended(self, line_name: str, virtual: VirtualCall) -> None:
        if self._waiting_ended(line_name, virtual):
            return
        playing = self._playing.get(line_name)
        if playing is None or playing.virtual is not virtual:
            return
        playing.cancel_timers()
        del self._playing[line_name]
        self.ended.add(playing.scenario.id)
        self._take_waiting(line_name)
        self._check_finished()

    def _check_finished(self) -> None:
        if len(self.ended) + len(self.lost_busy) + len(self.skipped) >= self._expected:
            self.finished.set()

    def _callback(
        self, line_name: str, handler: Callable[[str, VirtualCall], None]
    ) -> Callable[[VirtualCall], None]:
        return lambda virtual: handler(line_name, virtual)


@dataclass(frozen=True)
class CallBack:
    """An operator called a listed caller back: `subscriber` as `subscriber_key` gives it."""

    subscriber: str
    listed_ts: float
    called_ts: float
    answered: bool


class SimulatedOperators:
    """A pool of operators: each answers a waiting call `answer_s` after becoming free, and
    an operator with no call waiting calls back the caller at the top of the call-back
    list (the newest release, as the console shows it; answered or not as the caller's
    latest scenario call says, `answer.call_back`) while `spare_operators` others stay
    free and, unless `call_backs_in_flood`, only outside flood mode (the list is looked
    at again when the flood ends)."""

    def __init__(
        self,
        service: LineService,
        driver: ScenarioDriver,
        count: int,
        answer_s: float,
        *,
        spare_operators: int = 1,
        call_backs_in_flood: bool = False,
    ) -> None:
        self._service = service
        self._driver = driver
        self._free = [f"operator{i + 1}" for i in range(count)]
        self._answer_s = answer_s
        self._waiting: deque[tuple[Line, ActiveCall]] = deque()
        self._talking: dict[int, str] = {}  # call id -> operator
        # subscriber -> (listed at, POSIX s; the number as the service saw it)
        self._call_back_list: dict[str, tuple[float, CallerNumber]] = {}
        self.call_backs: list[CallBack] = []
        # A centre with one operator keeps nobody spare: that operator calls back when idle.
        self._spare_operators = min(spare_operators, count - 1)
        self._call_backs_in_flood = call_backs_in_flood
        self._look_again: asyncio.TimerHandle | None = None

    def call_back_listed(self, caller: CallerNumber, reason: str, ts: float) -> None:
        """The service put a caller on the call-back list (one entry per subscriber)."""
        subscriber = subscriber_key(caller.e164)
        if subscriber is None:
            return
        # The console lists the newest release first, a caller released again moving up.
        listed_ts, _ = self._call_back_list.pop(subscriber, (ts, caller))
        self._call_back_list[subscriber] = (listed_ts, caller)
        self._dispatch()

    def call_started(self, line: Line, call: ActiveCall) -> None:
        """Label the call with the scenario call ringing on its line (for the score)."""
        call.scenario_ref = self._driver.scenario_ref(line.name)

    def call_waiting(self, line: Line, call: ActiveCall) -> None:
        """Queue the call; a free operator picks it up."""
        self._waiting.append((line, call))
        self._dispatch()

    def call_ended(self, line: Line, call: ActiveCall) -> None:
        """Record the disposition of a call an operator handled, and free the operator."""
        operator = self._talking.pop(call.call_id, None)
        if operator is None:
            return
        scenario = self._driver.by_id.get(call.scenario_ref or "")
        if scenario is not None:
            self._service.record_disposition(call.call_id, scenario.disposition, operator)
        self._free.append(operator)
        self._dispatch()

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._free and self._waiting:
            line, call = self._waiting.popleft()
            if call.ended_ts is not None:
                continue
            operator = self._free.pop(0)
            loop.call_later(self._answer_s, self._pick_up, operator, line, call)
        while self._may_call_back():
            subscriber, (listed_ts, caller) = next(reversed(self._call_back_list.items()))
            del self._call_back_list[subscriber]
            self._call_back(self._free.pop(0), subscriber, caller, listed_ts)

    def _may_call_back(self) -> bool:
        """An operator is free for a call-back under the protocol (see the class)."""
        if not self._call_back_list or self._waiting:
            return False
        if len(self._free) <= self._spare_operators:
            return False
        if self._call_backs_in_flood or not self._service.policy.flood_active:
            return True
        self._look_again_later()
        return False

    def _look_again_later(self) -> None:
        """Look at the list again in a while (the flood may have ended by then)."""
        if self._look_again is None:
            self._look_again = asyncio.get_running_loop().call_later(
                CALL_BACK_LOOK_AGAIN_S, self._looked_again
            )

    def _looked_again(self) -> None:
        self._look_again = None
        self._dispatch()

    def _call_back(
        self, operator: str, subscriber: str, caller: CallerNumber, listed_ts: float
    ) -> None:
        """Ring the caller back from the desk's own phone (not an incoming line)."""
        now_ts = self._service.clock.timestamp()
        latest = self._driver.latest_call_of(subscriber, now_ts)
        answered = latest is not None and latest.answer.call_back
        self.call_backs.append(CallBack(subscriber, listed_ts, now_ts, answered))
        if answered:
            # The operator marks the entry done, and the line service counts the contact
            # (it reads the mark from `peer_facts`; the simulation hands it over at once).
            self._service.policy.record_operator_contact(caller, now_ts)
        busy_s = CALL_BACK_TALK_S if answered else CALL_BACK_NO_ANSWER_S
        asyncio.get_running_loop().call_later(busy_s, self._free_again, operator)

    def _got_through(self, call: ActiveCall) -> None:
        """A caller on the call-back list reached an operator: off the list, as the
        service marks their entry done."""
        caller = call.caller
        subscriber = subscriber_key(caller.e164) if caller is not None else None
        if subscriber is not None:
            self._call_back_list.pop(subscriber, None)

    def _free_again(self, operator: str) -> None:
        self._free.append(operator)
        self._dispatch()

    def _pick_up(self, operator: str, line: Line, call: ActiveCall) -> None:
        if line.call is call and self._service.answer(line.name, operator):
            self._talking[call.call_id] = operator
            self._driver.operator_connected(line.name)
            self._got_through(call)
            return
        self._free.append(operator)
        self._dispatch()


def _dial(modem: VirtualModem, call: ScenarioCall) -> VirtualCall:
    """The scenario caller dials `modem`'s line (it rings, or waits behind a call)."""
    number, number_type = _caller_fields(call.caller)
    validity = 1 if call.caller is None else 0
    return modem.incoming_call(number, number_type, validity, sound=_caller_sound(call))


def _give_up_waiting(modem: VirtualModem, virtual: VirtualCall) -> None:
    """A waiting caller nobody took hangs up."""
    if virtual.live:
        modem.caller_hangs_up(virtual)


def _caller_sound(call: ScenarioCall) -> CallerSound:
    """The audio a scenario caller sends once answered; a voice starts with the keys."""
    low, high = VOICE_PITCH_HZ
    pitch_hz = low + zlib.crc32(call.id.encode()) % (high - low)  # stable per call
    return CallerSound(call.answer.sound, start_s=call.answer.after_s, pitch_hz=pitch_hz)


def _caller_fields(caller: str | None) -> tuple[str | None, int | None]:
    """The number and type-of-address a modem would report for a scenario caller."""
    if caller is None:
        return None, 128
    international = caller.startswith("+") or caller.startswith("62")
    return caller, 145 if international else 129


class ScaledTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock runs `speed` times faster than real time (the demo)."""

    def __init__(self, speed: float) -> None:
        self._speed = speed
        self._origin = time.monotonic()
        super().__init__(selector=_ScaledSelector(speed))

    def time(self) -> float:
        """Loop seconds: real seconds since start, times the speed."""
        return (time.monotonic() - self._origin) * self._speed


class _ScaledSelector(selectors.DefaultSelector):
    def __init__(self, speed: float) -> None:
        super().__init__()
        self._speed = speed

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return super().select(None if timeout is None else timeout / self._speed)


@dataclass
class SimulatedCentre:
    """Everything a simulation run builds: modems, service, driver, operators.

    `first_row_id`: calls rows with a greater id were written by this run (a database may
    hold earlier runs, whose scenario ids repeat).
    """

    modems: dict[str, VirtualModem]
    service: LineService
    driver: ScenarioDriver
    operators: SimulatedOperators
    call_log: CallLog
    first_row_id: int = 0


async def build_centre(
    db_path: Path,
    options: SimulationOptions,
    clock: LoopClock,
    *,
    health_interval_s: float,
    desk_poll_s: float | None = None,
) -> SimulatedCentre:
    """Start the virtual modems and a line service wired to them.

    `desk_poll_s`: how often the service takes requests from the web console (the demo);
    None in simulations, where no console runs.
    """
    first_row_id = max_call_id(db_path)
    modems, line_configs = await start_modems(options, range(options.lines))
    call_log = open_call_log(db_path, options.config, options.service_state_clock)
    driver = ScenarioDriver(
        modems,
        clock,
        options.config.challenge.key,
        call_waiting=options.call_waiting,
        waiting_patience_s=options.waiting_patience_s,
    )
    return build_box(
        BoxParts(db_path, options.config, modems, line_configs, call_log, first_row_id),
        driver,
        options,
        clock,
        health_interval_s=health_interval_s,
        desk_poll_s=desk_poll_s,
    )


async def start_modems(
    options: SimulationOptions, indexes: Sequence[int]
) -> tuple[dict[str, VirtualModem], list[LineConfig]]:
    """Start one virtual modem per line index (0-based, numbered over the whole centre:
    `line{index + 1}`), and the line configuration that points at each."""
    modems: dict[str, VirtualModem] = {}
    line_configs: list[LineConfig] = []
    for index in indexes:
        name = f"line{index + 1}"
        family = options.family_of(index)
        modem = VirtualModem(family, name=name, imei=f"35693803564{index:04d}")
        modem.audio_chunk_s = SIMULATED_AUDIO_CHUNK_S
        await modem.start()
        modems[name] = modem
        line_configs.append(
            LineConfig(
                name=name,
                port=modem.port,
                family=family,  # type: ignore[arg-type]
                desk=f"desk{index + 1}",
                voice_port=getattr(modem, "voice_port", None),
                **_call_waiting_field(options),
            )
        )
    return modems, line_configs


def _call_waiting_field(options: SimulationOptions) -> dict[str, Any]:
    mode = options.line_call_waiting
    return {} if mode is None else {"call_waiting": mode}


def open_call_log(
    db_path: Path, config: Config, service_state_clock: Clock | None = None
) -> CallLog:
    """The box's call log, open (created and migrated when new); the service's own row
    stamped by `service_state_clock` when one is given."""
    call_log = (
        CallLog(db_path, timezone=config.site.timezone)
        if service_state_clock is None
        else ServiceRowClockLog(db_path, service_state_clock, timezone=config.site.timezone)
    )
    call_log.open()
    return call_log


class ServiceRowClockLog(CallLog):
    """A call log whose `service_state` row (the service's start, its heartbeat, when the
    row changed) is stamped by a clock of its own; calls, events and lines keep the
    service's. The demo stamps that row with the machine's clock, which the web UI reads:
    the service then runs while the demo does and reads as stopped once it ends."""

    def __init__(self, path: Path, clock: Clock, *, timezone: str) -> None:
        super().__init__(path, timezone=timezone)
        self._row_clock = clock

    def set_service_state(self, fields: Mapping[str, Any], ts: float) -> None:
        """As `CallLog.set_service_state`, with the start, heartbeat and row times from
        this log's clock (`ts` is the service's)."""
        now_ts = self._row_clock.timestamp()
        stamped = {
            key: now_ts if key in SERVICE_ROW_TIMES else value for key, value in fields.items()
        }
        super().set_service_state(stamped, now_ts)


@dataclass(frozen=True)
class BoxParts:
    """What one box is built from: its database, its configuration, its lines' modems."""

    db_path: Path
    config: Config
    modems: dict[str, VirtualModem]
    line_configs: list[LineConfig]
    call_log: CallLog
    first_row_id: int


def build_box(
    parts: BoxParts,
    driver: ScenarioDriver,
    options: SimulationOptions,
    clock: LoopClock,
    *,
    health_interval_s: float,
    desk_poll_s: float | None = None,
) -> SimulatedCentre:
    """A line service on the box's modems, with `options.operators` simulated operators;
    `driver` may play the calls of several boxes (a site)."""
    config = parts.config
    call_log = parts.call_log
    service = LineService(
        config,
        call_log=call_log,
        rule_store=RuleStore(parts.db_path, timezone=config.site.timezone),
        clock=clock,
        lines=parts.line_configs,
        health_interval_s=health_interval_s,
        # With a desk (the demo: the web UI is there), rules and settings changed on its
        # pages apply as on the box, once a second of real time; a bare simulation reads
        # them once, at start.
        rule_poll_s=None if desk_poll_s is None else desk_poll_s * RULE_POLL_S / DESK_POLL_S,
        desk_poll_s=desk_poll_s,
        board=None,  # a simulation never touches a board: on a Pi it would pulse power keys
    )
    loop = asyncio.get_running_loop()
    if isinstance(loop, VirtualTimeLoop):
        for name, modem in parts.modems.items():
            loop.add_in_flight_probe(InFlightProbe(service.lines[name], modem))
        # A line waiting for its call's row to be committed is not idle either.
        loop.add_in_flight_probe(lambda: call_log.commit_waiters > 0)
    operators = SimulatedOperators(
        service,
        driver,
        options.operators,
        options.operator_answer_s,
        spare_operators=options.call_back_spare_operators,
        call_backs_in_flood=options.call_backs_in_flood,
    )
    service.desks.append(operators)
    return SimulatedCentre(parts.modems, service, driver, operators, call_log, parts.first_row_id)


def max_call_id(db_path: Path) -> int:
    """The highest call id already in the database (0 for a new one)."""
    if not db_path.exists():
        return 0
    connection = open_readonly(db_path)
    try:
        found = connection.execute("select max(id) from calls").fetchone()
    except sqlite3.OperationalError:
        return 0  # no calls table yet
    finally:
        connection.close()
    return int(found[0] or 0)


class InFlightProbe:
    """True while bytes are on their way between the line's channel and the modem.

    The virtual clock must not jump while they are: pseudo-terminal delivery is
    asynchronous in the kernel. The modem's byte counters are compared with the channel's.
    A line that reconnects to the same pty opens a new channel whose counters start at zero
    while the modem's do not, and pyserial's open() discards what the old channel left
    unread; so each channel is compared from the modem's counters as they stood while the
    line had no open channel (the back-off before the reopen). Exact unless the modem
    writes during that reopen.
    """

    def __init__(self, line: Line, modem: VirtualModem) -> None:
        self._line = line
        self._modem = modem
        self._channel: object = None
        self._base_sent = 0  # modem.bytes_sent when the current channel was opened
        self._base_received = 0
        self._idle = (0, 0)  # modem counters the last time no channel was open

    def __call__(self) -> bool:
        return self._at_in_flight() or self._audio_in_flight()

    def _at_in_flight(self) -> bool:
        channel = self._line.channel
        modem = self._modem
        if channel is None or not channel.is_open:
            self._idle = (modem.bytes_sent, modem.bytes_received)
            return False
        if channel is not self._channel:
            self._channel = channel
            self._base_sent, self._base_received = self._idle
        return (
            modem.bytes_sent - self._base_sent != channel.bytes_received
            or channel.bytes_sent != modem.bytes_received - self._base_received
        )

    def _audio_in_flight(self) -> bool:
        """Caller audio not yet read by a listening line (audio nobody listens to is not
        in flight: it waits, as on a real port, until the next open flushes it)."""
        call = self._line.call
        listener = call.voice_listener if call is not None else None
        return listener is not None and listener.is_open and self._modem.voice_bytes_unread > 0


async def wait_until_idle(service: LineService, timeout_s: float) -> None:
    """Wait (loop time) until every line has initialised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while any(line.state is not LineState.IDLE for line in service.lines.values()):
        if loop.time() > deadline:
            states = {name: line.state.value for name, line in service.lines.items()}
            raise RuntimeError(f"lines did not come up: {states}")
        await asyncio.sleep(0.5)


async def play_scenario(
    calls: Sequence[ScenarioCall],
    db_path: Path,
    options: SimulationOptions,
    clock: LoopClock,
    *,
    health_interval_s: float,
    desks: Sequence[OperatorDesk] = (),
    desk_poll_s: float | None = None,
) -> tuple[SimulatedCentre, float]:
    """Run the centre through every call; returns it and the real seconds taken."""
    centre = await build_centre(
        db_path, options, clock, health_interval_s=health_interval_s, desk_poll_s=desk_poll_s
    )
    centre.service.desks.extend(desks)
    centre.service.prepare()
    runner = asyncio.create_task(centre.service.run())
    started = time.monotonic()
    try:
        await wait_until_idle(centre.service, STARTUP_TIMEOUT_S)
        centre.driver.schedule(calls)
        finished = asyncio.create_task(centre.driver.finished.wait())
        # The service stops early only when told to (a restore under the demo's web UI).
        await asyncio.wait({finished, runner}, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        await asyncio.sleep(1.0)  # let the last rows and dispositions settle
    finally:
        centre.service.stop()
        await runner
        for modem in centre.modems.values():
            modem.close()
        centre.call_log.flush()
        centre.call_log.close()
    return centre, time.monotonic() - started


def run_simulation(
    calls: Sequence[ScenarioCall], db_path: Path, options: SimulationOptions
) -> dict[str, Any]:
    """The `siaga simulate` contract: run on a virtual clock, return the score."""
    if not calls:
        raise ValueError("the scenario has no calls")
    loop = VirtualTimeLoop()
    asyncio.set_event_loop(loop)
    epoch = calls[0].at - timedelta(seconds=LEAD_IN_S)
    clock = LoopClock(loop, epoch)
    try:
        centre, wall_s = loop.run_until_complete(
            play_scenario(calls, db_path, options, clock, health_interval_s=3600.0)
        )
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    # Redials that were never made (their first call got through) did not happen.
    calls = [call for call in calls if call.id not in centre.driver.skipped]
    outcomes = collect_outcomes(calls, db_path, centre.driver.lost_busy, centre.first_row_id)
    result = score(calls, outcomes)
    result["redials_not_made"] = len(centre.driver.skipped)
    result["presented_waiting"] = centre.driver.presented_waiting
    result |= call_back_figures(calls, outcomes, centre.operators.call_backs)
    result |= flood_figures(db_path, centre.first_row_id)
    result["wall_seconds"] = round(wall_s, 2)
    days = (calls[-1].at - calls[0].at).total_seconds() / 86_400
    result["simulated_days"] = round(days, 2)
    return result


def collect_outcomes(
    calls: Sequence[ScenarioCall], db_path: Path, lost_busy: set[str], after_row_id: int = 0
) -> dict[str, CallOutcome]:
    """Each scenario call's outcome, from the call log (and the driver's busy losses).

    Only rows with an id above `after_row_id` count: those this run wrote.
    """
    return collect_site_outcomes(calls, [(db_path, after_row_id)], lost_busy)


def collect_site_outcomes(
    calls: Sequence[ScenarioCall],
    call_logs: Sequence[tuple[Path, int]],
    lost_busy: set[str],
) -> dict[str, CallOutcome]:
    """Each scenario call's outcome from the call logs of every box of a site, each
    (database, the highest row id before this run): a call is on one box's log at most."""
    rows: dict[str, dict[str, Any]] = {}
    for db_path, after_row_id in call_logs:
        rows |= _rows_by_scenario_ref(db_path, after_row_id)
    outcomes: dict[str, CallOutcome] = {}
    for call in calls:
        row = rows.get(call.id)
        if call.id in lost_busy or row is None:
            outcomes[call.id] = CallOutcome(
                scenario_id=call.id,
                lost_busy=call.id in lost_busy,
                reached_operator=False,
                operator_delay_s=None,
                line_s=0.0,
                operator_s=0.0,
                decision=None,
                reason=None,
                challenge_result=None,
            )
            continue
        outcomes[call.id] = _outcome_from_row(call, row)
    return outcomes


def _rows_by_scenario_ref(db_path: Path, after_row_id: int) -> dict[str, dict[str, Any]]:
    connection = open_readonly(db_path)
    try:
        cursor = connection.execute(
            "select scenario_ref, started_ts, ended_ts, operator_ts, reached_operator, "
            "decision, reason, challenge_result from calls "
            "where scenario_ref is not null and id > ?",
            [after_row_id],
        )
        names = [column[0] for column in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}
    finally:
        connection.close()


def _outcome_from_row(call: ScenarioCall, row: dict[str, Any]) -> CallOutcome:
    ended = row["ended_ts"] if row["ended_ts"] is not None else row["started_ts"]
    operator_ts = row["operator_ts"]
    reached = bool(row["reached_operator"]) and operator_ts is not None
    return CallOutcome(
        scenario_id=call.id,
        lost_busy=False,
        reached_operator=reached,
        operator_delay_s=(operator_ts - call.at.timestamp()) if reached else None,
        line_s=max(0.0, ended - row["started_ts"]),
        operator_s=max(0.0, ended - operator_ts) if reached else 0.0,
        decision=row["decision"],
        reason=row["reason"],
        challenge_result=row["challenge_result"],
    )


def flood_figures(db_path: Path, after_row_id: int) -> dict[str, Any]:
    """When this run's flood mode came on and went off, and why (from the events)."""
    connection = open_readonly(db_path)
    try:
        first_call = connection.execute(
            "select min(started_ts) from calls where id > ?", [after_row_id]
        ).fetchone()[0]
        rows = connection.execute(
            "select kind, ts, detail from events where kind in ('flood_on', 'flood_off') "
            "and ts >= ? order by ts",
            [first_call if first_call is not None else 0.0],
        ).fetchall()
    finally:
        connection.close()
    periods: list[dict[str, Any]] = []
    for kind, ts, detail in rows:
        if kind == "flood_on":
            reason = json.loads(detail).get("reason") if detail else None
            periods.append({"on_ts": ts, "off_ts": None, "reason": reason})
        elif periods and periods[-1]["off_ts"] is None:
            periods[-1]["off_ts"] = ts
    return {"flood_periods": periods}


def call_back_figures(
    calls: Sequence[ScenarioCall],
    outcomes: dict[str, CallOutcome],
    call_backs: Sequence[CallBack],
) -> dict[str, Any]:
    """Incidents reached only by an operator's call-back, apart from those reached live.

    An incident no call of which reached an operator is reached by call-back when an
    answered call-back rang its caller after the incident's first call.
    """
    first_call: dict[tuple[str, str], float] = {}
    reached_live: set[tuple[str, str]] = set()
    for call in calls:
        if call.truth != "genuine":
            continue
        key = incident_key(call)
        first_call[key] = min(first_call.get(key, math.inf), call.at.timestamp())
        if outcomes[call.id].reached_operator:
            reached_live.add(key)
    answered: dict[str, list[float]] = {}
    for back in call_backs:
        if back.answered:
            answered.setdefault(back.subscriber, []).append(back.called_ts)
    delays = []
    for key, started in first_call.items():
        if key in reached_live:
            continue
        after = [ts for ts in answered.get(key[0], []) if ts >= started]
        if after:
            delays.append(min(after) - started)
    return {
        "incidents_reached_live": len(reached_live),
        "incidents_called_back": len(delays),
        "call_back_delay_max_s": round(max(delays), 1) if delays else None,
        "call_backs_made": len(call_backs),
        "call_backs_answered": sum(1 for back in call_backs if back.answered),
    }
