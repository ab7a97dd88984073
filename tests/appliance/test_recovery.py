"""The recovery ladder against a virtual modem that stops answering (`modem.silent`).

The bench (`conftest.py`) runs the real service and line over a real pty in virtual time.
`ModemPower` stands in for the wires between the simulated board and the modem: STATUS
follows the module's power, a PWRKEY pulse at least as long as the family's off (or on)
pulse switches it off (or on), and switching on reboots the virtual modem, which then
answers again only if the power cycle `heals` it. The USB reset writes to a fake sysfs
directory whose `authorized` flag the test watches.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from appliance import recovery
from appliance.model import LineState
from appliance.recovery import LADDER_ROUNDS_MAX, STEP_GRACE_S
from firmware.board import POWER_KEY_TIMINGS, SimulatedBoard, SlotPins, UsbPortReset
from firmware.virtual_modem import VirtualModem
from tests.appliance.conftest import Bench, open_bench, run_virtual

pytestmark = pytest.mark.timeout(120)

USB_PORT = "1-1.2"
POWER_FAMILIES = ("sim800", "sim7600", "ec25", "m95")


class ModemPower:
    """The modem's PWRKEY and STATUS wired to a slot of the simulated board."""

    def __init__(
        self, board: SimulatedBoard, slot: SlotPins, modem: VirtualModem, *, heals: bool
    ) -> None:
        self.board = board
        self.slot = slot
        self.modem = modem
        self.heals = heals
        self.timing = POWER_KEY_TIMINGS[modem.family]
        self.powered = True
        self.boots = 0
        self._pressed_at = 0.0
        board.powers_modems = True
        self._show_status()
        board.watch(slot.power_key.bcm, self._key)

    def _show_status(self) -> None:
        level = self.powered == self.timing.status_high_when_on
        self.board.set_input(self.slot.modem_status.bcm, level)

    def _key(self, active: bool) -> None:
        loop = asyncio.get_running_loop()
        if active:
            self._pressed_at = loop.time()
            return
        held_s = loop.time() - self._pressed_at + 1e-9
        if self.powered and held_s >= self.timing.off_pulse_s:
            self.powered = False
            loop.call_later(1.0, self._show_status)  # the module logs off the network
        elif not self.powered and held_s >= self.timing.on_pulse_s:
            self.powered = True
            self.boots += 1
            self.modem.reboot(delay_s=3.0)
            if self.heals:
                self.modem.silent = False
            loop.call_later(0.5, self._show_status)


async def fail_the_modem(bench: Bench) -> float:
    """The modem stops answering; wait for the line to fail; the loop time it went silent."""
    await bench.sleep(3.0)
    went_silent = bench.loop.time()
    bench.modem.silent = True
    await bench.wait_state(LineState.FAILED, timeout_s=60.0)
    return went_silent


def recovery_steps(bench: Bench) -> list[tuple[str, str | None]]:
    """(step, outcome) of every `recovery` event, in order."""
    import json

    return [
        (detail["step"], detail.get("outcome"))
        for detail in (json.loads(event["detail"]) for event in bench.events("recovery"))
    ]


def power_rig(bench: Bench, *, heals: bool) -> ModemPower:
    """Attach the stand-in power wiring to the bench's simulated board."""
    board = bench.service.board
    assert isinstance(board, SimulatedBoard) and bench.service.board_wiring is not None
    return ModemPower(board, bench.service.board_wiring.slots["line1"], bench.modem, heals=heals)


def fake_sysfs(bench: Bench, tmp_path: Path) -> Path:
    """A fake /sys/bus/usb/devices with the modem's device; its `authorized` flag."""
    flag = tmp_path / "sys" / USB_PORT / "authorized"
    flag.parent.mkdir(parents=True)
    flag.write_text("1")
    bench.service.usb = UsbPortReset(tmp_path / "sys")
    return flag


async def record_flag(flag: Path, seen: list[str]) -> None:
    """Note every value the flag takes (polled in virtual time)."""
    while True:
        value = flag.read_text()
        if not seen or seen[-1] != value:
            seen.append(value)
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("family", POWER_FAMILIES)
def test_a_silent_modem_is_reinitialised_then_power_cycled_and_answers_again(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=2.0) as bench:
            rig = power_rig(bench, heals=True)
            went_silent = await fail_the_modem(bench)
            await bench.wait_state(LineState.IDLE, timeout_s=120.0)

            pulses = [length for _, length in rig.board.pulses(rig.slot.power_key.bcm)]
            assert pulses == [
                pytest.approx(rig.timing.off_pulse_s),
                pytest.approx(rig.timing.on_pulse_s),
            ]
            assert rig.boots == 1
            assert recovery_steps(bench) == [
                ("reinitialise", "done"),
                ("power_cycle", "done"),
                ("recovered", None),
            ]
            assert len(bench.events("line_failed")) == 1 and len(bench.events("line_up")) == 2
            assert bench.loop.time() - went_silent < 90.0

            virtual = bench.ring()  # and the line takes calls again
            await bench.wait_until(lambda: virtual.answered_at is not None, "the answer")
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)

    run_virtual(scenario)


