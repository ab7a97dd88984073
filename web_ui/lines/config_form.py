"""Lines configured on the lines page: add, edit, remove; no HTTP here.

The source of truth is decided in `appliance/web_lines.py`: while the database's
`web_lines` holds any line, those are the lines in force and the configuration file's
`[[lines]]` are overridden (shown, not used); with none, the file's are in force. This
module writes `web_lines`, each change in one transaction with its audit row
(`lines.add`, `lines.edit`, `lines.remove`, with the line before and after):

- **Taking over**: the first change while the file's lines are in force copies them
  (as the line service last published them in `service_state.base_config`) into the
  table in the same transaction, so a change never drops the file's other lines; the
  audit row names the lines copied.
- **Validation**: each line by `appliance.config.LineConfig` (the file's own model: a
  bad field is refused naming it, and the form keeps what was typed), the set as
  `Config` checks the file's (unique names, unique ports: the field named too).
- **The last line stays**: removing the page's last line is refused while the file has
  lines (they would come back in force); with no lines in the file it is allowed.
- **Names are kept**: a line's name ties its history, its `line_admin` choice and its
  tests together, so an edit cannot rename it (remove it and add another).
- **The line service applies it** within a second (`appliance/line_admin.py`): the
  latest `lines_change` event says which version of the table it put in force and which
  lines still wait for a call to end; a line holding a call is never cut.
- **Port choices** are the stable names the installed udev rules make per physical USB
  slot (`udev/slots.toml`, through `udev/gen_rules.py`): `/dev/siaga/<slot>` for the AT
  port, `/dev/siaga/<slot>-voice` for the voice port, with the slot's USB port for the
  recovery ladder. They are suggestions: any path can be typed.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError

from appliance.config import LineConfig
from appliance.store import events as event_store
from appliance.store import status as status_store
from appliance.web_lines import (
    LinesSource,
    line_from_json,
    read_stored,
    set_problems,
    stored_rows,
    write_stored,
)
from web_ui.core.db import transaction
from web_ui.core.models import ErrorPublic, InputModel
from web_ui.lines.service import LinesError
from web_ui.users import audit
from web_ui.users.audit import Actor

logger = logging.getLogger(__name__)

INSTALLED_RULES = Path("/etc/udev/rules.d/99-siaga-modems.rules")
CHECKOUT_RULES = Path(__file__).resolve().parents[2] / "udev" / "99-siaga-modems.rules"
# LineConfig's fields as the form and the API give them; the checkboxes are booleans.
TEXT_FIELDS: tuple[str, ...] = (
    "name", "port", "family", "voice_port", "desk", "deflect_to", "fail_over_to",
    "fail_over_after_s", "usb_port", "imei", "baudrate", "reject_method", "call_waiting",
)  # fmt: skip
FLAG_FIELDS: tuple[str, ...] = ("rtscts", "listen", "enabled")
FIELDS = TEXT_FIELDS + FLAG_FIELDS
OPTIONAL_FIELDS = frozenset(
    {"voice_port", "desk", "deflect_to", "fail_over_to", "usb_port", "imei"}
)
DEFAULT_WHEN_EMPTY = frozenset({"fail_over_after_s"})  # left empty: the model's default

Applied = Literal["applied", "pending", "waiting", "not_applied", "refused"]


@dataclass(frozen=True)
class Slot:
    """A physical USB slot of the udev rules, with the stable names it gives its modem."""

    line: str
    family: str
    usb_port: str
    port: str
    voice_port: str | None


@dataclass(frozen=True)
class Problem:
    """A refused field (`lines` for the set as a whole) and why, in the model's words."""

    field: str
    message: str


