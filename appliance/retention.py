"""How long call rows are kept: `database.retention_months`, figures kept for ever.

Call rows carry phone numbers, personal data the centre should not keep longer than it
needs (Indonesia's personal data protection law, UU 27/2022, asks for a stated retention
period). The monthly report must still show every month. So once a month, each local
month older than the retention period is archived: its report figures are stored in
`monthly_figures` and its call rows deleted, in one transaction of the call log's writer
(`CallLog.archive_month`). 0 keeps every row.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, datetime
from zoneinfo import ZoneInfo

from appliance.report import period_bounds

logger = logging.getLogger(__name__)


def keep_from_ts(now_ts: float, months: int, zone: ZoneInfo) -> float:
    """Local midnight on the first day of the oldest month kept whole: the current month
    counts as the first of `months`."""
    today = datetime.fromtimestamp(now_ts, zone).date()
    index = today.year * 12 + today.month - 1 - (months - 1)
    first = date(index // 12, index % 12 + 1, 1)
    return datetime(first.year, first.month, first.day, tzinfo=zone).timestamp()


def months_to_archive(
    conn: sqlite3.Connection, now_ts: float, months: int, zone: ZoneInfo
) -> list[tuple[str, float, float]]:
    """(label, from_ts, to_ts) of each local month with call rows older than the
    retention period, oldest first; none when `months` is 0 (keep everything)."""
    if months <= 0:
        return []
    cutoff = keep_from_ts(now_ts, months, zone)
    oldest = conn.execute("SELECT MIN(started_ts) FROM calls").fetchone()[0]
    if oldest is None or oldest >= cutoff:
        return []
    return list(period_bounds(float(oldest), cutoff, "month", zone))