@pytest.mark.slow  # waits out a power cycle's grace on the virtual modem, per family
@pytest.mark.parametrize("family", POWER_FAMILIES)
def test_a_modem_the_power_key_cannot_revive_gets_its_usb_port_reset(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.recovery")

    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=2.0, usb_port=USB_PORT) as bench:
            rig = power_rig(bench, heals=False)
            flag = fake_sysfs(bench, tmp_path)
            seen: list[str] = []
            watcher = asyncio.create_task(record_flag(flag, seen))
            await fail_the_modem(bench)
            await bench.wait_until(
                lambda: ("usb_reset", "done") in recovery_steps(bench),
                "the USB reset",
                timeout_s=STEP_GRACE_S + 120.0,
            )
            await bench.sleep(0.2)  # the watcher polls every 50 ms
            assert seen == ["1", "0", "1"]  # de-authorised, then authorised again
            assert rig.boots == 1

            bench.modem.silent = False  # the re-enumerated modem answers
            await bench.wait_state(LineState.IDLE, timeout_s=120.0)
            assert recovery_steps(bench) == [
                ("reinitialise", "done"),
                ("power_cycle", "done"),
                ("usb_reset", "done"),
                ("recovered", None),
            ]
            alarms = [r.getMessage() for r in caplog.records if "ALARM" in r.getMessage()]
            assert [("step 1/3" in a, "step 2/3" in a, "step 3/3" in a) for a in alarms] == [
                (True, False, False),
                (False, True, False),
                (False, False, True),
            ]
            assert any("answers again" in r.getMessage() for r in caplog.records)
            watcher.cancel()

    run_virtual(scenario)


def test_the_ladder_is_bounded_and_never_silent_about_a_dead_modem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.recovery")
    repeat_s = 200.0  # LADDER_REPEAT_S is an hour: too long for the bench's virtual budget
    monkeypatch.setattr(recovery, "LADDER_REPEAT_S", repeat_s)

    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", health_interval_s=2.0) as bench:
            rig = power_rig(bench, heals=False)
            await fail_the_modem(bench)
            await bench.sleep(150.0)  # no usb_port: that step is skipped
            one_round = [
                ("reinitialise", "done"),
                ("power_cycle", "done"),
                ("usb_reset", "skipped"),
                ("exhausted", None),
            ]
            assert recovery_steps(bench) == one_round
            assert bench.line.state is LineState.FAILED
            assert "still not answering" in caplog.text

            await bench.sleep(repeat_s + 100.0)  # the ladder again, from the power key
            assert recovery_steps(bench) == one_round + one_round[1:]
            assert rig.boots == 2
            await bench.sleep(LADDER_ROUNDS_MAX * (repeat_s + 100.0))
            assert rig.boots == LADDER_ROUNDS_MAX  # and no more in this outage
            steps = recovery_steps(bench)
            assert steps.count(("exhausted", None)) == LADDER_ROUNDS_MAX
            alarms = [r.getMessage() for r in caplog.records if "ALARM" in r.getMessage()]
            assert "no more power cycles" in alarms[-1]
            assert bench.line.state is LineState.FAILED

    run_virtual(scenario)


def test_a_line_without_a_power_key_skips_to_the_usb_reset(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(
            tmp_path, "huawei", health_interval_s=2.0, usb_port=USB_PORT
        ) as bench:
            board = bench.service.board
            assert isinstance(board, SimulatedBoard)
            board.powers_modems = True  # wired, but a USB stick has no PWRKEY to reach
            flag = fake_sysfs(bench, tmp_path)
            await fail_the_modem(bench)
            await bench.wait_until(
                lambda: ("usb_reset", "done") in recovery_steps(bench), "the USB reset"
            )
            assert not board.pulses(bench.service.board_wiring.slots["line1"].power_key.bcm)
            assert flag.read_text() == "1"
            steps: list[Any] = recovery_steps(bench)
            assert steps[:3] == [
                ("reinitialise", "done"),
                ("power_cycle", "skipped"),
                ("usb_reset", "done"),
            ]

    run_virtual(scenario)
