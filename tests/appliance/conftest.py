"""Test bench for the line state machine: the real stack, wired as `appliance.simulate` does.

One `Bench` is one line: a `VirtualModem` of a chosen family on a real pseudo-terminal, the
real `LineService` (policy, rules, the `Line` under test) and a real `CallLog` on a SQLite
file in `tmp_path`. Everything runs on a `VirtualTimeLoop`, so prompts, ring intervals and
back-off cost no real time; an in-flight probe (as in `simulate._in_flight_probe`) stops
the virtual clock from jumping while bytes are still crossing the pty.

Nothing here is a mock: the desk is a real `OperatorDesk` that only records what it hears.
Tests are bounded twice: in virtual time (`asyncio.timeout`) and in real time (a watchdog
thread that cancels the test's task, so the bench still tears down cleanly).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from appliance.clock import LoopClock, VirtualTimeLoop
from appliance.config import Config, LineConfig, PromptText
from appliance.line import ActiveCall, Line
from appliance.model import LineState
from appliance.service import LineService, OperatorDesk
from appliance.simulate import InFlightProbe
from appliance.store import CallLog, RuleStore
from firmware.virtual_modem import CallerSound, VirtualCall, VirtualModem

T = TypeVar("T")

FAMILIES = ("sim800", "sim7600", "ec25", "m95", "huawei", "generic")
# "generic" has no in-call audio: it cannot answer-and-prompt, so it fails open instead.
AUDIO_FAMILIES = tuple(family for family in FAMILIES if family != "generic")

EPOCH = datetime(2024, 4, 3, 5, 0, tzinfo=UTC)  # 12:00 in Serang
PROMPT_S = 3.0  # every prompt plays this long (modem players and the Huawei host PCM alike)
REAL_TIMEOUT_S = 30.0  # generous: a shared 2-core box; a healthy test takes well under 1 s
VIRTUAL_TIMEOUT_S = 1800.0
POLL_S = 0.05  # virtual seconds between checks in `wait_until`
WAIT_S = 120.0  # virtual seconds `wait_until` allows by default

CALLER = "081234567890"  # as the modem reports it (national form)
CALLER_E164 = "+6281234567890"


def run_virtual(test: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `test()` on a fresh VirtualTimeLoop, bounded in virtual and in real time."""
    loop = VirtualTimeLoop()
    asyncio.set_event_loop(loop)

    async def bounded() -> T:
        async with asyncio.timeout(VIRTUAL_TIMEOUT_S):
            return await test()

    task = loop.create_task(bounded())
    timed_out = threading.Event()

    def cancel_from_watchdog() -> None:
        timed_out.set()
        task.cancel()

    watchdog = threading.Timer(
        REAL_TIMEOUT_S, lambda: loop.call_soon_threadsafe(cancel_from_watchdog)
    )
    watchdog.daemon = True
    watchdog.start()
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if timed_out.is_set():
            raise AssertionError(f"test took more than {REAL_TIMEOUT_S} s of real time") from None
        raise
    finally:
        watchdog.cancel()
        _cancel_leftovers(loop)
        asyncio.set_event_loop(None)
        loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


@dataclass
class RecordingDesk(OperatorDesk):
    """An operator desk (the `OperatorDesk` protocol) that remembers what it was told."""

    waiting: list[ActiveCall] = field(default_factory=list)
    ended: list[ActiveCall] = field(default_factory=list)

    def call_waiting(self, line: Line, call: ActiveCall) -> None:
        """A call waits for an operator."""
        self.waiting.append(call)

    def call_ended(self, line: Line, call: ActiveCall) -> None:
        """A call ended."""
        self.ended.append(call)


def short_prompts(**overrides: Any) -> dict[str, PromptText]:
    """The default English prompts, each `PROMPT_S` long (plus `overrides`)."""
    base = Config().prompts["en"]
    seconds = {
        "challenge_seconds": PROMPT_S,
        "connecting_seconds": PROMPT_S,
        "announce_seconds": PROMPT_S,
        "goodbye_seconds": PROMPT_S,
    }
    return {"en": base.model_copy(update={**seconds, **overrides})}