class LineConfigRefusedError(LinesError):
    """A line the model or the set refuses; nothing was stored."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("error.line_config_invalid", status=422)
        self.problems = list(problems)


class LineConfigInput(InputModel):
    """`POST /api/lines` and `PUT /api/lines/{line}`: a line as in `[[lines]]`.

    Loosely typed on purpose: every value is checked by the configuration's own model
    (`LineConfig`), and a refused one is named in `errors` (422). `name` is ignored by
    `PUT` (a line keeps its name).
    """

    name: str = Field(default="", max_length=64)
    port: str = Field(default="", max_length=512)
    family: str = Field(default="auto", max_length=32)
    voice_port: str | None = Field(default=None, max_length=512)
    desk: str | None = Field(default=None, max_length=64)
    deflect_to: str | None = Field(default=None, max_length=32)
    fail_over_to: str | None = Field(default=None, max_length=32)
    fail_over_after_s: int | str = Field(default=30)
    usb_port: str | None = Field(default=None, max_length=64)
    imei: str | None = Field(default=None, max_length=32)
    baudrate: int | str = Field(default=115200)
    reject_method: str = Field(default="hangup", max_length=16)
    call_waiting: str = Field(default="reject", max_length=16)
    rtscts: bool = False
    listen: bool = True
    enabled: bool = True


class LineProblemPublic(BaseModel):
    """One refused field (`lines`: the set, e.g. two lines on one port)."""

    field: str
    msg: str


class LineConfigRefusedPublic(ErrorPublic):
    """A line refused: nothing was stored."""

    errors: list[LineProblemPublic] = []


class ConfiguredLinePublic(BaseModel):
    """A line of the set in force, or of the file's set when it is overridden."""

    config: LineConfig
    origin: LinesSource
    in_force: bool
    file_differs: list[str] | None  # fields where the file's entry says otherwise
    updated_by: str | None = None
    updated_ts: float | None = None


class SlotPublic(BaseModel):
    """A USB slot's stable names (suggestions for `port`, `voice_port`, `usb_port`)."""

    line: str
    family: str
    usb_port: str
    port: str
    voice_port: str | None


class LinesConfigPublic(BaseModel):
    """`GET /api/lines/config`: which set of lines is in force and what the service did.

    `source`: `database` (the lines page's) or `file`. `version`: the change counter of
    the page's table; `applied_version` the one the running line service last put in
    force (null: it has not, or it does not take lines from the page), `applied` says
    which: `applied`, `pending`, `waiting` (lines in `waiting` hold a call), `refused`,
    `not_applied`. `file_known`: false before the line service first ran on this
    database (the file's lines are then unknown here).
    """

    source: LinesSource
    version: int
    applied_version: int | None
    applied: Applied
    waiting: list[str]
    file_known: bool
    lines: list[ConfiguredLinePublic]
    overridden: list[ConfiguredLinePublic]
    slots: list[SlotPublic]


# ------------------------------------------------------------------ port choices

_SLOT_HEAD = re.compile(r"^# (?P<line>\S+): (?P<family>\S+) in USB port (?P<usb>\S+)$")
_SYMLINK = re.compile(r'SYMLINK\+="siaga/(?P<name>[^"]+)"')


def parse_rules(text: str) -> list[Slot]:
    """The slots of a rules file `udev/gen_rules.py` made: one per `# line: family in USB
    port P` block, with the AT and voice names its SYMLINKs give."""
    slots: list[Slot] = []
    head: re.Match[str] | None = None
    names: list[str] = []

    def close() -> None:
        if head is None:
            return
        line = head["line"]
        voice = f"{line}-voice"
        slots.append(
            Slot(
                line=line,
                family=head["family"],
                usb_port=head["usb"],
                port=f"/dev/siaga/{line}",
                voice_port=f"/dev/siaga/{voice}" if voice in names else None,
            )
        )

    for raw in text.splitlines():
        found = _SLOT_HEAD.match(raw.strip())
        if found is not None:
            close()
            head, names = found, []
            continue
        symlink = _SYMLINK.search(raw)
        if symlink is not None and head is not None:
            names.append(symlink["name"])
    close()
    return slots


def read_slots(paths: Sequence[Path] = (INSTALLED_RULES, CHECKOUT_RULES)) -> list[Slot]:
    """The slots of the first rules file found: the installed one (what the box's udev
    really names), else the checkout's (made from `udev/slots.toml`)."""
    for path in paths:
        try:
            return parse_rules(path.read_text(encoding="utf-8"))
        except OSError:
            continue
    return []


# ------------------------------------------------------------------ reading


def file_lines(conn: sqlite3.Connection) -> tuple[list[LineConfig], bool]:
    """The configuration file's lines as the line service last published them, and
    whether it ever did (False: unknown, before the service first ran here)."""
    base = status_store.base_config(conn)
    if base is None:
        return [], False
    try:
        entries = json.loads(base).get("lines") or []
        return [LineConfig.model_validate(entry) for entry in entries], True
    except (ValueError, AttributeError, TypeError):
        logger.warning("service_state.base_config has no readable lines")
        return [], False


