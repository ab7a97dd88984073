"""The call-back list's JSON API: read the open entries, mark one done or unreachable.

`GET /api/callbacks` gives the open entries newest first (number, times, line, reason and
what the line heard, in the user's language too, with the caller's calls of the last 30
days and their last verdict), and how many are open in all. The operator console shows
it and polls it every `POLL_S` seconds (`/static/console.js`); the dashboard shows the
count and the oldest entry (`web_ui.home.service`).

`POST /api/callbacks/{callback_id}` with `{"status": "done" | "unreachable", "note": ...}`
marks an open entry, in one write transaction with its audit row (`callback.done`,
`callback.unreachable`: who, the entry before and after), as every change the web
process makes. Operators, supervisors and technicians may mark. An entry is marked once:
marking one that is no longer open is refused with 409 (`error.callback_not_open`), an
unknown id with 404.

After a flood, `GET /api/callbacks` also says how many open entries the flood left
(`flood_entries`), and a supervisor or technician may dismiss them together with
`POST /api/callbacks/flood/dismiss` (`{"started_ts": ..., "ended_ts": ...}`, the flood the
page showed; 409 when another flood has ended since): every entry first listed during
the flood is closed as `dismissed` in one transaction with one audit row
(`callback.flood_dismissed`, the flood and every entry), except entries whose caller has
ever had a genuine verdict, which stay open.

The line service lists the entries (`CallLog.add_callback`); the store's side is
`appliance.store.callbacks`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from appliance.store import callbacks
from appliance.store.db import iso_at
from web_ui.core.db import transaction
from web_ui.core.deps import (
    CsrfChecked,
    CurrentUser,
    DbDep,
    RowId,
    SessionDep,
    SettingsDep,
    SupervisorUser,
    actor_for,
)
from web_ui.core.i18n import format_time, has_message, translate
from web_ui.core.models import ErrorPublic, InputModel
from web_ui.core.wording import flood_reason_words
from web_ui.home.service import flood_status
from web_ui.users import audit
from web_ui.users.audit import Actor
from web_ui.users.service import Language, Role, User, UserError

logger = logging.getLogger(__name__)

# No page of its own: the list is a part of the console (`/console`).
pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/callbacks",
    tags=["callbacks"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

POLL_S = 5.0  # how often the console asks for the list (and at once after a mark)
MAX_LIMIT = 500
HEARD_TEXT_CHARS = 300
# Keys of an entry's detail that `heard_text` puts in words; others are shown as they are.
_HEARD_KEYS = ("voice_heard", "keys", "listened_s", "rings")

CallbackStatus = Literal["open", "done", "unreachable", "dismissed"]


# ------------------------------------------------------------------ models


class CallbackMark(InputModel):
    """`POST /api/callbacks/{callback_id}`: how the call-back went, and an optional note."""

    status: Literal["done", "unreachable"]
    note: str = Field(default="", max_length=callbacks.NOTE_MAX_CHARS)


class CallbackPublic(BaseModel):
    """One entry of the call-back list; `*_text` fields are in the user's language."""

    id: int
    caller: str = Field(description="E.164: the number to call back")
    caller_raw: str | None = Field(description="the caller ID as the modem gave it")
    line: str | None
    call_id: int | None = Field(description="the latest call behind the entry, if any")
    reason: str = Field(examples=list(callbacks.CALLBACK_REASONS))
    reason_text: str
    detail: dict[str, Any] = Field(description="what the line heard, as it recorded it")
    heard_text: str
    first_ts: float
    first_at: datetime
    first_text: str
    last_ts: float
    last_at: datetime
    last_text: str
    attempts: int = Field(description="how many releases this entry stands for")
    calls_30d: int | None = Field(
        description="the caller's calls of the last 30 days (null in a mark's answer)"
    )
    last_disposition: str | None = Field(
        description="the latest verdict on the caller's calls (null in a mark's answer)"
    )
    history_text: str
    status: CallbackStatus
    status_ts: float | None
    status_at: datetime | None
    status_by: str | None
    note: str | None


class FloodEntriesPublic(BaseModel):
    """The open entries the last flood left (none while a flood is on)."""

    started_ts: float
    ended_ts: float
    started_text: str
    ended_text: str
    dismissable: int = Field(description="entries a dismissal would close")
    kept: int = Field(
        description="entries it keeps open: callers with a genuine verdict, callers who"
        " tried more than once, numbers outside the flood's blocks"
    )
    may_dismiss: bool = Field(description="whether this user may dismiss them")
    text: str


class CallbackListPublic(BaseModel):
    """`GET /api/callbacks`: the open entries, newest first, and how many are open."""

    now_ts: float
    open_count: int
    entries: list[CallbackPublic]
    # While flood mode is on, call-backs wait (docs/web-ui.md, "The call-back list").
    flood_active: bool = False
    # Why flood mode is on, in the viewer's language ("" while it is off).
    flood_reason: str = ""
    flood_entries: FloodEntriesPublic | None = None


