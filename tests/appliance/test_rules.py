"""Rules and the rule index: most specific active rule wins, expired rules never do."""

from __future__ import annotations

import pytest

from appliance.model import Action
from appliance.rules import MatchKind, Rule, RuleIndex

NUMBER = "+6281234567890"
T0 = 1_700_000_000.0


def block(
    rule_id: str,
    pattern: str,
    match: MatchKind = "exact",
    action: Action = Action.CHALLENGE,
    created_at: float = T0,
    expires_at: float | None = None,
) -> Rule:
    return Rule(
        id=rule_id,
        kind="block",
        pattern=pattern,
        match=match,
        action=action,
        reason="test",
        created_by="supervisor",
        created_at=created_at,
        expires_at=expires_at,
    )


def allow(rule_id: str, pattern: str, match: MatchKind = "exact") -> Rule:
    return Rule(rule_id, "allow", pattern, match, Action.PASS, "RSUD", "tech", T0, None)


def test_exact_rule_matches_only_that_number() -> None:
    index = RuleIndex([block("b1", NUMBER)])
    assert index.match(NUMBER, T0) == block("b1", NUMBER)
    assert index.match("+6281234567891", T0) is None
    assert index.match("+628123456789", T0) is None


def test_prefix_rule_matches_every_number_in_the_block() -> None:
    index = RuleIndex([block("p", "+62812", "prefix")])
    assert index.match(NUMBER, T0) is not None
    assert index.match("+6281299999999", T0) is not None
    assert index.match("+6281312345678", T0) is None


def test_exact_rule_beats_prefix_rule() -> None:
    index = RuleIndex([block("prefix", "+62812", "prefix", Action.REJECT), block("exact", NUMBER)])
    rule = index.match(NUMBER, T0)
    assert rule is not None and rule.id == "exact"


def test_longer_prefix_beats_shorter_prefix() -> None:
    index = RuleIndex([block("short", "+62812", "prefix"), block("long", "+628123456", "prefix")])
    rule = index.match(NUMBER, T0)
    assert rule is not None and rule.id == "long"
    other = index.match("+6281299999999", T0)
    assert other is not None and other.id == "short"


def test_expired_rule_is_ignored_and_a_less_specific_one_applies() -> None:
    index = RuleIndex(
        [block("exact", NUMBER, expires_at=T0 + 60), block("prefix", "+62812", "prefix")]
    )
    first = index.match(NUMBER, T0 + 59)
    assert first is not None and first.id == "exact"
    later = index.match(NUMBER, T0 + 60)
    assert later is not None and later.id == "prefix"


def test_expired_rule_alone_matches_nothing() -> None:
    index = RuleIndex([block("b", NUMBER, expires_at=T0 + 60)])
    assert index.match(NUMBER, T0 + 3600) is None


def test_newest_rule_wins_on_the_same_pattern_until_it_expires() -> None:
    permanent = block("permanent", NUMBER, action=Action.CHALLENGE, created_at=T0)
    temporary = block(
        "temporary", NUMBER, action=Action.REJECT, created_at=T0 + 10, expires_at=T0 + 100
    )
    index = RuleIndex([temporary, permanent])
    assert index.match(NUMBER, T0 + 50) == temporary
    assert index.match(NUMBER, T0 + 100) == permanent


def test_remove_and_re_add_by_id() -> None:
    index = RuleIndex([block("b", NUMBER), block("p", "+62812", "prefix")])
    assert len(index) == 2
    removed = index.remove("b")
    assert removed is not None and removed.id == "b"
    assert index.remove("b") is None
    rule = index.match(NUMBER, T0)
    assert rule is not None and rule.id == "p"
    index.remove("p")
    assert index.match(NUMBER, T0) is None
    assert len(index) == 0


def test_adding_a_rule_with_an_existing_id_replaces_it() -> None:
    index = RuleIndex([block("b", NUMBER)])
    index.add(block("b", "+6281300000000"))
    assert len(index) == 1
    assert index.match(NUMBER, T0) is None
    assert index.match("+6281300000000", T0) is not None


def test_replace_all_swaps_the_whole_set() -> None:
    index = RuleIndex([block("old", NUMBER)])
    index.replace_all([block("new", "+62813", "prefix")])
    assert "old" not in index and "new" in index
    assert index.match(NUMBER, T0) is None
    assert index.match("+6281300000000", T0) is not None


def test_replace_all_with_a_bad_rule_keeps_the_old_rules() -> None:
    index = RuleIndex([block("old", NUMBER)], kind="block")
    with pytest.raises(ValueError):
        index.replace_all([allow("a", NUMBER)])
    assert index.match(NUMBER, T0) is not None


def test_remove_expired_returns_what_it_removed() -> None:
    index = RuleIndex(
        [block("gone", NUMBER, expires_at=T0 + 1), block("stays", "+62812", "prefix")]
    )
    removed = index.remove_expired(T0 + 2)
    assert [rule.id for rule in removed] == ["gone"]
    assert len(index) == 1


def test_index_of_one_kind_refuses_the_other_kind() -> None:
    with pytest.raises(ValueError, match="allow rule cannot go into the block index"):
        RuleIndex([allow("a", NUMBER)], kind="block")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pattern": "6281234567890"},
        {"pattern": "+62812abc"},
        {"pattern": "+6281234567890123"},
        {"pattern": "+"},
        {"match": "regex"},
        {"kind": "maybe"},
        {"id": ""},
        {"action": Action.PASS},
    ],
)
def test_rule_refuses_invalid_fields(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "id": "r",
        "kind": "block",
        "pattern": NUMBER,
        "match": "exact",
        "action": Action.CHALLENGE,
        "reason": "r",
        "created_by": "s",
        "created_at": T0,
        "expires_at": None,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError):
        Rule(**fields)  # type: ignore[arg-type]


def test_allow_rule_must_pass() -> None:
    with pytest.raises(ValueError, match="allow rule's action must be 'pass'"):
        Rule("a", "allow", NUMBER, "exact", Action.CHALLENGE, "r", "s", T0, None)


def test_is_active_until_expiry() -> None:
    rule = block("b", NUMBER, expires_at=T0 + 10)
    assert rule.is_active(T0 + 9.999)
    assert not rule.is_active(T0 + 10)
    assert block("forever", NUMBER).is_active(T0 + 10**9)


def test_prefix_longer_than_the_number_does_not_match() -> None:
    index = RuleIndex([block("p", "+62812345678901", "prefix")])
    assert index.match("+62812345678", T0) is None


def test_large_index_finds_the_right_rule() -> None:
    rules = [block(f"e{i}", f"+62812{i:08d}") for i in range(20_000)]
    rules += [block(f"p{i}", f"+62813{i:04d}", "prefix") for i in range(2_000)]
    index = RuleIndex(rules)
    assert len(index) == 22_000
    exact = index.match("+6281200012345", T0)
    assert exact is not None and exact.id == "e12345"
    prefix = index.match("+6281300421234", T0)
    assert prefix is not None and prefix.id == "p42"
    assert index.match("+6281499999999", T0) is None
