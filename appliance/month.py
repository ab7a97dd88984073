"""A synthetic month of Serang-like traffic for `siaga simulate` (`generate`).

The month is built from the caller populations the customer describes (see
docs/domain.md): prankster children calling in bursts, pocket ("ghost") dialers,
ring-once callers, people testing a new SIM, withheld junk, and under 1 % genuine
callers, including the hard cases a screening policy must not lose (redialers, callers
who cannot speak, withheld genuine callers, and the parent whose phone the child pranked
with). Every figure that shapes the traffic is a named constant below with the source it
comes from; `[bg]` marks background knowledge that no stored source confirms. Every
behavioural assumption is also a field of `MonthAssumptions`, so a benchmark can sweep it.
The calls are `appliance.scenario.ScenarioCall`s, in the file format of that module.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.model import JUNK_DISPOSITIONS
from appliance.scenario import (
    PROMPT_KEY,
    CallerAction,
    ScenarioCall,
    Sound,
    Truth,
    subscriber_key,
)

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Generator calibration. Volumes and mix.
# ---------------------------------------------------------------------------------------
DEFAULT_TIMEZONE = "Asia/Jakarta"
DEFAULT_DAYS = 30
DEFAULT_SEED = 112
# docs/contracts.md, "Reference figures": a month of Serang-like traffic is about 5,200 calls
# (173/day x 30). Serang April-13 May 2024 had >8,500 calls (about 200/day); Jan-Sep
# 2020 had 23,734 in 274 days (about 87/day). 173/day sits between the two.
DEFAULT_CALLS_PER_DAY = 173.0
# Serang Jan-Sep 2020: 162 valid of 23,734 calls = 0.68 %; Purworejo 2022-24: 30 real of
# 2,802 = 1.07 %. 0.8 % sits between them.
DEFAULT_GENUINE_SHARE = 0.008
DEFAULT_START_LOCAL = (2024, 4, 1)  # midnight in the generator's zone (WIB: +07:00)


class Population(StrEnum):
    """Which synthetic caller population produced a call (kept out of the file format)."""

    PRANKSTER = "prankster"  # children calling in bursts
    POCKET = "pocket"  # silent pocket / ghost dialers
    RING_ONCE = "ring_once"  # ring and hang up before anyone answers (Banyuwangi)
    SIM_TEST = "sim_test"  # one call from a fresh SIM, hang up when answered
    WITHHELD_JUNK = "withheld_junk"  # no caller ID, prank or ghost
    GENUINE = "genuine"  # an emergency, one call, speaks
    GENUINE_REDIAL = "genuine_redial"  # an emergency, 2-4 calls within 10 minutes
    GENUINE_SILENT = "genuine_silent"  # an emergency, presses the key, cannot speak
    GENUINE_NO_KEY = "genuine_no_key"  # an emergency, never presses the key, stays on the line
    GENUINE_WITHHELD = "genuine_withheld"  # an emergency from a withheld number
    GENUINE_EX_PRANKSTER = "genuine_ex_prankster"  # the parent's phone the child pranked with
    GENUINE_FIXED_LINE = "genuine_fixed_line"  # an emergency from a Serang land line
    GENUINE_SILENT_STAYS = "genuine_silent_stays"  # neither presses nor speaks, stays on


# Shares of the junk calls (they sum to 1). Purworejo 2022-24 counted 1,147 prank and
# 1,170 ghost calls, so junk splits roughly evenly between prank-like (prankster bursts,
# ring-once, SIM tests, half the withheld junk: 50.5 %) and ghost-like (pocket dials, half
# the withheld junk: 49.5 %). Ring-once callers are Banyuwangi's pattern (17,111 of 17,257
# calls "ring once, hang up when answered"); "Test SIM" is one of the centre's disposition
# codes (docs/domain.md R14); withheld junk is "a few" (docs/domain.md, M8) since 112 calls
# carry a CLI.
JUNK_MIX: dict[Population, float] = {
    Population.PRANKSTER: 0.385,
    Population.RING_ONCE: 0.08,
    Population.SIM_TEST: 0.03,
    Population.POCKET: 0.485,
    Population.WITHHELD_JUNK: 0.02,
}
WITHHELD_JUNK_PRANK_SHARE = 0.5  # the rest of the withheld junk is silent (ghost)

# Valid calls by kind, Serang Jan-Sep 2020: electrical 34, accident 22, fire 19,
# ambulance 19, fallen tree 18, "other" 50. The 50 are spread over the remaining kinds
# [bg: split by us, the source gives no breakdown]. Sum: 162, the 2020 valid total.
GENUINE_KIND_WEIGHTS: dict[str, int] = {
    "electrical": 34,
    "accident": 22,
    "fire": 19,
    "ambulance": 19,
    "fallen_tree": 18,
    "flood_disaster": 12,
    "health": 18,
    "crime": 8,
    "other": 12,
}

# Shares of genuine *incidents* with a special shape. Each shape appears at least once
# whenever the genuine budget allows, so every generated month exercises it.
# Redialers: a redial after an abandoned call is not abuse (docs/domain.md R6; Lithuania 112).
GENUINE_REDIAL_SHARE = 0.20
GENUINE_REDIAL_CALLS = (2, 4)  # calls per redialing incident, all within 10 minutes
# Silent genuine callers: EENA, silent calls "may be genuine" (unconscious, robbery).
GENUINE_SILENT_SHARE = 0.05
# Genuine callers who never press the key and stay on the line: Hannah Foster and Kerry
# Power did not press 55 and were cut off (BBC 2008); the escape path must not depend on it.
GENUINE_NO_KEY_SHARE = 0.05
# Withheld genuine callers: R10, withheld or SIM-less CLI is challenged, never rejected.
GENUINE_WITHHELD_SHARE = 0.05
# The parent's phone: callers are "mostly young children" (Jakarta 2024), so a number that
# pranked may later carry a real emergency: the worst case for number blocking.
GENUINE_EX_PRANKSTER_SHARE = 0.08
# Serang fixed lines (area code 0254): offices, shops [bg].
GENUINE_FIXED_LINE_SHARE = 0.08

# ---------------------------------------------------------------------------------------
# Time of day: relative call weights for local hours 00..23.
# ---------------------------------------------------------------------------------------
# Pranks "peak late at night or after 10:00" (docs/domain.md, M8): a rise from 10:00, a hump
# after school (13-17) and the highest load in the late evening (19-23); some at night.
PRANK_HOURLY: tuple[float, ...] = (
    4, 3, 2, 1, 1, 1, 1, 2, 3, 4, 7, 8, 8, 9, 10, 10, 9, 8, 9, 11, 12, 12, 10, 7,
)  # fmt: skip
# Pocket dials follow phones being carried: day and evening, little at night [bg; Berlin
# fire 2023: 30-40 % of calls were pocket calls, with no hourly split given].
POCKET_HOURLY: tuple[float, ...] = (
    1, 1, 0.5, 0.5, 0.5, 1, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 6, 5, 3, 2,
)  # fmt: skip
# Genuine calls are spread through the day, a little more in waking hours [bg].
GENUINE_HOURLY: tuple[float, ...] = (
    2, 2, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 6, 5, 4, 3, 3,
)  # fmt: skip
# SIM testers call while shops that sell and register SIM cards are open [bg].
SIM_TEST_HOURLY: tuple[float, ...] = (
    0, 0, 0, 0, 0, 0, 0, 1, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 3, 1, 0,
)  # fmt: skip

# ---------------------------------------------------------------------------------------
# Per-number activity: heavy tails. Serang blocks a number calling >10 times "at the same
# time"; one US child called 84 times in a night; in Estonia the top 20 callers made
# 12,995 calls a year. Activity per number is Pareto-distributed (capped) so a few
# numbers produce a large share of the junk (M6: share of junk from the top-20 numbers).
# Tuned by hand: at the defaults, seeds 1-8 and 112 give a top-20 share of 25-31 % of the
# junk, 100-180 prankster numbers, and 23-35 numbers calling more than 10 times in an hour.
# ---------------------------------------------------------------------------------------
PRANK_TAIL_ALPHA = 1.15  # Pareto shape of a prankster's intensity (smaller = heavier tail)
PRANK_INTENSITY_CAP = 10.0
PRANK_DAYS_PER_INTENSITY = (0.5, 1.0)  # active days = intensity x U(range): "a few days"
PRANK_EXTRA_BURSTS_PER_INTENSITY = 0.12  # extra bursts per active day, x intensity
PRANK_BURST_EXTRA_CALLS_BASE = 1.0  # mean calls per burst beyond the first ...
PRANK_BURST_EXTRA_CALLS_PER_INTENSITY = 0.5  # ... plus this x intensity (>10 an hour occurs)
PRANK_GAP_S = (5, 90)  # redial gap after the previous call could have ended

POCKET_TAIL_ALPHA = 1.8
POCKET_INTENSITY_CAP = 5.0
POCKET_DAYS_PER_INTENSITY = (0.5, 1.0)
POCKET_EXTRA_RUNS_PER_INTENSITY = 0.1
POCKET_RUN_EXTRA_CALLS_BASE = 0.4  # "pocket keeps dialling": mean extra calls per run
POCKET_RUN_EXTRA_CALLS_PER_INTENSITY = 0.25
POCKET_GAP_S = (10, 180)

RING_ONCE_TAIL_ALPHA = 1.5
RING_ONCE_INTENSITY_CAP = 8.0
RING_ONCE_DAYS_PER_INTENSITY = (0.5, 1.0)
RING_ONCE_BURST_EXTRA_CALLS_BASE = 0.5
RING_ONCE_BURST_EXTRA_CALLS_PER_INTENSITY = 0.4
RING_ONCE_GAP_S = (10, 300)

# ---------------------------------------------------------------------------------------
# Behaviour on the line. `hangup_after_s` counts from arrival: the caller gives up if no
# operator has answered by then. Simulated operators answer after 5 s by default.
# ---------------------------------------------------------------------------------------
# Pranksters meeting a challenge: most hang up within seconds or press random keys; "a
# minority (~15 %) press the right key" (docs/domain.md, M8; UK Silent Solution: ~1 % of
# silent calls press 55, but children who called on purpose are more curious).
PRANK_PRESSES_PROMPT_KEY = 0.15
PRANK_PRESSES_WRONG_KEYS = 0.30
PRANK_KEY_AFTER_S = (1.0, 6.0)  # random keys come fast
PRANK_PROMPT_KEY_AFTER_S = (3.0, 10.0)
PRANK_HANGUP_S = (6.0, 20.0)  # silent pranksters wait a few seconds for a voice
PRANK_KEYS_HANGUP_S = (10.0, 30.0)
PRANK_WAIT_AFTER_KEY_S = (20.0, 50.0)
PRANK_TALK_S = (5.0, 30.0)  # docs/domain.md, M8: an operator spends 5-30 s on a prank
PRANK_KEY_STRING_LEN = (1, 3)
# Pocket / ghost: silent, stay on 20-90 s (docs/domain.md, M8); an operator gives up on a
# silent call after about 10 s in Estonia, and classifies a call in 30 s-1 min in Cilegon.
GHOST_HANGUP_S = (20.0, 90.0)
GHOST_TALK_S = (10.0, 40.0)
# What a ghost call carries (`answer.sound`): a phone in a pocket or bag gives rustle and
# voices muffled by cloth ("noise"); now and then it is in a hand, an SOS shortcut pressed
# by accident, with its owner talking to someone else ("voice") [bg: no source measures
# this share; docs/screening.md shows how the month's figures move with it].
POCKET_VOICE_SHARE = 0.10
# Ring-once: Banyuwangi callers ring and hang up before anyone answers.
RING_ONCE_HANGUP_S = (1.0, 4.0)
# SIM testers hang up within ~10 s of being answered (docs/domain.md, M8): they wait for the ring to
# be answered, then drop.
SIM_TEST_HANGUP_S = (5.0, 16.0)
SIM_TEST_TALK_S = (2.0, 10.0)
# Genuine callers listen and press the prompt's key, wait long, talk long (docs/domain.md, M8).
GENUINE_KEY_AFTER_S = (2.0, 8.0)
GENUINE_HANGUP_S = (90.0, 180.0)
GENUINE_TALK_S = (60.0, 240.0)
GENUINE_SILENT_KEY_AFTER_S = (5.0, 15.0)  # slower: cannot speak, finds the keypad
GENUINE_SILENT_HANGUP_S = (120.0, 300.0)  # they stay on
# A genuine caller who does not press speaks instead ("halo? halo? tolong!") soon after the
# answer, over the prompt [bg]. Children who prank laugh and talk too [bg].
GENUINE_SPEAKS_AFTER_S = (0.5, 3.0)
# A redialer's earlier attempts: gave up waiting, or the call dropped after a few words.
GENUINE_REDIAL_HANGUP_S = (15.0, 45.0)
GENUINE_REDIAL_TALK_S = (10.0, 30.0)
GENUINE_REDIAL_GAP_S = (5, 45)  # 4 calls x (<=45 + <=30 + <=45) s stays within 10 minutes
GENUINE_REDIAL_WINDOW_S = 600
# The parent's genuine call comes 1 h to 3 days after the child's last prank.
EX_PRANKSTER_DELAY_S = (3_600, 3 * 86_400)

# ---------------------------------------------------------------------------------------
# Numbers. Indonesian mobile numbers are 08xx plus 6-9 digits (10-13 digits in all).
# Prefixes by operator; weights are approximate subscriber shares [bg].
# ---------------------------------------------------------------------------------------
MOBILE_PREFIXES: dict[str, tuple[float, tuple[str, ...]]] = {
    "Telkomsel": (0.50, ("0811", "0812", "0813", "0821", "0822", "0823", "0851", "0852", "0853")),
    "Indosat": (0.20, ("0814", "0815", "0816", "0855", "0856", "0857", "0858")),
    "XL/Axis": (0.17, ("0817", "0818", "0819", "0859", "0877", "0878", "0831", "0832", "0838")),
    "Tri": (0.10, ("0895", "0896", "0897", "0898", "0899")),
    "Smartfren": (0.03, ("0881", "0882", "0883", "0884", "0885", "0886", "0887", "0888")),
}
MOBILE_LENGTH_WEIGHTS: dict[int, float] = {10: 0.05, 11: 0.25, 12: 0.50, 13: 0.20}
SERANG_AREA_CODE = "0254"  # Serang, Banten
FIXED_LINE_SUBSCRIBER_DIGITS = 7
# How a modem delivers the CLI (+CLIP): national, international without or with "+".
# The mix depends on the network and modem [bg]; all three must be recognised as one
# subscriber (docs/domain.md R13).
CLI_FORMAT_WEIGHTS: dict[str, float] = {"national": 0.60, "62": 0.15, "+62": 0.25}


@dataclass(frozen=True)
class MonthAssumptions:
    """The behavioural assumptions of a generated month, each a parameter to sweep
    (`bench/bench_worlds.py --months`); the defaults are the named constants above.

    `genuine_silent_stays_share`: genuine callers who neither press nor speak and stay on
    the line 60-120 s (a victim who cannot talk, a caller who did not understand): none in
    the default month, the hardest population a sweep adds.
    """

    prank_presses_prompt_key: float = PRANK_PRESSES_PROMPT_KEY
    prank_presses_wrong_keys: float = PRANK_PRESSES_WRONG_KEYS
    pocket_voice_share: float = POCKET_VOICE_SHARE
    genuine_redial_share: float = GENUINE_REDIAL_SHARE
    genuine_silent_share: float = GENUINE_SILENT_SHARE
    genuine_no_key_share: float = GENUINE_NO_KEY_SHARE
    genuine_withheld_share: float = GENUINE_WITHHELD_SHARE
    genuine_ex_prankster_share: float = GENUINE_EX_PRANKSTER_SHARE
    genuine_fixed_line_share: float = GENUINE_FIXED_LINE_SHARE
    genuine_silent_stays_share: float = 0.0
    genuine_patience_s: tuple[float, float] = GENUINE_HANGUP_S
    genuine_key_after_s: tuple[float, float] = GENUINE_KEY_AFTER_S

    def __post_init__(self) -> None:
        for name in (
            "prank_presses_prompt_key",
            "prank_presses_wrong_keys",
            "pocket_voice_share",
            "genuine_redial_share",
            "genuine_silent_share",
            "genuine_no_key_share",
            "genuine_withheld_share",
            "genuine_ex_prankster_share",
            "genuine_fixed_line_share",
            "genuine_silent_stays_share",
        ):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.prank_presses_prompt_key + self.prank_presses_wrong_keys > 1:
            raise ValueError("prankster key shares add up to more than 1")


DEFAULT_ASSUMPTIONS = MonthAssumptions()
GENUINE_SILENT_STAYS_HANGUP_S = (60.0, 120.0)


def _as_cli(national: str, form: str) -> str:
    """A national number (0...) as the modem may deliver it."""
    if form == "national":
        return national
    return form + national[1:]


@dataclass
class _Draft:
    """A call under construction: times in whole seconds, no id yet."""

    at: datetime
    caller: str | None
    answer: CallerAction
    hangup_after_s: float
    talk_s: float
    disposition: str
    truth: Truth
    population: Population

    def latest_end(self) -> datetime:
        """The latest this call can end: the caller waits, then talks (never overlaps)."""
        return self.at + timedelta(seconds=math.ceil(self.hangup_after_s + self.talk_s))


@dataclass(frozen=True)
class _Behaviour:
    answer: CallerAction
    hangup_after_s: float
    talk_s: float


def _weighted_choice(rng: random.Random, weights: Mapping[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _uniform(rng: random.Random, bounds: tuple[float, float], digits: int = 1) -> float:
    return round(rng.uniform(*bounds), digits)


def _geometric(rng: random.Random, mean: float) -> int:
    """A count 0, 1, 2, ... with the given mean (geometric distribution)."""
    if mean <= 0:
        return 0
    p_stop = 1.0 / (1.0 + mean)
    return int(math.log(1.0 - rng.random()) / math.log(1.0 - p_stop))


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method; the means used here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# ---------------------------------------------------------------------------------------
# Behaviour of each population on the line
# ---------------------------------------------------------------------------------------
def _prank_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    talk_s = _uniform(rng, PRANK_TALK_S, 0)
    roll = rng.random()
    if roll < a.prank_presses_prompt_key:
        after_s = _uniform(rng, PRANK_PROMPT_KEY_AFTER_S)
        hangup_s = round(after_s + _uniform(rng, PRANK_WAIT_AFTER_KEY_S), 1)
        return _Behaviour(CallerAction(PROMPT_KEY, after_s, "voice"), hangup_s, talk_s)
    if roll < a.prank_presses_prompt_key + a.prank_presses_wrong_keys:
        keys = "".join(
            rng.choice("0123456789*#") for _ in range(rng.randint(*PRANK_KEY_STRING_LEN))
        )
        answer = CallerAction(keys, _uniform(rng, PRANK_KEY_AFTER_S), "voice")
        return _Behaviour(answer, _uniform(rng, PRANK_KEYS_HANGUP_S), talk_s)
    return _Behaviour(CallerAction(None, 0.0, "voice"), _uniform(rng, PRANK_HANGUP_S), talk_s)


def _ghost_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    sound: Sound = "voice" if rng.random() < a.pocket_voice_share else "noise"
    return _Behaviour(
        CallerAction(None, 0.0, sound),
        _uniform(rng, GHOST_HANGUP_S, 0),
        _uniform(rng, GHOST_TALK_S, 0),
    )


def _ring_once_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    return _Behaviour(CallerAction(None, 0.0), _uniform(rng, RING_ONCE_HANGUP_S), 0.0)


def _sim_test_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    return _Behaviour(
        CallerAction(None, 0.0, "voice"),
        _uniform(rng, SIM_TEST_HANGUP_S),
        _uniform(rng, SIM_TEST_TALK_S, 0),
    )


def _genuine_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    answer = CallerAction(PROMPT_KEY, _uniform(rng, a.genuine_key_after_s), "voice")
    patience_s = _uniform(rng, a.genuine_patience_s, 0)
    return _Behaviour(answer, patience_s, _uniform(rng, GENUINE_TALK_S, 0))


def _genuine_silent_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    answer = CallerAction(PROMPT_KEY, _uniform(rng, GENUINE_SILENT_KEY_AFTER_S), "silence")
    hangup_s = _uniform(rng, GENUINE_SILENT_HANGUP_S, 0)
    return _Behaviour(answer, hangup_s, _uniform(rng, GENUINE_TALK_S, 0))


def _genuine_silent_stays_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    hangup_s = _uniform(rng, GENUINE_SILENT_STAYS_HANGUP_S, 0)
    return _Behaviour(
        CallerAction(None, 0.0, "silence"), hangup_s, _uniform(rng, GENUINE_TALK_S, 0)
    )


def _genuine_no_key_behaviour(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    answer = CallerAction(None, _uniform(rng, GENUINE_SPEAKS_AFTER_S), "voice")
    hangup_s = _uniform(rng, GENUINE_SILENT_HANGUP_S, 0)
    return _Behaviour(answer, hangup_s, _uniform(rng, GENUINE_TALK_S, 0))


def _genuine_redial_attempt(rng: random.Random, a: MonthAssumptions) -> _Behaviour:
    answer = CallerAction(PROMPT_KEY, _uniform(rng, GENUINE_KEY_AFTER_S), "voice")
    hangup_s = _uniform(rng, GENUINE_REDIAL_HANGUP_S, 0)
    return _Behaviour(answer, hangup_s, _uniform(rng, GENUINE_REDIAL_TALK_S, 0))


@dataclass(frozen=True)
class _Activity:
    """How one repeat-calling population spreads a number's calls over the month."""

    population: Population
    hourly: tuple[float, ...]
    tail_alpha: float
    intensity_cap: float
    days_per_intensity: tuple[float, float]
    extra_runs_per_intensity: float
    run_extra_calls_base: float
    run_extra_calls_per_intensity: float
    gap_s: tuple[int, int]
    behaviour: Callable[[random.Random, MonthAssumptions], _Behaviour]
    disposition: str
    truth: Truth


