"""Board I/O: pin maps, the simulated and the RPi.GPIO backends, power keys, USB reset.

Timing runs on a `VirtualTimeLoop`, so a 2.5 s power-key pulse or a minute of blinking
costs no real time and every recorded change carries an exact loop time. The RPi.GPIO
backend runs against `FakeGpio`, a stand-in module object (there is no GPIO chip here)
that records the calls RPi.GPIO would get and delivers edges from a thread of its own,
as RPi.GPIO does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from appliance.clock import VirtualTimeLoop
from firmware.board import (
    POWER_KEY_TIMINGS,
    BoardSpec,
    BoardSpecError,
    GpioBoard,
    SimulatedBoard,
    UsbPortReset,
    UsbResetError,
    load_board_spec,
    open_board,
    parse_board_spec,
    power_cycle,
    timing_for,
)
from firmware.board.power import NO_POWER_KEY
from firmware.virtual_modem import FAMILIES

T = TypeVar("T")

pytestmark = pytest.mark.timeout(60)


def run_virtual(test: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `test()` on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(asyncio.wait_for(test(), 3600.0))
    finally:
        loop.close()


def default_spec() -> BoardSpec:
    """The bundled default board."""
    return load_board_spec("default")


def slot_data(**overrides: Any) -> dict[str, Any]:
    """One valid [[slots]] table (BCM 17, 18, 4, 23, 24) with `overrides`."""
    base: dict[str, Any] = {
        "status_led": 17,
        "desk_lamp": 18,
        "answer_button": 4,
        "power_key": 23,
        "modem_status": 24,
    }
    return base | overrides


# --------------------------------------------------------------------------- pin maps


def test_the_default_board_has_four_slots_of_five_distinct_pins_in_range() -> None:
    spec = default_spec()
    assert spec.name == "default" and len(spec.slots) == 4
    pins = [pin.bcm for slot in spec.slots for pin in (*slot.outputs(), *slot.inputs())]
    assert len(pins) == 20 and len(set(pins)) == 20
    assert all(2 <= bcm <= 27 for bcm in pins)
    assert not {2, 3, 14, 15} & set(pins)  # I2C (a clock module) and the UART stay free
    for slot in spec.slots:
        assert slot.answer_button.active_low and slot.answer_button.pull == "up"
        assert slot.power_key.bcm >= 9  # pulled down while the Pi boots: no stray pulse


def test_a_pin_used_twice_is_refused_naming_both_roles() -> None:
    data = {"slots": [slot_data(), slot_data(status_led=5, desk_lamp=6, answer_button=7,
                                             power_key=8, modem_status=17)]}  # fmt: skip
    with pytest.raises(BoardSpecError) as error:
        parse_board_spec(data, "mine.toml")
    message = str(error.value)
    assert message.startswith("mine.toml: ")
    assert "BCM 17 is used twice: slots[1].status_led, slots[2].modem_status" in message


@pytest.mark.parametrize("bcm", [0, 1, 28, 40, -3])
def test_a_bcm_number_out_of_range_is_refused(bcm: int) -> None:
    with pytest.raises(BoardSpecError, match=rf"slots\[1\]\.desk_lamp: BCM {bcm} is out of range"):
        parse_board_spec({"slots": [slot_data(desk_lamp=bcm)]})


@pytest.mark.parametrize(
    ("slot", "problem"),
    [
        ({"status_led": 17}, "slots[1].desk_lamp: missing"),
        (slot_data(lamp=3), "unknown roles ['lamp']"),
        (slot_data(power_key="23"), "the pin must be a BCM number"),
        (slot_data(answer_button={"pin": 4, "pull": "sideways"}), "pull: must be"),
        (slot_data(answer_button={"pin": 4, "active_low": "yes"}), "active_low: must be"),
    ],
)
def test_a_broken_slot_is_refused_with_the_problem_named(
    slot: dict[str, Any], problem: str
) -> None:
    with pytest.raises(BoardSpecError) as error:
        parse_board_spec({"slots": [slot]})
    assert problem in str(error.value)


def test_a_board_without_slots_or_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BoardSpecError, match="at least one"):
        parse_board_spec({"name": "empty"})
    with pytest.raises(BoardSpecError, match=r"no file .*\(bundled: default\)"):
        load_board_spec("nonesuch")
    with pytest.raises(BoardSpecError, match="not a board name"):
        load_board_spec("my board!")
    own = tmp_path / "desk.toml"
    own.write_text("[[slots]]\nstatus_led = 5\ndesk_lamp = 6\nanswer_button = 13\n"
                   "power_key = 19\nmodem_status = 26\n")  # fmt: skip
    assert load_board_spec(str(own)).slots[0].status_led.bcm == 5


# --------------------------------------------------------------------------- the simulated board


def test_outputs_are_recorded_with_loop_time_and_blink_at_the_asked_period() -> None:
    async def scenario() -> None:
        board = SimulatedBoard(default_spec())
        led = board.spec.slots[0].status_led.bcm
        start = asyncio.get_running_loop().time()
        board.blink(led, 0.1, 0.3)
        await asyncio.sleep(2.0)
        board.set(led, True)
        changes = board.history(led)
        assert [round(c.at - start, 6) for c in changes[:5]] == [0.0, 0.1, 0.4, 0.5, 0.8]
        assert [c.active for c in changes[:4]] == [True, False, True, False]
        await asyncio.sleep(5.0)  # set() stopped the blinking
        assert board.level(led) and board.history(led)[-1].at == pytest.approx(start + 2.0)
        board.close()
        assert not board.level(led)

    run_virtual(scenario)


def test_a_pulse_holds_the_output_for_its_duration_and_releases_it_if_cancelled() -> None:
    async def scenario() -> None:
        board = SimulatedBoard(default_spec())
        key = board.spec.slots[1].power_key.bcm
        await board.pulse(key, 2.5)
        assert board.pulses(key) == [(pytest.approx(0.0, abs=1e-9), pytest.approx(2.5))]
        task = asyncio.create_task(board.pulse(key, 10.0))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not board.level(key) and board.pulses(key)[-1][1] == pytest.approx(1.0)

    run_virtual(scenario)


def test_a_bouncing_press_counts_once_and_a_glitch_not_at_all() -> None:
    async def scenario() -> None:
        board = SimulatedBoard(default_spec())
        button = board.spec.slots[0].answer_button.bcm
        presses: list[float] = []
        loop = asyncio.get_running_loop()
        board.on_press(button, lambda: presses.append(loop.time()))

        await board.press(button, hold_s=0.2, bounce_s=0.01)  # two edges within 10 ms
        await asyncio.sleep(0.5)
        assert len(presses) == 1
        assert presses[0] == pytest.approx(0.01 + 0.05)  # settled 50 ms after the last edge

        board.set_input(button, True)  # a 20 ms glitch: shorter than the debounce
        await asyncio.sleep(0.02)
        board.set_input(button, False)
        await asyncio.sleep(0.5)
        assert len(presses) == 1

        await board.press(button, hold_s=0.1)
        await asyncio.sleep(0.5)
        assert len(presses) == 2  # a second, separate press counts again

    run_virtual(scenario)


def test_pins_that_are_not_on_the_board_are_refused() -> None:
    board = SimulatedBoard(default_spec())
    button = board.spec.slots[0].answer_button.bcm
    with pytest.raises(ValueError, match="not an output"):
        board.set(button, True)
    with pytest.raises(ValueError, match="not an input"):
        board.set_input(board.spec.slots[0].status_led.bcm, True)
    with pytest.raises(ValueError, match="not a pin"):
        board.read(3)


# --------------------------------------------------------------------------- RPi.GPIO backend


class FakeGpio:
    """A stand-in for the `RPi.GPIO` module: records set-up and levels, fires edges from a
    thread of its own (RPi.GPIO's event thread)."""

    BCM = 11
    OUT = 0
    IN = 1
    HIGH = 1
    LOW = 0
    PUD_OFF = 20
    PUD_DOWN = 21
    PUD_UP = 22
    BOTH = 33

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.levels: dict[int, int] = {}
        self.callbacks: dict[int, Callable[[int], None]] = {}

    def setwarnings(self, flag: bool) -> None:
        self.calls.append(("setwarnings", flag))

    def setmode(self, mode: int) -> None:
        self.calls.append(("setmode", mode))

    def setup(self, pin: int, direction: int, **options: int) -> None:
        self.calls.append(("setup", pin, direction, options))
        if direction == self.OUT:
            self.levels[pin] = options.get("initial", self.LOW)
        else:
            self.levels[pin] = self.HIGH if options.get("pull_up_down") == self.PUD_UP else 0

    def output(self, pin: int, level: int) -> None:
        self.levels[pin] = level

    def input(self, pin: int) -> int:
        return self.levels[pin]

    def add_event_detect(self, pin: int, edge: int, callback: Callable[[int], None]) -> None:
        self.calls.append(("add_event_detect", pin, edge))
        self.callbacks[pin] = callback

    def remove_event_detect(self, pin: int) -> None:
        self.calls.append(("remove_event_detect", pin))

    def cleanup(self, pins: list[int]) -> None:
        self.calls.append(("cleanup", sorted(pins)))

    def drive(self, pin: int, level: int) -> None:
        """The outside world changes an input; RPi.GPIO reports it on its own thread."""
        self.levels[pin] = level
        thread = threading.Thread(target=self.callbacks[pin], args=(pin,))
        thread.start()
        thread.join()


def test_gpio_backend_sets_up_bcm_outputs_off_and_inputs_with_their_pulls() -> None:
    gpio = FakeGpio()
    spec = default_spec()
    board = GpioBoard(spec, gpio=gpio)
    assert ("setmode", FakeGpio.BCM) in gpio.calls
    setups = {call[1]: call for call in gpio.calls if call[0] == "setup"}
    assert len(setups) == 20
    slot = spec.slots[0]
    assert setups[slot.status_led.bcm][2:] == (FakeGpio.OUT, {"initial": FakeGpio.LOW})
    assert setups[slot.power_key.bcm][2:] == (FakeGpio.OUT, {"initial": FakeGpio.LOW})
    assert setups[slot.answer_button.bcm][2:] == (FakeGpio.IN, {"pull_up_down": FakeGpio.PUD_UP})
    assert setups[slot.modem_status.bcm][2:] == (FakeGpio.IN, {"pull_up_down": FakeGpio.PUD_OFF})

    board.set(slot.desk_lamp.bcm, True)
    assert gpio.levels[slot.desk_lamp.bcm] == FakeGpio.HIGH
    assert not board.read(slot.answer_button.bcm)  # pulled up: an active-low button is up
    gpio.levels[slot.answer_button.bcm] = FakeGpio.LOW
    assert board.read(slot.answer_button.bcm)
    board.close()
    assert gpio.levels[slot.desk_lamp.bcm] == FakeGpio.LOW
    assert gpio.calls[-1] == ("cleanup", sorted(setups))


def test_an_active_low_output_is_driven_low_when_on() -> None:
    data = {"slots": [slot_data(status_led={"pin": 17, "active_low": True})]}
    gpio = FakeGpio()
    board = GpioBoard(parse_board_spec(data), gpio=gpio)
    assert gpio.levels[17] == FakeGpio.HIGH  # off from the start
    board.set(17, True)
    assert gpio.levels[17] == FakeGpio.LOW


def test_gpio_edges_from_the_gpio_thread_reach_the_loop_debounced() -> None:
    async def scenario() -> None:
        gpio = FakeGpio()
        board = GpioBoard(default_spec(), gpio=gpio)
        button = board.spec.slots[2].answer_button.bcm
        pressed_in: list[threading.Thread] = []
        board.on_press(button, lambda: pressed_in.append(threading.current_thread()))
        assert ("add_event_detect", button, FakeGpio.BOTH) in gpio.calls

        gpio.drive(button, FakeGpio.LOW)  # made
        await asyncio.sleep(0.003)
        gpio.drive(button, FakeGpio.HIGH)  # bounced open
        await asyncio.sleep(0.003)
        gpio.drive(button, FakeGpio.LOW)  # made again, and held
        await asyncio.sleep(0.3)
        gpio.drive(button, FakeGpio.HIGH)
        await asyncio.sleep(0.3)
        assert pressed_in == [threading.main_thread()]  # once, and in the loop's thread
        board.close()
        assert ("remove_event_detect", button) in gpio.calls

    run_virtual(scenario)


def test_open_board_says_which_backend_and_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="firmware.board")
    board = open_board("default", "auto")  # no RPi.GPIO on a development machine
    assert isinstance(board, SimulatedBoard)
    assert "RPi.GPIO not usable" in caplog.text and "simulated board" in caplog.text
    caplog.clear()
    assert isinstance(open_board("default", "auto", gpio=FakeGpio()), GpioBoard)
    assert "RPi.GPIO backend" in caplog.text
    caplog.clear()
    assert isinstance(open_board("default", "simulated", gpio=FakeGpio()), SimulatedBoard)
    caplog.clear()
    assert isinstance(open_board("default", "gpio"), SimulatedBoard)  # screening goes on
    assert "ALARM board" in caplog.text
    assert [r.levelname for r in caplog.records] == ["WARNING"]


