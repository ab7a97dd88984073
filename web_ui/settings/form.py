"""The screening settings page's form: which settings it shows, how typed text is read.

Every field is named by its dotted key in the configuration (`policy.throttle.max_calls`);
the ladder's cells by the configuration's own notation (`policy.abuse.ladder[1].count`),
so a `ConfigError` lands next to the cell it is about. A field absent from a submitted
form is left as it is; a checkbox travels with a hidden `0` before it, so an unticked box
is "off", not "absent".

Numbers are read the way people type them:

- Bahasa Indonesia writes `0,5` and `86.400` (a decimal comma, dots between thousands);
  English `0.5` and `86,400`. The user's language decides which separator groups
  thousands; the other one, or a lone separator that does not group digits in threes,
  is the decimal mark. `0.5` is 0.5 in either language.
- Durations are seconds; a unit may follow: `10 menit`, `2 jam`, `7 hari`, `10 min`,
  `2 h`, `7 d`. The page shows each in the largest unit it is a whole number of (`7 hari`
  rather than `604800`), which reads back as the same number of seconds.
- A share may be written `0,5` or `50 %`.
- A `number` (a threshold such as the reputation's) need not be whole: `2,5`.

Each value is checked against the configuration model's own bounds (and a few of the
page's: durations up to ten years, texts of a sensible length) only when it differs from
the value in force; what remains is `effective_config`'s to judge.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic.fields import FieldInfo

from appliance.config import Config, LadderStep
from web_ui.core.i18n import translate
from web_ui.settings.service import Problem, SettingsView, lookup, normalise_numbers
from web_ui.users.service import Language

FieldKind = Literal[
    "count",
    "number",
    "share",
    "seconds",
    "flag",
    "choice",
    "key",
    "text",
    "numbers",
    "reasons",
    "ladder",
]
LADDER = "policy.abuse.ladder"
LADDER_COLUMNS = ("count", "within_s", "restrict_s", "flag_supervisor")
MAX_LADDER_STEPS = 8
MAX_SECONDS = 10 * 365 * 86_400.0
MAX_COUNT = 1_000_000
MAX_PROMPT_CHARS = 500
MAX_INPUT_CHARS = 2_000  # any one submitted value; longer is refused before it is read
PROMPT_LANGUAGES: tuple[Language, ...] = ("id", "en")
# The recordings (`*_file`) are not offered: they name files on the modem's flash, which
# the technician who stores them names in the configuration file.
PROMPT_TEXTS = (
    "challenge",
    "flood_challenge",
    "connecting",
    "announce",
    "silent_goodbye",
    "reported",
)
PROMPT_SECONDS = tuple(
    f"{name}_seconds"
    for name in ("challenge", "flood_challenge", "connecting", "announce", "goodbye", "reported")
)
HANG_UP_REASONS = (
    "abuse",
    "blocklist",
    "flood",
    "throttle",
    "no_history",
    "withheld",
    "unavailable",
    "unparseable",
)
UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds", "dtk", "detik"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "mnt", "menit"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "j", "jam"), 3_600.0),
    **dict.fromkeys(("d", "day", "days", "hari"), 86_400.0),
}
_BLANKS = re.compile(r"[\s\u00a0\u202f_]")
_PLAIN_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_WITH_UNIT = re.compile(r"(?P<number>.*?)\s*(?P<unit>[^\W\d_]+)?\s*", re.UNICODE)
_NUMBER_LIST = re.compile(r"[\n,;]+")


@dataclass(frozen=True)
class SettingField:
    """One setting on the page: its dotted name and how it is typed."""

    name: str
    kind: FieldKind
    choices: tuple[str, ...] = ()
    choice_key: str = ""  # message key prefix of the choices' names
    textarea: bool = False

    @property
    def generic_name(self) -> str:
        """The name without the prompt language (`prompts.challenge`), for its words."""
        parts = self.name.split(".")
        return ".".join([parts[0], *parts[2:]]) if parts[0] == "prompts" else self.name

    @property
    def label_key(self) -> str:
        """The message key of the field's label."""
        return f"settings.field.{self.generic_name}"

    @property
    def help_key(self) -> str:
        """The message key of the line of help under the field."""
        return f"settings.help.{self.generic_name}"

    @property
    def html_id(self) -> str:
        """A safe element id for the field."""
        return html_id(self.name)


@dataclass(frozen=True)
class FieldGroup:
    """One card of the page: a title and its fields."""

    id: str
    title_key: str
    fields: tuple[SettingField, ...]
    language: Language | None = None


def html_id(name: str) -> str:
    """An element id for the setting `name` (`policy.abuse.ladder[0].count` -> `f-policy-...`)."""
    return "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")


