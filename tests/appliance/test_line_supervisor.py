"""The line supervisor on its own (`appliance.line_supervisor`): the set of lines and their
tasks, with a recording call log and listener and lines whose `run()` is a stand-in.

The real lines on virtual modems, driven through the service and the lines page, are in
test_line_admin.py, test_service.py and tests/web_ui/test_line_config_live.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from appliance.config import Config, LineConfig
from appliance.line import ActiveCall, Line
from appliance.line_supervisor import LineSupervisor
from appliance.model import CallerNumber, LineState
from appliance.web_lines import LinesInForce
from tests.appliance.conftest import run_virtual

NOW = 1_712_120_400.0
ONE = LineConfig(name="one", port="/dev/siaga-test/one")
TWO = LineConfig(name="two", port="/dev/siaga-test/two")
OFF = LineConfig(name="off", port="/dev/siaga-test/off", enabled=False)


class FixedClock:
    def timestamp(self) -> float:
        return NOW


@dataclass
class Recorder:
    """The call log and the listener, as far as the supervisor and a resting line use them."""

    events: list[tuple[str, str | None, dict[str, Any] | None]] = field(default_factory=list)
    removed: list[tuple[str, bool]] = field(default_factory=list)

    def add_event(
        self, kind: str, *, line: str | None = None, detail: dict[str, Any] | None = None, ts: float
    ) -> None:
        self.events.append((kind, line, detail))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.events]

    def line_removed(self, name: str, *, replaced: bool) -> None:
        self.removed.append((name, replaced))

    def line_state_changed(self, line: Line, old: LineState, new: LineState) -> None:
        return None

    def call_needs_operator(self, line: Line, call: ActiveCall) -> None:
        return None

    def call_finished(self, line: Line, call: ActiveCall) -> None:
        return None

    def caller_missed(self, line: Line, caller: CallerNumber, ts: float) -> None:
        return None

    def line_alarm(self, line: Line, kind: str, message: str) -> None:
        return None


def supervisor(*file_lines: LineConfig) -> tuple[LineSupervisor, Recorder]:
    recorder = Recorder()
    lines: dict[str, Line] = {}
    made = LineSupervisor(
        Config(),
        file_lines,
        lines=lines,
        screener=None,  # type: ignore[arg-type]  # no call reaches these lines
        call_log=recorder,  # type: ignore[arg-type]
        listener=recorder,
        recovery=None,
        clock=FixedClock(),  # type: ignore[arg-type]
    )
    assert made.lines is lines  # the dict the gateway and the housekeeping read
    return made, recorder


def stand_in(line: Line, runs: list[str], *, crashes: int = 0) -> None:
    """Replace the line's `run()`: it crashes `crashes` times, then runs until stopped."""
    stopped: list[asyncio.Event] = []
    left = [crashes]

    async def run() -> None:
        runs.append(line.name)
        if left[0]:
            left[0] -= 1
            raise ValueError("a bug in the line")
        stopped.append(asyncio.Event())
        await stopped[-1].wait()

    original_stop = line.stop

    def stop() -> None:
        original_stop()
        for event in stopped:
            event.set()

    line.run = run  # type: ignore[method-assign]
    line.stop = stop  # type: ignore[method-assign]


def in_a_group(test: Callable[[asyncio.TaskGroup], Coroutine[Any, Any, None]]) -> None:
    async def scenario() -> None:
        async with asyncio.TaskGroup() as group:
            await test(group)

    run_virtual(scenario)


def test_the_files_enabled_lines_are_built_and_the_web_uis_replace_them_at_start() -> None:
    lines, _ = supervisor(ONE, OFF)
    assert list(lines.lines) == ["one"] and lines.source == "file"
    assert not lines.use_lines_at_start(LinesInForce("file", (ONE, OFF)))
    assert list(lines.lines) == ["one"]
    assert lines.use_lines_at_start(LinesInForce("database", (TWO, OFF)))
    assert list(lines.lines) == ["two"] and lines.source == "database"
    assert lines.lines["two"].config == TWO


