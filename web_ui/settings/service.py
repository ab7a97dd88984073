"""Screening settings as the web UI reads and changes them: no HTTP here.

The line service runs on its configuration file (the *base*) with the web UI's
*overrides* deep-merged over it (`appliance.settings`). This module reads both from the
database and changes the overrides:

- **The base** is what the line service published at its start in
  `service_state.base_config`. On a database the line service never ran on there is no
  such row: the built-in defaults (`Config()`) stand in, and `base_source` says so.
- **A change** is a set of values by dotted name (`policy.throttle.max_calls`) and of
  names to reset to the file's value. It is merged into the stored overrides and
  validated with `appliance.settings.effective_config`, the function the line service
  applies them with, so both always agree. Only values that differ from the base are
  stored: a key nobody changed keeps following the file.
- **Storing** rewrites the changed sections of `settings` (one row per section; a
  section with no override left is deleted) and appends one audit row (who, and each
  changed value before and after) in the same transaction: both or neither.
- **Whether the line service applied it**: the service writes a `config_change` event
  with a digest of the configuration it puts in force; the settings are applied when the
  latest digest is that of the base with the stored overrides.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from appliance.config import Config, ConfigError, parse_config
from appliance.numbers import normalise
from appliance.settings import (
    LIVE_SECTIONS,
    config_digest,
    effective_config,
    latest_change,
    read_overrides,
    remove_override,
    settings_version,
    write_override,
)
from appliance.store import events as event_store
from appliance.store import status as status_store
from web_ui.core.db import transaction
from web_ui.settings import prompt_keys
from web_ui.users import audit
from web_ui.users.audit import Actor

logger = logging.getLogger(__name__)

AUDIT_ACTION = "settings.change"
AUDIT_TARGET = "settings"
SERVICE_SILENT_S = 60.0  # the service's heartbeat comes every 10 s; six missed: not running
MAX_SUPERVISORS = 10

BaseSource = Literal["line_service", "defaults"]
LineServiceStatus = Literal["applied", "pending", "not_running", "never_ran"]


@dataclass(frozen=True)
class Problem:
    """One refused value: the dotted name of the setting and a message key with its values.

    `field` uses the configuration's own notation (`policy.abuse.ladder[1].count`), as
    `ConfigError` names keys. Values are inserted into the message when it is shown.
    """

    field: str
    key: str
    values: Mapping[str, str | float] = dataclasses.field(default_factory=dict)


class SettingsRefusedError(Exception):
    """A change that does not validate; nothing was stored."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{problem.field}: {problem.key}" for problem in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class LastChange:
    """Who changed the stored settings last, and when."""

    by: str
    ts: float


@dataclass(frozen=True)
class SettingsView:
    """What the settings page and `GET /api/settings` show."""

    base: Config
    base_source: BaseSource
    overrides: dict[str, Any]
    in_force: Config  # the base with the overrides (the base alone if they do not fit it)
    problems: tuple[str, ...]  # why the stored overrides do not fit the base, if they do not
    version: int
    line_service: LineServiceStatus
    last_change: LastChange | None

    def values(self) -> dict[str, Any]:
        """The live sections in force, as JSON-ready data."""
        return live_sections(self.in_force)

    def base_values(self) -> dict[str, Any]:
        """The live sections of the base, as JSON-ready data."""
        return live_sections(self.base)

    def is_overridden(self, name: str) -> bool:
        """True when the stored overrides set `name` (or something under it)."""
        return lookup(self.overrides, name)[0]


@dataclass(frozen=True)
class ChangeOutcome:
    """What a change did: each changed setting's (before, after), and whether it stored."""

    changed: dict[str, tuple[Any, Any]]
    stored: bool


# ------------------------------------------------------------------ dotted names


def live_sections(config: Config) -> dict[str, Any]:
    """The sections that can change at run time, as JSON-ready data."""
    dumped = config.model_dump(mode="json")
    return {section: dumped[section] for section in LIVE_SECTIONS}


