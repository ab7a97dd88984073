"""Database faults under a running `siaga run`: a lock held by another process, a full disk.

The service runs as a real process on a virtual modem, on the real clock, because these
faults stall a real thread (the call log's writer) for real seconds: calls must go on
being screened at full speed meanwhile, and every row queued must land afterwards.
tests/appliance/test_store.py proves the writer's retry on the `CallLog` alone; here the
whole service takes calls while it happens, and decision times are measured.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import RunCentre, record_recovery, wait_real

pytestmark = pytest.mark.timeout(120)

BLOCKED = "+6282222222222"  # rejected by a supervisor's rule: the call ends at once
HOLD_S = 7.0  # longer than the writer's busy timeout (5 s): the write fails and is retried
CALLS_DURING = 5
# A decision takes microseconds (a caller with a rule reads it from the database's index,
# about 0.1 ms); one that waited for the database would take the hold's seconds. The
# limits allow for a busy 2-core CI box preempting the service mid-decision (a median of
# 1.5 ms was seen there), and stay a thousand times below a wait for the lock.
DECISION_US_MEDIAN_MAX = 5_000
DECISION_US_MAX = 50_000

# A second process holding the database: a write transaction (BEGIN IMMEDIATE, as a stuck
# CLI or a web request gone wrong would) or a long read transaction (a report).
_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
if sys.argv[2] == "writer":
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO events (at, ts, kind, detail) VALUES ('', 0, 'fault_lock', '{}')")
else:
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM calls").fetchone()
print("held", flush=True)
time.sleep(float(sys.argv[3]))
conn.execute("COMMIT")
"""


def reject_call(centre: RunCentre) -> float:
    """A blocked number rings and is released; seconds from the ring to the release."""
    call = centre.ring("082222222222")
    thread = centre.modems["line1"]
    wait_real(lambda: thread.call(lambda: not call.live), "the blocked call to be released")
    assert call.release in ("ATH", "AT+CHUP") and call.answered_at is None
    return float(call.ended_at - call.started_at)


def ended_rows(centre: RunCentre) -> list[Any]:
    """Committed rows of ended calls."""
    return [row for row in centre.calls() if row["ended_at"] is not None]


@pytest.mark.parametrize("holder", ["writer", "reader"])
def test_database_held_by_another_process_delays_no_decision_and_loses_no_row(
    run_centre: RunCentre, holder: str
) -> None:
    centre = run_centre
    centre.block(BLOCKED)
    centre.start()
    baseline_s = max(reject_call(centre) for _ in range(3))
    wait_real(lambda: len(ended_rows(centre)) == 3, "the baseline rows")

    lock = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(centre.db), holder, str(HOLD_S)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert lock.stdout is not None and lock.stdout.readline().strip() == "held"
        during_s = [reject_call(centre)]
        committed_during_hold = len(ended_rows(centre))
        still_held = lock.poll() is None
        during_s += [reject_call(centre) for _ in range(CALLS_DURING - 1)]
        assert lock.wait(timeout=60) == 0
    finally:
        if lock.poll() is None:
            lock.kill()
            lock.wait()
    released = time.monotonic()
    rows = wait_real(
        lambda: len(ended_rows(centre)) == 3 + CALLS_DURING and ended_rows(centre),
        "every row queued during the hold",
    )
    recovery_s = time.monotonic() - released

    # Screening did not wait for the database: decisions stay in microseconds, and every
    # call was released well within one command timeout (an occasional 5 s release is
    # seen with and without the fault; see docs/faults.md, "open findings").
    assert max(during_s) < 6.0, (baseline_s, during_s)
    assert all(row["decision"] == "reject" and row["reason"] == "blocklist" for row in rows)
    held = sorted(row["decision_us"] for row in rows[3:])
    assert held[len(held) // 2] < DECISION_US_MEDIAN_MAX and held[-1] < DECISION_US_MAX, held
    assert len({row["id"] for row in rows}) == len(rows)
    if holder == "writer":
        if still_held:  # (it always is, unless the box is very slow)
            assert committed_during_hold == 3  # the hold really stopped the writer
        assert recovery_s < 5.0  # the writer retries at most 2 s apart
    else:
        assert recovery_s < 1.0  # WAL: a reader never blocks the writer
    record_recovery(f"database {holder} held {HOLD_S:.0f} s: rows on disk after release",
                    recovery_s, "real")  # fmt: skip
    record_recovery(f"database {holder} held: slowest ring-to-release during the hold",
                    max(during_s), "real")  # fmt: skip
    record_recovery(f"database {holder} held: slowest decision during the hold",
                    held[-1] / 1e6, "real")  # fmt: skip


# --------------------------------------------------------------------------- full disk

FS_BYTES = 8 * 1024 * 1024
# Set to 1 to take the fallback below even where mounting works (to test the fallback).
NO_MOUNT_ENV = "SIAGA_FAULTS_NO_MOUNT"


class DiskFault:
    """A full disk under the service's database, made for the test.

    Preferred: a tmpfs of FS_BYTES mounted for the test (needs root and a container that
    allows mount, as CI's does), filled with a ballast file (ENOSPC: SQLITE_FULL), then
    freed by deleting it. Fallback where mount is refused: the service's RLIMIT_FSIZE set
    to 0 from outside with prlimit(2) (Python ignores SIGXFSZ, so every write fails with
    EFBIG, which SQLite also reports as "database or disk is full"), then raised again.
    """

    def __init__(self, where: Path) -> None:
        self.where = where
        self.mode = "rlimit"
        self._ballast: Path | None = None
        self._pid: int | None = None
        where.mkdir()
        if os.environ.get(NO_MOUNT_ENV) == "1":
            self.why_not_mounted = f"{NO_MOUNT_ENV}=1"
            return
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES},mode=0755", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
        self.why_not_mounted = mounted.stderr.strip()
        if mounted.returncode == 0:
            self.mode = "tmpfs"

    def fill(self, pid: int) -> None:
        """The disk is full from now on, for the service with process id `pid`."""
        if self.mode == "tmpfs":
            self._ballast = fill(self.where)
            return
        self._pid = pid
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))

    def free(self) -> None:
        """Space returns (the technician deletes a file)."""
        if self._ballast is not None:
            os.unlink(self._ballast)
            self._ballast = None
        if self._pid is not None:
            _, hard = resource.prlimit(self._pid, resource.RLIMIT_FSIZE)
            resource.prlimit(self._pid, resource.RLIMIT_FSIZE, (hard, hard))
            self._pid = None

    def close(self) -> None:
        """Unmount the tmpfs, if one was mounted."""
        if self.mode == "tmpfs":
            subprocess.run(["umount", "-l", str(self.where)], check=False)


