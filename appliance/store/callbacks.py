"""The call-back list: callers released without reaching an operator, to be called back.

No caller may be lost without a trace. A caller the appliance lets go without an operator
and without a junk verdict (silent after the challenge, hung up during the prompt, rang
while a line was starting, seen waiting on a busy line during a flood) is listed in
`callbacks` (migration `0014_callbacks`) until someone calls them back and marks the
entry `done` or `unreachable`.

Two writers, as everywhere in Siaga:

- the line service lists releases through its call log's single writer
  (`CallLog.add_callback`, which queues a `CallbackRelease` and runs `upsert_release`
  inside its own transaction);
- the web UI marks entries with `mark_callback`, inside its own short write transaction,
  together with the audit row (`web_ui.callbacks.router`).

After a flood the list holds the flood's own numbers, one entry each. A supervisor may
dismiss them together (`dismiss_flood_entries`): the entries first listed between the
last flood's start and end, except any whose caller has ever had a genuine verdict, which
stay open to be called back. A dismissed entry is closed like a marked one.

One OPEN entry per caller: the unique partial index `callbacks_open_caller` makes the
release an UPSERT, so a caller who is released again while on the list is counted
(`attempts`) rather than listed twice, however the writes interleave. A marked entry is
closed for good; the caller's next release opens a new one.

Every function takes a plain `sqlite3` connection and returns plain dicts, whatever the
connection's row factory.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from appliance.store._sqlite import detail_json, highest_id_sql, iso_at

# The reasons the line service gives today; later ones are stored and shown as they are.
SILENT_AFTER_CHALLENGE = "silent_after_challenge"
HUNG_UP_DURING_PROMPT = "hung_up_during_prompt"
RANG_WHILE_STARTING = "rang_while_starting"
WAITING_DURING_FLOOD = "waiting_during_flood"
CALLBACK_REASONS: tuple[str, ...] = (
    SILENT_AFTER_CHALLENGE,
    HUNG_UP_DURING_PROMPT,
    RANG_WHILE_STARTING,
    WAITING_DURING_FLOOD,
    "found_lines_busy",  # seen waiting on a busy line outside a flood
    "released_in_flood",  # a first attempt kept off the last free line in a flood
    "wrong_keys",
    "hung_up_waiting",  # passed, and gave up before an operator answered
    "line_fault",  # the line failed or the modem restarted under the call
    "spoke_without_key",  # heard speaking, never pressed, the number heard silent lately
)

OPEN, DONE, UNREACHABLE, DISMISSED = "open", "done", "unreachable", "dismissed"
CALLBACK_STATUSES: tuple[str, ...] = (OPEN, DONE, UNREACHABLE, DISMISSED)
MARKS: tuple[str, ...] = (DONE, UNREACHABLE)  # what an entry may be marked

NOTE_MAX_CHARS = 500
OPEN_LIST_LIMIT = 100
HISTORY_WINDOW_S = 30 * 86_400.0  # the caller's call count covers this much

# E.164 as the CHECK constraint of `callbacks.caller` accepts it: `+` and 1-15 digits.
_E164 = re.compile(r"\+[0-9]{1,15}")
# A machine word: what `reason` holds (`silent_after_challenge`).
_REASON_WORD = re.compile(r"[a-z][a-z0-9_]{0,39}")


class CallbackError(Exception):
    """A mark that cannot be made."""


class CallbackNotFoundError(CallbackError):
    """No call-back entry has this id."""

    def __init__(self, callback_id: int) -> None:
        super().__init__(f"no call-back entry {callback_id}")
        self.callback_id = callback_id


class CallbackNotOpenError(CallbackError):
    """The entry was marked already (by someone else, or by a double click)."""

    def __init__(self, entry: Mapping[str, Any]) -> None:
        super().__init__(
            f"call-back entry {entry['id']} is not open: marked {entry['status']}"
            f" by {entry['status_by'] or 'unknown'} at {entry['status_at'] or '?'}"
        )
        self.entry = dict(entry)


@dataclass(frozen=True, slots=True)
class CallbackRelease:
    """One release of a caller, as the line service reports it (see `callback_release`)."""

    caller: str
    caller_raw: str | None
    line: str | None
    call_id: int | None
    reason: str
    detail: dict[str, Any]
    ts: float


def is_callable_number(caller: object) -> bool:
    """True for an E.164 number (`+62...`): the only callers that can be called back."""
    return isinstance(caller, str) and _E164.fullmatch(caller) is not None


def callback_release(
    *,
    caller: str,
    caller_raw: str | None,
    line: str | None,
    call_id: int | None,
    reason: str,
    detail: Mapping[str, Any],
    ts: float,
) -> CallbackRelease:
    """A checked release; `ValueError` for a caller without a number or a bad reason."""
    if not is_callable_number(caller):
        raise ValueError(f"a call-back needs an E.164 number, not {caller!r}")
    word = str(getattr(reason, "value", reason))
    if _REASON_WORD.fullmatch(word) is None:
        raise ValueError(f"a call-back reason is a machine word, not {reason!r}")
    return CallbackRelease(
        caller=caller,
        caller_raw=None if caller_raw is None else str(caller_raw),
        line=None if line is None else str(line),
        call_id=None if call_id is None else int(call_id),
        reason=word,
        detail=dict(detail),
        ts=float(ts),
    )


# The columns a release updates on the caller's open entry, but only when it is not older
# than what the entry shows: a write delayed behind a newer one never undoes it.
_LATEST = ("caller_raw", "line", "call_id", "reason", "detail", "last_ts", "last_at")
# A new entry is numbered above every id given out, those a restore replaced included
# (`highest_id_sql`): the site's other boxes and the hub know an entry by its id.
_UPSERT = (
    "INSERT INTO callbacks (id, caller, caller_raw, line, call_id, reason, detail,"
    " first_ts, first_at, last_ts, last_at, attempts, status)"
    f" VALUES (({highest_id_sql('callbacks')}) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'open')"
    " ON CONFLICT (caller) WHERE status = 'open' DO UPDATE SET"
    # The same release written twice (a commit that failed ambiguously and was retried)
    # is one attempt, not two.
    " attempts = attempts + (excluded.last_ts != last_ts OR excluded.call_id IS NOT call_id),"
    " first_at = CASE WHEN excluded.first_ts < first_ts THEN excluded.first_at ELSE first_at END,"
    " first_ts = min(first_ts, excluded.first_ts), "
    + ", ".join(
        f"{column} = CASE WHEN excluded.last_ts >= last_ts THEN excluded.{column} ELSE {column} END"
        for column in _LATEST
    )
)


def upsert_release(conn: sqlite3.Connection, release: CallbackRelease, zone: ZoneInfo) -> int:
    """List `release` (inside the caller's write transaction); return the rows touched.

    A new entry for a caller with none open; else the open entry counts one attempt more
    and shows this release's line, call, reason and detail. Every column in SQLite's
    UPDATE sees the row as it was, so the order of the assignments does not matter.
    """
    at = iso_at(release.ts, zone)
    cursor = conn.execute(
        _UPSERT,
        [
            release.caller,
            release.caller_raw,
            release.line,
            release.call_id,
            release.reason,
            detail_json(release.detail),
            release.ts,
            at,
            release.ts,
            at,
        ],
    )
    return cursor.rowcount


# ------------------------------------------------------------------ reading


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """Rows as dicts with `detail` decoded, whatever the connection's row factory."""
    columns = [description[0] for description in cursor.description]
    entries = []
    for values in cursor.fetchall():
        entry = dict(zip(columns, values, strict=True))
        if "detail" in entry:
            entry["detail"] = decode_detail(entry["detail"])
        entries.append(entry)
    return entries


def decode_detail(text: str | None) -> dict[str, Any]:
    """`callbacks.detail` as a dict; text that is not a JSON object is kept under `text`."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}


def get_callback(conn: sqlite3.Connection, callback_id: int) -> dict[str, Any] | None:
    """One entry by id, or None."""
    found = _dicts(conn.execute("SELECT * FROM callbacks WHERE id = ?", [callback_id]))
    return found[0] if found else None


def open_callbacks(
    conn: sqlite3.Connection, *, now_ts: float, limit: int = OPEN_LIST_LIMIT
) -> list[dict[str, Any]]:
    """The open entries, newest release first, at most `limit`.

    Each also has `calls_30d` (the caller's calls of the last 30 days) and
    `last_disposition` (the latest operator verdict on any of their calls, or None):
    both read through the `(caller, time)` indexes of `calls` and `dispositions`, one
    probe per entry shown.
    """
    return _dicts(
        conn.execute(
            "SELECT callbacks.*,"
            " (SELECT count(*) FROM calls WHERE calls.caller = callbacks.caller"
            "  AND calls.started_ts >= ?) AS calls_30d,"
            " (SELECT disposition FROM dispositions WHERE dispositions.caller = callbacks.caller"
            "  ORDER BY recorded_ts DESC, id DESC LIMIT 1) AS last_disposition"
            " FROM callbacks WHERE status = 'open' ORDER BY last_ts DESC, id DESC LIMIT ?",
            [now_ts - HISTORY_WINDOW_S, max(0, limit)],
        )
    )


def open_count(conn: sqlite3.Connection) -> int:
    """How many entries are open."""
    return int(conn.execute("SELECT count(*) FROM callbacks WHERE status = 'open'").fetchone()[0])


def oldest_open(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The open entry whose caller has waited longest (earliest first release), or None."""
    found = _dicts(
        conn.execute("SELECT * FROM callbacks WHERE status = 'open' ORDER BY first_ts, id LIMIT 1")
    )
    return found[0] if found else None


# ------------------------------------------------------------------ marking


@dataclass(frozen=True)
class CallbackMarked:
    """An entry before and after a mark."""

    before: dict[str, Any]
    after: dict[str, Any]


def clean_note(note: str | None) -> str | None:
    """A note as stored: trimmed, None when empty; `ValueError` when too long."""
    text = (note or "").strip()
    if len(text) > NOTE_MAX_CHARS:
        raise ValueError(f"a note holds at most {NOTE_MAX_CHARS} characters")
    return text or None


def mark_callback(
    conn: sqlite3.Connection,
    callback_id: int,
    status: str,
    *,
    by: str,
    note: str | None,
    ts: float,
    zone: ZoneInfo,
) -> CallbackMarked:
    """Mark an open entry `done` or `unreachable`, by `by`, with an optional note.

    Call it inside a write transaction (`BEGIN IMMEDIATE`) that also writes the audit
    row: the check and the change then see the same row. Raises `CallbackNotFoundError`,
    `CallbackNotOpenError` (marked already: an entry is marked once), or `ValueError`
    for a status other than `done` / `unreachable` or a note that is too long.
    """
    if status not in MARKS:
        raise ValueError(f"a call-back is marked {' or '.join(MARKS)}, not {status!r}")
    text = clean_note(note)
    before = get_callback(conn, callback_id)
    if before is None:
        raise CallbackNotFoundError(callback_id)
    if before["status"] != OPEN:
        raise CallbackNotOpenError(before)
    conn.execute(
        "UPDATE callbacks SET status = ?, status_ts = ?, status_at = ?, status_by = ?, note = ?"
        " WHERE id = ? AND status = 'open'",
        [status, ts, iso_at(ts, zone), by, text, callback_id],
    )
    after = get_callback(conn, callback_id)
    assert after is not None  # the same transaction just read it
    return CallbackMarked(before=before, after=after)


# The name a change the line service makes on its own is recorded under.
SERVICE_ACTOR = "siaga"


def close_reached(conn: sqlite3.Connection, call_id: int, ts: float, zone: ZoneInfo) -> int:
    """The caller of call `call_id` is now talking to an operator: the open entry listed
    for that caller before the call began is `done` (by `SERVICE_ACTOR`, the call named
    in the note), so nobody rings back a caller who got through. Call it inside the
    write transaction that records the contact; the rows changed (0 or 1)."""
    cursor = conn.execute(
        "UPDATE callbacks SET status = 'done', status_ts = ?, status_at = ?, status_by = ?,"
        " note = ? WHERE status = 'open' AND (caller, first_ts) IN"
        " (SELECT callbacks.caller, callbacks.first_ts FROM calls JOIN callbacks"
        "  ON callbacks.caller = calls.caller AND callbacks.status = 'open'"
        "  WHERE calls.id = ? AND callbacks.first_ts <= calls.started_ts)",
        [ts, iso_at(ts, zone), SERVICE_ACTOR, f"reached an operator on call {call_id}", call_id],
    )
    return cursor.rowcount


# The name an entry closed because another box of the site reached the caller is
# recorded under: `sync:<that box>`. Such a close is not shared again.
PEER_ACTOR_PREFIX = "sync:"


def close_served_elsewhere(
    conn: sqlite3.Connection, caller: str, ts: float, origin: str, zone: ZoneInfo
) -> int:
    """Another appliance of the site reached `caller` at `ts` (an operator called them back,
    or they got through to one there): the open entry listed for that caller here before
    then is `done`, by `sync:<origin>`, so no operator of this box rings them again. Call
    it inside the write transaction that keeps the peer's fact; the rows changed (0 or 1)."""
    cursor = conn.execute(
        "UPDATE callbacks SET status = 'done', status_ts = ?, status_at = ?, status_by = ?,"
        " note = ? WHERE status = 'open' AND caller = ? AND first_ts <= ?",
        [ts, iso_at(ts, zone), f"{PEER_ACTOR_PREFIX}{origin}", f"served on {origin}", caller, ts],
    )
    return cursor.rowcount


# ------------------------------------------------------------------ after a flood


@dataclass(frozen=True)
class FloodEpisode:
    """The last flood that ended: its start and end (`flood_on` and `flood_off` events)."""

    started_ts: float
    ended_ts: float


def last_ended_flood(conn: sqlite3.Connection) -> FloodEpisode | None:
    """The last flood that has ended, or None (no flood yet, or one still on). A restart
    in flood mode notes `flood_on` again; the episode starts at the first of them."""
    latest = conn.execute(
        "SELECT kind, ts FROM events WHERE kind IN ('flood_on', 'flood_off')"
        " ORDER BY ts DESC, id DESC LIMIT 1"
    ).fetchone()
    if latest is None or latest[0] != "flood_off":
        return None
    ended_ts = float(latest[1])
    started = conn.execute(
        "SELECT min(ts) FROM events WHERE kind = 'flood_on' AND ts <= ? AND ts >"
        " ifnull((SELECT max(ts) FROM events WHERE kind = 'flood_off' AND ts < ?), 0)",
        [ended_ts, ended_ts],
    ).fetchone()[0]
    return None if started is None else FloodEpisode(float(started), ended_ts)


def flood_signature(conn: sqlite3.Connection, flood: FloodEpisode) -> tuple[str, ...]:
    """The number prefixes `flood` was recognised by: the hot block of each `flood_on`
    and every `flood:<number or block>` rule a call met during it. Empty for a flood
    without one (numbers spread over every prefix)."""
    window = [flood.started_ts, flood.ended_ts]
    prefixes = {
        str(row[0])
        for row in conn.execute(
            "SELECT json_extract(detail, '$.hot_prefix') FROM events"
            " WHERE kind = 'flood_on' AND ts BETWEEN ? AND ?",
            window,
        )
        if isinstance(row[0], str) and _E164.fullmatch(row[0])
    }
    prefixes.update(
        str(row[0])[len("flood:") :]
        for row in conn.execute(
            "SELECT DISTINCT rule FROM calls WHERE started_ts BETWEEN ? AND ?"
            " AND rule GLOB 'flood:+[0-9]*'",
            window,
        )
    )
    return tuple(sorted(prefix for prefix in prefixes if _E164.fullmatch(prefix)))


@dataclass(frozen=True)
class FloodList:
    """The open entries first listed during a flood: those a dismissal closes, and those
    it keeps open (see `flood_list`)."""

    dismissable: list[dict[str, Any]]
    kept: list[dict[str, Any]]


def flood_list(conn: sqlite3.Connection, flood: FloodEpisode) -> FloodList:
    """Split the open entries first listed during `flood` into those a dismissal closes
    and those it keeps open. Kept, because a person may be behind them:

    - a caller who has ever had a genuine verdict;
    - a caller who tried more than once (`attempts` of 2 or more): a flood's rotating
      numbers rarely call twice, a caller in need does;
    - when the flood was recognised by its numbers (a block, one number), a caller
      outside every one of them.

    In a flood spread over every prefix the flood's numbers and a first-time caller who
    tried once look alike: such a caller is dismissed with them (the confirmation says
    how many entries go).
    """
    signature = flood_signature(conn, flood)
    entries = _dicts(
        conn.execute(
            "SELECT callbacks.*, EXISTS (SELECT 1 FROM dispositions"
            "  WHERE dispositions.caller = callbacks.caller"
            "  AND dispositions.disposition LIKE 'genuine%') AS judged_genuine"
            " FROM callbacks WHERE status = 'open' AND first_ts BETWEEN ? AND ? ORDER BY id",
            [flood.started_ts, flood.ended_ts],
        )
    )
    split = FloodList(dismissable=[], kept=[])
    for entry in entries:
        keep = _kept_after_flood(entry, signature)
        del entry["judged_genuine"]
        (split.kept if keep else split.dismissable).append(entry)
    return split


def _kept_after_flood(entry: Mapping[str, Any], signature: tuple[str, ...]) -> bool:
    if entry["judged_genuine"] or int(entry["attempts"]) >= 2:
        return True
    return bool(signature) and not str(entry["caller"]).startswith(signature)


def flood_entries(conn: sqlite3.Connection, flood: FloodEpisode) -> tuple[int, int]:
    """(entries a dismissal would close, entries it would keep) among the open entries
    first listed during `flood` (`flood_list`)."""
    split = flood_list(conn, flood)
    return len(split.dismissable), len(split.kept)


def dismiss_flood_entries(
    conn: sqlite3.Connection, flood: FloodEpisode, *, by: str, ts: float, zone: ZoneInfo
) -> FloodList:
    """Dismiss the open entries first listed during `flood` that `flood_list` does not
    keep; the split as it was before (`dismissable`: the entries now dismissed, `kept`:
    those left open). Call it inside the write transaction that also writes the audit row."""
    split = flood_list(conn, flood)
    note = f"dismissed with the flood of {iso_at(flood.started_ts, zone)}"
    conn.executemany(
        "UPDATE callbacks SET status = 'dismissed', status_ts = ?, status_at = ?,"
        " status_by = ?, note = ? WHERE id = ? AND status = 'open'",
        [(ts, iso_at(ts, zone), by, note, entry["id"]) for entry in split.dismissable],
    )
    return split
