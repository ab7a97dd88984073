"""Which modem lines are in force: the web UI's lines, else the configuration file's.

One source of truth at a time, for the whole set of lines:

- While the database's `web_lines` table (migration `0020_web_lines`, written by the web
  UI's lines page) holds any line, those rows are the lines in force, in their
  `position` order, and the configuration file's `[[lines]]` are not used: the page
  lists each file entry as overridden (the database wins for a line present in both,
  and a file line missing from the database is not run). The first change on the page
  copies the file's lines into the table, so taking over never drops a line.
- While the table is empty, the file's `[[lines]]` are in force, exactly as before. The
  page keeps its last line while the file has lines (they would come back in force).

Each row is one `LineConfig` (the file's model: the same fields, defaults and checks),
and the set is checked as `Config` checks the file's (unique names, unique ports). The
web UI refuses a bad change before storing it; the line service reads the table with
`read_stored` and, should a row still be bad (a hand-edited database), logs it and
keeps the lines in force (`siaga run` at start: the file's). `siaga run` refuses to
start only when neither the file nor the table has a line.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from appliance.config import ConfigError, LineConfig, parse_config
from appliance.store import open_readonly
from appliance.store.db import iso_at

logger = logging.getLogger(__name__)

LinesSource = Literal["file", "database"]


@dataclass(frozen=True)
class StoredLines:
    """The table as read: its change counter, the good rows in order, and what is wrong
    with the others (`name: problem`); a set with problems is not put in force."""

    version: int
    lines: tuple[LineConfig, ...]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinesInForce:
    """The set of lines to run and where it came from."""

    source: LinesSource
    lines: tuple[LineConfig, ...]


def set_problems(lines: Iterable[LineConfig]) -> list[str]:
    """What `Config` refuses in a set of lines (duplicate names or ports); [] if none."""
    try:
        parse_config({"lines": [line.model_dump(mode="json") for line in lines]}, "lines")
    except ConfigError as exc:
        return [problem.removeprefix("(file): ") for problem in exc.problems]
    return []


def line_from_json(text: str) -> LineConfig:
    """A stored row's `config`; raises ValueError (ValidationError is one) if it is bad."""
    data: Any = json.loads(text)
    return LineConfig.model_validate(data)


def stored_version(conn: sqlite3.Connection) -> int:
    """The change counter of `web_lines` (0 before any change)."""
    found = conn.execute("SELECT version FROM web_lines_version WHERE id = 1").fetchone()
    return int(found[0]) if found else 0


def read_stored(conn: sqlite3.Connection) -> StoredLines:
    """Every row of `web_lines` in order, each checked with `LineConfig`, the set as
    `Config` checks it."""
    version = stored_version(conn)
    rows = conn.execute("SELECT name, config FROM web_lines ORDER BY position, name").fetchall()
    lines: list[LineConfig] = []
    problems: list[str] = []
    for name, text in rows:
        try:
            line = line_from_json(str(text))
        except (ValueError, ValidationError) as exc:
            problems.append(f"{name}: {_short(exc)}")
            continue
        if line.name != name:
            problems.append(f"{name}: the row names line {line.name!r}")
            continue
        lines.append(line)
    problems += set_problems(lines)
    return StoredLines(version, tuple(lines), tuple(problems))


def stored_rows(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    """Every `web_lines` row by name, in order, as stored (`conn` with `sqlite3.Row`)."""
    rows = conn.execute("SELECT * FROM web_lines ORDER BY position, name").fetchall()
    return {str(row["name"]): row for row in rows}


def write_stored(
    conn: sqlite3.Connection, lines: Sequence[LineConfig], touched: set[str], *, by: str,
    ts: float, zone: ZoneInfo,
) -> None:  # fmt: skip
    """Store the set in its order, inside the caller's transaction: lines not in it go,
    the `touched` ones (and new ones) are marked changed by `by` at `ts`, and the others
    keep who last changed them and when."""
    kept = stored_rows(conn)
    conn.execute("DELETE FROM web_lines WHERE name NOT IN (SELECT value FROM json_each(?))",
                 [json.dumps([line.name for line in lines])])  # fmt: skip
    for position, line in enumerate(lines, 1):
        row = kept.get(line.name)
        changed_by, changed_ts = (by, ts) if line.name in touched or row is None else (
            str(row["updated_by"]), float(row["updated_ts"])
        )  # fmt: skip
        conn.execute(
            "INSERT INTO web_lines (name, position, config, updated_ts, updated_at, updated_by)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
            " position = excluded.position, config = excluded.config,"
            " updated_ts = excluded.updated_ts, updated_at = excluded.updated_at,"
            " updated_by = excluded.updated_by",
            [line.name, position, json.dumps(line.model_dump(mode="json")), changed_ts,
             iso_at(changed_ts, zone), changed_by],
        )  # fmt: skip


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'config'}: {error['msg']}"
            for error in exc.errors()
        )
    return str(exc)


def in_force(file_lines: Sequence[LineConfig], stored: StoredLines) -> LinesInForce:
    """The database's lines when it has any, else the file's (the caller has checked
    that `stored` has no problems)."""
    if stored.lines:
        return LinesInForce("database", stored.lines)
    return LinesInForce("file", tuple(file_lines))


def lines_at_start(file_lines: Sequence[LineConfig], db_path: Path) -> LinesInForce:
    """The lines `siaga run` starts with. Fail open: an unreadable database or a bad row
    is logged and the file's lines are used."""
    try:
        conn = open_readonly(db_path)
        try:
            stored = read_stored(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        logger.error("lines from the web UI unreadable, using the file's: %s", exc)
        return LinesInForce("file", tuple(file_lines))
    if stored.problems:
        logger.error(
            "ALARM lines from the web UI refused, using the file's: %s", "; ".join(stored.problems)
        )
        return LinesInForce("file", tuple(file_lines))
    return in_force(file_lines, stored)


def has_stored_lines(db_path: Path) -> bool:
    """True if the database holds lines from the web UI (False if it cannot be read)."""
    if not Path(db_path).exists():
        return False
    try:
        conn = open_readonly(db_path)
        try:
            found = conn.execute("SELECT 1 FROM web_lines LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return found is not None
