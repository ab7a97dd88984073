"""The screening settings page as the template shows it: each card, each field's text in
the user's language, the configuration file's value beside a changed one, and each problem
beside the field it is about.

After a refused submission the fields show what was typed, not the values in force, so
nothing typed is lost; the in-force value's duration in words stays beside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from web_ui.core.i18n import translate
from web_ui.settings.form import (
    FIELDS,
    LADDER,
    LADDER_COLUMNS,
    MAX_LADDER_STEPS,
    FieldGroup,
    SettingField,
    duration_words,
    format_number,
    groups_for,
    html_id,
    ladder_cell,
    last_value,
    seconds_text,
)
from web_ui.settings.service import Problem, SettingsView, lookup
from web_ui.users.service import Language


def describe(problem: Problem, language: Language) -> str:
    """A problem's message in `language` (numbers in its notation)."""
    values = {
        key: format_number(value, language) if isinstance(value, float) else value
        for key, value in problem.values.items()
    }
    return translate(language, problem.key, **values)


@dataclass(frozen=True)
class FieldView:
    """One field as the template shows it."""

    setting: SettingField
    value: str  # the text in the input (what was typed, after a refused submission)
    checked: bool
    selected: tuple[str, ...]
    file_value: str
    overridden: bool
    hint: str  # a duration in words
    error: str | None

    @property
    def id(self) -> str:
        """The input's element id."""
        return self.setting.html_id


@dataclass(frozen=True)
class LadderRow:
    """One row of the ladder's table."""

    index: int
    cells: dict[str, str]
    flag: bool
    errors: dict[str, str]

    def name(self, column: str) -> str:
        """The form name of one cell."""
        return ladder_cell(self.index, column)

    def id(self, column: str) -> str:
        """The element id of one cell."""
        return html_id(ladder_cell(self.index, column))


@dataclass(frozen=True)
class GroupView:
    """One card: its fields, the ladder's rows (abuse only), and whether any is changed."""

    group: FieldGroup
    fields: tuple[FieldView, ...]
    ladder: tuple[LadderRow, ...]
    overridden: bool


def _text_of(setting: SettingField, value: Any, language: Language) -> str:
    """A value in force as the input shows it."""
    if setting.kind == "seconds" and isinstance(value, int | float):
        return seconds_text(value, language)
    if setting.kind in ("count", "number", "share") and isinstance(value, int | float):
        return format_number(value, language)
    if setting.kind == "numbers" and isinstance(value, list):
        return "\n".join(str(number) for number in value)
    if value is None:
        return ""
    return str(value)


def _file_text(setting: SettingField, value: Any, language: Language) -> str:
    """The base's value in words, for "file: ..." beside a changed field."""
    if setting.kind == "flag":
        return translate(language, "settings.yes" if value else "settings.no")
    if setting.kind == "choice":
        return translate(language, f"{setting.choice_key}{value}")
    if setting.kind == "reasons" and isinstance(value, list):
        names = [translate(language, f"reason.{reason}") for reason in value]
        return ", ".join(names) or translate(language, "settings.none")
    if setting.kind == "numbers" and isinstance(value, list):
        return ", ".join(str(number) for number in value) or translate(language, "settings.none")
    if setting.kind == "seconds" and isinstance(value, int | float):
        return duration_words(value, language)
    if setting.kind == "ladder" and isinstance(value, list):
        return "; ".join(_step_text(step, language) for step in value) or translate(
            language, "settings.none"
        )
    return _text_of(setting, value, language)


def setting_words(name: str, value: Any, language: Language) -> str | None:
    """A setting's value in words, as beside a changed field (the audit log shows changes
    so); None for a name that is not a setting of this page."""
    setting = FIELDS.get(name)
    return None if setting is None else _file_text(setting, value, language)


def _step_text(step: Mapping[str, Any], language: Language) -> str:
    text = translate(
        language,
        "settings.ladder.step_text",
        count=step["count"],
        within=duration_words(step["within_s"], language),
        restrict=duration_words(step["restrict_s"], language),
    )
    if step.get("flag_supervisor"):
        text += f" ({translate(language, 'settings.ladder.flag_supervisor')})"
    return text


