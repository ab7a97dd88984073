"""The real line service on virtual modems, running beside the live web server.

The browser tests that need a real call (the console, the screening settings, the lines
page) run the real `LineService` on a virtual modem over a real pseudo-terminal, in real
time, on an event loop in a thread of its own: the boundary between the two halves is
the database, as on the box, not the thread. `running_centre` starts one and stops it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from appliance.clock import SystemClock
from appliance.config import Config, LineConfig
from appliance.service import LineService
from appliance.store import CallLog, RuleStore
from firmware.virtual_modem import VirtualModem
from tests.web_ui.conftest import LiveServer

START_S = 15.0  # the service's start and stop, in real time on a shared machine


@dataclass
class RealCentre:
    """The line service and its modem, running on a loop in another thread."""

    loop: asyncio.AbstractEventLoop
    modem: VirtualModem
    service: LineService

    def do(self, action: Callable[[], Any]) -> None:
        """Run `action` on the service's loop (the modem's network side is not threadsafe)."""
        self.loop.call_soon_threadsafe(action)


@contextmanager
def running_centre(
    server: LiveServer,
    config: Config,
    *,
    line: str,
    listen: bool = False,
    desk_poll_s: float | None = 0.1,
) -> Iterator[RealCentre]:
    """The line service on `server`'s database with one SIM7600 line named `line` (its
    voice port wired when `listen`); stopped, its call log flushed, on leaving."""
    ready: Future[RealCentre] = Future()
    stop = threading.Event()

    async def main() -> None:
        modem = VirtualModem("sim7600", name=line)
        await modem.start()
        call_log = CallLog(server.db_path, timezone=config.site.timezone)
        call_log.open()
        voice_port = modem.voice_port if listen else None
        service = LineService(
            config,
            call_log=call_log,
            rule_store=RuleStore(server.db_path, timezone=config.site.timezone),
            clock=SystemClock(),
            lines=[LineConfig(name=line, port=modem.port, family="sim7600", desk="desk1",
                              voice_port=voice_port)],
            desk_poll_s=desk_poll_s,
            board=None,
        )  # fmt: skip
        service.prepare()
        runner = asyncio.create_task(service.run())
        ready.set_result(RealCentre(asyncio.get_running_loop(), modem, service))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        service.stop()
        await runner
        modem.close()
        call_log.flush(5.0)
        call_log.close()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=START_S)
    finally:
        stop.set()
        thread.join(timeout=START_S)
