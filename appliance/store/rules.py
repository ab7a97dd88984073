"""Allow and block rules in the database: the one place rules are written and read.

Functions on a `sqlite3.Connection`, run inside the caller's transaction so a rule commits
together with whatever else the caller writes (the web UI's audit row), or not at all:
`add_rule`, `remove_rule`, and the reads `get_rule`, `list_rules`, `rules_for_number`,
`exact_block_until`, `identical_active_rule`. `add_rule` validates (`new_rule_row`),
refuses an identical rule in force (`DuplicateRuleError`), inserts the row into `rules`
(whose triggers bump `rules_version`, so the running service reloads) and appends its
`rule_added` event. Removal is a soft delete: `removed_*` is filled in and the row stays,
so the history of who listed and unlisted what, and why, is kept (R15), with a
`rule_removed` event. What a rule may be (kinds, matches, actions, the pattern) is defined
once, in `appliance.rules`; its expiry is read by `appliance.expiry`.

Rule ids are the kind's initial and 64 random bits (`b-3f9c...`, `a-...`): with 32 bits,
two of 100,000 rules would likely share one. Rows written earlier with another id form
stay valid; an id is only ever compared whole.

`RuleStore` wraps the same functions with a connection of its own, for the line service
and the `siaga` CLI. Those write from a different process from the call log's writer (a
technician runs `siaga block add` while the service runs), so each of its writes is one
short `BEGIN IMMEDIATE` transaction that waits for the lock (busy timeout) rather than
failing.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appliance.model import Action
from appliance.rules import (
    ACTIONS_BY_KIND,
    MATCH_KINDS,
    RULE_KINDS,
    Rule,
    RuleKind,
    is_rule_pattern,
)
from appliance.store._sqlite import (
    DEFAULT_BUSY_TIMEOUT_S,
    connect_writer,
    immediate,
    iso_at,
    open_readonly,
)
from appliance.store.events import add_event

logger = logging.getLogger(__name__)

RuleRows = list[dict[str, Any]]

_INPUT_KEYS = frozenset(
    {
        "id",
        "kind",
        "pattern",
        "match",
        "action",
        "reason",
        "created_by",
        "created_ts",
        "expires_ts",
        "note",
    }
)


class DuplicateRuleError(ValueError):
    """An identical rule (same kind, match, pattern and action) is already in force."""

    def __init__(self, existing_id: str) -> None:
        super().__init__(f"an identical rule is already in force: {existing_id}")
        self.existing_id = existing_id


# ------------------------------------------------------------------- reads


def _dicts(cursor: sqlite3.Cursor) -> RuleRows:
    """The cursor's rows as dicts, whatever the connection's row factory."""
    columns = [description[0] for description in cursor.description]
    return [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]


def _with_status(rows: RuleRows, now_ts: float | None) -> RuleRows:
    for row in rows:
        row["status"] = _status(row, now_ts)
    return rows


def identical_active_rule(
    conn: sqlite3.Connection, kind: str, match: str, pattern: str, action: str, now_ts: float
) -> str | None:
    """The id of a rule in force at `now_ts` identical to this one (same kind, match,
    pattern and action), or None. `conn` is any SQLite connection on the database."""
    found = conn.execute(
        "SELECT id FROM rules WHERE kind = ? AND match = ? AND pattern = ? AND action = ?"
        " AND removed_ts IS NULL AND (expires_ts IS NULL OR expires_ts > ?)"
        " ORDER BY created_ts LIMIT 1",
        [kind, match, pattern, action, now_ts],
    ).fetchone()
    return None if found is None else str(found[0])


def get_rule(conn: sqlite3.Connection, rule_id: str) -> dict[str, Any] | None:
    """One rule by id, removed or not, as stored (every column); None if unknown."""
    rows = _dicts(conn.execute("SELECT * FROM rules WHERE id = ?", [rule_id]))
    return rows[0] if rows else None


def list_rules(
    conn: sqlite3.Connection,
    *,
    kind: str | None = None,
    include_removed: bool = False,
    now_ts: float | None = None,
) -> RuleRows:
    """Rules oldest first, each with a `status`: active, expired or removed.

    Removed rules are left out unless `include_removed`; with `now_ts`, so are rules
    expired at that time (and `status` says `expired` for those that are shown).
    """
    clauses: list[str] = []
    params: list[Any] = []
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    if not include_removed:
        clauses.append("removed_ts IS NULL")
        if now_ts is not None:
            clauses.append("(expires_ts IS NULL OR expires_ts > ?)")
            params.append(now_ts)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(f"SELECT * FROM rules {where} ORDER BY created_ts, id", params)
    return _with_status(_dicts(cursor), now_ts)


def rules_for_number(conn: sqlite3.Connection, number: str, now_ts: float) -> RuleRows:
    """Allow and block rules in force at `now_ts` for an E.164 `number`: exact rules on it
    and prefix rules it starts with, newest first."""
    cursor = conn.execute(
        "SELECT * FROM rules WHERE removed_ts IS NULL AND (expires_ts IS NULL OR expires_ts > ?)"
        " AND ((match = 'exact' AND pattern = ?)"
        " OR (match = 'prefix' AND substr(?, 1, length(pattern)) = pattern))"
        " ORDER BY created_ts DESC, id",
        [now_ts, number, number],
    )
    return _with_status(_dicts(cursor), now_ts)


def exact_block_until(
    conn: sqlite3.Connection, pattern: str, until_ts: float
) -> dict[str, Any] | None:
    """The newest exact block on `pattern`, not removed, in force at least until
    `until_ts` (or without expiry); None if there is none."""
    rows = _dicts(
        conn.execute(
            "SELECT * FROM rules WHERE kind = 'block' AND match = 'exact' AND pattern = ?"
            " AND removed_ts IS NULL AND (expires_ts IS NULL OR expires_ts >= ?)"
            " ORDER BY created_ts DESC, id LIMIT 1",
            [pattern, until_ts],
        )
    )
    return rows[0] if rows else None


# ------------------------------------------------------------------- writes


def _require_transaction(conn: sqlite3.Connection) -> None:
    """The checks and the write must see one state of the table: refuse autocommit."""
    if not conn.in_transaction:
        raise RuntimeError("rule writes run inside the caller's transaction (BEGIN IMMEDIATE)")


def new_rule_id(kind: str) -> str:
    """A new rule id: the kind's initial and 64 random bits, e.g. `b-3f9c0a1e5d7b2c48`."""
    return f"{kind[0]}-{secrets.token_hex(8)}"


