"""Every call of a report in exactly one of the centre's categories.

The centre reports upward, per month: genuine calls by kind, prank, ghost and the rest.
`appliance.report` counts operators' verdicts only, so a call Siaga released or refused
itself (it never reached an operator, so nobody recorded anything) fell under "other"
and the prank + ghost share came out near 7 % in a month where nearly every call was
junk that Siaga screened. Here each call gets one category:

- **An operator's verdict wins**: `genuine:<kind>` is that kind, `prank` prank, `ghost`
  ghost, and information, wrong number or an unknown verdict are *other*.
- **Without a verdict, Siaga's own classification** (`SIAGA_CLASSES`), from the call's
  decision, reason, challenge result and whether it reached an operator:
  - released after the challenge without reaching an operator: *ghost* (nothing reached
    the centre): silent until released (`timeout`), hung up on the prompt
    (`caller_hung_up`), a wrong key on every attempt (`failed`);
  - refused (reject or announce) because of the number's record: *prank*: a block rule
    (`blocklist`), the abuse ladder (`abuse`), flood mode (`flood`), repeat calls
    (`throttle`);
  - refused for any other reason (a withheld number refused by the configuration...):
    *other*.
- **Everything else without a verdict** (passed to an operator and not recorded, a
  caller who hung up while ringing) is *other, no verdict*.

Operators' and Siaga's figures are kept apart (`CategoryRow.by_operators`,
`CategoryRow.by_siaga`), so the page shows what each classified. **The share** is prank
plus ghost (both sources) over every call of the period, shown in the viewer's number
format (`66,7%`): the same function on the reports page, its chart and the dashboard.

Archived months (`monthly_figures`, their call rows removed by retention) keep only the
operators' figures: there every call without a verdict is *other*, and the row says so.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from appliance.model import genuine_kind
from appliance.report import (
    DISPOSITIONS,
    Period,
    Report,
    call_extent,
    call_groups,
    period_bounds,
)
from appliance.store import rollup

CENTRE_JUNK: tuple[str, ...] = ("prank", "ghost")
# Siaga's own classification of a call no operator gave a verdict: its category.
SIAGA_CLASSES: dict[str, str] = {
    "silent_after_challenge": "ghost",
    "hung_up_on_prompt": "ghost",
    "wrong_key": "ghost",
    "refused_rule": "prank",
    "refused_abuse": "prank",
    "refused_flood": "prank",
    "refused_repeat": "prank",
    "refused_other": "other",
}
_CHALLENGE_CLASSES = {
    "timeout": "silent_after_challenge",
    "caller_hung_up": "hung_up_on_prompt",
    "failed": "wrong_key",
}
_REFUSAL_CLASSES = {
    "blocklist": "refused_rule",
    "abuse": "refused_abuse",
    "flood": "refused_flood",
    "throttle": "refused_repeat",
}
OPERATOR_OTHER = ("info", "wrong_number", "other_disposition")


_CHALLENGED = "challenge"
_REFUSED = ("reject", "announce")


def siaga_class(
    decision: str | None, reason: str | None, challenge_result: str | None, reached: bool
) -> str | None:
    """Siaga's classification of a call without a verdict; None: it has none (other).
    A challenge is classified by its result alone, a refusal by its reason alone
    (`CATEGORY_TALLIES` count them so)."""
    if reached:
        return None
    if decision == _CHALLENGED:
        return _challenge_class(challenge_result)
    if decision in _REFUSED:
        return _refusal_class(reason)
    return None


def _challenge_class(challenge_result: str | None) -> str | None:
    return _CHALLENGE_CLASSES.get(challenge_result or "")


def _refusal_class(reason: str | None) -> str:
    return _REFUSAL_CLASSES.get(reason or "", "refused_other")


# The categories of whole days, counted by SQLite (`rollup.period_tallies`): calls by
# disposition (the report's own tally), and the calls without a verdict that never reached
# an operator by challenge result or, refused, by reason; which category each value is in
# stays `siaga_class`'s. Calls without a verdict in neither tally have no class.
_NOT_HEARD = "disposition IS NULL AND NOT ifnull(reached_operator, 0)"
_REFUSED_SQL = ", ".join(f"'{decision}'" for decision in _REFUSED)
SIAGA_CHALLENGES = rollup.Tally(
    "siaga_challenge",
    ("challenge_result",),
    where=f"{_NOT_HEARD} AND decision = '{_CHALLENGED}'",
    values=tuple((result,) for result in _CHALLENGE_CLASSES),
)
SIAGA_REFUSALS = rollup.Tally(
    "siaga_refusal",
    ("reason",),
    where=f"{_NOT_HEARD} AND decision IN ({_REFUSED_SQL})",
    values=tuple((reason,) for reason in _REFUSAL_CLASSES),
    total=True,  # the reasons not listed: `refused_other`
)
CATEGORY_TALLIES: tuple[rollup.Tally, ...] = (DISPOSITIONS, SIAGA_CHALLENGES, SIAGA_REFUSALS)


@dataclass
class CategoryRow:
    """One period (or the totals): every call in one category, by who classified it."""

    label: str
    kinds: dict[str, int] = field(default_factory=dict)  # genuine kind -> calls
    by_operators: dict[str, int] = field(default_factory=dict)  # prank, ghost, other
    by_siaga: dict[str, int] = field(default_factory=dict)  # SIAGA_CLASSES key -> calls
    no_verdict: int = 0
    archived: bool = False  # from archived figures: Siaga's classification not kept

    def count(self, category: str) -> int:
        """Calls in `category`: a genuine kind, `valid`, `prank`, `ghost` or `other`."""
        if category == "valid":
            return sum(self.kinds.values())
        if category in ("prank", "ghost", "other"):
            siaga = sum(n for name, n in self.by_siaga.items() if SIAGA_CLASSES[name] == category)
            extra = self.no_verdict if category == "other" else 0
            return self.by_operators.get(category, 0) + siaga + extra
        return self.kinds.get(category, 0)

    def split(self) -> tuple[int, int, int, int]:
        """(valid, prank, ghost, other): `count` of each of the four, in one pass (a year
        by day asks for 366 rows' of them)."""
        split = {
            "prank": self.by_operators.get("prank", 0),
            "ghost": self.by_operators.get("ghost", 0),
            "other": self.by_operators.get("other", 0) + self.no_verdict,
        }
        for name, n in self.by_siaga.items():
            split[SIAGA_CLASSES[name]] += n
        return sum(self.kinds.values()), split["prank"], split["ghost"], split["other"]

    def siaga_count(self, category: str) -> int:
        """Calls Siaga put in `category` (prank, ghost or other)."""
        return sum(n for name, n in self.by_siaga.items() if SIAGA_CLASSES[name] == category)

    @property
    def calls(self) -> int:
        """Every call of the period: the sum of the categories, each call once."""
        return sum(self.split())

    def add(self, other: CategoryRow) -> None:
        """Add another row's calls to this one (for totals)."""
        for mine, theirs in (
            (self.kinds, other.kinds),
            (self.by_operators, other.by_operators),
            (self.by_siaga, other.by_siaga),
        ):
            for name, n in theirs.items():
                mine[name] = mine.get(name, 0) + n
        self.no_verdict += other.no_verdict
        self.archived = self.archived or other.archived


def junk_share_pct(row: CategoryRow) -> float:
    """Prank + ghost (operators' and Siaga's) as a percentage of every call, to 0.1."""
    return share_pct(*row.split())


def share_pct(valid: int, prank: int, ghost: int, other: int) -> float:
    """`junk_share_pct` of a row's `CategoryRow.split`."""
    calls = valid + prank + ghost + other
    return round(100.0 * (prank + ghost) / calls, 1) if calls else 0.0


def _bump(counts: dict[str, int], name: str, n: int) -> None:
    counts[name] = counts.get(name, 0) + n


def _fold(
    row: CategoryRow,
    disposition: str | None,
    decision: str | None,
    reason: str | None,
    challenge_result: str | None,
    reached: bool,
    n: int,
) -> None:
    """One group of calls into its category."""
    if disposition is not None:
        _fold_verdict(row, disposition, n)
        return
    classified = siaga_class(decision, reason, challenge_result, reached)
    if classified is None:
        row.no_verdict += n
    else:
        _bump(row.by_siaga, classified, n)


@functools.lru_cache(maxsize=4096)
def _verdict_category(disposition: str) -> tuple[bool, str]:
    """(whether genuine, its kind or the operators' category) of an operator's verdict."""
    kind = genuine_kind(disposition)
    if kind is not None:
        return True, kind
    return False, disposition if disposition in CENTRE_JUNK else "other"


def _fold_verdict(row: CategoryRow, disposition: str, n: int) -> None:
    """`n` calls with an operator's verdict into their category."""
    genuine, name = _verdict_category(disposition)
    _bump(row.kinds if genuine else row.by_operators, name, n)


def _fold_tallied(row: CategoryRow, tallied: rollup.Tallied) -> None:
    """One period's tallied whole days and counted groups (`rollup.Tallied`) into `row`."""
    classified = refused = 0
    for (name, value), n in tallied.counts.items():  # the report's tallies' too
        if name == DISPOSITIONS.name:
            if value[0] is not None:
                _fold_verdict(row, value[0], n)
        elif name == SIAGA_CHALLENGES.name:
            challenged = _challenge_class(value[0])
            if challenged is not None:
                _bump(row.by_siaga, challenged, n)
                classified += n
        elif name == SIAGA_REFUSALS.name:
            _bump(row.by_siaga, _refusal_class(value[0]), n)
            refused += n
    unlisted = tallied.totals.get(SIAGA_REFUSALS.name, 0) - refused
    if unlisted:  # a reason not listed, or none
        _bump(row.by_siaga, _refusal_class(None), unlisted)
    classified += refused + unlisted
    row.no_verdict += tallied.counts.get((DISPOSITIONS.name, (None,)), 0) - classified
    for disposition, decision, reason, result, reached, n, _line_s in tallied.groups:
        _fold(row, disposition, decision, reason, result, bool(reached), int(n))


def _period_row(
    conn: sqlite3.Connection, label: str, from_ts: float, to_ts: float, site: str | None = None
) -> CategoryRow:
    row = CategoryRow(label)
    for disposition, decision, reason, result, reached, n, _line_s in call_groups(
        conn, from_ts, to_ts, site
    ):
        _fold(row, disposition, decision, reason, result, bool(reached), int(n))
    return row


def _archived_row(label: str, figures: dict[str, float], kinds: Sequence[str]) -> CategoryRow:
    """A month kept only as `appliance.report` figures: operators' verdicts, the rest other."""
    row = CategoryRow(label, archived=True)
    for kind in kinds:
        if figures.get(f"valid_{kind}"):
            row.kinds[kind] = int(figures[f"valid_{kind}"])
    for junk in CENTRE_JUNK:
        row.by_operators[junk] = int(figures.get(junk, 0))
    row.by_operators["other"] = sum(int(figures.get(name, 0)) for name in OPERATOR_OTHER)
    row.no_verdict = int(figures.get("no_disposition", 0))
    return row


@dataclass(frozen=True)
class Categories:
    """A report's periods and totals in the centre's categories."""

    rows: list[CategoryRow]
    totals: CategoryRow


def period_rows(
    conn: sqlite3.Connection,
    since_ts: float,
    until_ts: float,
    period: Period,
    zone: ZoneInfo,
    site: str | None = None,
) -> dict[str, CategoryRow]:
    """The calls of [since_ts, until_ts) by local period label, each in one category.

    Independent of the report (the page runs both at once): one indexed query for the
    first and last call, then the per-day figures of the periods between them
    (`appliance.store.rollup`: the rollup's days, and the dirty ones from their rows).
    One `site` of a province hub is counted from its rows."""
    extent = call_extent(conn, since_ts, until_ts, site)
    if extent is None:
        return {}
    bounds = list(period_bounds(*extent, period, zone))
    if site is not None or not rollup.has_rollup(conn):  # a hub's site, or before 0017
        return {
            label: _period_row(conn, label, from_ts, to_ts, site)
            for label, from_ts, to_ts in bounds
        }
    labels = [label for label, *_ in bounds]
    tallied = rollup.period_tallies(conn, bounds, CATEGORY_TALLIES)
    if tallied is None:  # values SQL cannot count: the groups
        groups = rollup.period_groups(conn, bounds, period)
        tallied = {label: rollup.Tallied(groups=found) for label, found in groups.items()}
    return rows_from_tallied(tallied, labels)


def rows_from_tallied(
    tallied: Mapping[str, rollup.Tallied], labels: Iterable[str]
) -> dict[str, CategoryRow]:
    """The periods `labels` in the centre's categories, from their tallied whole days and
    counted groups (`appliance.store.rollup.period_tallies` with `CATEGORY_TALLIES`, or
    what a report counted: `report(tallies=, tallied_out=)`)."""
    rows: dict[str, CategoryRow] = {}
    for label in labels:
        row = CategoryRow(label)
        if label in tallied:
            _fold_tallied(row, tallied[label])
        rows[label] = row
    return rows


def categorise(report: Report, counted: dict[str, CategoryRow]) -> Categories:
    """`counted` (from `period_rows`) in the periods of `report`; a period with calls in
    the report but none left in the log (an archived month) from the report's figures.
    (The two are read on two connections: a call logged in between may be in one only.)"""
    rows: list[CategoryRow] = []
    for source in report.rows:
        row = counted.get(source.label) or CategoryRow(source.label)
        if not row.calls and source.figures["calls"]:  # archived: its call rows are gone
            row = _archived_row(source.label, source.figures, report.kinds)
        rows.append(row)
    totals = CategoryRow("total")
    for row in rows:
        totals.add(row)
    return Categories(rows, totals)
