"""When a rule ends: the one grammar for an expiry, for the CLI and the web UI alike.

`siaga block add --expires`, the web UI's rules form, its API, the CSV import and the
console's block buttons all read an expiry with `parse_expiry`, so a text means the same
thing everywhere. Case and spaces around the words do not matter.

- a duration from now: a number and a unit, with or without a space between: `30m`,
  `24h`, `7d`, `2w`, `90s`; or the unit in Indonesian: `30 menit`, `24 jam`, `7 hari`,
  `2 minggu`, `90 detik`. The number may have a decimal point (`1.5h`). It must be more
  than zero and at most `MAX_EXPIRY_DAYS` days.
- a date, `YYYY-MM-DD` (ISO 8601), or `DD/MM/YYYY` as Excel writes a date in Indonesia:
  a local day in the site's zone; the rule is in force through that day and ends at the
  next midnight (as the call log's `until` is inclusive). It must not have passed, and be
  at most `MAX_EXPIRY_DAYS` days ahead.
- no expiry: `never`, `permanent`, `selamanya` or `tidak pernah` (the rules page's word
  for it).
- blank (empty, or only spaces): **no expiry**, the same as `never`, everywhere. This is
  what the web form, its API and the CSV import always did with an empty field. A block
  without expiry is a supervisor's decision and needs a reason, so a forgotten expiry
  can never make a permanent block by itself. The CLI keeps its own default when
  `--expires` is not given at all (`24h` for `siaga block add`): that is an option's
  default, not a blank expiry.

Anything else is an `ExpiryError` (a `ValueError`) whose `problem` says why: `bad` (not
in this grammar, or out of range) or `past` (a date that has passed).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

MAX_EXPIRY_DAYS = 3660  # ten years: anything longer is a typing slip, or meant as never
NEVER_WORDS: frozenset[str] = frozenset({"never", "permanent", "selamanya", "tidak pernah"})
# Seconds per unit, by every name the grammar accepts (English letter, Indonesian word).
UNIT_SECONDS: dict[str, float] = {
    "s": 1.0,
    "detik": 1.0,
    "m": 60.0,
    "menit": 60.0,
    "h": 3600.0,
    "jam": 3600.0,
    "d": 86_400.0,
    "hari": 86_400.0,
    "w": 7 * 86_400.0,
    "minggu": 7 * 86_400.0,
}
HINT = "30m, 24h, 7d, 7 hari, 2 minggu, a date YYYY-MM-DD, or never"
_DURATION = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*([a-z]+)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY_MONTH_YEAR = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")

Problem = Literal["bad", "past"]


class ExpiryError(ValueError):
    """A text that is not an expiry (`problem` "bad") or a date already past ("past")."""

    def __init__(self, text: str, problem: Problem) -> None:
        why = "has passed" if problem == "past" else f"is not an expiry (use {HINT})"
        super().__init__(f"{text!r} {why}")
        self.text = text
        self.problem: Problem = problem


def _words(text: str) -> str:
    """Lower case, outer spaces gone, inner runs of spaces as one."""
    return " ".join(text.lower().split())


def _duration_s(words: str) -> float | None:
    """The seconds of a duration (`24h`, `7 hari`), or None if `words` is not one."""
    found = _DURATION.fullmatch(words)
    if found is None or found.group(2) not in UNIT_SECONDS:
        return None
    return float(found.group(1)) * UNIT_SECONDS[found.group(2)]


def duration_s(text: str) -> float:
    """The seconds of a duration from now (`24h`, `7 hari`), checked as `parse_expiry`
    checks it; ExpiryError for anything else (a date, `never`, `0h`)."""
    seconds = _duration_s(_words(text))
    if seconds is None or not 0.0 < seconds <= MAX_EXPIRY_DAYS * 86_400.0:
        raise ExpiryError(text.strip(), "bad")
    return seconds


def _day(text: str) -> date | None:
    """The date of `YYYY-MM-DD` or `DD/MM/YYYY`, None if not that form; ExpiryError if
    the form is right but the day does not exist (`2026-02-30`)."""
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
        found = _DAY_MONTH_YEAR.fullmatch(text)
        if found is None:
            return None
        return date(int(found.group(3)), int(found.group(2)), int(found.group(1)))
    except ValueError:
        raise ExpiryError(text, "bad") from None


def _end_of_day(day: date, text: str, now_ts: float, zone: ZoneInfo) -> float:
    """The next midnight after `day` in `zone`, checked against now and the limit."""
    if not 1970 <= day.year <= 9000:
        raise ExpiryError(text, "bad")
    end = datetime.combine(day + timedelta(days=1), time(0), zone).timestamp()
    if end <= now_ts:
        raise ExpiryError(text, "past")
    if end > now_ts + MAX_EXPIRY_DAYS * 86_400.0:
        raise ExpiryError(text, "bad")
    return end


def parse_expiry(text: str, now_ts: float, zone: ZoneInfo) -> float | None:
    """When a rule made at `now_ts` with expiry `text` ends (POSIX seconds); None: never.

    Raises `ExpiryError` for a text outside the grammar (see the module docstring).
    """
    words = _words(text)
    if not words or words in NEVER_WORDS:
        return None
    if _duration_s(words) is not None:
        return now_ts + duration_s(words)
    day = _day(words)
    if day is None:
        raise ExpiryError(text.strip(), "bad")
    return _end_of_day(day, words, now_ts, zone)
