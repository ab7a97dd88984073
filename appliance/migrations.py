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

logger = logging.getLogger(__name__)

MIGRATIONS_TABLE = "_migrations"
MIGRATION_SET = "siaga"


class _SiagaMigrations(Migrations):
    """sqlite-utils migrations recorded in `_migrations` rather than `_sqlite_migrations`."""

    migrations_table = MIGRATIONS_TABLE


migration = _SiagaMigrations(MIGRATION_SET)


@migration(name="0001_calls")
def create_calls(db: Database) -> None:
    """One row per call attempt; the DESIGN.md contract columns plus reporting extras."""
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
