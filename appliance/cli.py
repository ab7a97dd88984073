"""The appliance's `siaga` commands: run it, simulate, manage rules, read the call log.

The program itself is put together at the top layer (`web_ui.cli`, the console script),
which adds the web UI's commands to these and calls `main`. Every command that touches
the database takes `--db` (default: the config's `database.path`) and `--config`
(default: none, the embedded defaults). Output meant for people goes to standard output;
diagnostics go through `logging` to standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import errno
import fcntl
import io
import json
import logging
import os
import pty
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time as time_module
import tty
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from appliance import systemd
from appliance.clock import LoopClock, SystemClock
from appliance.config import ClusterConfig, Config, ConfigError, load_config
from appliance.desk import DESK_POLL_S
from appliance.expiry import ExpiryError, parse_expiry
from appliance.line import ActiveCall, Line, describe_call, printable
from appliance.model import Action
from appliance.numbers import normalise, normalise_pattern
from appliance.program import set_program_module, siaga_command
from appliance.report import flagged_numbers, format_table, report, report_csv, sites
from appliance.rules import ACTIONS_BY_KIND
from appliance.service import LineService, OperatorDesk
from appliance.store import (
    CallLog,
    CallLogBusyError,
    DuplicateRuleError,
    RuleStore,
    open_readonly,
    search_calls,
)
from appliance.store.backup import backup_name, copy_database
from appliance.store.status import table_counts
from appliance.timesync import kernel_clock_synchronised
from appliance.web_lines import has_stored_lines

logger = logging.getLogger("siaga")

DEMO_DB = Path("var/siaga-demo.db")


# A layer's commands: a function that adds its subcommands to `siaga`'s subparsers.
CommandGroup = Callable[[Any], None]


class UsageError(Exception):
    """A command-line value that cannot be used; the message says which and why."""


# ------------------------------------------------------------------------- helpers


def config_of(args: argparse.Namespace) -> Config:
    return load_config(Path(args.config) if args.config else None)


def db_path_of(args: argparse.Namespace, config: Config) -> Path:
    return Path(args.db) if args.db else config.database.path


def _read_only(path: Path) -> sqlite3.Connection:
    """The call log opened for reading; a clear error if there is none."""
    if not path.exists():
        raise UsageError(f"no call log at {path} (give --db, or run the service first)")
    return open_readonly(path)


def zone_of(config: Config) -> ZoneInfo:
    return ZoneInfo(config.site.timezone)


def _parse_day(text: str, zone: ZoneInfo, *, end: bool = False) -> float:
    """A local date (YYYY-MM-DD) or ISO time -> POSIX seconds (end of day if `end`)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), zone)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (use YYYY-MM-DD)") from None
    return moment.timestamp()


def print_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], as_csv: bool, *, header: bool = True
) -> None:
    out = io.StringIO()
    if as_csv:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        if header:
            writer.writeheader()
        writer.writerows(rows)
    else:
        widths = {c: max([len(c)] + [len(printable(r.get(c))) for r in rows]) for c in columns}
        if header:
            out.write("  ".join(c.ljust(widths[c]) for c in columns).rstrip() + "\n")
        for row in rows:
            out.write(
                "  ".join(printable(row.get(c)).ljust(widths[c]) for c in columns).rstrip() + "\n"
            )
    sys.stdout.write(out.getvalue())


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    journal = systemd.journal_formatter()  # under systemd: priorities, journald's times
    if journal is not None:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(journal)


# ------------------------------------------------------------------------- run


def _toggle_raw_at_log(_signum: int = 0, _frame: object = None) -> None:
    """SIGUSR1: the raw AT traffic of every line on (DEBUG, `firmware.at.raw`) or off,
    for a technician chasing a modem problem in the field, with no restart."""
    raw = logging.getLogger("firmware.at.raw")
    turning_on = raw.level != logging.DEBUG
    raw.setLevel(logging.DEBUG if turning_on else logging.NOTSET)
    logger.warning("raw AT traffic logging %s (SIGUSR1 toggles it)", "on" if turning_on else "off")


# `siaga run` stopped because the database was restored from a backup under it; systemd's
# Restart=always starts it again on the restored data (EX_TEMPFAIL: try again).
EXIT_RESTORED = 75


def cmd_run(args: argparse.Namespace) -> int:
    """Run the appliance on the configured (real) modems."""
    signal.signal(signal.SIGUSR1, _toggle_raw_at_log)
    if args.raw_at:
        _toggle_raw_at_log()
    config = config_of(args)
    db_path = db_path_of(args, config)
    if not config.lines and not has_stored_lines(db_path):  # the web UI's lines count too
        raise UsageError(
            "the configuration has no [[lines]] and the web UI's lines page none: nothing to"
            " run (see `siaga demo`)"
        )
    call_log = CallLog(db_path, timezone=config.site.timezone)
    call_log.open()
    service = LineService(
        config,
        call_log=call_log,
        rule_store=RuleStore(db_path, timezone=config.site.timezone),
        clock=SystemClock(),
        clock_probe=kernel_clock_synchronised,  # a Pi has no real-time clock
        lines_from_database=True,  # the lines page's lines, over the file's
    )
    service.prepare()
    logger.warning("siaga running %d line(s); call log %s", len(service.lines), db_path)
    try:
        # Under systemd (Type=notify): READY=1 once the lines start, watchdog pings while
        # the loop runs, STOPPING=1 at the end; elsewhere just the service.
        status = f"screening calls on {len(service.lines)} line(s)"
        asyncio.run(systemd.run_notifying(service.run(), status=status))
    except KeyboardInterrupt:
        logger.warning("stopped")
    finally:
        call_log.close()
    if service.restored:
        logger.warning("stopped after a restore: start again (systemd does) to use its data")
        return EXIT_RESTORED
    return 0


# ------------------------------------------------------------------------- demo


