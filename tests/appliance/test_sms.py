"""SMS warnings and alarms: caps, the outbox, and sending from an idle line.

The real line service on a virtual modem (virtual time), the real call log; the modem
decodes every PDU the line sends, so the test reads back the SMS as the network got it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from appliance.config import SmsConfig
from appliance.model import LineState
from appliance.numbers import normalise
from appliance.sms import MAX_ATTEMPTS, SmsDispatcher
from tests.appliance.conftest import Bench, make_config, open_bench, run_virtual

CHILD = "+6285712345678"
SUPERVISOR_RAW = "0811-2233-4455"
SUPERVISOR = "+6281122334455"
DAY = 86_400.0


def dispatcher(bench: Bench, **settings: Any) -> SmsDispatcher:
    config = SmsConfig(**({"enabled": True, "supervisors": (SUPERVISOR_RAW,)} | settings))
    return SmsDispatcher(
        config, lines=bench.service.lines, call_log=bench.call_log, clock=bench.clock
    )


def outbox(bench: Bench) -> list[dict[str, Any]]:
    assert bench.call_log.flush(10.0)
    conn = sqlite3.connect(bench.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM sms_outbox ORDER BY created_ts")]
    finally:
        conn.close()


async def send_all(bench: Bench, sms: SmsDispatcher) -> None:
    while sms.pending and await sms.send_next():
        pass


def test_a_restricted_number_is_warned_once_a_day(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            sms = dispatcher(bench)
            now = bench.clock.timestamp()
            assert sms.restriction_entered(CHILD, now)
            assert not sms.restriction_entered(CHILD, now + 3600)  # the same day: no
            await send_all(bench, sms)
            sent = bench.modem.sms_sent
            assert [(one.number, one.text) for one in sent] == [(CHILD, sms.config.warning_text)]
            rows = outbox(bench)
            assert len(rows) == 1 and rows[0]["result"] == "sent" and rows[0]["sent_at"]
            assert rows[0]["line"] == "line1" and rows[0]["kind"] == "warning"
            assert sms.restriction_entered(CHILD, now + DAY + 1)  # a day later: again

    run_virtual(scenario)


def test_alarms_reach_every_supervisor_once_an_hour_per_kind(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25") as bench:
            sms = dispatcher(bench, supervisors=(SUPERVISOR_RAW, "not a number", "0254-123456"))
            now = bench.clock.timestamp()
            assert sms.alarm("line_down", "line2 is down", now) == 2
            assert sms.alarm("line_down", "line2 is down again", now + 600) == 0
            assert sms.alarm("flood_on", "flood mode", now + 600) == 2
            assert sms.alarm("not_configured", "x", now) == 0
            await send_all(bench, sms)
            numbers = sorted({one.number for one in bench.modem.sms_sent})
            assert numbers == ["+62254123456", SUPERVISOR]
            assert any("line2 is down" in one.text for one in bench.modem.sms_sent)

    run_virtual(scenario)


def test_warnings_give_way_to_alarms_when_the_day_budget_runs_low(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600") as bench:
            sms = dispatcher(bench, max_per_day=5)
            now = bench.clock.timestamp()
            warned = [sms.restriction_entered(f"+628571234560{i}", now) for i in range(6)]
            assert warned == [True, True, True, True, False, False]  # 80 % of 5
            assert sms.alarm("line_down", "line1 down", now) == 1  # the last one left
            assert sms.alarm("flood_on", "flood", now) == 0
            assert len(outbox(bench)) == 5

    run_virtual(scenario)


def test_no_sms_leaves_while_the_line_holds_a_call(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            sms = dispatcher(bench)
            virtual = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)
            sms.restriction_entered(CHILD, bench.clock.timestamp())
            assert not await sms.send_next()
            assert bench.modem.sms_sent == []
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            assert await sms.send_next()
            assert len(bench.modem.sms_sent) == 1

    run_virtual(scenario)


def test_queued_sms_and_caps_survive_a_restart(tmp_path: Path) -> None:
    async def first() -> float:
        async with open_bench(tmp_path, "sim800") as bench:
            sms = dispatcher(bench)
            now = bench.clock.timestamp()
            sms.restriction_entered(CHILD, now)  # queued, never sent: the box restarts
            return now

    queued_at = run_virtual(first)

    async def second() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            sms = dispatcher(bench)
            assert sms.restore(bench.db_path, queued_at + 60) == 1
            assert not sms.restriction_entered(CHILD, queued_at + 120)  # still capped
            await send_all(bench, sms)
            assert [one.number for one in bench.modem.sms_sent] == [CHILD]
            assert [row["result"] for row in outbox(bench)] == ["sent"]

    run_virtual(second)


def test_a_modem_that_cannot_send_is_retried_then_given_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "m95") as bench:
            sms = dispatcher(bench)
            sms.restriction_entered(CHILD, bench.clock.timestamp())
            bench.modem.silent = True
            for attempt in range(1, MAX_ATTEMPTS + 1):
                assert not await sms.send_next()
                assert outbox(bench)[0]["attempts"] == attempt
                await bench.sleep(61.0)
            assert sms.pending == []
            row = outbox(bench)[0]
            assert (row["result"] == "failed" and "timed out" in row["error"].lower()) or (
                row["result"] == "failed" and row["error"]
            )
            bench.modem.silent = False

    run_virtual(scenario)


@pytest.mark.parametrize("settings", [{"enabled": False}, {"warn_restricted": False}])
def test_nothing_is_queued_when_sms_is_off(tmp_path: Path, settings: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", config=make_config()) as bench:
            sms = dispatcher(bench, **settings)
            assert not sms.restriction_entered(CHILD, bench.clock.timestamp())
            if not settings.get("enabled", True):
                assert sms.alarm("line_down", "x", bench.clock.timestamp()) == 0
            assert outbox(bench) == []

    run_virtual(scenario)


def test_the_service_warns_a_number_the_ladder_restricts_and_texts_line_alarms(
    tmp_path: Path,
) -> None:
    """Wired in the service: three pranks recorded -> the warning SMS goes out on its own."""
    sms = {"enabled": True, "supervisors": [SUPERVISOR_RAW]}

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600", config=make_config(sms=sms)) as bench:
            for call_id in range(3):  # the ladder's first step: 3 pranks in 24 h
                bench.service.record_disposition(
                    1000 + call_id, "prank", "op1", caller=normalise(CHILD)
                )
            await bench.wait_until(
                lambda: any(one.number == CHILD for one in bench.modem.sms_sent),
                "the warning SMS",
                timeout_s=30.0,
            )
            warning = next(one for one in bench.modem.sms_sent if one.number == CHILD)
            assert "iseng" in warning.text
            bench.unplug()  # the line fails: the supervisors hear of it
            await bench.wait_until(
                lambda: any("line1" in one.text for one in bench.service.housekeeping.sms.pending),
                "the line_down alarm to be queued",
            )

    run_virtual(scenario)