# --------------------------------------------------------------------------- power keys


def test_every_modem_family_has_a_power_key_timing_or_none_on_purpose() -> None:
    for family in FAMILIES:
        timing = timing_for(family)
        assert (timing is None) == (family in NO_POWER_KEY), family
    assert timing_for("generic") == POWER_KEY_TIMINGS["unknown"]
    assert timing_for(None) == POWER_KEY_TIMINGS["unknown"]
    for timing in POWER_KEY_TIMINGS.values():
        assert timing.source and timing.on_pulse_s > 0 and timing.off_pulse_s > 0
    sim800, sim7600 = POWER_KEY_TIMINGS["sim800"], POWER_KEY_TIMINGS["sim7600"]
    assert 1.5 < sim800.off_pulse_s < 33.0 and sim800.on_pulse_s > 1.0
    assert sim7600.off_pulse_s >= 2.5
    assert POWER_KEY_TIMINGS["ec25"].off_pulse_s >= 0.65
    assert 0.7 < POWER_KEY_TIMINGS["m95"].off_pulse_s < 1.0


@pytest.mark.parametrize("family", ["sim800", "sim7600", "ec25", "m95"])
def test_power_cycle_pulses_off_then_on_and_confirms_on_the_status_pin(family: str) -> None:
    async def scenario() -> None:
        board = SimulatedBoard(default_spec())
        slot = board.spec.slots[0]
        timing = POWER_KEY_TIMINGS[family]
        status = slot.modem_status.bcm
        on_level = timing.status_high_when_on
        board.set_input(status, on_level)  # the module runs
        loop = asyncio.get_running_loop()

        def module(active: bool) -> None:  # STATUS follows each completed pulse
            if not active:
                _, length = board.pulses(slot.power_key.bcm)[-1]
                powered = board.read(status) == on_level
                wanted = timing.off_pulse_s if powered else timing.on_pulse_s
                if length == pytest.approx(wanted):
                    level = (not on_level) if powered else on_level
                    loop.call_later(1.0, board.set_input, status, level)

        board.watch(slot.power_key.bcm, module)
        result = await power_cycle(board, slot, timing)
        pulses = [length for _, length in board.pulses(slot.power_key.bcm)]
        assert pulses == [pytest.approx(timing.off_pulse_s), pytest.approx(timing.on_pulse_s)]
        assert result.was_on and result.is_on
        assert "STATUS on" in result.describe()

    run_virtual(scenario)