def ladder_cell(index: int, column: str) -> str:
    """The name of a ladder cell, as `ConfigError` names it."""
    return f"{LADDER}[{index}].{column}"


# ------------------------------------------------------------------ the fields


@cache
def _config_field(name: str) -> FieldInfo:
    """The configuration model's field behind a dotted name (dict keys are walked over)."""
    annotation: Any = Config
    info: FieldInfo | None = None
    for part in name.split("."):
        if get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
            continue
        info = annotation.model_fields[part]
        annotation = info.annotation
    assert info is not None, name
    return info


def _choices(name: str) -> tuple[str, ...]:
    return tuple(str(choice) for choice in get_args(_config_field(name).annotation))


def _choice(name: str, choice_key: str) -> SettingField:
    return SettingField(name, "choice", _choices(name), choice_key)


def _prompt_group(language: Language) -> FieldGroup:
    texts = tuple(
        SettingField(f"prompts.{language}.{name}", "text", textarea=True) for name in PROMPT_TEXTS
    )
    seconds = tuple(
        SettingField(f"prompts.{language}.{name}", "seconds") for name in PROMPT_SECONDS
    )
    return FieldGroup(
        f"prompts_{language}", f"settings.group.prompts_{language}", texts + seconds, language
    )


def _groups() -> tuple[FieldGroup, ...]:
    return (
        FieldGroup(
            "throttle",
            "settings.group.throttle",
            (
                SettingField("policy.throttle.max_calls", "count"),
                SettingField("policy.throttle.window_s", "seconds"),
                _choice("policy.throttle.action", "decision."),
            ),
        ),
        FieldGroup(
            "abuse",
            "settings.group.abuse",
            (
                SettingField(LADDER, "ladder"),  # a table; its cells are read one by one
                _choice("policy.abuse.action", "decision."),
                SettingField("policy.abuse.immunity_s", "seconds"),
                # The reputation restricts like the ladder, with the same action: one card.
                SettingField("policy.abuse.reputation_threshold", "number"),
                SettingField("policy.abuse.reputation_half_life_s", "seconds"),
            ),
        ),
        FieldGroup(
            "callers",
            "settings.group.callers",
            (
                _choice("policy.withheld_action", "decision."),
                _choice("policy.unavailable_action", "decision."),
                _choice("policy.unparseable_action", "decision."),
                SettingField("policy.challenge_unknown", "flag"),
                SettingField("policy.good_history_s", "seconds"),
                SettingField("policy.junk_evidence_s", "seconds"),
                SettingField("policy.heard_after_unheard_s", "seconds"),
            ),
        ),
        FieldGroup(
            "challenge",
            "settings.group.challenge",
            (
                SettingField("challenge.key", "key"),
                SettingField("challenge.attempts", "count"),
                SettingField("challenge.wait_after_prompt_s", "seconds"),
                SettingField("challenge.warn_reported", "flag"),
                SettingField("challenge.reported_hold_s", "seconds"),
                _choice("challenge.unverified_without_evidence", "settings.unverified."),
                SettingField("challenge.silent_to_idle_operator", "flag"),
                SettingField(
                    "challenge.hang_up_unverified_for", "reasons", HANG_UP_REASONS, "reason."
                ),
            ),
        ),
        # Flood mode in three cards, as docs/floods.md tells it: the signals that start
        # it; the numbers it comes from (each a signal too, and what flood mode rejects);
        # how it keeps lines free for genuine callers.
        FieldGroup(
            "flood",
            "settings.group.flood",
            (
                SettingField("policy.flood.enabled", "flag"),
                SettingField("policy.flood.rate_window_s", "seconds"),
                SettingField("policy.flood.max_calls_in_window", "count"),
                SettingField("policy.flood.new_numbers_min", "count"),
                SettingField("policy.flood.saturation_s", "seconds"),
                SettingField("policy.flood.saturation_occupancy", "share"),
                SettingField("policy.flood.reseize_s", "seconds"),
                SettingField("policy.flood.reseize_min", "count"),
                SettingField("policy.flood.waiting_min_calls", "count"),
                SettingField("policy.flood.quiet_s", "seconds"),
            ),
        ),
        FieldGroup(
            "flood_sources",
            "settings.group.flood_sources",
            (
                SettingField("policy.flood.number_min_calls", "count"),
                SettingField("policy.flood.block_prefix_digits", "count"),
                SettingField("policy.flood.block_min_numbers", "count"),
                SettingField("policy.flood.block_min_calls", "count"),
                SettingField("policy.flood.block_min_share", "share"),
                SettingField("policy.flood.withheld_min_calls", "count"),
                SettingField("policy.flood.withheld_min_share", "share"),
            ),
        ),
        FieldGroup(
            "flood_lines",
            "settings.group.flood_lines",
            (
                SettingField("policy.flood.reserve_lines", "count"),
                SettingField("policy.flood.redial_window_s", "seconds"),
                SettingField("policy.flood.short_challenge_free_lines", "count"),
                # A `challenge` setting, but only flood mode's short challenge uses it.
                SettingField("challenge.flood_wait_s", "seconds"),
            ),
        ),
        *(_prompt_group(language) for language in PROMPT_LANGUAGES),
        FieldGroup(
            "sms",
            "settings.group.sms",
            (
                SettingField("sms.enabled", "flag"),
                SettingField("sms.warn_restricted", "flag"),
                SettingField("sms.warning_text", "text", textarea=True),
                SettingField("sms.max_per_day", "count"),
                SettingField("sms.warnings_per_number_s", "seconds"),
                SettingField("sms.supervisors", "numbers", textarea=True),
            ),
        ),
    )


