"""Versioned schema migrations for Siaga's SQLite database (call log, rules, events).

Each migration is a plain function decorated with `@migration(name="NNNN_what")`; the number
fixes the order and makes `_migrations` readable. `apply_migrations()` runs the pending ones
when the database is opened. Never edit a migration that has shipped: add a new one.

The registry is sqlite-utils' own `Migrations` (sqlite-utils >= 4.0 bundles what used to be
the `sqlite-migrate` package), so there is no home-grown bookkeeping to maintain. We only
rename its table to `_migrations` and serialise concurrent openers (see `apply_migrations`).
"""

from __future__ import annotations

import logging

from sqlite_utils import Database, Migrations

from appliance.cluster.schema import (
    create_callback_served_fact,
    create_callback_served_kept,
    create_callback_sharing,
    create_cluster_tables,
    create_event_sharing,
    create_flood_fact,
    create_hub_tables,
    create_setting_sharing,
    create_verdict_withdrawn_fact,
)

logger = logging.getLogger(__name__)

MIGRATIONS_TABLE = "_migrations"
MIGRATION_SET = "siaga"


class _SiagaMigrations(Migrations):
    """sqlite-utils migrations recorded in `_migrations` rather than `_sqlite_migrations`."""

    migrations_table = MIGRATIONS_TABLE


migration = _SiagaMigrations(MIGRATION_SET)


@migration(name="0001_calls")
def create_calls(db: Database) -> None:
    """One row per call attempt; the contract in docs/contracts.md columns plus reporting extras."""
    calls = db.table("calls")
    calls.create(
        {
            "id": int,
            "line": str,
            "caller_raw": str,
            "caller": str,  # E.164; NULL for withheld, unavailable, unparseable
            "number_class": str,
            "started_at": str,  # ISO 8601 with the site zone's offset
            "started_ts": float,  # POSIX seconds: range queries and the policy replay
            "decision": str,
            "reason": str,
            "rule": str,
            "challenge_result": str,
            "challenge_at": str,
            "challenge_ts": float,  # when the challenge ended (its result was known)
            "reached_operator": int,
            "operator_at": str,
            "operator_ts": float,
            "ended_at": str,
            "ended_ts": float,
            "end_cause": str,
            "interrupted": int,  # 1: the service stopped while the call was in flight
            "disposition": str,  # latest verdict; full history in `dispositions`
            "disposition_at": str,
            "disposition_ts": float,
            "decision_us": int,
            "scenario_ref": str,
            "time_trusted": int,  # 0 once the clock is known to have been wrong (later)
            "desk": str,
            "operator": str,
            "line_seconds": float,
        },
        pk="id",
        not_null=["reached_operator", "interrupted", "time_trusted"],
        defaults={"reached_operator": 0, "interrupted": 0, "time_trusted": 1},
    )
    calls.create_index(["started_ts"])
    calls.create_index(["caller", "started_ts"])
    calls.create_index(["disposition"])
    calls.create_index(["decision", "reason"])
    calls.create_index(["scenario_ref"])
    # Partial index: the start-up scan for calls left in flight stays instant however long
    # the log grows. sqlite-utils' create_index has no WHERE clause, hence raw SQL.
    db.execute("CREATE INDEX idx_calls_in_flight ON calls (id) WHERE ended_at IS NULL")


@migration(name="0002_dispositions")
def create_dispositions(db: Database) -> None:
    """Append-only history of operator verdicts; the latest one is copied into `calls`."""
    dispositions = db.table("dispositions")
    dispositions.create(
        {
            "id": int,
            "call_id": int,
            "caller": str,
            "disposition": str,
            "operator": str,
            "recorded_at": str,
            "recorded_ts": float,
        },
        pk="id",
        not_null=["call_id", "disposition", "recorded_ts"],
    )
    dispositions.create_index(["call_id"])
    dispositions.create_index(["caller", "recorded_ts"])


