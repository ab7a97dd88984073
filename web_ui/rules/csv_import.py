"""Allow and block rules from a CSV file: a pure parser, for the import's preview and commit.

`parse_rules_csv` never raises and never touches the database: it turns text into rule
drafts (validated as `RuleStore.add` validates, patterns in E.164 as `siaga block add`
stores them) and one error per bad row, each a message catalogue key (`rules_csv.*`) with
its values, so the preview shows it in the user's language. The caller decodes the
upload (UTF-8, `errors="replace"`); a leading BOM is dropped.

Dialects: the comma CSV of programs, and the one Excel saves on a desk set to Indonesian,
whose list separator is the semicolon. The separator is found from the header line (the
one of `,`, `;` or a tab it holds most of, outside quotes; commas on a tie), or from an
Excel `sep=;` first line, which is then skipped. Row numbers stay the file's line numbers.

Columns (the first non-blank line is the header, any order, case-insensitive):
`kind,number,match,action,reason,expires`, or their names on the rules page in either
language (`Jenis;Nomor;Cocok;Tindakan;Alasan;Kedaluwarsa`, as the Excel export writes
them); `kind` and `number` are required, the rest may be left out. A missing header or
unknown/duplicated columns is one error for the file (row 1) and nothing is imported.

**The rules page's own export imports as it is**, in either dialect (`/rules.csv`,
`/rules.csv?dialect=excel`): its `pattern` is `number` and its `expires_at` is `expires`;
its `id`, `created_by` and `created_at` (`Oleh`, `Dibuat` in the Excel form) are read and
set aside: an imported rule is new, made by whoever imports it. A cell the export
neutralised for spreadsheets (`'+62812...`, `'=...`: see `web_ui.calls.service.neutralise`)
loses that leading `'` again. The export's expiry is an exact time to the second with
its offset (`2026-12-31T23:59:59+07:00`) and is imported as that very instant; a rule
whose exact expiry has passed since the export is skipped and counted (`expired`), not
an error. (Removed rules are never in the export: it holds the rules in force.)

- `kind`, `match` and `action` may be written as the rules page names them in either
  language (`Blokir`, `awalan`, `tolak`) as well as in the words below.
- `kind`: allow or block. `match`: exact (default) or prefix. `number`: for exact, a whole
  number in any Indonesian form (`0812-3456-7890`, `62812...`, `+62 812...`); for prefix,
  a partial number (`0812`, `+62812`, `0812*`), as `appliance.numbers.normalise_pattern`.
- `action`: allow: pass (or empty); block: challenge (the default), announce or reject.
- `expires`: read by `appliance.expiry.parse_expiry`, as `siaga block add --expires`:
  empty or `never`/`selamanya` (no expiry), a duration from now (`30m`, `24h`, `7d`,
  `7 hari`, `2 minggu`), or `YYYY-MM-DD` (or `DD/MM/YYYY`, as Excel writes a date in
  Indonesia), a local day in the site's zone: the rule is in force through that day (it
  ends at the next midnight, as the call log's `until` is inclusive). It must be in the
  future.
  An exact time with its offset (`YYYY-MM-DDTHH:MM:SS+07:00`, the export's form; without
  an offset, the site's zone) is that instant; passed, the row is skipped (see above).
- `reason`: free text (at most `MAX_REASON_CHARS`); required for a block without expiry.
- The same kind, match and pattern twice in one file: the second is an error.

Accounting: every non-blank data record gives exactly one draft, one error or one
skipped expired rule (`rows + errors + expired + blank == records` when the header is
good); records past `MAX_ROWS` are errors too, so nothing is silently dropped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from appliance.expiry import MAX_EXPIRY_DAYS, ExpiryError, parse_expiry
from appliance.model import NumberClass
from appliance.numbers import MAX_RAW_CHARS, normalise, normalise_pattern
from appliance.rules import ACTIONS_BY_KIND, MATCH_KINDS, RULE_KINDS
from web_ui.calls.service import neutralise
from web_ui.core.i18n import translate

COLUMNS: tuple[str, ...] = ("kind", "number", "match", "action", "reason", "expires")
REQUIRED_COLUMNS: tuple[str, ...] = ("kind", "number")
MAX_ROWS = 5000
MAX_REASON_CHARS = 200
MAX_CELL_CHARS = 1000  # longer cells are junk; shown shortened in a message
DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")
SEPARATORS: tuple[str, ...] = (",", ";", "\t")
_EXCEL_SEP_LINE = re.compile(r'"?sep=(.)"?\s*', re.IGNORECASE)
# The rules page's names of the columns, in both languages, as headers (`Jenis` = kind).
HEADING_KEYS: dict[str, str] = {
    "kind": "rules.kind",
    "number": "rules.number",
    "match": "rules.match",
    "action": "rules.action",
    "reason": "rules.reason",
    "expires": "rules.expires",
}
# The export's columns that are not the import's: read, then set aside.
EXPORT_ONLY_COLUMNS: tuple[str, ...] = ("id", "created_by", "created_at")
_EXPORT_ONLY_HEADING_KEYS: dict[str, str] = {
    "created_by": "rules.who",
    "created_at": "rules.when",
}
_HEADER_ALIASES: dict[str, str] = {
    "pattern": "number",
    "expires_at": "expires",
    **{
        translate(language, key).lower(): column
        for column, key in (HEADING_KEYS | _EXPORT_ONLY_HEADING_KEYS).items()
        for language in ("id", "en")
    },
}
_KNOWN_COLUMNS = frozenset(COLUMNS + EXPORT_ONLY_COLUMNS)


def _value_words(words: tuple[str, ...], key_of: str) -> dict[str, str]:
    """Each machine word, and its name on the rules page in either language (lower case),
    mapped to the machine word: `Blokir` is `block`, `awalan` is `prefix`."""
    found = {word: word for word in words}
    for word in words:
        for language in ("id", "en"):
            found[translate(language, key_of.format(word)).strip().lower()] = word
    return found


_KIND_WORDS = _value_words(RULE_KINDS, "rules.{}")
_MATCH_WORDS = _value_words(MATCH_KINDS, "rules.match.{}")
_ACTION_WORDS = _value_words(
    tuple(sorted({action for actions in ACTIONS_BY_KIND.values() for action in actions})),
    "decision.{}",
)
_EXACT_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?\S*")
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class RuleDraft:
    """A valid row: what `RuleStore.add` would be given (without who and when)."""

    row: int
    kind: str
    pattern: str
    match: str
    action: str
    reason: str
    expires_ts: float | None


@dataclass(frozen=True)
class RowError:
    """A bad row (or the header, row 1): a message key and the values to fill in."""

    row: int
    key: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RulesImport:
    """The parse: valid drafts, errors, and how many data records there were."""

    rows: tuple[RuleDraft, ...]
    errors: tuple[RowError, ...]
    records: int  # data records after the header, blank ones included
    blank: int  # data records with every cell empty (skipped, not errors)
    header_ok: bool
    expired: tuple[int, ...] = ()  # rows whose exact expiry has passed (skipped)


class _Expired(Exception):
    """The row's rule ended at an exact time that has passed: skipped, not an error."""


