"""Process faults: `siaga run` killed with SIGKILL mid-burst, and the web process down.

test_durability.py kills `siaga demo` and closes the log with `CallLog.open()` itself;
here the production command `siaga run` is killed during a burst on two lines and is
*restarted*, as systemd would: the restarted service marks the calls left in flight
interrupted, keeps every call that ended before the kill, and screens the next call.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.faults.conftest import (
    RunCentre,
    SiagaProcess,
    free_port,
    query,
    record_recovery,
    wait_real,
)

pytestmark = pytest.mark.timeout(120)

BLOCKED = "+6282222222222"


def test_kill_9_of_siaga_run_mid_burst_keeps_every_ended_call_and_restarts_clean(
    tmp_path: Path,
) -> None:
    centre = RunCentre(tmp_path, lines=2)
    stop_burst = threading.Event()

    def burst() -> None:  # blocked callers, one after the other, as fast as line1 frees
        while not stop_burst.is_set():
            try:
                call = centre.ring("082222222222")
            except Exception:  # the modem refuses while a call is still up: try again
                time.sleep(0.01)
                continue
            deadline = time.monotonic() + 10.0
            while call.live and not stop_burst.is_set() and time.monotonic() < deadline:
                time.sleep(0.002)

    try:
        centre.block(BLOCKED)
        centre.start()
        # line2 holds a challenged caller who is still on the line when the process dies.
        challenged = centre.ring("081234567890", "line2")
        thread2 = centre.modems["line2"]
        wait_real(lambda: thread2.call(lambda: challenged.answered_at is not None), "challenge")
        burster = threading.Thread(target=burst, daemon=True)
        burster.start()
        # Kill while the burst goes on: rows are being written at that moment.
        snapshot = wait_real(
            lambda: (r := centre.calls()) and sum(1 for x in r if x["ended_at"]) >= 8 and r,
            "eight ended rows",
        )
        assert centre.service is not None
        centre.service.kill()
        killed = time.monotonic()
        stop_burst.set()
        burster.join(15)
        ended_before = {row["id"]: row["ended_at"] for row in snapshot if row["ended_at"]}
        for thread in centre.modems.values():  # callers still on the line give up
            thread.call(lambda t=thread: [t.modem.caller_hangs_up(c) for c in t.modem.live_calls])

        centre.start()  # systemd's Restart=
        restarted_s = time.monotonic() - killed
        first_id = max(row["id"] for row in centre.calls())
        after = centre.ring("082222222222")
        wait_real(lambda: not after.live, "the first call after the restart to be released")
        rows = wait_real(
            lambda: (r := centre.calls()) and r[-1]["id"] > first_id and r[-1]["ended_at"] and r,
            "the first call after the restart to be logged",
        )
    finally:
        stop_burst.set()
        centre.close()

    by_id = {row["id"]: row for row in rows}
    for call_id, ended_at in ended_before.items():  # every call ended before the kill
        assert by_id[call_id]["ended_at"] == ended_at and by_id[call_id]["interrupted"] == 0
    interrupted = [row["id"] for row in rows if row["interrupted"]]
    assert all(by_id[i]["end_cause"] == "interrupted" for i in interrupted)
    assert all(row["ended_at"] is not None for row in rows)  # none left open
    in_flight_at_kill = [row["id"] for row in snapshot if not row["ended_at"]]
    # In flight at the snapshot: ended in the milliseconds before the kill, or interrupted.
    assert all(by_id[i]["ended_at"] is not None for i in in_flight_at_kill)
    assert any(by_id[i]["caller"] == "+6281234567890" for i in interrupted)  # line2's call
    (event,) = centre.events("interrupted_calls")
    assert f'"count": {len(interrupted)}' in event["detail"]
    assert rows[-1]["reason"] == "blocklist" and rows[-1]["interrupted"] == 0
    assert restarted_s < 30.0
    record_recovery("kill -9 of siaga run: restart to every line up", restarted_s, "real")


def http_ok(url: str) -> bool:
    """True when `url` answers at all (any HTTP status below 500)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def test_web_process_down_leaves_screening_alone_and_a_queued_disposition_applies_later(
    tmp_path: Path, processes: list[SiagaProcess]
) -> None:
    centre = RunCentre(tmp_path)
    try:
        centre.start()
        port = free_port()
        web = SiagaProcess(
            ["web", "--db", str(centre.db), "--port", str(port)], tmp_path / "web.log"
        )
        processes.append(web)
        url = f"http://127.0.0.1:{port}/login"
        wait_real(lambda: http_ok(url) or web.process.poll() is not None, "the web UI")
        assert web.process.poll() is None, web.output()
        web.kill()  # the web process dies (OOM, a bug): the line service must not notice

        call = centre.ring("081234567890")
        thread = centre.modems["line1"]
        wait_real(lambda: thread.call(lambda: call.answered_at is not None), "the challenge")
        centre.hang_up(call)
        (row,) = wait_real(lambda: [r for r in centre.calls() if r["ended_at"]], "the row")
        assert (row["decision"], row["reason"]) == ("challenge", "no_history")

        # The service goes down too; an operator's verdict waits in the database...
        centre.stop()
        conn = sqlite3.connect(centre.db, timeout=10)
        with conn:
            conn.execute(
                "INSERT INTO desk_requests (kind, line, call_id, disposition, operator,"
                " requested_ts) VALUES ('disposition', 'line1', ?, 'prank', 'siti', ?)",
                (row["id"], time.time()),
            )
        conn.close()
        # ...and is applied when the service comes back, with no web process running.
        started = time.monotonic()
        centre.start()
        wait_real(
            lambda: (
                query(centre.db, "SELECT disposition FROM calls WHERE id = ?", row["id"])[0][
                    "disposition"
                ]
                == "prank"
            ),
            "the queued disposition to be applied",
        )
        applied_s = time.monotonic() - started
        (request,) = query(centre.db, "SELECT result FROM desk_requests")
        assert request["result"] == "ok"

        web = SiagaProcess(
            ["web", "--db", str(centre.db), "--port", str(port)], tmp_path / "web.log"
        )
        processes.append(web)
        wait_real(lambda: http_ok(url), "the web UI to come back")
    finally:
        centre.close()
    assert applied_s < 30.0
    record_recovery("service restart: queued disposition applied", applied_s, "real")
