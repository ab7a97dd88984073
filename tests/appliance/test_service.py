"""The line service at start-up: memory rebuilt from the call log, alarms, configuration."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.clock import LoopClock, VirtualTimeLoop
from appliance.config import Config, LineConfig
from appliance.line import ActiveCall
from appliance.model import Action, LineState, NumberClass, Reason
from appliance.numbers import normalise
from appliance.service import LineService
from appliance.simulate import InFlightProbe
from appliance.store import CallLog, RuleStore
from firmware.virtual_modem import VirtualModem

NOW = 1_712_000_000.0  # 2024-04-01T19:33:20Z
CALLER = "+6281234567890"


class FixedClock:
    """A clock standing still at a chosen moment."""

    def __init__(self, ts: float) -> None:
        self.ts = ts

    def timestamp(self) -> float:
        return self.ts

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ts, UTC)


def write_calls(db: Path, calls: list[dict[str, object]]) -> None:
    log = CallLog(db)
    log.open()
    for fields in calls:
        call_id = log.new_call_id()
        log.call_started(call_id, {"line": "line1", "decision": "pass", "reason": "default"})
        log.call_updated(call_id, fields)
        disposition = fields.get("disposition")
        if isinstance(disposition, str):
            log.record_disposition(call_id, disposition, "op1", float(str(fields["ended_ts"])))
    assert log.flush()
    log.close()


def start_service(db: Path, config: Config | None = None) -> tuple[LineService, CallLog]:
    log = CallLog(db)
    log.open()
    service = LineService(
        config or Config(),
        call_log=log,
        rule_store=RuleStore(db),
        clock=FixedClock(NOW),
        lines=[],
    )
    service.prepare()
    return service, log


def prank_call(at: float) -> dict[str, object]:
    return {
        "caller": CALLER,
        "caller_raw": "081234567890",
        "number_class": NumberClass.NUMBER.value,
        "started_ts": at,
        "reached_operator": 1,
        "operator_ts": at + 5,
        "ended_ts": at + 20,
        "disposition": "prank",
    }


def events(db: Path, kind: str) -> list[sqlite3.Row]:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute("select * from events where kind = ?", [kind]).fetchall()
    finally:
        connection.close()


def test_a_restart_forgets_no_prank(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    write_calls(db, [prank_call(NOW - 3600 * hours) for hours in (3, 2, 1)])
    service, log = start_service(db)
    try:
        decision = service.gateway.screen(normalise("081234567890"), NOW)
        assert (decision.action, decision.reason) == (Action.CHALLENGE, Reason.ABUSE)
        assert decision.rule == "ladder:1"
    finally:
        log.close()


def test_a_genuine_call_before_the_restart_keeps_the_number_immune(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    genuine = prank_call(NOW - 86_400 * 10) | {"disposition": "genuine:fire"}
    write_calls(db, [genuine])
    service, log = start_service(db)
    try:
        assert service.gateway.screen(normalise("081234567890"), NOW).reason is Reason.IMMUNE
    finally:
        log.close()


@pytest.mark.parametrize("restarted", [False, True], ids=["live", "after-a-restart"])
def test_a_corrected_verdict_counts_once_live_and_after_a_restart(
    tmp_path: Path, restarted: bool
) -> None:
    """Three pranks restrict the number; the third corrected to information (a wrong
    click) must lift it, in the running service as in one started on the same log."""
    db = tmp_path / "calls.db"
    write_calls(db, [prank_call(NOW - 3600 * hours) for hours in (3, 2)])
    log = CallLog(db)
    log.open()
    service = LineService(
        Config(), call_log=log, rule_store=RuleStore(db), clock=FixedClock(NOW),
        lines=[LineConfig(name="line1", port="/dev/null")],
    )  # fmt: skip
    service.prepare()
    caller = normalise("081234567890")
    try:
        call_id = log.new_call_id()
        log.call_started(call_id, {"line": "line1", "caller": CALLER,
                                   "caller_raw": "081234567890", "number_class": "number",
                                   "started_ts": NOW - 60, "decision": "pass",
                                   "reason": "default"})  # fmt: skip
        call = ActiveCall(call_id=call_id, started_ts=NOW - 60, caller=caller)
        service.call_finished(service.lines["line1"], call)
        service.record_disposition(call_id, "prank", "op1")
        assert service.gateway.screen(caller, NOW).rule == "ladder:1"
        service.record_disposition(call_id, "info", "op1")
        assert log.flush()
        if restarted:
            log.close()
            service, log = start_service(db)
        assert service.gateway.screen(caller, NOW).reason is not Reason.ABUSE
    finally:
        log.close()


def test_a_restart_during_a_flood_raises_the_alarm_again(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    arrivals = [
        {
            "caller": f"+62812000{i:05d}",
            "number_class": "number",
            "started_ts": NOW - 100 + i,
            "ended_ts": NOW - 99 + i,
        }
        for i in range(80)
    ]
    write_calls(db, arrivals)
    service, log = start_service(db)
    try:
        assert service.policy.flood_active
        assert log.flush()
        assert [row["ts"] for row in events(db, "flood_on")] == [NOW]
        assert service_state(db)["flood_active"] == 1
    finally:
        log.close()


def service_state(db: Path) -> sqlite3.Row:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        [row] = connection.execute("SELECT * FROM service_state").fetchall()
        return row
    finally:
        connection.close()


def test_the_service_publishes_its_process_and_base_configuration(tmp_path: Path) -> None:
    """What the web UI's dashboard and settings page read: the file's configuration, not
    the one with the web UI's overrides over it."""
    db = tmp_path / "calls.db"
    base = Config.model_validate({"challenge": {"key": "55"}})
    write_calls(db, [])  # a migrated database
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO settings (section, value, updated_ts, updated_by)"
            """ VALUES ('challenge', '{"key": "77"}', 0, 'tech1')"""
        )
    service, log = start_service(db, base)
    try:
        assert service.config.challenge.key == "77"
        assert log.flush()
        row = service_state(db)
        assert row["pid"] == os.getpid()
        assert row["started_ts"] == NOW and row["started_at"].startswith("2024-04-0")
        assert row["flood_active"] == 0
        assert Config.model_validate(json.loads(row["base_config"])) == base
    finally:
        log.close()


