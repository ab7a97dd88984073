"""The operator console: every line live, a waiting caller's history, and one-key actions.

`GET /console` is the page (the home page of operators); `GET /api/console` the snapshot
it shows, and `GET /api/console/events` the same snapshot pushed as Server-Sent Events
whenever the database changes (checked every 250 ms with `PRAGMA data_version` on a
read-only connection), with a comment every 15 s to keep proxies and the session alive.
The actions write `desk_requests` rows for the line service (`web_ui.console.service`); a block is
a rule, for supervisors and technicians only.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from web_ui.auth.sessions import load_session
from web_ui.callbacks.router import POLL_S as CALLBACKS_POLL_S
from web_ui.console import service as console
from web_ui.console.service import (
    BLOCK_DURATIONS_S,
    NOT_ANSWERING_S,
    RECENT_CALL_S,
)
from web_ui.core.app_state import pages_of, streams_of
from web_ui.core.db import connect, connect_readonly
from web_ui.core.deps import (
    SESSION_COOKIE,
    CsrfChecked,
    CurrentUser,
    DbDep,
    RowId,
    SessionDep,
    SettingsDep,
    SupervisorUser,
    actor_for,
)
from web_ui.core.i18n import MESSAGES, translate
from web_ui.core.models import (
    BlockCreate,
    BlockPublic,
    ConsoleCallAction,
    ConsoleSnapshot,
    DeskRequestPublic,
    DispositionCreate,
    ErrorPublic,
)
from web_ui.core.streams import StreamRegistry
from web_ui.core.web_settings import WebSettings
from web_ui.users.service import Language, Role, User

logger = logging.getLogger(__name__)

pages = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
api = APIRouter(
    prefix="/api/console",
    tags=["console"],
    dependencies=[CsrfChecked],
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}},
)

POLL_S = 0.25  # how often the event stream looks for a change
HEARTBEAT_S = 15.0  # a comment at least this often, and a session check that touches it
SESSION_CHECK_S = 2.0  # a read-only look that the session still stands, this often
REFRESH_S = 5.0  # a snapshot is rebuilt this often even without a change (time windows)
# Then the stream ends and the browser reconnects within a second. Short, because uvicorn
# waits for open responses when it is told to stop: an open console delays a restart of
# the web service by at most this long.
STREAM_MAX_S = 55.0
RETRY_MS = 1000  # how soon EventSource reconnects after the stream ends
# Messages the page's script may show, by key prefix (all of them, in the user's language).
SCRIPT_MESSAGE_PREFIXES = (
    "console.",
    "state.",
    "decision.",
    "reason.",
    "number_class.",
    "challenge.",
    "disposition.",
    "request.",
    "result.",
    "rule_kind.",
    "error.",
    "callbacks.",
)


def _script_messages(language: Language) -> dict[str, str]:
    return {
        key: translate(language, key) for key in MESSAGES if key.startswith(SCRIPT_MESSAGE_PREFIXES)
    }


def _snapshot(db: sqlite3.Connection, settings: WebSettings, user: User) -> ConsoleSnapshot:
    return console.snapshot(db, username=user.username, zone=settings.zone, language=user.language)


# ------------------------------------------------------------------ the page


@pages.get("/console")
def console_page(
    request: Request, db: DbDep, settings: SettingsDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The console; its script takes the first snapshot from the page, then listens.

    Its buttons are the configured kinds of genuine call (`web_ui.core.kinds`)."""
    boot = {
        "me": user.username,
        "can_block": user.role.at_least(Role.SUPERVISOR),
        "csrf": session.csrf_token,
        "not_answering_s": NOT_ANSWERING_S,
        "recent_call_s": RECENT_CALL_S,
        "block_durations": list(BLOCK_DURATIONS_S),
        "callbacks_poll_s": CALLBACKS_POLL_S,
        "dispositions": console.choices_public(db, user.language),
        "messages": _script_messages(user.language),
        "snapshot": _snapshot(db, settings, user).model_dump(mode="json"),
    }
    return pages_of(request).render(request, "console.html", {"boot": boot}, session=session)


