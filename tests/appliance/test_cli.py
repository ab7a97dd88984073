"""The real `siaga` command, run in subprocesses on temporary files.

Each test runs `python -m web_ui.cli ...` (the same `main()` as the installed console
script, which one test runs too) in a temporary working directory, and checks what a
technician would see: exit status, standard output, and the error message on standard
error. A one-day scenario is generated and simulated once per module; the `calls` and
`report` tests read that database.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import pty
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from appliance.numbers import normalise
from appliance.store import CallLog, open_readonly
from tests.appliance.test_durability import busy_timezone

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 180.0  # generous: a simulate on a loaded 2-core machine

SCENARIO_KEYS = {
    "id",
    "at",
    "caller",
    "answer",
    "hangup_after_s",
    "talk_s",
    "disposition",
    "truth",
}
SCORE_KEYS = {
    "genuine_calls",
    "genuine_reached",
    "incidents",
    "incidents_reached",
    "junk_calls",
    "junk_reached",
    "junk_reached_pct",
    "lost_busy",
    "junk_line_seconds",
    "junk_operator_seconds",
    "genuine_delay_p50_s",
    "genuine_delay_p95_s",
}


def siaga(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `siaga ARGS` in `cwd` and return what it did (never raises on failure)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "web_ui.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The standard output of a command that must have succeeded."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The error message of a command that must have been refused as a usage error."""
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("siaga: "), result.stderr
    return result.stderr


@dataclass(frozen=True)
class Simulated:
    """A one-day scenario and the database `siaga simulate` made of it."""

    directory: Path
    scenario: Path
    db: Path
    score: dict[str, Any]
    calls: list[dict[str, Any]]  # the scenario, line by line


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    directory = tmp_path_factory.mktemp("simulated")
    scenario = directory / "day.jsonl"
    ok(
        siaga(
            "scenario", "generate", "--out", scenario, "--days", "1", "--seed", "7", cwd=directory
        )
    )
    db = directory / "day.db"
    score = json.loads(ok(siaga("simulate", "--scenario", scenario, "--db", db, cwd=directory)))
    calls = [json.loads(line) for line in scenario.read_text(encoding="utf-8").splitlines()]
    return Simulated(directory, scenario, db, score, calls)


