"""A line proves it can see callers, no call outlives the modem, and the logs say what broke.

Each test runs one line of the real service against a virtual modem on a real pty, on a
virtual clock (`tests/appliance/conftest.py`), and injects a fault the virtual modem
offers on demand: a reset that prints nothing (`silent_reset`), settings refused
(`refused`), a firmware hang with a call up (`hung`), a call left off-hook from before a
restart (`call_left_up`), ERROR to every command (`error_to_everything`), a reboot that
drops its call with NO CARRIER (`reboot(end_lines=True)`). What a technician or a
supervisor relies on is asserted: an ALARM and an event, the line's health as the web UI
reads it, a row per call with a cause that names the fault, the next caller's number.
Times are measured on the line's own (virtual) clock and recorded with `record_recovery`
for docs/faults.md; the bounds asserted are generous limits, not the figures.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from appliance.line import (
    BACKOFF_MAX_S,
    CALL_POLL_FAILURES,
    CALL_POLL_S,
    CALL_POLL_TIMEOUT_S,
    SETTINGS_RETRY_FIRST_S,
)
from appliance.model import LineState
from firmware.virtual_modem import VirtualModem
from firmware.virtual_modem.calls import EndedBy
from tests.appliance.conftest import (
    FAMILIES,
    Bench,
    make_config,
    open_bench,
    run_virtual,
)
from tests.appliance.test_line import (
    BOOTING_FAMILIES,
    assert_log_consistent,
    hang_up_and_settle,
    operator_takes_call,
    wait_answered,
)
from tests.faults.conftest import record_recovery

pytestmark = pytest.mark.timeout(120)

NEXT_CALLER = "085712345678"
NEXT_CALLER_E164 = "+6285712345678"
LEFT_UP_CALLER = "081299998888"
SUPERVISOR = "081311112222"
# The in-call poll notices a hung modem after CALL_POLL_FAILURES polls in a row, each up
# to CALL_POLL_S apart and CALL_POLL_TIMEOUT_S long; one more period of slack.
HUNG_NOTICED_BOUND_S = (CALL_POLL_FAILURES + 1) * (CALL_POLL_S + CALL_POLL_TIMEOUT_S)


def now() -> float:
    """The bench's loop time (virtual seconds)."""
    return asyncio.get_running_loop().time()


def detail(event: dict[str, Any]) -> dict[str, Any]:
    """An event's JSON detail."""
    return dict(json.loads(event["detail"] or "{}"))