@migration(name="0003_events")
def create_events(db: Database) -> None:
    """Appliance events (lines, flood mode, rule changes, alarms) with a JSON detail."""
    events = db.table("events")
    events.create(
        {"id": int, "at": str, "ts": float, "kind": str, "line": str, "detail": str},
        pk="id",
        not_null=["ts", "kind"],
    )
    events.create_index(["ts"])
    events.create_index(["kind", "ts"])


@migration(name="0004_rules")
def create_rules(db: Database) -> None:
    """Allow/block rules with soft delete, and a change counter for hot reload.

    `rules_version.version` is bumped by triggers on every insert, update or delete of
    `rules`, whichever connection or process makes the change; see `RuleStore.changed_since`.
    """
    rules = db.table("rules")
    rules.create(
        {
            "id": str,
            "kind": str,  # allow | block
            "pattern": str,  # E.164 number or E.164 prefix
            "match": str,  # exact | prefix
            "action": str,
            "reason": str,
            "created_by": str,
            "created_at": str,
            "created_ts": float,
            "expires_at": str,
            "expires_ts": float,
            "removed_at": str,
            "removed_ts": float,
            "removed_by": str,
            "removed_reason": str,
            "note": str,
        },
        pk="id",
        not_null=["kind", "pattern", "match", "action", "created_ts"],
    )
    rules.create_index(["kind", "pattern"])
    db.table("rules_version").create({"id": int, "version": int}, pk="id", not_null=["version"])
    db.table("rules_version").insert({"id": 1, "version": 0})
    for operation in ("INSERT", "UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER rules_version_{operation.lower()} AFTER {operation} ON rules "
            "BEGIN UPDATE rules_version SET version = version + 1 WHERE id = 1; END"
        )


@migration(name="0005_voice_heard_and_hold")
def add_voice_heard_and_hold(db: Database) -> None:
    """`voice_heard`: whether the line heard a voice while challenging the caller, 1 or 0,
    NULL when it did not listen (no challenge, a modem with analogue audio only, listening
    off). `hold_s`: seconds a reported number spent on the warning and hold before an
    operator was alerted; NULL when there was none."""
    db.table("calls").add_column("voice_heard", int)
    db.table("calls").add_column("hold_s", float)


def pending_migrations(db: Database) -> list[str]:
    """Names of the migrations not yet applied to `db` (read-only)."""
    return [pending.name for pending in migration.pending(db)]


def apply_migrations(db: Database) -> list[str]:
    """Bring the schema up to date; return the names of the migrations applied.

    The whole run happens inside one `BEGIN IMMEDIATE`: the service and a CLI command
    starting at the same moment would otherwise both see a migration as pending and the
    second would fail on "table already exists". sqlite-utils runs each migration in a
    savepoint nested in that transaction, so each one is still atomic with its record in
    `_migrations`, and a failure leaves the schema at the previous complete version.
    """
    if not pending_migrations(db):
        return []
    db.execute("BEGIN IMMEDIATE")
    try:
        names = pending_migrations(db)  # again, now that we hold the write lock
        migration.apply(db)
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise
    for name in names:
        logger.info("applied database migration %s", name)
    return names


