"""The screening policy: pure decisions over in-memory state, no I/O, no clock reads.

`decide()` turns a caller and the current `PolicyState` into a `Decision`; the line service
records what happens to calls (`record_arrival`, `record_operator_contact`,
`record_disposition`, `record_challenge_result`, `record_line_occupancy`, `tick`) and the
state keeps the little it needs: throttle windows, operator dispositions for the abuse
ladder, immunity after genuine calls, good history after passed challenges, and the flood
monitor. Time always comes in as `now` (POSIX seconds), so the same code runs on the box's
clock and on the simulator's virtual clock. At start-up `PolicyState.replay()` rebuilds
all of it from the call log, so a restart forgets nothing.

Decision order (first match wins; see `decide`):
1. allowlist -> pass. Hospitals, Damkar, police, PLN are never screened.
2. no number (withheld, unavailable, unparseable) -> the configured action (challenge by
   default). Such callers are a class, never a key for rules or counters. In flood mode
   they are rejected when the flood is made of them (the withheld class is hot), kept
   off the last free line (trunk reservation, below), or given the short challenge.
3. explicit block rule -> its action. It comes *before* immunity on purpose: a block rule
   is a supervisor's decision with a reason, and only a supervisor lifts it.
4. immune (a genuine disposition within `abuse.immunity_s`, and no prank or ghost
   verdict since) -> pass. Lifts every automatic restriction: flood, ladder, throttle.
5. flood mode, for a number without good history (a challenge passed within
   `good_history_s`): a hot number or number block -> reject (pattern-matched flood
   traffic, logged with the block as evidence); a first attempt that would take the last
   free line (`flood.reserve_lines`) -> reject, `flood:reserve` (the caller goes on the
   call-back list; a caller who tries again, or was seen waiting, gets the line);
   otherwise -> challenge, which the line plays as the short flood challenge. A number
   *with* good history has shown a human behind it: it goes on to 6-8.
6. abuse: a ladder restriction, or a reputation (junk verdicts decaying over weeks) at
   `abuse.reputation_threshold` -> `abuse.action`.
7. throttle: more than `throttle.max_calls` calls within `throttle.window_s` since the last
   operator contact -> `throttle.action`.
8. pass (or challenge a number with no good history, `challenge_unknown`).
Any exception inside `decide_safely` gives pass/fail_open. docs/floods.md has the flood
signals, the reservation and the measurements behind them.

Only operator dispositions move the ladder (R6): raw call counts only ever earn a
challenge through the throttle, never a listing.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from appliance.config import FloodConfig, PolicyConfig
from appliance.model import (
    JUNK_DISPOSITIONS,
    Action,
    CallerNumber,
    ChallengeResult,
    Decision,
    NumberClass,
    Reason,
    is_genuine,
)
from appliance.rules import RuleIndex, RuleLookup

logger = logging.getLogger(__name__)

DAY_S = 86_400.0
GHOST_RETENTION_S = DAY_S  # ghost_count() sees at least the last 24 h
PRUNE_INTERVAL_S = 60.0  # tick() sweeps stale callers at most this often
MIN_JUNK_KEPT = 64  # junk dispositions kept per number (>= the highest ladder count)
MIN_ARRIVALS_KEPT = 32  # arrival times kept per number (>= throttle.max_calls + 1)
# Junk verdicts are remembered this long for the reputation (the call log replays 31 days).
REPUTATION_HORIZON_S = 30 * DAY_S
MIN_HOT_PREFIX_NUMBERS = 2  # distinct numbers a number block needs before it can be hot
FLOOD_SHORT_RULE = "flood:short"  # a flood challenge the line plays short
# A flood challenge for a caller who tries again within `flood.redial_window_s`: the full
# challenge, and on a line that cannot listen, staying on through it is enough (see
# `appliance.line.Line._end_flood_challenge`).
FLOOD_RETRY_RULE = "flood:retry"
FLOOD_RESERVE_RULE = "flood:reserve"  # a first attempt kept off the last free line


def is_flood_signature_rule(rule: str | None) -> bool:
    """True for a flood decision on what the flood comes from: `flood:<number or block>`
    or `flood:no_number` (not the reservation, the short or the retry challenge)."""
    if rule is None or not rule.startswith("flood:"):
        return False
    return rule not in (FLOOD_SHORT_RULE, FLOOD_RETRY_RULE, FLOOD_RESERVE_RULE)


_NO_NUMBER_REASON = {
    NumberClass.WITHHELD: Reason.WITHHELD,
    NumberClass.UNAVAILABLE: Reason.UNAVAILABLE,
    NumberClass.UNPARSEABLE: Reason.UNPARSEABLE,
}


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class LadderStatus:
    """A number's active ladder restriction: `level` is 1-based, times are POSIX seconds."""

    level: int
    since: float
    until: float
    flag_supervisor: bool


# Why flood mode went on or off: one template per signal. The log, the alarm and the
# event carry the text; the web UI reads the same templates to put it in the viewer's
# language (`web_ui.core.wording.flood_reason_words`), so the two cannot drift apart.
FLOOD_REASONS: Mapping[str, str] = {
    "rate": "rate: {calls} calls in {window} s (limit {limit})",
    "waiting": "waiting: {callers} callers found the lines busy in {window} s",
    "saturation": (
        "saturation: lines {busy}% busy over {window} s, {seized} seized again within {within} s"
    ),
    "new_numbers": "new numbers: {numbers} unknown numbers in {window} s",
    "withheld": "withheld: {withheld} of {calls} calls without a number in {window} s",
    "one_number": "one number: {calls} calls from {number} in {window} s",
    "number_block": "number block {block}: {calls} calls from {numbers} numbers in {window} s",
    "site": "site: {box} in flood mode",
    "restart": "restart",
    "quiet": "quiet for {window} s",
    "switched_off": "flood detection switched off",
}


# The longest another box's flood counts here without word of its end (a lost message).
SITE_FLOOD_MAX_S = 2 * 3600.0


def flood_reason(signal: str, **figures: object) -> str:
    """The reason for `signal` with its figures, as the log and the events carry it."""
    return FLOOD_REASONS[signal].format(**figures)


@dataclass(frozen=True, slots=True)
class FloodChange:
    """Flood mode was entered or left: the service raises or clears the alarm.

    `reason` says why in words for the log and the alarm; `hot_prefix` is the number block
    (E.164 without its last digits) that carried most of the traffic at entry, if any.
    """

    kind: Literal["entered", "left"]
    at: float
    reason: str
    hot_prefix: str | None = None

    @property
    def entered(self) -> bool:
        """True when flood mode was entered (raise the alarm), False when left (clear it)."""
        return self.kind == "entered"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """What `PolicyState.replay` needs from one call-log row (times in POSIX seconds).

    `challenge_at` (when the challenge ended) is optional because the call log has no such
    column; without it the call's start is used, which only shortens good history by the
    length of the challenge (conservative: the caller is challenged again slightly sooner).
    """

    caller_e164: str | None
    number_class: NumberClass
    started_at: float
    reached_operator: bool
    operator_at: float | None
    disposition: str | None
    disposition_at: float | None
    challenge_result: str | None
    challenge_at: float | None = None
    voice_heard: bool | None = None  # what the line heard while challenging