def table_rows(text: str) -> list[list[str]]:
    """The cells of a plain-text table as `siaga` prints it (header first)."""
    return [line.split() for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------ scenario, simulate


def test_scenario_generate_writes_contract_jsonl_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "week.jsonl"
    summary = json.loads(
        ok(siaga("scenario", "generate", "--out", out, "--days", "2", "--seed", "3", cwd=tmp_path))
    )
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines
    calls = [json.loads(line) for line in lines]
    for call in calls:
        assert set(call) == SCENARIO_KEYS
        assert set(call["answer"]) - {"sound"} == {"press", "after_s"}
        assert call["truth"] in {"genuine", "prank", "ghost"}
        assert call["caller"] is None or isinstance(call["caller"], str)
        assert call["at"][-6] in "+-", f"{call['at']} has no offset"
    assert [call["at"] for call in calls] == sorted(call["at"] for call in calls)
    assert len({call["id"] for call in calls}) == len(calls)
    assert summary["calls_total"] == len(calls)
    assert summary["by_truth"] == dict(Counter(call["truth"] for call in calls))


def test_scenario_generate_is_reproducible_for_a_seed(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ok(siaga("scenario", "generate", "--out", first, "--days", "1", "--seed", "5", cwd=tmp_path))
    ok(siaga("scenario", "generate", "--out", second, "--days", "1", "--seed", "5", cwd=tmp_path))
    assert first.read_bytes() == second.read_bytes()


def test_scenario_flood_writes_a_flood_that_simulates_into_flood_mode(tmp_path: Path) -> None:
    out = tmp_path / "flood.jsonl"
    summary = json.loads(
        ok(
            siaga(
                "scenario", "flood", "--out", out, "--shape", "withheld", "--rate", "1",
                "--minutes", "3", "--genuine", "2", "--seed", "4", cwd=tmp_path,
            )
        )
    )  # fmt: skip
    assert summary["withheld_calls"] > 120
    score = json.loads(ok(siaga("simulate", "--scenario", out, "--db", "f.db", cwd=tmp_path)))
    assert score["flood_periods"] and score["incidents_reached"] == 2
    assert score["decisions_by_reason"]["reject"]["flood"] > 0


def test_scenario_flood_refuses_a_rate_below_zero(tmp_path: Path) -> None:
    result = siaga("scenario", "flood", "--out", "f.jsonl", "--rate", "-1", cwd=tmp_path)
    assert result.returncode == 2 and "must be above 0" in result.stderr
    assert not (tmp_path / "f.jsonl").exists()


def test_simulate_prints_a_json_score_with_every_contract_key(simulated: Simulated) -> None:
    score = simulated.score
    assert set(score) >= SCORE_KEYS
    truths = Counter(call["truth"] for call in simulated.calls)
    assert score["genuine_calls"] == truths["genuine"]
    assert score["junk_calls"] == truths["prank"] + truths["ghost"]
    assert 0 <= score["genuine_reached"] <= score["genuine_calls"]
    assert 0 <= score["incidents_reached"] <= score["incidents"]
    assert 0 <= score["junk_reached"] <= score["junk_calls"]
    assert 0 <= score["junk_reached_pct"] <= 100


def test_simulate_logs_one_row_per_call_that_reached_a_line(simulated: Simulated) -> None:
    connection = open_readonly(simulated.db)
    try:
        refs = [row[0] for row in connection.execute("select scenario_ref from calls")]
    finally:
        connection.close()
    assert len(refs) == len(set(refs))
    assert len(refs) == len(simulated.calls) - simulated.score["lost_busy"]


def test_simulate_refuses_an_existing_database_without_append(simulated: Simulated) -> None:
    before = simulated.db.stat().st_size
    message = refused(
        siaga(
            "simulate",
            "--scenario",
            simulated.scenario,
            "--db",
            simulated.db,
            cwd=simulated.directory,
        )
    )
    assert str(simulated.db) in message
    assert "--append" in message
    assert simulated.db.stat().st_size == before


def test_simulate_without_a_database_says_so(simulated: Simulated) -> None:
    message = refused(siaga("simulate", "--scenario", simulated.scenario, cwd=simulated.directory))
    assert "--db FILE" in message and "Traceback" not in message


def test_simulate_append_scores_only_its_own_run(tmp_path: Path) -> None:
    scenario = tmp_path / "day.jsonl"
    ok(siaga("scenario", "generate", "--out", scenario, "--days", "1", "--seed", "5", cwd=tmp_path))
    db = tmp_path / "runs.db"
    first = json.loads(ok(siaga("simulate", "--scenario", scenario, "--db", db, cwd=tmp_path)))
    second = json.loads(
        ok(siaga("simulate", "--scenario", scenario, "--db", db, "--append", cwd=tmp_path))
    )
    # The second run replays the same calls on top of the first run's history, so the
    # policy knows the callers; its score must still count each of its calls once.
    assert second["calls_total"] == first["calls_total"]
    assert second["genuine_calls"] == first["genuine_calls"]
    assert (
        second["junk_reached"] + second["lost_busy"]
        <= second["junk_calls"] + second["genuine_calls"]
    )
    connection = sqlite3.connect(db)
    try:
        (rows,) = connection.execute("select count(*) from calls").fetchone()
    finally:
        connection.close()
    assert rows == 2 * (first["calls_total"] - first["lost_busy"])


def test_simulate_refuses_a_missing_scenario(tmp_path: Path) -> None:
    result = siaga("simulate", "--scenario", "nope.jsonl", "--db", "x.db", cwd=tmp_path)
    assert "nope.jsonl" in refused(result)
    assert not (tmp_path / "x.db").exists()


# ------------------------------------------------------------------ block, allow


def test_block_add_list_remove_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    added = ok(
        siaga(
            "block", "add", "0812-3456-7890", "--expires", "24h", "--reason", "x", "--db", db,
            cwd=tmp_path,
        )
    )  # fmt: skip
    assert "+6281234567890" in added
    rule_id = added.split()[2].rstrip(":")

    listing = csv.DictReader(
        io.StringIO(ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path)))
    )
    rows = list(listing)
    assert [(r["id"], r["pattern"], r["match"], r["action"], r["reason"]) for r in rows] == [
        (rule_id, "+6281234567890", "exact", "challenge", "x")
    ]
    created = datetime.fromisoformat(rows[0]["created_at"])
    expires = datetime.fromisoformat(rows[0]["expires_at"])
    assert abs(expires - created - timedelta(hours=24)) < timedelta(seconds=1)
    assert "+6281234567890" in ok(siaga("block", "list", "--db", db, cwd=tmp_path))

    assert rule_id in ok(siaga("block", "remove", rule_id, "--db", db, cwd=tmp_path))
    assert "+6281234567890" not in ok(siaga("block", "list", "--db", db, cwd=tmp_path))
    history = ok(siaga("block", "list", "--all", "--db", db, cwd=tmp_path))
    assert "+6281234567890" in history
    assert "removed_at" in history


