"""The call log's and reports' pure parts: cursors, number matching, CSV cells, chart geometry."""

from __future__ import annotations

import pytest

from web_ui.calls.service import CallSearchError, Cursor, match_number, neutralise
from web_ui.reports.charts import nice_step, stacked_bars


def test_a_cursor_survives_the_round_trip_through_a_link_exactly() -> None:
    cursor = Cursor(1732291234.1234567, 42)
    assert Cursor.parse(str(cursor)) == cursor
    for bad in ("", "x_1", "1.5", "1.5_x", "nan_3", "1.0_-2"):
        with pytest.raises(CallSearchError):
            Cursor.parse(bad)


def test_every_indonesian_form_of_a_number_is_one_exact_match() -> None:
    forms = ("0812-3456-7890", "6281234567890", "+62 812 3456 7890", "081234567890")
    assert {match_number(form, prefix=False).value for form in forms} == {"+6281234567890"}
    assert match_number("0812", prefix=True).value == "+62812"
    assert match_number("<b>PRIVATE</b>", prefix=False).kind == "raw"


def test_a_spreadsheet_formula_is_defused_and_plain_text_left_alone() -> None:
    for cell in ("=1+1", "+62812", "-3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    for cell in ("0812", "pass", "", "a=b"):
        assert neutralise(cell) == cell


def test_chart_steps_are_round_numbers() -> None:
    assert nice_step(0) == 1.0
    assert nice_step(9) == 5.0
    assert nice_step(38) == 10.0
    assert nice_step(1234) == 500.0


def test_stacked_bars_are_proportional_and_one_per_label() -> None:
    chart = stacked_bars(
        ["a", "b", "c"],
        [{"x": 2, "y": 2}, {"x": 8, "y": 0}, {"x": 0, "y": 0}],
        ("x", "y"),
        names={"x": "Ex", "y": "Why"},
    )
    assert [bar.label for bar in chart.bars] == ["a", "b", "c"]
    a, b, c = chart.bars
    assert a.segments[0].height == pytest.approx(a.segments[1].height)
    assert b.segments[0].height == pytest.approx(2 * (a.segments[0].height + a.segments[1].height))
    assert c.total == 0 and all(segment.height == 0 for segment in c.segments)
    assert a.text == "a: Ex 2, Why 2"
    assert chart.ticks[0].label == "0" and chart.ticks[-1].y == pytest.approx(12.0)
