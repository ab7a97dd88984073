"""The operator's console under attack: `bench/bench_web_load.py`, short, as a test.

The real `siaga web` as a subprocess on loopback; an operator logged in before the attack
polls `/api/console` and `/console` every 100 ms while 150 clients, each from its own
address, guess passwords as fast as they are answered and 1,000 connections stall in
their headers (fewer if the hard descriptor limit is low), for long enough that the
server's header timeout closes them. Asserted is behaviour, not a latency: every poll of
the operator is answered 200, and most of them are answered at all (before the login
gate, the console got 1 answer in 8 s); no login is answered with anything but 401 or
429, none fails; the server closes the stalled connections itself, within its header
timeout; it logs no error, and its memory stays bounded (a flood of logins for unknown
names once made dozens of 64 MiB hashes at once, 2.3 GB).
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web_ui.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))

import bench_web_load as bench

ATTACK_S = 13.0  # longer than the header timeout (10 s), so stalled ones are closed
HEADER_TIMEOUT_S = 10.0
SLACK_S = 3.0
MAX_HWM_MB = 1000.0


def stalled_connections() -> int:
    """1,000, or what the hard descriptor limit leaves room for."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1000 if hard == resource.RLIM_INFINITY else max(100, min(1000, hard - 300))


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bench.WebProcess]:
    db_path = tmp_path_factory.mktemp("load") / "load.db"
    bench.raise_nofile()
    bench.prepare_database(db_path)
    with bench.web_server(db_path) as served:
        yield served


@pytest.fixture(scope="module")
def attacked(web: bench.WebProcess) -> dict[str, Any]:
    load = bench.Load(seconds=ATTACK_S, logins=150, stalled=stalled_connections())
    return bench.run_phase(web, load, attacked=True)


def test_the_operator_is_answered_every_time(attacked: dict[str, Any]) -> None:
    operator = attacked["operator"]
    scheduled = ATTACK_S / bench.POLL_S
    assert operator["errors"] == 0, operator
    assert operator["requests"] >= scheduled / 4, operator


def test_logins_are_refused_never_failed(attacked: dict[str, Any]) -> None:
    logins = attacked["attack"]["logins"]
    assert logins, attacked["attack"]
    assert set(logins) <= {"401", "429"}, logins


def test_stalled_connections_are_closed_by_the_server(attacked: dict[str, Any]) -> None:
    attack = attacked["attack"]
    assert attack["stalled_connect_failures"] == 0, attack
    assert attack["stalled_closed_by_server"] >= stalled_connections() * 0.9, attack
    assert attack["stalled_life_max_s"] < HEADER_TIMEOUT_S + SLACK_S, attack


def test_the_server_stays_up_bounded_and_quiet(
    web: bench.WebProcess, attacked: dict[str, Any]
) -> None:
    assert web.process.poll() is None
    assert attacked["web"]["vmhwm_mb"] < MAX_HWM_MB, attacked["web"]
    assert bench.server_errors(web.log()) == []


def test_the_descriptor_limit_was_raised(web: bench.WebProcess) -> None:
    limit = bench.child_nofile(web.process.pid)
    assert limit > stalled_connections() + 200, limit
