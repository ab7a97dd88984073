"""The line service's side of the lines page: `line_admin` and `line_requests` in.

The web UI is another process; these tests play its part with a second SQLite
connection, writing exactly what `web_ui.lines.service` writes (migration 0013), against the
real service, a real line and a virtual modem on a real pseudo-terminal.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import serial

from appliance.line_admin import ANSWER_MAX_CHARS, AT_TEST_COMMANDS, truncated_answer
from appliance.model import LineState
from firmware.virtual_modem import VirtualModem
from tests.appliance.conftest import Bench, open_bench, run_virtual

DESK_POLL_S = 0.25  # the line admin then polls every second (of virtual time)
TECHNICIAN = "teknisi1"


def web(bench: Bench) -> sqlite3.Connection:
    """The web process's own connection to the same database."""
    conn = sqlite3.connect(bench.db_path, timeout=5.0)
    conn.row_factory = sqlite3.Row
    return conn


def choose(bench: Bench, enabled: bool, line: str = "line1") -> None:
    """A technician's choice for a line, as the lines page writes it."""
    conn = web(bench)
    try:
        with conn:
            conn.execute(
                "INSERT INTO line_admin (line, enabled, updated_ts, updated_by)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(line) DO UPDATE SET enabled = excluded.enabled,"
                " updated_ts = excluded.updated_ts, updated_by = excluded.updated_by",
                (line, int(enabled), bench.clock.timestamp(), TECHNICIAN),
            )
    finally:
        conn.close()


def ask(bench: Bench, command: str, line: str = "line1", requested_ts: float | None = None) -> int:
    """An AT test, as the lines page writes it; its id."""
    conn = web(bench)
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO line_requests (kind, line, command, requested_by, requested_ts)"
                " VALUES ('at_test', ?, ?, ?, ?)",
                (
                    line,
                    command,
                    TECHNICIAN,
                    bench.clock.timestamp() if requested_ts is None else requested_ts,
                ),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid
    finally:
        conn.close()


def request_row(bench: Bench, request_id: int) -> dict[str, Any]:
    bench.call_log.flush(10.0)
    conn = web(bench)
    try:
        row = conn.execute("SELECT * FROM line_requests WHERE id = ?", (request_id,)).fetchone()
        return dict(row) if row is not None else {}
    finally:
        conn.close()


async def outcome(bench: Bench, request_id: int) -> dict[str, Any]:
    """The request once the service has filled its result."""
    await bench.wait_until(
        lambda: request_row(bench, request_id).get("result") is not None,
        f"line request {request_id} to be done",
        timeout_s=30.0,
    )
    row = request_row(bench, request_id)
    assert row["done_ts"] is not None and row["done_at"] is not None
    return row


def published_state(bench: Bench) -> str:
    assert bench.call_log.flush(10.0)
    conn = web(bench)
    try:
        row = conn.execute("SELECT state FROM line_status WHERE line = 'line1'").fetchone()
        return str(row["state"]) if row is not None else ""
    finally:
        conn.close()


def port_is_free(modem: VirtualModem) -> bool:
    """True if another program (a technician's terminal) could open the modem's port now:
    the line holds it with an exclusive lock while it runs."""
    try:
        probe = serial.Serial(modem.port, 115200, timeout=0, exclusive=True)
    except (serial.SerialException, OSError):
        return False
    probe.close()
    return True


def detail(event: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(event["detail"] or "{}"))


# ------------------------------------------------------------------ enable and disable


def test_a_disabled_line_lets_go_of_its_modem_and_stays_disabled_across_a_restart(
    tmp_path: Path,
) -> None:
    async def first_run() -> None:
        async with open_bench(tmp_path, "sim7600", desk_poll_s=DESK_POLL_S) as bench:
            assert not port_is_free(bench.modem)  # the running line holds it
            choose(bench, enabled=False)
            await bench.wait_state(LineState.DISABLED, timeout_s=5.0)
            assert bench.line.channel is None and port_is_free(bench.modem)
            assert published_state(bench) == "disabled"
            [event] = bench.events("line_disabled")
            assert detail(event) == {"by": TECHNICIAN}
            await bench.sleep(600.0)  # no reconnecting, no recovery ladder, no alarm
            assert bench.line.state is LineState.DISABLED
            assert bench.events("recovery") == [] and bench.events("line_failed") == []

    run_virtual(first_run)

    async def second_run() -> None:
        async with open_bench(
            tmp_path, "sim7600", desk_poll_s=DESK_POLL_S, wait_idle=False
        ) as bench:
            await bench.sleep(5.0)
            assert bench.line.state is LineState.DISABLED
            assert published_state(bench) == "disabled"
            assert bench.commands_sent() == []  # the port was never opened
            assert port_is_free(bench.modem)

            choose(bench, enabled=True)
            await bench.wait_state(LineState.IDLE, timeout_s=10.0)
            assert published_state(bench) == "idle"
            assert not port_is_free(bench.modem)
            assert [detail(event) for event in bench.events("line_enabled")] == [{"by": TECHNICIAN}]
            assert bench.line.health.family == "sim7600" and bench.line.health.imei

    run_virtual(second_run)