@dataclass(frozen=True, slots=True)
class SharedFact:
    """A fact an appliance of the site recorded on a number at `at`: a verdict (`value`: a
    disposition), a verdict withdrawn (`value`: the earlier verdict an operator replaced
    on a call), a challenge outcome (`value`: a `ChallengeResult`), or a call-back served
    (`value`: `done`: an operator reached the caller, which counts as an operator's
    contact, as on the box that listed them); or, with no caller, the flood mode of the
    appliance `origin` (`flood`, `value` `on` or `off`)."""

    caller_e164: str
    kind: Literal["verdict", "withdrawn", "challenge", "callback", "flood"]
    value: str
    at: float
    origin: str = ""


@dataclass(slots=True)
class _LadderTrigger:
    """One ladder level's restriction: entered `at`, extended by each later trigger."""

    level: int  # 1-based
    at: float
    until: float
    flag_supervisor: bool


@dataclass(slots=True)
class _CallerRecord:
    """Everything the policy remembers about one E.164 number; all fields bounded."""

    arrivals: deque[float]
    last_seen: float
    last_operator_at: float | None = None
    last_genuine_at: float | None = None
    last_passed_at: float | None = None
    last_unheard_at: float | None = None  # a challenge listened to and heard nobody
    last_junk_at: float | None = None
    last_waiting_at: float | None = None  # seen waiting on a busy line (+CCWA)
    last_arrival_at: float | None = None
    prior_arrival_at: float | None = None  # the arrival before the last one
    junk: deque[tuple[float, bool]] | None = None  # (disposition time, is_ghost)
    ladder: dict[int, _LadderTrigger] = field(default_factory=dict)  # by level, active only


# --------------------------------------------------------------------------- flood monitor