@migration(name="0006_web_users")
def create_web_users(db: Database) -> None:
    """The web UI's users, sessions, failed logins and append-only audit log.

    Raw SQL for the CHECK constraints, NOCASE user names and the triggers. `audit_log` can
    only grow: its triggers refuse every UPDATE and DELETE, whoever asks.
    """
    statements = [
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'technician')),
            password_hash TEXT NOT NULL,
            language TEXT NOT NULL DEFAULT 'id' CHECK (language IN ('id', 'en')),
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            created_ts REAL NOT NULL,
            updated_ts REAL NOT NULL,
            password_changed_ts REAL NOT NULL
        )""",
        # `id` is HMAC-SHA256(secret, cookie token): the token itself is never stored.
        """CREATE TABLE web_sessions (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id),
            csrf_token TEXT NOT NULL,
            created_ts REAL NOT NULL,
            last_seen_ts REAL NOT NULL,
            expires_ts REAL NOT NULL,
            remote TEXT,
            user_agent TEXT
        )""",
        "CREATE INDEX idx_web_sessions_user ON web_sessions (user_id)",
        "CREATE INDEX idx_web_sessions_expires ON web_sessions (expires_ts)",
        """CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL COLLATE NOCASE,
            ts REAL NOT NULL,
            remote TEXT
        )""",
        "CREATE INDEX idx_login_failures_username_ts ON login_failures (username, ts)",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            at TEXT NOT NULL,
            actor_id INTEGER,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            before TEXT,
            after TEXT,
            remote TEXT
        )""",
        "CREATE INDEX idx_audit_log_ts ON audit_log (ts)",
        "CREATE INDEX idx_audit_log_actor ON audit_log (actor_id, ts)",
        "CREATE INDEX idx_audit_log_action ON audit_log (action, ts)",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ]
    for statement in statements:
        db.execute(statement)


@migration(name="0007_desk")
def create_desk_tables(db: Database) -> None:
    """The line service and the web UI talk through two tables (two processes, no socket).

    `line_status`: one row per line, written by the line service on every state change
    (what the operator console shows live). `desk_requests`: what operators ask of the line
    service from the console (answer a waiting call, hang up, record a disposition); the
    service polls for rows with no `done_ts`, carries them out and fills `done_ts` and
    `result` (`ok`, `no_such_call`, `expired`, `invalid`). A request written while the
    service is down waits: dispositions are applied at its next start, answer and hang-up
    requests older than a few seconds expire.
    """
    statements = [
        """CREATE TABLE line_status (
            line TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            since_ts REAL NOT NULL,
            since_at TEXT,
            call_id INTEGER,
            caller_raw TEXT,
            caller TEXT,
            number_class TEXT,
            decision TEXT,
            reason TEXT,
            rule TEXT,
            challenge_result TEXT,
            voice_heard INTEGER,
            unverified INTEGER,
            waiting_since_ts REAL,
            operator TEXT,
            desk TEXT,
            family TEXT,
            model TEXT,
            imei TEXT,
            signal INTEGER,
            registration TEXT,
            last_error TEXT,
            updated_ts REAL NOT NULL
        )""",
        """CREATE TABLE desk_requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('answer', 'hang_up', 'disposition')),
            line TEXT,
            call_id INTEGER,
            disposition TEXT,
            operator TEXT NOT NULL,
            requested_ts REAL NOT NULL,
            requested_at TEXT,
            done_ts REAL,
            done_at TEXT,
            result TEXT
        )""",
        "CREATE INDEX desk_requests_pending ON desk_requests (id) WHERE done_ts IS NULL",
        "CREATE INDEX desk_requests_call ON desk_requests (call_id)",
    ]
    for statement in statements:
        db.execute(statement)


