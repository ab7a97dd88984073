"""The dashboard's figures: today's calls, recent alarms, flood mode, the line service, lines.

Everything is read from the database the line service writes (the two processes meet only
there); nothing here writes.

- **Today** is the site's local day (`settings.zone`): calls with `started_ts` from local
  midnight to the next one. The counts are `appliance.report`'s own for that day (the
  same figures as the reports page and `siaga report --period day`): calls, screened (any
  decision other than `pass`), screened by reason (the report's `<action>_<reason>`
  columns added up over the actions), reached an operator, genuine (`valid`). Prank and
  ghost are the centre's categories (`web_ui.reports.categories`: operators' verdicts and
  what Siaga classified itself, as on the reports page), and so is the prank + ghost
  share over every call, the reports page's share. The screened share is screened /
  calls, in percent.
- **Alarms** are the events the line service raises as an ALARM (an `ALARM` log line):
  `alarm` (from `Housekeeping.alarm`: the clock not synchronised, the disk running low;
  `detail.kind` names which), `flood_on` (flood mode entered, or still on after a
  restart), `line_crashed` (a line's task died and was restarted), `supervisor_flag` (a
  number climbed to a flagged step of the abuse ladder), `modem_changed` (a modem with
  another IMEI than configured), `recovery` (a step of a silent line's recovery ladder:
  re-initialise, power cycle, USB reset), `missed_call` (a caller rang while a line
  was initialising and could not answer: the number, to call back), and what a line
  finds about its own ability to see callers (docs/faults.md): `settings_lost` (the
  modem forgot caller ID or key detection in a silent reset; restored), `line_degraded`
  (the modem refuses such a setting; retried), `caller_id_lost` (a call came without a
  number because of it), `call_watchdog` (a call held past a `[watchdog]` limit) and
  `call_left_up` (a call found off-hook at start, released). The dashboard shows
  those of the last 24 hours, newest first. `line_failed`, `line_down` and `flood_off`
  are not alarms: a failing line is followed by `recovery` events, and its state shows in
  the lines table.
- **The line service** is running when its heartbeat (`service_state.heartbeat_ts`,
  written every 10 s) is at most `HEARTBEAT_FRESH_S` old, and its process still exists:
  asked at once when the service recorded this process's PID namespace, else once the
  heartbeat is over `PID_GONE_AFTER_S` old (`web_ui.console.service.service_running`, the
  console's own test). Its flood mode, version and start
  time are those of its `service_state` row; with no fresh heartbeat they are what it
  last reported, and the page says so.
- **Call-backs** are the open entries of the call-back list (`appliance.store.callbacks`:
  callers released without an operator and without a junk verdict): how many, and the
  one whose caller has waited longest since their first release. Operators call them
  back and mark them from the console.
- **Each line's health** is its `line_status` row: state, signal (`AT+CSQ`, 0-31, shown
  with its dBm and a word), network registration (`AT+CREG?`: home, roaming, searching,
  denied, idle, unknown), modem model and IMEI, and the last error. **SIM**: the line
  service does not ask the modem for its SIM's state (no `AT+CPIN?` poll), so there is no
  SIM column; registration stands in for it. A line registered on its home network or
  roaming has a working SIM; `denied` or `idle` may mean a missing, locked or barred SIM,
  or no coverage, and the page says that much and no more. The IMEI names the modem,
  not the SIM.

Speed: every query on `calls` is bounded by a range on `started_ts` and answered from its
index (one local day: a few thousand rows at most, about 4 ms at 2 million rows); alarms
read `events` through its `(kind, ts)` index; call-backs read the open entries through
`callbacks (status, last_ts)`; `line_status` and `service_state` hold a
row per line and one row. A test runs `EXPLAIN QUERY PLAN` on every statement the
dashboard sends.

Refresh: the page reloads itself every `REFRESH_S` seconds with the static script
`/static/refresh.js` (the Content-Security-Policy allows this site's own scripts and no
inline ones). The script waits while the browser tab is hidden and reloads as soon as it
is shown again, so a dashboard left open in a background tab costs the box nothing.

On a province hub's database (`siaga hub`), the dashboard shows every site's calls and
alarms together, or one site's (`site`, one of `appliance.report.sites`, as on the
reports page): today's figures count that site's calls (`appliance.report`'s own `site`),
and the alarms are those its boxes raised (the hub names an event's line
`site/appliance[/line]`, `appliance.report.event_site_prefix`). The line service, flood
mode, the lines and the call-back card are the database's own (a hub has none of them)
and do not change with the site. On a box's database there is no site to choose.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from appliance.report import SCREEN_COLUMNS, event_site_prefix, report
from appliance.store import callbacks
from appliance.store import events as event_store
from appliance.store import status as status_store
from web_ui.console.service import HEARTBEAT_FRESH_S as HEARTBEAT_FRESH_S  # its readers look here
from web_ui.console.service import (
    STATE_TONES,
    degraded_list,
    service_running,
)
from web_ui.core.i18n import format_time, has_message, translate
from web_ui.core.wording import format_count as format_count  # its readers look here
from web_ui.core.wording import format_percent as format_percent  # (the pages' one format)
from web_ui.reports.categories import categorise, junk_share_pct, period_rows
from web_ui.users.service import Language, UserError

ALARM_KINDS: tuple[str, ...] = (
    "alarm",
    "flood_on",
    "line_crashed",
    "supervisor_flag",
    "modem_changed",
    "recovery",
    "missed_call",
    "settings_lost",
    "line_degraded",
    "caller_id_lost",
    "call_watchdog",
    "call_left_up",
)
ALARM_WINDOW_S = 24 * 3600.0
ALARMS_SHOWN = 50
REFRESH_S = 20
ALARM_TEXT_CHARS = 300
SIGNAL_UNKNOWN = 99  # AT+CSQ's "not known or not detectable"
REGISTERED = frozenset({"home", "roaming"})

SignalQuality = Literal["none", "weak", "fair", "good", "excellent", "unknown"]

# ------------------------------------------------------------------ the API's view


class TodayPublic(BaseModel):
    """Today's calls (the site's local day) as `appliance.report` counts them."""

    day: date
    since_at: datetime
    calls: int
    screened: int
    screened_pct: float
    screened_by_reason: dict[str, int]
    reached_operator: int
    genuine: int
    prank: int  # operators' verdicts and Siaga's own classification
    ghost: int
    junk_share_pct: float  # (prank + ghost) / calls, the reports page's share


class ServicePublic(BaseModel):
    """The line service as its `service_state` row describes it."""

    known: bool  # False: the service never wrote its row on this database
    running: bool  # a heartbeat at most `HEARTBEAT_FRESH_S` old
    pid: int | None
    version: str | None
    started_ts: float | None
    started_at: datetime | None
    uptime_s: float | None  # None when it is not running
    heartbeat_ts: float | None
    heartbeat_at: datetime | None
    heartbeat_age_s: float | None


class FloodPublic(BaseModel):
    """Flood mode as the line service last reported it."""

    active: bool
    since_ts: float | None
    since_at: datetime | None
    reason: str | None
    as_last_reported: bool  # the service is not running: this may be out of date


class AlarmPublic(BaseModel):
    """One alarm event; `alarm` is `detail.kind` for a housekeeping `alarm`, else `kind`."""

    id: int
    ts: float
    at: datetime
    kind: str
    alarm: str
    line: str | None
    text: str
    detail: dict[str, Any]


class LineHealthPublic(BaseModel):
    """One line's state and modem health from its `line_status` row."""

    line: str
    state: str
    tone: str
    since_ts: float
    since_at: datetime
    updated_ts: float
    updated_at: datetime
    signal: int | None  # AT+CSQ 0-31; None (or 99) when not known
    signal_dbm: int | None
    signal_quality: SignalQuality
    registration: str | None
    registered: bool | None  # home or roaming; None when never asked
    family: str | None
    model: str | None
    imei: str | None
    last_error: str | None
    degraded: list[str] = []  # no_caller_id, no_key_detection, no_voice_port