class FloodMonitor:
    """Flood (TDoS) detection from signals a flood cannot hide.

    A call that finds every line busy never reaches a modem, so a flood shows the
    appliance only a trickle of its calls; counting arrivals alone misses it. Flood mode is
    entered when any of these holds (each one's words go into the alarm and the dashboard):

    - **rate**: more than `max_calls_in_window` arrivals within `rate_window_s`;
    - **saturation**: over the last `saturation_s`, the lines were busy at least
      `saturation_occupancy` of the time *and* lines were seized again within `reseize_s`
      of a release at least `reseize_min` times (a line freed for half a second between
      two junk calls no longer hides the flood; one long call on a one-line site, with no
      quick re-seizures, is not a flood);
    - **waiting**: at least `waiting_min_calls` callers seen waiting on a busy line
      (`+CCWA`, call waiting enabled on the SIM) within `saturation_s`: each is a caller
      who found the lines busy;
    - **new numbers**: at least `new_numbers_min` arrivals from numbers the policy has no
      memory of within `rate_window_s` (a month of ordinary traffic brings a few a hour);
    - **concentration**: within `rate_window_s`, one number with at least
      `number_min_calls` calls, or one number block (the number without its last 2 digits,
      and without its last `block_prefix_digits`) with at least `block_min_calls` calls
      from at least `block_min_numbers` numbers, in either case at least `block_min_share`
      of the numbered arrivals;
    - **withheld**: at least `withheld_min_calls` arrivals without a number within
      `rate_window_s`, at least `withheld_min_share` of all arrivals.

    - **site**: another appliance of the site is in flood mode by a signal of its own
      (`site_flood`): the network hunts one number over every box's lines, so the next
      box sees only the overflow of a flood the first one recognised.

    It is left once none has held for `quiet_s`. While active, what the flood comes from
    is *hot*, and the policy rejects it: a number or block with at least `block_min_calls`
    calls and `block_min_share` of the numbered arrivals (a block only from at least
    `MIN_HOT_PREFIX_NUMBERS` numbers, so one caller redialling is never a block), and the
    withheld class when its share holds. Callers seen waiting count as arrivals. Times
    passed in must not run backwards (a clock stepped back only makes the windows
    approximate until time catches up).
    """

    def __init__(self, config: FloodConfig) -> None:
        self.config = config
        self._arrivals: deque[tuple[float, str | None, bool]] = deque()  # (t, E.164, new)
        self._number_counts: Counter[str] = Counter()  # calls per number in the window
        self._block_calls: dict[int, Counter[str]] = {}  # digits dropped -> block -> calls
        self._block_numbers: dict[int, Counter[str]] = {}  # digits dropped -> distinct numbers
        self._numbered = 0
        self._withheld = 0
        self._new_numbers = 0
        self._waiting: deque[float] = deque()
        self._occupancy: deque[tuple[float, float]] = deque()  # (since, busy fraction)
        self._released_at: float | None = None
        self._busy = 0
        self._total = 0
        self._screening = 0
        self._reseizures: deque[float] = deque()
        self._last_hot_at: float | None = None
        self._active_since: float | None = None
        self._concentrated: str | None = None  # the block that started flood mode, if one did
        self._site_floods: dict[str, float] = {}  # another box -> when its flood began
        self._reset_levels()

    def _reset_levels(self) -> None:
        levels = self.levels()
        self._block_calls = {digits: Counter() for digits in levels}
        self._block_numbers = {digits: Counter() for digits in levels}
        for e164, calls in self._number_counts.items():
            for digits in levels:
                block = self.block_of(e164, digits)
                self._block_calls[digits][block] += calls
                self._block_numbers[digits][block] += 1

    def reconfigure(self, config: FloodConfig) -> None:
        """New thresholds; what is in the windows stays."""
        self.config = config
        self._reset_levels()

    def levels(self) -> tuple[int, ...]:
        """How many trailing digits each watched number block drops (narrowest first)."""
        return tuple(sorted({2, self.config.block_prefix_digits}))

    def clock_stepped(self, now: float) -> None:
        """The wall clock jumped (NTP, a manual set): occupancy restarts its timing from
        `now`, so a step made while every line is busy is not taken for hours of it."""
        last = self._occupancy[-1][1] if self._occupancy else 0.0
        self._occupancy.clear()
        self._occupancy.append((now, last))
        self._reseizures.clear()
        self._released_at = None

    @property
    def active(self) -> bool:
        """True while in flood mode."""
        return self._active_since is not None

    @staticmethod
    def block_of(e164: str, digits: int) -> str:
        """The number block of an E.164 number without its last `digits` digits."""
        return e164[: max(2, len(e164) - digits)]

    def prefix_of(self, e164: str) -> str:
        """The widest number block watched (`block_prefix_digits`) an E.164 number is in."""
        return self.block_of(e164, self.config.block_prefix_digits)

    def arrivals_in_window(self) -> int:
        """Arrivals (numbered or not, waiting callers included) in the rate window."""
        return len(self._arrivals)

    def record_arrival(
        self, e164: str | None, now: float, *, new_number: bool = False
    ) -> list[FloodChange]:
        """Count one arrival; `e164` None for callers without a number; `new_number` when
        the policy had no memory of the number."""
        new = new_number and e164 is not None
        self._arrivals.append((now, e164, new))
        self._new_numbers += new
        if e164 is None:
            self._withheld += 1
        else:
            self._count_number(e164, +1)
        return self._evaluate(now, arrived=e164)

    def record_waiting(
        self, e164: str | None, now: float, *, new_number: bool
    ) -> list[FloodChange]:
        """A caller seen waiting on a busy line (`+CCWA`): an arrival that found no line."""
        self._waiting.append(now)
        return self.record_arrival(e164, now, new_number=new_number)

    def record_line_occupancy(
        self, busy: int, total: int, now: float, *, screening: int | None = None
    ) -> list[FloodChange]:
        """Report how many of the lines are busy (call on every change), and how many of
        those are still being screened (ringing, challenging, releasing: not yet with an
        operator; default: all of them)."""
        self._screening = busy if screening is None else screening
        fraction = min(1.0, busy / total) if total > 0 else 0.0
        if busy < self._busy:
            self._released_at = now
        elif busy > self._busy and self._released_at is not None:
            if now - self._released_at <= self.config.reseize_s:
                self._reseizures.append(now)
            self._released_at = None
        self._busy = busy
        self._total = total
        if self._occupancy and self._occupancy[-1][0] == now:
            self._occupancy.pop()
        self._occupancy.append((now, fraction))
        return self._evaluate(now)

    def site_flood(self, box: str, on: bool, at: float) -> None:
        """Another appliance of the site entered (`on`) or left flood mode at `at`; the
        next `tick` follows. An entry not followed by its end lapses after
        `SITE_FLOOD_MAX_S`, so a lost message never holds this box in flood mode."""
        if on:
            self._site_floods[box] = at
        else:
            self._site_floods.pop(box, None)

    def tick(self, now: float) -> list[FloodChange]:
        """Advance time: enter on sustained saturation, leave after a quiet spell; look
        for concentration everywhere (an arrival looks only at its own number and blocks,
        so the call path stays short; a share raised by older calls ageing out is seen
        here, within a tick)."""
        return self._evaluate(now, scan_all=True)

    def is_hot(self, e164: str) -> str | None:
        """The hot number or block containing `e164` while flood mode is active, else None."""
        if not self.active:
            return None
        if self._number_is_hot(e164):
            return e164
        for digits in self.levels():
            block = self.block_of(e164, digits)
            if self._block_is_hot(digits, block, MIN_HOT_PREFIX_NUMBERS):
                return block
        return None

    def must_keep_line_free(self) -> bool:
        """True while flood mode is on, taking this call leaves fewer than `reserve_lines`
        lines free (never all of them: a one-line site reserves none), and another line is
        busy screening: lines taken by operators' conversations are not the flood's."""
        reserve = min(self.config.reserve_lines, self._total - 1)
        others_screening = self._screening - 1  # the call being decided is one
        return self.active and self._total - self._busy < reserve and others_screening >= 1

    def lines_scarce(self) -> bool:
        """True when taking this call leaves at most `short_challenge_free_lines` free: the
        moment to make a challenge short."""
        free = self._total - self._busy
        return self._total > 0 and free <= self.config.short_challenge_free_lines

    def withheld_is_hot(self) -> bool:
        """True while flood mode is on and callers without a number carry it."""
        return self.active and self._withheld_dominates()

    def hot_prefixes(self) -> list[str]:
        """Every hot number and block right now (empty outside flood mode), busiest first."""
        if not self.active:
            return []
        hot = [
            (calls, block)
            for digits in self.levels()
            for block, calls in self._block_calls[digits].items()
            if self._block_is_hot(digits, block, MIN_HOT_PREFIX_NUMBERS)
        ]
        hot += [(c, n) for n, c in self._number_counts.items() if self._number_is_hot(n)]
        return [name for _, name in sorted(hot, key=lambda item: (-item[0], item[1]))]

    # ---- internals ------------------------------------------------------------------

    def _count_number(self, e164: str, step: int) -> None:
        self._numbered += step
        before = self._number_counts[e164]
        after = before + step
        if after > 0:
            self._number_counts[e164] = after
        else:
            del self._number_counts[e164]
        for digits in self.levels():
            block = self.block_of(e164, digits)
            _adjust(self._block_calls[digits], block, step)
            if before == 0 or after == 0:
                _adjust(self._block_numbers[digits], block, step)

    def _share_holds(self, calls: int) -> bool:
        return calls >= self.config.block_min_share * self._numbered

    def _number_is_hot(self, e164: str) -> bool:
        # One number needs far more calls than a block: a desperate caller whose calls
        # keep dropping redials every 20 s or so, and must never be taken for a flood.
        calls = self._number_counts.get(e164, 0)
        return calls >= self.config.number_min_calls and self._share_holds(calls)

    def _block_is_hot(self, digits: int, block: str, min_numbers: int, min_calls: int = 0) -> bool:
        calls = self._block_calls[digits].get(block, 0)
        return (
            calls >= (min_calls or self.config.block_min_calls)
            and self._share_holds(calls)
            and self._block_numbers[digits].get(block, 0) >= min_numbers
        )

    def _withheld_dominates(self) -> bool:
        return (
            self._withheld >= self.config.withheld_min_calls
            and self._withheld >= self.config.withheld_min_share * len(self._arrivals)
        )

    def _evaluate(
        self, now: float, arrived: str | None = None, *, scan_all: bool = False
    ) -> list[FloodChange]:
        if not self.config.enabled:
            return self._leave(now, flood_reason("switched_off")) if self.active else []
        self._expire(now)
        reason = self._hot_reason(now, arrived, scan_all)
        if reason is not None:
            self._last_hot_at = now
            if not self.active:
                return [self._enter(now, reason)]
            return []
        if self.active and self._is_quiet(now):
            return self._leave(now, flood_reason("quiet", window=f"{self.config.quiet_s:.0f}"))
        return []

    def _leave(self, now: float, why: str) -> list[FloodChange]:
        self._active_since = None
        logger.warning("flood mode left at %.0f: %s", now, why)
        return [FloodChange("left", now, why)]

    def _expire(self, now: float) -> None:
        """Drop what is older than each signal's window."""
        horizon = now - self.config.rate_window_s
        arrivals = self._arrivals
        limit = self.config.max_calls_in_window
        if len(arrivals) > limit and arrivals[0][0] <= horizon:
            # The rate was over the limit until the (limit+1)-th newest arrival aged out;
            # recording that exact moment makes the exit time independent of tick rate.
            aged_out_at = min(now, arrivals[-(limit + 1)][0] + self.config.rate_window_s)
            if self._last_hot_at is None or aged_out_at > self._last_hot_at:
                self._last_hot_at = aged_out_at
        while arrivals and arrivals[0][0] <= horizon:
            _, e164, new = arrivals.popleft()
            self._new_numbers -= new
            if e164 is None:
                self._withheld -= 1
            else:
                self._count_number(e164, -1)
        short_horizon = now - self.config.saturation_s
        for times in (self._waiting, self._reseizures):
            while times and times[0] <= short_horizon:
                times.popleft()
        occupancy = self._occupancy
        while len(occupancy) > 1 and occupancy[1][0] <= short_horizon:
            occupancy.popleft()
        for box, since in list(self._site_floods.items()):
            if since <= now - SITE_FLOOD_MAX_S:
                del self._site_floods[box]

    def _busy_fraction(self, now: float) -> float:
        """The lines' busy share of the last `saturation_s` (0 before any report)."""
        window_s = self.config.saturation_s
        start = now - window_s
        busy_s = 0.0
        points = list(self._occupancy)
        for index, (since, fraction) in enumerate(points):
            until = points[index + 1][0] if index + 1 < len(points) else now
            busy_s += fraction * max(0.0, min(until, now) - max(since, start))
        return busy_s / window_s

    def _hot_reason(self, now: float, arrived: str | None, scan_all: bool) -> str | None:
        """Why the flood condition holds right now, or None."""
        config = self.config
        calls = len(self._arrivals)
        window = f"{config.rate_window_s:.0f}"
        short = f"{config.saturation_s:.0f}"
        if calls > config.max_calls_in_window:
            return flood_reason(
                "rate", calls=calls, window=window, limit=config.max_calls_in_window
            )
        if len(self._waiting) >= config.waiting_min_calls:
            return flood_reason("waiting", callers=len(self._waiting), window=short)
        if len(self._reseizures) >= config.reseize_min:
            busy = self._busy_fraction(now)
            if busy >= config.saturation_occupancy:
                return flood_reason(
                    "saturation",
                    busy=round(busy * 100),
                    window=short,
                    seized=len(self._reseizures),
                    within=f"{config.reseize_s:g}",
                )
        if self._new_numbers >= config.new_numbers_min:
            return flood_reason("new_numbers", numbers=self._new_numbers, window=window)
        if self._withheld_dominates():
            return flood_reason("withheld", withheld=self._withheld, calls=calls, window=window)
        if scan_all:
            found = self._concentration_reason(window, list(self._number_counts))
        else:
            found = self._concentration_reason(window, [arrived] if arrived else [])
        if found is None and self._site_floods:
            box = min(self._site_floods, key=lambda name: (self._site_floods[name], name))
            return flood_reason("site", box=box)
        return found

    def _concentration_reason(self, window: str, numbers: list[str]) -> str | None:
        """Concentration on any of `numbers` or on the blocks they are in."""
        config = self.config
        for e164 in numbers:
            calls = self._number_counts.get(e164, 0)
            if calls >= config.number_min_calls and self._share_holds(calls):
                return flood_reason("one_number", calls=calls, number=e164, window=window)
        for digits in self.levels():
            blocks = dict.fromkeys(self.block_of(e164, digits) for e164 in numbers)
            for block in blocks:
                calls = self._block_calls[digits].get(block, 0)
                least = config.block_min_numbers
                if self._block_is_hot(digits, block, least, min_calls=least):
                    callers = self._block_numbers[digits][block]
                    self._concentrated = block
                    shown = f"{block}{'x' * digits}"
                    return flood_reason(
                        "number_block", block=shown, calls=calls, numbers=callers, window=window
                    )
        return None

    def _is_quiet(self, now: float) -> bool:
        last_hot = self._last_hot_at if self._last_hot_at is not None else now
        return now - last_hot >= self.config.quiet_s

    def _enter(self, now: float, reason: str) -> FloodChange:
        self._active_since = now
        hot = self.hot_prefixes()
        hot_prefix = hot[0] if hot else self._concentrated
        if hot_prefix is None and self._withheld_dominates():
            hot_prefix = "withheld"
        self._concentrated = None
        logger.warning("flood mode entered at %.0f: %s (hot %s)", now, reason, hot_prefix)
        return FloodChange("entered", now, reason, hot_prefix)


