"""The tables and triggers that make sharing durable: the outbox and what peers sent.

Why triggers: whatever writes a fact (the call-log writer, the web UI, the CLI, a restore),
the trigger puts the message to publish in `outbox` inside the same transaction, so a fact
is never stored without its message, nor a message sent for a fact that was rolled back.
They fire only while `cluster_identity.enabled` is 1 (a box without `[cluster]` keeps no
outbox) and never while `applying` is 1: `siaga sync` sets that flag inside its own
transaction while it applies what came from peers, so a peer's rule is not echoed back.
No other connection can see the flag set: it is written and cleared under the write lock
of one transaction.

What each message carries is built here in SQL (`json_object`), from the row as committed:
- `rule`: the whole rule row (a new rule or a removal), keyed by the rule's id;
- `fact`: an operator's verdict or a challenge outcome on a number, which every box of the
  site folds into its policy state (the site's reputation of a number); and a call-back
  served (an entry of the call-back list marked `done`: an operator reached the caller),
  which closes the caller's entry on the site's other boxes;
- `call`: the call record once the call has ended, for the province hub's figures;
- `event`: an event (alarms, changes), for the hub's dashboard;
- `setting`: a section of the screening settings as it now is (its overrides, or null
  once removed), keyed by the section;
- `callback`: an entry of the call-back list as it now is (new, one attempt more, or
  marked), keyed by the entry's id, for the province hub's list of every site's callers.
"""

from __future__ import annotations

from sqlite_utils import Database

_GATE = "(SELECT enabled = 1 AND applying = 0 FROM cluster_identity WHERE id = 1)"
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_HERE = "(SELECT appliance FROM cluster_identity WHERE id = 1)"

RULE_COLUMNS: tuple[str, ...] = (
    "id",
    "kind",
    "pattern",
    "match",
    "action",
    "reason",
    "created_by",
    "created_at",
    "created_ts",
    "expires_at",
    "expires_ts",
    "removed_at",
    "removed_ts",
    "removed_by",
    "removed_reason",
    "note",
    "origin",
)

FLOAT_COLUMNS = frozenset({"line_seconds", "hold_s"})

# The sections of `settings` that are shared: `appliance.settings.LIVE_SECTIONS` when the
# triggers were made (migration 0023). Written out, so that a migration builds the same
# triggers whenever it runs; a section made live later needs a migration of its own.
SHARED_SECTIONS: tuple[str, ...] = ("policy", "challenge", "prompts", "sms")

CALL_COLUMNS: tuple[str, ...] = (
    "id",
    "line",
    "caller",
    "number_class",
    "started_at",
    "started_ts",
    "decision",
    "reason",
    "rule",
    "challenge_result",
    "reached_operator",
    "operator_ts",
    "ended_ts",
    "end_cause",
    "interrupted",
    "disposition",
    "disposition_ts",
    "line_seconds",
    "voice_heard",
    "desk",
    "time_trusted",
)


def _value(expression: str, name: str) -> str:
    """A column as a JSON value. Times keep every digit: `json_object` writes a REAL with
    15 significant digits, which moves a POSIX time by up to 10 microseconds, and a rule
    must read back exactly as it was written."""
    if not (name.endswith("_ts") or name in FLOAT_COLUMNS):
        return expression
    return f"CASE WHEN {expression} IS NULL THEN NULL ELSE json(printf('%!.17g', {expression})) END"


def _json_of(columns: tuple[str, ...], prefix: str = "NEW.") -> str:
    pairs = ", ".join(f"'{name}', {_value(prefix + name, name)}" for name in columns)
    return f"json_object({pairs})"


def rule_payload(prefix: str = "NEW.") -> str:
    """SQL for the rule as published (`prefix`: `NEW.` in a trigger, empty in a SELECT from
    `rules`): a rule made here names this box as its origin."""
    columns = tuple(name for name in RULE_COLUMNS if name != "origin")
    pairs = ", ".join(f"'{name}', {_value(prefix + name, name)}" for name in columns)
    origin = f"COALESCE({prefix}origin, (SELECT appliance FROM cluster_identity WHERE id = 1))"
    return f"json_object({pairs}, 'origin', {origin})"


def _outbox_insert(kind: str, key: str, payload: str) -> str:
    return (
        "INSERT INTO outbox (kind, key, payload, created_ts) "
        f"VALUES ('{kind}', {key}, {payload}, {_NOW});"
    )


