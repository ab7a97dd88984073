"""The call log as the web UI searches it: filters, paging, and the CSV export.

The search itself is the store's (`appliance.store.call_search`, as `siaga calls` uses):
newest first by `(started_ts, id)`, keyset paging, each filter on an index that gives the
order. This module turns what the user typed into the store's query, refusing values
outside the known ones, and writes the rows three ways (page, API, CSV).

A disposition filter takes `genuine` (every kind), `none`, or any well-formed disposition:
`genuine:<kind>` of a kind the configuration lacks finds the calls that carry it (a
kind dropped since, a replayed scenario's). The page's list offers the configured kinds
(`web_ui.core.kinds`), in their order.

Numbers are matched as `siaga calls` matches them: any Indonesian form is normalised to
E.164 with `appliance.numbers` and compared with `caller`; a string that is no number is
compared exactly with `caller_raw`. A prefix search is only done when asked for
(`number_prefix`), on the E.164 prefix `normalise_pattern` gives (`0812` -> `+62812`).

The CSV export streams every matching row in keyset batches of `EXPORT_BATCH` rows,
each batch its own short read, so an export of a million rows never holds a read
transaction (and so the WAL) open for minutes. Text cells that a spreadsheet would read
as a formula (starting `=`, `+`, `-`, `@`, a tab or a carriage return, also after leading
blanks or in their fullwidth forms, U+FF1D and kin) get a leading `'`. It comes in the two
forms every export has (as `/rules.csv` and `/reports.csv`): plain, commas and the column
names, for programs; and (`excel_language`) what Excel opens by double-click on a desk
set to Indonesian: semicolons and headings in the user's language.
"""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from appliance.model import (
    DEFAULT_GENUINE_KINDS,
    GENUINE_PREFIX,
    Action,
    ChallengeResult,
    NumberClass,
    Reason,
    is_genuine,
    is_well_formed_disposition,
)
from appliance.numbers import normalise, normalise_pattern
from appliance.store.call_search import (
    EVERY_GENUINE,
    NO_VERDICT,
    CallCursor,
    CallPage,
    CallQuery,
    iter_calls,
    page_calls,
)
from appliance.store.status import line_statuses
from web_ui.core.i18n import has_message, translate
from web_ui.core.kinds import DEFAULT_CATALOGUE, KindCatalogue
from web_ui.users.service import Language, UserError

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_BATCH = 1000
MAX_NUMBER_INPUT = 64
DEFAULT_REGION = "ID"
NO_DISPOSITION = NO_VERDICT  # the disposition filter's value for "no verdict recorded"
GENUINE_ANY = EVERY_GENUINE  # the disposition filter's value for every `genuine:<kind>`
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
UTF8_BOM = "\ufeff"
EXCEL_SEPARATOR = ";"  # the list separator of Windows set to Indonesian

DECISIONS: tuple[str, ...] = tuple(action.value for action in Action)
REASONS: tuple[str, ...] = tuple(reason.value for reason in Reason)
OTHER_DISPOSITIONS: tuple[str, ...] = ("info", "prank", "ghost", "wrong_number")


def disposition_filters(kinds: Sequence[str], chosen: str = "") -> tuple[str, ...]:
    """The disposition filter's list: every genuine call, each of `kinds`, the others.

    A `chosen` genuine kind outside `kinds` is listed too, so the page shows the filter
    it was asked for.
    """
    genuine = [GENUINE_PREFIX + kind for kind in kinds]
    if is_genuine(chosen) and is_well_formed_disposition(chosen) and chosen not in genuine:
        genuine.append(chosen)
    return (GENUINE_ANY, *genuine, *OTHER_DISPOSITIONS, NO_DISPOSITION)


DISPOSITIONS: tuple[str, ...] = disposition_filters(DEFAULT_GENUINE_KINDS)
CHALLENGE_RESULTS: tuple[str, ...] = tuple(result.value for result in ChallengeResult)

# The columns of the page, the API and the CSV, in this order.
COLUMNS: tuple[str, ...] = (
    "id",
    "started_at",
    "line",
    "caller_raw",
    "caller",
    "number_class",
    "decision",
    "reason",
    "challenge_result",
    "voice_heard",
    "reached_operator",
    "operator",
    "disposition",
    "end_cause",
    "ended_at",
    "time_trusted",
)
_SELECT_COLUMNS = (
    "id, started_ts, line, caller_raw, caller, number_class, decision, reason,"
    " challenge_result, voice_heard, reached_operator, operator, disposition, end_cause,"
    " ended_ts, time_trusted"
)


class CallSearchError(UserError):
    """A filter that cannot be understood (a bad date, number or cursor): 422."""

    def __init__(self, code: str) -> None:
        super().__init__(code, 422)


