"""Scenario files (docs/contracts.md) and the synthetic Serang-like traffic generator."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from appliance.model import is_genuine
from appliance.month import Population, generate, generate_with_populations, summarise
from appliance.report import report
from appliance.scenario import (
    CallerAction,
    ScenarioCall,
    ScenarioError,
    dump_scenario,
    from_json,
    load_scenario,
    subscriber_key,
    to_json,
)
from appliance.simulate import SimulationOptions, run_simulation
from appliance.store import open_readonly

WIB = timezone(timedelta(hours=7))
CONTRACT_EXAMPLE = {
    "id": "c-00017",
    "at": "2024-04-03T19:02:11+07:00",
    "caller": "081234567890",
    "answer": {"press": "?", "after_s": 3.0},
    "hangup_after_s": 60,
    "talk_s": 45,
    "disposition": "genuine:fire",
    "truth": "genuine",
}


def _line(**changes: object) -> str:
    obj = dict(CONTRACT_EXAMPLE) | changes
    return json.dumps(obj)


# ------------------------------------------------------------------------ file format


def test_contract_example_round_trips_exactly() -> None:
    call = from_json(CONTRACT_EXAMPLE)
    assert call.at == datetime(2024, 4, 3, 19, 2, 11, tzinfo=WIB)
    assert call.answer == CallerAction("?", 3.0)
    assert to_json(call) == CONTRACT_EXAMPLE
    assert json.dumps(to_json(call)) == json.dumps(CONTRACT_EXAMPLE)


def test_fractional_seconds_and_withheld_caller_survive_the_round_trip(tmp_path: Path) -> None:
    call = from_json(CONTRACT_EXAMPLE | {"caller": None, "hangup_after_s": 7.5, "talk_s": 0})
    path = tmp_path / "one.jsonl"
    dump_scenario([call], path)
    assert load_scenario(path) == [call]
    assert json.loads(path.read_text(encoding="utf-8"))["hangup_after_s"] == 7.5


def test_generated_scenario_round_trips_through_a_file(tmp_path: Path) -> None:
    calls = generate(days=2, seed=5)
    path = tmp_path / "two-days.jsonl"
    dump_scenario(calls, path)
    assert load_scenario(path) == calls
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(calls)


def test_load_sorts_by_time_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    later = _line(id="b", at="2024-04-03T20:00:00+07:00")
    earlier = _line(id="a", at="2024-04-03T12:00:00Z")  # 19:00 WIB
    path.write_text(f"{later}\n\n   \n{earlier}\n", encoding="utf-8")
    assert [call.id for call in load_scenario(path)] == ["a", "b"]


def test_every_bad_line_is_named_and_nothing_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        _line(id="ok-1"),
        "{not json",
        json.dumps({k: v for k, v in CONTRACT_EXAMPLE.items() if k != "truth"} | {"id": "x"}),
        _line(id="naive", at="2024-04-03T19:02:11"),
        _line(id="press", answer={"press": "x5", "after_s": 1.0}),
        "",
        _line(id="ok-1"),
        _line(id="neg", hangup_after_s=-1),
        _line(id="mismatch", truth="prank"),
        _line(id="kind", disposition="genuine:Alien Attack"),  # any kind, but as a slug
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert [line for line, _ in error.problems] == [2, 3, 4, 5, 7, 8, 9, 10]
    message = str(error)
    assert f"{path}:2: not JSON" in message
    assert f"{path}:3: missing field 'truth'" in message
    assert f"{path}:4: at has no UTC offset" in message
    assert f"{path}:5: answer.press" in message
    assert f"{path}:7: duplicate id 'ok-1' (first on line 1)" in message
    assert "hangup_after_s" in message and "genuine:Alien Attack" in message


def test_answer_press_accepts_prompt_key_dtmf_string_or_silence() -> None:
    assert CallerAction("?", 1).press == "?"
    assert CallerAction("55", 1).press == "55"
    assert CallerAction("*#0", 1).press == "*#0"
    assert CallerAction(None, 0).press is None
    for bad in ("", "5?", "abc", 5):
        with pytest.raises(ValueError):
            CallerAction(bad, 1)  # type: ignore[arg-type]


def test_a_call_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ScenarioCall(
            "c", datetime(2024, 4, 1), None, CallerAction(None, 0), 10, 0, "ghost", "ghost"
        )


def test_subscriber_key_joins_the_forms_a_modem_delivers() -> None:
    assert subscriber_key("081234567890") == "081234567890"
    assert subscriber_key("6281234567890") == "081234567890"
    assert subscriber_key("+62 812-3456-7890") == "081234567890"
    assert subscriber_key(None) is None
    assert subscriber_key("") is None


# ------------------------------------------------------------------------ generator


def test_same_seed_same_traffic_other_seed_other_traffic() -> None:
    assert generate(days=3, seed=7) == generate(days=3, seed=7)
    assert generate(days=3, seed=7) != generate(days=3, seed=8)


def test_generator_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        generate(days=0)
    with pytest.raises(ValueError):
        generate(start=datetime(2024, 4, 1))
    with pytest.raises(ValueError):
        generate(genuine_share=1.5)
    with pytest.raises(ValueError):
        generate(timezone="Mars/Olympus")


def test_start_and_calls_per_day_shape_the_output() -> None:
    start = datetime(2024, 5, 1, tzinfo=WIB)
    calls = generate(days=2, start=start, calls_per_day=50)
    assert len(calls) == 100
    assert all(start <= call.at < start + timedelta(days=2) for call in calls)


def test_a_start_after_midnight_keeps_every_call_inside_the_window() -> None:
    start = datetime(2024, 4, 1, 22, 30, tzinfo=WIB)
    calls = generate(days=1, start=start, calls_per_day=300, genuine_share=0.05)
    assert len(calls) == 300
    assert all(start <= call.at < start + timedelta(days=1) for call in calls)


MONTH = generate_with_populations(seed=112)


@pytest.fixture(scope="module")
def month() -> list[ScenarioCall]:
    return MONTH[0]


@pytest.fixture(scope="module")
def populations() -> dict[str, Population]:
    return MONTH[1]


def test_month_volume_and_mix_match_the_customer_figures(month: list[ScenarioCall]) -> None:
    assert 5_000 <= len(month) <= 5_600
    truths = Counter(call.truth for call in month)
    assert 0 < truths["genuine"] < 0.01 * len(month)
    junk = truths["prank"] + truths["ghost"]
    # Purworejo: prank 1,147 vs ghost 1,170, roughly even.
    assert 0.40 <= truths["prank"] / junk <= 0.60
    assert 0.40 <= truths["ghost"] / junk <= 0.60


def test_month_ids_follow_time_order_in_wib(month: list[ScenarioCall]) -> None:
    assert [call.id for call in month] == [f"c-{n:05d}" for n in range(1, len(month) + 1)]
    assert all(a.at <= b.at for a, b in itertools.pairwise(month))
    assert all(call.at.utcoffset() == timedelta(hours=7) for call in month)
    assert month[0].at >= datetime(2024, 4, 1, tzinfo=WIB)
    assert month[-1].at < datetime(2024, 5, 1, tzinfo=WIB)


def test_month_contains_every_population(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    # Every population but the silent stayers, which the default month leaves out.
    assert set(populations.values()) == set(Population) - {Population.GENUINE_SILENT_STAYS}
    assert set(populations) == {call.id for call in month}


def test_assumptions_change_the_month_they_name() -> None:
    from appliance.month import MonthAssumptions, generate_with_populations

    calls, populations = generate_with_populations(
        days=10,
        seed=3,
        assumptions=MonthAssumptions(genuine_silent_stays_share=0.3, pocket_voice_share=0.9),
    )
    stayers = [c for c in calls if populations[c.id] is Population.GENUINE_SILENT_STAYS]
    assert stayers and all(
        c.answer.press is None and c.answer.sound == "silence" and 60 <= c.hangup_after_s <= 120
        for c in stayers
    )
    pockets = [c for c in calls if populations[c.id] is Population.POCKET]
    assert sum(c.answer.sound == "voice" for c in pockets) > 0.8 * len(pockets)
    with pytest.raises(ValueError, match="between 0 and 1"):
        MonthAssumptions(pocket_voice_share=1.5)


def test_redialers_call_two_to_four_times_within_ten_minutes(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    incidents: dict[tuple[str | None, str], list[ScenarioCall]] = defaultdict(list)
    for call in month:
        if populations[call.id] is Population.GENUINE_REDIAL:
            incidents[(subscriber_key(call.caller), call.disposition)].append(call)
    assert incidents
    for calls in incidents.values():
        assert 2 <= len(calls) <= 4
        assert calls[-1].at - calls[0].at <= timedelta(minutes=10)


def test_withheld_silent_and_parent_phone_genuine_callers(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    def of(population: Population) -> list[ScenarioCall]:
        return [call for call in month if populations[call.id] is population]

    assert all(call.caller is None for call in of(Population.GENUINE_WITHHELD))
    assert all(
        call.answer.press == "?" and call.answer.after_s >= 5 and call.hangup_after_s >= 120
        for call in of(Population.GENUINE_SILENT)
    )
    pranks_by_number: dict[str | None, list[datetime]] = defaultdict(list)
    for call in month:
        if call.truth == "prank":
            pranks_by_number[subscriber_key(call.caller)].append(call.at)
    for call in of(Population.GENUINE_EX_PRANKSTER):
        earlier = pranks_by_number[subscriber_key(call.caller)]
        assert earlier and max(earlier) < call.at
    assert all(call.caller and "254" in call.caller for call in of(Population.GENUINE_FIXED_LINE))


def test_genuine_callers_press_the_prompt_key_and_wait(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    for call in month:
        if call.truth == "genuine" and populations[call.id] is not Population.GENUINE_NO_KEY:
            assert call.answer.press == "?"
            assert is_genuine(call.disposition)
            assert call.talk_s >= 10


def test_some_genuine_callers_never_press_the_key_but_stay_on_the_line(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    no_key = [call for call in month if populations[call.id] is Population.GENUINE_NO_KEY]
    assert no_key
    assert all(call.answer.press is None and call.hangup_after_s >= 120 for call in no_key)


def test_ring_once_callers_hang_up_before_an_operator_could_answer(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    ring_once = [call for call in month if populations[call.id] is Population.RING_ONCE]
    assert ring_once and all(call.hangup_after_s <= 4 for call in ring_once)


def test_a_minority_of_pranksters_press_the_prompt_key(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    pranks = [call for call in month if populations[call.id] is Population.PRANKSTER]
    share = sum(call.answer.press == "?" for call in pranks) / len(pranks)
    assert 0.10 <= share <= 0.20
    assert all(5 <= call.talk_s <= 30 for call in pranks)


def test_numbers_look_like_what_indonesian_modems_deliver(month: list[ScenarioCall]) -> None:
    callers = [call.caller for call in month if call.caller is not None]
    forms = Counter(
        "+62" if c.startswith("+62") else "62" if c.startswith("62") else c[:2] for c in callers
    )
    assert forms["08"] and forms["62"] and forms["+62"]
    assert any(subscriber_key(c).startswith("0254") for c in callers)  # type: ignore[union-attr]
    for caller in callers:
        national = subscriber_key(caller)
        assert national is not None and national.startswith("0")
        assert 10 <= len(national) <= 13


def test_one_phone_never_makes_two_calls_at_once(month: list[ScenarioCall]) -> None:
    by_number: dict[str, list[ScenarioCall]] = defaultdict(list)
    for call in month:
        key = subscriber_key(call.caller)
        if key is not None:
            by_number[key].append(call)
    for calls in by_number.values():
        for previous, following in itertools.pairwise(calls):
            latest_end = previous.at + timedelta(seconds=previous.hangup_after_s + previous.talk_s)
            assert following.at >= latest_end


def test_junk_has_a_heavy_tail_and_bursts(
    month: list[ScenarioCall], populations: dict[str, Population]
) -> None:
    summary = summarise(month, populations)
    assert summary["top20_junk_share_pct"] >= 20  # M6: per-number listing can do a lot
    assert summary["numbers_over_10_calls_in_an_hour"] >= 1  # Serang's ">10 times"
    assert summary["calls_total"] == len(month)
    assert sum(summary["by_population"].values()) == len(month)
    assert summary["by_truth"]["genuine"] == sum(
        summary["by_population"][p.value] for p in Population if p.value.startswith("genuine")
    )
    assert summary["genuine_incidents"] < summary["by_truth"]["genuine"]  # redials
    assert len(summary["top_repeaters"]) == 20
    json.dumps(summary)  # printable by the CLI as is


# ------------------------------------------------------------------ the centre's own kinds

KINDS = ("flood", "fire", "landslide_2", "x" * 32)


def test_a_genuine_call_of_any_kind_loads(tmp_path: Path) -> None:
    """`genuine:<kind>` with any kind (the contract): a centre names its own kinds."""
    path = tmp_path / "kinds.jsonl"
    lines = [_line(id=f"k{n}", disposition=f"genuine:{kind}") for n, kind in enumerate(KINDS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls = load_scenario(path)
    assert [call.disposition for call in calls] == [f"genuine:{kind}" for kind in KINDS]
    assert all(is_genuine(call.disposition) for call in calls)
    for bad in ("genuine:", "genuine:Flood", "genuine:flood relief", "genuine:" + "x" * 33):
        with pytest.raises(ValueError, match="unknown disposition"):
            from_json(CONTRACT_EXAMPLE | {"disposition": bad})


def test_a_scenario_with_a_kind_the_configuration_lacks_replays(tmp_path: Path) -> None:
    """`siaga simulate` on default kinds: the flood call reaches an operator, who records
    it as `genuine:flood`, and the report counts it in a column of its own."""
    path = tmp_path / "flood.jsonl"
    flood = _line(id="flood-1", disposition="genuine:flood", talk_s=20)
    prank = _line(
        id="prank-1",
        at="2024-04-03T19:10:00+07:00",
        caller="081299998888",
        answer={"press": "?", "after_s": 2.0},
        talk_s=5,
        disposition="prank",
        truth="prank",
    )
    path.write_text(f"{flood}\n{prank}\n", encoding="utf-8")
    calls = load_scenario(path)
    db_path = tmp_path / "sim.db"
    score = run_simulation(calls, db_path, SimulationOptions(lines=1, operators=1, family="ec25"))
    assert (score["genuine_reached"], score["genuine_lost"]) == (1, [])
    connection = open_readonly(db_path)
    try:
        found = connection.execute(
            "SELECT scenario_ref, disposition FROM calls WHERE scenario_ref IS NOT NULL"
        ).fetchall()
        assert dict(found) == {"flood-1": "genuine:flood", "prank-1": "prank"}
        figures = report(connection, since_ts=0, until_ts=4_102_444_800, period="month")
    finally:
        connection.close()
    assert figures.kinds[-1] == "flood" and figures.totals["valid_flood"] == 1
    assert figures.totals["valid"] == 1 and figures.totals["valid_other"] == 0