def create_cluster_tables(db: Database) -> None:
    """Identity, outbox, peer facts, rule revisions, and the triggers that feed the outbox."""
    db.executescript(
        """
        CREATE TABLE cluster_identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            site TEXT,
            appliance TEXT,
            enabled INTEGER NOT NULL DEFAULT 0,
            applying INTEGER NOT NULL DEFAULT 0,
            enabled_ts REAL
        );
        INSERT INTO cluster_identity (id) VALUES (1);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_ts REAL NOT NULL,
            sent_ts REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX idx_outbox_unsent ON outbox (id) WHERE sent_ts IS NULL;
        CREATE INDEX idx_outbox_sent ON outbox (sent_ts) WHERE sent_ts IS NOT NULL;
        CREATE TABLE peer_facts (
            id INTEGER PRIMARY KEY,
            origin TEXT NOT NULL,
            origin_seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            caller TEXT NOT NULL,
            value TEXT NOT NULL,
            ts REAL NOT NULL,
            received_ts REAL NOT NULL,
            UNIQUE (origin, origin_seq)
        );
        CREATE INDEX idx_peer_facts_ts ON peer_facts (ts);
        CREATE TABLE rule_sync (
            rule_id TEXT PRIMARY KEY,
            revision INTEGER NOT NULL
        );
        ALTER TABLE rules ADD COLUMN origin TEXT;
        """
    )
    _create_triggers(db)


def _create_triggers(db: Database) -> None:
    rule = rule_payload()
    call = _json_of(CALL_COLUMNS)
    verdict = (
        "json_object('kind', 'verdict', 'caller', NEW.caller, 'value', NEW.disposition, "
        f"'ts', {_value('NEW.recorded_ts', 'recorded_ts')}, 'call', NEW.call_id)"
    )
    challenge_ts = _value("COALESCE(NEW.challenge_ts, NEW.started_ts)", "challenge_ts")
    challenge = (
        "json_object('kind', 'challenge', 'caller', NEW.caller, 'value', NEW.challenge_result, "
        f"'ts', {challenge_ts}, 'call', NEW.id)"
    )
    ended = "NEW.ended_ts IS NOT NULL"
    triggers = {
        "outbox_rule_insert": (
            "AFTER INSERT ON rules",
            _GATE,
            _outbox_insert("rule", "NEW.id", rule),
        ),
        "outbox_rule_update": (
            "AFTER UPDATE ON rules",
            _GATE,
            _outbox_insert("rule", "NEW.id", rule),
        ),
        "outbox_verdict": (
            "AFTER INSERT ON dispositions",
            f"{_GATE} AND NEW.caller IS NOT NULL",
            _outbox_insert("fact", "NEW.caller", verdict),
        ),
        "outbox_challenge": (
            "AFTER UPDATE OF challenge_result ON calls",
            f"{_GATE} AND OLD.challenge_result IS NULL AND NEW.challenge_result IS NOT NULL "
            "AND NEW.caller IS NOT NULL",
            _outbox_insert("fact", "NEW.caller", challenge),
        ),
        "outbox_call_ended": (
            "AFTER UPDATE OF ended_ts ON calls",
            f"{_GATE} AND OLD.ended_ts IS NULL AND {ended}",
            _outbox_insert("call", "NEW.id", call),
        ),
        "outbox_call_inserted_ended": (
            "AFTER INSERT ON calls",
            f"{_GATE} AND {ended}",
            _outbox_insert("call", "NEW.id", call),
        ),
    }
    for name, (event, condition, body) in triggers.items():
        db.execute(f"CREATE TRIGGER {name} {event} WHEN {condition} BEGIN {body} END")


def create_hub_tables(db: Database) -> None:
    """What the province hub keeps: every site's calls in `calls` (with their site, appliance
    and id there, so the web UI's reports read them as they read one box's), and verdicts
    that arrived before their call's record. Empty on an appliance."""
    db.executescript(
        """
        ALTER TABLE calls ADD COLUMN site TEXT;
        ALTER TABLE calls ADD COLUMN appliance TEXT;
        ALTER TABLE calls ADD COLUMN origin_id INTEGER;
        CREATE UNIQUE INDEX idx_calls_origin ON calls (site, appliance, origin_id)
            WHERE site IS NOT NULL;
        CREATE TABLE hub_verdicts (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            appliance TEXT NOT NULL,
            origin_seq INTEGER NOT NULL,
            origin_call_id INTEGER NOT NULL,
            disposition TEXT NOT NULL,
            recorded_ts REAL NOT NULL,
            UNIQUE (site, appliance, origin_seq)
        );
        CREATE INDEX idx_hub_verdicts_call ON hub_verdicts (site, appliance, origin_call_id);
        """
    )


