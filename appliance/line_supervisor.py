"""The line supervisor: the set of modem lines the service runs, and each line's task.

It keeps `lines` (name -> `Line`: the dict the policy gateway, the housekeeping and the
board read) and is the only one to change it. It builds a line from its `LineConfig`
with what every line is given (the screener, the call log, the listener, the recovery
actions, the screening settings in force), runs each line in a task of the service's
task group and starts it again, 1-60 s apart, when it crashes (a bug, not a modem fault:
a `line_crashed` alarm), and changes the set while the service runs: a technician's
disable and enable (`appliance/line_admin.py`) and the lines the web UI stores
(`appliance/web_lines.py`), at start and whenever they change. A call in progress is
never cut: a line holding one is left as it is, and whoever asked asks again later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable
from typing import Protocol

from appliance.clock import Clock
from appliance.config import Config, LineConfig
from appliance.line import Line, LineListener, Screener
from appliance.model import CALL_STATES
from appliance.recovery import ModemRecovery
from appliance.store import CallLog
from appliance.web_lines import LinesInForce, LinesSource

logger = logging.getLogger(__name__)

RESTART_FIRST_S = 1.0  # a crashed line starts again after this, doubled each time ...
RESTART_MAX_S = 60.0  # ... up to this


def ports(line_config: LineConfig) -> tuple[str, ...]:
    """The device files a line opens."""
    return tuple(port for port in (line_config.port, line_config.voice_port) if port)


class SupervisorListener(LineListener, Protocol):
    """Who hears about the lines (the service): what each line tells, and a line gone."""

    def line_removed(self, name: str, *, replaced: bool) -> None:
        """The line `name` was stopped and dropped from the set; `replaced`: a line of
        the same name (its new configuration) takes its place."""
        ...


class LineSupervisor:
    """Owns the running lines: builds, starts, stops, disables, enables and replaces them."""

    def __init__(
        self,
        config: Config,
        file_lines: Iterable[LineConfig],
        *,
        lines: dict[str, Line],
        screener: Screener,
        call_log: CallLog,
        listener: SupervisorListener,
        recovery: ModemRecovery[Line] | None,
        clock: Clock,
        health_interval_s: float = 60.0,
    ) -> None:
        """`config`: the screening settings in force (prompts, challenge, watchdog, the
        site's region and recordings); `file_lines`: the configuration file's lines,
        built here (those enabled in it); `lines`: the dict to keep the lines in (empty;
        the gateway and the housekeeping read the same one)."""
        self.lines = lines
        self.file_lines = tuple(file_lines)
        self.source: LinesSource = "file"  # where the lines in force come from
        self._config = config
        self._screener = screener
        self._call_log = call_log
        self._listener = listener
        self._recovery = recovery
        self._clock = clock
        self._health_interval_s = health_interval_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None  # the service's, while it runs
        self._started = False  # `start()` was called: lines added later start at once
        for line_config in self.file_lines:
            if line_config.enabled:
                self.lines[line_config.name] = self.build_line(line_config)

    # ----------------------------------------------------------------- building

    def build_line(self, line_config: LineConfig) -> Line:
        """A line for `line_config`, with the settings in force; not started."""
        config = self._config
        return Line(
            line_config,
            screener=self._screener,
            recorder=self._call_log,
            listener=self._listener,
            clock=self._clock,
            prompts=config.prompt_text(),
            challenge=config.challenge,
            region=config.site.region,
            health_interval_s=self._health_interval_s,
            recordings_dir=config.site.recordings_dir,
            recovery=self._recovery,
            watchdog=config.watchdog,
        )

    def reconfigure(self, config: Config) -> None:
        """New screening settings: for the running lines now, and the lines built later."""
        self._config = config
        for line in self.lines.values():
            line.reconfigure(
                prompts=config.prompt_text(), challenge=config.challenge, watchdog=config.watchdog
            )

    # ----------------------------------------------------------------- running

    def start(self, group: asyncio.TaskGroup) -> None:
        """Run every line in service, each in a task of `group` (the service's); lines
        added or enabled later join the same group."""
        self._started = True
        self._group = group
        for name, line in self.lines.items():
            if not line.disabled:
                self._start_line(name)

    def stop(self) -> None:
        """Stop every line and cancel its task (the service stops)."""
        for line in self.lines.values():
            line.stop()
        for task in self._tasks.values():
            task.cancel()

    def left_group(self) -> None:
        """The service's task group is gone: a line started later runs in a task of its own."""
        self._group = None

    def _start_line(self, name: str) -> None:
        line = self.lines[name]
        spawn = self._group.create_task if self._group is not None else asyncio.create_task
        self._tasks[name] = spawn(self._supervise(line), name=f"line-{name}")

    async def _supervise(self, line: Line) -> None:
        """Run a line; if it crashes (a bug, not a modem fault), log, alarm and restart it.

        Modem faults are the line's own business (FAILED, back-off, reconnect); this is
        the net under that, so no exception can leave a line dead without anyone knowing.
        """
        delay_s = RESTART_FIRST_S
        while True:
            try:
                await line.run()
                return  # stopped
            except Exception as exc:
                logger.exception("ALARM line %s crashed; restarting in %.0f s", line.name, delay_s)
                self._call_log.add_event(
                    "line_crashed",
                    line=line.name,
                    detail={"error": f"{type(exc).__name__}: {exc}"},
                    ts=self._clock.timestamp(),
                )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, RESTART_MAX_S)

    # ----------------------------------------------------------------- the operator's side

    def answer(self, line_name: str, operator: str) -> bool:
        """An operator answers the call waiting on `line_name`."""
        line = self.lines.get(line_name)
        return line is not None and line.operator_answer(operator)

    def hang_up(self, line_name: str) -> bool:
        """An operator ends the call connected on `line_name`."""
        line = self.lines.get(line_name)
        return line is not None and line.operator_hang_up()

    # ----------------------------------------------------------------- a technician's choice

    async def disable_line(self, name: str, *, by: str | None) -> bool:
        """Take a line out of service (a technician's choice on the lines page): its port
        is closed and it rests in DISABLED. False, changing nothing, while it holds a
        call: a call in progress is never cut, the caller asks again later."""
        line = self.lines[name]
        if line.disabled:
            return True
        if line.call is not None or line.state in CALL_STATES:
            return False
        line.take_out_of_service()
        task = self._tasks.get(name)
        if task is not None and not task.done():
            task.cancel()  # it may wait in a back-off or a recovery step
            await asyncio.wait({task})
        self._tasks.pop(name, None)
        logger.warning("line %s disabled by %s: out of service, port released", name, by)
        self._call_log.add_event(
            "line_disabled", line=name, detail={"by": by}, ts=self._clock.timestamp()
        )
        return True

    def enable_line(self, name: str, *, by: str | None) -> None:
        """Put a disabled line back in service: it opens its port and initialises again."""
        line = self.lines[name]
        if not line.disabled:
            return
        line.return_to_service()
        self._start_line(name)
        logger.warning("line %s enabled by %s: back in service", name, by)
        self._call_log.add_event(
            "line_enabled", line=name, detail={"by": by}, ts=self._clock.timestamp()
        )

    # ----------------------------------------------------------------- the lines in force

    def use_lines_at_start(self, wanted: LinesInForce) -> bool:
        """Before any port opens: build the lines in force (the web UI's, else the file's
        already built). True when the web UI's replaced the file's."""
        self.source = wanted.source
        if wanted.source == "file":
            return False
        self.lines.clear()  # the same dict the gateway, the housekeeping and the board read
        for line_config in wanted.lines:
            if line_config.enabled:
                self.lines[line_config.name] = self.build_line(line_config)
        logger.warning(
            "lines from the web UI in force (%d); the file's [[lines]] are not used",
            len(self.lines),
        )
        return True

    async def apply_lines(
        self, wanted: LinesInForce, *, disabled: Collection[str] = ()
    ) -> list[str]:
        """Bring the running lines in step with `wanted` without touching the others: a
        new line is built and started (left out of service if in `disabled`), a removed
        one stopped, a changed one stopped and started anew. A line holding a call is
        left as it is until its call ends (never cut), and so is a new line whose port a
        waiting line still holds; returns the names still waiting (the caller asks again).
        """
        self.source = wanted.source
        wanted_by_name = {line.name: line for line in wanted.lines if line.enabled}
        waiting: list[str] = []
        for name, line in list(self.lines.items()):
            if wanted_by_name.get(name) == line.config:
                continue
            if line.call is not None or line.state in CALL_STATES:
                waiting.append(name)
            else:
                await self._remove_line(name, replaced=name in wanted_by_name)
        held = {port for line in self.lines.values() for port in ports(line.config)}
        for name, line_config in wanted_by_name.items():
            if name in self.lines:
                continue
            if held & set(ports(line_config)):
                waiting.append(name)
                continue
            self._add_line(line_config, disabled=name in disabled)
        return sorted(set(waiting))

    def in_step(self, wanted: LinesInForce) -> bool:
        """True when the running lines are exactly the enabled lines of `wanted`."""
        running = {name: line.config for name, line in self.lines.items()}
        return running == {line.name: line for line in wanted.lines if line.enabled}

    def _add_line(self, line_config: LineConfig, *, disabled: bool) -> None:
        name = line_config.name
        line = self.build_line(line_config)
        self.lines[name] = line
        if disabled:
            line.take_out_of_service()
        elif self._started:
            self._start_line(name)
        logger.warning("line %s (%s) added from the web UI", name, line_config.port)
        self._call_log.add_event(
            "line_added", line=name, detail={"port": line_config.port}, ts=self._clock.timestamp()
        )

    async def _remove_line(self, name: str, *, replaced: bool) -> None:
        """Stop a line that holds no call and let go of its port; the listener forgets
        its status unless a line of the same name takes its place."""
        line = self.lines.pop(name)
        line.take_out_of_service()  # closes the port; rests DISABLED, no line_down alarm
        task = self._tasks.pop(name, None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        self._listener.line_removed(name, replaced=replaced)
        kind = "line_restarting" if replaced else "line_removed"
        logger.warning("line %s %s (web UI)", name, "stopped to restart" if replaced else "removed")
        self._call_log.add_event(kind, line=name, ts=self._clock.timestamp())