def make_config(
    *, prompts: dict[str, Any] | None = None, policy: dict[str, Any] | None = None, **sections: Any
) -> Config:
    """A validated Config in English with short prompts; `policy`/sections as in TOML.

    The board is always the simulated one: a test run on a Pi must not touch its pins."""
    data: dict[str, Any] = {"site": {"language": "en"}, "board": {"backend": "simulated"}}
    data |= sections
    if policy:
        data["policy"] = policy
    config = Config.model_validate(data)
    return config.model_copy(update={"prompts": short_prompts(**(prompts or {}))})


@dataclass
class Bench:
    """One line of the real appliance against one virtual modem."""

    family: str
    modem: VirtualModem
    service: LineService
    line: Line
    call_log: CallLog
    rule_store: RuleStore
    desk: RecordingDesk
    clock: LoopClock
    db_path: Path
    link: Path | None = None  # the stable name the line opens, if not the pty itself

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running (virtual-time) loop."""
        return asyncio.get_running_loop()

    # ------------------------------------------------------------- waiting

    async def wait_until(
        self, predicate: Callable[[], bool], what: str, timeout_s: float = WAIT_S
    ) -> None:
        """Poll `predicate` in virtual time; fail naming `what` after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what} (line {self.line.state.value}, "
                    f"modem {self.modem.state.value}, last error {self.line.health.last_error})"
                )
            await asyncio.sleep(POLL_S)

    async def wait_state(self, state: LineState, timeout_s: float = WAIT_S) -> None:
        """Wait until the line is in `state`."""
        await self.wait_until(lambda: self.line.state is state, f"line {state.value}", timeout_s)

    async def wait_idle_after(self, virtual: VirtualCall) -> None:
        """Wait until the network saw `virtual` end and the line is idle again."""
        await self.wait_until(lambda: not virtual.live, "the modem call to end")
        await self.wait_until(
            lambda: self.line.state is LineState.IDLE and self.line.call is None,
            "the line to be idle",
        )

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass."""
        await asyncio.sleep(seconds)

    # ------------------------------------------------------------- network side

    def ring(self, number: str | None = CALLER, **kwargs: Any) -> VirtualCall:
        """A caller dials the line. Unless `sound` says otherwise the caller speaks a second
        after the answer, as most callers do; tests about silent lines pass `sound`."""
        kwargs.setdefault("sound", CallerSound("voice", start_s=1.0))
        return self.modem.incoming_call(number, **kwargs)

    def commands_sent(self) -> list[str]:
        """Every command line the modem received, in order."""
        return [text for _, direction, text in self.modem.transcript if direction == "rx"]

    def commands_since(self, loop_time: float) -> list[str]:
        """Command lines the modem received at or after `loop_time`."""
        return [
            text
            for at, direction, text in self.modem.transcript
            if direction == "rx" and at >= loop_time
        ]

    def unplug(self) -> None:
        """Pull the USB modem: its tty vanishes, and so does its stable name (as udev does).

        The name must go: a line retrying a bare /dev/pts/N would open whichever pty next
        takes that number, perhaps another test's (or, on the box, another modem's).
        """
        self.modem.unplug()
        if self.link is not None:
            self.link.unlink()

    def plug_in_as(self, path: str) -> None:
        """Point the stable name at the modem's new tty (udev after a replug)."""
        assert self.link is not None
        fresh = self.link.with_name(self.link.name + ".new")
        fresh.symlink_to(path)
        os.replace(fresh, self.link)

    # ------------------------------------------------------------- rules

    def add_rule(
        self,
        kind: str,
        action: str,
        pattern: str = CALLER_E164,
        *,
        reason: str = "test rule",
    ) -> str:
        """Store a rule in the database and load the rules into the running policy."""
        rule_id = self.rule_store.add(
            {
                "kind": kind,
                "pattern": pattern,
                "action": action,
                "reason": reason,
                "created_by": "supervisor",
                "created_ts": self.clock.timestamp() - 1.0,
            }
        )
        self.service.reload_rules()
        return rule_id

    # ------------------------------------------------------------- the call log

    def rows(self) -> list[dict[str, Any]]:
        """Every committed `calls` row, by id (after flushing the writer)."""
        assert self.call_log.flush(10.0), "call log did not flush"
        return _select(self.db_path, "SELECT * FROM calls ORDER BY id")

    def row(self) -> dict[str, Any]:
        """The one and only call row."""
        rows = self.rows()
        assert len(rows) == 1, f"expected one call row, got {len(rows)}: {rows}"
        return rows[0]

    def events(self, kind: str) -> list[dict[str, Any]]:
        """Committed `events` rows of `kind`."""
        assert self.call_log.flush(10.0), "call log did not flush"
        return _select(self.db_path, "SELECT * FROM events WHERE kind = ? ORDER BY id", kind)

    def callbacks(self) -> list[dict[str, Any]]:
        """Committed call-back list entries, by id."""
        assert self.call_log.flush(10.0), "call log did not flush"
        return _select(self.db_path, "SELECT * FROM callbacks ORDER BY id")