def create_event_sharing(db: Database) -> None:
    """Events (alarms, changes) go out too, so the hub shows every box's alarms; the hub
    keeps each once (`hub_events`)."""
    event = (
        "json_object('kind', NEW.kind, 'line', NEW.line, "
        f"'ts', {_value('NEW.ts', 'ts')}, 'detail', NEW.detail)"
    )
    db.execute(
        f"CREATE TRIGGER outbox_event AFTER INSERT ON events WHEN {_GATE} "
        f"BEGIN {_outbox_insert('event', 'NEW.id', event)} END"
    )
    db.executescript(
        """
        CREATE TABLE hub_events (
            site TEXT NOT NULL,
            appliance TEXT NOT NULL,
            origin_seq INTEGER NOT NULL,
            event_id INTEGER NOT NULL,
            PRIMARY KEY (site, appliance, origin_seq)
        );
        """
    )


def setting_payload(prefix: str = "NEW.") -> str:
    """SQL for a settings section as published (`prefix`: `NEW.` in a trigger, empty in a
    SELECT from `settings`): its overrides as a JSON object, when and by whom they were
    set, and this box as their origin."""
    return (
        f"json_object('section', {prefix}section, 'value', json({prefix}value), "
        f"'updated_ts', {_value(prefix + 'updated_ts', 'updated_ts')}, "
        f"'updated_by', {prefix}updated_by, 'origin', {_HERE})"
    )


def shareable_setting(prefix: str = "NEW.") -> str:
    """SQL true for a row that can be shared: a section the line service changes live,
    whose value is a JSON object (anything else in the table is no one's to spread)."""
    sections = ", ".join(f"'{section}'" for section in SHARED_SECTIONS)
    return (
        f"{prefix}section IN ({sections}) AND "
        f"(CASE WHEN json_valid({prefix}value) THEN json_type({prefix}value) END) = 'object'"
    )


def create_setting_sharing(db: Database) -> None:
    """The screening settings go out too, one message per changed section, and
    `setting_sync` keeps the shared revision of each section this box last saw.

    The web UI stores a section with INSERT OR REPLACE: the insert trigger runs before
    the row is written, so it can skip a section written again with the value it already
    had. A removed section goes out with a null value and the time it was removed, so a
    later change anywhere is told apart from it. On a connection with recursive triggers
    on (sqlite-utils turns them on), a REPLACE also runs the delete trigger for the row it
    takes out; a section that has a row again is not removed, so once a row that can be
    shared is in, the removals of that section still waiting in the outbox are dropped
    (the row's own message, or the row as it already was, is the section's state).
    """
    db.execute("CREATE TABLE setting_sync (section TEXT PRIMARY KEY, revision INTEGER NOT NULL)")
    removed = (
        "json_object('section', OLD.section, 'value', NULL, "
        f"'updated_ts', {_value(_NOW, 'updated_ts')}, 'updated_by', NULL, 'origin', {_HERE})"
    )
    sections = ", ".join(f"'{section}'" for section in SHARED_SECTIONS)
    same = "SELECT 1 FROM settings WHERE section = NEW.section AND value IS NEW.value"
    triggers = {
        "outbox_setting_insert": (
            "BEFORE INSERT ON settings",
            f"{_GATE} AND {shareable_setting()} AND NOT EXISTS ({same})",
            _outbox_insert("setting", "NEW.section", setting_payload()),
        ),
        "outbox_setting_replaced": (
            "AFTER INSERT ON settings",
            f"{_GATE} AND {shareable_setting()}",
            "DELETE FROM outbox WHERE sent_ts IS NULL AND kind = 'setting' "
            "AND key = NEW.section AND json_type(payload, '$.value') = 'null';",
        ),
        "outbox_setting_update": (
            "AFTER UPDATE ON settings",
            f"{_GATE} AND {shareable_setting()} AND OLD.value IS NOT NEW.value",
            _outbox_insert("setting", "NEW.section", setting_payload()),
        ),
        "outbox_setting_delete": (
            "AFTER DELETE ON settings",
            f"{_GATE} AND OLD.section IN ({sections})",
            _outbox_insert("setting", "OLD.section", removed),
        ),
    }
    for name, (event, condition, body) in triggers.items():
        db.execute(f"CREATE TRIGGER {name} {event} WHEN {condition} BEGIN {body} END")


