"""kill -9 of `siaga run` at random offsets from a call's action: does every call keep
its one row after the restart?

Used by `tests/faults/test_durability_at_action.py` (a few trials, in the suite) and by
`bench/bench_kill_at_action.py` (hundreds, on a normal and a slow-fsync disk, with the
latency cost). One trial:

1. `siaga run` (a real process) serves one line on a virtual SIM800 running in this
   process (its own thread and loop, a real pty). Callers from a blocked prefix are
   rejected: the action command is `ATH`.
2. A caller rings. In the modem's thread, the moment the modem has read the host's `ATH`
   for that call (anchor `action`), or the moment RING and +CLIP were written (anchor
   `clip`, to land before the action too), `os.kill(pid, SIGKILL)` is scheduled
   `offset_s` later on the modem's loop.
3. `siaga run` is started again, as systemd would. A call the kill caught before its
   action still rings, and the restarted service must take it (into its old row, if it
   had one). The trial ends when the call is over on the modem and its row is final.
4. The verdict: the number of rows for that caller (must be exactly 1), and what the row
   says (rejected, interrupted, taken over).

Also measured per trial: from RING+CLIP written to `ATH` read, in the modem's thread (the
latency the durability costs; see docs/faults.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from firmware.virtual_modem import EndedBy, VirtualCall

REPO_ROOT = Path(__file__).resolve().parents[2]
BLOCKED_PREFIX = "08129"  # every trial's caller is under it: rejected, the action is ATH
DEADLINE_S = 60.0
ROW_DEADLINE_S = 5.0  # after the call is over, its row is final within this (or lost)
RING_INTERVAL_S = 1.0  # a call the kill caught before its action rings again this soon


@dataclass
class TrialResult:
    """What one kill did to one call."""

    trial: int
    anchor: str  # "action" (offset from ATH read) or "clip" (from RING+CLIP written)
    offset_ms: float
    rows: int  # rows for the trial's caller after the restart (must be 1)
    end_cause: str | None
    interrupted: int | None
    resumed: bool  # the restarted service took the ringing call over
    acted_before_kill: bool  # the modem had read ATH before the process died
    clip_to_action_ms: float | None  # RING+CLIP written -> ATH read, when it came


def caller_for(trial: int) -> str:
    """The national-form number of trial `trial`'s caller (under BLOCKED_PREFIX)."""
    return f"{BLOCKED_PREFIX}{trial:07d}"