@migration(name="0008_sms_outbox")
def create_sms_outbox(db: Database) -> None:
    """SMS the line service sends: queued first, so none is lost to a restart, and counted
    against the daily and per-number caps after one. `kind` is `warning` or `alarm`;
    `result` is `sent`, `failed` (gave up after retries) or `dropped` (over a cap)."""
    db.execute(
        """CREATE TABLE sms_outbox (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            topic TEXT,
            to_number TEXT NOT NULL,
            text TEXT NOT NULL,
            created_ts REAL NOT NULL,
            created_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            sent_ts REAL,
            sent_at TEXT,
            line TEXT,
            result TEXT,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX sms_outbox_created ON sms_outbox (created_ts)")
    db.execute("CREATE INDEX sms_outbox_unsent ON sms_outbox (created_ts) WHERE result IS NULL")


@migration(name="0009_monthly_figures")
def create_monthly_figures(db: Database) -> None:
    """The report's figures of whole months whose call rows the retention policy removed
    (`database.retention_months`): `figures` is the report row as JSON. A month is archived
    in the same transaction that deletes its rows, so the monthly report never loses it."""
    db.execute(
        """CREATE TABLE monthly_figures (
            month TEXT PRIMARY KEY,
            from_ts REAL NOT NULL,
            to_ts REAL NOT NULL,
            figures TEXT NOT NULL,
            calls_removed INTEGER NOT NULL,
            archived_ts REAL NOT NULL,
            archived_at TEXT
        )"""
    )


@migration(name="0010_search_indexes")
def add_search_indexes(db: Database) -> None:
    """The call search pages newest first (`ORDER BY started_ts DESC`). With the time as
    the second column, a filter on a disposition or a decision reads one page of index
    entries instead of sorting every matching row: `disposition = 'prank'` took 4.4 s at
    10 million rows (docs/benchmarks.md). The narrower indexes they replace go."""
    db.execute("CREATE INDEX idx_calls_disposition_started ON calls (disposition, started_ts)")
    db.execute("CREATE INDEX idx_calls_decision_started ON calls (decision, started_ts)")
    db.execute("DROP INDEX IF EXISTS idx_calls_disposition")


@migration(name="0011_settings")
def create_settings(db: Database) -> None:
    """Screening settings changed from the web UI, over the configuration file's.

    One row per section (`policy`, `challenge`, `prompts`, `sms`): `value` is the JSON of
    the keys set there, deep-merged over the file (`appliance.settings`). A trigger bumps
    `settings_version` on any change, so the line service notices within a second and
    applies them with no restart; a restart of either process loses nothing.
    """
    db.execute(
        """CREATE TABLE settings (
            section TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_ts REAL NOT NULL,
            updated_at TEXT,
            updated_by TEXT NOT NULL
        )"""
    )
    db.execute("CREATE TABLE settings_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
    db.execute("INSERT INTO settings_version (id, version) VALUES (1, 0)")
    for operation in ("INSERT", "UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER settings_version_{operation.lower()} AFTER {operation} ON settings "
            "BEGIN UPDATE settings_version SET version = version + 1 WHERE id = 1; END"
        )


@migration(name="0012_line_index")
def add_line_index(db: Database) -> None:
    """The call log page filters by line, newest first: without this index a line that
    took few calls meant reading the whole log (4.3 s cold at 2 million rows)."""
    db.execute("CREATE INDEX idx_calls_line_started ON calls (line, started_ts)")


@migration(name="0013_service_and_line_admin")
def create_service_and_line_admin(db: Database) -> None:
    """What the web UI's dashboard, lines and system pages read from the line service, and
    what technicians ask of its lines. The two processes still meet only in the database.

    `service_state`: one row, written by the line service at start and as things change:
    its process, version and start time, the configuration file it runs on (`base_config`,
    JSON: the base the screening settings page validates its overrides against, with the
    same `appliance.settings.effective_config`), flood mode, and a heartbeat.

    `line_admin`: a technician's choice per line, kept across restarts of either process:
    `enabled = 0` takes the line out of service (the service lets go of its modem) until
    it is enabled again. A line with no row is as its configuration says.

    `line_requests`: a technician's test of a line (`at_test`: one read-only AT command
    from a fixed list), carried out by the line service on the modem's own channel; it
    fills `done_ts`, `result` (`ok`, `error`, `no_such_line`, `not_ready`, `refused`,
    `expired`) and `answer` (the modem's reply lines).
    """
    statements = [
        """CREATE TABLE service_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER,
            version TEXT,
            started_ts REAL,
            started_at TEXT,
            base_config TEXT,
            flood_active INTEGER NOT NULL DEFAULT 0,
            flood_since_ts REAL,
            flood_reason TEXT,
            heartbeat_ts REAL,
            updated_ts REAL NOT NULL
        )""",
        """CREATE TABLE line_admin (
            line TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            updated_ts REAL NOT NULL,
            updated_at TEXT,
            updated_by TEXT NOT NULL
        )""",
        """CREATE TABLE line_requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('at_test')),
            line TEXT NOT NULL,
            command TEXT,
            requested_by TEXT NOT NULL,
            requested_ts REAL NOT NULL,
            requested_at TEXT,
            done_ts REAL,
            done_at TEXT,
            result TEXT,
            answer TEXT
        )""",
        "CREATE INDEX line_requests_pending ON line_requests (id) WHERE done_ts IS NULL",
    ]
    for statement in statements:
        db.execute(statement)


@migration(name="0014_callbacks")
def create_callbacks(db: Database) -> None:
    """The call-back list: callers the appliance let go without an operator and without a
    junk verdict (silent after the challenge, hung up during the prompt, rang while a line
    was starting, seen waiting on a busy line during a flood), to be called back.

    Written by the line service's call log (`CallLog.add_callback`); operators mark an
    entry `done` or `unreachable` from the web UI (`appliance.store.callbacks`), with an
    audit row. Only a caller with a number can be called back: `caller` is E.164, never
    NULL. One OPEN entry per caller (the unique partial index): a further release of a
    caller already on the list updates that entry (`attempts` + 1) instead of adding one;
    once it is marked, the next release opens a new entry. `detail` is JSON: what the line
    heard (`voice_heard`, `keys`, `listened_s`, ...). `call_id` is the latest `calls.id`
    behind the entry, NULL when the caller was only seen ringing or waiting.
    """
    statements = [
        """CREATE TABLE callbacks (
            id INTEGER PRIMARY KEY,
            caller TEXT NOT NULL CHECK (
                length(caller) BETWEEN 2 AND 16 AND substr(caller, 1, 1) = '+'
                AND substr(caller, 2) NOT GLOB '*[^0-9]*'
            ),
            caller_raw TEXT,
            line TEXT,
            call_id INTEGER,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            first_ts REAL NOT NULL,
            first_at TEXT,
            last_ts REAL NOT NULL,
            last_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'done', 'unreachable')),
            status_ts REAL,
            status_at TEXT,
            status_by TEXT,
            note TEXT
        )""",
        "CREATE UNIQUE INDEX callbacks_open_caller ON callbacks (caller) WHERE status = 'open'",
        "CREATE INDEX callbacks_status_last ON callbacks (status, last_ts)",
        "CREATE INDEX callbacks_caller ON callbacks (caller, last_ts)",
    ]
    for statement in statements:
        db.execute(statement)


@migration(name="0015_other_caller")
def add_other_caller(db: Database) -> None:
    """`other_caller_raw`, `other_caller`: a second, different number the modem reported
    for the same call (a second `+CLIP` in one ring cycle), exactly as given and in E.164
    (NULL when it is not a number). The call was screened on the first number; the second
    is kept so that a supervisor sees both (appliance/caller_data.py). NULL for almost
    every call."""
    db.table("calls").add_column("other_caller_raw", str)
    db.table("calls").add_column("other_caller", str)


@migration(name="0016_line_degraded")
def add_line_degraded(db: Database) -> None:
    """`line_status.degraded`: what a line cannot do although it answers (comma-separated
    `no_caller_id`, `no_key_detection`, `no_voice_port`: settings its modem refuses), NULL
    while it can do everything. The dashboard, lines page and console show it."""
    db.execute("ALTER TABLE line_status ADD COLUMN degraded TEXT")


@migration(name="0017_daily_figures")
def create_daily_figures(db: Database) -> None:
    """Per-day figures for the reports (`appliance.store.rollup`): `daily_figures` (calls
    and line-seconds per local day and disposition, decision, reason, challenge result,
    reached_operator), `daily_callers` (the day's numbers with 3 calls or more, for the top
    repeaters), `daily_days` (each day's first and last start), `daily_dirty` (days
    changed since their figures were computed), and the triggers on `calls` that mark a
    row's day dirty on INSERT, DELETE and any UPDATE of a counted column. The day is the
    date prefix of `started_at`. The figures of the calls already logged are built here,
    so no day starts dirty. Frozen SQL: later changes to the rollup get a migration."""
    day = "ifnull(substr({row}.started_at, 1, 10), '')"
    groups = "disposition, decision, reason, challenge_result, reached_operator"
    counted = ("started_at", "started_ts", *groups.split(", "), "line_seconds", "caller")
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in counted)
    mark_new = (
        "INSERT INTO daily_dirty (day, lo_ts, hi_ts)"
        f" SELECT {day.format(row='NEW')}, NEW.started_ts, NEW.started_ts"
        " WHERE NEW.started_ts IS NOT NULL"
        " ON CONFLICT (day) DO UPDATE SET lo_ts = min(lo_ts, excluded.lo_ts),"
        " hi_ts = max(hi_ts, excluded.hi_ts)"
        " WHERE excluded.lo_ts < lo_ts OR excluded.hi_ts > hi_ts;"
    )
    # A row leaving a day needs no window: the day is only marked (if it is not already).
    mark_old = (
        "INSERT INTO daily_dirty (day, lo_ts, hi_ts)"
        f" SELECT {day.format(row='OLD')}, OLD.started_ts, OLD.started_ts"
        " WHERE OLD.started_ts IS NOT NULL {also} ON CONFLICT (day) DO NOTHING;"
    )
    moved = "AND (OLD.started_at IS NOT NEW.started_at OR OLD.started_ts IS NOT NEW.started_ts)"
    statements = [
        # `n` numbers a day's groups: the key clusters a day's rows together.
        """CREATE TABLE daily_figures (
            day TEXT NOT NULL,
            n INTEGER NOT NULL,
            disposition TEXT,
            decision TEXT,
            reason TEXT,
            challenge_result TEXT,
            reached_operator INTEGER,
            calls INTEGER NOT NULL,
            line_seconds REAL NOT NULL,
            PRIMARY KEY (day, n)
        ) WITHOUT ROWID""",
        """CREATE TABLE daily_days (
            day TEXT PRIMARY KEY,
            first_ts REAL NOT NULL,
            last_ts REAL NOT NULL,
            calls INTEGER NOT NULL,
            caller_rest INTEGER NOT NULL
        ) WITHOUT ROWID""",
        # The numbers that called at least 3 times in a day, with the top repeaters'
        # figures; `daily_days.caller_rest`: the most calls any other number made that day.
        """CREATE TABLE daily_callers (
            day TEXT NOT NULL,
            caller TEXT NOT NULL,
            calls INTEGER NOT NULL,
            junk INTEGER NOT NULL,
            genuine INTEGER NOT NULL,
            reached INTEGER NOT NULL,
            first_ts REAL NOT NULL,
            last_ts REAL NOT NULL,
            PRIMARY KEY (day, caller)
        ) WITHOUT ROWID""",
        """CREATE TABLE daily_dirty (
            day TEXT PRIMARY KEY,
            lo_ts REAL NOT NULL,
            hi_ts REAL NOT NULL
        ) WITHOUT ROWID""",
        f"CREATE TRIGGER daily_dirty_insert AFTER INSERT ON calls BEGIN {mark_new} END",
        f"CREATE TRIGGER daily_dirty_update AFTER UPDATE OF {', '.join(counted)} ON calls"
        f" WHEN {changed} BEGIN {mark_old.format(also=moved)} {mark_new} END",
        "CREATE TRIGGER daily_dirty_delete AFTER DELETE ON calls"
        f" BEGIN {mark_old.format(also='')} END",
        f"""INSERT INTO daily_figures (day, n, {groups}, calls, line_seconds)
            SELECT day, row_number() OVER (PARTITION BY day), {groups}, calls, line_seconds
            FROM (
                SELECT {day.format(row="calls")} AS day, {groups},
                       COUNT(*) AS calls, TOTAL(line_seconds) AS line_seconds
                FROM calls WHERE started_ts IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5, 6
            )""",
        f"""CREATE TEMP TABLE day_callers AS
            SELECT {day.format(row="calls")} AS day, caller, COUNT(*) AS calls,
                   TOTAL(disposition IN ('prank', 'ghost')) AS junk,
                   TOTAL(substr(disposition, 1, 8) = 'genuine:') AS genuine,
                   TOTAL(reached_operator) AS reached,
                   MIN(started_ts) AS first_ts, MAX(started_ts) AS last_ts
            FROM calls WHERE started_ts IS NOT NULL AND caller IS NOT NULL
            GROUP BY 1, 2""",
        """INSERT INTO daily_callers
            SELECT day, caller, calls, junk, genuine, reached, first_ts, last_ts
            FROM temp.day_callers WHERE calls >= 3""",
        f"""INSERT INTO daily_days (day, first_ts, last_ts, calls, caller_rest)
            SELECT {day.format(row="calls")}, MIN(started_ts), MAX(started_ts), COUNT(*),
                   ifnull((SELECT MAX(calls) FROM temp.day_callers AS r
                           WHERE r.day = {day.format(row="calls")} AND r.calls < 3), 0)
            FROM calls WHERE started_ts IS NOT NULL
            GROUP BY 1""",
        "DROP TABLE temp.day_callers",
    ]
    for statement in statements:
        db.execute(statement)


@migration(name="0018_cluster")
def create_cluster(db: Database) -> None:
    """Sharing with other appliances: identity, outbox and its triggers, peers' facts, the
    shared revision of each rule, and `rules.origin` (NULL: made on this box). Inert until
    `[cluster]` turns sharing on; see appliance/cluster/schema.py."""
    create_cluster_tables(db)


@migration(name="0019_hub")
def create_hub(db: Database) -> None:
    """The province hub's columns on `calls` (site, appliance, the call's id there) and the
    verdicts waiting for their call; unused on an appliance. See appliance/cluster/hub.py."""
    create_hub_tables(db)


@migration(name="0020_web_lines")
def create_web_lines(db: Database) -> None:
    """Lines configured on the web UI's lines page (`appliance/web_lines.py`).

    `web_lines`: one row per line, `config` the JSON of its `LineConfig`, `position` its
    order (slot n of the board serves the n-th line at start). While the table holds any
    row, it is the whole set of lines in force and the configuration file's `[[lines]]`
    are only shown as overridden; with none, the file's lines are in force. A trigger
    bumps `web_lines_version` on every change, so the line service notices within a
    second and starts, stops or restarts only the lines that changed.
    """
    db.execute(
        """CREATE TABLE web_lines (
            name TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            config TEXT NOT NULL,
            updated_ts REAL NOT NULL,
            updated_at TEXT,
            updated_by TEXT NOT NULL
        )"""
    )
    db.execute("CREATE TABLE web_lines_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
    db.execute("INSERT INTO web_lines_version (id, version) VALUES (1, 0)")
    for operation in ("INSERT", "UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER web_lines_version_{operation.lower()} AFTER {operation} ON web_lines "
            "BEGIN UPDATE web_lines_version SET version = version + 1 WHERE id = 1; END"
        )


@migration(name="0021_shared_events")
def share_events(db: Database) -> None:
    """Events leave through the outbox too (while sharing is on), and the hub keeps each
    site's once: see appliance/cluster/schema.py."""
    create_event_sharing(db)