def callback_payload(prefix: str = "NEW.") -> str:
    """SQL for a call-back entry as published (`prefix`: `NEW.` in a trigger, empty in a
    SELECT from `callbacks`), with its revision (`messages.callback_revision`: twice the
    attempts, plus one once marked). Text is cut to what the hub takes, and a `detail`
    that is not a small JSON object goes as an empty one, so that no entry is refused
    for its size."""
    p = prefix
    detail = (
        f"CASE WHEN length({p}detail) <= 4000 AND (CASE WHEN json_valid({p}detail)"
        f" THEN json_type({p}detail) END) = 'object' THEN json({p}detail) ELSE json_object() END"
    )
    return (
        f"json_object('id', {p}id, 'revision', 2 * {p}attempts + ({p}status != 'open'), "
        f"'caller', {p}caller, 'caller_raw', substr({p}caller_raw, 1, 100), "
        f"'line', substr({p}line, 1, 64), 'call_id', {p}call_id, 'reason', {p}reason, "
        f"'detail', {detail}, 'first_ts', {_value(p + 'first_ts', 'first_ts')}, "
        f"'last_ts', {_value(p + 'last_ts', 'last_ts')}, 'attempts', {p}attempts, "
        f"'status', {p}status, 'status_ts', {_value(p + 'status_ts', 'status_ts')}, "
        f"'status_by', substr({p}status_by, 1, 64), 'note', substr({p}note, 1, 500))"
    )


def create_callback_sharing(db: Database) -> None:
    """The call-back list goes out too, one message per change of an entry (a new open
    entry, one attempt more, a mark), and the hub keeps every site's entries in
    `hub_callbacks`, one row per (site, appliance, entry id there), the latest revision.

    A write that changes neither the attempts nor the status (the same release written
    twice) sends nothing: its revision would be the one already sent. The entries open
    when this runs on a box that shares already are queued once, so the hub's list holds
    the callers who were waiting before; a box that joins later queues its own when it
    joins (`appliance.cluster.store.declare`). A migration that rebuilds `callbacks` must
    make these triggers again (dropping a table drops its triggers)."""
    payload = callback_payload()
    changed = "(OLD.attempts IS NOT NEW.attempts OR OLD.status IS NOT NEW.status)"
    triggers = {
        "outbox_callback_insert": ("AFTER INSERT ON callbacks", _GATE),
        "outbox_callback_update": ("AFTER UPDATE ON callbacks", f"{_GATE} AND {changed}"),
    }
    for name, (event, condition) in triggers.items():
        body = _outbox_insert("callback", "NEW.id", payload)
        db.execute(f"CREATE TRIGGER {name} {event} WHEN {condition} BEGIN {body} END")
    db.execute(
        "INSERT INTO outbox (kind, key, payload, created_ts) SELECT 'callback', id, "
        f"{callback_payload(prefix='')}, {_NOW} FROM callbacks WHERE status = 'open' AND {_GATE}"
        " ORDER BY id"
    )
    db.execute(
        """CREATE TABLE hub_callbacks (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            appliance TEXT NOT NULL,
            origin_id INTEGER NOT NULL,
            revision INTEGER NOT NULL,
            caller TEXT NOT NULL,
            caller_raw TEXT,
            line TEXT,
            call_id INTEGER,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            first_ts REAL NOT NULL,
            first_at TEXT,
            last_ts REAL NOT NULL,
            last_at TEXT,
            attempts INTEGER NOT NULL,
            status TEXT NOT NULL,
            status_ts REAL,
            status_at TEXT,
            status_by TEXT,
            note TEXT,
            received_ts REAL NOT NULL,
            UNIQUE (site, appliance, origin_id)
        )"""
    )
    db.execute("CREATE INDEX idx_hub_callbacks_status ON hub_callbacks (status, last_ts)")


def create_callback_served_fact(db: Database) -> None:
    """An entry of the call-back list marked `done` (an operator called the caller back, or
    the caller got through to one) goes out as a fact of kind `callback`, value `done`,
    at the time it was marked: every other box of the site closes its own open entry for
    that caller (`appliance.store.callbacks.close_served_elsewhere`). An entry closed
    that way (`status_by` starting `sync:`) is not shared again as a fact; its entry still
    goes to the hub's list."""
    served = (
        "json_object('kind', 'callback', 'caller', NEW.caller, 'value', 'done', "
        f"'ts', {_value('NEW.status_ts', 'status_ts')}, 'call', NEW.call_id)"
    )
    condition = (
        f"{_GATE} AND OLD.status = 'open' AND NEW.status = 'done' AND NEW.status_ts IS NOT NULL"
        " AND substr(COALESCE(NEW.status_by, ''), 1, 5) != 'sync:'"
    )
    body = _outbox_insert("fact", "NEW.caller", served)
    db.execute(
        "CREATE TRIGGER outbox_callback_served AFTER UPDATE OF status ON callbacks"
        f" WHEN {condition} BEGIN {body} END"
    )