def _adjust(counter: Counter[str], key: str, step: int) -> None:
    """Add `step` to a count, deleting it at zero (keeps the counters bounded)."""
    value = counter[key] + step
    if value > 0:
        counter[key] = value
    else:
        del counter[key]


# --------------------------------------------------------------------------- state


class PolicyState:
    """What the policy remembers, in memory; owned by the line service (single-threaded).

    Every update takes `now`; old timestamps are purged when a number is touched, and
    `prune(now)` (also run by `tick` every `PRUNE_INTERVAL_S`) drops numbers with nothing
    left worth remembering. Retention per number: arrivals for `throttle.window_s`, junk
    dispositions for the longest ladder window (at least 24 h), ladder restrictions until
    they end, genuine calls for `abuse.immunity_s`, passed challenges for `good_history_s`.
    Events are expected in time order (as they happen, or as `replay` sorts them); a clock
    stepped backwards only makes the windows approximate until time catches up.
    """

    def __init__(
        self,
        config: PolicyConfig | None = None,
        allow: RuleLookup | None = None,
        block: RuleLookup | None = None,
    ) -> None:
        self.config = config if config is not None else PolicyConfig()
        self.allow: RuleLookup = allow if allow is not None else RuleIndex(kind="allow")
        self.block: RuleLookup = block if block is not None else RuleIndex(kind="block")
        self.flood = FloodMonitor(self.config.flood)
        self._callers: dict[str, _CallerRecord] = {}
        ladder = self.config.abuse.ladder
        self._junk_retention_s = max(
            [GHOST_RETENTION_S, REPUTATION_HORIZON_S, *(step.within_s for step in ladder)]
        )
        self._junk_kept = max([MIN_JUNK_KEPT, *(step.count for step in ladder)])
        self._arrivals_kept = max(MIN_ARRIVALS_KEPT, self.config.throttle.max_calls + 1)
        self._last_prune_at: float | None = None

    def reconfigure(self, config: PolicyConfig) -> None:
        """New thresholds for a running policy (settings changed in the web UI): what it
        remembers of each number stays, the windows and the ladder apply from now on."""
        self.config = config
        self.flood.reconfigure(config.flood)
        ladder = config.abuse.ladder
        self._junk_retention_s = max(
            [GHOST_RETENTION_S, REPUTATION_HORIZON_S, *(step.within_s for step in ladder)]
        )
        self._junk_kept = max([MIN_JUNK_KEPT, *(step.count for step in ladder)])
        self._arrivals_kept = max(MIN_ARRIVALS_KEPT, config.throttle.max_calls + 1)

    # ---- queries (never mutate) ------------------------------------------------------

    @property
    def flood_active(self) -> bool:
        """True while flood mode is on."""
        return self.flood.active

    def __len__(self) -> int:
        """Numbers currently remembered."""
        return len(self._callers)

    def calls_in_window(self, e164: str, now: float, window_s: float) -> int:
        """Arrivals from `e164` within `window_s` before `now`, since its last operator contact."""
        record = self._callers.get(e164)
        if record is None:
            return 0
        horizon = now - window_s
        if record.last_operator_at is not None:
            horizon = max(horizon, record.last_operator_at)
        count = 0
        for arrived_at in reversed(record.arrivals):
            if arrived_at <= horizon:
                break
            if arrived_at <= now:
                count += 1
        return count

    def ladder_status(self, e164: str, now: float) -> LadderStatus | None:
        """The highest active ladder restriction of a number, or None."""
        record = self._callers.get(e164)
        if record is None or not record.ladder:
            return None
        active = [t for t in record.ladder.values() if t.at <= now < t.until]
        if not active:
            return None
        top = max(active, key=lambda trigger: trigger.level)  # higher levels override
        return LadderStatus(top.level, top.at, top.until, top.flag_supervisor)

    def reputation(self, e164: str, now: float, half_life_s: float | None = None) -> float:
        """The number's junk reputation: each prank or ghost verdict of the last 30 days
        counts 1, halved every `abuse.reputation_half_life_s` since it was recorded."""
        if half_life_s is None:
            half_life_s = self.config.abuse.reputation_half_life_s
        record = self._callers.get(e164)
        if record is None or not record.junk:
            return 0.0
        horizon = now - REPUTATION_HORIZON_S
        return float(
            sum(0.5 ** ((now - at) / half_life_s) for at, _ in record.junk if horizon < at <= now)
        )

    def junk_count(self, e164: str, now: float, window_s: float) -> int:
        """Prank and ghost dispositions of a number within `window_s` before `now`."""
        return self._count_junk(e164, now, window_s, ghosts_only=False)

    def ghost_count(self, e164: str, now: float, window_s: float) -> int:
        """Ghost dispositions of a number within `window_s` (remembered for at least 24 h)."""
        return self._count_junk(e164, now, window_s, ghosts_only=True)

    def is_immune(self, e164: str, now: float, immunity_s: float | None = None) -> bool:
        """True when the number had a genuine disposition within `abuse.immunity_s`."""
        if immunity_s is None:
            immunity_s = self.config.abuse.immunity_s
        record = self._callers.get(e164)
        return record is not None and _within(record.last_genuine_at, now, immunity_s)

    def has_good_history(self, e164: str, now: float, config: PolicyConfig | None = None) -> bool:
        """Immune, or passed a challenge within `good_history_s` with a clean record.

        Children learn which key to press, so a pass is no evidence of good faith when a
        prank or ghost disposition came after it, or within `junk_evidence_s` before it (a
        reported number pressing the key; it may also hang up while held, before any
        operator could record the next prank).
        """
        config = config if config is not None else self.config
        record = self._callers.get(e164)
        if record is None:
            return False
        if _within(record.last_genuine_at, now, config.abuse.immunity_s):
            return True
        passed = record.last_passed_at
        if passed is None or not _within(passed, now, config.good_history_s):
            return False
        junk = record.last_junk_at
        return junk is None or passed - junk > config.junk_evidence_s

    def tried_recently(self, e164: str, now: float, window_s: float) -> bool:
        """True when the number called before this call, or was seen waiting, within
        `window_s`: a caller who found the lines busy, or was released, and tries again."""
        record = self._callers.get(e164)
        if record is None:
            return False
        return _within(record.last_waiting_at, now, window_s) or _within(
            record.prior_arrival_at, now, window_s
        )

    def has_junk_evidence(self, e164: str, now: float, window_s: float) -> bool:
        """True when the number had a prank or ghost disposition within `window_s`."""
        record = self._callers.get(e164)
        return record is not None and _within(record.last_junk_at, now, window_s)

    # ---- updates --------------------------------------------------------------------

    def record_arrival(self, caller: CallerNumber, now: float) -> list[FloodChange]:
        """A call arrived (caller ID known). Call before `decide` for that call."""
        e164 = caller.e164 if caller.is_number else None
        new_number = False
        if e164 is not None:
            new_number = e164 not in self._callers
            record = self._record(e164, now)
            record.arrivals.append(now)
            record.prior_arrival_at, record.last_arrival_at = record.last_arrival_at, now
            self._purge_arrivals(record, now)
        return self.flood.record_arrival(e164, now, new_number=new_number)

    def record_waiting(self, caller: CallerNumber, now: float) -> list[FloodChange]:
        """A caller seen waiting on a busy line and released busy: a flood signal only.

        The number's own counters (throttle, history) do not move: the caller never
        reached the appliance, and a desperate genuine caller redialling into a flood must
        not be throttled for calls that found the lines busy.
        """
        e164 = caller.e164 if caller.is_number else None
        new_number = e164 is not None and e164 not in self._callers
        if e164 is not None:
            record = self._record(e164, now)
            record.last_waiting_at = _latest(record.last_waiting_at, now)
        return self.flood.record_waiting(e164, now, new_number=new_number)

    def record_operator_contact(self, caller: CallerNumber, now: float) -> None:
        """An operator answered this caller: the throttle window starts again."""
        if caller.is_number and caller.e164 is not None:
            record = self._record(caller.e164, now)
            record.last_operator_at = _latest(record.last_operator_at, now)

    def record_disposition(self, caller: CallerNumber, disposition: str, now: float) -> None:
        """The operator's verdict: prank/ghost climb the ladder, `genuine:*` grants immunity."""
        if not (caller.is_number and caller.e164 is not None):
            return  # no-number callers are a class, never a ladder key (R10)
        if is_genuine(disposition):
            self._record_genuine(caller.e164, now)
        elif disposition in JUNK_DISPOSITIONS:
            self._record_junk(caller.e164, disposition == "ghost", now)

    def withdraw_disposition(self, caller: CallerNumber, disposition: str, now: float) -> None:
        """An operator replaced their verdict on a call (a click on the wrong button): the
        earlier `disposition` stops counting, as the call log now holds only the later one
        (which `record_disposition` then records). A prank or ghost withdrawn removes the
        latest such entry up to `now` and rebuilds the ladder from what is left; a genuine
        one withdrawn ends the immunity it gave (the evidence it wiped stays wiped)."""
        if not (caller.is_number and caller.e164 is not None):
            return
        record = self._callers.get(caller.e164)
        if record is None:
            return
        if is_genuine(disposition):
            if record.last_genuine_at is not None and record.last_genuine_at <= now:
                record.last_genuine_at = None
        elif disposition in JUNK_DISPOSITIONS and record.junk:
            self._withdraw_junk(caller.e164, record, disposition == "ghost", now)

    def _withdraw_junk(self, e164: str, record: _CallerRecord, is_ghost: bool, now: float) -> None:
        entries = list(record.junk or ())
        for index in range(len(entries) - 1, -1, -1):
            if entries[index][1] == is_ghost and entries[index][0] <= now:
                withdrawn_at = entries.pop(index)[0]
                break
        else:
            return
        record.junk = deque(entries, maxlen=self._junk_kept)
        if record.last_junk_at == withdrawn_at:
            record.last_junk_at = max((at for at, _ in entries), default=None)
        record.ladder = {}
        for at, _ in entries:
            self._climb_ladder(e164, record, at, announce=False)
        logger.info("%s: a %s verdict withdrawn", e164, "ghost" if is_ghost else "prank")

    def record_shared_fact(self, fact: SharedFact) -> None:
        """A verdict, challenge outcome or call-back served an appliance of the site
        recorded, or its flood mode (followed at the next `tick`)."""
        if fact.kind == "flood":
            self.flood.site_flood(fact.origin, fact.value == "on", fact.at)
            return
        event = _shared_event(fact, 0)
        if event is not None:
            self._apply_event(event[2], event[3])

    def record_challenge_result(
        self,
        caller: CallerNumber,
        result: ChallengeResult,
        now: float,
        *,
        voice_heard: bool | None = None,
    ) -> None:
        """A challenge ended; a pass gives the number good history for `good_history_s`.
        A challenge that ran out with the line listening and hearing nobody
        (`voice_heard` False) is remembered for `heard_after_unheard_s`."""
        if not caller.is_number or caller.e164 is None:
            return
        if result is ChallengeResult.PASSED:
            record = self._record(caller.e164, now)
            record.last_passed_at = _latest(record.last_passed_at, now)
        elif result is ChallengeResult.TIMEOUT and voice_heard is False:
            record = self._record(caller.e164, now)
            record.last_unheard_at = _latest(record.last_unheard_at, now)

    def was_unheard(self, e164: str, now: float, window_s: float) -> bool:
        """True when a challenge of this number ran out within `window_s` with the line
        listening and hearing nobody."""
        record = self._callers.get(e164)
        return record is not None and _within(record.last_unheard_at, now, window_s)

    def record_line_occupancy(
        self, busy: int, total: int, now: float, *, screening: int | None = None
    ) -> list[FloodChange]:
        """How many lines are busy (and how many of them screening), reported on every
        change; may enter or leave flood mode."""
        return self.flood.record_line_occupancy(busy, total, now, screening=screening)

    def tick(self, now: float) -> list[FloodChange]:
        """Periodic call (about once a second): flood entry/exit and an occasional prune."""
        if self._last_prune_at is None or now - self._last_prune_at >= PRUNE_INTERVAL_S:
            self.prune(now)
        return self.flood.tick(now)

    def prune(self, now: float) -> int:
        """Forget numbers with nothing left worth remembering; returns how many."""
        self._last_prune_at = now
        stale = [e164 for e164, record in self._callers.items() if self._is_stale(record, now)]
        for e164 in stale:
            del self._callers[e164]
        return len(stale)

    def replay(
        self, rows: Iterable[HistoryRow], now: float, *, shared: Iterable[SharedFact] = ()
    ) -> int:
        """Rebuild the state from call-log rows at start-up (on a fresh state).

        Each row is turned back into the events the live service would have recorded
        (arrival, challenge result, operator contact, disposition), and all events are
        applied in time order, so the state equals the one of a process that lived
        through them. Pass at least `abuse.immunity_s` (30 days) of rows; events after `now`
        are ignored. `shared` adds the verdicts and challenge outcomes other appliances of
        the site recorded, and the site's call-backs served (operator contacts), in time
        order with this box's own. Returns how many calls were replayed. The flood monitor
        is rebuilt too: if `flood_active` is True afterwards, the box restarted during a
        flood and the service should raise the alarm again.
        """
        events: list[tuple[float, int, int, HistoryRow]] = []
        malformed = 0
        for index, row in enumerate(rows):
            try:
                events.extend(_row_events(_clean_row(row), index))
            except (TypeError, ValueError):
                malformed += 1  # one bad row must not stop the service from starting
        floods: list[SharedFact] = []
        for index, fact in enumerate(shared, len(events)):
            if fact.kind == "flood":
                floods.append(fact)
            elif (event := _shared_event(fact, index)) is not None:
                events.append(event)
        if malformed:
            logger.warning("replay skipped %d malformed call-log row(s)", malformed)
        events.sort(key=lambda event: event[:3])
        calls = 0
        for at, _, kind, row in events:
            if at > now:
                break
            if kind == _EVENT_ARRIVAL:
                calls += 1
            self._apply_event(kind, row)
        for fact in sorted(floods, key=lambda flood: flood.at):
            if fact.at <= now:
                self.record_shared_fact(fact)
        self.tick(now)
        if self.flood_active:
            logger.warning("history replayed up to a flood still in progress")
        return calls

    # ---- internals ------------------------------------------------------------------

    def _record(self, e164: str, now: float) -> _CallerRecord:
        record = self._callers.get(e164)
        if record is None:
            record = _CallerRecord(arrivals=deque(maxlen=self._arrivals_kept), last_seen=now)
            self._callers[e164] = record
        else:
            record.last_seen = max(record.last_seen, now)
        return record

    def _purge_arrivals(self, record: _CallerRecord, now: float) -> None:
        horizon = now - self.config.throttle.window_s
        arrivals = record.arrivals
        while arrivals and arrivals[0] <= horizon:
            arrivals.popleft()

    def _record_genuine(self, e164: str, now: float) -> None:
        record = self._record(e164, now)
        record.last_genuine_at = _latest(record.last_genuine_at, now)
        # A genuine call wipes the slate: earlier pranks (a child on the parent's phone)
        # must not put a number that has just had a real emergency back on the ladder.
        record.junk = None
        record.ladder.clear()

    def _record_junk(self, e164: str, is_ghost: bool, now: float) -> None:
        record = self._record(e164, now)
        if record.last_genuine_at is not None and record.last_genuine_at <= now:
            # A prank after a genuine call revokes the immunity it gave: one real emergency
            # must not shield the next ten pranks from the same phone for a month.
            logger.info(
                "%s: immunity revoked by a %s verdict", e164, "ghost" if is_ghost else "prank"
            )
            record.last_genuine_at = None
        record.last_junk_at = _latest(record.last_junk_at, now)
        if record.junk is None:
            record.junk = deque(maxlen=self._junk_kept)
        record.junk.append((now, is_ghost))
        horizon = now - self._junk_retention_s
        while record.junk and record.junk[0][0] <= horizon:
            record.junk.popleft()
        self._climb_ladder(e164, record, now)

    def _climb_ladder(
        self, e164: str, record: _CallerRecord, now: float, *, announce: bool = True
    ) -> None:
        """Enter (or extend) every ladder step whose count the disposition at `now` reaches.

        Each level keeps one restriction: a new trigger while it is active extends it to
        `now + restrict_s` and keeps its start, so `since` reads "restricted since".
        `announce` False: a rebuild of what was entered before, not logged again.
        """
        junk = record.junk or ()
        ladder = {level: t for level, t in record.ladder.items() if t.until > now}
        for level, step in enumerate(self.config.abuse.ladder, start=1):
            horizon = now - step.within_s
            if sum(1 for at, _ in junk if horizon < at <= now) < step.count:
                continue
            until = now + step.restrict_s
            current = ladder.get(level)
            if current is None:
                ladder[level] = _LadderTrigger(level, now, until, step.flag_supervisor)
                if announce:
                    logger.info("%s entered ladder level %d until %.0f", e164, level, until)
            else:
                current.until = max(current.until, until)
        record.ladder = ladder

    def _count_junk(self, e164: str, now: float, window_s: float, ghosts_only: bool) -> int:
        record = self._callers.get(e164)
        if record is None or record.junk is None:
            return 0
        horizon = now - window_s
        return sum(
            1 for at, ghost in record.junk if horizon < at <= now and (ghost or not ghosts_only)
        )

    def _is_stale(self, record: _CallerRecord, now: float) -> bool:
        # Activity stamped after `now` is recent, not stale: the wall clock was stepped
        # back (NTP correcting a Pi that booted with a saved time). Forgetting it would
        # drop the number's throttle count, immunity and junk evidence.
        config = self.config
        return (
            not _recent(record.last_seen, now, config.throttle.window_s)
            and not _recent(record.last_arrival_at, now, config.flood.redial_window_s)
            and not _recent(record.last_waiting_at, now, config.flood.redial_window_s)
            and not _recent(record.last_genuine_at, now, config.abuse.immunity_s)
            and not _recent(record.last_passed_at, now, config.good_history_s)
            and not _recent(record.last_unheard_at, now, config.heard_after_unheard_s)
            and not any(t.until > now for t in record.ladder.values())
            and not (record.junk and _recent(record.junk[-1][0], now, self._junk_retention_s))
            and not _recent(record.last_junk_at, now, config.junk_evidence_s)
        )

    def _apply_event(self, kind: int, row: HistoryRow) -> None:
        caller = CallerNumber(
            raw=row.caller_e164, e164=row.caller_e164, number_class=row.number_class
        )
        if kind == _EVENT_ARRIVAL:
            self.record_arrival(caller, row.started_at)
        elif kind == _EVENT_CHALLENGE and row.challenge_result is not None:
            at = row.challenge_at if row.challenge_at is not None else row.started_at
            self.record_challenge_result(
                caller, ChallengeResult(row.challenge_result), at, voice_heard=row.voice_heard
            )
        elif kind == _EVENT_OPERATOR and row.operator_at is not None:
            self.record_operator_contact(caller, row.operator_at)
        elif kind == _EVENT_DISPOSITION and row.disposition is not None:
            self.record_disposition(caller, row.disposition, _disposition_time(row))
        elif kind == _EVENT_WITHDRAWAL and row.disposition is not None:
            self.withdraw_disposition(caller, row.disposition, _disposition_time(row))