def add_rule(
    conn: sqlite3.Connection,
    rule: Mapping[str, Any],
    zone: ZoneInfo,
    *,
    refuse_identical: bool = True,
) -> dict[str, Any]:
    """Insert a rule and its `rule_added` event in the caller's transaction; return the row.

    Keys of `rule` as `new_rule_row`. Raises ValueError naming the first bad field (or an
    id already taken), `DuplicateRuleError` (a ValueError) when an identical rule (kind,
    match, pattern, action) is already in force, and RuntimeError outside a transaction.
    `refuse_identical=False` lays the rule over an identical one instead (the newest
    wins until it expires, `appliance.rules`): the console lengthening a block does so.
    """
    _require_transaction(conn)
    row = new_rule_row(rule, zone)
    if conn.execute("SELECT 1 FROM rules WHERE id = ?", [row["id"]]).fetchone():
        raise ValueError(f"id: a rule {row['id']!r} already exists")
    if refuse_identical:
        existing = identical_active_rule(
            conn, row["kind"], row["match"], row["pattern"], row["action"], row["created_ts"]
        )
        if existing is not None:
            raise DuplicateRuleError(existing)
    columns = list(row)
    conn.execute(
        f"INSERT INTO rules ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[column] for column in columns],
    )
    add_event(conn, "rule_added", row["created_ts"], zone, detail=row)
    return row


