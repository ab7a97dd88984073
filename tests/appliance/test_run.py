"""`siaga run` as a real process on a virtual modem: screening, logging, live rule changes."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from firmware.virtual_modem import VirtualCall, VirtualModem

T = TypeVar("T")
DEADLINE_S = 60.0


class ModemThread:
    """A virtual modem running on its own event loop in a background thread."""

    def __init__(self, family: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.modem = self.call(lambda: VirtualModem(family, name="line1"))
        asyncio.run_coroutine_threadsafe(self.modem.start(), self.loop).result(10)

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the modem's loop and return its result."""

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def close(self) -> None:
        self.call(self.modem.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` until it returns something truthy, or fail after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def siaga(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web_ui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rows(db: Path) -> list[sqlite3.Row]:
    if not db.exists():
        return []
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute("select * from calls order by id").fetchall()
    except sqlite3.OperationalError:
        return []  # the service has not created the table yet
    finally:
        connection.close()


@pytest.fixture(params=["sim800"])
def modem(request: pytest.FixtureRequest) -> Iterator[ModemThread]:
    thread = ModemThread(request.param)
    yield thread
    thread.close()


@pytest.fixture
def running(modem: ModemThread, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    config = tmp_path / "siaga.toml"
    db = tmp_path / "calls.db"
    config.write_text(
        f'[database]\npath = "{db}"\n\n'
        f'[[lines]]\nname = "line1"\nport = "{modem.modem.port}"\nfamily = "auto"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "-v", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: any("AT+CLIP=1" in line for _, _, line in list(modem.modem.transcript)),
            "the line to initialise the modem",
        )
        yield config, db
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    """Stop `siaga run` as systemd does (SIGINT), or kill it if it will not go."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def place_call(modem: ModemThread, number: str) -> VirtualCall:
    return modem.call(lambda: modem.modem.incoming_call(number))


@pytest.mark.parametrize(
    "modem", ["sim800", "sim7600", "ec25", "m95", "huawei", "generic"], indirect=True
)
def test_run_screens_a_call_and_logs_it(modem: ModemThread, running: tuple[Path, Path]) -> None:
    _, db = running
    call = place_call(modem, "081234567890")
    # A number with no good history is challenged: answered, prompted. Modems that cannot
    # play a prompt (Huawei without its voice port configured, generic) fail open instead.
    can_prompt = modem.modem.profile.name not in ("huawei", "generic")
    if can_prompt:
        wait_for(lambda: call.answered_at is not None and call.prompts, "the challenge prompt")
    else:
        wait_for(lambda: call.answered_at is None and rows(db), "the call to be screened")
    modem.call(lambda: modem.modem.caller_hangs_up(call))
    row = wait_for(lambda: [r for r in rows(db) if r["ended_at"]], "the call's row")[0]
    assert row["caller_raw"] == "081234567890"
    assert row["caller"] == "+6281234567890"
    if can_prompt:
        assert (row["decision"], row["reason"]) == ("challenge", "no_history")
        assert row["challenge_result"] == "caller_hung_up"
    else:
        assert (row["decision"], row["reason"]) == ("pass", "fail_open")
    assert row["started_at"].endswith("+07:00")
    # `family = "auto"`: the line recognised the dialect from AT+CGMI / AT+CGMM.
    assert f'"family": "{modem.modem.profile.name}"' in line_up_detail(db)


def line_up_detail(db: Path) -> str:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        found = connection.execute(
            "select detail from events where kind = 'line_up' order by id limit 1"
        ).fetchone()
    finally:
        connection.close()
    return str(found[0]) if found else ""


def test_a_rule_added_from_the_command_line_applies_to_the_next_call(
    modem: ModemThread, running: tuple[Path, Path]
) -> None:
    config, db = running
    added = siaga(
        "block",
        "add",
        "+62 812-3456-7890",
        "--action",
        "reject",
        "--reason",
        "test",
        "--config",
        str(config),
    )
    assert added.returncode == 0, added.stderr
    # The service polls for rule changes every second; give it a few.
    time.sleep(3)
    call = place_call(modem, "081234567890")
    wait_for(lambda: call.release is not None, "the call to be released")
    assert call.release in ("ATH", "AT+CHUP")
    assert call.answered_at is None  # rejected before answering
    row = wait_for(lambda: [r for r in rows(db) if r["ended_at"]], "the call's row")[0]
    assert (row["decision"], row["reason"]) == ("reject", "blocklist")


def test_run_refuses_a_configuration_without_lines(tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("")
    result = siaga("run", "--config", str(config))
    assert result.returncode == 2
    assert "no [[lines]]" in result.stderr


def test_a_stopped_service_logs_its_lines_up_then_down(modem: ModemThread, tmp_path: Path) -> None:
    config = tmp_path / "siaga.toml"
    db = tmp_path / "calls.db"
    config.write_text(
        f'[database]\npath = "{db}"\n\n[[lines]]\nname = "line1"\nport = "{modem.modem.port}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: "line_up" in event_kinds(db), "the line to report itself up")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert [kind for kind in event_kinds(db) if kind.startswith("line_")] == [
        "line_up",
        "line_down",
    ]


def event_kinds(db: Path) -> list[str]:
    if not db.exists():
        return []
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("select kind from events order by id")]
    except sqlite3.OperationalError:
        return []  # the service has not created the table yet
    finally:
        connection.close()


@pytest.mark.parametrize("modem", ["sim800"], indirect=True)
def test_sigusr1_turns_the_raw_at_log_on_and_off_while_running(
    modem: ModemThread, tmp_path: Path
) -> None:
    config = tmp_path / "siaga.toml"
    log = tmp_path / "siaga.log"
    config.write_text(
        f'[database]\npath = "{tmp_path / "calls.db"}"\n\n'
        f'[[lines]]\nname = "line1"\nport = "{modem.modem.port}"\nfamily = "sim800"\n'
    )
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "web_ui.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: any("AT+CLIP=1" in line for _, _, line in list(modem.modem.transcript)),
            "the line to initialise the modem",
        )
        assert "firmware.at.raw" not in log.read_text()  # off by default
        process.send_signal(signal.SIGUSR1)
        wait_for(lambda: "raw AT traffic logging on" in log.read_text(), "logging on")
        call = place_call(modem, "081234567890")
        wait_for(
            lambda: "firmware.at.raw" in log.read_text() and "+CLIP" in log.read_text(),
            "the call's raw AT lines in the log",
        )
        modem.call(lambda: modem.modem.caller_hangs_up(call))
        process.send_signal(signal.SIGUSR1)
        wait_for(lambda: "raw AT traffic logging off" in log.read_text(), "logging off")
    finally:
        stop(process)
