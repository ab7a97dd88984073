"""One call, one row, one number: doubtful caller data from the modem.

Each test runs the real service against a virtual modem over a real pty (the line bench
of `tests/appliance/conftest.py`, on a virtual clock, or a real `siaga run` for the
restart), injects one fault of the caller data and proves what a user relies on: no
phantom row, no number dropped without a trace, one row per call.

- a burst of bare RINGs (no call behind them, no +CLIP): no rows, one `phantom_ring`
  event; the next real caller is screened as usual;
- a stale NO CARRIER between RING and +CLIP: no `pass/default` phantom row, no asyncio
  error, the call screened on its number;
- a second +CLIP number in one ring cycle: both numbers in the one row, and a warning;
- +CLIP only with the second RING: the number from AT+CLCC, or (a modem that lists the
  ringing call without it) the late +CLIP updates the row and the decision;
- a call ringing through a restart of `siaga run` (kill -9): one row.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.line import CLIP_WAIT_S
from appliance.model import LineState
from tests.appliance.conftest import CALLER, CALLER_E164, make_config, open_bench, run_virtual
from tests.appliance.test_line import hang_up_and_settle, operator_takes_call, wait_answered
from tests.faults.conftest import REPO_ROOT, RunCentre, record_recovery, wait_real

pytestmark = pytest.mark.timeout(120)

FAMILIES = ("sim800", "ec25")  # a SIMCom and a Quectel dialect
OTHER = "081399998888"
OTHER_E164 = "+6281399998888"


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every ERROR (or worse) logged, asyncio's included."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_burst_of_bare_rings_is_one_event_and_no_rows(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            burst_started = bench.loop.time()
            for _ in range(10):  # 5 s of noise: 2,000 bare RINGs every half second
                bench.modem.ring_burst(2_000)
                await bench.sleep(0.5)
            await bench.wait_state(LineState.IDLE)
            assert bench.rows() == []  # the issue saw 5 phantom rows in 5 s
            [event] = bench.events("phantom_ring")
            assert json.loads(event["detail"])["rings"] >= 1
            assert "AT+CLCC" in bench.commands_sent()  # the modem was asked, not trusted
            record_recovery(
                f"RING burst: noise until the line is idle again ({family})",
                bench.loop.time() - burst_started,
            )

            await bench.sleep(2.0)  # the burst is over: the next caller is a call
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            await hang_up_and_settle(bench, virtual)
            [row] = bench.rows()
            assert (row["caller"], row["decision"]) == (CALLER_E164, "challenge")
            assert len(bench.events("phantom_ring")) == 1

    with caplog.at_level(logging.WARNING):
        run_virtual(scenario)
    assert not errors(caplog)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_stale_no_carrier_between_ring_and_clip_makes_no_phantom_row(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.modem.stale_no_carrier = True
            virtual = bench.ring()
            await wait_answered(bench, virtual)  # screened on its number and challenged
            await hang_up_and_settle(bench, virtual)
            [row] = bench.rows()  # before: a pass/default row without a number, then this
            assert (row["caller"], row["decision"], row["reason"]) == (
                CALLER_E164,
                "challenge",
                "no_history",
            )
            assert row["end_cause"] == "caller_hung_up"

    with caplog.at_level(logging.WARNING):
        run_virtual(scenario)
    assert not errors(caplog)  # the issue saw an asyncio ERROR here
    assert any("stale NO CARRIER" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_second_number_in_one_ring_cycle_is_kept_in_the_row_and_logged(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.modem.second_clip_number = OTHER
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            await hang_up_and_settle(bench, virtual)
            [row] = bench.rows()
            assert (row["caller_raw"], row["caller"]) == (CALLER, CALLER_E164)
            assert (row["other_caller_raw"], row["other_caller"]) == (OTHER, OTHER_E164)
            assert row["decision"] == "challenge"  # screened on the first number

    with caplog.at_level(logging.WARNING):
        run_virtual(scenario)
    warnings = [r.getMessage() for r in caplog.records if "second number" in r.getMessage()]
    assert len(warnings) == 1 and OTHER in warnings[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_clip_only_with_the_second_ring_is_found_with_clcc_at_once(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.modem.clip_from_ring = 2
            virtual = bench.ring()
            answered_at = await wait_answered(bench, virtual)
            assert answered_at - virtual.started_at < CLIP_WAIT_S + 1.0  # not a ring later
            await hang_up_and_settle(bench, virtual)
            [row] = bench.rows()
            assert (row["caller"], row["number_class"]) == (CALLER_E164, "number")

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_late_clip_while_the_call_still_rings_updates_the_row_and_the_decision(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The modem lists the ringing call without its number, so the call is decided without
    one (this site passes such calls to an operator); the number comes with the second
    RING while the call still rings for the desk, and it is on the blocklist."""

    async def scenario() -> None:
        config = make_config(policy={"unavailable_action": "pass"})
        async with open_bench(tmp_path, family, config=config) as bench:
            bench.add_rule("block", "reject")
            bench.modem.clip_from_ring = 2
            bench.modem.clcc_hides_number = True
            virtual = bench.ring()
            await bench.wait_until(lambda: bool(bench.desk.waiting), "the desk to be alerted")
            first = bench.row()
            assert (first["caller"], first["decision"]) == (None, "pass")
            await bench.wait_idle_after(virtual)  # the second RING's +CLIP: released
            assert virtual.release is not None and virtual.answered_at is None
            [row] = bench.rows()
            assert (row["caller_raw"], row["caller"]) == (CALLER, CALLER_E164)
            assert (row["decision"], row["reason"], row["end_cause"]) == (
                "reject",
                "blocklist",
                "rejected",
            )

    with caplog.at_level(logging.WARNING):
        run_virtual(scenario)
    assert any("came only with a later RING" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_late_clip_that_still_passes_the_call_keeps_it_for_the_operator(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        config = make_config(policy={"unavailable_action": "pass"})
        async with open_bench(tmp_path, family, config=config) as bench:
            bench.add_rule("allow", "pass")
            bench.modem.clip_from_ring = 2
            bench.modem.clcc_hides_number = True
            virtual = bench.ring()
            await bench.sleep(7.0)  # past the second RING
            assert bench.line.state is LineState.OPERATOR_RINGING
            await operator_takes_call(bench)
            await hang_up_and_settle(bench, virtual)
            [row] = bench.rows()
            assert (row["caller"], row["decision"], row["reason"]) == (
                CALLER_E164,
                "pass",
                "allowlist",
            )
            assert row["reached_operator"] == 1 and len(bench.desk.waiting) == 1

    run_virtual(scenario)


def siaga_cli(*args: str) -> None:
    """One `siaga` command, as a supervisor would type it."""
    result = subprocess.run(
        [sys.executable, "-m", "web_ui.cli", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_a_call_ringing_through_a_restart_of_siaga_run_is_one_row(tmp_path: Path) -> None:
    centre = RunCentre(tmp_path)
    try:
        siaga_cli("allow", "add", CALLER, "--reason", "fault test", "--config", str(centre.config))
        centre.start()
        call = centre.ring(CALLER)  # passed: it rings for an operator, nobody answers
        [before] = wait_real(lambda: centre.calls(), "the call's row")
        assert (before["decision"], before["caller"]) == ("pass", CALLER_E164)
        assert centre.service is not None
        centre.service.kill()
        killed = time.monotonic()
        centre.start()  # systemd's Restart=; the caller is still ringing
        wait_real(lambda: centre.events("call_resumed"), "the ringing call to be taken over")
        resumed_s = time.monotonic() - killed
        centre.hang_up(call)
        [row] = wait_real(
            lambda: (r := centre.calls()) and r[-1]["end_cause"] not in (None, "interrupted") and r,
            "the call to end",
        )
    finally:
        centre.close()
    assert row["id"] == before["id"] and row["started_ts"] == before["started_ts"]
    assert (row["caller"], row["decision"], row["reason"]) == (CALLER_E164, "pass", "allowlist")
    assert row["end_cause"] == "caller_hung_up" and row["ended_at"] is not None
    assert row["interrupted"] == 1  # the trace of the restart stays
    record_recovery("call ringing through kill -9 of siaga run: taken over", resumed_s, "real")