PRANKSTER_ACTIVITY = _Activity(
    Population.PRANKSTER,
    PRANK_HOURLY,
    PRANK_TAIL_ALPHA,
    PRANK_INTENSITY_CAP,
    PRANK_DAYS_PER_INTENSITY,
    PRANK_EXTRA_BURSTS_PER_INTENSITY,
    PRANK_BURST_EXTRA_CALLS_BASE,
    PRANK_BURST_EXTRA_CALLS_PER_INTENSITY,
    PRANK_GAP_S,
    _prank_behaviour,
    "prank",
    "prank",
)
POCKET_ACTIVITY = _Activity(
    Population.POCKET,
    POCKET_HOURLY,
    POCKET_TAIL_ALPHA,
    POCKET_INTENSITY_CAP,
    POCKET_DAYS_PER_INTENSITY,
    POCKET_EXTRA_RUNS_PER_INTENSITY,
    POCKET_RUN_EXTRA_CALLS_BASE,
    POCKET_RUN_EXTRA_CALLS_PER_INTENSITY,
    POCKET_GAP_S,
    _ghost_behaviour,
    "ghost",
    "ghost",
)
RING_ONCE_ACTIVITY = _Activity(
    Population.RING_ONCE,
    PRANK_HOURLY,
    RING_ONCE_TAIL_ALPHA,
    RING_ONCE_INTENSITY_CAP,
    RING_ONCE_DAYS_PER_INTENSITY,
    0.0,
    RING_ONCE_BURST_EXTRA_CALLS_BASE,
    RING_ONCE_BURST_EXTRA_CALLS_PER_INTENSITY,
    RING_ONCE_GAP_S,
    _ring_once_behaviour,
    "prank",
    "prank",
)