class _Bad(Exception):
    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def _shown(text: str) -> str:
    """A cell for a message: one line, at most `_SHOWN_CHARS` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHOWN_CHARS else flat[: _SHOWN_CHARS - 1] + "…"


def _first_line(text: str) -> str:
    """The first non-blank line: the header, or Excel's `sep=` line."""
    return next((line for line in text.splitlines() if line.strip()), "")


def _unquoted(line: str) -> str:
    """`line` without its double-quoted parts (a separator inside quotes is text)."""
    return "".join(part for index, part in enumerate(line.split('"')) if index % 2 == 0)


def detect_separator(text: str) -> tuple[str, str]:
    """(separator, text to parse): from Excel's `sep=X` line, which becomes a blank line
    (row numbers stay), else the one of `SEPARATORS` the header line holds most of."""
    first = _first_line(text)
    declared = _EXCEL_SEP_LINE.fullmatch(first.strip())
    if declared and declared.group(1) in SEPARATORS:
        return declared.group(1), text.replace(first, "", 1)
    header = _unquoted(first)
    counts = {separator: header.count(separator) for separator in SEPARATORS}
    best = max(SEPARATORS, key=lambda separator: counts[separator])  # the first on a tie
    return (best if counts[best] > 0 else ","), text


def _records(text: str, separator: str = ",") -> list[tuple[int, list[str]]]:
    """(first line number, cells) of every CSV record; stops quietly at unreadable input."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=False)
    found: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            found.append((start, cells))
            start = reader.line_num + 1
    except csv.Error:
        # A field past csv's size limit: the rest is one cell; report it as one bad row.
        found.append((start, ["\x00unreadable"]))
    return found


def _header(cells: list[str]) -> tuple[dict[str, int], RowError | None]:
    names = [_HEADER_ALIASES.get(cell.strip().lower(), cell.strip().lower()) for cell in cells]
    if not set(REQUIRED_COLUMNS) <= set(names):
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        return {}, RowError(
            1,
            "rules_csv.header_missing",
            {"missing": ", ".join(missing), "columns": ",".join(COLUMNS)},
        )
    unknown = [_shown(name) or '""' for name in names if name not in _KNOWN_COLUMNS]
    duplicated = sorted(
        {name for name in names if names.count(name) > 1 and name in _KNOWN_COLUMNS}
    )
    if unknown or duplicated:
        return {}, RowError(
            1,
            "rules_csv.header_unknown",
            {
                "unknown": ", ".join(unknown + duplicated),
                "columns": ",".join(COLUMNS),
            },
        )
    return {name: index for index, name in enumerate(names) if name in COLUMNS}, None


def _unneutralised(cell: str) -> str:
    """`cell` without the `'` the export put before a formula-looking text."""
    if cell.startswith("'") and neutralise(cell[1:]) == cell:
        return cell[1:]
    return cell


def _exact_expiry(text: str, now_ts: float, zone: ZoneInfo) -> float | None:
    """The instant of an exact time (the export's form), None if `text` is not one;
    `_Expired` when it has passed."""
    if not _EXACT_TIME.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad("rules_csv.bad_expires", value=_shown(text)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    expires_ts = moment.timestamp()
    if expires_ts <= now_ts:
        raise _Expired
    if expires_ts > now_ts + MAX_EXPIRY_DAYS * 86_400.0:
        raise _Bad("rules_csv.bad_expires", value=_shown(text))
    return expires_ts


def _expiry(text: str, now_ts: float, zone: ZoneInfo) -> float | None:
    exact = _exact_expiry(text.strip(), now_ts, zone)
    if exact is not None:
        return exact
    try:
        return parse_expiry(text, now_ts, zone)
    except ExpiryError as refused:
        key = "rules_csv.expires_past" if refused.problem == "past" else "rules_csv.bad_expires"
        raise _Bad(key, value=_shown(text)) from None


def _pattern(number: str, match: str, region: str) -> str:
    if not number.strip():
        raise _Bad("rules_csv.number_missing")
    if len(number) > MAX_RAW_CHARS:
        raise _Bad("rules_csv.bad_number", value=_shown(number))
    if match == "exact":
        found = normalise(number, region)
        if found.number_class is not NumberClass.NUMBER or found.e164 is None:
            raise _Bad("rules_csv.bad_number", value=_shown(number))
        return found.e164
    try:
        return normalise_pattern(number, region)
    except ValueError:
        raise _Bad("rules_csv.bad_prefix", value=_shown(number)) from None


def _draft(
    row: int, cell: dict[str, str], *, region: str, now_ts: float, zone: ZoneInfo
) -> RuleDraft:
    kind = _KIND_WORDS.get(cell["kind"].strip().lower(), "")
    if kind not in RULE_KINDS:
        raise _Bad("rules_csv.bad_kind", value=_shown(cell["kind"]))
    match = _MATCH_WORDS.get(cell["match"].strip().lower() or "exact", "")
    if match not in MATCH_KINDS:
        raise _Bad("rules_csv.bad_match", value=_shown(cell["match"]))
    pattern = _pattern(cell["number"], match, region)
    allowed = ACTIONS_BY_KIND[kind]
    written = cell["action"].strip().lower()
    action = _ACTION_WORDS.get(written, written) if written else allowed[0]
    if action not in allowed:
        key = "rules_csv.bad_action_allow" if kind == "allow" else "rules_csv.bad_action_block"
        raise _Bad(key, value=_shown(cell["action"]))
    reason = " ".join(cell["reason"].split())
    if len(reason) > MAX_REASON_CHARS:
        raise _Bad("rules_csv.reason_long", max=str(MAX_REASON_CHARS))
    expires_ts = _expiry(cell["expires"], now_ts, zone)
    if kind == "block" and expires_ts is None and not reason:
        raise _Bad("rules_csv.reason_required")
    return RuleDraft(row, kind, pattern, match, action, reason, expires_ts)


def parse_rules_csv(
    text: str, *, region: str, now_ts: float, zone: ZoneInfo = DEFAULT_ZONE
) -> RulesImport:
    """Rule drafts and row errors from CSV text; never raises (see the module docstring)."""
    separator, text = detect_separator(text.removeprefix("\ufeff"))
    records = _records(text, separator)
    while records and not any(cell.strip() for cell in records[0][1]):
        records.pop(0)  # blank lines before the header
    if not records:
        error = RowError(1, "rules_csv.header_missing", {"missing": "kind, number"})
        error.values["columns"] = ",".join(COLUMNS)
        return RulesImport((), (error,), 0, 0, header_ok=False)
    header_row, header_cells = records[0]
    columns, header_error = _header(header_cells)
    data = records[1:]
    if header_error is not None:
        moved = RowError(header_row, header_error.key, header_error.values)
        return RulesImport((), (moved,), len(data), 0, header_ok=False)
    drafts: list[RuleDraft] = []
    errors: list[RowError] = []
    expired: list[int] = []
    seen: dict[tuple[str, str, str], int] = {}
    blank = 0
    for row, cells in data:
        if not any(cell.strip() for cell in cells):
            blank += 1
            continue
        if len(drafts) + len(errors) + len(expired) >= MAX_ROWS:
            errors.append(RowError(row, "rules_csv.too_many_rows", {"max": str(MAX_ROWS)}))
            continue
        if len(cells) > len(header_cells) or any(len(cell) > MAX_CELL_CHARS for cell in cells):
            errors.append(RowError(row, "rules_csv.bad_cells", {"count": str(len(header_cells))}))
            continue
        cell = {
            name: _unneutralised(cells[index]) if index < len(cells) else ""
            for name, index in columns.items()
        }
        for name in COLUMNS:
            cell.setdefault(name, "")
        try:
            draft = _draft(row, cell, region=region, now_ts=now_ts, zone=zone)
        except _Bad as bad:
            errors.append(RowError(row, bad.key, bad.values))
            continue
        except _Expired:
            expired.append(row)
            continue
        except Exception:  # never raise on any input: a surprise is this row's error
            errors.append(RowError(row, "rules_csv.bad_row"))
            continue
        key = (draft.kind, draft.match, draft.pattern)
        if key in seen:
            errors.append(RowError(row, "rules_csv.duplicate", {"other": str(seen[key])}))
            continue
        seen[key] = row
        drafts.append(draft)
    return RulesImport(
        tuple(drafts), tuple(errors), len(data), blank, header_ok=True, expired=tuple(expired)
    )


def parse_rule_fields(
    fields: dict[str, str], *, region: str, now_ts: float, zone: ZoneInfo = DEFAULT_ZONE
) -> RuleDraft | RowError:
    """One rule from the add form or the API (the CSV's columns as keys); never raises."""
    cell = {name: str(fields.get(name) or "")[:MAX_CELL_CHARS] for name in COLUMNS}
    try:
        return _draft(1, cell, region=region, now_ts=now_ts, zone=zone)
    except _Bad as bad:
        return RowError(1, bad.key, bad.values)
    except _Expired:
        return RowError(1, "rules_csv.expires_past", {"value": _shown(cell["expires"])})
    except Exception:
        return RowError(1, "rules_csv.bad_row")
