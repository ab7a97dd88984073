"""Technical values in words: what the line service and the web UI store for machines, as a
person at the centre reads it, in their language.

The line service stores event details as JSON (`events.detail`), a modem's last error as
the English text of a Python exception (`ATTimeoutError: 'AT+CSQ': no final result within
5.0 s`), a flood's reason as an English sentence (`one number: 14 calls from +62... in
600 s`), and the web UI keeps the values before and after each change in the audit log as
JSON. None of that may reach a page as it is: an operator at 3 a.m. must not meet a Python
class name, and a supervisor must not read JSON. This module turns each into words:

- `error_words`: a line's or a recovery step's error, the modem's fault in words; the
  original text rides along (`Worded.raw`) for a page's tooltip, for the technician.
- `flood_reason_words`: the flood detector's reasons (`appliance.policy`).
- `event_words`: one sentence per event kind the dashboard and the system page show;
  other kinds as labelled values (`fields_words`).
- `fields_words` / `value_words`: any stored dict as (label, value) pairs: names from the
  message catalogue, times in the site's zone, `*_s` as durations, yes/no, machine words
  (`challenge`, `silent_after_challenge`) in the catalogue's words.
- `format_count` / `format_percent`: a count or a percentage as every page writes it, in the
  viewer's language (`29.000`, `33,3%` in Bahasa Indonesia; `29,000`, `33.3%` in English).

Only the presentation changes: the stored data and the JSON API keep their values. Text
this module has no words for is shown as it is, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from appliance.model import LINE_ERRORS
from appliance.policy import FLOOD_REASONS
from appliance.recovery import RECOVERY_DETAILS, STEPS
from firmware.at.channel import AT_ERRORS
from web_ui.core.i18n import format_time, has_message, translate
from web_ui.settings.form import duration_words, format_number
from web_ui.users.service import Language

RECOVERY_STEPS = STEPS  # the recovery ladder's steps, in order


@dataclass(frozen=True)
class Worded:
    """A technical text in words (to go inside a sentence), and the text as stored (for
    a tooltip)."""

    text: str
    raw: str

    @property
    def sentence(self) -> str:
        """The words on their own, starting with a capital."""
        return self.text[:1].upper() + self.text[1:]


# ------------------------------------------------------------------ small pieces


def _known(language: Language, key: str, fallback: str, **values: object) -> str:
    """The message `key`, or `fallback` when the catalogue has none."""
    return translate(language, key, **values) if has_message(key) else fallback


def format_count(value: float, language: Language) -> str:
    """A whole number with the language's thousands separator: `1.234` (id), `1,234` (en)."""
    text = f"{round(value):,}"
    return text.replace(",", ".") if language == "id" else text


def format_percent(value: float, language: Language, *, digits: int = 1) -> str:
    """A percentage, `digits` decimals (one: the tables' shares), the sign written on:
    `33,3%` and `1.234,5%` in Bahasa Indonesia, `33.3%` and `1,234.5%` in English."""
    text = f"{value:,.{digits}f}"
    if language == "id":
        text = text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text + "%"


def seconds_words(text: str | float, language: Language) -> str:
    """A number of seconds (`5.0`, `600`) as a duration in words (`5 detik`, `10 menit`);
    a negative one as minus its length (`-3600`: `-1 jam`, a clock stepped back)."""
    try:
        seconds = float(text)
    except ValueError:
        return str(text)
    words = duration_words(abs(seconds), language)
    return f"-{words}" if seconds < 0 else words


def yes_no(value: bool, language: Language) -> str:
    """`ya` / `tidak`."""
    return translate(language, "wording.yes" if value else "wording.no")


# ------------------------------------------------------------------ errors

# What each figure of an error template may hold, read back from a stored text.
_ERROR_FIELDS = {
    "inner": ".+",
    "reply": ".+",
    "command": "[^']*",
    "seconds": "[0-9.]+",
    "call": "[0-9]+",
    "polls": "[0-9]+",
}
_CLASS_PREFIX = r"(?:[A-Z][A-Za-z]*: )?"  # how a line stores an exception: `ATTimeoutError: `


