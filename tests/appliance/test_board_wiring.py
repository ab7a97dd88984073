"""The board as the line service drives it: status LED, desk lamp and answer button.

Each test runs the real service and line against a virtual modem over a real pty (the
bench of `conftest.py`), with the simulated board the service opens from its config
(`board.backend = "simulated"`): every pin change is recorded with the loop's virtual
time, and buttons are pressed with the board's own debouncing.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest

from appliance.board_wiring import LED_FAST, LED_IN_CALL, LED_SLOW, LedPattern
from appliance.clock import SystemClock
from appliance.config import ConfigError, parse_config
from appliance.model import LineState
from appliance.service import LineService
from appliance.store import CallLog
from firmware.board import SimulatedBoard, SlotPins
from tests.appliance.conftest import Bench, make_config, open_bench, run_virtual

pytestmark = pytest.mark.timeout(60)


def board_of(bench: Bench) -> tuple[SimulatedBoard, SlotPins]:
    """The bench's simulated board and the slot of its only line."""
    board = bench.service.board
    assert isinstance(board, SimulatedBoard)
    assert bench.service.board_wiring is not None
    return board, bench.service.board_wiring.slots["line1"]


def led_pattern_since(board: SimulatedBoard, pin: int, since: float) -> LedPattern | None:
    """The blink pattern the pin showed after `since` (None: it did not blink)."""
    changes = board.history(pin, since)
    if len(changes) < 5:
        return None
    on_s = [b.at - a.at for a, b in itertools.pairwise(changes) if a.active]
    off_s = [b.at - a.at for a, b in itertools.pairwise(changes) if not a.active]
    return LedPattern(round(min(on_s), 3), round(min(off_s), 3))


async def watch_for(bench: Bench, seconds: float) -> float:
    """Let `seconds` pass; the loop time when watching began."""
    start = bench.loop.time()
    await bench.sleep(seconds)
    return start


