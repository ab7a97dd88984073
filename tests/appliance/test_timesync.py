"""The clock's trust: the kernel's NTP state, its changes, and the call rows it marks."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.housekeeping import Housekeeping
from appliance.line import parse_cclk
from appliance.store import CallLog
from appliance.timesync import ClockWatch, kernel_clock_synchronised
from tests.appliance.conftest import open_bench, run_virtual


def test_the_kernel_answers_yes_no_or_cannot_tell() -> None:
    """adjtimex(2) on this machine: a real answer, whatever it is, never an exception."""
    assert kernel_clock_synchronised() in (True, False, None)


def test_watch_reports_changes_and_alarms_once_after_ten_minutes() -> None:
    answers = iter([True, False, False, False, False, True, None])
    watch = ClockWatch(probe=lambda: next(answers), alarm_after_s=600.0)
    assert watch.check(0.0) == []
    assert watch.check(10.0) == ["clock_unsynced"] and not watch.trusted
    assert watch.check(300.0) == []
    assert watch.check(610.0) == ["clock_unsynced_alarm"]
    assert watch.check(1200.0) == []  # said once
    assert watch.check(1300.0) == ["clock_synced"] and watch.trusted
    assert watch.check(1400.0) == []  # "cannot tell" is trusted: no news


def test_calls_started_while_the_clock_is_wrong_are_marked(tmp_path: Path) -> None:
    db = tmp_path / "siaga.db"
    log = CallLog(db, timezone="Asia/Jakarta")
    log.open(now_ts=1_712_000_000.0)
    try:
        for trusted in (None, False, True):
            log.time_trusted = trusted
            call_id = log.new_call_id()
            log.call_started(call_id, {"line": "line1", "started_ts": 1_712_000_000.0})
            log.call_updated(call_id, {"ended_ts": 1_712_000_010.0})
        assert log.flush(10.0)
    finally:
        log.close()
    conn = sqlite3.connect(db)
    try:
        marks = [row[0] for row in conn.execute("SELECT time_trusted FROM calls ORDER BY id")]
    finally:
        conn.close()
    assert marks == [1, 0, 1]  # unknown counts as trusted (the column's default)


def test_network_time_is_read_from_cclk_in_local_time_with_its_zone() -> None:
    wib = datetime(2024, 4, 3, 19, 2, 11, tzinfo=ZoneInfo("Asia/Jakarta")).timestamp()
    assert parse_cclk(['+CCLK: "24/04/03,19:02:11+28"']) == wib  # +28 quarters: UTC+7
    assert parse_cclk(['+CCLK: "24/04/03,12:02:11+00"', "OK"]) == wib
    assert parse_cclk(['+CCLK: "04/01/01,00:00:00+00"']) is None  # the RTC's default
    assert parse_cclk(['+CCLK: "80/01/06,00:00:00-00"']) is None
    assert parse_cclk(['+CCLK: "24/13/40,99:99:99+28"']) is None  # garbage from a modem
    assert parse_cclk(["ERROR"]) is None


@pytest.mark.parametrize(
    ("network_time", "skew_s", "trusted"),
    [(True, 0.0, True), (True, 900.0, False), (False, 0.0, False)],
    ids=["network-agrees", "network-disagrees", "no-network-time"],
)
def test_without_ntp_the_networks_time_decides_whether_call_times_are_trusted(
    tmp_path: Path, network_time: bool, skew_s: float, trusted: bool
) -> None:
    """An offline box (NTP never answers): the modem's network time vouches for the clock."""

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600", health_interval_s=5.0) as bench:
            bench.modem.network_time = network_time
            bench.modem.clock = lambda: datetime.fromtimestamp(
                bench.clock.timestamp() + skew_s, ZoneInfo("Asia/Jakarta")
            )
            keeper = Housekeeping(
                bench.service.config,
                lines=bench.service.lines,
                call_log=bench.call_log,
                clock=bench.clock,
                clock_probe=lambda: False,  # the kernel: not synchronised
            )
            await bench.sleep(12.0)  # two health polls
            if network_time:
                assert bench.line.health.network_clock_offset_s == pytest.approx(skew_s, abs=2)
            else:
                assert bench.line.health.network_clock_offset_s is None
            keeper.check_clock()
            assert bench.call_log.time_trusted is trusted

    run_virtual(scenario)