def select(bench: Bench, sql: str) -> list[dict[str, Any]]:
    """Rows of `sql` on the bench's database, once everything queued is written."""
    assert bench.call_log.flush(10.0)
    connection = sqlite3.connect(f"file:{bench.db_path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(sql)]
    finally:
        connection.close()


def line_status(bench: Bench) -> dict[str, Any]:
    """The line's `line_status` row, as the web UI reads it."""
    bench.service.publish_changed_health()
    rows = select(bench, "SELECT * FROM line_status WHERE line = 'line1'")
    assert len(rows) == 1
    return rows[0]


async def next_caller_has_a_number(bench: Bench) -> None:
    """A new caller rings; the call's row carries the number (whatever happens next)."""
    virtual = bench.ring(NEXT_CALLER)
    await bench.wait_until(lambda: bench.line.call is not None and bench.line.call.decision
                           is not None, "the next call to be screened")  # fmt: skip
    await hang_up_and_settle(bench, virtual)
    assert bench.rows()[-1]["caller"] == NEXT_CALLER_E164


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing was logged with a traceback, nor by asyncio (a task that died): the
    technician's signs of a bug."""
    bad = [r for r in caplog.records if r.exc_info is not None or r.name == "asyncio"]
    assert not bad, [r.getMessage() for r in bad]


# --------------------------------------------------------------------------- silent reset


@pytest.mark.parametrize("family", FAMILIES)
def test_a_silent_reset_is_found_at_the_first_ring_and_the_blind_call_is_an_alarm(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Why 1: a reset that prints no boot lines forgets +CLIP=1; calls arrived without a
    number for minutes, nothing logged. Now the first RING after it (plain, where +CRING
    was set) has the settings read back and restored while it rings (an ALARM and a
    `settings_lost` event). That call has no +CLIP: a number the modem lists for it
    (AT+CLCC) is used; without one (here a withheld caller, whom the line cannot tell
    from a lost number) the call is logged blind: an ALARM and a `caller_id_lost` event
    naming it. The next caller has their number, and keys are detected again."""
    caplog.set_level(logging.WARNING)

    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=3600.0) as bench:
            await bench.sleep(5.0)
            bench.modem.silent_reset()
            assert not bench.modem.settings.clip and not bench.modem.settings.crc
            await bench.sleep(20.0)  # nothing can notice it: no command, no URC
            blind = bench.ring(None)
            rang = now()
            await bench.wait_until(lambda: bench.modem.settings.clip, "caller ID restored")
            record_recovery(f"silent reset: first ring to caller ID restored ({family})",
                            now() - rang)  # fmt: skip
            await bench.wait_until(lambda: bool(bench.events("caller_id_lost")), "the alarm")
            await bench.wait_until(lambda: bool(bench.rows()), "the blind call's row")
            await hang_up_and_settle(bench, blind)
            row = bench.rows()[0]
            assert row["caller"] is None and row["number_class"] == "unavailable"
            assert detail(bench.events("caller_id_lost")[0]) == {"call_id": row["id"]}
            (lost,) = bench.events("settings_lost")
            assert "no_caller_id" in detail(lost)["lost"]
            assert "no_caller_id" in detail(lost)["restored"]
            assert any("ALARM caller_id_lost" in r.getMessage() for r in caplog.records)
            if family not in ("generic", "huawei"):  # families with a key-detection switch
                assert bench.modem.settings.dtmf
            assert bench.line.health.degraded == ()

            await next_caller_has_a_number(bench)
            assert len(bench.events("settings_lost")) == 1
            assert not bench.events("line_failed")

    run_virtual(scenario)


@pytest.mark.parametrize("family", ("sim800", "ec25"))
def test_a_silent_reset_on_an_idle_line_is_repaired_by_the_next_health_poll(
    tmp_path: Path, family: str
) -> None:
    """With no call to give it away, the health poll reads the settings back: a line is
    blind at most one health interval after a silent reset."""
    interval_s = 60.0

    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=interval_s) as bench:
            await bench.sleep(1.0)
            bench.modem.silent_reset()
            reset = now()
            await bench.wait_until(lambda: bench.modem.settings.clip, "caller ID restored")
            blind_s = now() - reset
            assert blind_s <= interval_s + 1.0
            record_recovery(f"silent reset, idle line: blind for ({family}, 60 s polls)", blind_s)
            assert len(bench.events("settings_lost")) == 1
            assert not bench.events("caller_id_lost")  # no call was blind
            await next_caller_has_a_number(bench)

    run_virtual(scenario)


# --------------------------------------------------------------------------- refused settings


def _refuse_caller_id(modem: VirtualModem) -> None:
    modem.refused["+CLIP"] = "+CME ERROR: SIM not inserted"


@pytest.mark.parametrize("family", FAMILIES)
def test_caller_id_refused_at_start_shows_the_line_degraded_alarms_and_is_retried(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Why 2: AT+CLIP=1 refused at start got one routine warning and was never retried.
    Now the line is up but shown degraded ("no_caller_id" in `line_status`, read by the
    dashboard, lines page and console), an ALARM, a `line_degraded` event and an SMS to
    the supervisors; the setting is retried with a growing back-off until it holds."""
    caplog.set_level(logging.WARNING)
    config = make_config(sms={"enabled": True, "supervisors": [SUPERVISOR]})

    async def scenario() -> None:
        async with open_bench(
            tmp_path, family, config=config, modem_setup=_refuse_caller_id
        ) as bench:
            started = now()
            assert bench.line.state is LineState.IDLE
            assert bench.line.health.degraded == ("no_caller_id",)
            assert line_status(bench)["degraded"] == "no_caller_id"
            (event,) = bench.events("line_degraded")
            assert detail(event)["missing"] == ["no_caller_id"]
            assert any("ALARM line_degraded" in r.getMessage() for r in caplog.records)
            sms = select(bench, "SELECT * FROM sms_outbox")
            assert [row["topic"] for row in sms] == ["line_degraded:line1"]
            assert "no caller id" in sms[0]["text"]

            await bench.sleep(40.0)  # retried after 5, 10 and 20 s: at 5, 15 and 35 s
            tries = bench.commands_since(started).count("AT+CLIP=1")
            assert 3 <= tries <= 4, tries
            assert len(bench.events("line_degraded")) == 1  # one alarm, not one per try

            bench.modem.refused.clear()  # the SIM is in, or the firmware is "Call Ready"
            cleared = now()
            await bench.wait_until(lambda: bench.line.health.degraded == (), "degraded to end")
            retry_s = now() - cleared
            assert retry_s <= 8 * SETTINGS_RETRY_FIRST_S + 1.0
            record_recovery(f"caller ID refused then accepted: next retry ({family})", retry_s)
            assert bench.modem.settings.clip
            assert line_status(bench)["degraded"] is None
            assert detail(bench.events("line_restored")[0])["restored"] == ["no_caller_id"]
            await next_caller_has_a_number(bench)

    run_virtual(scenario)


# --------------------------------------------------------------------------- calls left up


@pytest.mark.parametrize("family", FAMILIES)
def test_a_call_left_off_hook_across_a_restart_is_released_and_logged_at_start(
    tmp_path: Path, family: str
) -> None:
    """Why 3: a call left off-hook survived a restart and held the line (new callers came
    as call waiting). Now the line asks the modem for its calls at start (AT+CLCC),
    releases the one it finds (an ALARM and a `call_left_up` event) and takes the next
    caller as an ordinary call."""

    def left_up(modem: VirtualModem) -> None:
        left_up.call = modem.call_left_up(LEFT_UP_CALLER)  # type: ignore[attr-defined]

    async def scenario() -> None:
        async with open_bench(tmp_path, family, modem_setup=left_up) as bench:
            stale = left_up.call  # type: ignore[attr-defined]
            assert not stale.live and stale.ended_by is EndedBy.HOST
            (event,) = bench.events("call_left_up")
            assert detail(event) == {
                "caller_raw": LEFT_UP_CALLER,
                "state": "active",
                "released": True,
            }
            await next_caller_has_a_number(bench)
            assert not bench.events("call_waiting")

    run_virtual(scenario)


# --------------------------------------------------------------------------- hung modem


@pytest.mark.parametrize("waiting", ["operator_ringing", "connected"])
@pytest.mark.parametrize("family", ("sim800", "sim7600", "ec25", "huawei"))
def test_a_modem_hanging_with_a_call_up_is_noticed_within_seconds(
    tmp_path: Path, family: str, waiting: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Why 4: a modem that hung while a passed call waited for an operator was never
    noticed (150 s and counting). Now the line polls the modem (AT+CLCC) while a call
    waits for or talks to an operator: the hang is noticed within seconds, the row ends
    `modem_not_answering`, the line fails and climbs the recovery ladder; an operator
    who answers later is told there is no call, without a traceback."""
    caplog.set_level(logging.WARNING)

    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=3600.0) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            if waiting == "connected":
                await operator_takes_call(bench)
            else:
                await bench.wait_state(LineState.OPERATOR_RINGING)
            await bench.sleep(10.0)  # polls answered: nothing happens to a healthy call
            assert bench.line.state.value == waiting
            bench.modem.hung = True
            hung = now()
            await bench.wait_until(lambda: bench.line.call is None, "the call to be ended")
            noticed_s = now() - hung
            assert noticed_s <= HUNG_NOTICED_BOUND_S
            record_recovery(f"modem hung, call {waiting}: noticed after ({family})", noticed_s)
            await bench.wait_state(LineState.FAILED)
            row = bench.row()
            assert row["end_cause"] == "modem_not_answering"
            assert (row["decision"], row["reason"]) == ("pass", "allowlist")
            assert "stopped answering" in (bench.line.health.last_error or "")
            assert not bench.service.answer("line1", "op2")  # no call any more: no traceback

            if waiting == "operator_ringing":
                bench.modem.caller_hangs_up(virtual)  # nobody answered: the caller gives up
            bench.modem.hung = False
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 30.0)
            assert bench.line.health.last_error is None  # recovery clears it
            if waiting == "connected":  # the modem kept the call: released as the line starts
                assert not virtual.live and virtual.ended_by is EndedBy.HOST
                assert detail(bench.events("call_left_up")[0])["state"] == "active"
            await next_caller_has_a_number(bench)
            no_tracebacks(caplog)

    run_virtual(scenario)


@pytest.mark.parametrize("waiting", ["operator_ringing", "connected"])
@pytest.mark.parametrize("family", ("sim800", "ec25"))
def test_a_silent_reset_that_loses_the_call_ends_its_row_as_modem_reset(
    tmp_path: Path, family: str, waiting: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A modem that resets without a word while a passed call waits for (or talks to) an
    operator drops the call and prints nothing. The in-call poll finds no call listed,
    twice: the row ends `modem_reset` (not `caller_hung_up`), the caller goes on the
    call-back list as a line fault, the settings are restored and the next caller is
    seen with a number."""
    caplog.set_level(logging.WARNING)

    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=3600.0) as bench:
            bench.add_rule("allow", "pass")
            bench.ring()
            if waiting == "connected":
                await operator_takes_call(bench)
            else:
                await bench.wait_state(LineState.OPERATOR_RINGING)
            bench.modem.silent_reset()
            reset = now()
            await bench.wait_until(lambda: bench.line.call is None, "the call to be ended")
            record_recovery(
                f"silent reset, call {waiting}: row ended after ({family})", now() - reset
            )
            assert now() - reset <= HUNG_NOTICED_BOUND_S
            row = bench.row()
            assert row["end_cause"] == "modem_reset"
            listed = select(bench, "SELECT reason FROM callbacks")
            if waiting == "operator_ringing":
                assert [entry["reason"] for entry in listed] == ["line_fault"]
            else:
                assert listed == []  # the caller had reached an operator
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 30.0)
            await next_caller_has_a_number(bench)
            no_tracebacks(caplog)

    run_virtual(scenario)


@pytest.mark.parametrize("family", ("sim800", "ec25"))
def test_an_operator_answering_a_call_on_a_hung_modem_gets_no_traceback_or_rewritten_row(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator answers just after the modem hung: the answer times out, the row ends
    `modem_not_answering` with its decision unchanged (not rewritten to fail_open)."""
    caplog.set_level(logging.WARNING)

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass")
            bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            bench.modem.hung = True
            assert bench.service.answer("line1", "op1")
            await bench.wait_until(lambda: bench.line.call is None, "the call to be ended")
            row = bench.row()
            assert row["end_cause"] == "modem_not_answering"
            assert (row["decision"], row["reason"], row["reached_operator"]) == (
                "pass",
                "allowlist",
                0,
            )
            assert not bench.events("fail_open")
            no_tracebacks(caplog)

    run_virtual(scenario)


# --------------------------------------------------------------------------- watchdog


def test_a_call_waiting_past_the_operator_limit_raises_one_alarm_and_stays_up(
    tmp_path: Path,
) -> None:
    config = make_config(watchdog={"operator_ringing_s": 30.0, "connected_s": 60.0})

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", config=config) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            await bench.sleep(30.0 + CALL_POLL_S + 1.0)
            (event,) = bench.events("call_watchdog")
            assert detail(event)["state"] == "operator_ringing"
            assert detail(event)["action"] == "alarm"
            await bench.sleep(60.0)
            assert len(bench.events("call_watchdog")) == 1  # once per call and state
            assert bench.line.state is LineState.OPERATOR_RINGING and virtual.live

            assert bench.service.answer("line1", "op1")
            await bench.wait_state(LineState.CONNECTED)
            await bench.sleep(60.0 + CALL_POLL_S + 1.0)
            states = [detail(e)["state"] for e in bench.events("call_watchdog")]
            assert states == ["operator_ringing", "connected"]
            await hang_up_and_settle(bench, virtual)
            assert bench.row()["end_cause"] == "caller_hung_up"

    run_virtual(scenario)


def test_a_call_past_the_operator_limit_is_ended_where_the_centre_chooses_end(
    tmp_path: Path,
) -> None:
    config = make_config(watchdog={"operator_ringing_s": 30.0, "operator_ringing": "end"})

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", config=config) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            waiting = now()
            await bench.wait_idle_after(virtual)
            held_s = now() - waiting
            assert 30.0 <= held_s <= 30.0 + CALL_POLL_S + 1.0
            record_recovery("watchdog: operator ringing limit 30 s, call ended after", held_s)
            assert virtual.ended_by is EndedBy.HOST  # released on the modem, not left up
            row = bench.row()
            assert row["end_cause"] == "watchdog_operator_ringing"
            await next_caller_has_a_number(bench)

    run_virtual(scenario)


def test_a_challenge_held_past_its_limit_is_ended(tmp_path: Path) -> None:
    config = make_config(watchdog={"challenge_s": 8.0})

    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25", config=config) as bench:
            virtual = bench.ring()  # an unknown number: challenged; the caller never presses
            await wait_answered(bench, virtual)
            await bench.wait_idle_after(virtual)
            assert virtual.ended_by is EndedBy.HOST
            rows = assert_log_consistent(bench, calls=1)
            assert rows[0]["end_cause"] == "watchdog_challenging"
            assert detail(bench.events("call_watchdog")[0])["action"] == "end"

    run_virtual(scenario)


# --------------------------------------------------------------------------- what the logs say


def test_unterminated_garbage_warnings_are_rate_limited_with_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Why 7: 22 MB of garbage gave 5,376 warnings. Now the first ten, then every
    hundredth, each with the count so far."""
    caplog.set_level(logging.DEBUG, logger="firmware.at.channel")

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            for _ in range(64):
                bench.modem.inject(b"\xff" * 16_384)  # 1 MB without a line end
                await bench.sleep(0.05)
            await bench.sleep(1.0)
            assert bench.line.channel is not None
            drops = bench.line.channel._framer.dropped
            assert drops >= 200  # reads of up to 4 kB, each over the 2 kB line limit
            warned = [
                record.getMessage()
                for record in caplog.records
                if record.levelno == logging.WARNING and "line end" in record.getMessage()
            ]
            assert len(warned) == 10 + drops // 100
            assert warned[-1].endswith(f"({drops // 100 * 100} times so far)")
            await next_caller_has_a_number(bench)

    run_virtual(scenario)


@pytest.mark.parametrize("family", ("sim800", "huawei"))
def test_a_modem_answering_error_to_everything_is_reported_as_that_at_once(
    tmp_path: Path, family: str
) -> None:
    """Why 7: a modem answering ERROR to everything was reported as a timeout minutes
    later. Now the first health poll that gets an ERROR asks a plain AT, and an ERROR to
    that fails the line at once saying so; recovery clears `last_error`."""
    interval_s = 10.0

    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=interval_s) as bench:
            bench.modem.error_to_everything = True
            broke = now()
            await bench.wait_state(LineState.FAILED)
            reported_s = now() - broke
            assert reported_s <= interval_s + 1.0  # one poll, not two polls and timeouts
            record_recovery(f"ERROR to everything: reported after ({family}, 10 s polls)",
                            reported_s)  # fmt: skip
            error = bench.line.health.last_error or ""
            assert "ERROR to every command" in error and "timed out" not in error
            (failed,) = bench.events("line_failed")
            assert "ERROR to every command" in detail(failed)["error"]

            bench.modem.error_to_everything = False
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 30.0)
            assert bench.line.health.last_error is None
            assert line_status(bench)["last_error"] is None

    run_virtual(scenario)