def _differs(one: LineConfig, other: LineConfig | None) -> list[str] | None:
    if other is None:
        return None
    mine, theirs = one.model_dump(), other.model_dump()
    return [name for name in mine if mine[name] != theirs[name]]


@dataclass
class _Applied:
    version: int | None = None
    waiting: list[str] = field(default_factory=list)
    refused_version: int | None = None


def _applied_by_service(conn: sqlite3.Connection) -> _Applied:
    """What the running line service last said about the page's lines (its latest
    `lines_change` and `lines_refused` events since it started)."""
    state = status_store.service_state(conn)
    started = None if state is None or state["started_ts"] is None else float(state["started_ts"])
    found = _Applied()
    if started is None:
        return found
    rows = event_store.last_written_events(
        conn, ("lines_change", "lines_refused"), since_ts=started, limit=20
    )
    for row in rows:
        kind, text = row["kind"], row["detail"]
        try:
            detail = json.loads(text or "{}")
        except ValueError:
            continue
        if kind == "lines_refused" and found.refused_version is None:
            found.refused_version = int(detail.get("version") or 0)
        if kind == "lines_change" and found.version is None:
            found.version = int(detail.get("version") or 0)
            found.waiting = [str(name) for name in detail.get("waiting") or []]
    return found


def _applied_word(version: int, applied: _Applied) -> Applied:
    if applied.refused_version == version:
        return "refused"
    if applied.version is None:
        return "not_applied"
    if applied.version != version:
        return "pending"
    return "waiting" if applied.waiting else "applied"


def read_view(conn: sqlite3.Connection, slots: Sequence[Slot] | None = None) -> LinesConfigPublic:
    """The set in force, the file's overridden entries and what the service applied."""
    stored = read_stored(conn)
    rows = stored_rows(conn)
    in_file, file_known = file_lines(conn)
    by_name = {line.name: line for line in in_file}
    source: LinesSource = "database" if rows else "file"
    lines: list[ConfiguredLinePublic] = []
    overridden: list[ConfiguredLinePublic] = []
    if source == "database":
        for line in stored.lines:
            row = rows[line.name]
            lines.append(
                ConfiguredLinePublic(
                    config=line, origin="database", in_force=True,
                    file_differs=_differs(line, by_name.get(line.name)),
                    updated_by=str(row["updated_by"]), updated_ts=float(row["updated_ts"]),
                )
            )  # fmt: skip
        overridden = [
            ConfiguredLinePublic(config=line, origin="file", in_force=False, file_differs=None)
            for line in in_file
        ]
    else:
        lines = [
            ConfiguredLinePublic(config=line, origin="file", in_force=True, file_differs=None)
            for line in in_file
        ]
    applied = _applied_by_service(conn)
    return LinesConfigPublic(
        source=source,
        version=stored.version,
        applied_version=applied.version,
        applied=_applied_word(stored.version, applied),
        waiting=applied.waiting,
        file_known=file_known,
        lines=lines,
        overridden=overridden,
        slots=[SlotPublic(**vars(slot)) for slot in (read_slots() if slots is None else slots)],
    )


def configured(conn: sqlite3.Connection, name: str) -> LineConfig | None:
    """The line `name` of the set in force, or None."""
    view = read_view(conn, slots=())
    return next((entry.config for entry in view.lines if entry.config.name == name), None)


# ------------------------------------------------------------------ validation


def _cleaned(values: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in FIELDS:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, str):
            value = value.strip()
            if value == "" and name in DEFAULT_WHEN_EMPTY:
                continue
            if name in OPTIONAL_FIELDS and value == "":
                value = None
        data[name] = value
    return data


def validate_line(values: Mapping[str, Any]) -> LineConfig:
    """`values` (the form's or the API's) as a `LineConfig`; LineConfigRefusedError
    naming each bad field."""
    try:
        return LineConfig.model_validate(_cleaned(values))
    except ValidationError as exc:
        problems = [
            Problem(
                ".".join(str(part) for part in error["loc"]) or "lines",
                "unknown key" if error["type"] == "extra_forbidden" else error["msg"],
            )
            for error in exc.errors()
        ]
        raise LineConfigRefusedError(problems) from None