class _DemoNarrator(OperatorDesk):
    """Tells the person watching the demo what happens to each call, in the site's time."""

    def __init__(self, clock: LoopClock, zone: ZoneInfo) -> None:
        self._clock = clock
        self._zone = zone

    def call_waiting(self, line: Line, call: ActiveCall) -> None:
        self._say(describe_call(line.name, call))

    def call_ended(self, line: Line, call: ActiveCall) -> None:
        self._say(describe_call(line.name, call))

    def _say(self, text: str) -> None:
        moment = self._clock.now().astimezone(self._zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        sys.stdout.write(f"{moment}  {text}\n")
        sys.stdout.flush()


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the appliance on virtual modems with generated traffic, in accelerated time."""
    from appliance.month import generate
    from appliance.score import score
    from appliance.simulate import (
        LEAD_IN_S,
        ScaledTimeLoop,
        SimulationOptions,
        collect_outcomes,
        play_scenario,
    )

    config = config_of(args)
    zone = zone_of(config)
    db_path = Path(args.db) if args.db else DEMO_DB
    web_port = args.port or config.web.port
    if not args.no_web:
        check_port_free(config.web.host, web_port)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _choose_demo_database(db_path, fresh=args.fresh, zone=zone)
    lead_in = timedelta(seconds=LEAD_IN_S / args.speed * 2)  # the lines come up
    epoch = _demo_epoch(datetime.now(UTC), lead_in + timedelta(days=args.days), args.speed)
    start = epoch + lead_in
    calls = generate(days=args.days, seed=args.seed, start=start, timezone=config.site.timezone)
    options = SimulationOptions(
        lines=args.lines,
        operators=args.operators,
        operator_answer_s=5.0,
        config=config,
        service_state_clock=SystemClock(),  # the web UI's clock says whether it runs
    )
    logger.warning(
        "demo: %d generated calls over %d day(s) on %d virtual lines at %gx real time; "
        "call log %s (Ctrl-C stops)",
        len(calls),
        args.days,
        args.lines,
        args.speed,
        db_path,
    )
    _say_demo_window(start, args.days, zone)
    loop = ScaledTimeLoop(args.speed)
    asyncio.set_event_loop(loop)
    clock = LoopClock(loop, epoch)
    web = None if args.no_web else _start_demo_web(args, db_path, web_port)

    try:
        played = _run_until_interrupted(
            loop,
            play_scenario(
                calls,
                db_path,
                options,
                clock,
                health_interval_s=60.0,
                desks=[_DemoNarrator(clock, zone_of(config))],
                desk_poll_s=DESK_POLL_S / args.speed,  # 0.25 s of real time
            ),
        )
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        _stop_demo_web(web)
    if played is None:
        logger.warning("demo stopped; the calls so far are in %s", db_path)
        return 0
    centre, _ = played
    outcomes = collect_outcomes(calls, db_path, centre.driver.lost_busy, centre.first_row_id)
    sys.stdout.write("score of the demo day (as siaga simulate prints it):\n")
    json.dump(score(calls, outcomes), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


# The demo's clock runs `--speed` times faster than the machine's. It starts far enough
# back that it reaches the machine's time only as the last generated call ends (a call
# lasts minutes; this much is left for the last one), so nothing is stamped in the future.
DEMO_TAIL_S = 900.0
# Above this many times real time the virtual modems' replies miss the lines' AT timeouts
# (5 s, 2 s for a call check: they shrink with the speed) on a busy 2-core machine, and
# lines fail (docs/cli.md, "The demo").
MAX_DEMO_SPEED = 90.0
# Beside a SQLite file, files that belong to it and go where it goes.
DEMO_DB_COMPANIONS = ("-wal", "-shm", ".setup-link", ".web-secret")


def _demo_epoch(now: datetime, traffic: timedelta, speed: float) -> datetime:
    """The demo clock's reading at `now`: the `traffic` and its tail, played at `speed`,
    take it to the machine's time when they end, `(traffic + tail) / speed` from now."""
    span_s = traffic.total_seconds() + DEMO_TAIL_S
    return now - timedelta(seconds=span_s * (1 - 1 / speed))


def _say_demo_window(start: datetime, days: int, zone: ZoneInfo) -> None:
    end = start + timedelta(days=days)
    logger.warning(
        "demo: it replays the traffic of %s to %s (site time), catching up with the real"
        " time as it ends: calls, alarms and reports are never stamped in the future",
        f"{start.astimezone(zone):%Y-%m-%d %H:%M}",
        f"{end.astimezone(zone):%Y-%m-%d %H:%M}",
    )


def _choose_demo_database(db_path: Path, *, fresh: bool, zone: ZoneInfo) -> None:
    """Say which database the demo writes; `fresh` moves the earlier one aside first."""
    if fresh:
        moved = _move_database_aside(db_path, zone)
        if moved is not None:
            logger.warning(
                "demo: --fresh: the earlier demo database is kept as %s; a new one starts in %s",
                moved,
                db_path,
            )
    elif db_path.exists():
        logger.warning(
            "demo: continuing the existing database %s (%d calls from earlier runs, shown"
            " with this run's); --fresh moves it aside and starts a new one",
            db_path,
            _calls_in(db_path),
        )


def _calls_in(db_path: Path) -> int:
    connection = open_readonly(db_path)
    try:
        return table_counts(connection, ("calls",)).get("calls", 0)
    except sqlite3.DatabaseError:  # not a database (one without a calls table counts 0)
        return 0
    finally:
        connection.close()


def _move_database_aside(db_path: Path, zone: ZoneInfo) -> Path | None:
    """Rename the database at `db_path` and the files that belong to it (`-wal`, the web
    UI's secret and setup link) after the time it was last written, in the site's zone:
    `siaga-demo-20250101-093000.db`. Nothing is deleted; None when there is none."""
    if not db_path.exists():
        return None
    written = max(
        path.stat().st_mtime for path in (db_path, _companion(db_path, "-wal")) if path.exists()
    )
    target = _unused_name(db_path, datetime.fromtimestamp(written, zone))
    with _writer_lock_held(db_path):
        for suffix in ("", *DEMO_DB_COMPANIONS):
            if _companion(db_path, suffix).exists():
                _companion(db_path, suffix).rename(_companion(target, suffix))
    return target


def _companion(db_path: Path, suffix: str) -> Path:
    return db_path.with_name(db_path.name + suffix)


def _unused_name(db_path: Path, written: datetime) -> Path:
    """`<stem>-YYYYMMDD-HHMMSS<suffix>` beside `db_path`, `-2`, `-3`... when taken."""
    base = f"{db_path.stem}-{written:%Y%m%d-%H%M%S}"
    for number in range(1, 1000):
        name = base if number == 1 else f"{base}-{number}"
        target = db_path.with_name(name + db_path.suffix)
        if not any(_companion(target, s).exists() for s in ("", *DEMO_DB_COMPANIONS)):
            return target
    raise UsageError(f"no free name to move {db_path} aside to; move it yourself")


@contextlib.contextmanager
def _writer_lock_held(db_path: Path) -> Iterator[None]:
    """Hold the call log's single-writer lock (`CallLog.open`'s `<db>.writer-lock`): a
    database another siaga writes (a demo still running) is not moved."""
    with _companion(db_path, ".writer-lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"{db_path} is being written by another siaga (a demo still running?):"
                " stop it before starting fresh"
            ) from None
        yield


def _demo_speed(text: str) -> float:
    """An argparse type: the demo's speed, from real time (1) to `MAX_DEMO_SPEED`."""
    value = _positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1 (real time), got {text}")
    if value > MAX_DEMO_SPEED:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_DEMO_SPEED:g} times real time, got {text}: faster, the virtual"
            " modems answer the lines too late for their AT timeouts, which shrink with"
            " the speed, and lines fail"
        )
    return value