class CallbackOldestPublic(BaseModel):
    """The open call-back entry whose caller has waited longest."""

    id: int
    caller: str
    caller_raw: str | None
    line: str | None
    reason: str
    attempts: int
    first_ts: float
    first_at: datetime
    waiting_s: float  # since the caller's first release


class CallbacksPublic(BaseModel):
    """The call-back list at a glance: open entries, and the oldest of them."""

    open_count: int
    oldest: CallbackOldestPublic | None


class DashboardPublic(BaseModel):
    """`GET /api/dashboard`: everything the dashboard shows, times in the site's zone."""

    now_ts: float
    now_at: datetime
    timezone: str
    today: TodayPublic
    service: ServicePublic
    flood: FloodPublic
    alarm_kinds: list[str]
    alarms: list[AlarmPublic]
    lines: list[LineHealthPublic]
    callbacks: CallbacksPublic
    site: str | None = None  # one site of a province hub's database; None: every site
    sites: list[str] = []  # the sites a province hub's database holds (none on a box)


# ------------------------------------------------------------------ reading


def _local(ts: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, zone)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def today_range(now_ts: float, zone: ZoneInfo) -> tuple[date, float, float]:
    """(today, its local midnight, the next local midnight) in the site's zone."""
    day = _local(now_ts, zone).date()
    following = day + timedelta(days=1)
    since = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    until = datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()
    return day, since, until


