"""Caller-ID normalisation: whatever a modem delivers becomes a `CallerNumber` in E.164.

One subscriber reaches the appliance as `081234567890`, `6281234567890`, `+62 812-3456-7890`
or `81234567890` depending on the network and the modem; every counter and rule is keyed on
the E.164 form (`+6281234567890`) so these are one caller (R13). The raw string is always
kept for the call log.

Decisions (see also the tests in `tests/appliance/test_numbers.py`):

- **Possible, not valid.** A number is accepted when `phonenumbers` says its length is
  possible for its country (`IS_POSSIBLE`), not when it matches a known range
  (`is_valid_number`). Indonesia keeps opening new mobile ranges and the metadata lags
  behind; a genuine caller misread as "unparseable" would be challenged, which is the costly
  mistake. A junk string misread as a number only gets its own counters.
  Local-only lengths (a fixed-line number without its area code) are not accepted: such a
  short CLI may be a shared pseudo-number (SIM-less callers), and R13 says short strings
  are no-CLI, never a per-number key.
- **`62...` without `+`.** National numbers in Indonesia are written with the trunk prefix
  `0`, so a string starting with the country code (`62`) and no `0` is read as
  international when that reading is possible (`62254123456` -> `+62254123456`); only the
  "national" type of number (TON 2, type 161) forces a national reading. A `0622...`
  (Pematangsiantar) number delivered without its `0` and without a type would be misread;
  at a Serang centre (calls are routed by district) that case is not expected.
- **`812...` without `0`.** With an unknown or national type (129, 161) the digits are a
  national significant number of the configured region: `81234567890` -> `+6281234567890`.
- **Type 145 (international) without `+`.** The `+` is added (`6281...`,145 ->
  `+6281...`); if that reading is impossible the national reading is tried.
- Caller-ID validity from `+CLIP` wins over the digits: withheld (1) is WITHHELD;
  unavailable (2), payphone (3) and other (4) are UNAVAILABLE. Words some networks put in
  the number field (`PRIVATE`, `Restricted`, `Anonymous`, `Unknown`, ...) are mapped the
  same way, case-insensitively; a field that contains one of the withheld words
  (`PRIVATE NUMBER`) is WITHHELD.
- Anything else that is not a phone number (letters, control characters, HTML, fewer than
  `MIN_DIGITS` or more than 15 digits) is UNPARSEABLE with the raw string kept. That is
  the one rule for **alphanumeric caller IDs** too, with or without digits: `TELKOMSEL`
  and `BANK1` (an operator's or a bank's sender name, type of address 208) are both
  UNPARSEABLE, never a number and never "no caller ID". The AT parser only reports what
  the modem sent; this module alone decides what a label means.
- `normalise` never raises: it runs on the hot path of every call and fails to
  UNPARSEABLE, which the policy challenges by default.

Results are cached (`functools.lru_cache`): the same callers ring again and again.
"""

from __future__ import annotations

import functools
import logging
import re

import phonenumbers

from appliance.model import CallerNumber, NumberClass
from firmware.at.urc import CallerId, CliValidity

logger = logging.getLogger(__name__)

MIN_DIGITS = 5  # fewer digits than this is not a subscriber number (R13: short = no-CLI)
MAX_E164_DIGITS = 15  # ITU-T E.164: at most 15 digits including the country code
MAX_RAW_CHARS = 64  # longer strings are junk; refuse before any parsing work
MIN_PATTERN_NATIONAL_DIGITS = 2  # a rule prefix narrower than "+62" + 2 digits is refused
CACHE_SIZE = 8192

# Type-of-address octet (3GPP TS 24.008 10.5.4.7): bits 7-5 are the type of number.
_TON_MASK = 0x70
_TON_INTERNATIONAL = 0x10
_TON_NATIONAL = 0x20