def test_block_any_written_form_of_a_number_is_one_subscriber(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    ok(siaga("block", "add", "081234567890", "--reason", "same", "--db", db, cwd=tmp_path))
    for written in ("6281234567890", "+62 812-3456-7890"):  # the same rule again: refused
        message = refused(
            siaga("block", "add", written, "--reason", "same", "--db", db, cwd=tmp_path)
        )
        assert "+6281234567890: the same block rule is already in force" in message
    listing = csv.DictReader(
        io.StringIO(ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path)))
    )
    assert [row["pattern"] for row in listing] == ["+6281234567890"]


def test_block_removing_an_unknown_id_is_refused(tmp_path: Path) -> None:
    message = refused(siaga("block", "remove", "no-such-rule", "--db", "r.db", cwd=tmp_path))
    assert "no-such-rule" in message


def test_permanent_block_without_reason_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    result = siaga("block", "add", "0812-3456-7890", "--expires", "never", "--db", db, cwd=tmp_path)
    message = refused(result)
    assert "permanent" in message
    assert "--reason" in message
    assert ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path)).splitlines()[1:] == []


def test_permanent_block_with_reason_has_no_expiry(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    ok(
        siaga(
            "block", "add", "0812-3456-7890", "--expires", "never", "--action", "reject",
            "--reason", "supervisor: TDoS source", "--db", db, cwd=tmp_path,
        )
    )  # fmt: skip
    (row,) = csv.DictReader(
        io.StringIO(ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path)))
    )
    assert (row["action"], row["expires_at"]) == ("reject", "")


@pytest.mark.parametrize("number", ["08x12", "0812-3456-789O", "call me"])
def test_malformed_number_is_refused_with_a_clear_message(tmp_path: Path, number: str) -> None:
    message = refused(siaga("block", "add", number, "--db", "rules.db", cwd=tmp_path))
    assert repr(number) in message
    assert "not a number" in message


def test_malformed_expiry_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    message = refused(
        siaga("block", "add", "0812-3456-7890", "--expires", "soon", "--db", "r.db", cwd=tmp_path)
    )
    assert "--expires" in message
    assert "24h" in message


def test_expiry_in_indonesian_and_the_store_id_form(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    added = ok(
        siaga(
            "block", "add", "0812-3456-7890", "--expires", "7 hari", "--db", db, cwd=tmp_path
        )
    )  # fmt: skip
    rule_id = added.split()[2].rstrip(":")
    assert len(rule_id) == 18 and rule_id.startswith("b-")  # as the web UI's rules
    (row,) = csv.DictReader(
        io.StringIO(ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path)))
    )
    created = datetime.fromisoformat(row["created_at"])
    expires = datetime.fromisoformat(row["expires_at"])
    assert abs(expires - created - timedelta(days=7)) < timedelta(seconds=1)


def test_a_blank_expiry_is_never_as_on_the_web(tmp_path: Path) -> None:
    # Was refused as malformed; now the same as never, so a permanent block needs a reason.
    db = tmp_path / "rules.db"
    message = refused(
        siaga("block", "add", "0812-3456-7890", "--expires", "", "--db", db, cwd=tmp_path)
    )
    assert "permanent" in message and "--reason" in message
    ok(
        siaga(
            "block", "add", "0812-3456-7890", "--expires", "", "--reason", "TDoS", "--db", db,
            cwd=tmp_path,
        )
    )  # fmt: skip
    (row,) = csv.DictReader(
        io.StringIO(ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path)))
    )
    assert row["expires_at"] == ""


def test_partial_number_needs_prefix(tmp_path: Path) -> None:
    message = refused(siaga("block", "add", "0812", "--reason", "x", "--db", "r.db", cwd=tmp_path))
    assert "--prefix" in message
    assert "+62812" in ok(
        siaga("block", "add", "0812", "--prefix", "--reason", "x", "--db", "r.db", cwd=tmp_path)
    )


def test_allow_add_prefix_then_list(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    assert "+62254" in ok(siaga("allow", "add", "--prefix", "0254", "--db", db, cwd=tmp_path))
    (row,) = csv.DictReader(
        io.StringIO(ok(siaga("allow", "list", "--csv", "--db", db, cwd=tmp_path)))
    )
    assert (row["pattern"], row["match"], row["action"]) == ("+62254", "prefix", "pass")
    assert ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path)).splitlines()[1:] == []


# ------------------------------------------------------------------ calls, report


def test_calls_lists_the_latest_calls(simulated: Simulated) -> None:
    rows = table_rows(ok(siaga("calls", "--db", simulated.db, cwd=simulated.directory)))
    header, body = rows[0], rows[1:]
    assert header[:6] == ["id", "started_at", "line", "caller_raw", "caller", "decision"]
    assert len(body) == 50  # the default --limit
    ids = [int(row[0]) for row in body]
    assert ids == sorted(ids), "oldest first, newest at the bottom"


