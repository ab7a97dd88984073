"""Shared helpers for the fault suite: recovery figures and one line under fault.

Every fault test proves three things: screening goes on (or fails open), no ended call
loses its row, and how long recovery took. The measured recovery time is asserted
against a bound *and* recorded with `record_recovery`, which appends one JSON line
`{"fault": ..., "seconds": ..., "clock": ...}` to `var/faults/recovery.jsonl` (emptied at
the start of each run), so docs/faults.md can quote the figures of the last run. `clock`
says whether the seconds are virtual (what the box would see on its own timers) or real
wall-clock seconds.

The line benches come from `tests/appliance/conftest.py` (a real `LineService` on a real
pty to a `VirtualModem`, on a virtual clock); the process faults reuse `ModemThread`
from `tests/appliance/test_run.py` (a virtual modem in a thread, a real `siaga run`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RECOVERY_LOG = REPO_ROOT / "var" / "faults" / "recovery.jsonl"
REAL_DEADLINE_S = 60.0  # generous: a shared 2-core CI box; these are limits, not waits


@pytest.fixture(scope="session", autouse=True)
def _fresh_recovery_log() -> None:
    """Each run of the fault suite starts the figures file afresh: it holds the last run."""
    RECOVERY_LOG.unlink(missing_ok=True)


def record_recovery(fault: str, seconds: float, clock: str = "virtual") -> None:
    """Append a measured recovery time to var/faults/recovery.jsonl (and show it with -s)."""
    RECOVERY_LOG.parent.mkdir(parents=True, exist_ok=True)
    entry = {"fault": fault, "seconds": round(seconds, 6), "clock": clock}
    with RECOVERY_LOG.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    print(f"recovery {fault}: {seconds:.3f} s ({clock})")  # noqa: T201 (pytest -s)


def wait_real(condition: Callable[[], Any], what: str, timeout_s: float = REAL_DEADLINE_S) -> Any:
    """Poll `condition` in real time until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def query(db: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """Rows of `sql` on a read-only connection; [] while the file or schema is missing."""
    if not db.exists():
        return []
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # no table yet (the service migrates at start)
    finally:
        connection.close()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_run_config(path: Path, db: Path, ports: dict[str, str], extra: str = "") -> Path:
    """A `siaga run` configuration: the database and one line per (name, tty)."""
    text = f'[database]\npath = "{db}"\n\n{extra}'
    for name, port in ports.items():
        text += f'\n[[lines]]\nname = "{name}"\nport = "{port}"\nfamily = "auto"\n'
    path.write_text(text, encoding="utf-8")
    return path


class SiagaProcess:
    """A real `siaga <command>` subprocess with its output in a file, stopped at teardown."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "web_ui.cli", *args],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            )

    def output(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a watchdog would; waits for the process to go."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGINT (Ctrl-C), then SIGKILL if it does not go within 20 s."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def processes() -> Iterator[list[SiagaProcess]]:
    """Processes a test starts; each is stopped at teardown."""
    started: list[SiagaProcess] = []
    yield started
    for process in started:
        process.stop()


class RunCentre:
    """`siaga run` as a real process on virtual modems (each on its own thread and pty)."""

    def __init__(self, tmp_path: Path, lines: int = 1, *, db: Path | None = None) -> None:
        from tests.appliance.test_run import ModemThread

        self.tmp_path = tmp_path
        self.db = db or tmp_path / "calls.db"
        self.modems = {f"line{i + 1}": ModemThread("sim800") for i in range(lines)}
        ports = {name: thread.modem.port for name, thread in self.modems.items()}
        self.config = write_run_config(tmp_path / "siaga.toml", self.db, ports)
        self.service: SiagaProcess | None = None
        self.starts = 0

    def start(self) -> float:
        """Start `siaga run`; wait until every line is up; returns the seconds it took."""
        started = time.monotonic()
        ups_before = len(self.events("line_up"))
        self.starts += 1
        log = self.tmp_path / f"run-{self.starts}.log"
        self.service = SiagaProcess(["-v", "run", "--config", str(self.config)], log)
        wait_real(
            lambda: len(self.events("line_up")) >= ups_before + len(self.modems) or self._died(),
            "every line to come up",
        )
        assert not self._died(), self.service.output()
        return time.monotonic() - started

    def _died(self) -> bool:
        return self.service is not None and self.service.process.poll() is not None

    def stop(self) -> None:
        """Stop the service (Ctrl-C) if it runs."""
        if self.service is not None:
            self.service.stop()

    def close(self) -> None:
        """Stop the service and the modems."""
        self.stop()
        for thread in self.modems.values():
            thread.close()

    def ring(self, number: str, line: str = "line1") -> Any:
        """A caller dials `line`; the network's `VirtualCall`."""
        thread = self.modems[line]
        return thread.call(lambda: thread.modem.incoming_call(number))

    def hang_up(self, call: Any, line: str = "line1") -> None:
        """The caller of `call` hangs up."""
        thread = self.modems[line]
        thread.call(lambda: thread.modem.caller_hangs_up(call))

    def block(self, number: str, action: str = "reject") -> None:
        """`siaga block add` from the command line, as a supervisor would."""
        result = subprocess.run(
            [sys.executable, "-m", "web_ui.cli", "block", "add", number, "--action", action,
             "--reason", "fault test", "--config", str(self.config)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr

    def calls(self) -> list[sqlite3.Row]:
        """Every committed call row."""
        return query(self.db, "SELECT * FROM calls ORDER BY id")

    def events(self, kind: str) -> list[sqlite3.Row]:
        """Committed events of `kind`."""
        return query(self.db, "SELECT * FROM events WHERE kind = ? ORDER BY id", kind)


@pytest.fixture
def run_centre(tmp_path: Path) -> Iterator[RunCentre]:
    """One line of `siaga run` on a virtual SIM800 (not started yet)."""
    centre = RunCentre(tmp_path)
    yield centre
    centre.close()
