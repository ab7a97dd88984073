"""Benchmark: from the last byte of +CLIP to the first byte of the action command.

Usage:
    .venv/bin/python bench/bench_clip_to_action.py [--lines 1 8] [--rounds 200]
        [--family sim800|sim7600|ec25|m95|huawei|mixed] [--action reject|challenge]
        [--warmup 5] [--breakdown] [--flush-between-rounds]

What is measured (the issue's definition): over pseudo-terminals, the time from the
moment the virtual modem has written the last byte of a `+CLIP` line to the moment it
reads the first byte of the command that carries the decision out: the family's reject
command (`ATH` or `AT+CHUP`) for `--action reject`, `ATA` for `--action challenge`. In
every round all lines ring in the same instant; the benchmark waits for every line's
action, releases the calls (reject: the appliance already did; challenge: each caller
hangs up once the prompt has started), waits until every line is idle again, and starts
the next round. Target: p99 at most 5 ms with 32 lines (the issue's call storm; the first
target was 8 lines). Exit status 1 if any run misses it.

How it is built, to be honest about what it times:
- Two processes. This one is the appliance, alone in its process as on the box: the
  real `LineService` (real policy, line state machines, `ATChannel` over pyserial) on a
  plain real-time asyncio loop with `SystemClock`, and a real `CallLog` and `RuleStore`
  on a temporary SQLite file (WAL, synchronous=FULL, the writer thread committing while
  calls come in). The virtual modems run in a second, spawned process with its own
  loop, as modems are separate hardware.
- Both timestamps are taken in the modem process with `time.perf_counter_ns()`: one right
  after the `os.write` that put the last byte of `+CLIP` into the pty, one as soon as the
  `os.read` that returned the first byte of the action command has returned (before the
  modem parses it). The modem process may be busy with another line at that moment,
  which can only make the figures worse, never better.
- The decision is made deterministic by exact block rules, one per line's caller, with
  action `reject` or `challenge`, stored through `RuleStore` as `siaga block add` does;
  afterwards the call log must hold one row per call with exactly that decision.
- Defaults are left alone: health polls, the rule hot-reload poll (1 s) and flood
  detection all run as on the box (flood mode does switch on under this traffic; the
  explicit block rule still decides first).
- Not included: the UART's wire time (a pty has no baud rate; at 115200 baud a byte takes
  87 us) and the modem firmware's own latency. Warm-up rounds (`--warmup`) are left out
  of the figures; their worst latency is reported on its own.
- The modem process runs with Python's cyclic garbage collector off: its transcripts and
  call records made it pause for up to 20 ms, which is the harness's cost, not Siaga's.
- `--breakdown` also timestamps, in this process, each `ATChannel` read and write (a
  wrapper around two private methods, a few microseconds each) and splits every sample
  into `to_appliance` (pty delivery, plus waiting while the loop serves other lines),
  `in_appliance` (read of +CLIP to write of the command) and `to_modem` (pty delivery
  back). `perf_counter_ns` is CLOCK_MONOTONIC on Linux, so the processes' stamps compare.
- `--flush-between-rounds` waits, between rounds, until the call log has committed. It
  is a diagnostic, not the headline figure: on a 2-core VM the 8-line p99 drops from
  about 4-5 ms to about 2 ms with it, which shows that most of the tail is the call-log
  writer thread (about 2 ms of CPU per 8-call batch, mostly sqlite-utils' per-row upsert,
  largely under the GIL) working while the next calls arrive.
- `run_floor()` (used by bench_partition.py) puts a raw responder where the appliance
  was: a few lines that open each pty, switch +CLIP on and write the action command as
  soon as a whole `+CLIP` line has been read, nothing else. Same modem process, same
  timestamps: the harness's own floor (pty delivery both ways, two event loops, the modem
  process serving every line), below which no appliance can be measured here.
- `run_once(..., cluster=)` runs the service with a `[cluster]` table (the outbox
  triggers on, the site's verdicts polled), as `siaga run` does on a sharing box; on a
  database of an earlier run (`db_path=`) the callers' block rules already in force are
  kept.

Prints a table (lines, family, action, calls, p50/p99/max in ms) and one JSON line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.clock import SystemClock
from appliance.config import ClusterConfig, Config, LineConfig
from appliance.model import LineState
from appliance.numbers import normalise_pattern
from appliance.service import LineService
from appliance.simulate import MIXED_FAMILIES
from appliance.store import CallLog, DuplicateRuleError, RuleStore, open_readonly
from firmware.at.channel import ATChannel
from firmware.families import family_by_name
from firmware.virtual_modem import ModemState, VirtualModem
from firmware.virtual_modem.pty_link import PtyLink

TARGET_P99_MS = 5.0
STARTUP_TIMEOUT_S = 60.0  # the lines' AT initialisation, on a loaded machine
ROUND_TIMEOUT_S = 30.0  # every line's action, or every line idle again
# "generic" is left out: it has no in-call audio, so a challenge fails open to `pass`.
FAMILIES = ("sim800", "sim7600", "ec25", "m95", "huawei")

Sample = tuple[str, str, int, int]  # line, family, +CLIP written ns, action read ns


def caller_number(index: int) -> str:
    """The national-form number that rings line `index` (0-based), as a modem reports it."""
    return f"08123456{index:04d}"


# python-gsmmodem-new's `Call.hangup()` sends ATH whatever the modem (bench_gsmmodem.py).
STOCK_ACTION = "stock"
STOCK_COMMAND = "ATH"


def action_command(family: str, action: str) -> str:
    """The command the line sends to carry `action` out on `family` (reject: hang-up)."""
    if action == STOCK_ACTION:
        return STOCK_COMMAND
    adapter = family_by_name(family)
    return adapter.answer_command() if action == "challenge" else adapter.reject_command("hangup")


def families_for(family: str, lines: int) -> list[str]:
    """One family per line: all the same, or cycling through every dialect (`mixed`)."""
    if family == "mixed":
        return [MIXED_FAMILIES[index % len(MIXED_FAMILIES)] for index in range(lines)]
    return [family] * lines


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted `values` (0 for none)."""
    if not values:
        return 0.0
    rank = max(1, -(-len(values) * pct // 100))  # ceil(n * pct / 100) in integers
    return float(values[int(rank) - 1])


def summary_ms(values_ns: Sequence[int]) -> dict[str, float]:
    """p50, p99 and max of nanosecond values, in milliseconds."""
    ordered = sorted(value / 1e6 for value in values_ns)
    return {
        "p50_ms": round(percentile(ordered, 50), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1] if ordered else 0.0, 3),
    }


async def receive(conn: Connection, timeout_s: float) -> Any:
    """The next message on `conn`, without blocking the loop while waiting for it."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not arrived.done():
            arrived.set_result(None)

    loop.add_reader(conn.fileno(), readable)
    try:
        await asyncio.wait_for(arrived, timeout_s)
    finally:
        loop.remove_reader(conn.fileno())
    return conn.recv()


async def serve_rounds(conn: Connection, between_rounds: Callable[[], Awaitable[None]]) -> Any:
    """Answer the modem process's rounds (`between_rounds` once each, then `idle`) until
    it sends its result; an error it reports is raised here."""
    while True:
        message = await receive(conn, ROUND_TIMEOUT_S * 4)
        if message == "round_done":
            await between_rounds()
            conn.send("idle")
            continue
        if "error" in message:
            raise RuntimeError(f"modem process: {message['error']}")
        return message


# ------------------------------------------------------------------ the modem process


class _StampedLink(PtyLink):
    """The modem's pty end, noting `perf_counter_ns()` right after each write."""

    last_write_ns = 0

    def _write_pending(self) -> bool:
        done = super()._write_pending()
        self.last_write_ns = time.perf_counter_ns()
        return done


class TimedModem(VirtualModem):
    """A virtual modem that stamps +CLIP written and the action command read, per call.

    It hooks two private seams of `VirtualModem` (how it builds its pty link, and its
    bytes-in path): acceptable in a benchmark, which has to time the wire itself.
    """

    def __init__(self, family: str, *, name: str, imei: str, action: str) -> None:
        super().__init__(family, name=name, imei=imei)
        self.action_command = action
        self.timed: asyncio.Future[tuple[int, int]] | None = None
        self.prompt_heard: asyncio.Future[None] | None = None
        self.other_commands: Counter[str] = Counter()  # sent between +CLIP and the action
        self.on_prompt_started = lambda call, text: self._heard()
        self._clip_ns: int | None = None
        self._read_ns = 0
        self._line_start_ns = 0

    def _new_link(
        self,
        tag: str,
        on_data: Callable[[bytes], None],
        logger: logging.Logger,
        avoid: tuple[str, ...],
    ) -> PtyLink:
        return _StampedLink(self.loop, tag, on_data, logger)

    def ring(self, number: str) -> None:
        """A caller dials: RING and +CLIP go out now; the clock starts after +CLIP."""
        self.timed = self.loop.create_future()
        self.prompt_heard = self.loop.create_future()
        self._clip_ns = None
        self.incoming_call(number, 129)
        link = self._link
        if not isinstance(link, _StampedLink) or link._pending or link._queue:
            raise RuntimeError(f"{self.name}: +CLIP was not written in one go")
        self._clip_ns = link.last_write_ns

    def _heard(self) -> None:
        """The caller hears a prompt (the modem plays it, or Huawei PCM arrives)."""
        if self.prompt_heard is not None and not self.prompt_heard.done():
            self.prompt_heard.set_result(None)

    def _on_voice_data(self, data: bytes) -> None:
        super()._on_voice_data(data)
        if self.state is ModemState.ACTIVE:
            self._heard()

    def _on_host_data(self, data: bytes) -> None:
        now_ns = time.perf_counter_ns()
        self._read_ns = now_ns
        if not self._rx_buffer:  # this read holds the first byte of the next command
            self._line_start_ns = now_ns
        super()._on_host_data(data)

    def _on_command_line(self, line: str) -> None:
        started_ns = self._line_start_ns
        self._line_start_ns = self._read_ns  # bytes after this CR came in the same read
        super()._on_command_line(line)
        timed, clip_ns = self.timed, self._clip_ns
        if timed is None or timed.done() or clip_ns is None:
            return
        if line.upper() == self.action_command:
            timed.set_result((clip_ns, started_ns))
        else:
            self.other_commands[line.split("=")[0]] += 1


async def _wait_all(futures: Sequence[asyncio.Future[Any] | None], what: str) -> list[Any]:
    """Every future's result, in order; RuntimeError naming the late lines on timeout."""
    try:
        return await asyncio.wait_for(
            asyncio.gather(*(future for future in futures if future is not None)),
            ROUND_TIMEOUT_S,
        )
    except TimeoutError:
        late = [n + 1 for n, future in enumerate(futures) if future is None or not future.done()]
        raise RuntimeError(f"{what}: nothing on line(s) {late} in {ROUND_TIMEOUT_S} s") from None


def modem_process(
    conn: Connection, families: list[str], action: str, rounds: int, warmup: int
) -> None:
    """Entry point of the modem process."""
    logging.basicConfig(level=logging.WARNING, format="modems %(levelname)s %(name)s: %(message)s")
    # The modems stand in for hardware: their process's own collector pauses (it keeps
    # transcripts and call records) must not be billed to the appliance.
    gc.disable()
    try:
        asyncio.run(_modems(conn, families, action, rounds, warmup))
    except Exception as exc:
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        raise


async def _modems(
    conn: Connection, families: list[str], action: str, rounds: int, warmup: int
) -> None:
    modems = [
        TimedModem(
            family,
            name=f"line{index + 1}",
            imei=f"35693803564{index:04d}",
            action=action_command(family, action),
        )
        for index, family in enumerate(families)
    ]
    for modem in modems:
        await modem.start()
    conn.send({"ports": [(m.port, m.voice_port, m.family) for m in modems]})
    if await receive(conn, STARTUP_TIMEOUT_S * 2) != "go":
        return
    samples: list[Sample] = []
    warmup_worst_ns = 0
    for round_index in range(warmup + rounds):
        for index, modem in enumerate(modems):
            modem.ring(caller_number(index))
        stamps = await _wait_all([m.timed for m in modems], f"round {round_index}: action")
        if round_index < warmup:
            warmup_worst_ns = max(warmup_worst_ns, *(read - clip for clip, read in stamps))
        else:
            samples.extend(
                (m.name, m.family, clip, read)
                for m, (clip, read) in zip(modems, stamps, strict=True)
            )
        if action == "challenge":  # each caller hears the prompt start, then hangs up
            await _wait_all([m.prompt_heard for m in modems], f"round {round_index}: prompt")
        for modem in modems:
            if modem.live_calls:
                modem.caller_hangs_up()
        conn.send("round_done")
        if await receive(conn, ROUND_TIMEOUT_S * 2) != "idle":
            return
    other: Counter[str] = Counter()
    for modem in modems:
        other.update(modem.other_commands)
    conn.send({"samples": samples, "warmup_worst_ns": warmup_worst_ns, "other": dict(other)})
    # Unplugging before the service has stopped would only log "port lost" on every line.
    await receive(conn, STARTUP_TIMEOUT_S)
    for modem in modems:
        modem.close()


# ------------------------------------------------------------------ the appliance process


class WireLog:
    """`--breakdown`: when each line's `ATChannel` reads and writes, in this process."""

    def __init__(self) -> None:
        self.reads: defaultdict[str, list[int]] = defaultdict(list)
        self.writes: defaultdict[str, list[tuple[int, bytes]]] = defaultdict(list)

    def install(self) -> None:
        """Wrap the channel's reader callback and its write (class-wide, this process)."""
        reads, writes = self.reads, self.writes
        on_readable, write = ATChannel._on_readable, ATChannel._write

        def stamped_on_readable(channel: ATChannel) -> None:
            reads[channel.name].append(time.perf_counter_ns())
            on_readable(channel)

        def stamped_write(channel: ATChannel, data: bytes) -> None:
            writes[channel.name].append((time.perf_counter_ns(), data))
            write(channel, data)

        ATChannel._on_readable = stamped_on_readable  # type: ignore[method-assign]
        ATChannel._write = stamped_write  # type: ignore[method-assign]

    def split(self, samples: Sequence[Sample], action: str) -> dict[str, dict[str, float]]:
        """Each sample as modem->appliance, inside the appliance, appliance->modem."""
        legs: dict[str, list[int]] = {"to_appliance": [], "in_appliance": [], "to_modem": []}
        for line, family, clip_ns, read_ns in samples:
            reads = self.reads[line]
            first = bisect.bisect_left(reads, clip_ns)
            command = action_command(family, action).encode()
            sent = [ts for ts, data in self.writes[line] if ts <= read_ns and data[:-1] == command]
            if first >= len(reads) or not sent:
                continue
            legs["to_appliance"].append(reads[first] - clip_ns)
            legs["in_appliance"].append(sent[-1] - reads[first])
            legs["to_modem"].append(read_ns - sent[-1])
        return {name: summary_ms(values) for name, values in legs.items()}


async def _wait_idle(service: LineService, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while any(line.state is not LineState.IDLE for line in service.lines.values()):
        if loop.time() > deadline:
            states = {name: line.state.value for name, line in service.lines.items()}
            raise RuntimeError(f"lines not idle after {timeout_s} s: {states}")
        await asyncio.sleep(0.001)


def _add_block_rules(store: RuleStore, count: int, action: str, region: str) -> None:
    for index in range(count):
        # The same rule from an earlier run on this database is kept as it is.
        with contextlib.suppress(DuplicateRuleError):
            store.add(
                {
                    "kind": "block",
                    "pattern": normalise_pattern(caller_number(index), region),
                    "match": "exact",
                    "action": action,
                    "reason": "benchmark caller",
                    "created_by": "bench",
                }
            )


async def _appliance(
    conn: Connection,
    action: str,
    db_path: Path,
    flush_between_rounds: bool,
    probe: Callable[[LineService], dict[str, Any]] | None = None,
    cluster: ClusterConfig | None = None,
) -> dict[str, Any]:
    hello = await receive(conn, STARTUP_TIMEOUT_S)
    if "error" in hello:
        raise RuntimeError(f"modem process: {hello['error']}")
    config = Config(cluster=cluster)
    lines = [
        LineConfig(
            name=f"line{index + 1}",
            port=port,
            family=family,
            voice_port=voice_port,
            desk=f"desk{index + 1}",
        )
        for index, (port, voice_port, family) in enumerate(hello["ports"])
    ]
    store = RuleStore(db_path, timezone=config.site.timezone)
    _add_block_rules(store, len(lines), action, config.site.region)
    call_log = CallLog(db_path, timezone=config.site.timezone)
    call_log.open()
    service = LineService(
        config, call_log=call_log, rule_store=store, clock=SystemClock(), lines=lines
    )
    service.prepare()
    runner = asyncio.create_task(service.run(), name="service")
    try:
        await _wait_idle(service, STARTUP_TIMEOUT_S)
        conn.send("go")

        async def settle() -> None:
            await _wait_idle(service, ROUND_TIMEOUT_S)
            if flush_between_rounds:
                await asyncio.to_thread(call_log.flush, ROUND_TIMEOUT_S)

        result: dict[str, Any] = await serve_rounds(conn, settle)
        if probe is not None:  # every round done, the lines idle, the service still up
            result["probe"] = probe(service)
    finally:
        service.stop()
        await runner
        with contextlib.suppress(OSError):  # the modem process may already be gone
            conn.send("bye")
        call_log.flush()
        call_log.close()
        store.close()
    result["logged"] = _logged_decisions(db_path)
    return result


def _logged_decisions(db_path: Path) -> dict[str, Any]:
    """What the call log says was decided, and how long the policy took (decision_us)."""
    connection = open_readonly(db_path)
    try:
        decisions = {
            f"{row[0]}/{row[1]}": row[2]
            for row in connection.execute(
                "select decision, reason, count(*) from calls group by decision, reason"
            )
        }
        decision_us = sorted(row[0] for row in connection.execute("select decision_us from calls"))
        flood_on = connection.execute(
            "select count(*) from events where kind = 'flood_on'"
        ).fetchone()[0]
    finally:
        connection.close()
    return {
        "decisions": decisions,
        "decision_us_p50": percentile(decision_us, 50),
        "decision_us_p99": percentile(decision_us, 99),
        "flood_on_events": flood_on,
    }


def run_once(
    lines: int,
    rounds: int,
    family: str,
    action: str,
    warmup: int,
    *,
    wire: WireLog | None = None,
    flush_between_rounds: bool = False,
    db_path: Path | None = None,
    probe: Callable[[LineService], dict[str, Any]] | None = None,
    cluster: ClusterConfig | None = None,
    keep_samples: bool = False,
) -> dict[str, Any]:
    """One benchmark run: spawn the modems, run the appliance here, return the figures.

    `db_path`: an existing database to run on (its rules are loaded too; default: a new
    temporary one). `probe(service)` runs once every round is done while the service is
    still up; what it returns is reported as `probe` (bench_memory.py reads its RSS there).
    `cluster`: the service's `[cluster]` table (default: none, one box). `keep_samples`:
    every call's +CLIP-to-action time is reported too, in ns (`latencies_ns`).
    """
    with tempfile.TemporaryDirectory(prefix="siaga-bench-") as tmp:
        path = Path(tmp) / "bench.db" if db_path is None else db_path
        result = _drive_modems(
            families_for(family, lines),
            action,
            rounds,
            warmup,
            lambda conn: _appliance(conn, action, path, flush_between_rounds, probe, cluster),
        )
    samples: list[Sample] = result["samples"]
    logged = result["logged"]
    if db_path is None and set(logged["decisions"]) != {f"{action}/blocklist"}:
        raise RuntimeError(f"unexpected decisions in the call log: {logged['decisions']}")
    figures = summary_ms([read - clip for _, _, clip, read in samples])
    report: dict[str, Any] = {
        "bench": "clip_to_action",
        "lines": lines,
        "family": family,
        "action": action,
        "rounds": rounds,
        "calls": len(samples),
        **figures,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": figures["p99_ms"] <= TARGET_P99_MS,
        "flush_between_rounds": flush_between_rounds,
        "warmup_rounds": warmup,
        "warmup_max_ms": round(result["warmup_worst_ns"] / 1e6, 3),
        "commands_between_clip_and_action": result["other"],
        "calls_logged": logged["decisions"],
        "decision_us_p50": logged["decision_us_p50"],
        "decision_us_p99": logged["decision_us_p99"],
        "flood_on_events": logged["flood_on_events"],
        "python": sys.version.split()[0],
    }
    if "probe" in result:
        report["probe"] = result["probe"]
    if wire is not None:
        report["breakdown"] = wire.split(samples, action)
    if keep_samples:
        report["latencies_ns"] = [read - clip for _, _, clip, read in samples]
    return report


def _drive_modems(
    families: list[str],
    action: str,
    rounds: int,
    warmup: int,
    side: Callable[[Connection], Coroutine[Any, Any, dict[str, Any]]],
) -> dict[str, Any]:
    """Spawn the modem process and run `side(conn)` (what answers the lines) here."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    modems = context.Process(
        target=modem_process,
        args=(there, families, action, rounds, warmup),
        name="virtual-modems",
        daemon=True,
    )
    modems.start()
    there.close()
    try:
        return asyncio.run(side(here))
    finally:
        modems.join(10)
        if modems.is_alive():
            modems.terminate()
            modems.join(5)
        here.close()


# ------------------------------------------------------------------ the floor


class _RawLine:
    """One pty answered by hand: the action command as soon as a whole +CLIP line is in."""

    def __init__(self, port: str, command: bytes) -> None:
        self.fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)  # raw: PtyLink set it
        self.command = command + b"\r"
        self.buffer = bytearray()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self.buffer += os.read(self.fd, 4096)
        start = self.buffer.find(b"+CLIP:")
        if start >= 0 and self.buffer.find(b"\r\n", start) >= 0:
            os.write(self.fd, self.command)
            self.buffer.clear()
        elif not self.ready.done() and b"OK\r\n" in self.buffer:  # AT+CLIP=1 answered
            self.ready.set_result(None)
            self.buffer.clear()
        elif len(self.buffer) > 4096:  # RING, OK and the like: nothing to act on
            del self.buffer[:-64]


async def _raw_responder(conn: Connection, action: str) -> dict[str, Any]:
    hello = await receive(conn, STARTUP_TIMEOUT_S)
    if "error" in hello:
        raise RuntimeError(f"modem process: {hello['error']}")
    loop = asyncio.get_running_loop()
    lines = [
        _RawLine(port, action_command(family, action).encode())
        for port, _voice, family in hello["ports"]
    ]
    try:
        for line in lines:
            loop.add_reader(line.fd, line.readable)
            os.write(line.fd, b"AT+CLIP=1\r")
        await asyncio.wait_for(asyncio.gather(*(line.ready for line in lines)), STARTUP_TIMEOUT_S)
        conn.send("go")

        async def nothing_to_settle() -> None:  # the command ended each call in the modem
            return None

        result: dict[str, Any] = await serve_rounds(conn, nothing_to_settle)
        with contextlib.suppress(OSError):
            conn.send("bye")
    finally:
        for line in lines:
            loop.remove_reader(line.fd)
            os.close(line.fd)
    return result


def run_floor(
    lines: int, rounds: int, family: str, action: str, warmup: int, *, keep_samples: bool = False
) -> dict[str, Any]:
    """The harness's floor: the same modems and timestamps, a raw responder for the
    appliance. `reject` only: after `ATA` the modem would wait for a prompt."""
    if action != "reject":
        raise ValueError("the raw responder only rejects")
    result = _drive_modems(
        families_for(family, lines),
        action,
        rounds,
        warmup,
        lambda conn: _raw_responder(conn, action),
    )
    latencies = [read - clip for _, _, clip, read in result["samples"]]
    report: dict[str, Any] = {
        "bench": "clip_to_action_floor",
        "lines": lines,
        "family": family,
        "action": action,
        "rounds": rounds,
        "calls": len(latencies),
        **summary_ms(latencies),
        "warmup_rounds": warmup,
        "warmup_max_ms": round(result["warmup_worst_ns"] / 1e6, 3),
        "python": sys.version.split()[0],
    }
    if keep_samples:
        report["latencies_ns"] = latencies
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark for each `--lines` value; print a table and JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, nargs="+", default=[8], help="one or more (8)")
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first (5)")
    parser.add_argument("--family", choices=[*FAMILIES, "mixed"], default="sim800")
    parser.add_argument("--action", choices=["reject", "challenge"], default="reject")
    parser.add_argument("--breakdown", action="store_true", help="split each sample in three")
    parser.add_argument(
        "--flush-between-rounds",
        action="store_true",
        help="diagnostic: let the call log commit before each round",
    )
    args = parser.parse_args(argv)
    if min(args.lines) < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--lines and --rounds must be at least 1, --warmup at least 0")
    logging.basicConfig(
        level=logging.WARNING, format="appliance %(levelname)s %(name)s: %(message)s"
    )
    wire = WireLog() if args.breakdown else None
    if wire is not None:
        wire.install()

    results = []
    for lines in args.lines:
        if wire is not None:
            wire.reads.clear()
            wire.writes.clear()
        results.append(
            run_once(
                lines,
                args.rounds,
                args.family,
                args.action,
                args.warmup,
                wire=wire,
                flush_between_rounds=args.flush_between_rounds,
            )
        )
    floors = {}
    if args.action == "reject":  # the raw responder only rejects
        floors = {
            lines: run_floor(lines, args.rounds, args.family, args.action, args.warmup)
            for lines in args.lines
        }
    print(
        f"{'lines':>5}  {'family':<8} {'action':<9} {'calls':>6}  "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}  p99 <= {TARGET_P99_MS:g} ms"
    )
    for r in results:
        print(
            f"{r['lines']:>5}  {r['family']:<8} {r['action']:<9} {r['calls']:>6}  "
            f"{r['p50_ms']:>7.3f} {r['p99_ms']:>7.3f} {r['max_ms']:>7.3f}  "
            f"{'yes' if r['meets_target'] else 'NO'}"
        )
        floor = floors.get(r["lines"])
        if floor is not None:
            r["floor"] = {key: floor[key] for key in ("calls", "p50_ms", "p99_ms", "max_ms")}
            print(
                f"{'':>5}  {'floor: a raw responder on the same modems':<41}  "
                f"{floor['p50_ms']:>7.3f} {floor['p99_ms']:>7.3f} {floor['max_ms']:>7.3f}"
            )
        for leg, figures in r.get("breakdown", {}).items():
            print(
                f"{'':>5}  {'':<8} {leg:<16}  "
                f"{figures['p50_ms']:>7.3f} {figures['p99_ms']:>7.3f} {figures['max_ms']:>7.3f}"
            )
    for r in results:
        print(json.dumps(r, sort_keys=True))
    return 0 if all(r["meets_target"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
