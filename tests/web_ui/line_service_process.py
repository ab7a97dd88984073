"""The real line service in a process of its own, for tests that kill it.

`running_centre` (tests/web_ui/real_centre.py) runs the line service in a thread of the
test process; a test that must `kill -9` the service as a crash would runs this module
instead: `python -m tests.web_ui.line_service_process --db FILE --line NAME` starts the
real `LineService` on one SIM7600 virtual modem over a real pseudo-terminal, writing to
FILE, and runs until it is killed. `started_service` starts it and waits for its first
heartbeat.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.clock import SystemClock
from appliance.config import Config, LineConfig
from appliance.service import LineService
from appliance.store import CallLog, RuleStore
from firmware.virtual_modem import VirtualModem

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
START_S = 30.0  # the process's start, first heartbeat included, on a shared machine


async def serve_line(db_path: Path, line: str) -> None:
    """The line service on `db_path` with one line named `line`, until the process ends."""
    config = Config.model_validate({"site": {"language": "id"}})
    modem = VirtualModem("sim7600", name=line)
    await modem.start()
    call_log = CallLog(db_path, timezone=config.site.timezone)
    call_log.open()
    service = LineService(
        config,
        call_log=call_log,
        rule_store=RuleStore(db_path, timezone=config.site.timezone),
        clock=SystemClock(),
        lines=[LineConfig(name=line, port=modem.port, family="sim7600", desk="desk1")],
        desk_poll_s=0.1,
        board=None,
    )
    service.prepare()
    await service.run()


def _heartbeat_of(db_path: Path, pid: int) -> float | None:
    """The heartbeat the process `pid` wrote last, if it wrote one."""
    conn = sqlite3.connect(db_path, timeout=5.0)
    try:
        row = conn.execute("SELECT pid, heartbeat_ts FROM service_state WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return None
    finally:
        conn.close()
    return None if row is None or row[0] != pid else row[1]


@contextmanager
def started_service(db_path: Path, line: str) -> Iterator[subprocess.Popen[bytes]]:
    """This module in a child process, once it has beaten; killed (SIGKILL) at the end if
    the test has not done it already."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.web_ui.line_service_process", "--db", str(db_path),
         "--line", line],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_S
        while _heartbeat_of(db_path, child.pid) is None:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the line service did not start (status {child.poll()})")
            time.sleep(0.1)
        yield child
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)


def main() -> None:
    """Parse the arguments and serve the line until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--line", required=True)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve_line(arguments.db, arguments.line))


if __name__ == "__main__":
    main()