def remove_rule(
    conn: sqlite3.Connection,
    rule_id: str,
    by: str,
    ts: float,
    zone: ZoneInfo,
    *,
    reason: str | None = None,
) -> dict[str, Any] | None:
    """Soft-delete a rule and append its `rule_removed` event, in the caller's transaction.

    Returns the row as it was before (for an audit trail), or None for an unknown or
    already removed id (nothing written). Raises ValueError without `by`.
    """
    if not by.strip():
        raise ValueError("by: who removes the rule is required")
    _require_transaction(conn)
    before = get_rule(conn, rule_id)
    if before is None or before["removed_ts"] is not None:
        return None
    conn.execute(
        "UPDATE rules SET removed_at = ?, removed_ts = ?, removed_by = ?, removed_reason = ?"
        " WHERE id = ?",
        [iso_at(ts, zone), ts, by, reason, rule_id],
    )
    detail = {"id": rule_id, "by": by, "reason": reason}
    add_event(conn, "rule_removed", ts, zone, detail=detail)
    return before


def write_shared_rule(conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    """Insert or overwrite a rule exactly as another appliance of the site shared it (id,
    times, removal and `origin` included), in the caller's transaction. The sharing agent
    checks the row first (`appliance.cluster.messages.decode_rule`) and applies only a
    newer revision; no event is written: the appliance that made the change wrote it."""
    _require_transaction(conn)
    columns = list(row)
    assignments = ", ".join(f"{name} = excluded.{name}" for name in columns if name != "id")
    conn.execute(
        f"INSERT INTO rules ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        f" ON CONFLICT (id) DO UPDATE SET {assignments}",
        [row[name] for name in columns],
    )


def new_rule_row(rule: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """Validate `rule` and build the full row to insert (nothing is written).

    Keys: kind (allow|block), pattern (E.164 number or prefix), match (exact|prefix,
    default exact), action (allow: pass; block: challenge (default), announce, reject),
    created_by (required), reason (required for a permanent block: that is a
    supervisor's decision), created_ts (default now), expires_ts (None: permanent),
    note, id (default `new_rule_id`). Raises ValueError naming the first bad field.
    """
    unknown = sorted(set(rule) - _INPUT_KEYS)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown rule field")
    kind = _choice(rule, "kind", RULE_KINDS, default=None)
    match = _choice(rule, "match", MATCH_KINDS, default="exact")
    action = _choice(rule, "action", ACTIONS_BY_KIND[kind], default=ACTIONS_BY_KIND[kind][0])
    pattern = str(rule.get("pattern") or "").strip()
    if not is_rule_pattern(pattern):
        raise ValueError(f"pattern: {pattern!r} is not an E.164 number or prefix (+62...)")
    created_by = _required_text(rule, "created_by")
    created_ts = rule.get("created_ts")
    created_ts = time.time() if created_ts is None else float(created_ts)
    expires_ts = rule.get("expires_ts")
    if expires_ts is not None:
        expires_ts = float(expires_ts)
        if expires_ts <= created_ts:
            raise ValueError("expires_ts: must be later than created_ts")
    reason = str(rule.get("reason") or "").strip()
    if kind == "block" and expires_ts is None and not reason:
        raise ValueError("reason: required for a permanent block")
    return {
        "id": str(rule.get("id") or new_rule_id(kind)),
        "kind": kind,
        "pattern": pattern,
        "match": match,
        "action": action,
        "reason": reason,
        "created_by": created_by,
        "created_at": iso_at(created_ts, zone),
        "created_ts": created_ts,
        "expires_at": None if expires_ts is None else iso_at(expires_ts, zone),
        "expires_ts": expires_ts,
        "note": rule.get("note"),
    }


# ------------------------------------------------------------------- the store


class RuleStore:
    """Read and change the rules; safe to use from several processes at once.

    The connection is opened (and the schema migrated) on first use. One instance may be
    shared by threads: calls are serialised by a lock.
    """

    def __init__(
        self,
        path: Path,
        timezone: str = "Asia/Jakarta",
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self._zone = ZoneInfo(timezone)
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._db: Database | None = None

    def __enter__(self) -> RuleStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent); the next call opens it again."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------------- writes

    def add(self, rule: Mapping[str, Any]) -> str:
        """Add a rule in a transaction of its own; return its id (see `add_rule`)."""
        with self._lock:
            db = self._database()
            with immediate(db):
                row = add_rule(db.conn, rule, self._zone)
        logger.info(
            "rule %s added by %s: %s %s %s (%s)",
            row["id"],
            row["created_by"],
            row["kind"],
            row["match"],
            row["pattern"],
            row["reason"],
        )
        return str(row["id"])

    def remove(self, rule_id: str, by: str, ts: float, *, reason: str | None = None) -> bool:
        """Soft-delete a rule. True if removed now; False for an unknown or removed id."""
        if not by.strip():
            raise ValueError("by: who removes the rule is required")
        with self._lock:
            db = self._database()
            with immediate(db):
                before = remove_rule(db.conn, rule_id, by, ts, self._zone, reason=reason)
        if before is None:
            return False
        logger.info("rule %s removed by %s (%s)", rule_id, by, reason)
        return True

    # -------------------------------------------------------------------- reads

    def get(self, rule_id: str) -> dict[str, Any] | None:
        """One rule by id, removed or not, with its `status`; None if unknown."""
        with self._lock:
            row = get_rule(self._database().conn, rule_id)
        return None if row is None else _with_status([row], None)[0]

    def list(
        self, kind: str | None = None, include_removed: bool = False, now_ts: float | None = None
    ) -> RuleRows:
        """Rules oldest first, each with a `status` (see `list_rules`)."""
        with self._lock:
            return list_rules(
                self._database().conn, kind=kind, include_removed=include_removed, now_ts=now_ts
            )

    def active(self, now_ts: float) -> RuleRows:
        """Rules in force at `now_ts`: not removed, not expired."""
        return self.list(now_ts=now_ts)

    def changed_since(self, marker: int | None) -> tuple[int, bool]:
        """(new_marker, changed): cheap enough for the service to poll every second.

        The marker is `rules_version.version`, bumped by triggers on any change to `rules`
        from any connection or process, in the same transaction. PRAGMA data_version was
        rejected: it changes on every commit to any table (the call log commits for every
        call), it is blind to the polling connection's own writes, and it means nothing
        across a reconnect. Pass None the first time. Expiry changes no row: reload by
        time as well, or filter `expires_ts` against the clock when matching.
        """
        with self._lock:
            found = (
                self._database()
                .execute("SELECT version FROM rules_version WHERE id = 1")
                .fetchone()
            )
        version = int(found[0]) if found else 0
        return version, marker is None or version != marker

    # ------------------------------------------------------------------ helpers

    def _database(self) -> Database:
        """The connection, opened on first use (caller holds the lock)."""
        if self._db is None:
            self._db = connect_writer(self.path, busy_timeout_s=self._busy_timeout_s)
        return self._db

    def _new_row(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """The row `add` would insert for `rule`, in this store's zone (`new_rule_row`)."""
        return new_rule_row(rule, self._zone)


def _choice(
    rule: Mapping[str, Any], key: str, allowed: Sequence[str], *, default: str | None
) -> str:
    value = rule.get(key) or default
    if value is None:
        raise ValueError(f"{key}: required, one of {', '.join(allowed)}")
    value = str(value)
    if value not in allowed:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _required_text(rule: Mapping[str, Any], key: str) -> str:
    value = str(rule.get(key) or "").strip()
    if not value:
        raise ValueError(f"{key}: required")
    return value


def _status(row: Mapping[str, Any], now_ts: float | None) -> str:
    if row["removed_ts"] is not None:
        return "removed"
    expires_ts = row["expires_ts"]
    if now_ts is not None and expires_ts is not None and expires_ts <= now_ts:
        return "expired"
    return "active"


def rule_from_row(row: Mapping[str, Any]) -> Rule:
    """The policy's `Rule` for a row of `RuleStore.list` / `active` (times as POSIX seconds)."""
    return Rule(
        id=str(row["id"]),
        kind=row["kind"],
        pattern=str(row["pattern"]),
        match=row["match"],
        action=Action(row["action"]),
        reason=str(row["reason"] or ""),
        created_by=str(row["created_by"] or ""),
        created_at=float(row["created_ts"]),
        expires_at=None if row["expires_ts"] is None else float(row["expires_ts"]),
    )


# ---------------------------------------------------------------- screening's reads

SCREENING_READ_TIMEOUT_S = 0.1  # a decision never waits long for the database; see below
_SCREENING_COLUMNS = "id, pattern, match, action, created_ts, expires_ts"


def _digits(pattern: str) -> int:
    """A pattern (`+` and up to 15 digits) as a number; 0 for anything else."""
    digits = pattern[1:]
    return int(digits) if digits.isdigit() and digits.isascii() else 0


class StoredRules:
    """The rules of one kind as screening reads them: from the database's `(kind,
    pattern)` index, not held in memory, where 100,000 rules took about 100 MB of the
    line service. What is held is the sorted list of patterns listed, as numbers (under
    1 MB for 100,000): a number none of whose prefixes is listed, nearly every call, is
    answered from it alone; the others by one query on the listed prefixes. `refresh()`
    reads the list again; the service calls it at start and whenever the rules changed
    (it looks every second). A rule removed or expired is out of force at the next
    call; a new one once the list has been read again, within a second.

    The same answers as `appliance.rules.RuleIndex.match`: an exact rule on the number,
    else the longest matching prefix; within one pattern the newest rule, then the
    smallest id. The `Rule` returned carries what screening uses (id, action, pattern,
    times); its reason and author stay in the database.

    A read-only connection of its own, opened on first use, used only from the line
    service's event loop. A read that fails raises, and `policy.decide_safely` then
    passes the call (fail open); the busy timeout is short for the same reason.
    """

    def __init__(self, path: Path, kind: RuleKind, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.kind = kind
        self._clock = clock  # for `len`: matches are given their time
        self._conn: sqlite3.Connection | None = None
        self._listed = array("Q")  # the patterns' digits as numbers, sorted

    def refresh(self) -> int:
        """Read the patterns listed (removed rules left out); how many there are."""
        found = self._connection().execute(
            "SELECT DISTINCT pattern FROM rules WHERE kind = ? AND removed_ts IS NULL",
            [self.kind],
        )
        self._listed = array("Q", sorted({_digits(row[0]) for row in found}))
        return len(self._listed)

    def match(self, e164: str, now: float) -> Rule | None:
        heads = (e164[:length] for length in range(2, len(e164) + 1))
        prefixes = [prefix for prefix in heads if self._is_listed(prefix)]
        if not prefixes:
            return None
        rows = (
            self._connection()
            .execute(
                f"SELECT {_SCREENING_COLUMNS} FROM rules WHERE kind = ?"
                f" AND pattern IN ({', '.join('?' * len(prefixes))})"
                " AND removed_ts IS NULL AND (expires_ts IS NULL OR expires_ts > ?)",
                [self.kind, *prefixes, now],
            )
            .fetchall()
        )
        exact = [row for row in rows if row[2] == "exact" and row[1] == e164]
        candidates = exact or [row for row in rows if row[2] == "prefix"]
        if not candidates:
            return None
        longest = max(len(row[1]) for row in candidates)
        best = min(
            (row for row in candidates if len(row[1]) == longest),
            key=lambda row: (-float(row[4]), str(row[0])),
        )
        return Rule(
            id=str(best[0]), kind=self.kind, pattern=str(best[1]), match=best[2],
            action=Action(best[3]), reason="", created_by="", created_at=float(best[4]),
            expires_at=None if best[5] is None else float(best[5]),
        )  # fmt: skip

    def _is_listed(self, prefix: str) -> bool:
        """Whether a pattern of these digits is listed: 8 bytes a pattern, not a set of
        strings (about 130 bytes each). A pattern written with a leading zero after `+`
        shares its number with the one without; that only costs a query, never an answer."""
        listed, number = self._listed, _digits(prefix)
        index = bisect_left(listed, number)
        return index < len(listed) and listed[index] == number

    def __len__(self) -> int:
        """How many rules of this kind are in force now."""
        found = (
            self._connection()
            .execute(
                "SELECT count(*) FROM rules WHERE kind = ? AND removed_ts IS NULL"
                " AND (expires_ts IS NULL OR expires_ts > ?)",
                [self.kind, self._clock()],
            )
            .fetchone()
        )
        return int(found[0])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_readonly(self.path, busy_timeout_s=SCREENING_READ_TIMEOUT_S)
            self._conn.row_factory = None  # plain tuples: the fastest rows there are
        return self._conn