def test_lines_run_in_the_services_group_and_a_crashed_one_starts_again() -> None:
    lines, recorder = supervisor(ONE, TWO)
    runs: list[str] = []
    stand_in(lines.lines["one"], runs, crashes=2)
    stand_in(lines.lines["two"], runs)
    lines.lines["two"].take_out_of_service()

    async def test(group: asyncio.TaskGroup) -> None:
        lines.start(group)
        await asyncio.sleep(2.0)
        assert runs == ["one", "one"]  # crashed at 0 s, again at 1 s
        await asyncio.sleep(8.0)
        assert runs == ["one", "one", "one"]  # running since 3 s
        assert recorder.kinds() == ["line_crashed", "line_crashed"]
        assert "ValueError: a bug in the line" in str(recorder.events[0][2])
        lines.stop()

    in_a_group(test)  # the group ends: every line's task has ended


def test_a_disabled_line_lets_go_and_is_started_again_when_enabled() -> None:
    lines, recorder = supervisor(ONE)
    runs: list[str] = []
    line = lines.lines["one"]
    stand_in(line, runs)

    async def test(group: asyncio.TaskGroup) -> None:
        lines.start(group)
        await asyncio.sleep(1.0)
        assert await lines.disable_line("one", by="tech1")
        assert line.disabled and line.state is LineState.DISABLED
        assert await lines.disable_line("one", by="tech1")  # already: nothing more
        lines.enable_line("one", by="tech2")
        await asyncio.sleep(1.0)
        assert runs == ["one", "one"] and not line.disabled
        lines.stop()

    in_a_group(test)
    assert [(kind, detail) for kind, _, detail in recorder.events] == [
        ("line_disabled", {"by": "tech1"}),
        ("line_enabled", {"by": "tech2"}),
    ]


def test_a_line_in_a_call_is_neither_disabled_nor_replaced_until_it_is_free() -> None:
    lines, recorder = supervisor(ONE)
    line = lines.lines["one"]
    line.state = LineState.CONNECTED  # a call with an operator
    moved = ONE.model_copy(update={"port": "/dev/siaga-test/moved"})
    takes_its_port = TWO.model_copy(update={"port": ONE.port})

    async def test() -> None:
        assert not await lines.disable_line("one", by="tech1")
        wanted = LinesInForce("database", (moved, takes_its_port))
        assert await lines.apply_lines(wanted) == ["one", "two"]  # the port is still held
        assert lines.lines == {"one": line} and not lines.in_step(wanted)
        line.state = LineState.IDLE  # the call ended
        assert await lines.apply_lines(wanted) == []
        assert lines.in_step(wanted) and lines.lines["one"] is not line

    run_virtual(test)
    assert recorder.removed == [("one", True)]
    assert recorder.kinds() == ["line_restarting", "line_added", "line_added"]


def test_applied_lines_start_stop_or_rest_disabled_and_the_rest_are_untouched() -> None:
    lines, recorder = supervisor(ONE, TWO)
    runs: list[str] = []
    kept = lines.lines["one"]
    stand_in(kept, runs)
    stand_in(lines.lines["two"], runs)
    build = lines.build_line

    def build_stand_in(line_config: LineConfig) -> Line:
        line = build(line_config)
        stand_in(line, runs)
        return line

    lines.build_line = build_stand_in  # type: ignore[method-assign]
    three = LineConfig(name="three", port="/dev/siaga-test/three")
    four = LineConfig(name="four", port="/dev/siaga-test/four")

    async def test(group: asyncio.TaskGroup) -> None:
        lines.start(group)
        await asyncio.sleep(1.0)
        wanted = LinesInForce("database", (ONE, three, four))
        assert await lines.apply_lines(wanted, disabled={"four"}) == []
        assert lines.lines["one"] is kept and list(lines.lines) == ["one", "three", "four"]
        assert lines.lines["four"].disabled and not lines.lines["three"].disabled
        assert lines.source == "database"
        await asyncio.sleep(1.0)
        lines.stop()

    in_a_group(test)
    assert recorder.removed == [("two", False)]
    assert recorder.kinds() == ["line_removed", "line_added", "line_added"]
    assert runs == ["one", "two", "three"]  # added while running: started ("four" disabled)


def test_the_operators_side_finds_no_call_on_an_unknown_or_idle_line() -> None:
    lines, _ = supervisor(ONE)
    assert not lines.answer("nine", "op1") and not lines.hang_up("nine")
    assert not lines.answer("one", "op1") and not lines.hang_up("one")
