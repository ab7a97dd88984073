"""The store's private plumbing stays private, and rules and events have one writer.

`appliance.store._sqlite` is the store's own: code outside `appliance/store/` (the web UI,
the rest of the appliance) uses the public `appliance.store.db`, `appliance.store.events`
and `appliance.store.rules` instead. This test walks every module of `web_ui/` and
`appliance/` (outside `appliance/store/`) and fails on any import of the private module,
in any spelling (`import appliance.store._sqlite`, `from appliance.store._sqlite import`,
`from appliance.store import _sqlite`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PRIVATE = "appliance.store._sqlite"
CHECKED = (REPO_ROOT / "web_ui", REPO_ROOT / "appliance")
STORE = REPO_ROOT / "appliance" / "store"


def modules_outside_the_store() -> Iterator[Path]:
    """Every Python file under `web_ui/` and `appliance/`, `appliance/store/` left out."""
    for folder in CHECKED:
        for path in sorted(folder.rglob("*.py")):
            if not path.is_relative_to(STORE):
                yield path


def private_imports(source: str) -> list[int]:
    """Line numbers of the imports of `appliance.store._sqlite` in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        if any(name == PRIVATE or name.startswith(PRIVATE + ".") for name in names):
            found.append(node.lineno)
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import appliance.store._sqlite\n",
        "from appliance.store._sqlite import iso_at\n",
        "from appliance.store import _sqlite\n",
        "def f():\n    from appliance.store._sqlite import event_row\n",
    ],
)
def test_every_spelling_of_the_private_import_is_found(source: str) -> None:
    assert private_imports(source)


def test_public_store_imports_are_allowed() -> None:
    source = "from appliance.store.db import iso_at\nfrom appliance.store import add_event\n"
    assert private_imports(source) == []


def test_nothing_outside_the_store_imports_its_private_sqlite_module() -> None:
    modules = list(modules_outside_the_store())
    web_ui = REPO_ROOT / "web_ui"
    assert any(path.is_relative_to(web_ui / "console") for path in modules)  # found the web UI
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in modules
        for line in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"import appliance.store.db (or .events, .rules) instead: {offenders}"


# The tables the web UI keeps for itself (accounts, sessions, login throttling, the audit
# log); every other table is the appliance's, written through `appliance.store`,
# `appliance.settings` or `appliance.web_lines`.
WEB_UI_TABLES = frozenset({"users", "web_sessions", "login_failures", "audit_log"})
SQL_WRITE = re.compile(
    r"\b(?:INSERT(?:\s+OR\s+[A-Z]+)?\s+INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)\b"
)


def tables_written(source: str) -> set[str]:
    """The tables the SQL in `source`'s string constants writes."""
    written: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            written.update(SQL_WRITE.findall(node.value))
    return written


def test_the_write_finder_sees_every_spelling() -> None:
    source = (
        'a = "INSERT OR REPLACE INTO settings (x) VALUES (?)"\n'
        'b = ("UPDATE line_admin SET x = 1")\n'
        'c = "DELETE FROM desk_requests WHERE id = ?"\n'
        'd = "INSERT INTO users (name) VALUES (?)"\n'
        'e = "a word to UPDATE and keep"\n'
    )
    assert tables_written(source) == {"settings", "line_admin", "desk_requests", "users", "and"}


def test_the_web_ui_writes_only_its_own_tables() -> None:
    """Requests, settings, lines, rules, events and call-backs are written by the
    appliance's functions, which the CLI and `siaga sync` use too."""
    offenders = {
        f"{path.relative_to(REPO_ROOT)}: {table}"
        for path in sorted((REPO_ROOT / "web_ui").rglob("*.py"))
        for table in tables_written(path.read_text(encoding="utf-8"))
        if table not in WEB_UI_TABLES and table != "and"  # prose: "UPDATE and ..."
    }
    assert offenders == set(), f"write these through the appliance's store: {sorted(offenders)}"


# A table read: `FROM` or `JOIN` (uppercase, as Siaga writes SQL) and a table name, bare or
# quoted; `FROM a, b AS c` names two. `FROM (SELECT ...)` names none itself: its subquery's
# own FROM does. In an f-string each `{...}` reads as `{}`, so a table named at run time
# (`FROM "{table}"`) is found as `{}`, which is no table of the web UI's.
SQL_READ_START = re.compile(r"\b(?:FROM|JOIN)\s+")
SQL_TABLE = re.compile(r'["`\[]?(\{\}|[A-Za-z_]\w*)["`\]]?(?:\s+(?:AS\s+)?[A-Za-z_]\w*)?')
SQL_LIST_COMMA = re.compile(r"\s*,\s*")


def string_texts(source: str) -> Iterator[str]:
    """Every string constant of `source`; an f-string as one text, each `{...}` as `{}`."""
    in_fstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):  # breadth first: an f-string before its parts
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    in_fstrings.add(id(value))
                    parts.append(value.value)
                else:
                    parts.append("{}")
            yield "".join(parts)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in in_fstrings
        ):
            yield node.value


def tables_read(source: str) -> set[str]:
    """The tables the SQL in `source`'s string constants reads (`FROM` or `JOIN` them)."""
    read: set[str] = set()
    for text in string_texts(source):
        for start in SQL_READ_START.finditer(text):
            position = start.end()
            while (table := SQL_TABLE.match(text, position)) is not None:
                read.add(table.group(1))
                comma = SQL_LIST_COMMA.match(text, table.end())
                if comma is None:
                    break
                position = comma.end()
    return read


def test_the_read_finder_sees_every_spelling() -> None:
    source = (
        'a = "SELECT * FROM line_status ORDER BY line"\n'
        'b = ("SELECT c.id FROM calls AS c"\n'
        '     " LEFT JOIN dispositions d ON d.call_id = c.id")\n'
        'c = "SELECT * FROM (SELECT id FROM desk_requests) WHERE id IN (SELECT x FROM events)"\n'
        "d = f'SELECT count(*) FROM \"{table}\" WHERE kind = {kind!r}'\n"
        'e = "SELECT 1 FROM users u, web_sessions AS s, service_state WHERE a IN (1, 2)"\n'
        'f = f"SELECT {columns} FROM line_admin{where}"\n'
        'g = "a word from the prose, and from more of it"\n'
    )
    assert tables_read(source) == {
        "line_status",
        "calls",
        "dispositions",
        "desk_requests",
        "events",
        "{}",
        "users",
        "web_sessions",
        "service_state",
        "line_admin",
    }


def test_the_web_ui_reads_only_its_own_tables() -> None:
    """The appliance's tables (calls, events, the line service's state, requests, lines,
    settings...) are read through `appliance.store` (and `appliance.settings`,
    `appliance.web_lines`, `appliance.report`), the functions the CLI and the service use:
    one query per fact, wherever it is asked."""
    read = {
        path: tables_read(path.read_text(encoding="utf-8"))
        for path in sorted((REPO_ROOT / "web_ui").rglob("*.py"))
    }
    assert "users" in read[REPO_ROOT / "web_ui" / "users" / "service.py"]  # the finder sees SQL
    offenders = {
        f"{path.relative_to(REPO_ROOT)}: {table}"
        for path, tables in read.items()
        for table in tables
        if table not in WEB_UI_TABLES
    }
    assert offenders == set(), f"read these through the appliance's store: {sorted(offenders)}"