# Replay event kinds, in the order they happen within one call when times tie (a
# withdrawal comes only from another box's fact, never from a call-log row).
_EVENT_ARRIVAL, _EVENT_CHALLENGE, _EVENT_OPERATOR, _EVENT_DISPOSITION, _EVENT_WITHDRAWAL = range(5)
_CHALLENGE_RESULTS = frozenset(result.value for result in ChallengeResult)


def _shared_event(fact: SharedFact, order: int) -> tuple[float, int, int, HistoryRow] | None:
    """The replay event a site's fact stands for (no arrival: the call was not this one's);
    None for a value the policy has no use for."""
    served = fact.kind == "callback"
    verdict = fact.kind in ("verdict", "withdrawn")
    if served and fact.value != "done":
        return None
    row = HistoryRow(
        caller_e164=fact.caller_e164,
        number_class=NumberClass.NUMBER,
        started_at=fact.at,
        reached_operator=served,
        operator_at=fact.at if served else None,
        disposition=fact.value if verdict else None,
        disposition_at=fact.at,
        challenge_result=None if verdict or served else fact.value,
        challenge_at=fact.at,
    )
    kind = {
        "callback": _EVENT_OPERATOR,
        "verdict": _EVENT_DISPOSITION,
        "withdrawn": _EVENT_WITHDRAWAL,
    }.get(fact.kind, _EVENT_CHALLENGE)
    return (fact.at, order, kind, row)


