"""Benchmark: the stock python-gsmmodem-new callback path, timed as bench_clip_to_action.

Usage:
    .venv/bin/python bench/bench_gsmmodem.py [--lines 1 8 32] [--rounds 200]
        [--family sim800|generic] [--warmup 5]

The reference Siaga's +CLIP-to-action figure is compared with: what a screener built on
the library the project started from would do. One `gsmmodem.modem.GsmModem` per line,
opened on a virtual modem's pseudo-terminal and initialised by the library's own
`connect()` (real AT over the pty), with an `incomingCallCallbackFunc` that rejects every
call with `call.hangup()` (the library sends `ATH`). No policy, no call log: the
reference does strictly less work than Siaga.

Measured exactly as `bench_clip_to_action.py` measures Siaga, with the same modem process
(`bench_clip_to_action.modem_process` and its `TimedModem`): from the moment the virtual
modem has written the last byte of `+CLIP` to the moment it reads the first byte of `ATH`,
both stamped in the modem process; all lines ring in the same instant each round.

How the library is driven, and why:
- `SerialComms.connect()` hard-wires `rtscts=True, dsrdtr=True`, and passing `rtscts` in
  the constructor's `**kwargs` would give `serial.Serial` the keyword twice. So
  `StockModem` slots a `SerialComms` subclass under `GsmModem` in the MRO whose `connect()`
  opens the port with `rtscts=False, dsrdtr=False` (as Siaga's `ATChannel` does, and as a
  3-wire Raspberry Pi UART requires) and starts the library's own reader thread. On a pty
  the flags make no difference (the pty ignores CRTSCTS: the stock `connect()` works too).
- The library's reader thread calls `serial.read(1)` per byte (a `select` per byte, not a
  timed poll) and hands each notification to a new thread, which runs the callback;
  `call.hangup()` then writes `ATH` and waits for `OK`.
- Pitfall 1 of docs/modems.md shows up: when `RING` (here `+CRING: VOICE`, the library turns on
  AT+CRC=1) is read before `+CLIP` has arrived, the notification is handed over without
  the number (`call.number is None`) and the late `+CLIP` is dropped as unhandled. The
  callback still rejects, so the timing stands; the count of calls that lost their number
  is reported (`number_lost`).
- Families: `sim800` and `generic` (the modems the library's generic path fits). Any
  other family can be passed to try it; `connect()` failing on one is reported as such.

Prints a table and one JSON line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import serial
from bench_clip_to_action import (
    ROUND_TIMEOUT_S,
    STARTUP_TIMEOUT_S,
    STOCK_ACTION,
    modem_process,
    receive,
    summary_ms,
)
from gsmmodem.modem import GsmModem, IncomingCall
from gsmmodem.serial_comms import SerialComms

logger = logging.getLogger("bench.gsmmodem")

FAMILIES = ("sim800", "generic")


class _NoFlowControlComms(SerialComms):  # type: ignore[misc]
    """`SerialComms.connect()` without the hard-wired RTS/CTS and DSR/DTR flow control."""

    def connect(self) -> None:
        """Open the port as the library does, flow control off; start its reader thread."""
        self.serial = serial.Serial(
            port=self.port,
            baudrate=self.baudrate,
            rtscts=False,
            dsrdtr=False,
            timeout=self.timeout,
        )
        self.alive = True
        self.rxThread = threading.Thread(target=self._readLoop, daemon=True)
        self.rxThread.start()


class StockModem(GsmModem, _NoFlowControlComms):  # type: ignore[misc]
    """`GsmModem` unchanged, except that its `super().connect()` lands on the class above."""


class Rejecter:
    """The incoming-call callback: reject every call at once, count what it saw."""

    def __init__(self) -> None:
        self.calls = 0
        self.number_lost = 0
        self.errors = 0
        self.busy = 0  # callbacks still running (hang-up written, OK not yet read)
        self._lock = threading.Lock()

    def __call__(self, call: IncomingCall) -> None:
        """`incomingCallCallbackFunc`: runs on the library's notification thread."""
        with self._lock:
            self.calls += 1
            self.busy += 1
            if call.number is None:
                self.number_lost += 1
        try:
            call.hangup()  # writes ATH, waits for OK
        except Exception:
            logger.exception("hang-up failed")
            with self._lock:
                self.errors += 1
        finally:
            with self._lock:
                self.busy -= 1