def _screened_by_reason(figures: dict[str, float]) -> dict[str, int]:
    """The report's `<action>_<reason>` columns added up by reason, largest first."""
    by_reason: dict[str, int] = {}
    for column in SCREEN_COLUMNS:
        count = int(figures[column])
        if count:
            _, _, reason = column.partition("_")
            by_reason[reason] = by_reason.get(reason, 0) + count
    other = int(figures["screened_other"])
    if other:
        by_reason["other"] = by_reason.get("other", 0) + other
    return dict(sorted(by_reason.items(), key=lambda item: (-item[1], item[0])))


def share_pct(part: float, whole: float) -> float:
    """`part` as a percentage of `whole`, to one decimal (0 when `whole` is 0)."""
    return round(100.0 * part / whole, 1) if whole else 0.0


def today_figures(
    conn: sqlite3.Connection,
    now_ts: float,
    zone: ZoneInfo,
    timezone: str,
    site: str | None = None,
) -> TodayPublic:
    """Today's calls, screened (by reason), reached operators, genuine, prank and ghost;
    `site`: one site's calls of a province hub's database."""
    day, since_ts, until_ts = today_range(now_ts, zone)
    figures = report(
        conn, since_ts=since_ts, until_ts=until_ts, period="day", timezone=timezone, site=site
    )
    totals = figures.totals.figures
    counted = period_rows(conn, since_ts, until_ts, "day", zone, site)
    categories = categorise(figures, counted).totals
    calls = int(totals["calls"])
    screened = int(totals["screened"])
    return TodayPublic(
        day=day,
        since_at=_local(since_ts, zone),
        calls=calls,
        screened=screened,
        screened_pct=share_pct(screened, calls),
        screened_by_reason=_screened_by_reason(totals),
        reached_operator=int(totals["reached_operator"]),
        genuine=int(totals["valid"]),
        prank=categories.count("prank"),
        ghost=categories.count("ghost"),
        junk_share_pct=junk_share_pct(categories),
    )


def service_status(conn: sqlite3.Connection, now_ts: float, zone: ZoneInfo) -> ServicePublic:
    """The line service's row; `running` only with a heartbeat younger than 30 s."""
    row = status_store.service_state(conn)
    if row is None:
        return ServicePublic(
            known=False, running=False, pid=None, version=None, started_ts=None,
            started_at=None, uptime_s=None, heartbeat_ts=None, heartbeat_at=None,
            heartbeat_age_s=None,
        )  # fmt: skip
    heartbeat_ts = _optional_float(row["heartbeat_ts"])
    started_ts = _optional_float(row["started_ts"])
    raw_age_s = None if heartbeat_ts is None else now_ts - heartbeat_ts
    # a future heartbeat: its process says
    running = service_running(raw_age_s, row["pid"], row["pid_namespace"])
    age_s = None if raw_age_s is None else max(0.0, raw_age_s)
    return ServicePublic(
        known=True,
        running=running,
        pid=row["pid"],
        version=row["version"],
        started_ts=started_ts,
        started_at=None if started_ts is None else _local(started_ts, zone),
        uptime_s=max(0.0, now_ts - started_ts) if running and started_ts is not None else None,
        heartbeat_ts=heartbeat_ts,
        heartbeat_at=None if heartbeat_ts is None else _local(heartbeat_ts, zone),
        heartbeat_age_s=age_s,
    )