# ------------------------------------------------------------------ reading


@api.get("", response_model=ConsoleSnapshot)
def api_snapshot(db: DbDep, settings: SettingsDep, user: CurrentUser) -> ConsoleSnapshot:
    """Every line now, and your own requests of the last two minutes with their results."""
    return _snapshot(db, settings, user)


@api.get("/requests/{request_id}", response_model=DeskRequestPublic)
def api_request(
    db: DbDep, settings: SettingsDep, user: CurrentUser, request_id: RowId
) -> DeskRequestPublic:
    """One of your own requests (supervisors: anyone's): `result` is null until the line
    service has carried it out. Another operator's request is not found (404)."""
    row = console.get_request(db, request_id)
    if row is None:
        raise HTTPException(status_code=404)
    if row["operator"] != user.username and not user.role.at_least(Role.SUPERVISOR):
        raise HTTPException(status_code=404)
    return console.request_public(row, settings.zone, time.time())


@dataclass
class _Stream:
    """What one event stream remembers between polls."""

    marker: int | None = None
    body: str | None = None
    built_at: float = 0.0
    sent_at: float = 0.0
    checked_at: float = 0.0


def _stream_snapshot(
    conn: sqlite3.Connection, settings: WebSettings, user: User, state: _Stream, now: float
) -> str | None:
    """The snapshot as JSON when it differs from the last one sent; else None."""
    marker = console.change_marker(conn)
    if marker == state.marker and now - state.built_at < REFRESH_S:
        return None
    state.marker, state.built_at = marker, now
    body = _snapshot(conn, settings, user).model_dump_json()
    if body == state.body:
        return None
    state.body = body
    return body