def test_power_cycle_of_a_modem_that_is_off_only_pulses_on_and_reports_a_dead_status() -> None:
    async def scenario() -> None:
        board = SimulatedBoard(default_spec())
        slot = board.spec.slots[3]
        timing = POWER_KEY_TIMINGS["sim800"]
        start = asyncio.get_running_loop().time()
        result = await power_cycle(board, slot, timing)  # STATUS never rises
        assert [length for _, length in board.pulses(slot.power_key.bcm)] == [
            pytest.approx(timing.on_pulse_s)
        ]
        assert result.off_pulse_s is None and not result.is_on
        elapsed = asyncio.get_running_loop().time() - start
        assert elapsed == pytest.approx(timing.on_pulse_s + timing.boot_wait_s, abs=0.2)

    run_virtual(scenario)


# --------------------------------------------------------------------------- USB reset


def test_usb_reset_writes_0_then_1_to_the_authorized_flag(tmp_path: Path) -> None:
    async def scenario() -> None:
        device = tmp_path / "1-1.3"
        device.mkdir()
        flag = device / "authorized"
        flag.write_text("1")
        resetter = UsbPortReset(tmp_path)
        task = asyncio.create_task(resetter.reset("1-1.3", off_s=1.0))
        await asyncio.sleep(0.5)
        assert flag.read_text() == "0"
        await task
        assert flag.read_text() == "1"

    run_virtual(scenario)


