"""Benchmark: kill -9 of `siaga run` at random offsets from a call's action, on a normal
and on a slow-fsync disk; and what committing the row before the action costs.

Usage (as root for `--slow-disk`):
    .venv/bin/python bench/bench_kill_at_action.py [--trials 200] [--slow-disk]
        [--write-iops 100] [--no-row-first] [--seed 11] [--latency-calls 50]

Each trial (tests/faults/kill_trials.py): `siaga run` serves one line on a virtual
SIM800; a caller from a blocked prefix rings; the process is killed with SIGKILL at a
random offset either from the moment the modem read the `ATH` that releases the call
(anchor `action`, 0 to `--window-ms` after it) or from the moment RING and +CLIP were
written (anchor `clip`, 0 to 1.2 times the median +CLIP-to-ATH latency measured first:
about half of them land before the action, the rest just after it). The service is
restarted; the trial counts the caller's rows once the call is over. The verdict: no
call without its row, no call with two.

`--slow-disk` puts the database on an ext4 file system on a loop device whose writes are
throttled in the block layer (cgroup v1 blkio `throttle.write_iops_device`, `--write-iops`
per second): every fsync waits for real queued block writes, as on an SD card. 100 write
IOPS gives an fsync of about 20 ms (an SD card's typical figure), 20 about 100 ms (a worn
one). Needs root, losetup, mkfs.ext4 and the blkio controller; the device is removed at
the end. Without it the database is in `var/bench` on the machine's own disk.

`--no-row-first` runs the service with `ROW_BEFORE_ACTION_MAX_S = 0`: the action no
longer waits for the row to be committed (the earlier behaviour), to show what the
wait buys and what it costs.

`--latency-calls`: calls rejected without a kill first, for the +CLIP-to-ATH latency
(RING+CLIP written to ATH read, in the modem's thread: a real process, one line).

Prints a table and one JSON line (`var/bench/kill_at_action.jsonl` gets every trial).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults.kill_trials import KillBench, TrialResult, as_json, summary

logger = logging.getLogger("bench.kill_at_action")

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
BLKIO = Path("/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device")
SLOW_DISK_MB = 256


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * pct // 100))
    return float(ordered[int(rank) - 1])


@contextlib.contextmanager
def slow_disk(write_iops: int) -> Iterator[Path]:
    """An ext4 file system on a loop device with its writes throttled to `write_iops`
    per second in the block layer; yields its mount point, removes it all afterwards."""
    image = BENCH_DIR / "slowdisk.img"
    mount = BENCH_DIR / "slowdisk"
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    image.unlink(missing_ok=True)
    with image.open("wb") as out:
        out.truncate(SLOW_DISK_MB * 1024 * 1024)
    device = _run("losetup", "--find", "--show", str(image)).strip()
    try:
        _run("mkfs.ext4", "-q", device)
        mount.mkdir(exist_ok=True)
        _run("mount", device, str(mount))
        try:
            major_minor = Path(f"/sys/block/{Path(device).name}/dev").read_text().strip()
            BLKIO.write_text(f"{major_minor} {write_iops}\n")
            try:
                yield mount
            finally:
                BLKIO.write_text(f"{major_minor} 0\n")
        finally:
            _run("umount", str(mount))
    finally:
        _run("losetup", "-d", device)
        image.unlink(missing_ok=True)


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def fsync_ms(directory: Path, count: int = 30) -> dict[str, float]:
    """fdatasync of a 4 kB write in `directory`: p50 and p99 in ms (the disk's figure)."""
    import os

    path = directory / "fsync-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    samples = []
    try:
        for _ in range(count):
            os.write(fd, b"x" * 4096)
            started = time.perf_counter()
            os.fdatasync(fd)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50": round(percentile(samples, 50), 2), "p99": round(percentile(samples, 99), 2)}


def run_trials(args: argparse.Namespace, db_dir: Path, out: Any) -> dict[str, Any]:
    """Latency calls, then the kill trials, on a database in `db_dir`."""
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="siaga-kill-") as work:
        bench = KillBench(Path(work), db_dir, row_first=not args.no_row_first)
        results: list[TrialResult] = []
        try:
            bench.start()
            latency = [bench.latency_sample(1_000_000 + i) for i in range(args.latency_calls)]
            clip_window_s = 1.2 * percentile(latency, 50) / 1000  # about half before ATH
            for index in range(args.trials):
                if index % 2 == 0:
                    anchor, offset_s = "action", rng.uniform(0.0, args.window_ms / 1000)
                else:
                    anchor, offset_s = "clip", rng.uniform(0.0, clip_window_s)
                result = bench.trial(index, anchor, offset_s)
                results.append(result)
                out.write(as_json(result) + "\n")
                if result.rows != 1:
                    logger.warning("trial %d: %d rows: %s", index, result.rows, result)
        finally:
            bench.close()
    figures = summary(results)
    figures["clip_to_action_ms"] = {
        "p50": round(percentile(latency, 50), 2),
        "p99": round(percentile(latency, 99), 2),
        "max": round(max(latency), 2),
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any call lost its row or got two."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--window-ms", type=float, default=30.0,
                        help="kills anchored on ATH land 0 to this many ms after it")  # fmt: skip
    parser.add_argument("--latency-calls", type=int, default=50)
    parser.add_argument("--slow-disk", action="store_true")
    parser.add_argument("--write-iops", type=int, default=100)
    parser.add_argument("--no-row-first", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if args.slow_disk:
            db_dir = stack.enter_context(slow_disk(args.write_iops))
            disk = f"loop device, ext4, writes throttled to {args.write_iops}/s (blkio)"
        else:
            db_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=BENCH_DIR)))
            disk = "the machine's own disk"
        fsync = fsync_ms(db_dir)
        with (BENCH_DIR / "kill_at_action.jsonl").open("a", encoding="utf-8") as out:
            figures = run_trials(args, db_dir, out)
        shutil.rmtree(db_dir / "lost+found", ignore_errors=True)
    figures |= {
        "disk": disk,
        "fsync_ms": fsync,
        "row_first": not args.no_row_first,
        "seconds": round(time.monotonic() - started, 1),
    }
    lat = figures["clip_to_action_ms"]
    print(
        f"{disk}; fsync p50 {fsync['p50']} / p99 {fsync['p99']} ms; row first: "
        f"{figures['row_first']}\n"
        f"+CLIP to ATH: p50 {lat['p50']} / p99 {lat['p99']} / max {lat['max']} ms\n"
        f"{figures['trials']} kills: {figures['without_row']} calls without a row, "
        f"{figures['two_rows_or_more']} with two; {figures['acted_before_kill']} released "
        f"before the kill ({figures['acted_without_row']} of them without a row); "
        f"{figures['resumed']} taken over ringing; {figures['seconds']} s"
    )
    print(json.dumps(figures))
    return 1 if figures["without_row"] or figures["two_rows_or_more"] else 0


if __name__ == "__main__":
    sys.exit(main())