def _row_events(row: HistoryRow, order: int) -> list[tuple[float, int, int, HistoryRow]]:
    """(time, row order, event kind, row) for each event one call-log row stands for."""
    events = [(row.started_at, order, _EVENT_ARRIVAL, row)]
    if row.challenge_result in _CHALLENGE_RESULTS:
        at = row.challenge_at if row.challenge_at is not None else row.started_at
        events.append((at, order, _EVENT_CHALLENGE, row))
    if row.reached_operator and row.operator_at is not None:
        events.append((row.operator_at, order, _EVENT_OPERATOR, row))
    if row.disposition is not None:
        events.append((_disposition_time(row), order, _EVENT_DISPOSITION, row))
    return events


def _clean_row(row: HistoryRow) -> HistoryRow:
    """The row with its class as a `NumberClass` and its times as floats; raises if it cannot."""
    return replace(
        row,
        number_class=NumberClass(row.number_class),
        started_at=float(row.started_at),
        operator_at=_optional_float(row.operator_at),
        disposition_at=_optional_float(row.disposition_at),
        challenge_at=_optional_float(row.challenge_at),
    )


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _disposition_time(row: HistoryRow) -> float:
    """When the disposition was recorded; older rows without a time use the best guess."""
    if row.disposition_at is not None:
        return row.disposition_at
    return row.operator_at if row.operator_at is not None else row.started_at