class Cursor(CallCursor):
    """A position in the log (`appliance.store.call_search.CallCursor`) as a link carries it."""

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """The cursor written by `str()`; `CallSearchError` for anything else."""
        try:
            found = CallCursor.parse(text)
        except ValueError:
            raise CallSearchError("error.bad_cursor") from None
        return cls(found.started_ts, found.id)


@dataclass(frozen=True)
class CallFilters:
    """What the user asked for, as given (the query string of the page, API and CSV)."""

    since: date | None = None
    until: date | None = None  # inclusive: the whole local day
    number: str = ""
    number_prefix: bool = False
    decision: str = ""
    reason: str = ""
    disposition: str = ""
    line: str = ""

    def query(self) -> dict[str, str]:
        """The filters as query-string fields (empty ones left out), for links."""
        fields: dict[str, str] = {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "number": self.number,
            "number_prefix": "1" if self.number_prefix and self.number else "",
            "decision": self.decision,
            "reason": self.reason,
            "disposition": self.disposition,
            "line": self.line,
        }
        return {key: value for key, value in fields.items() if value}


@dataclass(frozen=True)
class NumberMatch:
    """How a number filter is matched: `exact` E.164, E.164 `prefix`, or `raw` text."""

    kind: Literal["exact", "prefix", "raw"]
    value: str


@dataclass(frozen=True)
class Search:
    """The filters as the store's query, and how the number was matched (the page says)."""

    query: CallQuery = field(default_factory=CallQuery)
    number: NumberMatch | None = None


def match_number(text: str, prefix: bool, region: str = DEFAULT_REGION) -> NumberMatch:
    """The number filter for `text` in any Indonesian form (`0812-...`, `62812...`, `+62 812...`).

    A whole number matches exactly on `caller`; with `prefix`, the E.164 prefix; a string
    that is no number at all matches `caller_raw` exactly (as `siaga calls --number`).
    """
    text = text.strip()
    if prefix:
        try:
            return NumberMatch("prefix", normalise_pattern(text, region))
        except ValueError:
            raise CallSearchError("error.bad_number_prefix") from None
    caller = normalise(text, region)
    if caller.number_class is NumberClass.NUMBER and caller.e164 is not None:
        return NumberMatch("exact", caller.e164)
    return NumberMatch("raw", text)