# Words networks and modems put in the number field instead of digits. The single letters
# are the caller-ID display convention ("P" private, "R" restricted, "O" out of area) that
# some gateways copy into +CLIP.
_WITHHELD_WORDS = frozenset(
    {"private", "restricted", "anonymous", "withheld", "hidden", "p", "r", "clir"}
)
# Withheld words that also count inside a longer label ("PRIVATE NUMBER").
_WITHHELD_INSIDE = ("private", "restricted", "anonymous", "withheld", "hidden")
_UNAVAILABLE_WORDS = frozenset(
    {
        "unknown",
        "unavailable",
        "not available",
        "notavailable",
        "n/a",
        "na",
        "o",
        "out of area",
        "payphone",
        "coin",
        "none",
        "null",
        "-",
    }
)
# Visual separators people and networks put inside numbers; anything else is not a number.
_SEPARATORS = re.compile("[ \t\u00a0\\-.()/]")
_DIALLABLE = re.compile(r"\+?[0-9]+")

_VALIDITY_CLASS = {
    CliValidity.WITHHELD: NumberClass.WITHHELD,
    CliValidity.UNAVAILABLE: NumberClass.UNAVAILABLE,
    CliValidity.PAYPHONE: NumberClass.UNAVAILABLE,
    CliValidity.OTHER: NumberClass.UNAVAILABLE,
}


def normalise(caller: CallerId | str | None, region: str = "ID") -> CallerNumber:
    """The caller as the policy sees it; never raises.

    `caller` is the modem's `CallerId`, a bare string (scenarios, the web UI) or None
    (no caller ID at all). `region` is the ISO code used for national numbers.
    """
    try:
        region = region.upper()
        if caller is None:
            return CallerNumber(raw=None, e164=None, number_class=NumberClass.UNAVAILABLE)
        if isinstance(caller, CallerId):
            return _classify_cached(caller.raw, caller.number_type, caller.validity, region)
        if isinstance(caller, str):
            if len(caller) > MAX_RAW_CHARS:  # junk: not worth a cache slot
                return _classify(caller, None, CliValidity.VALID, region)
            return _classify_cached(caller, None, CliValidity.VALID, region)
        return _unparseable(str(caller))
    except Exception:  # the hot path must never fail: a broken number is just unparseable
        logger.exception("caller ID normalisation failed; treating it as unparseable")
        return _unparseable(_safe_raw(caller))


