"""Settings changed in the web UI reach the running line service, and survive restarts.

The web UI's part is played by a second SQLite connection writing the `settings` table
exactly as the web process does (migration 0011).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from appliance.config import Config, ConfigError
from appliance.model import LineState
from appliance.settings import effective_config
from tests.appliance.conftest import Bench, open_bench, run_virtual


def store(db: Path, section: str, value: object, by: str = "tek") -> None:
    conn = sqlite3.connect(db, timeout=5.0)
    try:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO settings (section, value, updated_ts, updated_by)"
                " VALUES (?, ?, 0, ?)",
                (section, json.dumps(value), by),
            )
    finally:
        conn.close()


def test_overrides_merge_over_the_file_and_are_validated() -> None:
    base = Config.model_validate({"policy": {"throttle": {"max_calls": 5}}})
    merged = effective_config(base, {"policy": {"throttle": {"window_s": 300.0}}})
    assert merged.policy.throttle.max_calls == 5  # kept from the file
    assert merged.policy.throttle.window_s == 300.0
    with pytest.raises(ConfigError, match=r"policy\.throttle\.max_calls"):
        effective_config(base, {"policy": {"throttle": {"max_calls": 0}}})
    with pytest.raises(ConfigError, match="lines: cannot be changed while running"):
        effective_config(base, {"lines": []})


async def challenge_with_key(bench: Bench, key: str, number: str) -> str:
    """A new caller (no good history: challenged) presses `key`; the challenge's result."""
    virtual = bench.ring(number)
    await bench.wait_state(LineState.CHALLENGING)
    await bench.sleep(1.0)
    bench.modem.caller_presses(key)
    await bench.wait_until(
        lambda: (
            bench.line.state in (LineState.OPERATOR_RINGING, LineState.IDLE)
            and bench.line.call is not None
            and bench.line.call.challenge_result is not None
        ),
        "the challenge to end",
        timeout_s=60.0,
    )
    assert bench.line.call is not None and bench.line.call.challenge_result is not None
    result = bench.line.call.challenge_result.value
    bench.modem.caller_hangs_up(virtual)
    await bench.wait_idle_after(virtual)
    return result


def test_a_new_challenge_key_is_in_force_for_the_next_call_within_seconds(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600", rule_poll_s=1.0) as bench:
            assert await challenge_with_key(bench, "5", "081200000001") == "passed"
            store(bench.db_path, "challenge", {"key": "7"})
            await bench.wait_until(
                lambda: bench.service.config.challenge.key == "7", "the new key", timeout_s=3.0
            )
            assert await challenge_with_key(bench, "5", "081200000002") != "passed"
            assert await challenge_with_key(bench, "7", "081200000003") == "passed"
            changes = bench.events("config_change")
            assert changes[-1]["detail"] and '"key": "7"' in changes[-1]["detail"]

    run_virtual(scenario)


def test_settings_survive_a_restart_and_bad_ones_are_refused(tmp_path: Path) -> None:
    async def first() -> None:
        async with open_bench(tmp_path, "ec25") as bench:
            store(bench.db_path, "policy", {"throttle": {"max_calls": 9}})

    run_virtual(first)

    async def second() -> None:
        async with open_bench(tmp_path, "ec25") as bench:
            assert bench.service.config.policy.throttle.max_calls == 9  # applied at start
            assert bench.service.policy.config.throttle.max_calls == 9  # the policy's too
            store(bench.db_path, "policy", {"throttle": {"max_calls": -1}})
            assert not bench.service.reload_settings()  # refused: the old ones stay
            assert bench.service.config.policy.throttle.max_calls == 9

    run_virtual(second)