def _field_view(
    setting: SettingField,
    view: SettingsView,
    typed: Mapping[str, Sequence[str]] | None,
    errors: Mapping[str, str],
    language: Language,
) -> FieldView:
    value = lookup(view.values(), setting.name)[1]
    text = _text_of(setting, value, language)
    checked = bool(value) if setting.kind == "flag" else False
    selected = tuple(value) if isinstance(value, list) else ()
    if typed is not None and setting.name in typed:
        submitted = typed[setting.name]
        text = last_value(submitted)
        checked = last_value(submitted) == "1"
        selected = tuple(submitted)
    hint = ""
    if setting.kind == "seconds" and isinstance(value, int | float):
        words = duration_words(value, language)
        hint = "" if words == text else words  # `90 detik` is also `1 menit 30 detik`
    return FieldView(
        setting=setting,
        value=text,
        checked=checked,
        selected=selected,
        file_value=_file_text(setting, lookup(view.base_values(), setting.name)[1], language),
        overridden=view.is_overridden(setting.name),
        hint=hint,
        error=errors.get(setting.name),
    )


def _cell_text(column: str, value: float, language: Language) -> str:
    """A ladder cell as the input shows it: a count, or a duration with its unit."""
    return format_number(value, language) if column == "count" else seconds_text(value, language)


def _ladder_rows(
    view: SettingsView,
    typed: Mapping[str, Sequence[str]] | None,
    errors: Mapping[str, str],
    language: Language,
) -> tuple[LadderRow, ...]:
    steps = lookup(view.values(), LADDER)[1] or []
    indices = range(min(MAX_LADDER_STEPS, len(steps) + 1))
    if typed is not None and LADDER in typed:  # the rows the refused form had
        indices = range(
            sum(1 for index in range(MAX_LADDER_STEPS) if ladder_cell(index, "count") in typed)
        )
    rows = []
    for index in indices:
        step = steps[index] if index < len(steps) else {}
        cells = {
            column: _cell_text(column, step[column], language) if column in step else ""
            for column in ("count", "within_s", "restrict_s")
        }
        flag = bool(step.get("flag_supervisor", False))
        if typed is not None and LADDER in typed:
            cells = {
                column: last_value(typed.get(ladder_cell(index, column), ())) for column in cells
            }
            flag = last_value(typed.get(ladder_cell(index, "flag_supervisor"), ())) == "1"
        cell_errors = {
            column: errors[ladder_cell(index, column)]
            for column in LADDER_COLUMNS
            if ladder_cell(index, column) in errors
        }
        rows.append(LadderRow(index=index, cells=cells, flag=flag, errors=cell_errors))
    return tuple(rows)


def page_groups(
    view: SettingsView,
    language: Language,
    *,
    typed: Mapping[str, Sequence[str]] | None = None,
    problems: Sequence[Problem] = (),
) -> list[GroupView]:
    """Every card of the page, with the values in force (or as typed, after a refusal)."""
    errors: dict[str, str] = {}
    for problem in problems:
        errors.setdefault(problem.field, describe(problem, language))
    shown = []
    for group in groups_for(view):
        fields = tuple(_field_view(f, view, typed, errors, language) for f in group.fields)
        ladder = _ladder_rows(view, typed, errors, language) if group.id == "abuse" else ()
        shown.append(
            GroupView(
                group=group,
                fields=fields,
                ladder=ladder,
                overridden=any(f.overridden for f in fields),
            )
        )
    return shown


def problem_label(name: str, language: Language) -> str:
    """The label of the field a problem is about, for the list at the top of the page."""
    found = re.fullmatch(re.escape(LADDER) + r"\[(\d+)\]\.(\w+)", name)
    if found is not None and found[2] in LADDER_COLUMNS:
        column = translate(language, f"settings.ladder.{found[2]}")
        return translate(language, "settings.ladder.cell", step=int(found[1]) + 1, column=column)
    setting = FIELDS.get(name)
    return "" if setting is None else translate(language, setting.label_key)