def _template_pattern(template: str) -> re.Pattern[str]:
    """An error template (`'{command}' failed: {reply}`) as a pattern that reads its
    figures back: the literal text kept, each `{name}` a named group, after the name of
    the exception that carried it, if stored with one."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>{_ERROR_FIELDS[part]})"
        for index, part in enumerate(parts)
    )
    return re.compile(_CLASS_PREFIX + pattern)


def _from_template(key: str) -> Callable[[re.Match[str], Language], str]:
    """The catalogue's words for `key`, with the figures read back: an inner error worded in
    turn, seconds as a duration."""

    def words(found: re.Match[str], language: Language) -> str:
        values = dict(found.groupdict())
        if "inner" in values:
            values["inner"] = error_words(values["inner"], language).text
        if "seconds" in values:
            values["seconds"] = seconds_words(values["seconds"], language)
        return translate(language, key, **values)

    return words


def _fixed(key: str) -> Callable[[re.Match[str], Language], str]:
    return lambda found, language: translate(language, key)


_Rewrite = tuple[re.Pattern[str], Callable[[re.Match[str], Language], str]]

_ERRORS: tuple[_Rewrite, ...] = (
    *(
        (_template_pattern(template), _from_template(f"wording.error.{kind}"))
        for kind, template in {**LINE_ERRORS, **AT_ERRORS}.items()
    ),
    *(
        (re.compile(re.escape(text)), _fixed(f"wording.error.{key}"))
        for key, text in RECOVERY_DETAILS.items()
    ),
    (
        re.compile(r"(?:ChannelClosedError|ChannelError)(?::.*)?"),
        _fixed("wording.error.port_closed"),
    ),
    (re.compile(r"UsbResetError(?::.*)?"), _fixed("wording.error.usb_reset")),
    (
        re.compile(
            r"(?:OSError|FileNotFoundError|PermissionError|SerialException|"
            r"ConnectionError|BrokenPipeError)(?::.*)?"
        ),
        _fixed("wording.error.port_os"),
    ),
    (re.compile(r"[A-Z][A-Za-z0-9_]*(?:Error|Exception)(?::.*)?"), _fixed("wording.error.program")),
)


def error_words(raw: str | None, language: Language) -> Worded:
    """A stored error in words (empty for none); unknown text stays as it is."""
    text = (raw or "").strip()
    for pattern, rewrite in _ERRORS:
        found = pattern.fullmatch(text)
        if found is not None:
            return Worded(rewrite(found, language), text)
    return Worded(text, text)


# ------------------------------------------------------------------ flood reasons


def _reason_pattern(template: str) -> re.Pattern[str]:
    """A flood reason template (`appliance.policy.FLOOD_REASONS`) as a pattern that reads
    its figures back: the literal text kept, each `{name}` a named group."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>\\S+?)"
        for index, part in enumerate(parts)
    )
    return re.compile(pattern)


_FLOOD: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (_reason_pattern(template), signal) for signal, template in FLOOD_REASONS.items()
)
_DURATION_GROUPS = frozenset({"window", "within"})


def flood_reason_words(raw: str | None, language: Language) -> str:
    """Why flood mode went on (or off), in words; an unknown reason as it is."""
    text = (raw or "").strip()
    for pattern, name in _FLOOD:
        found = pattern.fullmatch(text)
        if found is not None:
            values = {
                group: seconds_words(value, language) if group in _DURATION_GROUPS else value
                for group, value in found.groupdict().items()
            }
            words = translate(language, f"wording.flood.{name}", **values)
            return words[:1].upper() + words[1:]
    return text


def hot_prefix_words(prefix: str | None, language: Language) -> str:
    """The number block that carried a flood, in words ("" when none)."""
    if not prefix:
        return ""
    if prefix == "withheld":
        return translate(language, "wording.flood.hot_withheld")
    return translate(language, "wording.flood.hot_prefix", prefix=prefix)


# ------------------------------------------------------------------ stored values

# The catalogue prefixes that name a key's machine words, tried in order.
_VOCABULARY: dict[str, tuple[str, ...]] = {
    "role": ("role.",),
    "language": ("lang.",),
    "kind": ("rule_kind.", "request."),
    "match": ("rules.match.",),
    "action": ("decision.", "wording.watchdog."),
    "decision": ("decision.",),
    "state": ("state.", "wording.clcc."),
    "status": ("callbacks.status.",),
    "reason": ("callbacks.reason.", "reason.", "wording.removed_reason."),
    "removed_reason": ("wording.removed_reason.",),
    "disposition": ("disposition.", "disposition.genuine."),
    "number_class": ("number_class.",),
    "challenge_result": ("challenge.",),
    "end_cause": ("end_cause.",),
    "dialect": ("wording.dialect.",),
    "period": ("wording.period.",),
    "password": ("wording.password.",),
    "duration": ("wording.duration.",),
    "family": ("lines.family.",),
    "reject_method": ("lines.choice.reject_method.",),
    "call_waiting": ("lines.choice.call_waiting.",),
    "step": ("wording.recovery.step.",),
    "steps": ("wording.recovery.step.",),
    "after": ("wording.recovery.step.",),
    "outcome": ("wording.recovery.outcome.",),
}
_LABEL_PREFIXES = ("wording.key.", "lines.field.", "settings.field.")
_ERROR_KEYS = frozenset({"error", "last_error"})
_TIME_KEYS = frozenset({"locked_until"})  # POSIX seconds under a name without `_ts`


