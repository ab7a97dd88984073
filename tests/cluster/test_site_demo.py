"""`siaga site-demo`: the multi-appliance demo, as a new user starts it.

One command starts a NATS server, two demo appliances with their sharing agents, the hub
and its web UI; within a short run the hub holds both boxes' calls, each box holds the
other's verdicts, the web UI answers, and a `kill` stops every process it started.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cluster.conftest import free_port, rows, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]


def rows_or_none(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Rows of `sql`, or none while the process has not made its database yet."""
    try:
        return rows(db, sql, *params) if db.exists() else []
    except sqlite3.OperationalError:
        return []


def hub_calls_by_box(hub: Path) -> dict[object, object]:
    return dict(rows_or_none(hub, "SELECT appliance, count(*) FROM calls GROUP BY appliance"))


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_one_command_runs_a_site_and_a_kill_stops_all_of_it(tmp_path: Path) -> None:
    folder, port = tmp_path / "site", free_port()
    command = [sys.executable, "-m", "web_ui.cli", "site-demo", "--folder", str(folder),
               "--port", str(port), "--speed", "60", "--lines", "2"]  # fmt: skip
    log = (tmp_path / "site-demo.log").open("wb")
    demo = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(children_of(demo.pid)) == 7, "seven processes", timeout_s=30)
        children = children_of(demo.pid)
        hub = folder / "hub.db"
        wait_for(
            lambda: set(hub_calls_by_box(hub)) == {"box1", "box2"},
            "both boxes' calls at the hub",
            timeout_s=240,
        )
        for box, other in (("box1", "box2"), ("box2", "box1")):
            wait_for(
                lambda box=box, other=other: (
                    rows(
                        folder / f"{box}.db",
                        "SELECT count(*) FROM peer_facts WHERE origin = ?",
                        other,
                    )[0][0]
                    > 0
                ),
                f"{other}'s verdicts on {box}",
                timeout_s=240,
            )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as page:
            assert page.status == 200
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0
        for pid in children:
            assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid), f"process {pid} left"
    finally:
        if demo.poll() is None:
            demo.kill()
        log.close()
    text = (tmp_path / "site-demo.log").read_text(errors="replace")
    assert "site demo stopped; databases and logs are in" in text, text[-2000:]


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
