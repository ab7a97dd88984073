"""The line service's side of the console: `line_status` out, `desk_requests` in.

The web UI is another process; these tests play its part with a second SQLite
connection, writing and reading exactly what the web process does (migration 0007).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from appliance.model import LineState
from firmware.virtual_modem import CallerSound
from tests.appliance.conftest import CALLER, CALLER_E164, Bench, open_bench, run_virtual

POLL_S = 0.25


def web(bench: Bench) -> sqlite3.Connection:
    """The web process's own connection to the same database."""
    conn = sqlite3.connect(bench.db_path, timeout=5.0)
    conn.row_factory = sqlite3.Row
    return conn


def ask(bench: Bench, kind: str, **fields: Any) -> int:
    """Write a console request as the web UI does; its id."""
    conn = web(bench)
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO desk_requests (kind, line, call_id, disposition, operator,"
                " requested_ts) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    fields.get("line", "line1"),
                    fields.get("call_id"),
                    fields.get("disposition"),
                    fields.get("operator", "siti"),
                    bench.clock.timestamp(),
                ),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid
    finally:
        conn.close()


def status(bench: Bench) -> dict[str, Any]:
    assert bench.call_log.flush(10.0)
    conn = web(bench)
    try:
        row = conn.execute("SELECT * FROM line_status WHERE line = 'line1'").fetchone()
        assert row is not None, "no line_status row for line1"
        return dict(row)
    finally:
        conn.close()


async def result_of(bench: Bench, request_id: int) -> str:
    def done() -> bool:
        bench.call_log.flush(10.0)
        conn = web(bench)
        try:
            row = conn.execute(
                "SELECT result FROM desk_requests WHERE id = ?", (request_id,)
            ).fetchone()
            return row is not None and row["result"] is not None
        finally:
            conn.close()

    await bench.wait_until(done, f"desk request {request_id} to be done", timeout_s=5.0)
    conn = web(bench)
    try:
        row = conn.execute("SELECT * FROM desk_requests WHERE id = ?", (request_id,)).fetchone()
        assert row["done_ts"] is not None and row["done_at"] is not None
        return str(row["result"])
    finally:
        conn.close()


def test_line_status_follows_a_call_from_idle_to_the_operator_and_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600") as bench:
            idle = status(bench)
            assert idle["state"] == "idle" and idle["call_id"] is None
            assert idle["family"] == "sim7600" and idle["imei"] and idle["desk"] == "desk1"
            virtual = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)
            challenging = status(bench)
            assert challenging["state"] == "challenging"
            assert challenging["caller_raw"] == CALLER and challenging["caller"] == CALLER_E164
            assert challenging["decision"] == "challenge"
            assert challenging["reason"] == "no_history"
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            waiting = status(bench)
            assert waiting["state"] == "operator_ringing"
            assert waiting["challenge_result"] == "passed" and waiting["unverified"] == 0
            assert waiting["waiting_since_ts"] is not None and waiting["since_at"]
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            after = status(bench)
            assert after["state"] == "idle" and after["call_id"] is None
            assert after["caller_raw"] is None

    run_virtual(scenario)


def test_console_answers_records_a_disposition_and_hangs_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25", desk_poll_s=POLL_S) as bench:
            virtual = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            call_id = status(bench)["call_id"]
            assert await result_of(bench, ask(bench, "answer", call_id=call_id)) == "ok"
            await bench.wait_state(LineState.CONNECTED)
            connected = status(bench)
            assert connected["state"] == "connected" and connected["operator"] == "siti"
            request = ask(bench, "disposition", call_id=call_id, disposition="genuine:fire")
            assert await result_of(bench, request) == "ok"
            assert await result_of(bench, ask(bench, "hang_up", call_id=call_id)) == "ok"
            await bench.wait_idle_after(virtual)
            row = bench.row()
            assert row["reached_operator"] == 1 and row["operator"] == "siti"
            assert row["disposition"] == "genuine:fire"
            # The verdict reached the policy: the number is immune now.
            assert bench.service.policy.has_good_history(CALLER_E164, bench.clock.timestamp())

    run_virtual(scenario)


def test_requests_for_the_wrong_call_or_line_change_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", desk_poll_s=POLL_S) as bench:
            virtual = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            call_id = status(bench)["call_id"]
            assert await result_of(bench, ask(bench, "answer", call_id=call_id + 1)) == (
                "no_such_call"
            )
            assert await result_of(bench, ask(bench, "answer", line="line9", call_id=call_id)) == (
                "invalid"
            )
            assert await result_of(bench, ask(bench, "hang_up", call_id=call_id)) == "no_such_call"
            bad = ask(bench, "disposition", call_id=call_id, disposition="genuine:dragon")
            assert await result_of(bench, bad) == "invalid"
            unknown = ask(bench, "disposition", call_id=9999, disposition="prank")
            assert await result_of(bench, unknown) == "no_such_call"
            assert bench.line.state is LineState.OPERATOR_RINGING  # still waiting
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            assert bench.row()["disposition"] is None

    run_virtual(scenario)


def test_pranks_recorded_at_the_console_feed_the_abuse_ladder(tmp_path: Path) -> None:
    """Three pranks from the console: the next silent call is released, not passed."""

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600", desk_poll_s=POLL_S) as bench:
            for _ in range(3):
                virtual = bench.ring(sound=CallerSound("voice", start_s=1.0))
                await bench.wait_state(LineState.CHALLENGING)
                bench.modem.caller_presses("5")
                await bench.wait_until(
                    lambda: bench.line.state is LineState.OPERATOR_RINGING,
                    "the operator to be alerted",
                    timeout_s=90.0,
                )
                call_id = status(bench)["call_id"]
                assert await result_of(bench, ask(bench, "answer", call_id=call_id)) == "ok"
                request = ask(bench, "disposition", call_id=call_id, disposition="prank")
                assert await result_of(bench, request) == "ok"
                bench.modem.caller_hangs_up(virtual)
                await bench.wait_idle_after(virtual)
            now = bench.clock.timestamp()
            ladder = bench.service.policy.ladder_status(CALLER_E164, now)
            assert ladder is not None and ladder.level == 1

    run_virtual(scenario)


def test_requests_left_while_the_service_was_down_expire_or_apply_at_start(
    tmp_path: Path,
) -> None:
    async def first_run() -> int:
        async with open_bench(tmp_path, "sim800") as bench:
            virtual = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            return int(bench.row()["id"])

    call_id = run_virtual(first_run)
    conn = sqlite3.connect(tmp_path / "siaga.db")
    with conn:  # the service is down: the console still takes the operator's requests
        for kind, disposition in (("answer", None), ("disposition", "ghost")):
            conn.execute(
                "INSERT INTO desk_requests (kind, line, call_id, disposition, operator,"
                " requested_ts) VALUES (?, 'line1', ?, ?, 'siti', 0)",
                (kind, call_id, disposition),
            )
    conn.close()

    async def second_run() -> None:
        async with open_bench(tmp_path, "sim800", desk_poll_s=POLL_S) as bench:
            assert await result_of(bench, 1) == "expired"
            assert await result_of(bench, 2) == "ok"
            assert bench.rows()[0]["disposition"] == "ghost"

    run_virtual(second_run)
