"""Every site's call-back list, as the province hub keeps it (`hub_callbacks`).

Each appliance of each site publishes every change of an entry of its own call-back list
(`appliance.store.callbacks`: a new open entry, one attempt more, a mark) with the
entry's revision (`appliance.cluster.messages.callback_revision`). `siaga hub` keeps one
row per (site, appliance, entry id there) with the latest revision: an entry applied
twice, or an older revision arriving after a newer one, changes nothing. The web UI on
the hub's database lists the open ones with their site (`web_ui.callbacks.sites`); they
are marked on the box that listed them, and the mark comes back here as one more change.

Every function takes a plain `sqlite3` connection (or a sqlite-utils `Database`) and
returns plain dicts, whatever the connection's row factory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.store._sqlite import detail_json, iso_at
from appliance.store.callbacks import HISTORY_WINDOW_S, OPEN_LIST_LIMIT, decode_detail

Connection = sqlite3.Connection | Database

# What a received entry carries, in the order of `_UPSERT`'s columns.
_ENTRY = (
    "revision", "caller", "caller_raw", "line", "call_id", "reason", "detail", "first_ts",
    "first_at", "last_ts", "last_at", "attempts", "status", "status_ts", "status_at",
    "status_by", "note", "received_ts",
)  # fmt: skip
_UPSERT = (
    f"INSERT INTO hub_callbacks (site, appliance, origin_id, {', '.join(_ENTRY)})"
    f" VALUES (?, ?, ?, {', '.join('?' * len(_ENTRY))})"
    " ON CONFLICT (site, appliance, origin_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _ENTRY)
    + " WHERE excluded.revision > hub_callbacks.revision"
)


def store_site_callback(
    conn: Connection,
    site: str,
    appliance: str,
    entry: Mapping[str, Any],
    zone: ZoneInfo,
    received_ts: float,
) -> bool:
    """Keep one site's entry (a checked `CallbackMessage`'s fields, `id` its id there)
    unless a revision as new or newer is kept already; True if the row changed. Runs in
    the caller's transaction."""
    status_ts = entry.get("status_ts")
    values = {
        **{name: entry.get(name) for name in _ENTRY},
        "detail": detail_json(entry.get("detail") or {}),
        "first_at": iso_at(float(entry["first_ts"]), zone),
        "last_at": iso_at(float(entry["last_ts"]), zone),
        "status_at": None if status_ts is None else iso_at(float(status_ts), zone),
        "received_ts": received_ts,
    }
    cursor = conn.execute(
        _UPSERT, [site, appliance, int(entry["id"]), *(values[name] for name in _ENTRY)]
    )
    return cursor.rowcount > 0


def _site_clause(site: str | None) -> tuple[str, list[Any]]:
    return ("", []) if site is None else (" AND site = ?", [site])


def open_site_callbacks(
    conn: Connection, *, now_ts: float, site: str | None = None, limit: int = OPEN_LIST_LIMIT
) -> list[dict[str, Any]]:
    """The open entries of every site (or of `site`), newest release first, at most
    `limit`. Each also has `calls_30d` (the caller's calls of the last 30 days the hub
    holds, every site's) and `last_disposition` (the latest verdict on any of them)."""
    clause, params = _site_clause(site)
    cursor = conn.execute(
        "SELECT hub_callbacks.*,"
        " (SELECT count(*) FROM calls WHERE calls.caller = hub_callbacks.caller"
        "  AND calls.started_ts >= ?) AS calls_30d,"
        " (SELECT disposition FROM calls WHERE calls.caller = hub_callbacks.caller"
        "  AND disposition IS NOT NULL ORDER BY disposition_ts DESC, id DESC LIMIT 1)"
        "  AS last_disposition"
        f" FROM hub_callbacks WHERE status = 'open'{clause}"
        " ORDER BY last_ts DESC, id DESC LIMIT ?",
        [now_ts - HISTORY_WINDOW_S, *params, max(0, limit)],
    )
    columns = [description[0] for description in cursor.description]
    entries = []
    for values in cursor.fetchall():
        entry = dict(zip(columns, values, strict=True))
        entry["detail"] = decode_detail(entry["detail"])
        entries.append(entry)
    return entries


def open_site_count(conn: Connection, site: str | None = None) -> int:
    """How many entries are open, of every site or of `site`."""
    clause, params = _site_clause(site)
    found = conn.execute(
        f"SELECT count(*) FROM hub_callbacks WHERE status = 'open'{clause}", params
    ).fetchone()
    return int(found[0])


def callback_sites(conn: Connection) -> list[str]:
    """The sites whose call-back entries the database holds (none on an appliance)."""
    try:
        found = conn.execute("SELECT DISTINCT site FROM hub_callbacks").fetchall()
    except sqlite3.OperationalError:  # a database from before the migration
        return []
    return sorted(str(row[0]) for row in found)