class FloodDismissal(InputModel):
    """`POST /api/callbacks/flood/dismiss`: the flood the page showed."""

    started_ts: float = Field(allow_inf_nan=False)
    ended_ts: float = Field(allow_inf_nan=False)


class FloodDismissedPublic(BaseModel):
    dismissed: int
    kept: int
    text: str


# ------------------------------------------------------------------ words


def reason_text(language: Language, reason: str) -> str:
    """A reason in words; a reason this version has no words for, as it is."""
    key = f"callbacks.reason.{reason}"
    return translate(language, key) if has_message(key) else reason


def _number(value: float, language: Language) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", ",") if language == "id" else text


def _heard_parts(detail: dict[str, Any], language: Language) -> list[str]:
    parts: list[str] = []
    voice = detail.get("voice_heard")
    if isinstance(voice, bool):
        parts.append(
            translate(language, "callbacks.heard.voice" if voice else "callbacks.heard.no_voice")
        )
    keys = detail.get("keys")
    if isinstance(keys, str):
        parts.append(
            translate(language, "callbacks.heard.keys", keys=keys)
            if keys
            else translate(language, "callbacks.heard.no_keys")
        )
    listened = detail.get("listened_s")
    if isinstance(listened, int | float) and not isinstance(listened, bool):
        seconds = _number(float(listened), language)
        parts.append(translate(language, "callbacks.heard.listened", seconds=seconds))
    rings = detail.get("rings")
    if isinstance(rings, int) and not isinstance(rings, bool):
        parts.append(translate(language, "callbacks.heard.rings", count=rings))
    return parts


def heard_text(detail: dict[str, Any], language: Language) -> str:
    """What the line heard, in words: `no voice; no key pressed; listened for 12 s`."""
    parts = _heard_parts(detail, language)
    parts += [
        f"{key}: {value}"
        for key, value in detail.items()
        if key not in _HEARD_KEYS and value is not None
    ]
    text = "; ".join(parts) or translate(language, "callbacks.heard.nothing")
    if len(text) > HEARD_TEXT_CHARS:
        return text[: HEARD_TEXT_CHARS - 1] + "\u2026"
    return text


def _disposition_label(language: Language, disposition: str) -> str:
    key = "disposition." + disposition.replace(":", ".")
    return translate(language, key) if has_message(key) else disposition


def history_text(language: Language, calls_30d: int | None, last: str | None) -> str:
    """The caller's past: `3 calls in 30 days; last verdict: Prank` (empty when unknown)."""
    parts = []
    if calls_30d is not None:
        parts.append(translate(language, "callbacks.calls_30d", count=calls_30d))
    if last:
        label = _disposition_label(language, last)
        parts.append(translate(language, "callbacks.last_verdict", disposition=label))
    return "; ".join(parts)


def _local(ts: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, zone)


def callback_public(entry: dict[str, Any], zone: ZoneInfo, language: Language) -> CallbackPublic:
    """An entry as the API shows it (from `appliance.store.callbacks`)."""
    first_ts, last_ts = float(entry["first_ts"]), float(entry["last_ts"])
    status_ts = entry["status_ts"]
    calls_30d = entry.get("calls_30d")
    last_disposition = entry.get("last_disposition")
    detail = entry["detail"]
    return CallbackPublic(
        id=int(entry["id"]),
        caller=str(entry["caller"]),
        caller_raw=entry["caller_raw"],
        line=entry["line"],
        call_id=entry["call_id"],
        reason=str(entry["reason"]),
        reason_text=reason_text(language, str(entry["reason"])),
        detail=detail,
        heard_text=heard_text(detail, language),
        first_ts=first_ts,
        first_at=_local(first_ts, zone),
        first_text=format_time(first_ts, zone, language),
        last_ts=last_ts,
        last_at=_local(last_ts, zone),
        last_text=format_time(last_ts, zone, language),
        attempts=int(entry["attempts"]),
        calls_30d=None if calls_30d is None else int(calls_30d),
        last_disposition=last_disposition,
        history_text=history_text(language, calls_30d, last_disposition),
        status=entry["status"],
        status_ts=status_ts,
        status_at=None if status_ts is None else _local(float(status_ts), zone),
        status_by=entry["status_by"],
        note=entry["note"],
    )


# ------------------------------------------------------------------ marking


def _audited(entry: dict[str, Any]) -> dict[str, Any]:
    """What the audit row keeps of an entry."""
    kept = ("caller", "caller_raw", "line", "call_id", "reason", "attempts", "status")
    return {key: entry[key] for key in (*kept, "status_by", "note") if key in entry}


