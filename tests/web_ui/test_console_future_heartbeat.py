"""A line service heartbeat stamped in the future is not taken on trust, by the console or
the dashboard.

The box's clock stepped back (or a demo's accelerated clock wrote the heartbeat), so the
service's last heartbeat lies ahead of the web process's clock. Before, its age was
clamped to 0 and the console said "running" until the clock caught up, long after the
service had died. Now such a heartbeat is suspect: whether the recorded process still
exists decides. The tests write the `service_state` row as the line service does, on a
web UI of their own, and read the console's snapshot over HTTP as the page does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from appliance.store.status import pid_namespace
from tests.web_ui.conftest import LiveServer, serve
from tests.web_ui.line_service import database
from tests.web_ui.own_server import logged_in
from web_ui.users.service import Role

AN_HOUR_AHEAD_S = 3600.0


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A web UI on a database whose `service_state` row only this module writes."""
    with serve(tmp_path_factory.mktemp("future-heartbeat") / "siaga.db") as server:
        yield server


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped) on this machine."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def set_heartbeat(
    server: LiveServer, heartbeat_ts: float, pid: int, pid_namespace: str | None = None
) -> None:
    """The line service's row, as it writes it, with this heartbeat and process id (and
    the PID namespace it ran in, which a service before that column did not write)."""
    now = time.time()
    with database(server) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO service_state"
            " (id, pid, pid_namespace, started_ts, heartbeat_ts, updated_ts)"
            " VALUES (1, ?, ?, ?, ?, ?)",
            [pid, pid_namespace, now - 600, heartbeat_ts, now],
        )


def console_says_running(server: LiveServer) -> bool:
    """What the operator's console is told about the line service."""
    operator = logged_in(server, Role.OPERATOR, language="en")
    answer = operator.client.get("/api/console")
    assert answer.status_code == 200, answer.text
    service = answer.json()["service"]
    assert service["known"] is True
    return bool(service["running"])


def dashboard_says_running(server: LiveServer) -> bool:
    """What the supervisor's dashboard (and the restore's check) is told."""
    supervisor = logged_in(server, Role.SUPERVISOR, language="en")
    answer = supervisor.client.get("/api/dashboard")
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["service"]["running"])


def test_a_future_heartbeat_from_a_dead_process_is_not_running(own: LiveServer) -> None:
    set_heartbeat(own, time.time() + AN_HOUR_AHEAD_S, dead_pid())
    assert console_says_running(own) is False
    assert dashboard_says_running(own) is False


def test_a_future_heartbeat_from_a_living_process_is_running(own: LiveServer) -> None:
    set_heartbeat(own, time.time() + AN_HOUR_AHEAD_S, os.getpid())
    assert console_says_running(own) is True
    assert dashboard_says_running(own) is True


def test_a_heartbeat_a_moment_ahead_is_fresh_as_before(own: LiveServer) -> None:
    # Clocks a second apart are no sign of trouble: a fresh heartbeat, whatever the PID says
    # (a service in another PID namespace cannot be seen from here).
    set_heartbeat(own, time.time() + 1.0, dead_pid())
    assert console_says_running(own) is True


def test_a_fresh_heartbeat_from_a_dead_process_of_this_namespace_is_stopped_at_once(
    own: LiveServer,
) -> None:
    """A service killed a second after its heartbeat: the web process sees the same PID
    namespace, so the vanished process decides, not the heartbeat's age."""
    set_heartbeat(own, time.time() - 1.0, dead_pid(), pid_namespace())
    assert console_says_running(own) is False
    assert dashboard_says_running(own) is False


def test_a_fresh_heartbeat_from_another_namespace_is_trusted_while_fresh(
    own: LiveServer,
) -> None:
    """A service whose process the web process cannot see (another PID namespace, or a
    service too old to say): its fresh heartbeat is what there is to go by."""
    for namespace in ("pid:[1]", None):
        set_heartbeat(own, time.time() - 1.0, dead_pid(), namespace)
        assert console_says_running(own) is True, namespace
        assert dashboard_says_running(own) is True, namespace