GROUPS: tuple[FieldGroup, ...] = _groups()
GROUPS_BY_ID: dict[str, FieldGroup] = {group.id: group for group in GROUPS}
FIELDS: dict[str, SettingField] = {f.name: f for group in GROUPS for f in group.fields}


def groups_for(view: SettingsView) -> list[FieldGroup]:
    """The groups the page shows: prompts only in the languages the configuration has."""
    languages = set(view.values()["prompts"])
    return [group for group in GROUPS if group.language is None or group.language in languages]


# ------------------------------------------------------------------ reading numbers


def _grouped(text: str, separator: str) -> bool:
    return re.fullmatch(rf"-?\d{{1,3}}({re.escape(separator)}\d{{3}})+", text) is not None


def parse_number(text: str, language: Language) -> float:
    """A number as a user of `language` types it; ValueError if it is not one."""
    cleaned = _BLANKS.sub("", text)
    commas, dots = cleaned.count(","), cleaned.count(".")
    if commas and dots:
        decimal = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
        group = "." if decimal == "," else ","
        whole, _, fraction = cleaned.rpartition(decimal)
        if cleaned.count(decimal) != 1 or not _grouped(whole, group):
            raise ValueError(text)
        cleaned = f"{whole.replace(group, '')}.{fraction}"
    elif commas or dots:
        separator = "," if commas else "."
        if separator == ("." if language == "id" else ",") and _grouped(cleaned, separator):
            cleaned = cleaned.replace(separator, "")
        elif cleaned.count(separator) == 1:
            cleaned = cleaned.replace(separator, ".")
        else:
            raise ValueError(text)
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        raise ValueError(text)
    return float(cleaned)


def parse_count(text: str, language: Language) -> int:
    """A whole number (`1.000` in Bahasa Indonesia is a thousand); ValueError otherwise."""
    value = parse_number(text, language)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


def parse_seconds(text: str, language: Language) -> float:
    """Seconds, or a number with a unit (`10 menit`, `2 jam`, `7 hari`, `90 s`)."""
    found = _WITH_UNIT.fullmatch(text.strip())
    if found is None:
        raise ValueError(text)
    unit = (found["unit"] or "s").lower()
    if unit not in UNIT_SECONDS:
        raise ValueError(text)
    return parse_number(found["number"], language) * UNIT_SECONDS[unit]


def parse_share(text: str, language: Language) -> float:
    """A share of 1: `0,5`, `0.5` or `50 %`."""
    cleaned = text.strip()
    if cleaned.endswith("%"):
        return parse_number(cleaned[:-1], language) / 100.0
    return parse_number(cleaned, language)


def format_number(value: float, language: Language) -> str:
    """A number as the page shows it: no exponent, a decimal comma in Bahasa Indonesia."""
    number = float(value)
    text = repr(number)  # the shortest text that reads back as the same number
    if number.is_integer():
        text = str(int(number))
    elif "e" in text:
        text = f"{number:.12f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "id" else text