def _session_alive(settings: WebSettings, token: str | None) -> bool:
    """True while the stream's session lasts (it is touched like any request's)."""
    conn = connect(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        return load_session(conn, settings, token) is not None
    finally:
        conn.close()


def _session_still_there(conn: sqlite3.Connection, session_id: str) -> bool:
    """A read-only look: the session row exists, unexpired, of a user not disabled."""
    row = conn.execute(
        "SELECT 1 FROM web_sessions JOIN users ON users.id = web_sessions.user_id"
        " WHERE web_sessions.id = ? AND users.disabled = 0 AND web_sessions.expires_ts > ?",
        [session_id, time.time()],
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class _Watcher:
    """Who a stream serves, and the slot it holds in the app's `StreamRegistry`."""

    settings: WebSettings
    user: User
    token: str | None
    session_id: str
    stream_id: int
    registry: StreamRegistry


async def _still_allowed(conn: sqlite3.Connection, watcher: _Watcher, state: _Stream) -> bool:
    """Checked every `SESSION_CHECK_S`; the full check (which touches the session) at
    every heartbeat."""
    now = time.monotonic()
    if now - state.checked_at < SESSION_CHECK_S:
        return True
    state.checked_at = now
    return bool(await run_in_threadpool(_session_still_there, conn, watcher.session_id))


async def _events(request: Request, watcher: _Watcher) -> AsyncIterator[str]:
    settings = watcher.settings
    try:
        conn = await run_in_threadpool(
            connect_readonly, settings.db_path, busy_timeout_s=settings.busy_timeout_s
        )
    except BaseException:
        watcher.registry.close(watcher.session_id, watcher.stream_id)
        raise
    state = _Stream(checked_at=time.monotonic())
    started = time.monotonic()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while time.monotonic() - started < STREAM_MAX_S:
            watcher.registry.touch(watcher.session_id, watcher.stream_id)
            if await request.is_disconnected():
                return
            if not await _still_allowed(conn, watcher, state):
                yield "event: logout\ndata: {}\n\n"
                return
            now = time.monotonic()
            body = await run_in_threadpool(
                _stream_snapshot, conn, settings, watcher.user, state, now
            )
            if body is not None:
                state.sent_at = now
                yield f"event: snapshot\ndata: {body}\n\n"
            elif now - state.sent_at >= HEARTBEAT_S:
                if not await run_in_threadpool(_session_alive, settings, watcher.token):
                    yield "event: logout\ndata: {}\n\n"
                    return
                state.sent_at = now
                yield ": heartbeat\n\n"
            await asyncio.sleep(POLL_S)
    finally:
        watcher.registry.close(watcher.session_id, watcher.stream_id)
        await run_in_threadpool(conn.close)


@api.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def api_events(
    request: Request, settings: SettingsDep, user: CurrentUser, session: SessionDep
) -> Response:
    """Server-Sent Events: `snapshot` (the same JSON as `GET /api/console`) on every change,
    a `: heartbeat` comment every 15 s, and `logout` within `SESSION_CHECK_S` of the
    session's end (logout, the user disabled). At most `STREAMS_PER_SESSION` at once per
    session: another is refused with 429."""
    registry = streams_of(request)
    stream_id = registry.open(session.id)
    if stream_id is None:
        message = translate(user.language, "error.too_many_streams")
        return JSONResponse({"detail": "error.too_many_streams", "message": message}, 429)
    watcher = _Watcher(
        settings=settings,
        user=user,
        token=request.cookies.get(SESSION_COOKIE),
        session_id=session.id,
        stream_id=stream_id,
        registry=registry,
    )
    return StreamingResponse(
        _events(request, watcher),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# ------------------------------------------------------------------ actions


def _created(db: sqlite3.Connection, settings: WebSettings, request_id: int) -> JSONResponse:
    row = console.get_request(db, request_id)
    assert row is not None  # just committed
    public = console.request_public(row, settings.zone, time.time())
    return JSONResponse(public.model_dump(mode="json"), status_code=201)


_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorPublic, "description": "the call is not in a state for this"},
    422: {"model": ErrorPublic, "description": "unknown line, bad disposition or input"},
}


@api.post("/answer", status_code=201, response_model=DeskRequestPublic, responses=_ACTION_RESPONSES)
def api_answer(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: CurrentUser,
    session: SessionDep,
    body: ConsoleCallAction,
) -> JSONResponse:
    """Take the call waiting on `line` (a second click while it is pending changes nothing)."""
    actor = actor_for(request, session)
    request_id = console.request_answer(db, actor, body.line, body.call_id, settings.zone)
    return _created(db, settings, request_id)


@api.post(
    "/hang_up", status_code=201, response_model=DeskRequestPublic, responses=_ACTION_RESPONSES
)
def api_hang_up(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: CurrentUser,
    session: SessionDep,
    body: ConsoleCallAction,
) -> JSONResponse:
    """End the connected call on `line`."""
    actor = actor_for(request, session)
    request_id = console.request_hang_up(db, actor, body.line, body.call_id, settings.zone)
    return _created(db, settings, request_id)


@api.post(
    "/disposition",
    status_code=201,
    response_model=DeskRequestPublic,
    responses=_ACTION_RESPONSES,
)
def api_disposition(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: CurrentUser,
    session: SessionDep,
    body: DispositionCreate,
) -> JSONResponse:
    """Record your verdict on the call connected on `line`, or the one that just ended there."""
    actor = actor_for(request, session)
    request_id = console.request_disposition(
        db, actor, body.line, body.call_id, body.disposition, settings.zone
    )
    return _created(db, settings, request_id)


@api.post("/block", status_code=201, response_model=BlockPublic, responses=_ACTION_RESPONSES)
def api_block(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    user: SupervisorUser,
    session: SessionDep,
    body: BlockCreate,
) -> JSONResponse:
    """Challenge this call's number for 24 hours or 7 days (`reason` says `console: ...`).

    200 instead of 201 when a block at least as long is already in force (nothing added).
    """
    outcome = console.block_number(
        db,
        actor_for(request, session),
        body.line,
        body.call_id,
        body.duration,
        settings.zone,
        user.language,
    )
    public = BlockPublic(rule=outcome.rule, created=outcome.created)
    return JSONResponse(public.model_dump(mode="json"), status_code=201 if outcome.created else 200)