def key_label(key: str, language: Language) -> str:
    """A stored value's name in words; a name the catalogue does not know, as it is."""
    for prefix in _LABEL_PREFIXES:
        if has_message(prefix + key):
            return translate(language, prefix + key)
    return key


def _word(key: str, value: str, language: Language) -> str:
    if value.startswith("genuine:") and key == "disposition":
        return _known(language, f"disposition.genuine.{value[8:]}", value)
    for prefix in _VOCABULARY.get(key, ()):
        if has_message(prefix + value):
            return translate(language, prefix + value)
    if key in _ERROR_KEYS:
        return error_words(value, language).text
    if key == "reason":
        return flood_reason_words(value, language)
    return value


def value_words(key: str, value: Any, language: Language, zone: ZoneInfo) -> str:
    """One stored value in words, read by its key (`*_ts` a time, `*_s` a duration)."""
    if value is None or value == "":
        return translate(language, "wording.none")
    if isinstance(value, bool):
        return yes_no(value, language)
    if isinstance(value, int | float):
        return _number_words(key, float(value), language, zone)
    if isinstance(value, str):
        return _word(key, value, language)
    if isinstance(value, Mapping):
        return "; ".join(f"{label}: {text}" for label, text in fields_words(value, language, zone))
    if isinstance(value, Sequence):
        return ", ".join(value_words(key, item, language, zone) for item in value) or translate(
            language, "wording.none"
        )
    return str(value)


def _number_words(key: str, value: float, language: Language, zone: ZoneInfo) -> str:
    if key.endswith("_ts") or key in _TIME_KEYS:
        return format_time(value, zone, language)
    if key.endswith("_s"):
        return seconds_words(value, language)
    return format_number(value, language)


def fields_words(
    values: Mapping[str, Any], language: Language, zone: ZoneInfo
) -> list[tuple[str, str]]:
    """Each stored value as (its name, the value) in words; a time stored twice (`*_at`
    and `*_ts`) once."""
    shown = [key for key in values if not (key.endswith("_at") and f"{key[:-3]}_ts" in values)]
    return [
        (key_label(key, language), value_words(key, values[key], language, zone)) for key in shown
    ]


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class _Event:
    """What a sentence about an event is made from."""

    detail: Mapping[str, Any]
    language: Language
    zone: ZoneInfo

    def value(self, key: str) -> str:
        """The detail's `key` in words."""
        return value_words(key, self.detail.get(key), self.language, self.zone)

    def say(self, key: str, **values: object) -> str:
        """The message `key` with `values`."""
        return translate(self.language, key, **values)


def _recovery(event: _Event) -> str:
    detail, step = event.detail, str(event.detail.get("step"))
    if step == "recovered":
        return event.say("wording.recovery.recovered", steps=event.value("steps"))
    if step in RECOVERY_STEPS:
        text = event.say(
            "wording.recovery.step",
            number=RECOVERY_STEPS.index(step) + 1,
            steps=len(RECOVERY_STEPS),
            step=event.value("step"),
            outcome=event.value("outcome"),
        )
        if detail.get("outcome") in ("skipped", "failed") and detail.get("detail"):
            text += f" ({error_words(str(detail['detail']), event.language).text})"
    else:
        text = event.say("wording.recovery.exhausted")
    parts = [text]
    if int(detail.get("round") or 1) > 1:
        parts.append(event.say("wording.recovery.round", round=detail["round"]))
    if detail.get("error"):
        parts.append(event.say("wording.recovery.error", error=event.value("error")))
    return "; ".join(parts)


def _alarm(event: _Event) -> str:
    kind, message = event.detail.get("kind"), str(event.detail.get("message") or "")
    if kind == "clock_unsynced":
        return event.say("wording.alarm.clock_unsynced")
    disk = re.fullmatch(r"(?P<free>\d+) MB free of (?P<total>\d+) MB on (?P<folder>.+)", message)
    if kind == "disk_low" and disk is not None:
        free, total = (format_count(int(disk[key]), event.language) for key in ("free", "total"))
        return event.say("wording.alarm.disk_low", free=free, total=total, folder=disk["folder"])
    if kind == "login_lockouts":
        return event.say(
            "wording.alarm.login_lockouts",
            user=event.value("user"),
            count=event.value("lockouts"),
            remote=event.value("remote"),
        )
    return message


