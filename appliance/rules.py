"""Allow and block rules, and the index that finds the rule for a caller in microseconds.

A rule is a supervisor's or technician's decision about one number (`exact`) or a number
block (`prefix`), always in E.164 form (`+6281234567890`, `+62812`). Allow rules pass the
call; block rules carry the action to take (challenge by default in the UI; announce or
reject only by an explicit choice). Rules may expire (R4); an expired rule is ignored by
`RuleIndex.match` and removed by `RuleIndex.remove_expired`, which returns what it removed
so the caller can log the unlisting.

What a rule may be is defined here once (`RULE_KINDS`, `MATCH_KINDS`, `ACTIONS_BY_KIND`,
`RULE_PATTERN`): the store (`appliance.store.rules`), the CLI and the web UI check
against these. When a rule ends is read by `appliance.expiry`.

`RuleIndex.match` is O(len(number)): one dict lookup for the exact number, then one per
prefix length actually present in the index, longest first. It holds a million rules with
lookups of a few microseconds (see `bench/bench_decision.py`). The line service does not
hold its rules so: it reads them from the database (`appliance.store.rules.StoredRules`,
the same answers), and screening asks either through `RuleLookup`.

Which rule wins for a number:
1. an exact rule beats any prefix rule;
2. a longer prefix beats a shorter one;
3. among active rules with the same pattern and match, the most recently created wins
   (a temporary rule laid over a permanent one applies until it expires, then the
   permanent one applies again); ties are broken by id so the choice is stable.
A rule whose `expires_at` has passed is skipped, so a less specific active rule applies.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from appliance.model import Action

logger = logging.getLogger(__name__)

RuleKind = Literal["allow", "block"]
MatchKind = Literal["exact", "prefix"]

# The one definition of what a rule may be; the store, the CLI and the web UI use these.
RULE_KINDS: tuple[RuleKind, ...] = ("allow", "block")
MATCH_KINDS: tuple[MatchKind, ...] = ("exact", "prefix")
# An allow rule always passes; a block rule restricts, and defaults to a challenge (the
# caller keeps the escape key): announce or reject must be asked for. The first is the default.
ACTIONS_BY_KIND: Mapping[str, tuple[str, ...]] = {
    "allow": (Action.PASS.value,),
    "block": (Action.CHALLENGE.value, Action.ANNOUNCE.value, Action.REJECT.value),
}
# A pattern is an E.164 number or prefix: `+` and 1 to 15 digits. Withheld or unavailable
# callers are never a rule key (R10), and a national-form pattern would never match a
# normalised caller.
RULE_PATTERN = re.compile(r"\+[0-9]{1,15}")


def is_rule_pattern(text: object) -> bool:
    """True when `text` is a valid rule pattern (an E.164 number or prefix)."""
    return isinstance(text, str) and RULE_PATTERN.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Rule:
    """One allow or block rule; times are POSIX seconds, `expires_at` None = until removed."""

    id: str
    kind: RuleKind
    pattern: str
    match: MatchKind
    action: Action
    reason: str
    created_by: str
    created_at: float
    expires_at: float | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("rule id must not be empty")
        if self.kind not in RULE_KINDS:
            raise ValueError(f"rule kind must be 'allow' or 'block', not {self.kind!r}")
        if self.match not in MATCH_KINDS:
            raise ValueError(f"rule match must be 'exact' or 'prefix', not {self.match!r}")
        if not is_rule_pattern(self.pattern):
            raise ValueError(f"rule pattern must be '+' and up to 15 digits, not {self.pattern!r}")
        if self.kind == "allow" and self.action not in ACTIONS_BY_KIND["allow"]:
            raise ValueError("an allow rule's action must be 'pass'")
        if self.kind == "block" and self.action not in ACTIONS_BY_KIND["block"]:
            raise ValueError("a block rule's action must be 'challenge', 'announce' or 'reject'")

    def is_active(self, now: float) -> bool:
        """True unless the rule has expired (a rule takes effect when it is added)."""
        return self.expires_at is None or now < self.expires_at


class RuleLookup(Protocol):
    """What screening asks of a kind of rule: the most specific active one for a number.
    `RuleIndex` holds the rules in memory (tests, the simulator, the benches);
    `appliance.store.rules.StoredRules` reads them from the database's index at each
    call, so a box with 100,000 rules does not hold them."""

    def match(self, e164: str, now: float) -> Rule | None: ...

    def __len__(self) -> int: ...


def _preference(rule: Rule) -> tuple[float, str]:
    """Sort key within one bucket: newest first, then by id for a stable order."""
    return (-rule.created_at, rule.id)


class RuleIndex:
    """Rules of one kind (or both, if `kind` is None), indexed for longest-match lookup.

    Not thread-safe: owned by the line service's event loop, like `PolicyState`.
    """

    def __init__(self, rules: Iterable[Rule] = (), kind: RuleKind | None = None) -> None:
        self._kind = kind
        self._by_id: dict[str, Rule] = {}
        self._exact: dict[str, tuple[Rule, ...]] = {}
        self._prefix: dict[str, tuple[Rule, ...]] = {}
        self._prefix_lengths: Counter[int] = Counter()
        self._lengths_desc: tuple[int, ...] = ()
        for rule in rules:
            self.add(rule)

    @property
    def kind(self) -> RuleKind | None:
        """The kind of rule this index accepts (None: any)."""
        return self._kind

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Rule]:
        return iter(list(self._by_id.values()))

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        return self._by_id.get(rule_id)

    def add(self, rule: Rule) -> None:
        """Add a rule, replacing any rule with the same id."""
        if self._kind is not None and rule.kind != self._kind:
            raise ValueError(f"a {rule.kind} rule cannot go into the {self._kind} index")
        if rule.id in self._by_id:
            self.remove(rule.id)
        self._by_id[rule.id] = rule
        buckets = self._exact if rule.match == "exact" else self._prefix
        existing = buckets.get(rule.pattern, ())
        buckets[rule.pattern] = tuple(sorted((*existing, rule), key=_preference))
        if rule.match == "prefix":
            self._count_prefix_length(len(rule.pattern), +1)

    def remove(self, rule_id: str) -> Rule | None:
        """Remove and return the rule with this id (None if there was none)."""
        rule = self._by_id.pop(rule_id, None)
        if rule is None:
            return None
        buckets = self._exact if rule.match == "exact" else self._prefix
        remaining = tuple(r for r in buckets[rule.pattern] if r.id != rule_id)
        if remaining:
            buckets[rule.pattern] = remaining
        else:
            del buckets[rule.pattern]
        if rule.match == "prefix":
            self._count_prefix_length(len(rule.pattern), -1)
        return rule

    def replace_all(self, rules: Iterable[Rule]) -> None:
        """Swap in a new set of rules (e.g. after the rule store changed).

        The new index is built aside and swapped in at the end, so an error in the new
        rules leaves the old ones in force.
        """
        fresh = RuleIndex(rules, kind=self._kind)
        self._by_id = fresh._by_id
        self._exact = fresh._exact
        self._prefix = fresh._prefix
        self._prefix_lengths = fresh._prefix_lengths
        self._lengths_desc = fresh._lengths_desc

    def remove_expired(self, now: float) -> list[Rule]:
        """Remove every rule that has expired by `now` and return them (to log, R4)."""
        expired = [rule for rule in self._by_id.values() if not rule.is_active(now)]
        for rule in expired:
            self.remove(rule.id)
        if expired:
            logger.info("%d %s rule(s) expired", len(expired), self._kind or "")
        return expired

    def match(self, e164: str, now: float) -> Rule | None:
        """The most specific active rule for an E.164 number, or None."""
        rule = _first_active(self._exact.get(e164), now)
        if rule is not None:
            return rule
        prefix_rules = self._prefix
        number_length = len(e164)
        for length in self._lengths_desc:
            if length > number_length:
                continue
            rule = _first_active(prefix_rules.get(e164[:length]), now)
            if rule is not None:
                return rule
        return None

    def _count_prefix_length(self, length: int, delta: int) -> None:
        """Track which prefix lengths exist, so `match` only tries those."""
        before = self._prefix_lengths[length]
        self._prefix_lengths[length] = before + delta
        if self._prefix_lengths[length] <= 0:
            del self._prefix_lengths[length]
        if (before == 0) != (self._prefix_lengths[length] == 0):
            self._lengths_desc = tuple(sorted(self._prefix_lengths, reverse=True))


def _first_active(bucket: tuple[Rule, ...] | None, now: float) -> Rule | None:
    if bucket is None:
        return None
    for rule in bucket:
        if rule.expires_at is None or now < rule.expires_at:
            return rule
    return None
