"""Modem faults in the middle of a call: unplug and replug, reboot, garbage, silence.

Each test runs one line of the real service against a virtual modem on a real pty, on a
virtual clock (`tests/appliance/conftest.py`), injects the fault while a call is in
progress, and proves: the call in progress still ends in exactly one row (or reaches an
operator), the line comes back on its own, and the next call is screened as usual. The
recovery time is measured on the line's own (virtual) clock, the one its back-off and
timeouts run on, so it is the figure the box would show.

tests/appliance/test_line.py already covers each fault on an idle line or with the call
passed to an operator, for every family; here the fault lands mid-challenge or
mid-call *and* the line must recover and screen the next caller, on two families (one
that plays prompts on the modem and cannot listen, one that hands audio to the host).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from appliance.line import BACKOFF_MAX_S, COMMAND_TIMEOUT_S
from appliance.model import LineState
from tests.appliance.conftest import CALLER_E164, Bench, open_bench, run_virtual
from tests.appliance.test_line import (
    assert_log_consistent,
    hang_up_and_settle,
    operator_takes_call,
    wait_answered,
)
from tests.faults.conftest import record_recovery

pytestmark = pytest.mark.timeout(90)

FAULT_FAMILIES = ("sim800", "ec25")
NEXT_CALLER = "085712345678"  # a number with no history: the policy challenges it


def now(bench: Bench) -> float:
    """The bench's loop time (virtual seconds)."""
    return asyncio.get_running_loop().time()


async def next_call_is_screened(bench: Bench) -> None:
    """A new caller after the fault is challenged, presses the key and reaches an operator."""
    virtual = bench.ring(NEXT_CALLER)
    await wait_answered(bench, virtual)
    assert bench.line.state is LineState.CHALLENGING
    bench.modem.caller_presses("5")
    await operator_takes_call(bench)
    await hang_up_and_settle(bench, virtual)
    last = bench.rows()[-1]
    assert (last["decision"], last["reason"], last["challenge_result"]) == (
        "challenge",
        "no_history",
        "passed",
    )


@pytest.mark.parametrize("outage_s", [5.0, 300.0])
@pytest.mark.parametrize("family", FAULT_FAMILIES)
def test_modem_unplugged_mid_call_and_plugged_back_recovers_and_screens_the_next_call(
    tmp_path: Path, family: str, outage_s: float
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, link=tmp_path / "modem") as bench:
            bench.add_rule("allow", "pass")
            bench.ring()
            await operator_takes_call(bench)  # an operator is talking to the caller
            bench.unplug()
            await bench.wait_state(LineState.FAILED)
            row = bench.row()
            assert row["end_cause"] == "line_failed" and row["reached_operator"] == 1
            assert row["ended_at"] is not None and row["caller"] == CALLER_E164
            assert len(bench.desk.ended) == 1  # the console was told the call ended

            await bench.sleep(outage_s)
            assert bench.line.state is LineState.FAILED
            bench.plug_in_as(await bench.modem.replug())
            replugged = now(bench)
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 30.0)
            recovery_s = now(bench) - replugged
            # The next reconnect attempt comes at most one back-off period later.
            assert recovery_s <= min(2 * outage_s, BACKOFF_MAX_S) + 5.0
            record_recovery(
                f"unplug mid-call, replug after {outage_s:.0f} s ({family})", recovery_s
            )

            await next_call_is_screened(bench)
            rows = assert_log_consistent(bench, calls=2)
            assert [r["end_cause"] for r in rows] == ["line_failed", "caller_hung_up"]
            assert len(bench.events("line_failed")) == 1
            assert len(bench.events("line_up")) == 2

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAULT_FAMILIES)
def test_modem_rebooting_during_a_challenge_ends_the_call_in_a_row_and_recovers(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            assert bench.line.state is LineState.CHALLENGING
            rebooted = now(bench)
            bench.modem.reboot(delay_s=8.0)  # SIM800s take seconds to boot and register
            await bench.wait_until(
                lambda: bool(bench.events("line_reinitialised")), "re-initialisation"
            )
            await bench.wait_state(LineState.IDLE)
            recovery_s = now(bench) - rebooted
            assert recovery_s <= 8.0 + 10.0
            record_recovery(f"reboot mid-challenge, 8 s boot ({family})", recovery_s)

            row = bench.row()
            assert row["end_cause"] == "modem_rebooted" and row["ended_at"] is not None
            assert row["decision"] == "challenge"
            await next_call_is_screened(bench)
            assert_log_consistent(bench, calls=2)

    run_virtual(scenario)


GARBAGE = (
    b"\xff" * 512  # a floating RX line reads as 0xFF
    + b"\r\n\x00\x00\xff\xfe+CL\xffIP: \x07\x1b[2J\r\n"
    + bytes(range(256))
    + b"\r\nOK\r\nERROR\r\n+CME ERROR: 3\r\nNO CARRI\xffER\r\n"
    + b"\xff" * 4096  # longer than any line the framer keeps
    + b"\r\n"
)


@pytest.mark.parametrize("family", FAULT_FAMILIES)
def test_garbage_and_0xff_during_a_challenge_do_not_lose_the_call_or_the_key(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            assert bench.line.state is LineState.CHALLENGING
            for _ in range(3):
                bench.modem.inject(GARBAGE)
                await bench.sleep(0.2)
            assert bench.line.state is LineState.CHALLENGING and virtual.live
            pressed = now(bench)
            bench.modem.caller_presses("5")
            bench.modem.inject(GARBAGE)  # more noise between the key and its handling
            await bench.wait_state(LineState.OPERATOR_RINGING)
            # No outage: the key still gets through, as fast as on a clean line (< 1 s).
            recovery_s = now(bench) - pressed
            assert recovery_s < 1.0
            record_recovery(f"garbage mid-challenge: key to operator alert ({family})", recovery_s)
            assert bench.line.channel is not None and bench.line.channel.garbage_lines >= 3
            assert bench.service.answer("line1", "op1")
            await bench.wait_state(LineState.CONNECTED)
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert (row["challenge_result"], row["reached_operator"]) == ("passed", 1)

            await next_call_is_screened(bench)
            assert_log_consistent(bench, calls=2)
            assert not bench.events("line_failed")

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAULT_FAMILIES)
def test_modem_going_silent_mid_call_still_logs_the_call_and_the_line_recovers(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=10.0) as bench:
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            assert bench.line.state is LineState.CHALLENGING
            bench.modem.silent = True  # firmware hang: commands vanish, URCs still flow
            went_silent = now(bench)
            bench.modem.caller_presses("5")  # the key arrives; stopping the prompt times out
            # Fail open: the caller reaches the desk although the modem does not answer.
            await bench.wait_until(lambda: bool(bench.desk.waiting), "the desk to be alerted")
            assert now(bench) - went_silent <= 3 * COMMAND_TIMEOUT_S
            bench.modem.caller_hangs_up(virtual)  # nobody could answer: the caller gives up
            await bench.wait_until(lambda: bench.line.call is None, "the call to end")
            row = bench.row()
            assert row["ended_at"] is not None and row["decision"] in ("challenge", "pass")

            # Idle and still silent: health polls fail and the line resets itself.
            await bench.wait_state(LineState.FAILED, timeout_s=120.0)
            await bench.sleep(30.0)
            bench.modem.silent = False
            answering = now(bench)
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 30.0)
            recovery_s = now(bench) - answering
            assert recovery_s <= BACKOFF_MAX_S + 10.0
            record_recovery(f"silent modem answers again after 30 s ({family})", recovery_s)

            await next_call_is_screened(bench)
            assert_log_consistent(bench, calls=2)
            assert len(bench.events("line_failed")) == 1

    run_virtual(scenario)