def fill(directory: Path) -> Path:
    """Write a ballast file until not one more byte fits on the filesystem; returns it."""
    ballast = directory / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (65536, 4096, 512, 1):
            block = b"\0" * size
            with contextlib.suppress(OSError):
                while os.write(fd, block) == size:
                    pass
    finally:
        os.close(fd)
    with pytest.raises(OSError) as full:
        (directory / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    return ballast


@dataclass
class FullDiskRun:
    """What one run of the full-disk fault measured."""

    during_s: list[float]  # ring-to-release of each call while the disk was full
    stalled_rows: int  # ended rows on disk while it was full
    rows: list[Any]  # every ended row once space returned
    recovery_s: float  # space freed -> every queued row on disk
    output: str  # the service's log
    mode: str  # "tmpfs" or "rlimit" (see DiskFault)


@pytest.fixture(scope="module")
def full_disk_run(tmp_path_factory: pytest.TempPathFactory) -> FullDiskRun:
    """`siaga run` with its database on a small filesystem that fills up mid-traffic."""
    tmp_path = tmp_path_factory.mktemp("full-disk")
    disk = DiskFault(tmp_path / "fs")
    centre = RunCentre(tmp_path, db=disk.where / "calls.db")
    try:
        centre.block(BLOCKED)
        centre.start()
        assert centre.service is not None
        for _ in range(3):
            reject_call(centre)
        wait_real(lambda: len(ended_rows(centre)) == 3, "the first rows")

        disk.fill(centre.service.process.pid)
        during_s: list[float] = []
        full_until = time.monotonic() + DISK_FULL_S
        while time.monotonic() < full_until:
            during_s.append(reject_call(centre))
        time.sleep(1.0)
        stalled = len(ended_rows(centre))

        disk.free()
        freed = time.monotonic()
        total = 3 + len(during_s)
        rows = wait_real(
            lambda: len(ended_rows(centre)) == total and ended_rows(centre),
            "the queued rows to be written",
        )
        recovery_s = time.monotonic() - freed
        reject_call(centre)  # and the next call is logged as usual
        wait_real(lambda: len(ended_rows(centre)) == total + 1, "the row after recovery")
    finally:
        centre.close()
        disk.close()
    output = centre.service.output() if centre.service else ""
    if disk.mode != "tmpfs":
        print(f"full disk by RLIMIT_FSIZE: no tmpfs ({disk.why_not_mounted})")  # noqa: T201
    return FullDiskRun(during_s, stalled, rows, recovery_s, output, disk.mode)


DISK_FULL_S = 12.0  # calls keep coming this long (real seconds) while the disk is full


def test_full_disk_keeps_screening_and_writes_every_queued_row_once_space_returns(
    full_disk_run: FullDiskRun,
) -> None:
    run = full_disk_run
    calls = len(run.during_s)
    assert run.stalled_rows < 3 + calls, "the full disk never stopped a write"
    # (Under RLIMIT_FSIZE the log file cannot grow either: only the recovery is logged.)
    assert "writable again after" in run.output
    # Every call was screened (released by the rule) while the disk was full. Calls here
    # ring the moment the previous one is released; a RING arriving in the same read as
    # the release's OK waits one ring period (5 s) to be seen: a line bug, not the disk's
    # (test_modem_faults.py, test_a_call_ringing_as_the_previous_one_is_released_...).
    assert calls >= 3 and max(run.during_s) < 6.0
    # ...and every row queued meanwhile is on disk once space returns: none dropped.
    assert [row["id"] for row in run.rows] == list(range(1, 4 + calls))
    assert all(row["reason"] == "blocklist" for row in run.rows)
    assert "writes lost" not in run.output and "dropping" not in run.output
    assert run.recovery_s < 5.0
    record_recovery(f"full disk ({run.mode}): queued rows on disk after space returns",
                    run.recovery_s, "real")  # fmt: skip
    record_recovery(f"full disk ({run.mode}): slowest ring-to-release while full",
                    max(run.during_s), "real")  # fmt: skip