def test_calls_number_finds_a_caller_written_in_another_form(simulated: Simulated) -> None:
    callers = (normalise(call["caller"]).e164 for call in simulated.calls if call["caller"])
    counts = Counter(e164 for e164 in callers if e164 and e164.startswith("+628"))
    e164, _ = counts.most_common(1)[0]  # the busiest mobile number
    written = "0" + e164[3:6] + "-" + e164[6:10] + "-" + e164[10:]  # 0812-3456-7890 style
    out = ok(
        siaga(
            "calls", "--number", written, "--csv", "--limit", "1000", "--db", simulated.db,
            cwd=simulated.directory,
        )
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows
    assert {row["caller"] for row in rows} == {e164}
    assert len(rows) <= counts[e164]


def test_calls_csv_parses_with_one_row_per_call(simulated: Simulated) -> None:
    out = ok(
        siaga("calls", "--csv", "--limit", "1000", "--db", simulated.db, cwd=simulated.directory)
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(simulated.calls) - simulated.score["lost_busy"]
    assert {"id", "caller", "decision", "reason", "disposition", "end_cause"} <= set(rows[0])
    assert {row["decision"] for row in rows} <= {"pass", "challenge", "announce", "reject"}


def test_report_by_day_shows_total_valid_prank_ghost(simulated: Simulated) -> None:
    out = ok(siaga("report", "--period", "day", "--db", simulated.db, cwd=simulated.directory))
    rows = [row for row in table_rows(out) if not set(row[0]) <= {"-"}]
    header = rows[1]
    assert {"period", "calls", "valid", "prank", "ghost"} <= set(header)
    totals = dict(zip(header, rows[-1], strict=True))
    assert totals["period"] == "total"
    assert int(totals["calls"]) == len(simulated.calls) - simulated.score["lost_busy"]


def test_report_csv_parses_and_its_days_add_up_to_the_total(simulated: Simulated) -> None:
    out = ok(
        siaga("report", "--period", "day", "--csv", "--db", simulated.db, cwd=simulated.directory)
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"period", "calls", "valid", "prank", "ghost"} <= set(rows[0])
    *days, total = rows
    assert total["period"] == "total"
    assert days, "a one-day scenario spans at least one local day"
    for column in ("calls", "valid", "prank", "ghost"):
        assert sum(int(day[column]) for day in days) == int(total[column])
    connection = sqlite3.connect(simulated.db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        logged = connection.execute("select count(*) from calls").fetchone()[0]
    finally:
        connection.close()
    assert int(total["calls"]) == logged


# ------------------------------------------------------------------ config


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    config = tmp_path / "siaga.toml"
    config.write_text(
        '[site]\nname = "Serang Siaga 112"\ntimezone = "Asia/Jakarta"\n\n'
        '[[lines]]\nname = "line1"\nport = "/dev/ttyUSB0"\nfamily = "sim800"\n',
        encoding="utf-8",
    )
    out = ok(siaga("config", "check", config, cwd=tmp_path))
    assert "OK" in out
    assert "1 line(s)" in out


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[policy.throttle]\nmax_calls = 0\n", "policy.throttle.max_calls"),
        ("[policy.throttle]\nmax_call = 3\n", "policy.throttle.max_call"),
        ('[site]\ntimezone = "Asia/Serang"\n', "site.timezone"),
        ('[[lines]]\nname = "line1"\n', "lines[0].port"),
    ],
)
def test_config_check_names_the_bad_key(tmp_path: Path, toml: str, key: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    result = siaga("config", "check", config, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"  {key}: " in result.stderr
    assert str(config) in result.stderr


def test_config_check_refuses_a_file_that_is_not_toml(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[site\nname = \n", encoding="utf-8")
    result = siaga("config", "check", config, cwd=tmp_path)
    assert result.returncode == 2
    assert "not valid TOML" in result.stderr


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    for args in (("config", "check", "nope.toml"), ("calls", "--config", "nope.toml")):
        result = siaga(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "nope.toml" in result.stderr
        assert "file not found" in result.stderr


def test_calls_on_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    message = refused(siaga("calls", "--db", "missing.db", cwd=tmp_path))
    assert "missing.db" in message


# ------------------------------------------------------------------ the console script


def test_installed_siaga_script_runs_the_same_cli(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "siaga"
    if not script.exists():
        pytest.skip("the siaga console script is not installed next to this interpreter")
    result = subprocess.run(
        [str(script), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("run", "demo", "simulate", "scenario", "block", "allow", "calls", "report"):
        assert command in result.stdout


def test_calls_follow_prints_each_call_as_it_ends(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    log = CallLog(db)
    log.open()
    first = log.new_call_id()
    log.call_started(first, {"line": "line1", "caller_raw": "0811111111", "started_ts": 1e9})
    log.call_updated(first, {"ended_ts": 1e9 + 30, "end_cause": "caller_hung_up"})
    assert log.flush()
    process = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "calls", "--follow", "--db", str(db)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("id")
        assert "0811111111" in process.stdout.readline()
        second = log.new_call_id()
        log.call_started(second, {"line": "line2", "caller_raw": "0822222222", "started_ts": 2e9})
        log.call_updated(second, {"ended_ts": 2e9 + 5, "end_cause": "rejected"})
        assert log.flush()
        # readline() blocks until the follower prints; the test's timeout bounds it.
        line = process.stdout.readline()
        assert "0822222222" in line and "line2" in line
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_a_second_writer_on_the_same_call_log_is_refused_clearly(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.db")
    log.open()
    try:
        config = tmp_path / "siaga.toml"
        config.write_text('[[lines]]\nname = "line1"\nport = "/dev/null"\n')
        result = siaga("run", "--config", config, "--db", "calls.db", cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        # `run` logs at INFO (the journal), so the error is the last line, not the first.
        message = result.stderr.splitlines()[-1]
        assert message.startswith("siaga: ")
        assert "already open for writing" in message and "already running" in message
    finally:
        log.close()


def test_report_flagged_lists_the_numbers_flagged_for_a_supervisor(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.db")
    log.open()
    detail = {"caller": "+6281234567890", "level": 3, "junk_24h": 10, "until_ts": 1712604800.0}
    log.add_event("supervisor_flag", detail=detail, ts=1712000000.0)
    assert log.flush()
    log.close()
    out = ok(siaga("report", "--flagged", "--csv", "--db", "calls.db", cwd=tmp_path))
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["caller"] == "+6281234567890" and row["level"] == "3"
    assert row["flagged_at"] == "2024-04-02T02:33:20+07:00"


def _ended_call(log: CallLog, caller: str, ended_ts: float) -> None:
    call_id = log.new_call_id()
    log.call_started(call_id, {"line": "line1", "caller_raw": caller, "started_ts": ended_ts - 5})
    log.call_updated(call_id, {"ended_ts": ended_ts, "end_cause": "caller_hung_up"})


@pytest.mark.parametrize(("option", "shown"), [((), 10), (("--last", "3"), 3)])
def test_calls_follow_prints_only_the_latest_calls_then_new_ones(
    tmp_path: Path, option: tuple[str, ...], shown: int
) -> None:
    db = tmp_path / "calls.db"
    log = CallLog(db)
    log.open()
    for index in range(60):  # more than `--limit`'s 50: the history is not printed whole
        _ended_call(log, f"08110000{index:04d}", 1e9 + index * 60)
    assert log.flush()
    process = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "calls", "--follow", *option, "--db", str(db)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("id")
        first = [process.stdout.readline() for _ in range(shown)]
        assert "081100000059" in first[-1]
        assert f"08110000{60 - shown:04d}" in first[0]
        _ended_call(log, "0822222222", 2e9)
        assert log.flush()
        # The next line is the new call, not more of the history.
        assert "0822222222" in process.stdout.readline()
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _web_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


class _Terminal:
    """A pseudo-terminal standing in for the one a person runs `siaga demo` in: what the
    program writes to it is collected, line by line, until its last writer closes it."""

    def __init__(self) -> None:
        self.reader, self.writer = pty.openpty()
        self.text = b""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # EIO: every writer has closed it
            while chunk := os.read(self.reader, 4096):
                self.text += chunk

    def lines(self) -> list[str]:
        self._thread.join(10)
        return self.text.decode(errors="replace").replace("\r\n", "\n").splitlines()


def _stamped_since(lines: list[str], moment: datetime) -> list[str]:
    """The log lines (`YYYY-MM-DD HH:MM:SS,mmm ...`, local time) stamped at `moment` or later."""
    stamp = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")
    after = []
    for line in lines:
        found = stamp.match(line)
        if found and datetime.fromisoformat(f"{found[1]}.{found[2]}") >= moment:
            after.append(line)
    return after


def test_ctrl_c_stops_the_demo_cleanly_with_one_line(tmp_path: Path) -> None:
    """On a terminal, as `./dev run` shows it: the web UI's setup link is there, and
    Ctrl-C adds one line (the web UI's server stops without a word)."""
    port = _free_port()
    terminal = _Terminal()
    demo = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "demo", "--db", "demo.db", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=terminal.writer,
        start_new_session=True,  # its own process group: the terminal's Ctrl-C reaches all
    )
    os.close(terminal.writer)
    try:
        deadline = time.monotonic() + 60.0
        while not _web_answers(port):  # the web UI listens on --port
            assert demo.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        time.sleep(3.0)  # calls under way
        interrupted = datetime.now()
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
    lines = terminal.lines()
    shown = "\n".join(lines)
    assert demo.returncode == 0, shown
    # No traceback and no ERROR-level line; a modem's own "+CME ERROR" quoted in a
    # WARNING (a prompt refused because the caller had just hung up) is not one.
    error_lines = [line for line in lines if re.match(r"\S+ \S+ ERROR ", line)]
    assert "Traceback" not in shown and not error_lines, shown
    assert f"Create the first technician account: http://127.0.0.1:{port}/setup?token=" in shown
    # The one line Ctrl-C adds ends the output. A line a call logged in the moment
    # between reading the clock and the signal may come before it; no stopping part
    # (the web UI's server, a line, the call log) says a word of its own.
    after = _stamped_since(lines, interrupted)
    assert after and "demo stopped" in after[-1], shown
    stopping_words = re.compile(r"stop|shut|finished|waiting for|cancel", re.IGNORECASE)
    assert [line for line in after if stopping_words.search(line)] == after[-1:], shown
    assert not _web_answers(port)


def test_the_demo_refuses_a_busy_port_clearly_without_a_setup_link(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        message = refused(siaga("demo", "--db", "demo.db", "--port", port, cwd=tmp_path))
    assert f"port {port}" in message and "already in use" in message and "--port" in message
    assert "setup" not in message
    assert not (tmp_path / "demo.db.setup-link").exists()


DEMO_MAX_SPEED = "90"  # appliance.cli.MAX_DEMO_SPEED, as docs/cli.md gives it
DEMO_PASSWORD = "demo-supervisor-1"


def _busy_site(tmp_path: Path) -> tuple[Path, ZoneInfo]:
    """A site whose zone puts the demo's traffic (about the day before now) in the busy
    late afternoon, where its calls come seconds apart: its configuration, its zone."""
    config = tmp_path / "site.toml"
    zone = busy_timezone(datetime.now(UTC))
    config.write_text(f'[site]\ntimezone = "{zone}"\n', encoding="utf-8")
    return config, ZoneInfo(zone)


def _start(tmp_path: Path, name: str, *args: str | Path) -> subprocess.Popen[bytes]:
    """`siaga ARGS` running in `tmp_path`, its output in `<name>.out` and `<name>.err`."""
    with (tmp_path / f"{name}.out").open("wb") as out, (tmp_path / f"{name}.err").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "web_ui.cli", *map(str, args)],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=out,
            stderr=err,
        )


def _wait_for(what: str, done: Any, process: subprocess.Popen[bytes], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while not done():
        assert process.poll() is None, f"it ended ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} in {limit_s:g} s"
        time.sleep(0.2)


def _ctrl_c(process: subprocess.Popen[bytes]) -> int:
    """Stop a `siaga` process as Ctrl-C does; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _calls_of(db: Path) -> list[sqlite3.Row]:
    """Every call row of a database another process writes; none before it has a table."""
    if not db.exists():
        return []
    conn = open_readonly(db)
    try:
        return conn.execute("SELECT started_ts, ended_ts FROM calls").fetchall()
    except sqlite3.OperationalError:  # no schema yet
        return []
    finally:
        conn.close()


def _has_call_log(db: Path) -> bool:
    if not db.exists():
        return False
    conn = open_readonly(db)
    try:
        return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'calls'").fetchone())
    finally:
        conn.close()


@contextlib.contextmanager
def _supervisor(port: int) -> Iterator[httpx.Client]:
    """A client of the web UI on `port`, logged in as the demo's supervisor."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as web:
        login = web.post("/api/login", json={"username": "sup", "password": DEMO_PASSWORD})
        assert login.status_code == 200, login.text
        yield web


def _dashboard(web: httpx.Client) -> dict[str, Any]:
    answer = web.get("/api/dashboard")
    assert answer.status_code == 200, answer.text
    board: dict[str, Any] = answer.json()
    return board


def _add_supervisor(tmp_path: Path, db: Path, config: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "web_ui.cli", "user", "add", "sup", "--role", "supervisor",
         "--password-stdin", "--db", str(db), "--config", str(config)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        input=f"{DEMO_PASSWORD}\n", text=True, capture_output=True, timeout=RUN_TIMEOUT_S,
        check=True,
    )  # fmt: skip


def test_the_demo_and_its_web_ui_keep_one_time_while_it_runs_and_after(tmp_path: Path) -> None:
    """The demo plays a day in minutes, yet its web UI (which reads the machine's clock)
    sees no call or alarm in the future, today's calls as today's, and the line service
    running; once the demo stops, a web UI on its database says the service stopped
    within its usual threshold (30 s without a heartbeat, sooner when its process is
    gone), not hours later."""
    (config, zone), db, port = _busy_site(tmp_path), tmp_path / "demo.db", _free_port()
    _add_supervisor(tmp_path, db, config)
    demo = _start(tmp_path, "demo", "demo", "--db", db, "--config", config,
                  "--speed", DEMO_MAX_SPEED, "--port", port)  # fmt: skip
    try:
        _wait_for("the web UI", lambda: _web_answers(port), demo, 60.0)
        _wait_for("five calls", lambda: len(_calls_of(db)) >= 5, demo, 120.0)
        with _supervisor(port) as web:
            board = _dashboard(web)
        now = time.time()
        calls = _calls_of(db)
    finally:
        status = _ctrl_c(demo)
    ended = time.monotonic()
    assert status == 0, (tmp_path / "demo.err").read_text()
    assert board["service"]["running"], board["service"]
    assert all(alarm["ts"] <= now for alarm in board["alarms"]), board["alarms"]
    latest = max(max(row["started_ts"], row["ended_ts"] or 0.0) for row in calls)
    assert latest <= now, f"a call stamped {latest - now:.0f} s in the future"
    today = datetime.fromisoformat(board["today"]["day"]).date()
    assert today == datetime.fromtimestamp(board["now_ts"], zone).date()
    assert all(datetime.fromtimestamp(row["started_ts"], zone).date() <= today for row in calls)

    web_port = _free_port()
    server = _start(tmp_path, "web", "web", "--db", db, "--config", config, "--port", web_port)
    try:
        _wait_for("the web UI", lambda: _web_answers(web_port), server, 60.0)
        with _supervisor(web_port) as web:
            while _dashboard(web)["service"]["running"]:
                assert time.monotonic() - ended < 40.0, "the service still reads as running"
                time.sleep(1.0)
    finally:
        _ctrl_c(server)


@pytest.mark.parametrize(
    ("speed", "said"), [("91", "at most 90 times real time"), ("0.5", "at least 1")]
)
def test_the_demo_refuses_a_speed_its_virtual_modems_cannot_keep(
    tmp_path: Path, speed: str, said: str
) -> None:
    result = siaga("demo", "--speed", speed, "--no-web", "--db", "demo.db", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "argument --speed" in result.stderr and said in result.stderr, result.stderr
    assert not (tmp_path / "demo.db").exists()


def _demo_started(tmp_path: Path, name: str, *args: str | Path) -> str:
    """Run `siaga demo --no-web ARGS` until its call log is open, stop it (Ctrl-C); what
    it logged."""
    db = tmp_path / "demo.db"
    demo = _start(tmp_path, name, "demo", "--no-web", "--db", db, *args)
    try:
        _wait_for("its call log", lambda: (tmp_path / f"{name}.err").read_text().count(
            "replays the traffic") and _has_call_log(db), demo, 60.0)  # fmt: skip
    finally:
        assert _ctrl_c(demo) == 0
    return (tmp_path / f"{name}.err").read_text()


def test_a_demo_continues_its_database_unless_fresh_moves_it_aside_kept(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    added = ok(siaga("block", "add", "0812-3456-7890", "--reason", "earlier", "--db", db,
                     cwd=tmp_path))  # fmt: skip
    rule_id = added.split()[2].rstrip(":")

    said = _demo_started(tmp_path, "again")
    assert f"continuing the existing database {db}" in said and "--fresh" in said, said
    assert rule_id in ok(siaga("block", "list", "--db", db, cwd=tmp_path))

    said = _demo_started(tmp_path, "fresh", "--fresh")
    moved_to = re.search(r"the earlier demo database is kept as (\S+); a new one starts in", said)
    assert moved_to is not None and "continuing" not in said, said
    moved = Path(moved_to[1])
    assert moved.parent == tmp_path and re.fullmatch(r"demo-\d{8}-\d{6}\.db", moved.name)
    assert rule_id in ok(siaga("block", "list", "--db", moved, cwd=tmp_path))
    assert rule_id not in ok(siaga("block", "list", "--db", db, cwd=tmp_path))


def test_fresh_does_not_move_a_database_another_demo_writes(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    first = _start(tmp_path, "first", "demo", "--no-web", "--db", db)
    try:
        _wait_for("its call log", lambda: _has_call_log(db), first, 60.0)
        message = refused(siaga("demo", "--fresh", "--no-web", "--db", db, cwd=tmp_path))
    finally:
        assert _ctrl_c(first) == 0
    assert "being written by another siaga" in message and str(db) in message
    assert sorted(path.name for path in tmp_path.glob("demo-*")) == []


def test_an_identical_rule_in_force_is_refused_as_a_duplicate(tmp_path: Path) -> None:
    db = tmp_path / "rules.db"
    add = ("block", "add", "0812-3456-7890", "--expires", "24h", "--db", db)
    rule_id = ok(siaga(*add, cwd=tmp_path)).split()[2].rstrip(":")
    message = refused(siaga("block", "add", "+62 812 3456 7890", "--db", db, cwd=tmp_path))
    assert "already in force" in message and rule_id in message
    # Another action, or the same rule once the first is removed, is a new rule.
    ok(siaga(*add, "--action", "reject", cwd=tmp_path))
    ok(siaga("block", "remove", rule_id, "--db", db, cwd=tmp_path))
    ok(siaga(*add, cwd=tmp_path))
    listing = list(
        csv.DictReader(io.StringIO(ok(siaga("block", "list", "--csv", "--db", db, cwd=tmp_path))))
    )
    assert sorted(row["action"] for row in listing) == ["challenge", "reject"]


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["report"], 0),
        (["-v", "report"], 1),
        (["report", "-v"], 1),
        (["report", "-vv"], 2),
        (["block", "add", "0812345678", "-v"], 1),
        (["user", "list", "--verbose"], 1),
    ],
)
def test_verbose_is_taken_before_or_after_the_command(argv: list[str], verbose: int) -> None:
    from appliance.cli import build_parser
    from web_ui.cli import add_web_commands

    assert build_parser((add_web_commands,)).parse_args(argv).verbose == verbose


def test_the_installed_console_script_has_the_web_uis_commands_too(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "siaga"  # what `pip install` made of pyproject
    result = subprocess.run(
        [str(script), "user", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "passwd" in result.stdout
    assert "screen calls on the modems" in ok(siaga("--help", cwd=tmp_path))


def test_backup_copies_the_database_while_the_service_writes_and_never_overwrites(
    tmp_path: Path,
) -> None:
    db = tmp_path / "calls.db"
    log = CallLog(db)  # the running service's writer, with the file in WAL mode
    log.open()
    try:
        for offset in range(3):
            call_id = log.new_call_id()
            log.call_started(
                call_id, {"line": "line1", "caller_raw": "0811111111", "started_ts": 1e9 + offset}
            )
        assert log.flush()
        out = tmp_path / "backups"
        out.mkdir()
        printed = ok(siaga("backup", "--db", db, "--out", out, cwd=tmp_path))
        (copy,) = out.iterdir()
        assert re.fullmatch(r"siaga-backup-\d{8}-\d{4}\.db", copy.name)
        assert printed.startswith(f"{copy}: ") and "3 calls" in printed
        conn = sqlite3.connect(copy)
        try:
            assert conn.execute("SELECT count(*) FROM calls").fetchone() == (3,)
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
        finally:
            conn.close()
        assert sorted(path.name for path in out.iterdir()) == [copy.name]  # no -wal, no .part

        before = copy.read_bytes()
        assert "exists" in refused(siaga("backup", "--db", db, "--out", copy, cwd=tmp_path))
        assert copy.read_bytes() == before
    finally:
        log.close()


def test_backup_of_a_file_that_is_no_siaga_database_is_refused(tmp_path: Path) -> None:
    stranger = tmp_path / "other.db"
    sqlite3.connect(stranger).execute("CREATE TABLE t (a)").connection.close()
    message = refused(siaga("backup", "--db", stranger, "--out", tmp_path / "b.db", cwd=tmp_path))
    assert "not a Siaga database" in message
    assert not (tmp_path / "b.db").exists()
    assert "no call log" in refused(siaga("backup", "--db", tmp_path / "none.db", cwd=tmp_path))


def test_stopping_cancels_tasks_that_stopping_other_tasks_started() -> None:
    """A line's last call reports its end from a task created as the line stops: the
    clean stop awaits that one too, so nothing is left pending when the loop closes."""
    from appliance.cli import _cancel_leftover_tasks

    loop = asyncio.new_event_loop()
    started: list[asyncio.Task[None]] = []

    async def report_end() -> None:
        await asyncio.sleep(3600)

    async def line() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            started.append(asyncio.get_running_loop().create_task(report_end()))

    try:
        running = loop.create_task(line())
        loop.run_until_complete(asyncio.sleep(0))
        _cancel_leftover_tasks(loop)
        assert running.done() and started and started[0].done()
        assert not [task for task in asyncio.all_tasks(loop) if not task.done()]
    finally:
        loop.close()