def _within(moment: float | None, now: float, window_s: float) -> bool:
    """True when `moment` lies in the half-open window (now - window_s, now]."""
    return moment is not None and now - window_s < moment <= now


def _recent(moment: float | None, now: float, window_s: float) -> bool:
    """True when `moment` is after `now - window_s`, the future included."""
    return moment is not None and moment > now - window_s


def _latest(previous: float | None, now: float) -> float:
    return now if previous is None else max(previous, now)


# --------------------------------------------------------------------------- decisions


def decide(caller: CallerNumber, state: PolicyState, config: PolicyConfig, now: float) -> Decision:
    """The decision for one call; reads `state`, never changes it.

    The caller's own arrival must already be recorded (`state.record_arrival`), so the
    throttle counts this call. `config` supplies the actions, the throttle limit, the
    immunity and good-history spans; what is applied when events are *recorded* (ladder
    steps, flood thresholds, how much is remembered) comes from `state.config`. Pass the
    state's own config unless you mean otherwise.
    """
    e164 = caller.e164 if caller.is_number else None
    if e164 is None:
        return _decide_no_number(caller.number_class, state, config)
    allow = state.allow.match(e164, now)
    if allow is not None:
        return Decision(Action.PASS, Reason.ALLOWLIST, allow.id)
    block = state.block.match(e164, now)
    if block is not None:
        return Decision(block.action, Reason.BLOCKLIST, block.id)
    if state.is_immune(e164, now, config.abuse.immunity_s):
        return Decision(Action.PASS, Reason.IMMUNE)
    flood = _decide_flood(e164, state, config, now)
    if flood is not None:
        return flood
    ladder = state.ladder_status(e164, now)
    if ladder is not None:
        return Decision(Action(config.abuse.action), Reason.ABUSE, f"ladder:{ladder.level}")
    threshold = config.abuse.reputation_threshold
    if (
        threshold > 0
        and state.reputation(e164, now, config.abuse.reputation_half_life_s) >= threshold
    ):
        return Decision(Action(config.abuse.action), Reason.ABUSE, "reputation")
    if state.calls_in_window(e164, now, config.throttle.window_s) > config.throttle.max_calls:
        return Decision(Action(config.throttle.action), Reason.THROTTLE, "throttle")
    if config.challenge_unknown and not state.has_good_history(e164, now, config):
        return Decision(Action.CHALLENGE, Reason.NO_HISTORY)
    return Decision(Action.PASS, Reason.DEFAULT)