def create_verdict_withdrawn_fact(db: Database) -> None:
    """An operator's second verdict on a call replaces the first (the call's row keeps the
    latest): the box also sends a fact of kind `withdrawn`, the earlier verdict as its
    value, at the time of the new one, so the site's other boxes stop counting it as this
    box does (`PolicyState.withdraw_disposition`). The same verdict given again (a double
    click) is no new fact: the verdict trigger is remade to skip it."""
    earlier = (
        "(SELECT disposition FROM dispositions WHERE call_id = NEW.call_id AND id < NEW.id"
        " ORDER BY id DESC LIMIT 1)"
    )
    ts = _value("NEW.recorded_ts", "recorded_ts")
    verdict = (
        "json_object('kind', 'verdict', 'caller', NEW.caller, 'value', NEW.disposition, "
        f"'ts', {ts}, 'call', NEW.call_id)"
    )
    withdrawn = (
        f"json_object('kind', 'withdrawn', 'caller', NEW.caller, 'value', {earlier}, "
        f"'ts', {ts}, 'call', NEW.call_id)"
    )
    shared = f"{_GATE} AND NEW.caller IS NOT NULL"
    db.execute("DROP TRIGGER IF EXISTS outbox_verdict")
    db.execute(
        "CREATE TRIGGER outbox_verdict AFTER INSERT ON dispositions"
        f" WHEN {shared} AND {earlier} IS NOT NEW.disposition"
        f" BEGIN {_outbox_insert('fact', 'NEW.caller', verdict)} END"
    )
    db.execute(
        "CREATE TRIGGER outbox_verdict_withdrawn AFTER INSERT ON dispositions"
        f" WHEN {shared} AND {earlier} IS NOT NULL AND {earlier} != NEW.disposition"
        f" BEGIN {_outbox_insert('fact', 'NEW.caller', withdrawn)} END"
    )


def create_flood_fact(db: Database) -> None:
    """This box entering or leaving flood mode by a signal of its own goes out as a fact
    of kind `flood` (value `on` or `off`, no caller), so the site's other boxes, which the
    network hunts the same number over, enter flood mode too
    (`FloodMonitor.site_flood`). A flood entered only because another box is in one
    (reason `site: ...`) is not sent: the boxes would hold each other in it."""
    state = "CASE NEW.kind WHEN 'flood_on' THEN 'on' ELSE 'off' END"
    flood = (
        f"json_object('kind', 'flood', 'caller', NULL, 'value', {state}, "
        f"'ts', {_value('NEW.ts', 'ts')})"
    )
    condition = (
        f"{_GATE} AND NEW.kind IN ('flood_on', 'flood_off')"
        " AND COALESCE(json_extract(NEW.detail, '$.reason'), '') NOT LIKE 'site:%'"
    )
    body = _outbox_insert("fact", "'flood'", flood)
    db.execute(
        f"CREATE TRIGGER outbox_flood AFTER INSERT ON events WHEN {condition} BEGIN {body} END"
    )


def create_callback_served_kept(db: Database) -> None:
    """An entry marked `done` here is also kept in this box's own `peer_facts`, sharing or
    not: the line service folds the site's facts and its own box's call-backs served into
    its policy from that one table, so every box of a site, and a box alone, counts an
    operator's call-back as a contact with the number. Such a row's sequence is the
    entry's id, negated: peers' sequences (outbox ids) are positive, so the two never meet,
    and `origin_seq < 0` tells this box's own rows apart. Its origin is the box's name
    while it shares, '' otherwise."""
    condition = (
        "OLD.status = 'open' AND NEW.status = 'done' AND NEW.status_ts IS NOT NULL"
        " AND substr(COALESCE(NEW.status_by, ''), 1, 5) != 'sync:'"
    )
    db.execute(
        "CREATE TRIGGER callback_served_kept AFTER UPDATE OF status ON callbacks"
        f" WHEN {condition} BEGIN"
        " INSERT OR IGNORE INTO peer_facts"
        " (origin, origin_seq, kind, caller, value, ts, received_ts)"
        f" VALUES (COALESCE({_HERE}, ''), -NEW.id, 'callback', NEW.caller, 'done',"
        f" NEW.status_ts, {_NOW}); END"
    )