def seconds_text(seconds: float, language: Language) -> str:
    """A duration as the form shows it: in the largest unit it is a whole number of, so it
    reads back exactly (`604800` -> `7 hari` / `7 d`; `90` -> `90 detik` / `90 s`)."""
    value = float(seconds)
    for unit_s, key in ((86_400.0, "days"), (3_600.0, "hours"), (60.0, "minutes")):
        if value >= unit_s and value % unit_s == 0:
            return translate(language, f"settings.unit.{key}", n=int(value // unit_s))
    return translate(language, "settings.unit.seconds", n=format_number(value, language))


def duration_words(seconds: float, language: Language) -> str:
    """`2592000` -> `30 hari` / `30 d`; `90` -> `1 menit 30 detik` / `1 min 30 s`."""
    parts: list[str] = []
    remaining = float(seconds)
    for unit_s, key in ((86_400.0, "days"), (3_600.0, "hours"), (60.0, "minutes")):
        count, remaining = divmod(remaining, unit_s)
        if count:
            parts.append(translate(language, f"settings.unit.{key}", n=int(count)))
    if remaining > 0.0005 or not parts:
        rounded = format_number(round(remaining, 3), language)
        parts.append(translate(language, "settings.unit.seconds", n=rounded))
    return " ".join(parts)


# ------------------------------------------------------------------ checking values


def _page_limits(kind: FieldKind) -> tuple[Any, ...]:
    if kind == "seconds":
        return (annotated_types.Le(MAX_SECONDS),)
    if kind in ("count", "number"):
        return (annotated_types.Le(MAX_COUNT),)
    if kind == "text":
        return (annotated_types.MaxLen(MAX_PROMPT_CHARS), annotated_types.MinLen(1))
    return ()


def check_value(name: str, value: Any, rules: Sequence[Any]) -> Problem | None:
    """The first of the configuration model's bounds (`Gt`, `Le`, lengths, a pattern)
    that `value` breaks, as a problem with a translatable message."""
    for rule in rules:
        problem = _broken(name, value, rule)
        if problem is not None:
            return problem
    return None


def _broken(name: str, value: Any, rule: Any) -> Problem | None:
    comparisons = (
        (annotated_types.Gt, "gt", operator.gt),
        (annotated_types.Ge, "ge", operator.ge),
        (annotated_types.Lt, "lt", operator.lt),
        (annotated_types.Le, "le", operator.le),
    )
    for rule_type, attribute, holds in comparisons:
        if isinstance(rule, rule_type):
            limit = getattr(rule, attribute)
            if not holds(value, limit):
                return Problem(name, f"settings.error.{attribute}", {"limit": float(limit)})
            return None
    if isinstance(rule, annotated_types.MinLen) and len(value) < rule.min_length:
        return Problem(name, "settings.error.required")
    if isinstance(rule, annotated_types.MaxLen) and len(value) > rule.max_length:
        return Problem(name, "settings.error.too_long", {"limit": float(rule.max_length)})
    pattern = getattr(rule, "pattern", None)
    if isinstance(pattern, str) and re.fullmatch(pattern, value) is None:
        return Problem(name, "settings.error.pattern")
    return None


def _rules(name: str, kind: FieldKind) -> tuple[Any, ...]:
    return (*_config_field(name).metadata, *_page_limits(kind))


def _ladder_rules(column: str) -> tuple[Any, ...]:
    kind: FieldKind = "count" if column == "count" else "seconds"
    return (*LadderStep.model_fields[column].metadata, *_page_limits(kind))


# ------------------------------------------------------------------ reading the form


@dataclass
class FormReading:
    """What a submitted form changes (only values that differ from those in force), and
    what could not be read."""

    changes: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def last_value(values: Sequence[str]) -> str:
    """The last of a field's submitted values (a ticked box follows its hidden `0`)."""
    return values[-1] if values else ""


def _parse(
    setting: SettingField, values: Sequence[str], language: Language, region: str
) -> tuple[Any, list[Problem]]:
    """The typed value of one field, or the problems reading it."""
    text = last_value(values).strip()
    readers = {
        "count": parse_count,
        "number": parse_number,
        "seconds": parse_seconds,
        "share": parse_share,
    }
    try:
        if setting.kind in readers:
            return readers[setting.kind](text, language), []
    except ValueError:
        key = "settings.error.whole_number" if setting.kind == "count" else "settings.error.number"
        return None, [Problem(setting.name, key, {"value": text})]
    if setting.kind == "flag":
        return last_value(values) == "1", []
    if setting.kind == "choice" and text not in setting.choices:
        return None, [Problem(setting.name, "settings.error.choice")]
    if setting.kind == "reasons":
        chosen = [value for value in values if value]
        if set(chosen) - set(setting.choices):
            return None, [Problem(setting.name, "settings.error.choice")]
        return [reason for reason in setting.choices if reason in chosen], []
    if setting.kind == "numbers":
        return normalise_numbers(setting.name, _NUMBER_LIST.split(last_value(values)), region)
    if setting.kind == "text":
        return last_value(values).replace("\r\n", "\n").strip(), []
    return text, []


def _same(setting: SettingField, value: Any, current: Any, region: str) -> bool:
    """True when `value` is what is in force already (so nothing is checked or stored)."""
    if setting.kind in ("count", "number", "seconds", "share"):
        return isinstance(current, int | float) and float(value) == float(current)
    if setting.kind == "reasons":
        return isinstance(current, list) and set(value) == {str(reason) for reason in current}
    if setting.kind == "numbers":
        if not isinstance(current, list):
            return False
        numbers = normalise_numbers(setting.name, current, region)[0]
        return bool(numbers == value)
    if setting.kind == "text":
        return isinstance(current, str) and value == current.replace("\r\n", "\n").strip()
    return bool(value == current)


def _too_long(form: Mapping[str, Sequence[str]]) -> list[Problem]:
    return [
        Problem(name, "settings.error.too_long", {"limit": float(MAX_INPUT_CHARS)})
        for name, values in form.items()
        if any(len(value) > MAX_INPUT_CHARS for value in values)
    ]


def read_form(
    form: Mapping[str, Sequence[str]], view: SettingsView, language: Language
) -> FormReading:
    """The changes a submitted form asks for, compared with the values in force."""
    reading = FormReading(problems=_too_long(form))
    if reading.problems:
        return reading
    region = view.base.site.region
    values = view.values()
    for group in groups_for(view):
        for setting in group.fields:
            if setting.name == LADDER:
                _read_ladder(form, values, language, reading)
            elif setting.name in form:
                _read_field(setting, form[setting.name], values, language, region, reading)
    return reading


def _read_field(
    setting: SettingField,
    submitted: Sequence[str],
    values: Mapping[str, Any],
    language: Language,
    region: str,
    reading: FormReading,
) -> None:
    value, problems = _parse(setting, submitted, language, region)
    if problems:
        reading.problems.extend(problems)
        return
    if _same(setting, value, lookup(values, setting.name)[1], region):
        return
    problem = None
    if not isinstance(value, list | bool):
        problem = check_value(setting.name, value, _rules(setting.name, setting.kind))
    if problem is not None:
        reading.problems.append(problem)
    else:
        reading.changes[setting.name] = value


# ------------------------------------------------------------------ the ladder


def _ladder_row(
    form: Mapping[str, Sequence[str]], index: int, language: Language
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """One row of the ladder's table: a step, nothing (all blank), or its problems."""
    texts = {
        column: last_value(form.get(ladder_cell(index, column), ())).strip()
        for column in LADDER_COLUMNS
    }
    if not any(texts[column] for column in ("count", "within_s", "restrict_s")):
        return None, []
    step: dict[str, Any] = {"flag_supervisor": texts["flag_supervisor"] == "1"}
    problems: list[Problem] = []
    for column in ("count", "within_s", "restrict_s"):
        name = ladder_cell(index, column)
        text = texts[column]
        if not text:
            default = LadderStep.model_fields[column].default
            if column == "within_s" and isinstance(default, float):
                step[column] = default
            else:
                problems.append(Problem(name, "settings.error.required"))
            continue
        try:
            step[column] = (
                parse_count(text, language) if column == "count" else parse_seconds(text, language)
            )
        except ValueError:
            key = "settings.error.whole_number" if column == "count" else "settings.error.number"
            problems.append(Problem(name, key, {"value": text}))
    return (None if problems else step), problems


def _read_ladder(
    form: Mapping[str, Sequence[str]],
    values: Mapping[str, Any],
    language: Language,
    reading: FormReading,
) -> None:
    """The ladder's table, when the form carried it (its hidden `policy.abuse.ladder`)."""
    if LADDER not in form:
        return
    steps: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for index in range(MAX_LADDER_STEPS):
        step, found = _ladder_row(form, index, language)
        problems.extend(found)
        if step is not None:
            steps.append(step)
    if problems:
        reading.problems.extend(problems)
        return
    if steps == lookup(values, LADDER)[1]:
        return
    for index, step in enumerate(steps):
        for column in ("count", "within_s", "restrict_s"):
            problem = check_value(ladder_cell(index, column), step[column], _ladder_rules(column))
            if problem is not None:
                problems.append(problem)
    counts = [step["count"] for step in steps]
    if counts != sorted(set(counts)):
        problems.append(Problem(LADDER, "settings.error.ladder_order"))
    reading.problems.extend(problems)
    if not problems:
        reading.changes[LADDER] = steps


def reset_targets(target: str) -> list[str]:
    """What a page's reset button names: a card (each of its settings) or one setting."""
    group = GROUPS_BY_ID.get(target)
    if group is None:
        return [target]
    return [setting.name for setting in group.fields]