def release_unverified(
    caller: CallerNumber,
    decision: Decision,
    state: PolicyState,
    config: PolicyConfig,
    hang_up_reasons: Iterable[str],
    now: float,
    *,
    without_evidence: str = "operator",
    voice_heard: bool | None = None,
) -> bool:
    """Whether a challenged caller who never pressed the key should be released.

    Such a caller may be a genuine one who did not understand the prompt (the UK lost two
    callers that way). They are released with a goodbye message on evidence of junk: a
    restriction reason listed in `hang_up_reasons` (a supervisor's block, flood mode, the
    abuse ladder), or a prank or ghost disposition on the number within
    `junk_evidence_s`. Without evidence, `without_evidence` (the
    `challenge.unverified_without_evidence` setting) decides:

    - `"listen"`: release when the line listened through the challenge and heard no
      voice (`voice_heard` False): a phone in a pocket, not a person; pass a caller who
      spoke, and pass when the line could not listen (`voice_heard` None). A voice
      without the key from a number whose challenge heard nobody within
      `heard_after_unheard_s` is released too: a phone in a pocket dials again and again,
      mostly rustle and now and then its owner's voice, while a person who was not heard
      the first time presses the key the next (they are listed for a call-back all the
      same);
    - `"operator"`: pass;
    - `"release"`: release every such caller who has a number (a withheld one is passed:
      with no number, nobody can call back).
    """
    if decision.reason.value in hang_up_reasons:
        return True
    e164 = caller.e164 if caller.is_number else None
    if e164 is not None and state.has_junk_evidence(e164, now, config.junk_evidence_s):
        return True
    if without_evidence == "listen":
        if voice_heard is True and e164 is not None and config.heard_after_unheard_s > 0:
            return state.was_unheard(e164, now, config.heard_after_unheard_s)
        return voice_heard is False
    return without_evidence == "release" and e164 is not None


def decide_safely(
    caller: CallerNumber, state: PolicyState, config: PolicyConfig, now: float
) -> Decision:
    """`decide`, but any internal error passes the call (fail open, R3) and is logged."""
    try:
        return decide(caller, state, config, now)
    except Exception:
        logger.exception("policy failed for caller %r; failing open", getattr(caller, "raw", None))
        return Decision(Action.PASS, Reason.FAIL_OPEN)


def _decide_no_number(
    number_class: NumberClass, state: PolicyState, config: PolicyConfig
) -> Decision:
    reason = _NO_NUMBER_REASON.get(number_class, Reason.UNPARSEABLE)
    configured = {
        Reason.WITHHELD: config.withheld_action,
        Reason.UNAVAILABLE: config.unavailable_action,
        Reason.UNPARSEABLE: config.unparseable_action,
    }[reason]
    if state.flood.withheld_is_hot():
        # A flood of calls without a number: the class the flood comes from is released
        # before answering; callers with a number still get through.
        return Decision(Action.REJECT, Reason.FLOOD, "flood:no_number")
    if state.flood.must_keep_line_free():
        return Decision(Action.REJECT, Reason.FLOOD, FLOOD_RESERVE_RULE)
    if state.flood_active:
        return _flood_challenge(state)
    return Decision(Action(configured), reason)


def _decide_flood(
    e164: str, state: PolicyState, config: PolicyConfig, now: float
) -> Decision | None:
    if not state.flood_active or state.has_good_history(e164, now, config):
        return None
    hot_prefix = state.flood.is_hot(e164)
    if hot_prefix is not None:
        return Decision(Action.REJECT, Reason.FLOOD, f"flood:{hot_prefix}")
    tried_again = state.tried_recently(e164, now, config.flood.redial_window_s)
    if state.flood.must_keep_line_free() and not tried_again:
        # Trunk reservation: a flood without a signature takes every line it is given, so
        # the last one is kept for callers who try again (a genuine caller redials; a
        # dialer spreading over fresh numbers does not). The caller released here is
        # remembered, and goes on the call-back list.
        return Decision(Action.REJECT, Reason.FLOOD, FLOOD_RESERVE_RULE)
    return _flood_challenge(state, tried_again=tried_again)


def _flood_challenge(state: PolicyState, *, tried_again: bool = False) -> Decision:
    """The flood's challenge: short (`flood:short`) while lines are scarce, the full one
    while they are not, so that a slow caller is not hurried for nothing. A caller who
    tries again gets the full one: whoever the short one released (slow to find the
    keypad, or released on the reserved line) is not hurried twice."""
    if tried_again:
        return Decision(Action.CHALLENGE, Reason.FLOOD, FLOOD_RETRY_RULE)
    rule = FLOOD_SHORT_RULE if state.flood.lines_scarce() else "flood"
    return Decision(Action.CHALLENGE, Reason.FLOOD, rule)