def _local_midnight_ts(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


# Days a filter or a report may name: wide enough for any call log, narrow enough that a day
# after the last one and a month after it still exist (date.max + 1 day would overflow).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)


def parse_day(text: str) -> date:
    """A `YYYY-MM-DD` day from 1970 to 2999; `CallSearchError` (a 422 with the reason)
    for anything else, which the reports turn into their own error."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise CallSearchError("error.bad_date") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CallSearchError("error.date_out_of_range")
    return day


def day_range_ts(since: date | None, until: date | None, zone: ZoneInfo) -> tuple[float, float]:
    """[since local midnight, the midnight after `until`) in POSIX seconds, open ends wide."""
    since_ts = _local_midnight_ts(since, zone) if since else 0.0
    until_ts = _local_midnight_ts(until + timedelta(days=1), zone) if until else 4_102_444_800.0
    return since_ts, until_ts


def _number_fields(match: NumberMatch) -> dict[str, str]:
    field_of = {"exact": "caller", "prefix": "caller_prefix", "raw": "caller_raw"}
    return {field_of[match.kind]: match.value}


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CallSearchError("error.invalid_input")
    return value


def _disposition_choice(value: str) -> str:
    """`genuine`, `none` or any well-formed disposition, configured kind or not."""
    if value in (GENUINE_ANY, NO_DISPOSITION) or is_well_formed_disposition(value):
        return value
    raise CallSearchError("error.invalid_input")


def build_search(filters: CallFilters, zone: ZoneInfo, region: str = DEFAULT_REGION) -> Search:
    """The store's query for `filters`; `CallSearchError` for a value outside the known
    ones."""
    fields: dict[str, Any] = {}
    number: NumberMatch | None = None
    if filters.since or filters.until:
        if filters.since and filters.until and filters.until < filters.since:
            raise CallSearchError("error.bad_range")
        fields["since_ts"], fields["until_ts"] = day_range_ts(filters.since, filters.until, zone)
    if filters.number.strip():
        number = match_number(filters.number, filters.number_prefix, region)
        fields.update(_number_fields(number))
    if filters.decision:
        fields["decision"] = _choice(filters.decision, DECISIONS)
    if filters.reason:
        fields["reason"] = _choice(filters.reason, REASONS)
    if filters.disposition:
        fields["disposition"] = _disposition_choice(filters.disposition)
    if filters.line.strip():
        fields["line"] = filters.line.strip()
    return Search(CallQuery(**fields), number)


def page(
    conn: sqlite3.Connection,
    search: Search,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> CallPage:
    """Up to `limit` calls older than `before` (or newer than `after`), newest first."""
    return page_calls(
        conn, search.query, before=before, after=after, limit=limit, columns=_SELECT_COLUMNS
    )


def known_lines(conn: sqlite3.Connection) -> list[str]:
    """The lines the line service reports on (`line_status`), for the line filter's list."""
    return [str(row["line"]) for row in line_statuses(conn)]


def iter_all(conn: sqlite3.Connection, search: Search) -> Iterator[sqlite3.Row]:
    """Every matching call, newest first, fetched `EXPORT_BATCH` rows at a time."""
    return iter_calls(conn, search.query, columns=_SELECT_COLUMNS, batch=EXPORT_BATCH)


# ------------------------------------------------------------------ one row, three ways


def local_iso(ts: float | None, zone: ZoneInfo) -> str | None:
    """POSIX seconds as ISO 8601 in the site's zone, to the second; None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts), zone).isoformat(timespec="seconds")


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


class CallPublic(BaseModel):
    """One call as the API gives it (times in the site's zone, with their offset)."""

    id: int
    started_at: str
    started_ts: float
    line: str | None
    caller_raw: str | None
    caller: str | None
    number_class: str | None
    decision: str | None
    reason: str | None
    challenge_result: str | None
    voice_heard: bool | None
    reached_operator: bool
    operator: str | None
    disposition: str | None
    end_cause: str | None
    ended_at: str | None
    time_trusted: bool

    @classmethod
    def of(cls, row: sqlite3.Row, zone: ZoneInfo) -> CallPublic:
        """The API's view of a `calls` row selected by this module."""
        return cls(
            id=int(row["id"]),
            started_at=local_iso(row["started_ts"], zone) or "",
            started_ts=float(row["started_ts"]),
            line=row["line"],
            caller_raw=row["caller_raw"],
            caller=row["caller"],
            number_class=row["number_class"],
            decision=row["decision"],
            reason=row["reason"],
            challenge_result=row["challenge_result"],
            voice_heard=_flag(row["voice_heard"]),
            reached_operator=bool(row["reached_operator"]),
            operator=row["operator"],
            disposition=row["disposition"],
            end_cause=row["end_cause"],
            ended_at=local_iso(row["ended_ts"], zone),
            time_trusted=bool(row["time_trusted"]),
        )


class CallPagePublic(BaseModel):
    """`GET /api/calls`: a page of calls and the cursors to pass as `before` / `after`."""

    calls: list[CallPublic]
    older: str | None
    newer: str | None


def label(
    language: Language,
    prefix: str,
    value: str | None,
    kinds: KindCatalogue = DEFAULT_CATALOGUE,
) -> str:
    """A stored machine word in words (`decision.pass` -> "lolos"); unknown words as they are.

    A disposition is named as `kinds` names it (`site.kind_labels`, the catalogue, or a
    kind's slug in words).
    """
    if value is None:
        return ""
    if prefix == "disposition":
        return kinds.disposition_label(value, language)
    key = f"{prefix}.{value.replace(':', '.')}"
    return translate(language, key) if has_message(key) else value


def neutralise(cell: str) -> str:
    """A text cell a spreadsheet will show as text, never evaluate as a formula.

    Judged on the cell as a spreadsheet reads it: NFKC-normalised (the fullwidth signs
    U+FF1D, U+FF0B, U+FF0D, U+FF20 become `=+-@`) and without leading blanks (` =1+1` is
    a formula too).
    """
    seen = unicodedata.normalize("NFKC", cell).lstrip(" \u00a0\u3000")
    risky = seen.startswith(FORMULA_STARTS) or cell.startswith(FORMULA_STARTS)
    return "'" + cell if risky else cell


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return neutralise(str(value))


def csv_headings(excel_language: Language | None = None) -> list[str]:
    """The export's header: the column names, or (Excel's form) the user's words for them."""
    if excel_language is None:
        return list(COLUMNS)
    return [neutralise(translate(excel_language, f"calls.csv.{column}")) for column in COLUMNS]


def csv_lines(
    rows: Iterator[sqlite3.Row], zone: ZoneInfo, *, excel_language: Language | None = None
) -> Iterator[str]:
    """The export as text chunks: a BOM and the header, then `EXPORT_BATCH` calls a chunk;
    with `excel_language`, separated by semicolons under headings in that language.

    Chunks rather than lines: each chunk crosses from the worker thread to the event loop,
    and one crossing per line made a 100,000-row export take 15 s instead of 2 s.
    """
    out = io.StringIO()
    out.write(UTF8_BOM)
    separator = "," if excel_language is None else EXCEL_SEPARATOR
    writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
    writer.writerow(csv_headings(excel_language))
    pending = 0
    for row in rows:
        public = CallPublic.of(row, zone).model_dump()
        writer.writerow([_csv_cell(public[column]) for column in COLUMNS])
        pending += 1
        if pending == EXPORT_BATCH:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            pending = 0
    yield out.getvalue()