MISSED_CALLER = "081311112222"


@pytest.mark.parametrize("family", FAULT_FAMILIES)
def test_a_call_ringing_while_the_line_initialises_is_logged_for_a_call_back(
    tmp_path: Path, family: str
) -> None:
    """The line cannot answer while it initialises (here: its modem stopped answering and
    it is being set up again), but the caller who rang must not go unnoticed."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=10.0) as bench:
            bench.modem.silent = True  # firmware hang: commands vanish, URCs still flow
            await bench.wait_state(LineState.INITIALISING, timeout_s=180.0)
            virtual = bench.ring(MISSED_CALLER)
            await bench.sleep(12.0)  # a few rings while the line waits for its modem
            bench.modem.caller_hangs_up(virtual)  # the caller gives up
            bench.modem.silent = False
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 60.0)

            [missed] = bench.events("missed_call")
            detail = json.loads(missed["detail"])
            assert detail["caller_raw"] == MISSED_CALLER
            assert detail["caller"] == "+62" + MISSED_CALLER[1:]
            assert detail["rings"] >= 2 and detail["while"] == "initialising"
            assert bench.rows() == []  # never answered: an event to call back, not a call
            await next_call_is_screened(bench)
            assert len(bench.events("missed_call")) == 1

    run_virtual(scenario)


def test_a_call_ringing_as_the_previous_one_is_released_is_screened_at_once(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            bench.add_rule("block", "reject")
            calls = []

            def next_caller(ended: object) -> None:  # the network's next caller, at once
                if len(calls) < 2:
                    calls.append(bench.ring())

            bench.modem.on_ended = next_caller
            calls.append(bench.ring())
            await bench.wait_until(lambda: len(calls) == 2, "the second call")
            await bench.sleep(3.0)  # less than a ring period; the caller gives up
            if calls[1].live:
                bench.modem.caller_hangs_up(calls[1])
            await bench.wait_idle_after(calls[1])
            assert calls[1].release == "ATH"  # screened (rejected) before giving up
            assert len(bench.rows()) == 2

    run_virtual(scenario)