def test_a_changed_configuration_is_logged_once(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    for config in (Config(), Config(), Config.model_validate({"challenge": {"key": "55"}})):
        _, log = start_service(db, config)
        assert log.flush()
        log.close()
    changes = events(db, "config_change")
    assert len(changes) == 2
    assert '"key": "55"' in changes[1]["detail"]


def test_a_crashing_line_is_restarted_and_raises_an_alarm(tmp_path: Path) -> None:
    loop = VirtualTimeLoop()
    asyncio.set_event_loop(loop)
    db = tmp_path / "calls.db"
    log = CallLog(db)
    log.open()
    modem = VirtualModem("sim800")
    loop.run_until_complete(modem.start())
    # Built without validation: an unknown family makes initialisation raise ValueError,
    # an exception the line does not expect, standing in for a bug inside the line.
    valid = LineConfig(name="line1", port=modem.port).model_dump()
    broken = LineConfig.model_construct(**(valid | {"family": "nokia"}))
    service = LineService(
        Config(),
        call_log=log,
        rule_store=None,
        clock=LoopClock(loop, datetime(2024, 4, 1, tzinfo=UTC)),
        lines=[broken],
        rule_poll_s=None,
    )
    loop.add_in_flight_probe(InFlightProbe(service.lines["line1"], modem))

    async def run_for_a_while() -> None:
        runner = asyncio.create_task(service.run())
        await asyncio.sleep(10)  # virtual seconds: crashes at about 0, 1, 3 and 7 s
        assert not runner.done()
        service.stop()
        await runner

    try:
        loop.run_until_complete(run_for_a_while())
    finally:
        modem.close()
        asyncio.set_event_loop(None)
        loop.close()
    assert log.flush()
    log.close()
    crashes = events(db, "line_crashed")
    assert len(crashes) == 4
    assert "ValueError" in crashes[0]["detail"]


def test_a_failing_job_of_the_service_stops_it_with_its_error_and_closes_the_lines(
    tmp_path: Path,
) -> None:
    """Every loop of the service guards its own faults, so one that fails is a bug: the
    service stops its lines and `run()` raises the error (systemd then starts it again),
    instead of going on for months with that loop dead and nobody told."""
    loop = VirtualTimeLoop()
    asyncio.set_event_loop(loop)
    log = CallLog(tmp_path / "calls.db")
    log.open()
    modem = VirtualModem("sim800")
    loop.run_until_complete(modem.start())
    service = LineService(
        Config(),
        call_log=log,
        rule_store=None,
        clock=LoopClock(loop, datetime(2024, 4, 1, tzinfo=UTC)),
        lines=[LineConfig(name="line1", port=modem.port)],
        rule_poll_s=None,
    )

    async def flood_ticker_with_a_bug() -> None:
        while service.lines["line1"].state is not LineState.IDLE:  # once the line is up
            await asyncio.sleep(0.1)
        raise RuntimeError("a bug in the flood ticker")

    service._tick_flood = flood_ticker_with_a_bug  # type: ignore[method-assign]

    async def run_until_it_fails() -> BaseException | None:
        runner = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(runner, timeout=120)
        except BaseException as raised:  # what run() raised is the point
            return raised
        return None

    try:
        raised = loop.run_until_complete(run_until_it_fails())
    finally:
        modem.close()
        asyncio.set_event_loop(None)
        loop.close()
    log.close()
    assert isinstance(raised, ExceptionGroup)
    assert [str(error) for error in raised.exceptions] == ["a bug in the flood ticker"]
    assert service.lines["line1"].state is not LineState.IDLE  # stopped with the service


def test_a_number_reaching_the_flagged_step_is_listed_once_for_the_supervisor(
    tmp_path: Path,
) -> None:
    db = tmp_path / "calls.db"
    log = CallLog(db)
    log.open()
    service = LineService(
        Config(),
        call_log=log,
        rule_store=None,
        clock=FixedClock(NOW),
        lines=[LineConfig(name="line1", port="/dev/null")],
    )
    line = service.lines["line1"]
    caller = normalise("081234567890")
    for call_id in range(1, 12):  # the 10th prank in 24 h reaches the flagged step
        service.call_finished(line, ActiveCall(call_id=call_id, started_ts=NOW, caller=caller))
        service.record_disposition(call_id, "prank", "op1")
    assert log.flush()
    log.close()
    flags = events(db, "supervisor_flag")
    assert len(flags) == 1
    assert '"caller": "+6281234567890"' in flags[0]["detail"]
    assert '"level": 3' in flags[0]["detail"] and '"junk_24h": 10' in flags[0]["detail"]


def test_a_restore_under_the_running_service_stops_it_to_start_on_the_restored_data(
    tmp_path: Path,
) -> None:
    db = tmp_path / "calls.db"
    write_calls(db, [])
    service, log = start_service(db)
    try:

        async def poll_twice() -> None:
            poller = asyncio.create_task(service._poll_settings(0.01))
            await asyncio.sleep(0.05)
            assert not service.restored  # nothing restored yet: it goes on
            log.add_event("database_restored", detail={"by": "tech1"}, ts=NOW)
            assert log.flush()
            await asyncio.wait_for(service._stop.wait(), timeout=5.0)
            poller.cancel()

        asyncio.run(poll_twice())
        assert service.restored
    finally:
        log.close()


def test_a_restore_before_the_start_is_no_reason_to_stop(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    write_calls(db, [])
    log = CallLog(db)
    log.open()
    log.add_event("database_restored", detail={"by": "tech1"}, ts=NOW)
    assert log.flush()
    log.close()
    service, log = start_service(db)
    try:
        service._notice_restore()
        assert not service.restored and not service._stop.is_set()
    finally:
        log.close()