def flood_status(conn: sqlite3.Connection, running: bool, zone: ZoneInfo) -> FloodPublic:
    """Flood mode on or off, since when and why, from `service_state`."""
    row = status_store.service_state(conn)
    active = row is not None and bool(row["flood_active"])
    since_ts = _optional_float(row["flood_since_ts"]) if row is not None and active else None
    return FloodPublic(
        active=active,
        since_ts=since_ts,
        since_at=None if since_ts is None else _local(since_ts, zone),
        reason=row["flood_reason"] if row is not None and active else None,
        as_last_reported=not running,
    )


def _alarm_name(kind: str, detail: dict[str, Any]) -> str:
    named = detail.get("kind")
    return named if kind == "alarm" and isinstance(named, str) and named else kind


def alarm_text(kind: str, detail: dict[str, Any]) -> str:
    """An alarm's detail in one line: the message of an `alarm`, else `key: value` pairs."""
    message = detail.get("message")
    if kind == "alarm" and isinstance(message, str):
        text = message
    else:
        text = "; ".join(f"{key}: {value}" for key, value in detail.items() if value is not None)
    if len(text) > ALARM_TEXT_CHARS:
        return text[: ALARM_TEXT_CHARS - 1] + "\u2026"
    return text


def recent_alarms(
    conn: sqlite3.Connection,
    now_ts: float,
    zone: ZoneInfo,
    limit: int = ALARMS_SHOWN,
    site: str | None = None,
) -> list[AlarmPublic]:
    """Alarm events of the last 24 hours, newest first; `site`: those one site's boxes
    raised, on a province hub's database."""
    rows = event_store.latest_events(
        conn,
        kinds=ALARM_KINDS,
        since_ts=now_ts - ALARM_WINDOW_S,
        line_prefix=event_site_prefix(site),
        limit=limit,
    )
    alarms = []
    for row in rows:
        kind, detail = str(row["kind"]), callbacks.decode_detail(row["detail"])
        alarms.append(
            AlarmPublic(
                id=int(row["id"]),
                ts=float(row["ts"]),
                at=_local(float(row["ts"]), zone),
                kind=kind,
                alarm=_alarm_name(kind, detail),
                line=row["line"],
                text=alarm_text(kind, detail),
                detail=detail,
            )
        )
    return alarms


def signal_quality(csq: int | None) -> SignalQuality:
    """AT+CSQ's 0-31 in words: none (0-1), weak (2-9), fair (10-14), good (15-19), excellent."""
    if csq is None or csq == SIGNAL_UNKNOWN or not 0 <= csq <= 31:
        return "unknown"
    if csq <= 1:
        return "none"
    if csq <= 9:
        return "weak"
    if csq <= 14:
        return "fair"
    return "good" if csq <= 19 else "excellent"


def signal_dbm(csq: int | None) -> int | None:
    """AT+CSQ's 0-31 as dBm (-113 + 2 * CSQ); None when unknown."""
    if csq is None or not 0 <= csq <= 31:
        return None
    return -113 + 2 * csq


def line_health(conn: sqlite3.Connection, zone: ZoneInfo) -> list[LineHealthPublic]:
    """Every line's state and modem health, by line name."""
    lines = []
    for row in status_store.line_statuses(conn):
        state = str(row["state"])
        csq = None if row["signal"] is None else int(row["signal"])
        registration = row["registration"]
        lines.append(
            LineHealthPublic(
                line=str(row["line"]),
                state=state,
                tone=STATE_TONES.get(state, "quiet"),
                since_ts=float(row["since_ts"]),
                since_at=_local(float(row["since_ts"]), zone),
                updated_ts=float(row["updated_ts"]),
                updated_at=_local(float(row["updated_ts"]), zone),
                signal=None if csq == SIGNAL_UNKNOWN else csq,
                signal_dbm=signal_dbm(csq),
                signal_quality=signal_quality(csq),
                registration=registration,
                registered=None if registration is None else registration in REGISTERED,
                family=row["family"],
                model=row["model"],
                imei=row["imei"],
                last_error=row["last_error"],
                degraded=degraded_list(row["degraded"]),
            )
        )
    return lines


