"""Talking to systemd: readiness, the watchdog and status (sd_notify), and journald logging.

`siaga.service` is `Type=notify` with `WatchdogSec=`: systemd waits for `READY=1` before
it counts the service as started, and restarts it when `WATCHDOG=1` pings stop for longer
than the watchdog period. The protocol is one datagram of `KEY=VALUE` lines sent to the
AF_UNIX socket named by `$NOTIFY_SOCKET` (a leading `@` means an abstract socket), so it
needs no library. Outside systemd (`siaga run` in a terminal, the tests, the demo) the
variable is unset and every call here does nothing.

Nothing here raises: a service that cannot talk to systemd must keep screening calls. The
first failure is logged as a warning, later ones only at debug level.

Under systemd, standard error goes to the journal (`$JOURNAL_STREAM` names it); there
`journal_formatter()` prefixes each record with its syslog priority (`<3>` for errors) so
`journalctl -p warning` filters by level, and leaves the timestamp to journald.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The event loop records a heartbeat tick this often (see LoopHeartbeat)...
HEARTBEAT_TICK_S = 1.0
# ...and a loop without a tick for this long counts as stuck: well under WatchdogSec=30.
STALE_AFTER_S = 10.0


class _FailureLog:
    """Logs the first failure to notify at WARNING, the rest at DEBUG (no log flood)."""

    warned = False

    @classmethod
    def failed(cls, what: str, exc: BaseException) -> None:
        level = logging.DEBUG if cls.warned else logging.WARNING
        cls.warned = True
        logger.log(level, "systemd notification %s failed: %s", what, exc)


def _socket_address(name: str) -> str | bytes:
    """`$NOTIFY_SOCKET` as a connectable address: `@name` is the abstract socket `\\0name`."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def notify(
    *,
    ready: bool = False,
    watchdog: bool = False,
    stopping: bool = False,
    status: str | None = None,
) -> bool:
    """Send the given states to systemd in one datagram; True when it was sent.

    A no-op (False) when `$NOTIFY_SOCKET` is unset or nothing was asked for. Never raises.
    """
    fields = [
        name
        for name, wanted in (("READY=1", ready), ("WATCHDOG=1", watchdog), ("STOPPING=1", stopping))
        if wanted
    ]
    if status is not None:
        fields.append("STATUS=" + status.replace("\n", " "))
    target = os.environ.get("NOTIFY_SOCKET", "")
    if not target or not fields:
        return False
    message = "\n".join(fields)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never wait: a full or stuck receiver must not block the line service's loop.
            sock.setblocking(False)
            sock.sendto(message.encode(), _socket_address(target))
    except (OSError, ValueError) as exc:
        _FailureLog.failed(message.replace("\n", ", "), exc)
        return False
    return True


def watchdog_interval_s() -> float | None:
    """How often to send `WATCHDOG=1`: half the unit's `WatchdogSec=`, or None when off.

    systemd sets `$WATCHDOG_USEC` (the period) and `$WATCHDOG_PID` (the process it
    expects the pings from); a variable meant for another process (inherited by a child)
    does not count. Half the period leaves one missed ping of slack, as sd_watchdog_enabled(3)
    recommends.
    """
    try:
        period_us = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if period_us <= 0:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    return period_us / 1_000_000 / 2


class LoopHeartbeat:
    """Records when the running event loop last ran a tick of its own.

    `fresh(max_age_s)` is the watchdog's liveness check: the ticks are plain loop
    callbacks, so when a line's code blocks the loop (a serial call without a timeout, a
    lock held forever) the ticks stop, the check fails and the pings stop with it.
    """

    def __init__(self, tick_s: float = HEARTBEAT_TICK_S) -> None:
        self.tick_s = tick_s
        self.last_tick = time.monotonic()
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start ticking on the running loop."""
        self._tick()

    def stop(self) -> None:
        """Stop ticking."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def fresh(self, max_age_s: float) -> bool:
        """True when the loop ran a tick in the last `max_age_s` seconds."""
        return time.monotonic() - self.last_tick <= max_age_s

    def _tick(self) -> None:
        self.last_tick = time.monotonic()
        self._handle = asyncio.get_running_loop().call_later(self.tick_s, self._tick)


def _alive(is_alive: Callable[[], bool]) -> bool:
    """`is_alive()`, with an error in the check itself counted as not alive."""
    try:
        return bool(is_alive())
    except Exception:
        logger.exception("the watchdog's liveness check failed")
        return False


async def keep_watchdog_fed(is_alive: Callable[[], bool], interval_s: float) -> None:
    """Send `WATCHDOG=1` every `interval_s` seconds, but only while `is_alive()` is True.

    When the check fails the pings stop and systemd, after `WatchdogSec=`, kills and
    restarts the service (`Restart=always`): a stuck line loop does not stay stuck. The
    first missed ping is logged as an alarm. Runs until cancelled.
    """
    stalled = False
    while True:
        if _alive(is_alive):
            notify(watchdog=True)
            if stalled:
                logger.warning("watchdog: the service is alive again; pinging systemd")
            stalled = False
        elif not stalled:
            logger.error(
                "ALARM watchdog: the line service looks stuck; no longer pinging systemd, "
                "which restarts the service when its watchdog period runs out"
            )
            stalled = True
        await asyncio.sleep(interval_s)


async def run_notifying(main: Coroutine[Any, Any, T], *, status: str) -> T:
    """Run `main` (the line service) as a systemd notify service; its result.

    Once `main` has had its first step (the line service starts its lines' tasks there)
    systemd hears `READY=1` and `status`; while it runs, the watchdog is fed as long as the
    event loop keeps ticking and `main` has not ended; when it ends, for whatever reason,
    systemd hears `STOPPING=1`. Without systemd this is just `await main`.
    """
    heartbeat = LoopHeartbeat()
    heartbeat.start()
    runner = asyncio.create_task(main, name="service")
    interval_s = watchdog_interval_s()
    feeder = None
    if interval_s is not None:

        def alive() -> bool:
            return heartbeat.fresh(STALE_AFTER_S) and not runner.done()

        feeder = asyncio.create_task(keep_watchdog_fed(alive, interval_s), name="watchdog")
    await asyncio.sleep(0)
    notify(ready=True, status=status)
    try:
        return await runner
    finally:
        notify(stopping=True, status="stopping")
        heartbeat.stop()
        if feeder is not None:
            feeder.cancel()


# ------------------------------------------------------------------------- journald


def syslog_priority(level: int) -> int:
    """The syslog priority journald should store for a logging level."""
    if level >= logging.CRITICAL:
        return 2
    if level >= logging.ERROR:
        return 3
    if level >= logging.WARNING:
        return 4
    return 6 if level >= logging.INFO else 7


def stderr_is_journal() -> bool:
    """True when standard error is connected to journald (`$JOURNAL_STREAM` names it)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = expected.partition(":")
    try:
        status = os.fstat(2)
        return (status.st_dev, status.st_ino) == (int(device), int(inode))
    except (OSError, ValueError):
        return False


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`: journald stores the priority and adds the time itself.

    Each line of a multi-line record (a traceback) carries the prefix, so none of it is
    logged at the default level.
    """

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = syslog_priority(record.levelno)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def journal_formatter() -> logging.Formatter | None:
    """A JournalFormatter when standard error goes to journald, else None."""
    return JournalFormatter() if stderr_is_journal() else None
