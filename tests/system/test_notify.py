"""sd_notify and the watchdog: real AF_UNIX datagram sockets, and a real `siaga run`."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance import systemd
from tests.appliance.test_run import ModemThread

WATCHDOG_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")


class Receiver:
    """A bound AF_UNIX datagram socket standing in for systemd's notify socket.

    A thread reads it all the time, as systemd does (a full socket would refuse datagrams),
    and keeps each message with the monotonic time it arrived.
    """

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.sock.close()

    def fields(self) -> list[str]:
        return [message for _, message in list(self.messages)]

    def wait_for(self, field: str, after: int = 0, timeout_s: float = 30.0) -> int:
        """Wait for a message holding `field` among those from index `after`; its index."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for index, message in enumerate(self.fields()[after:], start=after):
                if field in message.splitlines():
                    return index
            time.sleep(0.01)
        pytest.fail(f"no {field} within {timeout_s} s; got {self.fields()}")

    def settle(self) -> None:
        """Give datagrams already sent time to be read."""
        time.sleep(0.2)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WATCHDOG_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(systemd._FailureLog, "warned", False)


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    path = tmp_path / "notify.sock"
    found = Receiver(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield found
    found.close()


# ------------------------------------------------------------------ notify()


def test_notify_sends_the_states_in_one_datagram(receiver: Receiver) -> None:
    assert systemd.notify(ready=True, status="screening calls\non 2 lines")
    assert systemd.notify(watchdog=True)
    assert systemd.notify(stopping=True)
    receiver.settle()
    assert receiver.fields() == [
        "READY=1\nSTATUS=screening calls on 2 lines",
        "WATCHDOG=1",
        "STOPPING=1",
    ]


def test_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"siaga-test-{uuid.uuid4().hex}"
    abstract = Receiver(b"\0" + name.encode())
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify(ready=True)
        abstract.settle()
        assert abstract.fields() == ["READY=1"]
    finally:
        abstract.close()


def test_notify_does_nothing_without_systemd() -> None:
    assert systemd.notify(ready=True, status="x") is False


def test_a_dead_socket_is_logged_once_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    with caplog.at_level(logging.DEBUG, logger="appliance.systemd"):
        assert systemd.notify(watchdog=True) is False
        assert systemd.notify(watchdog=True) is False
    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG]


def test_a_full_socket_does_not_block_the_sender(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "never-read.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unread:
        unread.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        started = time.monotonic()
        sent = [systemd.notify(watchdog=True) for _ in range(2000)]
        assert time.monotonic() - started < 5
    assert sent[0] and not sent[-1]  # the queue filled up; later pings were dropped


# ------------------------------------------------------------------ the watchdog


def test_the_watchdog_interval_is_half_the_period_for_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert systemd.watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert systemd.watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert systemd.watchdog_interval_s() is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert systemd.watchdog_interval_s() is None


def pings(receiver: Receiver) -> list[float]:
    return [at for at, message in list(receiver.messages) if message == "WATCHDOG=1"]


def test_pings_stop_while_the_service_is_not_alive_and_resume_after(receiver: Receiver) -> None:
    alive = [True]
    stuck: list[float] = []

    async def scenario() -> None:
        feeder = asyncio.create_task(systemd.keep_watchdog_fed(lambda: alive[0], 0.02))
        await asyncio.sleep(0.2)
        alive[0] = False
        await asyncio.sleep(0.1)  # a ping already sent may still be read
        stuck.append(time.monotonic())
        await asyncio.sleep(0.3)
        stuck.append(time.monotonic())
        alive[0] = True
        await asyncio.sleep(0.2)
        feeder.cancel()

    asyncio.run(scenario())
    receiver.settle()
    start, end = stuck
    assert [at for at in pings(receiver) if start <= at <= end] == []
    assert sum(at < start for at in pings(receiver)) >= 3
    assert sum(at > end for at in pings(receiver)) >= 3


def test_a_failing_liveness_check_counts_as_stuck(receiver: Receiver) -> None:
    def broken() -> bool:
        raise RuntimeError("bug in the check")

    async def scenario() -> None:
        feeder = asyncio.create_task(systemd.keep_watchdog_fed(broken, 0.01))
        await asyncio.sleep(0.1)
        feeder.cancel()

    asyncio.run(scenario())
    receiver.settle()
    assert receiver.fields() == []


def test_a_blocked_event_loop_sends_no_pings(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 0.05 s

    async def service() -> str:
        await asyncio.sleep(0.3)
        time.sleep(1.0)  # a line's code blocking the loop
        await asyncio.sleep(0.3)
        return "stopped"

    assert asyncio.run(systemd.run_notifying(service(), status="testing")) == "stopped"
    receiver.settle()
    fields = receiver.fields()
    assert "READY=1\nSTATUS=testing" in fields
    assert fields[-1] == "STOPPING=1\nSTATUS=stopping"
    times = pings(receiver)
    assert len(times) >= 6
    assert max(b - a for a, b in itertools.pairwise(times)) >= 0.9


# ------------------------------------------------------------------ journald


def test_log_records_carry_their_syslog_priority_for_journald() -> None:
    formatter = systemd.JournalFormatter()
    record = logging.LogRecord(
        "siaga", logging.ERROR, __file__, 1, "line %s\nfailed", ("l1",), None
    )
    assert formatter.format(record) == "<3>siaga: line l1\n<3>failed"
    record.levelno = logging.INFO
    assert formatter.format(record).startswith("<6>siaga: ")


def test_journald_is_recognised_from_journal_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    assert systemd.journal_formatter() is None
    status = os.fstat(2)
    monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
    assert isinstance(systemd.journal_formatter(), systemd.JournalFormatter)
    monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino + 1}")
    assert systemd.journal_formatter() is None


# ------------------------------------------------------------------ siaga run, for real


def test_siaga_run_tells_systemd_it_is_ready_and_feeds_the_watchdog(
    tmp_path: Path, receiver: Receiver
) -> None:
    modem = ModemThread("sim7600")
    config = tmp_path / "siaga.toml"
    config.write_text(
        f'[database]\npath = "{tmp_path / "calls.db"}"\n\n'
        f'[[lines]]\nname = "line1"\nport = "{modem.modem.port}"\nfamily = "auto"\n'
    )
    # systemd's environment for a Type=notify unit with WatchdogSec=2 (a ping every 1 s).
    environment = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    environment["WATCHDOG_USEC"] = "2000000"
    process = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "run", "--config", str(config)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = receiver.wait_for("READY=1")
        assert "STATUS=screening calls on 1 line(s)" in receiver.fields()[ready].splitlines()
        after = ready
        for _ in range(3):
            after = receiver.wait_for("WATCHDOG=1", after=after + 1, timeout_s=5)
        times = pings(receiver)
        assert times[-1] - times[0] >= 1.5  # one ping per interval (1 s), not a burst
        process.send_signal(signal.SIGINT)
        receiver.wait_for("STOPPING=1", after=after, timeout_s=20)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        modem.close()