def mark(
    conn: sqlite3.Connection,
    actor: Actor,
    callback_id: int,
    status: str,
    note: str,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """Mark an open entry and write its audit row, in one transaction; the entry after."""
    now_ts = time.time()
    try:
        with transaction(conn):
            marked = callbacks.mark_callback(
                conn, callback_id, status, by=actor.name, note=note, ts=now_ts, zone=zone
            )
            audit.record(
                conn,
                actor,
                f"callback.{status}",
                target=f"callback:{callback_id}",
                before=_audited(marked.before),
                after=_audited(marked.after),
                zone=zone,
                now_ts=now_ts,
            )
    except callbacks.CallbackNotFoundError:
        raise UserError("error.callback_not_found", status=404) from None
    except callbacks.CallbackNotOpenError as refused:
        logger.info("mark by %s refused: %s", actor.name, refused)
        raise UserError("error.callback_not_open", status=409) from None
    logger.info(
        "call-back %d (%s) marked %s by %s", callback_id, marked.after["caller"], status, actor.name
    )
    return marked.after


# ------------------------------------------------------------------ routes


@api.get("", response_model=CallbackListPublic, responses={422: {"model": ErrorPublic}})
def api_callbacks(
    db: DbDep,
    settings: SettingsDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = callbacks.OPEN_LIST_LIMIT,
) -> CallbackListPublic:
    """The open call-back entries, newest release first (at most `limit`), and their count."""
    now_ts = time.time()
    entries = callbacks.open_callbacks(db, now_ts=now_ts, limit=limit)
    flood = flood_status(db, running=True, zone=settings.zone)
    return CallbackListPublic(
        now_ts=now_ts,
        open_count=callbacks.open_count(db),
        entries=[callback_public(entry, settings.zone, user.language) for entry in entries],
        flood_active=flood.active,
        flood_reason=_flood_reason_text(flood.reason, user.language) if flood.active else "",
        flood_entries=None if flood.active else _flood_entries(db, settings.zone, user),
    )


def _flood_entries(db: sqlite3.Connection, zone: ZoneInfo, user: User) -> FloodEntriesPublic | None:
    flood = callbacks.last_ended_flood(db)
    if flood is None:
        return None
    dismissable, kept = callbacks.flood_entries(db, flood)
    if not dismissable:
        return None
    language = user.language
    started = format_time(flood.started_ts, zone, language)
    ended = format_time(flood.ended_ts, zone, language)
    return FloodEntriesPublic(
        started_ts=flood.started_ts,
        ended_ts=flood.ended_ts,
        started_text=started,
        ended_text=ended,
        dismissable=dismissable,
        kept=kept,
        may_dismiss=user.role.at_least(Role.SUPERVISOR),
        text=translate(
            language,
            "callbacks.flood_left",
            count=dismissable,
            kept=kept,
            started=started,
            ended=ended,
        ),
    )


def _flood_reason_text(raw: str | None, language: Language) -> str:
    return flood_reason_words(raw, language) or translate(language, "callbacks.flood_no_reason")


@api.post(
    "/{callback_id}",
    response_model=CallbackPublic,
    responses={
        404: {"model": ErrorPublic, "description": "no such call-back entry"},
        409: {"model": ErrorPublic, "description": "the entry is marked already"},
        422: {"model": ErrorPublic, "description": "bad id, status or note"},
    },
)
def api_mark(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: CurrentUser,
    session: SessionDep,
    callback_id: RowId,
    body: CallbackMark,
) -> CallbackPublic:
    """Mark an open entry `done` (called back) or `unreachable`, with an optional note.

    The entry leaves the open list; the caller's next release opens a new one.
    """
    entry = mark(
        db, actor_for(request, session), callback_id, body.status, body.note, settings.zone
    )
    return callback_public(entry, settings.zone, user.language)


@api.post(
    "/flood/dismiss",
    response_model=FloodDismissedPublic,
    responses={
        409: {"model": ErrorPublic, "description": "another flood has ended since"},
        422: {"model": ErrorPublic, "description": "bad times"},
    },
)
def api_dismiss_flood(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    body: FloodDismissal,
) -> FloodDismissedPublic:
    """Dismiss the open entries the last flood left, except those a person may be behind
    (`appliance.store.callbacks.flood_list`).

    `started_ts` and `ended_ts` name the flood the page showed: if another flood has
    ended since, nothing changes and the answer is 409.
    """
    actor = actor_for(request, session)
    now_ts = time.time()
    with transaction(db):
        flood = callbacks.last_ended_flood(db)
        if flood is None or (flood.started_ts, flood.ended_ts) != (body.started_ts, body.ended_ts):
            raise UserError("error.flood_changed", status=409)
        split = callbacks.dismiss_flood_entries(
            db, flood, by=actor.name, ts=now_ts, zone=settings.zone
        )
        dismissed, kept = split.dismissable, len(split.kept)
        audit.record(
            db,
            actor,
            "callback.flood_dismissed",
            target=f"flood:{iso_at(flood.started_ts, settings.zone)}",
            before={"entries": [_audited(entry) for entry in dismissed]},
            after={"dismissed": len(dismissed), "kept": kept, "ended_ts": flood.ended_ts},
            zone=settings.zone,
            now_ts=now_ts,
        )
    logger.info("%s dismissed %d call-back(s) left by a flood", actor.name, len(dismissed))
    text = translate(user.language, "callbacks.flood_dismissed", count=len(dismissed), kept=kept)
    return FloodDismissedPublic(dismissed=len(dismissed), kept=kept, text=text)