class _Generator:
    """Builds drafts population by population; one `random.Random` drives everything."""

    def __init__(
        self,
        rng: random.Random,
        start: datetime,
        days: int,
        assumptions: MonthAssumptions = DEFAULT_ASSUMPTIONS,
    ) -> None:
        self.rng = rng
        self.a = assumptions
        self.start = start
        self.days = days
        self.end = start + timedelta(days=days)
        self.midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.drafts: list[_Draft] = []
        self.numbers_used: set[str] = set()
        self.prankster_last_end: dict[str, datetime] = {}  # CLI -> end of last prank call

    # Numbers -------------------------------------------------------------------------
    def _fresh(self, make: Callable[[], str]) -> str:
        while True:
            national = make()
            if national not in self.numbers_used:
                self.numbers_used.add(national)
                return _as_cli(national, _weighted_choice(self.rng, CLI_FORMAT_WEIGHTS))

    def new_mobile(self) -> str:
        """A fresh mobile subscriber, formatted as its network delivers the CLI."""

        def make() -> str:
            _, prefixes = MOBILE_PREFIXES[
                _weighted_choice(self.rng, {k: w for k, (w, _) in MOBILE_PREFIXES.items()})
            ]
            length = _weighted_choice(self.rng, MOBILE_LENGTH_WEIGHTS)
            tail = "".join(self.rng.choice("0123456789") for _ in range(length - 4))
            return self.rng.choice(prefixes) + tail

        return self._fresh(make)

    def new_fixed_line(self) -> str:
        """A fresh Serang land line (0254 + 7 digits, not starting with 0)."""

        def make() -> str:
            first = self.rng.choice("123456789")
            rest = "".join(
                self.rng.choice("0123456789") for _ in range(FIXED_LINE_SUBSCRIBER_DIGITS - 1)
            )
            return SERANG_AREA_CODE + first + rest

        return self._fresh(make)

    # Time ----------------------------------------------------------------------------
    def time_on_day(self, day: int, hourly: Sequence[float]) -> datetime:
        """A time on local day `day` (0 = the start's date) drawn from an hourly profile.

        With a start after midnight, a time before the start on day 0 moves to the same
        hour on the last, partial day, which always lies inside the window.
        """
        hour = self.rng.choices(range(24), weights=hourly)[0]
        second = hour * 3600 + self.rng.randrange(3600)
        moment = self.midnight + timedelta(days=day, seconds=second)
        return moment if moment >= self.start else moment + timedelta(days=self.days)

    def random_day(self) -> int:
        return self.rng.randrange(self.days)

    # Drafts --------------------------------------------------------------------------
    def add(
        self,
        at: datetime,
        caller: str | None,
        behaviour: _Behaviour,
        disposition: str,
        truth: Truth,
        population: Population,
    ) -> _Draft:
        draft = _Draft(
            at,
            caller,
            behaviour.answer,
            behaviour.hangup_after_s,
            behaviour.talk_s,
            disposition,
            truth,
            population,
        )
        self.drafts.append(draft)
        return draft

    # Repeat callers ------------------------------------------------------------------
    def repeat_caller(self, activity: _Activity, budget: int) -> int:
        """All calls of one new number of a repeat-calling population; returns the count.

        Runs (bursts) on each active day follow each other: a call starts only after the
        previous one from the same phone could have ended.
        """
        rng = self.rng
        caller = self.new_mobile()
        intensity = min(rng.paretovariate(activity.tail_alpha), activity.intensity_cap)
        active_days = round(intensity * rng.uniform(*activity.days_per_intensity))
        active_days = max(1, min(self.days, active_days))
        run_starts: list[datetime] = []
        for day in rng.sample(range(self.days), active_days):
            runs = 1 + _poisson(rng, activity.extra_runs_per_intensity * intensity)
            run_starts.extend(self.time_on_day(day, activity.hourly) for _ in range(runs))
        extra_mean = (
            activity.run_extra_calls_base + activity.run_extra_calls_per_intensity * intensity
        )
        made = 0
        free_at = self.start
        for run_start in sorted(run_starts):
            at = max(run_start, free_at)
            for _ in range(1 + _geometric(rng, extra_mean)):
                if made >= budget or at >= self.end:
                    break
                behaviour = activity.behaviour(rng, self.a)
                draft = self.add(
                    at, caller, behaviour, activity.disposition, activity.truth, activity.population
                )
                made += 1
                free_at = draft.latest_end() + timedelta(seconds=rng.randint(*activity.gap_s))
                at = free_at
        if activity.population is Population.PRANKSTER and made:
            self.prankster_last_end[caller] = free_at
        return made

    def fill_repeat_population(self, activity: _Activity, budget: int) -> None:
        made = 0
        while made < budget:
            made += self.repeat_caller(activity, budget - made)

    # One-off junk --------------------------------------------------------------------
    def fill_sim_tests(self, budget: int) -> None:
        for _ in range(budget):
            at = self.time_on_day(self.random_day(), SIM_TEST_HOURLY)
            behaviour = _sim_test_behaviour(self.rng, self.a)
            self.add(at, self.new_mobile(), behaviour, "prank", "prank", Population.SIM_TEST)

    def fill_withheld_junk(self, budget: int) -> None:
        for _ in range(budget):
            if self.rng.random() < WITHHELD_JUNK_PRANK_SHARE:
                at = self.time_on_day(self.random_day(), PRANK_HOURLY)
                behaviour = _prank_behaviour(self.rng, self.a)
                self.add(at, None, behaviour, "prank", "prank", Population.WITHHELD_JUNK)
            else:
                at = self.time_on_day(self.random_day(), POCKET_HOURLY)
                behaviour = _ghost_behaviour(self.rng, self.a)
                self.add(at, None, behaviour, "ghost", "ghost", Population.WITHHELD_JUNK)

    # Genuine -------------------------------------------------------------------------
    def genuine_kind(self) -> str:
        return str(_weighted_choice(self.rng, GENUINE_KIND_WEIGHTS))

    def genuine_incident(self, population: Population, budget: int) -> int:
        """One emergency (one or more calls); returns the number of calls made."""
        rng = self.rng
        disposition = "genuine:" + self.genuine_kind()
        at = self.time_on_day(self.random_day(), GENUINE_HOURLY)
        caller: str | None
        behaviour: _Behaviour
        if population is Population.GENUINE_EX_PRANKSTER:
            found = self.ex_prankster_time()
            if found is None:
                logger.debug("no prankster number to reuse; using a fresh number")
                population = Population.GENUINE
                caller = self.new_mobile()
            else:
                caller, at = found
        elif population is Population.GENUINE_WITHHELD:
            caller = None
        elif population is Population.GENUINE_FIXED_LINE:
            caller = self.new_fixed_line()
        else:
            caller = self.new_mobile()
        if population is Population.GENUINE_REDIAL:
            # Start early enough for every redial to fall inside the window.
            latest_start = self.end - timedelta(seconds=GENUINE_REDIAL_WINDOW_S)
            return self.redials(caller, max(self.start, min(at, latest_start)), disposition, budget)
        if population is Population.GENUINE_SILENT:
            behaviour = _genuine_silent_behaviour(rng, self.a)
        elif population is Population.GENUINE_NO_KEY:
            behaviour = _genuine_no_key_behaviour(rng, self.a)
        elif population is Population.GENUINE_SILENT_STAYS:
            behaviour = _genuine_silent_stays_behaviour(rng, self.a)
        else:
            behaviour = _genuine_behaviour(rng, self.a)
        self.add(at, caller, behaviour, disposition, "genuine", population)
        return 1

    def redials(self, caller: str | None, at: datetime, disposition: str, budget: int) -> int:
        """A caller who gives up (or is cut off) and calls again, 2-4 times in 10 minutes."""
        calls = min(budget, self.rng.randint(*GENUINE_REDIAL_CALLS))
        for index in range(calls):
            last = index == calls - 1
            behaviour = (
                _genuine_behaviour(self.rng, self.a)
                if last
                else _genuine_redial_attempt(self.rng, self.a)
            )
            population = Population.GENUINE_REDIAL
            draft = self.add(at, caller, behaviour, disposition, "genuine", population)
            at = draft.latest_end() + timedelta(seconds=self.rng.randint(*GENUINE_REDIAL_GAP_S))
        return calls

    def ex_prankster_time(self) -> tuple[str, datetime] | None:
        """A prankster's number and a time after its last prank, inside the window."""
        latest_start = self.end - timedelta(seconds=EX_PRANKSTER_DELAY_S[0])
        candidates = sorted(
            (caller, end) for caller, end in self.prankster_last_end.items() if end < latest_start
        )
        if not candidates:
            return None
        caller, last_end = self.rng.choice(candidates)
        del self.prankster_last_end[caller]  # one parent's emergency per number
        earliest = last_end + timedelta(seconds=EX_PRANKSTER_DELAY_S[0])
        latest = min(last_end + timedelta(seconds=EX_PRANKSTER_DELAY_S[1]), self.end)
        spread_s = max(0, int((latest - earliest).total_seconds()) - 1)
        return caller, earliest + timedelta(seconds=self.rng.randint(0, spread_s))

    def fill_genuine(self, budget: int) -> None:
        a = self.a
        incidents_estimate = budget / (1 + a.genuine_redial_share * 2)  # redials: 3 calls
        shapes = {
            Population.GENUINE_WITHHELD: a.genuine_withheld_share,
            Population.GENUINE_SILENT: a.genuine_silent_share,
            Population.GENUINE_NO_KEY: a.genuine_no_key_share,
            Population.GENUINE_EX_PRANKSTER: a.genuine_ex_prankster_share,
            Population.GENUINE_FIXED_LINE: a.genuine_fixed_line_share,
            Population.GENUINE_REDIAL: a.genuine_redial_share,
            Population.GENUINE_SILENT_STAYS: a.genuine_silent_stays_share,
        }
        # Each shape with a share appears at least once (a share of 0 means none).
        planned = [
            shape
            for shape, share in shapes.items()
            for _ in range(max(1, round(share * incidents_estimate)) if share > 0 else 0)
        ]
        made = 0
        while made < budget:
            shape = planned.pop(0) if planned else Population.GENUINE
            made += self.genuine_incident(shape, budget - made)