@migration(name="0022_callbacks_dismissed")
def allow_dismissed_callbacks(db: Database) -> None:
    """A call-back entry may also be `dismissed`: a supervisor closes a flood's entries
    together once it is over (`appliance.store.callbacks.dismiss_flood_entries`). SQLite
    cannot change a CHECK constraint, so the table is rebuilt with its rows and ids, and
    its indexes made again."""
    db.execute(
        """CREATE TABLE callbacks_rebuilt (
            id INTEGER PRIMARY KEY,
            caller TEXT NOT NULL CHECK (
                length(caller) BETWEEN 2 AND 16 AND substr(caller, 1, 1) = '+'
                AND substr(caller, 2) NOT GLOB '*[^0-9]*'
            ),
            caller_raw TEXT,
            line TEXT,
            call_id INTEGER,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            first_ts REAL NOT NULL,
            first_at TEXT,
            last_ts REAL NOT NULL,
            last_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'done', 'unreachable', 'dismissed')),
            status_ts REAL,
            status_at TEXT,
            status_by TEXT,
            note TEXT
        )"""
    )
    columns = (
        "id, caller, caller_raw, line, call_id, reason, detail, first_ts, first_at, last_ts,"
        " last_at, attempts, status, status_ts, status_at, status_by, note"
    )
    statements = [
        f"INSERT INTO callbacks_rebuilt ({columns}) SELECT {columns} FROM callbacks",
        "DROP TABLE callbacks",
        "ALTER TABLE callbacks_rebuilt RENAME TO callbacks",
        "CREATE UNIQUE INDEX callbacks_open_caller ON callbacks (caller) WHERE status = 'open'",
        "CREATE INDEX callbacks_status_last ON callbacks (status, last_ts)",
        "CREATE INDEX callbacks_caller ON callbacks (caller, last_ts)",
    ]
    for statement in statements:
        db.execute(statement)