def _set_checked(lines: Sequence[LineConfig], changed: LineConfig) -> None:
    """Unique names and ports as `Config` checks them, naming the changed line's field."""
    problems: list[Problem] = []
    for other in lines:
        if other is changed:
            continue
        if other.name == changed.name:
            problems.append(Problem("name", f"line {other.name} already exists"))
        if other.port == changed.port:
            problems.append(Problem("port", f"line {other.name} uses this port"))
    if not problems:
        problems = [Problem("lines", message) for message in set_problems(lines)]
    if problems:
        raise LineConfigRefusedError(problems)


# ------------------------------------------------------------------ changes


def _current_set(conn: sqlite3.Connection) -> tuple[list[LineConfig], list[str]]:
    """The set in force to change, and the file's lines copied in to take over (if any)."""
    rows = stored_rows(conn)
    if rows:
        return [line_from_json(str(row["config"])) for row in rows.values()], []
    in_file, _ = file_lines(conn)
    return in_file, [line.name for line in in_file]


def _audit(
    conn: sqlite3.Connection, actor: Actor, action: str, name: str,
    before: LineConfig | None, after: LineConfig | None, adopted: list[str],
    zone: ZoneInfo, now_ts: float,
) -> None:  # fmt: skip
    after_row: dict[str, Any] | None = after.model_dump(mode="json") if after else None
    if adopted:
        after_row = {**(after_row or {}), "copied_from_file": adopted}
    audit.record(
        conn, actor, action, target=f"line:{name}",
        before=before.model_dump(mode="json") if before else None, after=after_row,
        zone=zone, now_ts=now_ts,
    )  # fmt: skip


def add_line(
    conn: sqlite3.Connection, actor: Actor, values: Mapping[str, Any], zone: ZoneInfo
) -> LineConfig:
    """Add a line at the end of the set in force; refused (422) naming the bad field."""
    line = validate_line(values)
    now_ts = time.time()
    with transaction(conn):
        lines, adopted = _current_set(conn)
        lines.append(line)
        _set_checked(lines, line)
        write_stored(conn, lines, {line.name}, by=actor.name, ts=now_ts, zone=zone)
        _audit(conn, actor, "lines.add", line.name, None, line, adopted, zone, now_ts)
    logger.info("line %s (%s) added by %s", line.name, line.port, actor.name)
    return line


def edit_line(
    conn: sqlite3.Connection,
    actor: Actor,
    name: str,
    values: Mapping[str, Any],
    zone: ZoneInfo,
) -> LineConfig:
    """Replace a line's settings (its name stays); 404 if it is not in force."""
    line = validate_line({**values, "name": name})
    now_ts = time.time()
    with transaction(conn):
        lines, adopted = _current_set(conn)
        index = next((i for i, each in enumerate(lines) if each.name == name), None)
        if index is None:
            raise LinesError("error.line_not_found", status=404)
        before = lines[index]
        if before == line and not adopted:
            return line
        lines[index] = line
        _set_checked(lines, line)
        write_stored(conn, lines, {name}, by=actor.name, ts=now_ts, zone=zone)
        _audit(conn, actor, "lines.edit", name, before, line, adopted, zone, now_ts)
    logger.info("line %s changed by %s", name, actor.name)
    return line


def remove_line(conn: sqlite3.Connection, actor: Actor, name: str, zone: ZoneInfo) -> LineConfig:
    """Take a line out of the set in force (the service stops it once it holds no
    call); 404 if it is not in force. The last line is kept (409) while the
    configuration file has lines: with none on the page, the file's would be back in
    force, which is a change of the file's to make."""
    now_ts = time.time()
    with transaction(conn):
        lines, adopted = _current_set(conn)
        found = next((each for each in lines if each.name == name), None)
        if found is None:
            raise LinesError("error.line_not_found", status=404)
        lines.remove(found)
        if not lines and file_lines(conn)[0]:
            raise LinesError("error.line_last", status=409)
        write_stored(conn, lines, set(), by=actor.name, ts=now_ts, zone=zone)
        _audit(conn, actor, "lines.remove", name, found, None, adopted, zone, now_ts)
    logger.info("line %s removed by %s", name, actor.name)
    return found
