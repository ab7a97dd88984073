"""The service's background duties on a real call log: alarms, clock, disk, retention."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from appliance import housekeeping
from appliance.config import Config
from appliance.housekeeping import Housekeeping
from appliance.store import CallLog


@dataclass
class StepClock:
    """A clock the test moves by hand."""

    now: float = datetime(2024, 7, 10, 12, 0).timestamp()

    def timestamp(self) -> float:
        return self.now


def make(
    tmp_path: Path, probe: Any = None, **sections: Any
) -> tuple[Housekeeping, CallLog, StepClock]:
    clock = StepClock()
    log = CallLog(tmp_path / "siaga.db", timezone="Asia/Jakarta")
    log.open(now_ts=clock.now)
    config = Config.model_validate(sections)
    keeper = Housekeeping(config, lines={}, call_log=log, clock=clock, clock_probe=probe)
    return keeper, log, clock


def rows(log: CallLog, sql: str) -> list[tuple[Any, ...]]:
    assert log.flush(10.0)
    conn = sqlite3.connect(log.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_an_alarm_is_logged_stored_and_texted_to_the_supervisors(tmp_path: Path) -> None:
    sms = {"enabled": True, "supervisors": ["0811-2233-4455"]}
    keeper, log, _ = make(tmp_path, sms=sms)
    try:
        keeper.alarm("line_down", "line2 is down")
        events = rows(log, "SELECT kind, detail FROM events WHERE kind = 'alarm'")
        assert len(events) == 1 and "line2 is down" in events[0][1]
        assert [(s.to_number, s.kind) for s in keeper.sms.pending] == [("+6281122334455", "alarm")]
    finally:
        log.close()


def test_new_call_rows_are_marked_while_the_clock_is_not_synchronised(tmp_path: Path) -> None:
    answers = iter([False, False, True])
    keeper, log, clock = make(tmp_path, probe=lambda: next(answers))
    try:
        keeper.check_clock()
        assert log.time_trusted is False
        clock.now += 700
        keeper.check_clock()  # ten minutes unsynchronised: the alarm
        clock.now += 60
        keeper.check_clock()
        assert log.time_trusted is True
        kinds = [kind for (kind,) in rows(log, "SELECT kind FROM events ORDER BY id")]
        assert kinds[-3:] == ["clock_unsynced", "alarm", "clock_synced"]
    finally:
        log.close()


def test_without_a_probe_the_clock_is_not_judged(tmp_path: Path) -> None:
    keeper, log, _ = make(tmp_path)
    try:
        keeper.check_clock()
        assert log.time_trusted is None
    finally:
        log.close()


def test_a_low_disk_raises_one_alarm_until_it_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keeper, log, _ = make(tmp_path)
    try:
        monkeypatch.setattr(housekeeping, "DISK_LOW_BYTES", 1 << 62)  # any real disk is "low"
        keeper.check_disk()
        keeper.check_disk()
        monkeypatch.setattr(housekeeping, "DISK_LOW_BYTES", 0)
        monkeypatch.setattr(housekeeping, "DISK_LOW_FRACTION", 0.0)
        keeper.check_disk()
        monkeypatch.setattr(housekeeping, "DISK_LOW_BYTES", 1 << 62)
        keeper.check_disk()
        alarms = rows(log, "SELECT detail FROM events WHERE kind = 'alarm'")
        assert len(alarms) == 2 and all("disk_low" in detail for (detail,) in alarms)
    finally:
        log.close()


def test_retention_archives_months_past_the_setting(tmp_path: Path) -> None:
    keeper, log, clock = make(tmp_path, database={"retention_months": 2})
    try:
        for months_ago in (5, 3, 1, 0):
            call_id = log.new_call_id()
            started = clock.now - months_ago * 31 * 86_400
            log.call_started(call_id, {"line": "line1", "started_ts": started})
        assert log.flush(10.0)
        assert keeper.apply_retention() == 4  # 5 and 3 months ago, and the empty ones between
        assert rows(log, "SELECT COUNT(*) FROM calls") == [(2,)]
        assert rows(log, "SELECT COUNT(*) FROM monthly_figures") == [(2,)]
        assert keeper.apply_retention() == 0
    finally:
        log.close()


def test_changed_days_before_today_get_their_report_figures_recomputed(tmp_path: Path) -> None:
    """A reader that cannot write (`siaga report`) finds the figures kept: the line
    service recomputes yesterday's day, and a day a late verdict changed, leaving today
    to be counted live."""
    keeper, log, clock = make(tmp_path)
    try:
        for days_ago in (3, 1, 0):
            call_id = log.new_call_id()
            log.call_started(
                call_id, {"line": "line1", "started_ts": clock.now - days_ago * 86_400}
            )
        assert log.flush(10.0)
        dirty = "SELECT day FROM daily_dirty ORDER BY day"
        assert rows(log, dirty) == [("2024-07-07",), ("2024-07-09",), ("2024-07-10",)]
        assert keeper.refresh_rollup() == 2
        assert rows(log, dirty) == [("2024-07-10",)]  # today, still being written
        assert rows(log, "SELECT day, calls FROM daily_days ORDER BY day") == [
            ("2024-07-07", 1),
            ("2024-07-09", 1),
        ]
        assert keeper.refresh_rollup() == 0
    finally:
        log.close()
