"""The wall clock jumping: hours forward (NTP stepping a Pi that booted without an RTC)
and minutes back (a wrong time corrected by hand or by a GSM network's NITZ).

Asyncio's timers run on the monotonic clock, which never jumps; every timestamp the
policy and the call log use comes from the wall clock (`Clock.timestamp()`). The bench's
`LoopClock` maps loop time to the calendar from an epoch, so moving that epoch is exactly
a step of the wall clock under a running service. Proves: throttle windows and rule
expiries follow the new time (forward) and are not fooled (back), nothing crashes, every
call keeps its row and the next call is screened with no recovery at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.clock import LoopClock
from appliance.model import LineState
from tests.appliance.conftest import CALLER, Bench, open_bench, run_virtual
from tests.appliance.test_line import assert_log_consistent, operator_takes_call, wait_answered
from tests.faults.conftest import record_recovery

pytestmark = pytest.mark.timeout(90)

HOUR_S = 3600.0
OTHER = "082299887766"


def step_wall_clock(clock: LoopClock, seconds: float) -> None:
    """Step the wall clock under the running service by `seconds` (either way).

    LoopClock has no public setter (nothing on the box may set the time); the epoch is
    the one field that maps loop time to the calendar.
    """
    clock._epoch_ts += seconds  # deliberate: this *is* the fault


async def quick_call(bench: Bench, number: str = CALLER) -> dict[str, object]:
    """A caller rings and gives up after 2 s; the call's row."""
    virtual = bench.ring(number)
    await bench.sleep(2.0)
    bench.modem.caller_hangs_up(virtual)
    await bench.wait_idle_after(virtual)
    return bench.rows()[-1]


def test_throttle_windows_and_rule_expiry_follow_a_clock_stepped_forward_then_back(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            # A temporary block on another number, expiring in one hour.
            bench.rule_store.add(
                {
                    "kind": "block",
                    "pattern": "+6282299887766",
                    "action": "reject",
                    "reason": "fault test",
                    "created_by": "supervisor",
                    "created_ts": bench.clock.timestamp() - 1.0,
                    "expires_ts": bench.clock.timestamp() + HOUR_S,
                }
            )
            bench.service.reload_rules()
            assert (await quick_call(bench, OTHER))["reason"] == "blocklist"
            # Four calls in a few seconds: the fourth is over throttle.max_calls (3).
            reasons = [(await quick_call(bench))["reason"] for _ in range(4)]
            assert reasons == ["no_history"] * 3 + ["throttle"]

            step_wall_clock(bench.clock, 3 * HOUR_S)  # NTP steps the clock forward
            row = await quick_call(bench)
            assert row["reason"] == "no_history"  # the 10-minute window is long gone
            assert (await quick_call(bench, OTHER))["reason"] != "blocklist"  # expired

            step_wall_clock(bench.clock, -10 * 60.0)  # and back by ten minutes
            for _ in range(4):
                row = await quick_call(bench)
                assert row["decision"] == "challenge" and row["ended_at"] is not None
            assert bench.line.state is LineState.IDLE
            rows = assert_log_consistent(bench, calls=11)
            assert all(isinstance(r["decision_us"], int) for r in rows)
            assert not bench.events("line_crashed") and not bench.events("flood_on")
            record_recovery("clock stepped +3 h then -10 min (screening never stopped)", 0.0)

    run_virtual(scenario)


def test_a_clock_stepped_forward_then_back_keeps_the_throttle_memory(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            await quick_call(bench, OTHER)
            for _ in range(4):
                await quick_call(bench)
            step_wall_clock(bench.clock, 3 * HOUR_S)
            await quick_call(bench)
            await quick_call(bench, OTHER)
            step_wall_clock(bench.clock, -10 * 60.0)  # the next prune comes after this step
            reasons = [(await quick_call(bench))["reason"] for _ in range(4)]
            # Four calls in 8 s on the corrected clock: the fourth is over the limit (3).
            assert reasons == ["no_history"] * 3 + ["throttle"]

    run_virtual(scenario)


def test_a_call_in_progress_across_a_backward_step_keeps_a_sane_duration(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            await bench.sleep(5.0)
            step_wall_clock(bench.clock, -10 * 60.0)
            await bench.sleep(5.0)
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            row = bench.row()
            assert row["ended_ts"] >= row["started_ts"]
            assert row["line_seconds"] >= 0

    run_virtual(scenario)


def test_a_forward_step_while_every_line_is_busy_raises_no_flood_alarm(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            bench.add_rule("allow", "pass")
            bench.ring()
            await operator_takes_call(bench)  # the only line is busy: 'all lines busy'
            await bench.sleep(20.0)  # well under flood.saturation_s (60 s)
            step_wall_clock(bench.clock, 3 * HOUR_S)
            await bench.sleep(20.0)  # a flood tick (every 10 s) sees the new time
            assert not bench.service.policy.flood_active
            assert not bench.events("flood_on")

    run_virtual(scenario)