async def _wait_idle(modems: Sequence[GsmModem], rejecter: Rejecter, timeout_s: float) -> None:
    """Until every callback has finished and no modem holds a call."""
    deadline = time.monotonic() + timeout_s
    while rejecter.busy or any(modem.activeCalls for modem in modems):
        if time.monotonic() > deadline:
            raise RuntimeError(f"stock modems not idle after {timeout_s} s")
        await asyncio.sleep(0.001)


async def _stock_side(conn: Connection) -> dict[str, Any]:
    hello = await receive(conn, STARTUP_TIMEOUT_S)
    if "error" in hello:
        raise RuntimeError(f"modem process: {hello['error']}")
    rejecter = Rejecter()
    modems = [
        StockModem(port, incomingCallCallbackFunc=rejecter)
        for port, _voice, _family in hello["ports"]
    ]
    try:
        for index, modem in enumerate(modems):
            try:
                await asyncio.to_thread(modem.connect)
            except Exception as exc:
                family = hello["ports"][index][2]
                raise RuntimeError(
                    f"python-gsmmodem-new cannot initialise a {family} modem: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        conn.send("go")
        while True:
            message = await receive(conn, ROUND_TIMEOUT_S * 4)
            if message == "round_done":
                await _wait_idle(modems, rejecter, ROUND_TIMEOUT_S)
                conn.send("idle")
                continue
            if "error" in message:
                raise RuntimeError(f"modem process: {message['error']}")
            result: dict[str, Any] = message
            break
        conn.send("bye")
    finally:
        for modem in modems:
            if getattr(modem, "alive", False):
                modem.close()
    result["callbacks"] = rejecter.calls
    result["number_lost"] = rejecter.number_lost
    result["errors"] = rejecter.errors
    return result


def run_once(lines: int, rounds: int, family: str, warmup: int) -> dict[str, Any]:
    """One run: spawn the virtual modems, drive them with GsmModem here, return figures."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    modems = context.Process(
        target=modem_process,
        args=(there, [family] * lines, STOCK_ACTION, rounds, warmup),
        name="virtual-modems",
        daemon=True,
    )
    modems.start()
    there.close()
    try:
        result = asyncio.run(_stock_side(here))
    finally:
        modems.join(10)
        if modems.is_alive():
            modems.terminate()
            modems.join(5)
        here.close()
    samples = result["samples"]
    return {
        "bench": "gsmmodem_stock",
        "library": "python-gsmmodem-new",
        "lines": lines,
        "family": family,
        "rounds": rounds,
        "calls": len(samples),
        **summary_ms([read - clip for _, _, clip, read in samples]),
        "warmup_rounds": warmup,
        "warmup_max_ms": round(result["warmup_worst_ns"] / 1e6, 3),
        "callbacks": result["callbacks"],
        "number_lost": result["number_lost"],
        "errors": result["errors"],
        "python": sys.version.split()[0],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stock path for each `--lines` value; print a table and JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, nargs="+", default=[1, 8], help="one or more")
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first (5)")
    parser.add_argument("--family", default="sim800", help=f"one of {FAMILIES} (sim800)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="stock %(levelname)s %(name)s: %(message)s")
    results = [run_once(n, args.rounds, args.family, args.warmup) for n in args.lines]
    print(f"{'lines':>5}  {'family':<8} {'calls':>6}  {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for r in results:
        print(
            f"{r['lines']:>5}  {r['family']:<8} {r['calls']:>6}  "
            f"{r['p50_ms']:>7.3f} {r['p99_ms']:>7.3f} {r['max_ms']:>7.3f}"
        )
    for r in results:
        print(json.dumps(r, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