_Played = TypeVar("_Played")


def _run_until_interrupted(
    loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, _Played]
) -> _Played | None:
    """Run `main` on `loop`; Ctrl-C (SIGINT) or SIGTERM cancels it, so it cleans up as it
    would after an error (the lines stop, the call log is flushed and closed), and the
    result is None. Every other task left is cancelled and awaited: no traceback, no
    "Task was destroyed but it is pending"."""
    task = loop.create_task(main)
    stopping: list[int] = []

    def stop(signum: int) -> None:
        if not stopping:  # a second Ctrl-C must not cut the clean-up short
            stopping.append(signum)
            task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if not stopping:
            raise
        return None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        _cancel_leftover_tasks(loop)


LEFTOVER_ROUNDS = 10


def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await every task still pending on `loop` (as `asyncio.run` does), again
    while stopping them starts others (a line's last call reporting its end as the line
    stops): a task left behind would print "Task was destroyed but it is pending"."""
    for _ in range(LEFTOVER_ROUNDS):
        leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not leftover:
            return
        for task in leftover:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
    logger.warning(
        "tasks kept starting others while stopping; %d left", len(asyncio.all_tasks(loop))
    )


def check_port_free(host: str, port: int) -> None:
    """Refuse to start the demo when its web UI's port is taken: its setup link would lead
    to whatever holds the port, not to this demo."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            problem = "is already in use" if exc.errno == errno.EADDRINUSE else "cannot be used"
            raise UsageError(
                f"port {port} on {host} {problem} ({exc.strerror}), perhaps by another"
                " `siaga demo` or `siaga web`: give another with --port N, stop the other"
                " program, or run without the web UI (--no-web)"
            ) from None


# uvicorn's own INFO lines ("Started server process", "Press CTRL+C to quit", "Shutting
# down", ...): the demo's terminal leaves them out, so Ctrl-C ends it with one line; the
# web UI's warnings, errors and setup link still show.
UVICORN_INFO = re.compile(rb"^\S+ \S+ INFO uvicorn(\.error)?: ")
WEB_RELAY_JOIN_S = 5.0


class _DemoWeb(NamedTuple):
    """The demo's web UI: its process, and the thread showing its standard error."""

    process: subprocess.Popen[bytes]
    relay: threading.Thread


def _start_demo_web(args: argparse.Namespace, db_path: Path, port: int) -> _DemoWeb | None:
    """`siaga web` on the demo's database, as its own process (as on the box): a web crash
    never touches screening. It dies with the demo, even after a kill -9 of the demo; it has
    its own session, so Ctrl-C reaches the demo alone, which then stops it."""
    command = siaga_command("web", "--db", str(db_path), "--port", str(port))
    if args.config:
        command += ["--config", args.config]
    reader, writer = _web_error_channel()
    try:
        process = subprocess.Popen(
            command, stderr=writer, preexec_fn=_die_with_parent, start_new_session=True
        )
    except OSError as exc:
        os.close(reader)
        logger.warning("demo: the web UI could not start (%s); screening goes on", exc)
        return None
    finally:
        os.close(writer)
    relay = threading.Thread(
        target=_relay_web_errors, args=(reader,), name="demo-web-stderr", daemon=True
    )
    relay.start()
    return _DemoWeb(process, relay)


def _web_error_channel() -> tuple[int, int]:
    """(read end, write end) of the web UI's standard error: a pseudo-terminal when the
    demo's is a terminal (the web UI shows its setup link only to a terminal), else a pipe."""
    if not sys.stderr.isatty():
        return os.pipe()
    reader, writer = pty.openpty()
    tty.setraw(writer)  # the lines as written: no carriage return added
    return reader, writer


def _relay_web_errors(reader: int) -> None:
    """Show the web UI's standard error on the demo's, but for uvicorn's INFO lines, until
    the web UI ends (end of file; EIO on a pseudo-terminal)."""
    with open(reader, "rb") as source, contextlib.suppress(OSError):
        for line in source:
            if not UVICORN_INFO.match(line):
                with contextlib.suppress(OSError):  # nobody reads ours: drop it, go on
                    os.write(sys.stderr.fileno(), line)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent process dies (Linux prctl)."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop_demo_web(web: _DemoWeb | None) -> None:
    """Stop the web UI (SIGTERM; SIGKILL after 10 s) and show the last it said."""
    if web is None:
        return
    if web.process.poll() is None:
        web.process.terminate()
        try:
            web.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            web.process.kill()
            web.process.wait()
    web.relay.join(WEB_RELAY_JOIN_S)


# ------------------------------------------------------------------------- simulate


def cmd_simulate(args: argparse.Namespace) -> int:
    """The design contract: replay a scenario on a virtual clock, print a JSON score."""
    from appliance.scenario import ScenarioError, load_scenario
    from appliance.simulate import SimulationOptions, run_simulation
    from appliance.site_simulation import SiteOptions, box_db_path, run_site_simulation

    config = config_of(args)
    try:
        calls = load_scenario(Path(args.scenario))
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if args.db is None:
        raise UsageError("--db FILE: the simulation writes a call log of its own (a new file)")
    db_path = Path(args.db)
    appliances = args.appliances
    if appliances < 1 or args.lines < appliances or args.operators < appliances:
        raise UsageError("--appliances: at least 1, and at most as many as --lines and --operators")
    for path in (box_db_path(db_path, index) for index in range(appliances)):
        if path.exists() and not args.append:
            raise UsageError(f"{path} exists: remove it, or pass --append to add to it")
    options = SimulationOptions(
        lines=args.lines,
        operators=args.operators,
        operator_answer_s=args.operator_answer_s,
        family=args.family,
        config=config,
    )
    if appliances == 1:
        result = run_simulation(calls, db_path, options)
    else:
        shared = args.shared is not False  # shared unless --no-shared
        site = SiteOptions(appliances=appliances, shared=shared)
        result = run_site_simulation(calls, db_path, options, site)
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


# ------------------------------------------------------------------------- scenario


