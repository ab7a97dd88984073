"""The audit log as the page shows it: each entry's action, target and values in words.

The audit log stores the values before and after a change as JSON (`web_ui.users.audit`); the
page shows them as labelled values in the viewer's language (`web_ui.core.wording`), and for
an entry holding both, only what changed: a user's role going from operator to supervisor
is one line, not the whole account twice. A screening setting is named and valued as on
the settings page. The JSON API keeps the stored values as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from web_ui.core.i18n import has_message, translate
from web_ui.core.wording import key_label, value_words
from web_ui.settings.page import setting_words
from web_ui.users.audit import AuditEntry
from web_ui.users.service import Language

# `line:gsm1`, `call:17`, `callback:3`, `flood:2026-...`: a target's kind and its name.
_TARGET = re.compile(r"(?P<kind>line|call|callback|flood):(?P<name>.+)")
_NAMED_TARGETS = frozenset({"calls", "report", "rules", "settings"})


@dataclass(frozen=True)
class AuditRow:
    """An entry as the page shows it."""

    entry: AuditEntry
    action_label: str
    target_text: str
    before: list[tuple[str, str]]
    after: list[tuple[str, str]]


def action_label(action: str, language: Language) -> str:
    """The action in words; one this version has no words for, as it is."""
    key = f"action.{action}"
    return translate(language, key) if has_message(key) else action


def target_text(target: str | None, language: Language) -> str:
    """What the change was made to, in words (a user name or a number stays as it is)."""
    if not target:
        return ""
    found = _TARGET.fullmatch(target)
    if found is not None:
        return translate(language, f"wording.target.{found['kind']}", name=found["name"])
    if target in _NAMED_TARGETS:
        return translate(language, f"wording.target.{target}")
    return target


def _changed(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides, cut to what differs when there are two."""
    if before is None or after is None:
        return dict(before or {}), dict(after or {})
    keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    return (
        {key: before[key] for key in keys if key in before},
        {key: after[key] for key in keys if key in after},
    )


def _pairs(values: Mapping[str, Any], language: Language, zone: ZoneInfo) -> list[tuple[str, str]]:
    pairs = []
    for key, value in values.items():
        if key.endswith("_at") and f"{key[:-3]}_ts" in values:
            continue  # the same time, stored twice
        words = setting_words(key, value, language)
        if words is None:
            words = value_words(key, value, language, zone)
        pairs.append((key_label(key, language), words))
    return pairs


def audit_row(entry: AuditEntry, language: Language, zone: ZoneInfo) -> AuditRow:
    """One entry in words."""
    before, after = _changed(entry.before, entry.after)
    return AuditRow(
        entry=entry,
        action_label=action_label(entry.action, language),
        target_text=target_text(entry.target, language),
        before=_pairs(before, language, zone),
        after=_pairs(after, language, zone),
    )
