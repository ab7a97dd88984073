"""Allow and block rules as the web UI manages them: list, add, import, remove, export.

Every rule is written and read by `appliance.store.rules` (`add_rule`, `remove_rule`,
`list_rules`), on the request's connection and inside this module's transaction, so the
audit row commits with the rule or not at all: the same rows, validation, ids and
`rule_added` / `rule_removed` events as `siaga block add`, and the same soft delete
(`removed_*` filled in, the row kept). `web_ui.rules.csv_import` turns what a user typed into
drafts first, so a bad field is a message in the user's language rather than the store's
ValueError. The `rules_version` trigger tells the running line service to reload. An
import is one transaction: every rule and its audit row, or none.
"""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from appliance.store import rules as rule_store
from web_ui.calls.service import EXCEL_SEPARATOR, UTF8_BOM, local_iso, neutralise
from web_ui.core.db import transaction
from web_ui.core.i18n import translate
from web_ui.rules.csv_import import HEADING_KEYS, RowError, RuleDraft, RulesImport
from web_ui.users import audit
from web_ui.users.audit import Actor
from web_ui.users.service import Language, UserError

logger = logging.getLogger(__name__)

# The Excel export's headings: the rules page's column names, in the user's language.
EXPORT_HEADING_KEYS: dict[str, str] = {
    **HEADING_KEYS,
    "pattern": "rules.number",
    "created_by": "rules.who",
    "created_at": "rules.when",
    "expires_at": "rules.expires",
}
EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "kind",
    "pattern",
    "match",
    "action",
    "reason",
    "created_by",
    "created_at",
    "expires_at",
)


class RuleListed(BaseModel):
    """A rule in force, as the page, the API and the CSV give it (times in the site's zone)."""

    id: str
    kind: str
    pattern: str
    match: str
    action: str
    reason: str
    created_by: str
    created_at: str
    created_ts: float
    expires_at: str | None
    expires_ts: float | None

    @classmethod
    def of(cls, row: sqlite3.Row | dict[str, Any], zone: ZoneInfo) -> RuleListed:
        """The public view of a `rules` row."""
        expires_ts = row["expires_ts"]
        return cls(
            id=str(row["id"]),
            kind=str(row["kind"]),
            pattern=str(row["pattern"]),
            match=str(row["match"]),
            action=str(row["action"]),
            reason=str(row["reason"] or ""),
            created_by=str(row["created_by"] or ""),
            created_at=local_iso(float(row["created_ts"]), zone) or "",
            created_ts=float(row["created_ts"]),
            expires_at=local_iso(expires_ts, zone),
            expires_ts=None if expires_ts is None else float(expires_ts),
        )


def _heading(column: str, language: Language) -> str:
    key = EXPORT_HEADING_KEYS.get(column)
    return column if key is None else translate(language, key)


def active(conn: sqlite3.Connection, now_ts: float, zone: ZoneInfo) -> list[RuleListed]:
    """Rules in force at `now_ts` (not removed, not expired), allow first, newest first."""
    rows = rule_store.list_rules(conn, now_ts=now_ts)
    rows.sort(key=lambda row: (row["kind"], -float(row["created_ts"]), row["id"]))
    return [RuleListed.of(row, zone) for row in rows]


def rule_in_force_like(conn: sqlite3.Connection, draft: RuleDraft, now_ts: float) -> str | None:
    """The id of a rule in force identical to `draft` (kind, match, pattern, action)."""
    return rule_store.identical_active_rule(
        conn, draft.kind, draft.match, draft.pattern, draft.action, now_ts
    )


def without_rules_in_force(
    conn: sqlite3.Connection, found: RulesImport, now_ts: float
) -> RulesImport:
    """An import's parse with every row identical to a rule already in force moved from
    the rules to add to the errors (`rules_csv.duplicate_active`, naming that rule)."""
    drafts: list[RuleDraft] = []
    errors = list(found.errors)
    for draft in found.rows:
        existing = rule_in_force_like(conn, draft, now_ts)
        if existing is None:
            drafts.append(draft)
        else:
            errors.append(RowError(draft.row, "rules_csv.duplicate_active", {"id": existing}))
    if len(drafts) == len(found.rows):
        return found
    errors.sort(key=lambda error: error.row)
    return replace(found, rows=tuple(drafts), errors=tuple(errors))


def _rule(draft: RuleDraft, by: str, now_ts: float) -> dict[str, Any]:
    """What `appliance.store.rules.add_rule` is given for a draft (the store picks the id)."""
    return {
        "kind": draft.kind,
        "pattern": draft.pattern,
        "match": draft.match,
        "action": draft.action,
        "reason": draft.reason,
        "created_by": by,
        "created_ts": now_ts,
        "expires_ts": draft.expires_ts,
    }


def add_rules(
    conn: sqlite3.Connection,
    actor: Actor,
    drafts: Iterable[RuleDraft],
    zone: ZoneInfo,
    *,
    action: str = "rules.add",
) -> list[RuleListed]:
    """Insert the rules, each with its event and audit row, in one transaction; none if
    one is identical to a rule in force (`UserError` `error.rule_duplicate`, 409)."""
    now_ts = time.time()
    added: list[dict[str, Any]] = []
    with transaction(conn):
        for draft in drafts:
            try:
                row = rule_store.add_rule(conn, _rule(draft, actor.name, now_ts), zone)
            except rule_store.DuplicateRuleError:
                raise UserError("error.rule_duplicate", status=409) from None
            audit.record(
                conn,
                actor,
                action,
                target=row["pattern"],
                before=None,
                after=row,
                zone=zone,
                now_ts=now_ts,
            )
            added.append(row)
    logger.info("%d rule(s) added by %s (%s)", len(added), actor.name, action)
    return [RuleListed.of(row, zone) for row in added]


def remove_rule(conn: sqlite3.Connection, actor: Actor, rule_id: str, zone: ZoneInfo) -> None:
    """Soft-delete a rule in force or not yet removed; 404 if unknown or already removed."""
    now_ts = time.time()
    with transaction(conn):
        row = rule_store.remove_rule(conn, rule_id, actor.name, now_ts, zone, reason="web")
        if row is None:
            raise UserError("error.rule_not_found", status=404)
        audit.record(
            conn,
            actor,
            "rules.remove",
            target=str(row["pattern"]),
            before=row,
            after=None,
            zone=zone,
            now_ts=now_ts,
        )
    logger.info("rule %s removed by %s", rule_id, actor.name)


def csv_text(rules: list[RuleListed], *, excel_language: Language | None = None) -> Iterator[str]:
    """The export: a BOM, the header, one line per rule; formula-looking cells neutralised.

    Plain (the default): commas and the column names above, for programs. With
    `excel_language`, the dialect Excel opens by double-click on a desk set to Indonesian
    (`/rules.csv?dialect=excel`, as the reports' export): semicolons and the rules page's
    column names in that language (`Jenis;Nomor;...`)."""
    out = io.StringIO()
    out.write(UTF8_BOM)
    if excel_language is None:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
    else:
        writer = csv.writer(out, delimiter=EXCEL_SEPARATOR, lineterminator="\r\n")
        writer.writerow([_heading(column, excel_language) for column in EXPORT_COLUMNS])
    for rule in rules:
        public = rule.model_dump()
        writer.writerow(
            [
                "" if public[column] is None else neutralise(str(public[column]))
                for column in EXPORT_COLUMNS
            ]
        )
    yield out.getvalue()