BOOT_LINES = {
    "sim800": ("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"),
    "sim7600": ("RDY", "+CPIN: READY", "SMS DONE", "PB DONE"),
    "ec25": ("RDY", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"),
    "m95": ("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"),
}


@pytest.mark.parametrize("family", BOOTING_FAMILIES)
def test_one_reboot_with_boot_lines_seconds_apart_gives_one_reinitialisation(
    tmp_path: Path, family: str
) -> None:
    """Why 7: one reboot gave five re-initialisations and five events (one per boot
    line). A real modem prints its boot lines over seconds: one boot, one round."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.modem.silent_reset()  # settings gone, as in a reboot
            rebooted = now()
            for line in BOOT_LINES[family]:
                bench.modem.inject(f"\r\n{line}\r\n".encode())
                await bench.sleep(2.0)
            await bench.sleep(BOOT_LINES_GAP_S)
            assert len(bench.events("line_reinitialised")) == 1
            assert bench.commands_since(rebooted).count("AT+CLIP=1") == 1
            assert bench.line.state is LineState.IDLE and bench.modem.settings.clip
            await next_caller_has_a_number(bench)

    run_virtual(scenario)


BOOT_LINES_GAP_S = 35.0  # longer than a boot sequence (BOOT_SEQUENCE_S)


@pytest.mark.parametrize("family", ("sim800", "ec25"))
def test_a_reboot_that_drops_the_call_with_no_carrier_ends_it_as_modem_rebooted(
    tmp_path: Path, family: str
) -> None:
    """Why 7: a reboot during a challenge was logged `caller_hung_up` (the modem said
    NO CARRIER as it went down). The boot lines that follow say why it ended."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            assert bench.line.state is LineState.CHALLENGING
            bench.modem.reboot(delay_s=3.0, end_lines=True)
            await bench.wait_until(lambda: bool(bench.events("line_reinitialised")), "reinit")
            await bench.wait_state(LineState.IDLE)
            row = bench.row()
            assert row["end_cause"] == "modem_rebooted"
            assert row["challenge_result"] != "caller_hung_up"
            assert len(bench.events("line_reinitialised")) == 1

    run_virtual(scenario)


@pytest.mark.parametrize("stray", ["+CPIN: READY", "+CFUN: 1"])
def test_a_lone_boot_line_during_an_operator_call_is_not_a_reboot(
    tmp_path: Path, stray: str
) -> None:
    """Why 7: a lone `+CPIN: READY` or `+CFUN: 1` was taken for a reboot during an
    operator's call (ended after 1.8 s, the line re-initialised under it). Now it only
    has the settings read back; the call goes on."""

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await operator_takes_call(bench)
            stray_at = now()
            bench.modem.inject(f"\r\n{stray}\r\n".encode())
            await bench.sleep(30.0)
            assert bench.line.state is LineState.CONNECTED and virtual.live
            assert not bench.events("line_reinitialised") and not bench.events("settings_lost")
            assert "AT+CLIP?" in bench.commands_since(stray_at)  # the settings read back
            await hang_up_and_settle(bench, virtual)
            assert bench.row()["end_cause"] == "caller_hung_up"
            assert bench.row()["reached_operator"] == 1

    run_virtual(scenario)