@migration(name="0023_settings_sharing")
def share_settings(db: Database) -> None:
    """The screening settings leave through the outbox too (while sharing is on), one
    message per changed section, and `setting_sync` keeps the shared revision of each
    section: see appliance/cluster/schema.py."""
    create_setting_sharing(db)


@migration(name="0024_callbacks_sharing")
def share_callbacks(db: Database) -> None:
    """The call-back list leaves through the outbox too (while sharing is on), one message
    per change of an entry, and the hub keeps every site's entries in `hub_callbacks`:
    see appliance/cluster/schema.py."""
    create_callback_sharing(db)


@migration(name="0025_callback_served_fact")
def share_served_callbacks(db: Database) -> None:
    """A call-back served on one box closes the caller's entry on the site's other boxes:
    see appliance/cluster/schema.py."""
    create_callback_served_fact(db)


@migration(name="0026_callback_served_kept")
def keep_served_callbacks(db: Database) -> None:
    """A call-back served on this box is kept in its own `peer_facts` too, so its line
    service counts the contact as the site's other boxes do: see
    appliance/cluster/schema.py."""
    create_callback_served_kept(db)


@migration(name="0027_verdict_withdrawn_fact")
def share_withdrawn_verdicts(db: Database) -> None:
    """A verdict replaced on one box stops counting on the site's other boxes too: see
    appliance/cluster/schema.py."""
    create_verdict_withdrawn_fact(db)


@migration(name="0028_flood_fact")
def share_flood_mode(db: Database) -> None:
    """A box's own flood mode reaches the site's other boxes: see
    appliance/cluster/schema.py."""
    create_flood_fact(db)


@migration(name="0029_service_pid_namespace")
def record_service_pid_namespace(db: Database) -> None:
    """`service_state.pid_namespace`: the PID namespace the line service's process runs
    in (`appliance.store.status.pid_namespace`), so a web UI in the same one sees at once
    that the process is gone, rather than after its heartbeat has aged."""
    db.execute("ALTER TABLE service_state ADD COLUMN pid_namespace TEXT")


@migration(name="0030_id_floors")
def keep_id_floors(db: Database) -> None:
    """`id_floors`: the lowest id the next row of a table may take (`calls`), above ids
    this box already gave out and published. A restore from an older backup sets it from
    the database it replaced (`appliance.store.restore`), so a new call never reuses the
    id of a call the site's hub and other boxes already hold; the call log numbers its
    calls above it (`appliance.store.calllog`)."""
    db.execute("CREATE TABLE id_floors (name TEXT PRIMARY KEY, floor INTEGER NOT NULL)")