def _budgets(total: int, genuine_share: float) -> tuple[int, dict[Population, int]]:
    """Split the call total: genuine first, then junk by JUNK_MIX (largest remainders)."""
    genuine = round(total * genuine_share)
    if genuine_share > 0 and total > 0:
        genuine = max(1, genuine)
    junk = total - genuine
    exact = {population: junk * share for population, share in JUNK_MIX.items()}
    budgets = {population: int(value) for population, value in exact.items()}
    leftover = junk - sum(budgets.values())
    by_remainder = sorted(exact, key=lambda p: exact[p] - budgets[p], reverse=True)
    for population in by_remainder[:leftover]:
        budgets[population] += 1
    return genuine, budgets


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None


def generate_with_populations(
    *,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    start: datetime | None = None,
    calls_per_day: float = DEFAULT_CALLS_PER_DAY,
    genuine_share: float = DEFAULT_GENUINE_SHARE,
    timezone: str = DEFAULT_TIMEZONE,
    assumptions: MonthAssumptions = DEFAULT_ASSUMPTIONS,
) -> tuple[list[ScenarioCall], dict[str, Population]]:
    """Like `generate`, also returning which population made each call (by call id)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if calls_per_day < 0 or not math.isfinite(calls_per_day):
        raise ValueError(f"calls_per_day must be 0 or more, got {calls_per_day}")
    if not 0 <= genuine_share <= 1:
        raise ValueError(f"genuine_share must be between 0 and 1, got {genuine_share}")
    zone = _zone(timezone)
    if start is None:
        start = datetime(*DEFAULT_START_LOCAL, tzinfo=zone)
    elif start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(zone).replace(microsecond=0)

    total = round(days * calls_per_day)
    genuine, junk = _budgets(total, genuine_share)
    generator = _Generator(random.Random(seed), start, days, assumptions)
    # Pranksters come before genuine calls: the parent's phone needs the child's history.
    generator.fill_repeat_population(PRANKSTER_ACTIVITY, junk[Population.PRANKSTER])
    generator.fill_repeat_population(POCKET_ACTIVITY, junk[Population.POCKET])
    generator.fill_repeat_population(RING_ONCE_ACTIVITY, junk[Population.RING_ONCE])
    generator.fill_sim_tests(junk[Population.SIM_TEST])
    generator.fill_withheld_junk(junk[Population.WITHHELD_JUNK])
    generator.fill_genuine(genuine)

    ordered = sorted(enumerate(generator.drafts), key=lambda pair: (pair[1].at, pair[0]))
    calls: list[ScenarioCall] = []
    populations: dict[str, Population] = {}
    for number, (_, draft) in enumerate(ordered, start=1):
        call_id = f"c-{number:05d}"
        calls.append(
            ScenarioCall(
                id=call_id,
                at=draft.at,
                caller=draft.caller,
                answer=draft.answer,
                hangup_after_s=draft.hangup_after_s,
                talk_s=draft.talk_s,
                disposition=draft.disposition,
                truth=draft.truth,
            )
        )
        populations[call_id] = draft.population
    logger.info(
        "generated %d calls over %d days from %s (seed %d, %d genuine)",
        len(calls),
        days,
        start.isoformat(),
        seed,
        genuine,
    )
    return calls, populations


def generate(
    *,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    start: datetime | None = None,
    calls_per_day: float = DEFAULT_CALLS_PER_DAY,
    genuine_share: float = DEFAULT_GENUINE_SHARE,
    timezone: str = DEFAULT_TIMEZONE,
    assumptions: MonthAssumptions = DEFAULT_ASSUMPTIONS,
) -> list[ScenarioCall]:
    """Synthetic Serang-like traffic: `round(days x calls_per_day)` calls, sorted by time.

    Deterministic for a seed. `start` defaults to 2024-04-01 00:00 in `timezone` (WIB).
    Ids are `c-00001`, ... in time order.
    """
    calls, _ = generate_with_populations(
        days=days,
        seed=seed,
        start=start,
        calls_per_day=calls_per_day,
        genuine_share=genuine_share,
        timezone=timezone,
        assumptions=assumptions,
    )
    return calls


# ---------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------
TOP_REPEATERS = 20  # M6: share of junk from the top-20 numbers
BURST_WINDOW_S = 3600.0  # Serang's complaint: one number calling >10 times "at once"
BURST_CALLS = 10


def _max_calls_in_window(times: Sequence[datetime], window_s: float) -> int:
    best, first = 0, 0
    for last, moment in enumerate(times):
        while (moment - times[first]).total_seconds() >= window_s:
            first += 1
        best = max(best, last - first + 1)
    return best


def _incident_count(calls: Iterable[ScenarioCall]) -> int:
    keys: set[tuple[str, str]] = set()
    for call in calls:
        if call.truth == "genuine":
            subscriber = subscriber_key(call.caller)
            keys.add((subscriber or f"withheld:{call.id}", call.disposition))
    return len(keys)


def summarise(
    calls: Sequence[ScenarioCall], populations: Mapping[str, Population] | None = None
) -> dict[str, Any]:
    """Figures for the CLI: counts by truth and disposition, numbers, top repeaters.

    Callers are compared by `subscriber_key`, so `0812...` and `+62812...` are one number.
    Pass the mapping from `generate_with_populations` to also count by population.
    """
    by_number: dict[str, list[ScenarioCall]] = defaultdict(list)
    for call in sorted(calls, key=lambda c: c.at):
        key = subscriber_key(call.caller)
        if key is not None:
            by_number[key].append(call)
    junk_total = sum(1 for call in calls if call.disposition in JUNK_DISPOSITIONS)
    top = sorted(by_number.items(), key=lambda item: (-len(item[1]), item[0]))[:TOP_REPEATERS]
    top_junk = sum(1 for _, group in top for c in group if c.disposition in JUNK_DISPOSITIONS)
    summary: dict[str, Any] = {
        "calls_total": len(calls),
        "first_at": min(c.at for c in calls).isoformat() if calls else None,
        "last_at": max(c.at for c in calls).isoformat() if calls else None,
        "by_truth": dict(sorted(Counter(c.truth for c in calls).items())),
        "by_disposition": dict(sorted(Counter(c.disposition for c in calls).items())),
        "genuine_incidents": _incident_count(calls),
        "distinct_numbers": len(by_number),
        "withheld_calls": sum(1 for c in calls if subscriber_key(c.caller) is None),
        "numbers_over_10_calls_in_an_hour": sum(
            1
            for group in by_number.values()
            if _max_calls_in_window([c.at for c in group], BURST_WINDOW_S) > BURST_CALLS
        ),
        "top_repeaters": [
            {
                "caller": key,
                "calls": len(group),
                "junk": sum(1 for c in group if c.disposition in JUNK_DISPOSITIONS),
                "genuine": sum(1 for c in group if c.truth == "genuine"),
            }
            for key, group in top
        ],
        "top20_junk_share_pct": round(100.0 * top_junk / junk_total, 2) if junk_total else 0.0,
    }
    if populations is not None:
        counted = Counter(populations[c.id] for c in calls if c.id in populations)
        summary["by_population"] = {p.value: counted.get(p, 0) for p in Population}
    return summary


__all__ = [
    "DEFAULT_ASSUMPTIONS",
    "MonthAssumptions",
    "Population",
    "generate",
    "generate_with_populations",
    "summarise",
]