def _select(db_path: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        cursor = conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def open_bench(
    tmp_path: Path,
    family: str,
    *,
    config: Config | None = None,
    link: Path | None = None,
    health_interval_s: float = 3600.0,
    modem_setup: Callable[[VirtualModem], None] | None = None,
    wait_idle: bool = True,
    desk_poll_s: float | None = None,
    rule_poll_s: float | None = None,
    **line_options: Any,
) -> AsyncIterator[Bench]:
    """Start a modem and the service on one line; yield once the line is idle.

    `link`: the line opens this symlink to the modem's tty instead (unplug/replug tests);
    `line_options` go into the line's `LineConfig` (reject_method, deflect_to, ...);
    `modem_setup` adjusts the modem before the line first opens it; `desk_poll_s` turns
    on the service's polling of console requests (off by default: no console runs).
    """
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    clock = LoopClock(loop, EPOCH)
    config = config or make_config()
    modem = VirtualModem(family, name="line1")
    await modem.start()
    modem.prompt_duration_s = PROMPT_S
    if modem_setup is not None:
        modem_setup(modem)
    if link is not None:
        link.symlink_to(modem.port)
    line_config = LineConfig(
        name="line1",
        port=str(link) if link is not None else modem.port,
        family=family,  # type: ignore[arg-type]
        desk="desk1",
        **({"voice_port": modem.voice_port} | line_options),
    )
    db_path = tmp_path / "siaga.db"
    call_log = CallLog(db_path, timezone=config.site.timezone)
    call_log.open(now_ts=clock.timestamp())
    rule_store = RuleStore(db_path, timezone=config.site.timezone)
    service = LineService(
        config,
        call_log=call_log,
        rule_store=rule_store,
        clock=clock,
        lines=[line_config],
        health_interval_s=health_interval_s,
        rule_poll_s=rule_poll_s,
        desk_poll_s=desk_poll_s,
    )
    line = service.lines["line1"]
    loop.add_in_flight_probe(InFlightProbe(line, modem))
    # As in simulate: a line waiting for its row to be committed (a real thread) is busy.
    loop.add_in_flight_probe(lambda: call_log.commit_waiters > 0)
    desk = RecordingDesk()
    service.desks.append(desk)
    service.prepare()
    runner = asyncio.create_task(service.run(), name="service")
    bench = Bench(family, modem, service, line, call_log, rule_store, desk, clock, db_path, link)
    try:
        if wait_idle:
            await bench.wait_state(LineState.IDLE)
        yield bench
    finally:
        service.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        modem.close()
        call_log.close()
        rule_store.close()