def lookup(tree: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """(found, value) of the dotted `name` in nested dicts."""
    node: Any = tree
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _assign(tree: dict[str, Any], name: str, value: Any) -> None:
    *parents, last = name.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def _remove(tree: dict[str, Any], name: str) -> None:
    """Remove `name`, and every dict it leaves empty on the way up."""
    parts = name.split(".")
    trail: list[dict[str, Any]] = [tree]
    for part in parts[:-1]:
        child = trail[-1].get(part)
        if not isinstance(child, dict):
            return
        trail.append(child)
    trail[-1].pop(parts[-1], None)
    for depth in range(len(parts) - 1, 0, -1):
        if not trail[depth]:
            trail[depth - 1].pop(parts[depth - 1], None)


def leaves(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every value under `tree` by dotted name; lists are values, not walked into, and an
    empty dict holds none."""
    found: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found.update(leaves(value, name + "."))
        else:
            found[name] = value
    return found


# ------------------------------------------------------------------ reading


@cache
def _defaults() -> Config:
    return Config()


def read_base(conn: sqlite3.Connection) -> tuple[Config, BaseSource]:
    """The configuration file the line service last started on, or the built-in defaults."""
    base = status_store.base_config(conn)
    if base is None:
        return _defaults(), "defaults"
    try:
        return parse_config(json.loads(base), source="service_state.base_config"), "line_service"
    except (ValueError, ConfigError) as exc:
        logger.warning("the line service's base configuration cannot be read (%s): defaults", exc)
        return _defaults(), "defaults"


def line_service_status(
    conn: sqlite3.Connection, in_force: Config | None, now_ts: float
) -> LineServiceStatus:
    """Whether the running line service has put `in_force` in force (None: it cannot)."""
    state = status_store.service_state(conn)
    if state is None:
        return "never_ran"
    heartbeat = state["heartbeat_ts"] if state["heartbeat_ts"] is not None else state["updated_ts"]
    if heartbeat is None or now_ts - float(heartbeat) > SERVICE_SILENT_S:
        return "not_running"
    if in_force is not None and _applied_digest(conn) == config_digest(in_force):
        return "applied"
    return "pending"


def _applied_digest(conn: sqlite3.Connection) -> str | None:
    """The digest in the line service's latest `config_change` event, if it has one."""
    latest = event_store.latest_events(conn, kinds=("config_change",), limit=1)
    text = latest[0]["detail"] if latest else None
    try:
        detail = json.loads(text) if text else {}
    except ValueError:
        return None
    digest = detail.get("digest") if isinstance(detail, dict) else None
    return digest if isinstance(digest, str) else None


def _last_change(conn: sqlite3.Connection) -> LastChange | None:
    latest = latest_change(conn)
    return None if latest is None else LastChange(by=latest[0], ts=latest[1])


def read_view(conn: sqlite3.Connection, now_ts: float | None = None) -> SettingsView:
    """The base, the stored overrides, what is in force, and what the line service did."""
    base, source = read_base(conn)
    overrides = read_overrides(conn)
    problems: tuple[str, ...] = ()
    try:
        in_force = effective_config(base, overrides)
    except ConfigError as exc:
        in_force, problems = base, tuple(exc.problems)
    status = line_service_status(
        conn, None if problems else in_force, time.time() if now_ts is None else now_ts
    )
    return SettingsView(
        base=base,
        base_source=source,
        overrides=overrides,
        in_force=in_force,
        problems=problems,
        version=settings_version(conn),
        line_service=status,
        last_change=_last_change(conn),
    )


# ------------------------------------------------------------------ phone numbers


def normalise_numbers(
    name: str, entries: Iterable[str], region: str
) -> tuple[list[str], list[Problem]]:
    """Numbers typed in any Indonesian form, in E.164 (duplicates dropped), and the bad ones."""
    numbers: list[str] = []
    problems: list[Problem] = []
    for entry in (text.strip() for text in entries):
        if not entry:
            continue
        caller = normalise(entry, region)
        if not caller.is_number or caller.e164 is None:
            problems.append(Problem(name, "settings.error.bad_number", {"value": entry}))
        elif caller.e164 not in numbers:
            numbers.append(caller.e164)
    if len(numbers) > MAX_SUPERVISORS:
        problems.append(Problem(name, "settings.error.too_many", {"limit": MAX_SUPERVISORS}))
    return numbers, problems


# ------------------------------------------------------------------ changing


def _check_resets(
    base_values: Mapping[str, Any], stored: Mapping[str, Any], resets: Iterable[str]
) -> list[Problem]:
    """A reset must name a live section, or a key the file or the overrides have."""
    return [
        Problem(name, "settings.error.unknown_setting", {"value": name})
        for name in resets
        if name.split(".")[0] not in LIVE_SECTIONS
        or not (lookup(base_values, name)[0] or lookup(stored, name)[0])
    ]


def _problems_of(error: ConfigError) -> list[Problem]:
    """`ConfigError`'s `key: message` lines as problems (the message shown as it is)."""
    found = []
    for line in error.problems:
        name, _, message = line.partition(": ")
        found.append(Problem(name, "settings.error.refused", {"detail": message or line}))
    return found


def _validated(base: Config, overrides: Mapping[str, Any]) -> Config:
    try:
        return effective_config(base, overrides)
    except ConfigError as exc:
        raise SettingsRefusedError(_problems_of(exc)) from None


def _differences(
    proposed: Mapping[str, Any], in_force: Mapping[str, Any], base: Mapping[str, Any]
) -> dict[str, Any]:
    """The overrides worth storing: each value set, as validated, where it differs from
    the base (an override equal to the file's value is dropped, so the file shows through)."""
    kept: dict[str, Any] = {}
    for name in leaves(proposed):
        value = lookup(in_force, name)[1]
        found, base_value = lookup(base, name)
        if not found or value != base_value:
            _assign(kept, name, value)
    return kept


def _proposed(
    stored: Mapping[str, Any], changes: Mapping[str, Any], resets: Iterable[str]
) -> dict[str, Any]:
    """The stored overrides with `resets` taken out and `changes` put in."""
    proposed = copy.deepcopy(dict(stored))
    for name in resets:
        _remove(proposed, name)
    for name, value in changes.items():
        _assign(proposed, name, value)
    return proposed


def _changed_values(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """(before, after) of each value that differs, by dotted name: what the audit shows."""
    old, new = leaves(before), leaves(after)
    return {
        name: (old.get(name), new.get(name))
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


def _config_or_none(base: Config, stored: Mapping[str, Any]) -> Config | None:
    try:
        return effective_config(base, stored)
    except ConfigError:
        return None


def _check_prompt_keys(before: Config | None, after: Config) -> None:
    """Refuse a change that sets the challenge key apart from a prompt
    (`web_ui.settings.prompt_keys`)."""
    found = prompt_keys.new_disagreements(before, after)
    if found:
        raise SettingsRefusedError([Problem(item.field, item.key, item.values) for item in found])


def _before_values(base: Config, stored: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return live_sections(effective_config(base, stored))
    except ConfigError:
        return live_sections(base)


def _store(
    conn: sqlite3.Connection,
    actor: Actor,
    stored: Mapping[str, Any],
    kept: Mapping[str, Any],
    zone: ZoneInfo,
    now_ts: float,
) -> None:
    for section in sorted(set(stored) | set(kept)):
        if kept.get(section) == stored.get(section):
            continue
        if section in kept:
            write_override(conn, section, kept[section], by=actor.name, ts=now_ts, zone=zone)
        else:
            remove_override(conn, section)


def change_settings(
    conn: sqlite3.Connection,
    actor: Actor,
    zone: ZoneInfo,
    *,
    changes: Mapping[str, Any],
    resets: Sequence[str] = (),
) -> ChangeOutcome:
    """Reset `resets` to the file's values, set `changes`, validate, store and audit.

    One transaction: the stored overrides are read, changed, validated with
    `effective_config`, written and audited, or nothing is (`SettingsRefusedError`).
    """
    now_ts = time.time()
    with transaction(conn):
        base, _ = read_base(conn)
        base_values = live_sections(base)
        stored = read_overrides(conn)
        problems = _check_resets(base_values, stored, resets)
        if problems:
            raise SettingsRefusedError(problems)
        proposed = _proposed(stored, changes, resets)
        validated = _validated(base, proposed)
        _check_prompt_keys(_config_or_none(base, stored), validated)
        in_force = live_sections(validated)
        kept = _differences(proposed, in_force, base_values)
        if kept == stored:
            return ChangeOutcome(changed={}, stored=False)
        changed = _changed_values(_before_values(base, stored), in_force)
        _store(conn, actor, stored, kept, zone, now_ts)
        audit.record(
            conn,
            actor,
            AUDIT_ACTION,
            target=AUDIT_TARGET,
            before={name: values[0] for name, values in changed.items()},
            after={name: values[1] for name, values in changed.items()},
            zone=zone,
            now_ts=now_ts,
        )
    logger.info("screening settings changed by %s: %s", actor.name, ", ".join(changed) or "-")
    return ChangeOutcome(changed=changed, stored=True)