def cmd_scenario_generate(args: argparse.Namespace) -> int:
    """Write a synthetic, seeded scenario built from the customer's figures."""
    from appliance.month import generate, summarise
    from appliance.scenario import dump_scenario

    start = datetime.fromisoformat(args.start) if args.start else None
    if start is not None and start.tzinfo is None:
        raise UsageError("--start needs a time zone offset, e.g. 2024-04-01T00:00+07:00")
    calls = generate(days=args.days, seed=args.seed, start=start, calls_per_day=args.calls_per_day)
    dump_scenario(calls, Path(args.out))
    json.dump(summarise(calls), sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
    return 0


def _positive_float(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port number, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, got {text}")
    return value


def cmd_scenario_flood(args: argparse.Namespace) -> int:
    """Write a flood scenario of one shape (appliance/floods.py); its summary on stdout."""
    from appliance.floods import FloodShape, FloodWorld, flood_in_month, flood_scenario
    from appliance.month import summarise
    from appliance.scenario import dump_scenario

    world = FloodWorld(
        shape=FloodShape(args.shape),
        rate_per_s=args.rate,
        duration_s=args.minutes * 60.0,
        seed=args.seed,
        genuine_callers=args.genuine,
        genuine_redials=args.redials,
        junk_press_share=args.junk_press_share,
        junk_sound=args.junk_sound,
    )
    calls = flood_in_month(world) if args.in_month else flood_scenario(world)
    dump_scenario(calls, Path(args.out))
    json.dump(summarise(calls), sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
    return 0


# ------------------------------------------------------------------------- rules


def cmd_rule_add(args: argparse.Namespace) -> int:
    """Add an allow or block rule; a running service picks it up within seconds."""
    config = config_of(args)
    try:
        pattern = normalise_pattern(args.number, config.site.region)
    except ValueError as exc:
        raise UsageError(f"{args.number!r}: {exc}") from None
    if not args.prefix and not normalise(args.number, config.site.region).is_number:
        raise UsageError(
            f"{args.number!r} is not a whole phone number: give the full number, "
            "or add --prefix to match every number that starts with it"
        )
    now_ts = SystemClock().timestamp()
    expires_ts = _expires_ts(args, now_ts, zone_of(config))
    if args.kind == "block" and expires_ts is None and not args.reason:
        raise UsageError("a permanent block needs --reason (it is a supervisor's decision)")
    store = RuleStore(db_path_of(args, config), timezone=config.site.timezone)
    try:
        rule_id = _add_rule(store, args, pattern, now_ts, expires_ts)
    except DuplicateRuleError as exc:
        raise UsageError(
            f"{pattern}{'*' if args.prefix else ''}: the same {args.kind} rule is already in"
            f" force (id {exc.existing_id}); see `siaga {args.kind} list`"
        ) from None
    sys.stdout.write(f"{args.kind} rule {rule_id}: {pattern}{'*' if args.prefix else ''}\n")
    return 0


def _expires_ts(args: argparse.Namespace, now_ts: float, zone: ZoneInfo) -> float | None:
    """When the rule ends (`appliance.expiry`); an allow rule from the CLI never does."""
    if args.kind != "block":
        return None
    try:
        return parse_expiry(args.expires, now_ts, zone)
    except ExpiryError as exc:
        raise UsageError(f"--expires {exc}") from None


def _add_rule(
    store: RuleStore,
    args: argparse.Namespace,
    pattern: str,
    now_ts: float,
    expires_ts: float | None,
) -> str:
    """Store the rule `siaga block add` / `allow add` was given; returns its id (the
    store's id form, as for a rule from the web UI)."""
    return store.add(
        {
            "kind": args.kind,
            "pattern": pattern,
            "match": "prefix" if args.prefix else "exact",
            "action": args.action if args.kind == "block" else None,
            "reason": args.reason or "",
            "created_by": args.by,
            "created_ts": now_ts,
            "expires_ts": expires_ts,
        }
    )


def cmd_rule_remove(args: argparse.Namespace) -> int:
    """Remove (soft-delete) a rule by id."""
    config = config_of(args)
    store = RuleStore(db_path_of(args, config), timezone=config.site.timezone)
    if not store.remove(args.id, args.by, SystemClock().timestamp()):
        raise UsageError(f"no active rule with id {args.id!r}")
    sys.stdout.write(f"removed rule {args.id}\n")
    return 0


def cmd_rule_list(args: argparse.Namespace) -> int:
    """List rules of one kind."""
    config = config_of(args)
    store = RuleStore(db_path_of(args, config), timezone=config.site.timezone)
    rows = store.list(kind=args.kind, include_removed=args.all, now_ts=SystemClock().timestamp())
    columns = [
        "id",
        "pattern",
        "match",
        "action",
        "reason",
        "created_by",
        "created_at",
        "expires_at",
    ]
    if args.all:
        columns.append("removed_at")
    print_rows(rows, columns, args.csv)
    return 0


# ------------------------------------------------------------------------- calls, report


def cmd_calls(args: argparse.Namespace) -> int:
    """Show the latest calls, or search them."""
    config = config_of(args)
    zone = zone_of(config)
    number = None
    if args.number:
        caller = normalise(args.number, config.site.region)
        number = caller.e164 or args.number
    db_path = db_path_of(args, config)
    connection = _read_only(db_path)
    try:
        if args.follow:
            connection.execute("BEGIN")  # one snapshot for the latest calls and the history
        rows = search_calls(
            connection,
            number=number,
            since_ts=_parse_day(args.since, zone) if args.since else None,
            until_ts=_parse_day(args.until, zone, end=True) if args.until else None,
            decision=args.decision,
            reason=args.reason,
            disposition=args.disposition,
            limit=args.last if args.follow else args.limit,
        )
        # Read with the rows above, before they are printed: a call that ends after this
        # is news, whenever the follower gets to it.
        watermark, history = _follow_start(connection) if args.follow else (0.0, set())
    finally:
        connection.close()
    columns = [
        "id",
        "started_at",
        "line",
        "caller_raw",
        "caller",
        "decision",
        "reason",
        "challenge_result",
        "voice_heard",
        "reached_operator",
        "disposition",
        "end_cause",
    ]
    print_rows(list(reversed(rows)), columns, args.csv)
    if args.follow:
        sys.stdout.flush()  # the latest calls now, not when the first new one ends
        _follow_calls(db_path, columns, args.csv, history, watermark)
    return 0


FOLLOW_INTERVAL_S = 1.0
FOLLOW_LATE_COMMIT_S = 60.0  # a call that ended this much earlier may still be committed


def _follow_start(connection: sqlite3.Connection) -> tuple[float, set[int]]:
    """Where `--follow` starts: when the last call in the log ended (0 if none), and the
    ids of every call in the follower's first window (history, never printed as news)."""
    found = connection.execute("SELECT max(ended_ts) FROM calls").fetchone()
    watermark = float(found[0]) if found and found[0] is not None else 0.0
    rows = connection.execute(
        "SELECT id FROM calls WHERE ended_ts >= ?", [watermark - FOLLOW_LATE_COMMIT_S]
    ).fetchall()
    return watermark, {int(row[0]) for row in rows}


def _follow_calls(
    path: Path, columns: Sequence[str], as_csv: bool, shown: set[int], watermark: float
) -> None:
    """Print each call that ends from now on, until interrupted (`siaga calls --follow`),
    like `tail -f`: calls that had ended before it started are never printed here."""
    try:
        while True:
            connection = open_readonly(path)
            try:
                found = connection.execute(
                    "SELECT * FROM calls WHERE ended_ts >= ? ORDER BY ended_ts, id",
                    [watermark - FOLLOW_LATE_COMMIT_S],  # late commits of earlier calls
                ).fetchall()
            finally:
                connection.close()
            fresh = [dict(row) for row in found if int(row["id"]) not in shown]
            if fresh:
                print_rows(fresh, columns, as_csv, header=False)
                sys.stdout.flush()
                watermark = max(float(row["ended_ts"]) for row in fresh)
            # Rows leave the query's window for good as the watermark moves: forget them.
            shown = {int(row["id"]) for row in found}
            time_module.sleep(FOLLOW_INTERVAL_S)
    except KeyboardInterrupt:
        return


def cmd_report(args: argparse.Namespace) -> int:
    """The centre's figures per day or month: total, valid by kind, prank, ghost, screened;
    or (`--flagged`) the numbers flagged for a supervisor, with their site on a hub's
    database. `--site`: one site of a hub's database, for either."""
    config = config_of(args)
    zone = zone_of(config)
    since_ts = _parse_day(args.since, zone) if args.since else 0.0
    until_ts = _parse_day(args.until, zone, end=True) if args.until else 4_102_444_800.0
    connection = _read_only(db_path_of(args, config))
    try:
        known = sites(connection)
        if args.site is not None and args.site not in known:
            listed = ", ".join(known) or "none: this is not a hub's database"
            raise UsageError(f"no calls of site {args.site!r} here (sites: {listed})")
        if args.flagged:
            timezone = config.site.timezone
            flagged = flagged_numbers(connection, since_ts, until_ts, timezone, args.site)
            where = ["site"] if known else []  # a hub's: the site whose box flagged it
            columns = ["flagged_at", *where, "caller", "level", "junk_24h", "restricted_until"]
            print_rows([vars(number) for number in flagged], columns, args.csv)
            return 0
        result = report(
            connection,
            since_ts=since_ts,
            until_ts=until_ts,
            period=args.period,
            timezone=config.site.timezone,
            kinds=config.site.genuine_kinds,
            site=args.site,
        )
    finally:
        connection.close()
    sys.stdout.write(report_csv(result) if args.csv else format_table(result))
    return 0


# ------------------------------------------------------------------------- backup

BACKUP_TIMEOUT_S = 30.0  # how long the copy may wait for a writer to let go


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a consistent copy of the database to one file (`appliance.store.backup`);
    the service may keep running. An existing file is never overwritten."""
    config = config_of(args)
    db_path = db_path_of(args, config)
    conn = _read_only(db_path)  # a clear error when there is no database
    try:
        calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{db_path} is not a Siaga database ({exc}): no backup made") from None
    finally:
        conn.close()
    target = Path(args.out) if args.out else Path.cwd()
    if target.is_dir():
        target = target / backup_name(time_module.time(), zone_of(config))
    if target.exists():
        raise UsageError(f"{target} exists: give --out another file (nothing was written)")
    partial = target.with_name(target.name + ".part")
    try:
        copy_database(db_path, partial, busy_timeout_s=BACKUP_TIMEOUT_S)
        partial.rename(target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"no backup made: {exc}") from None
    size_mb = target.stat().st_size / 2**20
    sys.stdout.write(f"{target}: {size_mb:.1f} MB, {calls} calls (from {db_path})\n")
    return 0


# ------------------------------------------------------------------------- config


def cmd_config_check(args: argparse.Namespace) -> int:
    """Validate a configuration file and summarise it."""
    path = Path(args.file)
    config = load_config(path)
    sys.stdout.write(
        f"{path}: OK: {len(config.lines)} line(s), region {config.site.region}, "
        f"time zone {config.site.timezone}, language {config.site.language}, "
        f"database {config.database.path}\n"
    )
    return 0


# ------------------------------------------------------------------------- sharing


def cmd_sync(args: argparse.Namespace) -> int:
    """Run the sharing agent in this process (the line service runs without it)."""
    from appliance.cluster.run import print_status, run_agent

    config, cluster = _cluster(args, "nothing to share")
    db_path = db_path_of(args, config)
    if args.status:
        print_status(_read_only(db_path), sys.stdout)
        return 0
    _log_starts()
    run_agent(cluster, db_path, timezone=config.site.timezone)
    return 0


def cmd_hub(args: argparse.Namespace) -> int:
    """Consume every site's call records and verdicts into this database; publish its
    rules as the province's (docs/cluster.md)."""
    from appliance.cluster.run import run_hub

    config, cluster = _cluster(args, "no servers to read")
    _log_starts()
    run_hub(cluster, db_path_of(args, config), timezone=config.site.timezone)
    return 0


def _cluster(args: argparse.Namespace, without: str) -> tuple[Config, ClusterConfig]:
    """The configuration and its `[cluster]` table; a clear refusal without one."""
    config = config_of(args)
    if config.cluster is None:
        where = args.config or "the built-in defaults"
        raise UsageError(f"no [cluster] table in {where}: {without} (docs/cluster.md)")
    return config, config.cluster


def _log_starts() -> None:
    """A long-running process: its start and its connections belong in the journal."""
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))


def cmd_nats_accounts(args: argparse.Namespace) -> int:
    """Write a site's NATS accounts: the server's authorization block and each password."""
    from appliance.cluster.permissions import write_site_accounts

    try:
        written = write_site_accounts(
            Path(args.out),
            args.site,
            args.appliances,
            leaf_sites=args.leaf_sites,
            hub_url=args.hub_url,
        )
    except (ValueError, RuntimeError) as exc:  # a bad name; no bcrypt on this system
        raise UsageError(str(exc)) from None
    for path in written:
        sys.stdout.write(f"{path}\n")
    return 0


def cmd_site_demo(args: argparse.Namespace) -> int:
    """Run a site of demo appliances, a NATS server and the hub on this machine."""
    from appliance.cluster.site_demo import SiteDemoError, SiteDemoOptions, run_site_demo

    if not 1 <= args.appliances <= 8 or not 1 <= args.lines <= 16:
        raise UsageError("--appliances: 1 to 8; --lines: 1 to 16")
    check_port_free("127.0.0.1", args.port)
    options = SiteDemoOptions(
        folder=Path(args.folder).resolve(),
        appliances=args.appliances,
        lines=args.lines,
        speed=args.speed,
        days=args.days,
        port=args.port,
    )
    try:
        return run_site_demo(options)
    except SiteDemoError as exc:
        raise UsageError(str(exc)) from None


# ------------------------------------------------------------------------- parser


DESCRIPTION = (
    "Siaga screens the incoming calls of an emergency call centre's GSM lines, on a Raspberry"
    " Pi with GSM modems. These commands run it (or a demo or simulation of it), manage its"
    " rules, read its call log and reports, share with a site's other boxes, and serve its"
    " web UI and accounts."
)
VERBOSE_HELP = "more log output; twice: debug"
CSV_HELP = "print CSV (with a header row) instead of a table"


def add_common(
    parser: argparse.ArgumentParser,
    *,
    db_help: str = "SQLite call log (default: the config's database.path)",
) -> None:
    """`--config` and `--db`, for a command that reads or writes the database; `db_help`
    says which database a command uses when it is not the config's (`siaga demo`)."""
    parser.add_argument("--config", help="TOML configuration file (default: built-in defaults)")
    parser.add_argument("--db", help=db_help)


def add_commands(parser: argparse.ArgumentParser, dest: str) -> Any:
    """`parser`'s subparsers: one command required, listed under "commands" as COMMAND
    rather than as one `{a,b,...}` word."""
    return parser.add_subparsers(
        dest=dest,
        required=True,
        metavar="COMMAND",
        title="commands",
        help=f"{parser.prog} COMMAND --help shows a command's options",
    )


def add_command(sub: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """A command of `sub`: `summary` is its line in its parent's list, `description` the
    paragraph its `--help` starts with."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    return parser


def _add_rule_commands(sub: Any, kind: str) -> None:
    block = kind == "block"
    parser = add_command(
        sub,
        kind,
        f"manage the {kind}list",
        "Manage the blocklist: numbers and prefixes the lines challenge (or announce to, or"
        " reject) instead of putting them straight through to an operator."
        if block
        else "Manage the allowlist: numbers and prefixes always put through to an operator"
        " (hospitals, fire brigade, police, PLN), whatever the screening would do.",
    )
    actions = add_commands(parser, "rule_action")
    add = add_command(
        actions,
        "add",
        f"add a number or prefix to the {kind}list",
        "Block a number or, with --prefix, every number that starts with it: the line"
        " challenges it (or announces to it, or rejects it) until --expires. A rule identical"
        " to one in force (same number, match and action) is refused, naming it. A running"
        " service picks the rule up within seconds."
        if block
        else "Always put a number or, with --prefix, every number that starts with it through"
        " to an operator; the rule stays until removed. A rule identical to one in force is"
        " refused, naming it. A running service picks the rule up within seconds.",
    )
    add_common(add)
    add.add_argument(
        "number", metavar="NUMBER", help="a number in any form (0812..., +62 812..., 62812...)"
    )
    add.add_argument(
        "--prefix", action="store_true", help="match every number that starts with NUMBER"
    )
    add.add_argument(
        "--reason",
        default="",
        help="why (required for a block that never expires)" if block else "why (optional)",
    )
    add.add_argument(
        "--by",
        default="cli",
        metavar="NAME",
        help="who adds it, for the audit trail (default: %(default)s)",
    )
    if block:
        add.add_argument(
            "--action",
            choices=ACTIONS_BY_KIND["block"],
            default=ACTIONS_BY_KIND["block"][0],
            help="what the line does with the number: challenge (answer, wait for the escape"
            " key), announce (play a message, hang up) or reject (default: %(default)s)",
        )
        add.add_argument(
            "--expires",
            default="24h",
            help="30m, 24h, 7d, 7 hari, 2 minggu, a date YYYY-MM-DD, or never; empty is never"
            " (default: %(default)s)",
        )
    add.set_defaults(func=cmd_rule_add, kind=kind)
    remove = add_command(
        actions,
        "remove",
        "remove a rule by id",
        f"Remove {'a' if block else 'an'} {kind} rule by its id (siaga {kind} list shows"
        " it). The rule is kept,"
        f" marked removed, for the record: siaga {kind} list --all shows it.",
    )
    add_common(remove)
    remove.add_argument("id", metavar="ID", help=f"the rule's id, as siaga {kind} list shows it")
    remove.add_argument(
        "--by",
        default="cli",
        metavar="NAME",
        help="who removes it, for the audit trail (default: %(default)s)",
    )
    remove.set_defaults(func=cmd_rule_remove, kind=kind)
    listing = add_command(
        actions,
        "list",
        "list the rules in force",
        f"List the {kind} rules in force; --all includes expired and removed ones.",
    )
    add_common(listing)
    listing.add_argument("--all", action="store_true", help="include expired and removed rules")
    listing.add_argument("--csv", action="store_true", help=CSV_HELP)
    listing.set_defaults(func=cmd_rule_list, kind=kind)


def _add_sync_command(sub: Any) -> None:
    """`siaga sync`: share with the site's other appliances (docs/cluster.md)."""
    sync = add_command(
        sub,
        "sync",
        "share rules, settings, verdicts and call records with the site (NATS JetStream)",
        "Share this box's rules, screening settings, operators' verdicts, challenge outcomes,"
        " call-backs and call records with the other appliances of its site over NATS"
        " JetStream (the [cluster] table), and apply theirs and the province's rules. It runs"
        " until stopped, beside siaga run.",
    )
    add_common(sync)
    sync.add_argument(
        "--status", action="store_true", help="print what waits to be sent and received, then stop"
    )
    sync.set_defaults(func=cmd_sync)
    hub = add_command(
        sub,
        "hub",
        "keep every site's calls and verdicts in this database, and publish its rules"
        " to every site (the province hub)",
        "The province hub: keep every site's call records and operators' verdicts in this"
        " database, from the servers of the [cluster] table, so siaga web and siaga report on"
        " it give every site's figures; publish this database's rules as the province's,"
        " which every appliance of every site applies. It runs until stopped.",
    )
    add_common(hub)
    hub.set_defaults(func=cmd_hub)
    accounts = add_command(
        sub,
        "nats-accounts",
        "accounts for a site's NATS server: one per appliance, one admin",
        "Write the accounts of a site's NATS server into --out: nats-accounts.conf (the"
        " server's authorization block, each appliance allowed only its own subjects) and a"
        " password file for each appliance and for siaga-admin; existing passwords are kept."
        " On the province hub's server, each site named with --leaf-site (and --hub-url) also"
        " gets a credential of its own for its leaf-node link.",
    )
    accounts.add_argument("appliances", nargs="*", metavar="APPLIANCE", help="the boxes' names")
    accounts.add_argument("--site", required=True, help="the site's name, as in [cluster]")
    accounts.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the files (created, 0700)"
    )
    accounts.add_argument(
        "--leaf-site",
        dest="leaf_sites",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="on the province hub's server: a site whose server links to it as a leaf node,"
        " by its JetStream domain (again for each site); its link gets a credential of its own",
    )
    accounts.add_argument(
        "--hub-url",
        metavar="URL",
        help="with --leaf-site: the hub's leaf-node address as the sites' servers dial it"
        " (nats-leaf://HOST:PORT)",
    )
    accounts.set_defaults(func=cmd_nats_accounts)
    site = add_command(
        sub,
        "site-demo",
        "several demo appliances sharing through NATS, and the province hub",
        "Run several demo appliances sharing through a NATS server, and the province hub with"
        " its web UI, all on this machine as separate processes. It needs Debian's"
        " nats-server; Ctrl-C stops every process it started.",
    )
    site.add_argument(
        "--appliances", type=int, default=2, help="how many boxes, 1 to 8 (default: %(default)s)"
    )
    site.add_argument(
        "--lines",
        type=int,
        default=4,
        help="virtual lines per box, 1 to 16 (default: %(default)s)",
    )
    site.add_argument(
        "--speed",
        type=_demo_speed,
        default=60.0,
        help=f"times real time, 1 to {MAX_DEMO_SPEED:g} (default: 60): each box is a demo",
    )
    site.add_argument(
        "--days", type=int, default=1, help="generated days per box (default: %(default)s)"
    )
    site.add_argument(
        "--port", type=int, default=8112, help="the hub's web UI port (default: %(default)s)"
    )
    site.add_argument(
        "--folder",
        default="var/site-demo",
        help="folder for the configurations, databases and logs (default: %(default)s)",
    )
    site.set_defaults(func=cmd_site_demo)


def build_parser(groups: Sequence[CommandGroup] = ()) -> argparse.ArgumentParser:
    """The `siaga` command line: the appliance's commands, then each group's (the web
    UI's: `web_ui.cli`)."""
    parser = argparse.ArgumentParser(prog="siaga", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    sub = add_commands(parser, "command")

    run = add_command(
        sub,
        "run",
        "screen calls on the modems in the configuration",
        "Screen calls on the real modems: the lines the web UI's lines page stores, or while"
        " it stores none the configuration's [[lines]]. It logs one line per call; --raw-at"
        " logs every line's raw AT traffic, and SIGUSR1 (systemctl kill -s USR1 siaga) turns"
        " that on or off while it runs.",
    )
    run.add_argument(
        "--raw-at", action="store_true", help="log raw AT traffic from the start (SIGUSR1 toggles)"
    )
    add_common(run)
    run.set_defaults(func=cmd_run)

    demo = add_command(
        sub,
        "demo",
        "the appliance on virtual modems with generated traffic",
        "Run the appliance on virtual modems with generated traffic, replayed at --speed"
        " times real time so that it ends at the real time, and the web UI on --port. It"
        f" continues the database of the last run ({DEMO_DB}, or --db); --fresh moves that"
        " one aside and starts a new one. Ctrl-C stops it.",
    )
    add_common(demo, db_help=f"SQLite call log, continued from the last run (default: {DEMO_DB})")
    demo.add_argument(
        "--speed",
        type=_demo_speed,
        default=60.0,
        help=f"times real time, 1 to {MAX_DEMO_SPEED:g} (default: 60)",
    )
    demo.add_argument("--days", type=int, default=1, help="days of traffic (default: %(default)s)")
    demo.add_argument(
        "--lines", type=int, default=4, help="virtual lines (modems) (default: %(default)s)"
    )
    demo.add_argument(
        "--operators",
        type=int,
        default=4,
        help="simulated operators answering the calls put through (default: %(default)s)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=112,
        help="seed of the generated traffic: the same seed, the same calls (default: %(default)s)",
    )
    demo.add_argument("--no-web", action="store_true", help="do not start the web UI")
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="move the earlier demo database aside (kept, renamed after its time); start anew",
    )
    demo.add_argument(
        "--port", type=port_number, help="the web UI's port (default: the config's web.port, 8112)"
    )
    demo.set_defaults(func=cmd_demo)

    simulate = add_command(
        sub,
        "simulate",
        "replay a scenario on a virtual clock; JSON score",
        "Replay a scenario file on virtual modems and a virtual clock, as fast as the machine"
        " goes, and print the centre's score as JSON. --appliances N splits the lines and"
        " operators over N boxes of one site, each with its own line service and database.",
    )
    add_common(
        simulate,
        db_help="SQLite database the simulation writes (no default: give one; refused if it"
        " exists, unless --append)",
    )
    simulate.add_argument(
        "--scenario", required=True, help="scenario JSON Lines file (siaga scenario writes one)"
    )
    simulate.add_argument(
        "--lines", type=int, default=4, help="virtual lines (modems) (default: %(default)s)"
    )
    simulate.add_argument(
        "--operators", type=int, default=4, help="simulated operators (default: %(default)s)"
    )
    simulate.add_argument(
        "--operator-answer-s",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds a free operator takes to answer a call put through (default: %(default)s)",
    )
    simulate.add_argument(
        "--family",
        default="mixed",
        help="modem family of every line, or mixed: each line the next of sim7600, ec25,"
        " sim800, m95 and huawei (default: %(default)s)",
    )
    simulate.add_argument("--append", action="store_true", help="add to an existing database")
    simulate.add_argument(
        "--appliances",
        type=int,
        default=1,
        help="split the lines and operators over N boxes of one site (box k's database:"
        " <db stem>-boxk.db beside --db, box 1's is --db) (default: %(default)s)",
    )
    simulate.add_argument(
        "--shared",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the boxes share verdicts, challenge outcomes and flood mode"
        " (default: shared when N > 1)",
    )
    simulate.set_defaults(func=cmd_simulate)

    scenario = add_command(
        sub,
        "scenario",
        "scenario files",
        "Write scenario files (JSON Lines) for siaga simulate: synthetic traffic, or a flood.",
    )
    scenario_sub = add_commands(scenario, "scenario_action")
    gen = add_command(
        scenario_sub,
        "generate",
        "synthetic traffic from the customer's figures",
        "Write synthetic, seeded traffic built from the customer's figures (Serang's calls:"
        " mostly prank and silent calls) to a scenario file, and print its summary as JSON.",
    )
    gen.add_argument("--out", required=True, metavar="FILE", help="the scenario file to write")
    gen.add_argument("--days", type=int, default=30, help="days of traffic (default: %(default)s)")
    gen.add_argument(
        "--seed",
        type=int,
        default=112,
        help="random seed: the same seed, the same calls (default: %(default)s)",
    )
    gen.add_argument(
        "--calls-per-day",
        type=float,
        default=173.0,
        help="calls a day on average (default: %(default)s)",
    )
    gen.add_argument("--start", help="ISO start time with offset (default: 2024-04-01T00:00+07:00)")
    gen.set_defaults(func=cmd_scenario_generate)
    flood = add_command(
        scenario_sub,
        "flood",
        "a flood of one shape (docs/floods.md)",
        "Write a flood of junk calls of one shape, with genuine callers trying to get through"
        " it, to a scenario file (alone, or inside a generated month), and print its summary"
        " as JSON. docs/floods.md describes the shapes.",
    )
    flood.add_argument("--out", required=True, metavar="FILE", help="the scenario file to write")
    flood.add_argument(
        "--shape",
        choices=["block", "spread", "withheld", "crew", "hammer"],
        default="block",
        help="how the junk callers are numbered: rotating numbers in one block, fresh numbers"
        " everywhere, no caller ID, a crew of numbers in one range, or one number over and"
        " over (default: %(default)s)",
    )
    flood.add_argument(
        "--rate",
        type=_positive_float,
        default=2.0,
        help="junk calls a second (default: %(default)s)",
    )
    flood.add_argument(
        "--minutes",
        type=_positive_float,
        default=15.0,
        help="how long the flood lasts, in minutes (default: %(default)s)",
    )
    flood.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    flood.add_argument(
        "--genuine", type=int, default=8, help="genuine callers in the flood (default: %(default)s)"
    )
    flood.add_argument(
        "--redials",
        type=int,
        default=1,
        help="retries of each genuine caller (default: %(default)s)",
    )
    flood.add_argument(
        "--junk-press-share",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of junk callers who press the prompt's key, 0 to 1 (default: %(default)s)",
    )
    flood.add_argument(
        "--junk-sound",
        choices=["silence", "noise", "voice"],
        default="silence",
        help="what the junk callers' line carries (default: %(default)s)",
    )
    flood.add_argument(
        "--in-month",
        action="store_true",
        help="lay the flood over a generated month (on the evening of its tenth day)",
    )
    flood.set_defaults(func=cmd_scenario_flood)

    _add_rule_commands(sub, "block")
    _add_rule_commands(sub, "allow")

    calls = add_command(
        sub,
        "calls",
        "the latest calls, or a search",
        "Print the latest calls, oldest first, or those matching every filter given."
        " --follow then prints every call as it ends, like tail -f.",
    )
    add_common(calls)
    calls.add_argument("--number", help="any form of the caller's number")
    calls.add_argument("--since", help="YYYY-MM-DD (local time)")
    calls.add_argument("--until", help="YYYY-MM-DD (local time, inclusive)")
    calls.add_argument(
        "--decision",
        choices=[a.value for a in Action],
        help="only calls the line handled this way",
    )
    calls.add_argument(
        "--reason",
        help="only calls decided for this reason (allowlist, blocklist, throttle, abuse,"
        " withheld, flood, default, ...)",
    )
    calls.add_argument(
        "--disposition",
        help="only calls an operator recorded so (prank, ghost, info, wrong_number,"
        " genuine:KIND, or genuine for every genuine kind)",
    )
    calls.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="how many of the latest matching calls to print (default: %(default)s;"
        " --follow prints --last instead)",
    )
    calls.add_argument("--csv", action="store_true", help=CSV_HELP)
    calls.add_argument(
        "--follow", action="store_true", help="then print every call as it ends (Ctrl-C stops)"
    )
    calls.add_argument(
        "--last",
        type=int,
        default=10,
        metavar="N",
        help="with --follow: the N latest calls first, then the new ones (default: %(default)s)",
    )
    calls.set_defaults(func=cmd_calls)

    rep = add_command(
        sub,
        "report",
        "the centre's figures per day or month",
        "Print the centre's figures per day or month: total, valid calls by kind, prank,"
        " ghost, screened by reason. --flagged lists instead the numbers the abuse ladder"
        " flagged for a supervisor. On a province hub's database, --site counts one site's"
        " calls only.",
    )
    add_common(rep)
    rep.add_argument(
        "--period",
        choices=["day", "month"],
        default="month",
        help="a row per day or per month (default: %(default)s)",
    )
    rep.add_argument("--since", help="YYYY-MM-DD (local time)")
    rep.add_argument("--until", help="YYYY-MM-DD (local time, inclusive)")
    rep.add_argument("--csv", action="store_true", help=CSV_HELP)
    rep.add_argument(
        "--site", help="on a province hub's database: only this site's calls (and flagged numbers)"
    )
    rep.add_argument(
        "--flagged",
        action="store_true",
        help="instead, the numbers the abuse ladder flagged for a supervisor",
    )
    rep.set_defaults(func=cmd_report)

    backup = add_command(
        sub,
        "backup",
        "copy the database to one file, while it runs",
        "Write a consistent copy of the database to one file while the service runs"
        " (SQLite's backup API). An existing file is never overwritten; siaga restore or the"
        " web UI's system page puts a backup back.",
    )
    add_common(backup)
    backup.add_argument(
        "--out",
        metavar="PATH",
        help="the file, or a folder for siaga-backup-YYYYMMDD-HHMM.db"
        " (default: the current folder)",
    )
    backup.set_defaults(func=cmd_backup)

    config = add_command(
        sub, "config", "configuration files", "Check configuration files before using them."
    )
    config_sub = add_commands(config, "config_action")
    check = add_command(
        config_sub,
        "check",
        "validate a configuration file",
        "Validate a configuration file and summarise it (lines, region, time zone, language,"
        " database); each problem found names its key.",
    )
    check.add_argument("file", metavar="FILE", help="the TOML configuration file")
    check.set_defaults(func=cmd_config_check)

    _add_sync_command(sub)
    for add_group in groups:
        add_group(sub)
    _verbose_anywhere(parser)
    return parser


