"""The line service's background duties: the clock, the disk, retention, the reports'
per-day figures, SMS and alarms.

Each runs on its own timer beside the lines and never touches a call: a failure here is
logged and retried, never raised into the service. Alarms all pass through `alarm()`: one
ALARM log line (journald), one `alarm` event in the call log (the web UI's dashboard),
and, when configured, an SMS to the supervisors.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from appliance.clock import Clock
from appliance.config import Config
from appliance.line import Line
from appliance.report import month_figures
from appliance.retention import months_to_archive
from appliance.sms import SmsDispatcher
from appliance.store import CallLog, open_readonly, rollup
from appliance.timesync import ClockWatch

logger = logging.getLogger(__name__)

CLOCK_CHECK_S = 60.0
DISK_CHECK_S = 600.0
RETENTION_CHECK_S = 6 * 3600.0
# The days before today whose calls changed (a late verdict, yesterday once the day is
# over) get their per-day report figures recomputed this often, so a reader that cannot
# write (`siaga report`, a read-only connection) seldom finds a day to count from its rows.
ROLLUP_REFRESH_S = 3600.0
DISK_LOW_FRACTION = 0.05  # free space below 5 % ...
DISK_LOW_BYTES = 200 * 1024 * 1024  # ... or below 200 MB raises the alarm
NETWORK_TIME_TOLERANCE_S = 120.0  # the system clock agrees with the network's this closely
NETWORK_TIME_FRESH_S = 3600.0  # a line's network time is this fresh to count


class Housekeeping:
    """Clock trust, disk space, retention and SMS for one line service."""

    def __init__(
        self,
        config: Config,
        *,
        lines: Mapping[str, Line],
        call_log: CallLog,
        clock: Clock,
        clock_probe: Callable[[], bool | None] | None = None,
    ) -> None:
        self.config = config
        self._call_log = call_log
        self._clock = clock
        self._zone = ZoneInfo(config.site.timezone)
        self.sms = SmsDispatcher(
            config.sms, lines=lines, call_log=call_log, clock=clock, region=config.site.region
        )
        # No probe (simulation, tests): a virtual clock has no kernel state to ask about.
        self._kernel_probe = clock_probe
        self._lines = lines
        self.clock_watch = (
            ClockWatch(probe=self._clock_trusted) if clock_probe is not None else None
        )
        self._disk_low = False

    def reconfigure(self, config: Config) -> None:
        """New settings (the web UI): SMS and retention follow them."""
        self.config = config
        self.sms.reconfigure(config.sms)

    def _clock_trusted(self) -> bool | None:
        """NTP first; without it, the network's time (AT+CCLK? on the lines): a box with
        no internet still knows its clock is right when the network agrees with it, and
        knows it is wrong when the network disagrees."""
        kernel = self._kernel_probe() if self._kernel_probe is not None else None
        if kernel:
            return True
        network = self._network_clock_agrees()
        return network if network is not None else kernel

    def _network_clock_agrees(self) -> bool | None:
        now_ts = self._clock.timestamp()
        offsets = [
            line.health.network_clock_offset_s
            for line in self._lines.values()
            if line.health.network_clock_offset_s is not None
            and line.health.network_clock_at_ts is not None
            and now_ts - line.health.network_clock_at_ts < NETWORK_TIME_FRESH_S
        ]
        if not offsets:
            return None
        return any(abs(offset) <= NETWORK_TIME_TOLERANCE_S for offset in offsets)

    # ------------------------------------------------------------------ alarms

    def alarm(self, kind: str, message: str) -> None:
        """Raise an alarm: the log, an event, and an SMS to the supervisors if configured."""
        now_ts = self._clock.timestamp()
        logger.warning("ALARM %s: %s", kind, message)
        self._call_log.add_event("alarm", detail={"kind": kind, "message": message}, ts=now_ts)
        self.sms.alarm(kind, message, now_ts)

    def text_supervisors(self, kind: str, message: str, *, about: str = "") -> None:
        """An alarm the service already logged and stored: the SMS only."""
        self.sms.alarm(kind, message, self._clock.timestamp(), about=about)

    def restriction_entered(self, number_e164: str) -> None:
        """The abuse ladder restricted a number: warn it by SMS (caps permitting)."""
        self.sms.restriction_entered(number_e164, self._clock.timestamp())

    # ------------------------------------------------------------------ duties

    def check_clock(self) -> None:
        """Follow the clock's synchronisation; mark new call rows while it is wrong."""
        if self.clock_watch is None:
            return
        now_ts = self._clock.timestamp()
        for event in self.clock_watch.check(now_ts):
            if event == "clock_unsynced_alarm":
                self.alarm(
                    "clock_unsynced",
                    "the system clock is not synchronised (no NTP): call times are marked "
                    "untrusted",
                )
            else:
                logger.warning("%s: call rows now have time_trusted = %d", event,
                               int(self.clock_watch.trusted))  # fmt: skip
                self._call_log.add_event(event, ts=now_ts)
        self._call_log.time_trusted = self.clock_watch.trusted

    def check_disk(self) -> None:
        """Alarm once when the database's filesystem runs low; again after it recovered."""
        folder = self._call_log.path.resolve().parent
        usage = shutil.disk_usage(folder)
        low = usage.free < DISK_LOW_BYTES or usage.free < DISK_LOW_FRACTION * usage.total
        if low and not self._disk_low:
            self.alarm(
                "disk_low",
                f"{usage.free // (1024 * 1024)} MB free of {usage.total // (1024 * 1024)} MB "
                f"on {folder}",
            )
        self._disk_low = low

    def apply_retention(self) -> int:
        """Archive the months past `database.retention_months`; how many were queued."""
        months = self.config.database.retention_months
        if months == 0:
            return 0
        conn = open_readonly(self._call_log.path)
        try:
            due = months_to_archive(conn, self._clock.timestamp(), months, self._zone)
        finally:
            conn.close()
        for label, from_ts, to_ts in due:
            self._call_log.archive_month(
                label, from_ts, to_ts, self._clock.timestamp(), month_figures
            )
        return len(due)

    def refresh_rollup(self) -> int:
        """Recompute the per-day report figures of the changed days before today
        (`appliance.store.rollup`), a day per short transaction, within the rollup's
        time budget; today is counted live anyway. Returns the days recomputed."""
        today = datetime.fromtimestamp(self._clock.timestamp(), self._zone).date().isoformat()
        conn = sqlite3.connect(self._call_log.path, timeout=5.0, isolation_level=None)
        try:
            if not rollup.has_rollup(conn):
                return 0
            return rollup.try_refresh(conn, before_day=today)
        finally:
            conn.close()

    def prepare(self) -> None:
        """At start: requeue unsent SMS and restore their caps; check the clock once."""
        requeued = self.sms.restore(self._call_log.path, self._clock.timestamp())
        if requeued:
            logger.info("%d SMS from before the start queued again", requeued)
        self.check_clock()

    async def run(self) -> None:
        """Every duty on its own timer, until cancelled."""
        tasks = [
            self._every(CLOCK_CHECK_S, self.check_clock),
            self._every(DISK_CHECK_S, self.check_disk),
            self._every(RETENTION_CHECK_S, self.apply_retention),
            self._every(ROLLUP_REFRESH_S, self.refresh_rollup, in_thread=True),
        ]
        if self.config.sms.enabled:
            tasks.append(self.sms.run())
        await asyncio.gather(*tasks)

    async def _every(
        self, interval_s: float, duty: Callable[[], object], *, in_thread: bool = False
    ) -> None:
        """Run `duty` now and every `interval_s`; `in_thread` keeps a duty that may wait
        on the database (a day's recomputation) off the lines' event loop."""
        while True:
            try:
                if in_thread:
                    await asyncio.to_thread(duty)
                else:
                    duty()
            except (OSError, sqlite3.Error) as exc:
                logger.warning("%s: %s", getattr(duty, "__name__", duty), exc)
            except Exception:
                logger.exception("%s failed", getattr(duty, "__name__", duty))
            await asyncio.sleep(interval_s)