def test_led_is_steady_when_idle_blinks_fast_while_screening_and_winks_in_a_call(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600") as bench:
            board, slot = board_of(bench)
            led, lamp = slot.status_led.bcm, slot.desk_lamp.bcm
            assert board.level(led) and not board.level(lamp)  # idle: steady on, lamp off

            virtual = bench.ring()  # unknown number: challenged
            await bench.wait_state(LineState.CHALLENGING)
            since = await watch_for(bench, 2.0)
            assert led_pattern_since(board, led, since) == LED_FAST
            assert not board.level(lamp)

            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            since = await watch_for(bench, 2.0)
            assert led_pattern_since(board, led, since) == LED_FAST
            assert board.level(lamp)  # the desk lamp calls an operator

            assert bench.service.answer("line1", "op1")
            await bench.wait_state(LineState.CONNECTED)
            since = await watch_for(bench, 10.0)
            assert led_pattern_since(board, led, since) == LED_IN_CALL
            assert not board.level(lamp) and not board.history(lamp, since)

            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            since = await watch_for(bench, 5.0)
            assert board.level(led) and not board.history(led, since)  # steady again

    run_virtual(scenario)


def test_led_blinks_slowly_while_the_line_is_failed_and_goes_off_when_stopped(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25", link=tmp_path / "modem") as bench:
            board, slot = board_of(bench)
            bench.unplug()
            await bench.wait_state(LineState.FAILED)
            since = await watch_for(bench, 8.0)
            assert led_pattern_since(board, slot.status_led.bcm, since) == LED_SLOW
        assert not board.level(slot.status_led.bcm) and not board.level(slot.desk_lamp.bcm)

    run_virtual(scenario)


def test_led_blinks_slowly_when_idle_but_not_registered(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", health_interval_s=2.0) as bench:
            board, slot = board_of(bench)
            bench.modem.registration = 2  # searching: no calls can arrive
            await bench.wait_until(
                lambda: bench.line.health.registration == "searching", "the health poll"
            )
            since = await watch_for(bench, 15.0)  # the service republishes health every 10 s
            assert led_pattern_since(board, slot.status_led.bcm, since) == LED_SLOW
            assert bench.line.state is LineState.IDLE

    run_virtual(scenario)


def test_the_lamp_lights_while_a_call_waits_and_goes_out_when_the_caller_gives_up(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "m95") as bench:
            board, slot = board_of(bench)
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            lit_at = bench.loop.time()
            assert board.level(slot.desk_lamp.bcm)
            await bench.sleep(20.0)
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            assert not board.level(slot.desk_lamp.bcm)
            (lit,) = board.pulses(slot.desk_lamp.bcm, lit_at - 5.0)
            assert lit[1] >= 20.0

    run_virtual(scenario)


@pytest.mark.parametrize("family", ["sim800", "sim7600", "ec25", "m95", "huawei", "generic"])
def test_the_answer_button_answers_the_waiting_call_and_a_second_press_hangs_up(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            board, slot = board_of(bench)
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            await board.press(slot.answer_button.bcm, hold_s=0.3)
            await bench.wait_state(LineState.CONNECTED)
            assert not board.level(slot.desk_lamp.bcm)
            await bench.sleep(30.0)

            await board.press(slot.answer_button.bcm, hold_s=0.3)
            await bench.wait_idle_after(virtual)
            row = bench.row()
            assert row["reached_operator"] == 1 and row["operator"] == "desk1"
            assert row["end_cause"] == "operator_hung_up"

    run_virtual(scenario)


def test_a_bouncing_button_answers_once_and_does_not_hang_up_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="appliance.board_wiring")

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600") as bench:
            board, slot = board_of(bench)
            bench.add_rule("allow", "pass")
            bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            await board.press(slot.answer_button.bcm, hold_s=0.2, bounce_s=0.01)
            await bench.wait_state(LineState.CONNECTED)
            await bench.sleep(5.0)
            assert bench.line.state is LineState.CONNECTED  # a second count would hang up
            presses = [r for r in caplog.records if "desk button" in r.getMessage()]
            assert len(presses) == 1
            assert bench.rows()[0]["reached_operator"] == 1

    run_virtual(scenario)


def test_the_answer_button_is_ignored_while_the_line_is_idle_or_screening(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="appliance.board_wiring")

    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25") as bench:
            board, slot = board_of(bench)
            await board.press(slot.answer_button.bcm)
            await bench.sleep(1.0)
            assert bench.line.state is LineState.IDLE
            bench.ring()  # unknown number: challenged, not for an operator yet
            await bench.wait_state(LineState.CHALLENGING)
            await board.press(slot.answer_button.bcm)
            await bench.sleep(0.5)
            assert bench.line.state is LineState.CHALLENGING and bench.line.call is not None
            assert bench.line.call.operator is None
            ignored = [r for r in caplog.records if "ignored" in r.getMessage()]
            assert [("idle" in r.getMessage(), "challenging" in r.getMessage())
                    for r in ignored] == [(True, False), (False, True)]  # fmt: skip

    run_virtual(scenario)


def test_lines_beyond_the_boards_slots_get_no_pins_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    board_file = tmp_path / "one-slot.toml"
    board_file.write_text(
        "[[slots]]\nstatus_led = 5\ndesk_lamp = 6\nanswer_button = 13\n"
        "power_key = 19\nmodem_status = 26\n"
    )
    config = make_config(
        board={"name": str(board_file), "backend": "simulated"},
        lines=[{"name": "a", "port": "/dev/null"}, {"name": "b", "port": "/dev/zero"}],
    )
    call_log = CallLog(tmp_path / "siaga.db")
    with caplog.at_level(logging.WARNING, logger="appliance.board_wiring"):
        service = LineService(config, call_log=call_log, rule_store=None, clock=SystemClock())
    assert service.board_wiring is not None
    assert list(service.board_wiring.slots) == ["a"]
    assert "line b (number 2 in the configuration) gets no LED" in caplog.text


def test_the_configuration_names_a_missing_board_or_a_bad_usb_port(tmp_path: Path) -> None:
    broken = tmp_path / "twice.toml"
    broken.write_text(
        "[[slots]]\nstatus_led = 5\ndesk_lamp = 5\nanswer_button = 13\n"
        "power_key = 19\nmodem_status = 26\n"
    )
    with pytest.raises(ConfigError) as error:
        parse_config(
            {
                "board": {"name": "nonesuch", "backend": "sometimes"},
                "lines": [{"name": "a", "port": "/dev/x", "usb_port": "1-1/../../x"}],
            }
        )
    problems = " | ".join(error.value.problems)
    assert "board.name: board 'nonesuch': no file" in problems
    assert "board.backend:" in problems
    assert "lines[0].usb_port:" in problems
    with pytest.raises(ConfigError, match="BCM 5 is used twice"):
        parse_config({"board": {"name": str(broken)}})
    assert parse_config({"lines": [{"name": "a", "port": "/x", "usb_port": "3-1.4.2"}]})