def _verbose_anywhere(parser: argparse.ArgumentParser) -> None:
    """`-v` after the command too (`siaga run -v`), as people type it: every subcommand
    takes it, and leaves the count given before the command when it is not repeated."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.add_argument(
                    "-v", "--verbose", action="count", default=argparse.SUPPRESS,
                    help=VERBOSE_HELP,
                )  # fmt: skip
                _verbose_anywhere(command)


def main(
    argv: Sequence[str] | None = None,
    *,
    groups: Sequence[CommandGroup] = (),
    program_module: str,
) -> int:
    """Run one `siaga` command: parse `argv` with the appliance's commands and `groups`,
    run it, and turn the errors users can fix into a message and exit status 2. The
    program's entry point (`web_ui.cli.main`) calls it and names its own module, which
    commands that start `siaga` again as a child use (`appliance.program`)."""
    set_program_module(program_module)
    args = build_parser(groups).parse_args(argv)
    # The service logs one line per call at INFO: under systemd that is the journal.
    _setup_logging(max(args.verbose, 1) if args.command == "run" else args.verbose)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        sys.stderr.write(f"siaga: configuration error in {exc.source}:\n")
        for problem in exc.problems:
            sys.stderr.write(f"  {problem}\n")
        return 2
    except UsageError as exc:
        sys.stderr.write(f"siaga: {exc}\n")
        return 2
    except CallLogBusyError as exc:
        sys.stderr.write(f"siaga: {exc} (is siaga already running?)\n")
        return 2
    except (FileNotFoundError, PermissionError) as exc:
        sys.stderr.write(f"siaga: {exc}\n")
        return 2
    except KeyboardInterrupt:  # Ctrl-C before a command's own clean stop is in place
        sys.stderr.write("siaga: stopped\n")
        return 130
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
    return result
