"""Screening settings changed at run time: the web UI's overrides over the file.

The configuration file stays the technician's base; what supervisors and technicians
change in the web UI is stored per section in the `settings` table (migration 0011) and
deep-merged over it. Only sections that can change under running lines are accepted
(`LIVE_SECTIONS`): thresholds, the ladder, the challenge, prompts and SMS. The database
and the rest need a restart and stay in the file; lines have their own page and table
(`appliance/web_lines.py`).

`effective_config` is the one place that merges and validates, used by the web UI before
it stores an override and by the line service when it applies one, so both always agree
on what a setting means.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from appliance.config import Config, ConfigError, parse_config
from appliance.store.db import iso_at

logger = logging.getLogger(__name__)

LIVE_SECTIONS: tuple[str, ...] = ("policy", "challenge", "prompts", "sms")


def effective_config(base: Config, overrides: Mapping[str, Any]) -> Config:
    """`base` with `overrides` ({section: {key: value, ...}}) merged in and validated.

    Raises ConfigError naming each bad key (as `siaga config check` does), and for a
    section that cannot change at run time.
    """
    unknown = sorted(set(overrides) - set(LIVE_SECTIONS))
    if unknown:
        raise ConfigError(
            "settings", [f"{section}: cannot be changed while running" for section in unknown]
        )
    merged = base.model_dump(mode="json")
    for section, value in overrides.items():
        merged[section] = _deep_merge(merged.get(section), value)
    return parse_config(merged, source="settings")


def _deep_merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        out = dict(base)
        for key, value in change.items():
            out[key] = _deep_merge(base.get(key), value)
        return out
    return change


def config_digest(config: Config) -> str:
    """A short digest of a whole configuration: the line service writes the one in force
    in its `config_change` events, and the web UI compares it to tell whether its
    settings were applied."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_overrides(conn: sqlite3.Connection) -> dict[str, Any]:
    """The stored overrides by section; a row that is not JSON is skipped and logged."""
    overrides: dict[str, Any] = {}
    for section, value in conn.execute("SELECT section, value FROM settings ORDER BY section"):
        try:
            overrides[str(section)] = json.loads(value)
        except (TypeError, ValueError):
            logger.error("settings: section %r is not JSON; ignored", section)
    return overrides


def write_override(
    conn: sqlite3.Connection, section: str, value: Any, *, by: str, ts: float, zone: ZoneInfo
) -> None:
    """Keep `value` (JSON) as `section`'s override, changed by `by` at `ts`, inside the
    caller's transaction. An upsert, never `INSERT OR REPLACE`: on a connection with
    recursive triggers on (sqlite-utils turns them on) a replace also runs the delete
    triggers, which would count the change twice and queue a removal for the site."""
    conn.execute(
        "INSERT INTO settings (section, value, updated_ts, updated_at, updated_by)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (section) DO UPDATE SET value = excluded.value,"
        " updated_ts = excluded.updated_ts, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by",
        [section, json.dumps(value, ensure_ascii=False, sort_keys=True), ts, iso_at(ts, zone), by],
    )


def remove_override(conn: sqlite3.Connection, section: str) -> None:
    """Drop `section`'s override (the configuration file's value is in force again)."""
    conn.execute("DELETE FROM settings WHERE section = ?", [section])


def latest_change(conn: sqlite3.Connection) -> tuple[str, float] | None:
    """Who changed a setting last and when (POSIX seconds); None before any change."""
    row = conn.execute(
        "SELECT updated_by, updated_ts FROM settings ORDER BY updated_ts DESC LIMIT 1"
    ).fetchone()
    return None if row is None else (str(row[0]), float(row[1]))


def settings_version(conn: sqlite3.Connection) -> int:
    """The change counter (bumped by a trigger on every change); 0 before any."""
    found = conn.execute("SELECT version FROM settings_version WHERE id = 1").fetchone()
    return int(found[0]) if found else 0