def test_a_failed_line_can_be_disabled_and_climbs_the_ladder_no_more(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25", desk_poll_s=DESK_POLL_S) as bench:
            bench.modem.unplug()
            await bench.wait_state(LineState.FAILED, timeout_s=30.0)
            choose(bench, enabled=False)
            await bench.wait_state(LineState.DISABLED, timeout_s=5.0)
            steps_before = len(bench.events("recovery"))
            await bench.sleep(900.0)
            assert bench.line.state is LineState.DISABLED
            assert len(bench.events("recovery")) == steps_before

    run_virtual(scenario)


def test_a_call_in_progress_is_never_cut_by_a_disable(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", desk_poll_s=DESK_POLL_S) as bench:
            virtual = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)
            busy = ask(bench, "AT+CSQ")
            assert (await outcome(bench, busy))["result"] == "not_ready"
            choose(bench, enabled=False)
            await bench.sleep(3.0)  # three polls: the call goes on
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            await bench.sleep(3.0)
            assert bench.line.state is LineState.OPERATOR_RINGING
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_state(LineState.DISABLED, timeout_s=10.0)
            assert bench.row()["end_cause"] == "caller_hung_up"
            disabled = ask(bench, "AT+CSQ")
            assert (await outcome(bench, disabled))["result"] == "not_ready"

    run_virtual(scenario)


# ------------------------------------------------------------------ AT tests


def test_an_at_test_returns_the_modems_own_answer(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600", desk_poll_s=DESK_POLL_S) as bench:
            bench.modem.signal = 17
            signal = await outcome(bench, ask(bench, "AT+CSQ"))
            assert signal["result"] == "ok" and signal["answer"] == "+CSQ: 17,0\nOK"
            network = await outcome(bench, ask(bench, "AT+COPS?"))
            assert network["result"] == "ok" and "TELKOMSEL" in network["answer"]
            # A command the modem refuses: its error result is the answer.
            bench.modem.sim_status = "NOT INSERTED"
            sim = await outcome(bench, ask(bench, "AT+CPIN?"))
            assert sim["result"] == "error" and "ERROR" in sim["answer"]
            assert bench.line.state is LineState.IDLE  # a test is no health failure

    run_virtual(scenario)


@pytest.mark.parametrize("command", ["ATD112;", "AT+CFUN=0", "ATH", "AT+CSQ;D112;", "at+csq"])
def test_a_command_outside_the_list_is_refused_and_never_sent(tmp_path: Path, command: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "m95", desk_poll_s=DESK_POLL_S) as bench:
            before = len(bench.commands_sent())
            refused = await outcome(bench, ask(bench, command))
            assert refused["result"] == "refused" and refused["answer"] is None
            assert bench.commands_sent()[before:] == []
            assert command not in AT_TEST_COMMANDS

    run_virtual(scenario)


def test_requests_for_unknown_lines_and_stale_ones_are_answered(tmp_path: Path) -> None:
    async def first_run() -> float:
        async with open_bench(tmp_path, "sim800", desk_poll_s=DESK_POLL_S) as bench:
            unknown = await outcome(bench, ask(bench, "AT", line="line9"))
            assert unknown["result"] == "no_such_line"
            return bench.clock.timestamp()

    stopped_ts = run_virtual(first_run)
    conn = sqlite3.connect(tmp_path / "siaga.db")
    with conn:  # the service is down: a technician's test waits in the table
        conn.execute(
            "INSERT INTO line_requests (kind, line, command, requested_by, requested_ts)"
            " VALUES ('at_test', 'line1', 'AT', ?, ?)",
            (TECHNICIAN, stopped_ts - 3600.0),
        )
        stale_id = int(conn.execute("SELECT max(id) FROM line_requests").fetchone()[0])
    conn.close()

    async def second_run() -> None:
        async with open_bench(tmp_path, "sim800", desk_poll_s=DESK_POLL_S) as bench:
            assert (await outcome(bench, stale_id))["result"] == "expired"
            fresh = await outcome(bench, ask(bench, "AT"))
            assert fresh["result"] == "ok" and fresh["answer"] == "OK"

    run_virtual(second_run)


def test_long_answers_are_cut_to_a_sane_length() -> None:
    answer = truncated_answer(tuple(f"+CLAC: line {n}" for n in range(1000)))
    assert len(answer) == ANSWER_MAX_CHARS and answer.endswith("...")
    assert truncated_answer(("+CSQ: 20,0", "OK")) == "+CSQ: 20,0\nOK"
