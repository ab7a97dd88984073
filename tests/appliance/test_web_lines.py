"""The lines page's lines on the line service's side: which set is in force, fail-open.

`siaga run` as a real process on virtual modems, on a real SQLite file that a second
connection writes as the web UI does (`web_lines`, migration 0020): it starts on the
page's lines when the file has none, keeps its lines when a stored row is bad, and
refuses to start only when neither the file nor the database has a line.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.config import LineConfig
from appliance.store import CallLog
from appliance.web_lines import has_stored_lines, lines_at_start, read_stored
from tests.appliance.test_run import ModemThread, siaga, wait_for
from tests.faults.conftest import SiagaProcess, query

CALLER = "+6281234567890"


def store_lines(db: Path, *lines: dict[str, Any] | str) -> None:
    """Replace the page's lines, as the web UI writes them (a str: a raw `config`)."""
    conn = sqlite3.connect(db, timeout=10.0)
    try:
        with conn:
            conn.execute("DELETE FROM web_lines")
            for position, line in enumerate(lines, 1):
                text = line if isinstance(line, str) else json.dumps(line)
                name = json.loads(text).get("name", f"bad{position}") if text[:1] == "{" else "x"
                conn.execute(
                    "INSERT INTO web_lines (name, position, config, updated_ts, updated_by)"
                    " VALUES (?, ?, ?, ?, 'teknisi1')",
                    [name, position, text, time.time()],
                )
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A migrated, empty call log."""
    path = tmp_path / "calls.db"
    call_log = CallLog(path)
    call_log.open()
    call_log.close()
    return path


@pytest.fixture
def modems() -> Iterator[list[ModemThread]]:
    started = [ModemThread("sim800"), ModemThread("sim800")]
    yield started
    for modem in started:
        modem.close()


def events(db: Path, kind: str) -> list[sqlite3.Row]:
    return query(db, "SELECT * FROM events WHERE kind = ? ORDER BY id", kind)


def line_states(db: Path) -> dict[str, str]:
    return {row["line"]: row["state"] for row in query(db, "SELECT * FROM line_status")}


# ------------------------------------------------------------------ which set is in force

FILE_LINE = LineConfig(name="line1", port="/dev/siaga/line1")


def test_the_database_wins_while_it_has_lines_else_the_file(db: Path) -> None:
    assert lines_at_start([FILE_LINE], db).source == "file" and not has_stored_lines(db)
    store_lines(db, {"name": "web1", "port": "/dev/siaga/line2", "family": "ec25"})
    chosen = lines_at_start([FILE_LINE], db)
    assert chosen.source == "database" and [line.name for line in chosen.lines] == ["web1"]
    assert has_stored_lines(db) and not has_stored_lines(db.with_name("none.db"))


@pytest.mark.parametrize(
    "bad",
    [
        '{"name": "web1", "port": "/dev/a", "family": "nokia"}',
        '{"name": "web1"}',
        "not json",
        '{"name": "web1", "port": "/dev/a", "colour": "red"}',
    ],
)
def test_a_bad_row_keeps_the_files_lines_and_is_logged(
    db: Path, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    store_lines(db, {"name": "ok1", "port": "/dev/b"}, bad)
    with caplog.at_level(logging.ERROR):
        chosen = lines_at_start([FILE_LINE], db)
    assert chosen.source == "file" and chosen.lines == (FILE_LINE,)
    assert "ALARM lines from the web UI refused" in caplog.text


def test_two_rows_on_one_port_are_refused_as_the_file_would_be(db: Path) -> None:
    store_lines(db, {"name": "a", "port": "/dev/x"}, {"name": "b", "port": "/dev/x"})
    conn = sqlite3.connect(db)
    try:
        stored = read_stored(conn)
    finally:
        conn.close()
    assert stored.problems == ("two lines use the same port: /dev/x",)


# ------------------------------------------------------------------ siaga run


def test_run_refuses_only_when_neither_the_file_nor_the_database_has_lines(
    db: Path, tmp_path: Path
) -> None:
    config = tmp_path / "siaga.toml"
    config.write_text(f'[database]\npath = "{db}"\n', encoding="utf-8")
    refused = siaga("run", "--config", str(config))
    assert refused.returncode == 2 and "no [[lines]]" in refused.stderr
    assert "lines page none" in refused.stderr


def test_run_starts_on_the_pages_lines_and_keeps_them_when_a_row_goes_bad(
    db: Path, tmp_path: Path, modems: list[ModemThread]
) -> None:
    config = tmp_path / "siaga.toml"
    config.write_text(f'[database]\npath = "{db}"\n', encoding="utf-8")  # no [[lines]]
    store_lines(db, {"name": "web1", "port": modems[0].modem.port, "family": "sim800"})
    service = SiagaProcess(["-v", "run", "--config", str(config)], tmp_path / "run.log")
    try:
        wait_for(lambda: line_states(db).get("web1") == "idle", "the page's line to come up")
        assert "siaga running 1 line(s)" in service.output()

        # A call on it is screened.
        call = modems[0].call(lambda: modems[0].modem.incoming_call(CALLER))
        wait_for(lambda: line_states(db).get("web1") not in ("idle", None), "the call")
        modems[0].call(lambda: modems[0].modem.caller_hangs_up(call))
        wait_for(lambda: query(db, "SELECT * FROM calls WHERE ended_ts IS NOT NULL"), "its row")

        # A bad row: logged and refused, the line in force stays up.
        store_lines(db, '{"name": "web1", "port": ""}')
        wait_for(lambda: events(db, "lines_refused"), "the refusal")
        time.sleep(1.5)  # a few polls
        assert line_states(db).get("web1") == "idle"
        assert "ALARM lines from the web UI refused" in service.output()

        # Fixed: the second modem's line is added, the first keeps running.
        store_lines(
            db,
            {"name": "web1", "port": modems[0].modem.port, "family": "sim800"},
            {"name": "web2", "port": modems[1].modem.port, "family": "sim800"},
        )
        wait_for(lambda: line_states(db).get("web2") == "idle", "the added line")
        assert not events(db, "line_restarting") and line_states(db)["web1"] == "idle"

        # Removed while it holds a call: it stays until the caller hangs up.
        held = modems[1].call(lambda: modems[1].modem.incoming_call(CALLER))
        wait_for(lambda: line_states(db).get("web2") not in ("idle", None), "the second call")
        store_lines(db, {"name": "web1", "port": modems[0].modem.port, "family": "sim800"})
        wait_for(lambda: json.loads(events(db, "lines_change")[-1]["detail"])["waiting"], "wait")
        assert line_states(db).get("web2") not in ("idle", None) and held.release is None
        modems[1].call(lambda: modems[1].modem.caller_hangs_up(held))
        wait_for(lambda: "web2" not in line_states(db), "the removed line to go")
        [ended] = query(db, "SELECT * FROM calls WHERE line = 'web2' ORDER BY id DESC LIMIT 1")
        assert ended["end_cause"] == "caller_hung_up" and line_states(db)["web1"] == "idle"
    finally:
        service.stop()
    assert service.process.returncode == 0, service.output()