def callback_summary(conn: sqlite3.Connection, now_ts: float, zone: ZoneInfo) -> CallbacksPublic:
    """How many call-back entries are open, and the one waiting longest."""
    oldest = callbacks.oldest_open(conn)
    if oldest is None:
        return CallbacksPublic(open_count=0, oldest=None)
    first_ts = float(oldest["first_ts"])
    return CallbacksPublic(
        open_count=callbacks.open_count(conn),
        oldest=CallbackOldestPublic(
            id=int(oldest["id"]),
            caller=str(oldest["caller"]),
            caller_raw=oldest["caller_raw"],
            line=oldest["line"],
            reason=str(oldest["reason"]),
            attempts=int(oldest["attempts"]),
            first_ts=first_ts,
            first_at=_local(first_ts, zone),
            waiting_s=max(0.0, now_ts - first_ts),
        ),
    )


def build(
    conn: sqlite3.Connection,
    *,
    zone: ZoneInfo,
    timezone: str,
    now_ts: float,
    site: str | None = None,
    sites: Sequence[str] = (),
) -> DashboardPublic:
    """Everything the dashboard shows at `now_ts`; on a province hub's database (`sites`,
    as `appliance.report.sites` lists them), today's calls and the alarms of `site` only
    when one is given."""
    service = service_status(conn, now_ts, zone)
    return DashboardPublic(
        now_ts=now_ts,
        now_at=_local(now_ts, zone),
        timezone=timezone,
        today=today_figures(conn, now_ts, zone, timezone, site),
        service=service,
        flood=flood_status(conn, service.running, zone),
        alarm_kinds=list(ALARM_KINDS),
        alarms=recent_alarms(conn, now_ts, zone, site=site),
        lines=line_health(conn, zone),
        callbacks=callback_summary(conn, now_ts, zone),
        site=site,
        sites=list(sites),
    )


def chosen_site(site: str, sites: Sequence[str]) -> str | None:
    """The site asked for (one of a hub's `sites`), or None for every site (blank);
    `UserError` 422 for any other."""
    wanted = site.strip() or None
    if wanted is not None and wanted not in sites:
        raise UserError("error.unknown_site", status=422)
    return wanted


# ------------------------------------------------------------------ words and numbers


def format_duration(seconds: float, language: Language) -> str:
    """A length of time in its two largest units: `3 hari 4 jam`, `2 h 5 min`, `40 s`."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return translate(language, "dashboard.duration_days", days=days, hours=hours)
    if hours:
        return translate(language, "dashboard.duration_hours", hours=hours, minutes=minutes)
    if minutes:
        return translate(language, "dashboard.duration_minutes", minutes=minutes, seconds=secs)
    return translate(language, "dashboard.duration_seconds", seconds=secs)


def alarm_label(language: Language, alarm: str) -> str:
    """An alarm's name in words; an alarm this version has no words for, as it is."""
    key = f"dashboard.alarm.{alarm}"
    return translate(language, key) if has_message(key) else alarm


def reason_label(language: Language, reason: str) -> str:
    """A screening reason in words (`reason.*`); an unknown one, as it is."""
    key = "dashboard.reason_other" if reason == "other" else f"reason.{reason}"
    return translate(language, key) if has_message(key) else reason


def callback_reason_label(language: Language, reason: str) -> str:
    """Why a caller is on the call-back list, in words; an unknown reason, as it is."""
    key = f"callbacks.reason.{reason}"
    return translate(language, key) if has_message(key) else reason


def registration_label(language: Language, registration: str | None) -> str:
    """A line's network registration in words; an unknown value, as it is."""
    if registration is None:
        return translate(language, "dashboard.not_reported")
    key = f"dashboard.registration.{registration}"
    return translate(language, key) if has_message(key) else registration


def state_label(language: Language, state: str) -> str:
    """A line state in words (the console's `state.*`); an unknown one, as it is."""
    key = f"state.{state}"
    return translate(language, key) if has_message(key) else state


def format_day(ts: float, zone: ZoneInfo, language: Language) -> str:
    """The local date of `ts` as the pages write it: `3 Apr 2024`."""
    return " ".join(format_time(ts, zone, language).split()[:3])