def normalise_pattern(text: str, region: str = "ID") -> str:
    """A rule pattern in E.164 form: an exact number or a `+<digits>` prefix.

    `0812`, `62812`, `+62 812` all give `+62812`; a full number gives its E.164 form.
    Raises ValueError with a message fit for the technician on anything else.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty pattern: enter a number or a prefix such as 0812 or +62812")
    region = region.upper()
    stripped = text.strip().rstrip("*")  # "0812*" is a common way to write a prefix
    if len(stripped) > MAX_RAW_CHARS:
        raise ValueError(f"pattern too long ({len(stripped)} characters)")
    full = normalise(stripped, region)
    if full.number_class is NumberClass.NUMBER and full.e164 is not None:
        return full.e164
    return _prefix_pattern(stripped, region)


def _classify(
    raw: str | None, number_type: int | None, validity: CliValidity, region: str
) -> CallerNumber:
    no_number = _VALIDITY_CLASS.get(validity)
    if no_number is not None:
        return CallerNumber(raw=raw, e164=None, number_class=no_number)
    if raw is None or not raw.strip():
        return CallerNumber(raw=raw, e164=None, number_class=NumberClass.UNAVAILABLE)
    word_class = _word_class(raw)
    if word_class is not None:
        return CallerNumber(raw=raw, e164=None, number_class=word_class)
    e164 = _to_e164(raw, number_type, region)
    if e164 is None:
        return _unparseable(raw)
    return CallerNumber(raw=raw, e164=e164, number_class=NumberClass.NUMBER)


_classify_cached = functools.lru_cache(maxsize=CACHE_SIZE)(_classify)


def _word_class(raw: str) -> NumberClass | None:
    """WITHHELD/UNAVAILABLE for the words networks send instead of digits."""
    if len(raw) > 32:
        return None
    word = raw.strip().strip("<>\"'").strip().lower()
    if word in _WITHHELD_WORDS:
        return NumberClass.WITHHELD
    if word in _UNAVAILABLE_WORDS:
        return NumberClass.UNAVAILABLE
    if not any(ch.isdigit() for ch in word) and any(w in word for w in _WITHHELD_INSIDE):
        return NumberClass.WITHHELD
    return None


def _to_e164(raw: str, number_type: int | None, region: str) -> str | None:
    """The E.164 form of a dialable string, or None if it is not a possible number."""
    if len(raw) > MAX_RAW_CHARS:
        return None
    # Surrounding whitespace is framing (a trailing CR from the modem); inside a number
    # only visual separators are tolerated, never control characters.
    compact = _SEPARATORS.sub("", raw.strip())
    if not _DIALLABLE.fullmatch(compact):
        return None
    digits = compact.removeprefix("+")
    if not MIN_DIGITS <= len(digits) <= MAX_E164_DIGITS + 2:  # +2: room for "00"/"0" prefixes
        return None
    for candidate, candidate_region in _readings(compact, number_type, region):
        e164 = _possible_e164(candidate, candidate_region)
        if e164 is not None:
            return e164
    return None


def _readings(compact: str, number_type: int | None, region: str) -> list[tuple[str, str]]:
    """The ways to read a digit string, most likely first (see the module docstring)."""
    if compact.startswith("+"):
        return [(compact, region)]
    ton = (number_type or 0) & _TON_MASK
    national = (compact, region)
    if ton == _TON_NATIONAL:
        return [national]
    country_code = str(phonenumbers.country_code_for_region(region))
    own_code = country_code != "0"  # 0: unknown region, no country code to recognise
    if compact.startswith("00"):
        # "00" + own country code is an international form; otherwise phonenumbers knows
        # the region's real international prefix (Indonesia: 008/009) better than we do.
        after_idd = ("+" + compact[2:], region)
        if own_code and compact[2:].startswith(country_code):
            return [after_idd, national]
        return [national, after_idd]
    if compact.startswith("0"):
        return [national]
    if ton == _TON_INTERNATIONAL or (own_code and compact.startswith(country_code)):
        return [("+" + compact, region), national]
    return [national]


def _possible_e164(candidate: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    e164 = str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    if len(e164) - 1 > MAX_E164_DIGITS:
        return None
    return e164


def _prefix_pattern(stripped: str, region: str) -> str:
    """`+<country code><digits>` from a partial number, or ValueError."""
    compact = _SEPARATORS.sub("", stripped)
    if not _DIALLABLE.fullmatch(compact):
        raise ValueError(
            f"not a number or prefix: {stripped!r} (use digits, optionally starting with +)"
        )
    country_code = str(phonenumbers.country_code_for_region(region))
    if compact.startswith("+"):
        international = compact[1:]
    elif compact.startswith("00"):
        international = compact[2:]
    elif compact.startswith("0"):
        international = country_code + compact[1:]
    elif compact.startswith(country_code):
        international = compact
    else:
        international = country_code + compact
    if len(international) > MAX_E164_DIGITS:
        raise ValueError(f"too many digits for a phone number: {stripped!r}")
    code = _leading_country_code(international)
    if code is None:
        raise ValueError(f"no known country code at the start of {stripped!r}")
    if len(international) - len(code) < MIN_PATTERN_NATIONAL_DIGITS:
        raise ValueError(
            f"prefix {stripped!r} is too broad: give at least "
            f"{MIN_PATTERN_NATIONAL_DIGITS} digits after the country code (e.g. +62812)"
        )
    return "+" + international


def _leading_country_code(digits: str) -> str | None:
    """The country calling code that `digits` starts with (codes are 1-3 digits, prefix-free)."""
    for length in (1, 2, 3):
        code = digits[:length]
        if len(code) == length and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code
    return None


def _unparseable(raw: str | None) -> CallerNumber:
    return CallerNumber(raw=raw, e164=None, number_class=NumberClass.UNPARSEABLE)


def _safe_raw(caller: object) -> str | None:
    """The raw string of whatever we were given, for the log row; never raises."""
    try:
        if isinstance(caller, CallerId):
            return caller.raw
        return caller if isinstance(caller, str) else repr(caller)
    except Exception:
        return None