class KillBench:
    """One line of `siaga run` on a virtual modem, killed and restarted trial after trial.

    `row_first=False` runs the service with `ROW_BEFORE_ACTION_MAX_S = 0` (the action no
    longer waits for the row to be committed), to show what the wait buys.
    """

    def __init__(self, work_dir: Path, db_dir: Path, *, row_first: bool = True) -> None:
        from tests.appliance.test_run import ModemThread

        self.work_dir = work_dir
        self.db = db_dir / "calls.db"
        self.row_first = row_first
        self.thread = ModemThread("sim800")
        self.thread.call(lambda: setattr(self.thread.modem, "ring_interval_s", RING_INTERVAL_S))
        self.config = work_dir / "siaga.toml"
        self.config.write_text(
            f'[database]\npath = "{self.db}"\n\n[[lines]]\nname = "line1"\n'
            f'port = "{self.thread.modem.port}"\nfamily = "auto"\n',
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._siaga(
            "block",
            "add",
            BLOCKED_PREFIX,
            "--prefix",
            "--action",
            "reject",
            "--reason",
            "kill trials",
        )

    # ------------------------------------------------------------- the service

    def _siaga(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "web_ui.cli", *args, "--config", str(self.config)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(result.stderr)

    def start(self) -> None:
        """Start `siaga run` and wait until its line is up."""
        ups = self._count("SELECT count(*) FROM events WHERE kind = 'line_up'")
        self.starts += 1
        log = (self.work_dir / f"run-{self.starts % 4}.log").open("wb")
        prelude = (
            ""
            if self.row_first
            else "import appliance.line as l; l.ROW_BEFORE_ACTION_MAX_S = 0.0; "
        )
        code = prelude + "import sys; from web_ui.cli import main; sys.exit(main())"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, "run", "--config", str(self.config)],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )  # fmt: skip
        log.close()
        self._wait(
            lambda: (
                self._count("SELECT count(*) FROM events WHERE kind = 'line_up'") > ups
                or self.process is None
                or self.process.poll() is not None
            ),
            "the line to come up",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"siaga run exited with {self.process.returncode}")

    def close(self) -> None:
        """Stop the service (Ctrl-C) and the modem."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.thread.close()

    # ------------------------------------------------------------- one trial

    def trial(self, trial: int, anchor: str, offset_s: float) -> TrialResult:
        """Ring, kill at `offset_s` from the anchor, restart, and count the rows."""
        assert self.process is not None and self.process.poll() is None
        pid = self.process.pid
        number = caller_for(trial)
        modem = self.thread.modem
        stamps: dict[str, float] = {}

        def kill() -> None:
            stamps.setdefault("killed", time.perf_counter())
            os.kill(pid, signal.SIGKILL)

        def on_ended(call: VirtualCall) -> None:
            if call.number != number or call.ended_by is not EndedBy.HOST:
                return
            stamps.setdefault("action", call.ended_at or 0.0)
            stamps.setdefault("action_perf", time.perf_counter())
            if anchor == "action" and "armed" not in stamps:
                stamps["armed"] = 1.0
                modem.loop.call_later(offset_s, kill)

        def ring() -> VirtualCall:
            modem.on_ended = on_ended
            call = modem.incoming_call(number)
            stamps["clip"] = call.started_at
            if anchor == "clip":
                modem.loop.call_later(offset_s, kill)
            return call

        call = self.thread.call(ring)
        self._wait(lambda: self.process is not None and self.process.poll() is not None,
                   "the kill")  # fmt: skip
        acted = "action_perf" in stamps and stamps["action_perf"] <= stamps.get("killed", 0.0)
        self.start()
        self._wait(lambda: not self.thread.call(lambda: call.live), "the call to end")
        # A call that lost its row never gets a final one: counted below as 0 rows.
        with contextlib.suppress(TimeoutError):
            self._wait(lambda: self._final(number), "the call's row", ROW_DEADLINE_S)
        rows = self._rows(number)
        self.thread.call(lambda: setattr(modem, "on_ended", None))
        row = rows[-1] if rows else {}
        latency = stamps["action"] - stamps["clip"] if "action" in stamps else None
        return TrialResult(
            trial=trial,
            anchor=anchor,
            offset_ms=round(offset_s * 1000, 3),
            rows=len(rows),
            end_cause=row.get("end_cause"),
            interrupted=row.get("interrupted"),
            resumed=self._resumed(row.get("id")),
            acted_before_kill=acted,
            clip_to_action_ms=None if latency is None else round(latency * 1000, 3),
        )

    def latency_sample(self, trial: int) -> float:
        """One call rejected without a kill: RING+CLIP written -> ATH read, in ms."""
        number = caller_for(trial)
        modem = self.thread.modem
        call = self.thread.call(lambda: modem.incoming_call(number))
        self._wait(lambda: not self.thread.call(lambda: call.live), "the release")
        assert call.ended_at is not None
        return (call.ended_at - call.started_at) * 1000

    def _final(self, number: str) -> bool:
        rows = self._rows(number)
        return bool(rows) and all(
            row["ended_at"] is not None and row["end_cause"] is not None for row in rows
        )

    # ------------------------------------------------------------- reading

    def _rows(self, number: str) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM calls WHERE caller_raw = ? ORDER BY id", number)

    def _resumed(self, call_id: int | None) -> bool:
        if call_id is None:
            return False
        for event in self._query("SELECT detail FROM events WHERE kind = 'call_resumed'"):
            if json.loads(event["detail"]).get("call_id") == call_id:
                return True
        return False

    def _count(self, sql: str) -> int:
        rows = self._query(sql)
        return int(next(iter(rows[0].values()))) if rows else 0

    def _query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10.0)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in conn.execute(sql, params)]
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    @staticmethod
    def _wait(condition: Any, what: str, timeout_s: float = DEADLINE_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.01)
        raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


def summary(results: list[TrialResult]) -> dict[str, Any]:
    """Counts of what the trials found, for the bench's table."""
    acted = [r for r in results if r.acted_before_kill]
    return {
        "trials": len(results),
        "without_row": sum(1 for r in results if r.rows == 0),
        "two_rows_or_more": sum(1 for r in results if r.rows > 1),
        "acted_before_kill": len(acted),
        "acted_without_row": sum(1 for r in acted if r.rows == 0),
        "resumed": sum(1 for r in results if r.resumed),
        "interrupted_rows": sum(1 for r in results if r.end_cause == "interrupted"),
    }


def as_json(result: TrialResult) -> str:
    """One trial as a JSON line."""
    return json.dumps(asdict(result))
