"""Property tests (hypothesis) for the files people write: configuration and scenarios.

Whatever a technician types into the TOML file or a tool writes into a scenario, loading
either gives a result or one error of its own kind naming the problems, never a crash
with a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.config import Config, ConfigError, parse_config
from appliance.scenario import ScenarioError, load_scenario

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
# Real key names as well as random ones, so the values reach the validators.
KEYS = st.sampled_from(
    [
        "site", "name", "region", "timezone", "language", "recordings_dir", "database", "path",
        "lines", "port", "family", "voice_port", "listen", "desk", "deflect_to", "policy",
        "throttle", "max_calls", "window_s", "abuse", "ladder", "count", "within_s",
        "restrict_s", "challenge", "key", "attempts", "unverified_without_evidence",
        "reported_hold_s", "prompts", "id", "en", "challenge_file", "web", "host",
    ]
) | st.text(max_size=12)  # fmt: skip
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)


@pytest.mark.slow  # 600 generated configuration documents
@given(st.dictionaries(KEYS, DOCUMENTS, max_size=6))
@settings(max_examples=600, deadline=None)
def test_any_configuration_document_loads_or_names_its_problems(data: dict[str, Any]) -> None:
    try:
        config = parse_config(data)
    except ConfigError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
    else:
        assert isinstance(config, Config)


ANSWERS = st.fixed_dictionaries(
    {"press": st.one_of(st.none(), st.sampled_from(["?", "5", "55#", ""]), st.text(max_size=4))},
    optional={
        "after_s": st.one_of(st.floats(), st.integers(), st.text(max_size=3)),
        "sound": st.one_of(st.sampled_from(["voice", "noise", "silence"]), st.text(max_size=5)),
    },
)
CALLS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=6), st.integers()),
        "at": st.one_of(
            st.just("2024-04-03T19:02:11+07:00"), st.just("2024-04-03T19:02:11"), st.text()
        ),
        "caller": st.one_of(st.none(), st.text(max_size=16), st.integers()),
        "answer": st.one_of(ANSWERS, SCALARS),
        "hangup_after_s": st.one_of(st.floats(), st.integers(-5, 500)),
        "talk_s": st.one_of(st.floats(), st.integers(-5, 500)),
        "disposition": st.sampled_from(["genuine:fire", "prank", "ghost", "bogus", ""]),
        "truth": st.sampled_from(["genuine", "prank", "ghost", "maybe"]),
    },
)
LINES = st.lists(st.one_of(CALLS.map(json.dumps), st.text(max_size=40), st.just("")), max_size=8)


@given(LINES)
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_scenario_file_loads_or_names_each_bad_line(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "scenario.jsonl"
    one_per_line = [" ".join(line.splitlines()) for line in lines]  # no breaks inside a line
    path.write_text("\n".join(one_per_line), encoding="utf-8")
    try:
        calls = load_scenario(path)
    except ScenarioError as error:
        assert error.problems
        numbers = [number for number, _ in error.problems]
        assert all(1 <= number <= len(lines) for number in numbers)
    else:
        assert len(calls) <= len(lines)
