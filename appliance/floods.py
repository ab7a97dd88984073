"""Flood worlds: scenarios of a telephony denial-of-service, shape by shape.

The month generator (`appliance.month.generate`) draws ordinary Serang-like traffic.
Floods are another family: for `duration_s`, junk callers arrive at `rate_per_s` in one
of several shapes, while `genuine_callers` real emergencies try to get through. Every
behavioural assumption is a field of `FloodWorld`, so a benchmark can sweep it
(`bench/bench_worlds.py`) and report the worst case beside the typical one.

Shapes (`FloodShape`):
- `block`: rotating numbers inside one number block (the last `block_digits` digits vary),
  as a SIM box or a spoofing dialer cycling through a range produces;
- `spread`: fresh numbers over every mobile prefix, no two alike: no number signature;
- `withheld`: no caller ID at all;
- `crew`: a crew of `crew_size` numbers in one range calling in turn, slowly, every one
  pressing the key (people, or a script that listens to the prompt);
- `hammer`: one number, over and over (a SIM box with one spoofed number).

Genuine callers have fresh numbers outside any flood range; each presses the prompt's key
(or, a `genuine_no_key_share` of them, only speaks) and redials `genuine_redials` times
a little later, whatever happened to the first call (a static scenario cannot know it).
`flood_in_month` lays a flood over a generated month.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from appliance.month import (
    DEFAULT_TIMEZONE,
    GENUINE_KIND_WEIGHTS,
    MOBILE_LENGTH_WEIGHTS,
    MOBILE_PREFIXES,
    generate,
)
from appliance.scenario import PROMPT_KEY, CallerAction, ScenarioCall, Sound

FLOOD_START_LOCAL = (2024, 4, 3, 20, 0)  # a weekday evening, in the generator's zone


class FloodShape(StrEnum):
    """How the junk callers of a flood are numbered (see the module docstring)."""

    BLOCK = "block"
    SPREAD = "spread"
    WITHHELD = "withheld"
    CREW = "crew"
    HAMMER = "hammer"


# Shapes whose numbers carry a signature the appliance can recognise and shed.
SIGNATURE_SHAPES = frozenset(
    {FloodShape.BLOCK, FloodShape.WITHHELD, FloodShape.CREW, FloodShape.HAMMER}
)


@dataclass(frozen=True)
class FloodWorld:
    """Every assumption of one flood scenario; times in seconds, shares in 0..1."""

    shape: FloodShape = FloodShape.BLOCK
    rate_per_s: float = 2.0  # junk arrivals per second (Poisson)
    duration_s: float = 900.0
    seed: int = 1
    genuine_callers: int = 8
    genuine_redials: int = 1  # extra attempts per genuine caller
    genuine_redial_gap_s: tuple[float, float] = (15.0, 60.0)  # after the previous attempt
    genuine_key_after_s: tuple[float, float] = (2.0, 8.0)
    genuine_no_key_share: float = 0.0  # genuine callers who speak but never press
    genuine_patience_s: tuple[float, float] = (60.0, 180.0)  # wait for an operator
    genuine_talk_s: tuple[float, float] = (60.0, 240.0)
    junk_press_share: float = 0.0  # junk callers who press the prompt's key
    junk_key_after_s: tuple[float, float] = (1.0, 4.0)
    junk_hold_s: tuple[float, float] = (30.0, 90.0)  # stays on until released, or this long
    junk_talk_s: tuple[float, float] = (5.0, 15.0)  # an operator hangs up on a prank
    junk_sound: Sound = "silence"
    block_digits: int = 4  # `block`/`crew`: how many trailing digits vary
    crew_size: int = 200
    lead_in_s: float = 120.0  # quiet time before the flood starts
    timezone: str = DEFAULT_TIMEZONE

    def with_(self, **changes: object) -> FloodWorld:
        """A copy with some assumptions changed (a sweep's next point)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class _Numbers:
    """Fresh Indonesian mobile numbers (national form), never the same twice."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()
        self._operators = list(MOBILE_PREFIXES)
        self._weights = [MOBILE_PREFIXES[name][0] for name in self._operators]

    def fresh(self) -> str:
        while True:
            number = self._draw()
            if number not in self._used:
                self._used.add(number)
                return number

    def block(self, digits: int) -> str:
        """The fixed part of a new number block: a fresh number minus its last `digits`."""
        return self.fresh()[:-digits]

    def in_block(self, block: str, digits: int) -> str:
        return block + "".join(self._rng.choice("0123456789") for _ in range(digits))

    def _draw(self) -> str:
        operator = self._rng.choices(self._operators, weights=self._weights)[0]
        prefix = self._rng.choice(MOBILE_PREFIXES[operator][1])
        lengths = list(MOBILE_LENGTH_WEIGHTS)
        length = self._rng.choices(lengths, weights=list(MOBILE_LENGTH_WEIGHTS.values()))[0]
        return prefix + "".join(self._rng.choice("0123456789") for _ in range(length - 4))


def _uniform(rng: random.Random, bounds: tuple[float, float]) -> float:
    return round(rng.uniform(*bounds), 1)


def _junk_callers(world: FloodWorld, rng: random.Random, numbers: _Numbers) -> list[str | None]:
    """The caller of each junk arrival, in order (None for withheld)."""
    count = _poisson_count(rng, world.rate_per_s * world.duration_s)
    shape = world.shape
    if shape is FloodShape.WITHHELD:
        return [None] * count
    if shape is FloodShape.SPREAD:
        return [numbers.fresh() for _ in range(count)]
    if shape is FloodShape.HAMMER:
        return [numbers.fresh()] * count
    block = numbers.block(world.block_digits)
    if shape is FloodShape.BLOCK:
        return [numbers.in_block(block, world.block_digits) for _ in range(count)]
    crew = sorted({numbers.in_block(block, world.block_digits) for _ in range(world.crew_size)})
    rng.shuffle(crew)
    return [crew[index % len(crew)] for index in range(count)]  # in turn: a rota


def _poisson_count(rng: random.Random, mean: float) -> int:
    """A Poisson count for a large mean (normal approximation, never negative)."""
    if mean <= 0:
        return 0
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _junk_call(
    world: FloodWorld, rng: random.Random, at: datetime, caller: str | None
) -> dict[str, Any]:
    presses = rng.random() < world.junk_press_share
    answer = CallerAction(
        PROMPT_KEY if presses else None,
        _uniform(rng, world.junk_key_after_s) if presses else 0.0,
        world.junk_sound,
    )
    return {
        "at": at,
        "caller": caller,
        "answer": answer,
        "hangup_after_s": _uniform(rng, world.junk_hold_s),
        "talk_s": _uniform(rng, world.junk_talk_s),
        "disposition": "prank",
        "truth": "prank",
    }


def _genuine_calls(
    world: FloodWorld, rng: random.Random, start: datetime, numbers: _Numbers
) -> list[dict[str, Any]]:
    kinds = list(GENUINE_KIND_WEIGHTS)
    weights = list(GENUINE_KIND_WEIGHTS.values())
    calls: list[dict[str, Any]] = []
    for _ in range(world.genuine_callers):
        caller = numbers.fresh()
        disposition = "genuine:" + rng.choices(kinds, weights=weights)[0]
        speaks_only = rng.random() < world.genuine_no_key_share
        at = start + timedelta(seconds=rng.uniform(0, world.duration_s))
        first: dict[str, Any] | None = None  # the previous attempt
        for _attempt in range(1 + world.genuine_redials):
            after_s = _uniform(rng, world.genuine_key_after_s)
            answer = CallerAction(None if speaks_only else PROMPT_KEY, after_s, "voice")
            calls.append(
                {
                    "at": at,
                    "caller": caller,
                    "answer": answer,
                    "hangup_after_s": _uniform(rng, world.genuine_patience_s),
                    "talk_s": _uniform(rng, world.genuine_talk_s),
                    "disposition": disposition,
                    "truth": "genuine",
                    "redial_of": first,
                }
            )
            first = calls[-1]
            at += timedelta(seconds=rng.uniform(*world.genuine_redial_gap_s))
    return calls


def flood_drafts(world: FloodWorld, start: datetime) -> list[dict[str, Any]]:
    """The calls of a flood starting at `start` (junk and genuine), unsorted, without ids."""
    rng = random.Random(world.seed)
    numbers = _Numbers(rng)
    callers = _junk_callers(world, rng, numbers)
    times = sorted(rng.uniform(0, world.duration_s) for _ in callers)
    drafts = [
        _junk_call(world, rng, start + timedelta(seconds=offset), caller)
        for offset, caller in zip(times, callers, strict=True)
    ]
    drafts.extend(_genuine_calls(world, rng, start, numbers))
    return drafts


def _numbered(drafts: list[dict[str, Any]], prefix: str = "f") -> list[ScenarioCall]:
    """Ids in time order; a redial's `redial_of` (its first call's draft) becomes that id."""
    ordered = sorted(drafts, key=lambda draft: draft["at"])
    ids = {id(draft): f"{prefix}-{number:05d}" for number, draft in enumerate(ordered, start=1)}
    calls = []
    for draft in ordered:
        first = draft.get("redial_of")
        fields = draft | {"redial_of": ids[id(first)] if first is not None else None}
        calls.append(ScenarioCall(id=ids[id(draft)], **fields))
    return calls


def _to_millisecond(moment: datetime) -> datetime:
    """Arrival times keep their milliseconds: a flood of 2 calls/s rounded to whole seconds
    would make callers arrive in the same instant, a collision no real network makes."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def flood_scenario(world: FloodWorld) -> list[ScenarioCall]:
    """A flood alone: `lead_in_s` of quiet, then the flood; ids `f-00001`, ... in order."""
    zone = ZoneInfo(world.timezone)
    start = datetime(*FLOOD_START_LOCAL, tzinfo=zone) + timedelta(seconds=world.lead_in_s)
    drafts = flood_drafts(world, start.replace(microsecond=0))
    for draft in drafts:
        draft["at"] = _to_millisecond(draft["at"])
    return _numbered(drafts)


def flood_in_month(
    world: FloodWorld, *, days: int = 30, month_seed: int = 112, flood_day: int = 9
) -> list[ScenarioCall]:
    """A generated month with `world`'s flood on the evening of day `flood_day` (0-based)."""
    month = generate(days=days, seed=month_seed, timezone=world.timezone)
    first = month[0].at
    start = first.replace(hour=20, minute=0, second=0) + timedelta(days=flood_day)
    drafts = [dataclasses.asdict(call) | {"answer": call.answer} for call in month]
    for draft in drafts:
        del draft["id"]
    flood = flood_drafts(world, start)
    for draft in flood:
        draft["at"] = _to_millisecond(draft["at"])
    return _numbered(drafts + flood, prefix="c")


def expected_floor(world: FloodWorld) -> int:
    """Genuine callers (of 8) that must reach an operator: 7 with a signature, else 5."""
    share = 7 / 8 if world.shape in SIGNATURE_SHAPES else 5 / 8
    return math.ceil(share * world.genuine_callers)