def _flood(event: _Event) -> str:
    words = flood_reason_words(str(event.detail.get("reason") or ""), event.language)
    hot = hot_prefix_words(event.detail.get("hot_prefix"), event.language)
    return f"{words}; {hot}" if hot else words


def _degraded_list(event: _Event, key: str) -> str:
    kinds = event.detail.get(key) or []
    words = [_known(event.language, f"state.degraded.{kind}", str(kind)) for kind in kinds]
    return ", ".join(words) or translate(event.language, "wording.none")


def _rule(event: _Event) -> str:
    reason = event.detail.get("reason")
    return event.say(
        "wording.event.rule",
        kind=event.value("kind"),
        pattern=event.value("pattern"),
        match=event.value("match"),
        action=event.value("action"),
        reason=f": {reason}" if reason else "",
    )


_SENTENCES: dict[str, Callable[[_Event], str]] = {
    "recovery": _recovery,
    "alarm": _alarm,
    "flood_on": _flood,
    "flood_off": _flood,
    "line_crashed": lambda e: error_words(str(e.detail.get("error") or ""), e.language).sentence,
    "line_failed": lambda e: error_words(str(e.detail.get("error") or ""), e.language).sentence,
    "supervisor_flag": lambda e: e.say(
        "wording.event.supervisor_flag",
        caller=e.value("caller"),
        level=e.value("level"),
        junk=e.value("junk_24h"),
        until=e.value("until_ts"),
    ),
    "modem_changed": lambda e: e.say(
        "wording.event.modem_changed", expected=e.value("expected"), found=e.value("found")
    ),
    "missed_call": lambda e: e.say(
        "wording.event.missed_call",
        caller=e.detail.get("caller") or e.value("caller_raw"),
        rings=e.value("rings"),
    ),
    "settings_lost": lambda e: e.say(
        "wording.event.settings_lost",
        lost=_degraded_list(e, "lost"),
        restored=_degraded_list(e, "restored"),
    ),
    "line_degraded": lambda e: e.say(
        "wording.event.line_degraded",
        missing=_degraded_list(e, "missing"),
        retry=e.value("retry_s"),
    ),
    "line_restored": lambda e: e.say(
        "wording.event.line_restored", restored=_degraded_list(e, "restored")
    ),
    "caller_id_lost": lambda e: e.say("wording.event.caller_id_lost", call=e.value("call_id")),
    "call_watchdog": lambda e: e.say(
        "wording.event.call_watchdog",
        call=e.value("call_id"),
        state=e.value("state"),
        held=e.value("held_s"),
        limit=e.value("limit_s"),
        action=e.value("action"),
    ),
    "call_left_up": lambda e: e.say(
        "wording.event.call_left_up",
        caller=e.value("caller_raw"),
        state=e.value("state"),
        released=e.say(
            "wording.left_up.released" if e.detail.get("released") else "wording.left_up.kept"
        ),
    ),
    "clock_step": lambda e: e.say("wording.event.clock_step", step=e.value("step_s")),
    "phantom_ring": lambda e: e.say("wording.event.phantom_ring", rings=e.value("rings")),
    "rule_added": _rule,
    "rule_removed": lambda e: e.say(
        "wording.event.rule_removed", id=e.value("id"), by=e.value("by")
    ),
    "interrupted_calls": lambda e: e.say("wording.event.interrupted_calls", count=e.value("count")),
}


def event_words(kind: str, detail: Mapping[str, Any], language: Language, zone: ZoneInfo) -> str:
    """An event's detail as a sentence (or its labelled values) in `language`."""
    event = _Event(detail, language, zone)
    sentence = _SENTENCES.get(kind)
    try:
        if sentence is not None:
            return sentence(event)
    except (KeyError, TypeError, ValueError):  # a detail shaped unlike the known ones
        pass
    return "; ".join(f"{label}: {text}" for label, text in fields_words(detail, language, zone))


def event_kind_label(kind: str, language: Language) -> str:
    """An event kind's name: the system page's, else the dashboard's alarm name."""
    return _known(
        language, f"wording.kind.{kind}", _known(language, f"dashboard.alarm.{kind}", kind)
    )
