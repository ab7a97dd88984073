"""Screening reads the rules from the database (`StoredRules`) with the same answers as the
in-memory index (`RuleIndex`): exact before prefix, the longest prefix, the newest rule
of a pattern, expired and removed rules ignored; a removal is in force at once, a new
rule once the set of patterns is read again (the service does so within a second).

Both are given the same rules, made through the real `RuleStore` on a real SQLite file,
and asked about the same numbers at the same times.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.rules import RuleIndex
from appliance.store import DuplicateRuleError, RuleStore, rule_from_row
from appliance.store.db import connect_writer, open_readonly
from appliance.store.rules import StoredRules, list_rules

ZONE = "Asia/Jakarta"
NOW = 1_780_000_000.0
BASE = "+62812"

# Patterns that share prefixes, and several rules on one pattern (the store refuses two
# identical ones, so their actions differ): longest match and tie-breaking are exercised.
suffixes = st.text(alphabet="0123", min_size=0, max_size=5)
rules = st.lists(
    st.tuples(
        st.sampled_from(["allow", "block:reject", "block:challenge", "block:announce"]),
        suffixes,
        st.sampled_from(["exact", "prefix"]),
        st.integers(min_value=0, max_value=3),  # created: a few distinct times, ties too
        st.sampled_from([None, NOW - 10.0, NOW + 10.0]),  # expires: never, past, future
        st.booleans(),  # removed
    ),
    max_size=25,
)
numbers = st.lists(suffixes, min_size=1, max_size=10)
_databases = itertools.count()


@pytest.mark.slow  # 60 generated rule tables, each on a SQLite file
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rules=rules, asked=numbers)
def test_the_database_and_the_memory_index_give_the_same_rule(
    tmp_path: Path, rules: list[tuple[str, str, str, int, float | None, bool]], asked: list[str]
) -> None:
    db = tmp_path / f"rules-{next(_databases)}.db"
    connect_writer(db).close()
    store = RuleStore(db, timezone=ZONE)
    try:
        for kind_action, suffix, match, created, expires, removed in rules:
            kind, _, action = kind_action.partition(":")
            try:
                rule_id = store.add(
                    {"kind": kind, "pattern": BASE + suffix, "match": match,
                     "action": action or "pass", "reason": "test", "created_by": "tester",
                     "created_ts": NOW - 100 + created, "expires_ts": expires}
                )  # fmt: skip
            except DuplicateRuleError:
                continue  # the store keeps one of identical rules; both sides see the same
            if removed:
                store.remove(rule_id, "tester", NOW - 50)
    finally:
        store.close()
    conn = open_readonly(db)
    rows = list_rules(conn, now_ts=NOW)
    conn.close()
    for kind in ("allow", "block"):
        memory = RuleIndex(
            (rule_from_row(row) for row in rows if row["kind"] == kind),
            kind=kind,  # type: ignore[arg-type]
        )
        stored = StoredRules(db, kind, clock=lambda: NOW)  # type: ignore[arg-type]
        stored.refresh()
        try:
            # Every rule's own pattern, numbers under it, and numbers drawn at random.
            suffixes_asked = {*asked, *(rule[1] for rule in rules)}
            for suffix in suffixes_asked:
                number = BASE + suffix + "9" * (8 - len(suffix))
                for candidate in (number, BASE + suffix, BASE + suffix + "0"):
                    in_memory = memory.match(candidate, NOW)
                    in_database = stored.match(candidate, NOW)
                    assert (in_database and in_database.id) == (in_memory and in_memory.id)
                    if in_database is not None:
                        assert in_database.action == in_memory.action  # type: ignore[union-attr]
            assert len(stored) == len(memory)
        finally:
            stored.close()


def test_a_new_rule_is_in_force_once_refreshed_and_a_removed_one_at_once(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    connect_writer(db).close()
    stored = StoredRules(db, "block")
    store = RuleStore(db, timezone=ZONE)
    try:
        assert stored.refresh() == 0
        assert stored.match("+6281299990000", NOW) is None
        rule_id = store.add(
            {"kind": "block", "pattern": "+628129999", "match": "prefix", "action": "reject",
             "reason": "crew", "created_by": "supervisor", "created_ts": NOW - 5}
        )  # fmt: skip
        assert stored.match("+6281299990000", NOW) is None  # the set is read at the next look
        assert stored.refresh() == 1
        found = stored.match("+6281299990000", NOW)
        assert found is not None and found.id == rule_id
        store.remove(rule_id, "supervisor", NOW)
        assert stored.match("+6281299990000", NOW) is None  # without a refresh
    finally:
        store.close()
        stored.close()