def test_usb_reset_refuses_bad_port_names_and_reports_missing_devices(tmp_path: Path) -> None:
    async def scenario() -> None:
        resetter = UsbPortReset(tmp_path)
        for bad in ("../../etc", "usb1", "1-1/../2", ""):
            with pytest.raises(ValueError):
                await resetter.reset(bad)
        with pytest.raises(UsbResetError, match="cannot write 0"):
            await resetter.reset("2-1")

    run_virtual(scenario)


def test_usb_reset_falls_back_to_the_device_node_when_sysfs_is_read_only(
    tmp_path: Path,
) -> None:
    """Under the hardened unit /sys is read-only: the reset goes to /dev/bus/usb/BBB/DDD.
    Here the node is a plain file, so the ioctl itself is refused (ENOTTY): the error
    names both ways tried, with the node found from busnum and devnum."""
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    device = sysfs / "1-1.3"
    device.mkdir(parents=True)
    (device / "busnum").write_text("1\n")
    (device / "devnum").write_text("7\n")
    (device / "authorized").mkdir()  # writing to it fails, as on a read-only /sys
    (dev / "001").mkdir(parents=True)
    (dev / "001" / "007").write_text("")
    resetter = UsbPortReset(sysfs, dev)
    assert resetter.device_node("1-1.3") == dev / "001" / "007"

    async def scenario() -> None:
        with pytest.raises(UsbResetError, match=r"cannot write 0.*USBDEVFS_RESET on .*001/007"):
            await resetter.reset("1-1.3")

    run_virtual(scenario)
