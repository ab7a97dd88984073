"""The rules CSV parser: valid rows, one clear error per bad row, never an exception."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from web_ui.core.i18n import translate
from web_ui.rules.csv_import import COLUMNS, MAX_ROWS, RulesImport, parse_rules_csv

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=WIB).timestamp()
HEADER = "kind,number,match,action,reason,expires\n"


def parse(text: str) -> RulesImport:
    return parse_rules_csv(text, region="ID", now_ts=NOW, zone=WIB)


def test_valid_rows_are_normalised() -> None:
    result = parse(
        HEADER + "block,0812-3456-7890,,reject,prank caller,\n"
        "allow,+62 811 1111 1111,exact,,hospital,\n"
        "block,0813,prefix,,,7d\n"
        "BLOCK,6281234567891,,Announce,, 24h\n"
    )
    assert result.errors == ()
    assert [(r.kind, r.pattern, r.match, r.action) for r in result.rows] == [
        ("block", "+6281234567890", "exact", "reject"),
        ("allow", "+6281111111111", "exact", "pass"),
        ("block", "+62813", "prefix", "challenge"),
        ("block", "+6281234567891", "exact", "announce"),
    ]
    assert result.rows[1].expires_ts is None
    assert result.rows[2].expires_ts == NOW + 7 * 86400
    assert result.rows[3].expires_ts == NOW + 24 * 3600
    assert [r.row for r in result.rows] == [2, 3, 4, 5]


def test_date_expiry_is_the_end_of_that_local_day() -> None:
    result = parse(HEADER + "block,081234567890,,,,2026-11-30\n")
    assert result.rows[0].expires_ts == datetime(2026, 12, 1, tzinfo=WIB).timestamp()


def test_columns_in_any_order_and_optional_ones_left_out() -> None:
    result = parse("\ufeffNumber , Kind\n081234567890,allow\n")
    assert result.errors == ()
    assert result.rows[0].pattern == "+6281234567890"
    assert result.rows[0].action == "pass"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("deny,081234567890,,,x,", "rules_csv.bad_kind"),
        ("block,081234567890,fuzzy,,x,", "rules_csv.bad_match"),
        ("block,0812,,,x,", "rules_csv.bad_number"),
        ("block,hello,prefix,,x,", "rules_csv.bad_prefix"),
        ("block,+6,prefix,,x,", "rules_csv.bad_prefix"),
        ("block,,,,x,", "rules_csv.number_missing"),
        ("allow,081234567890,,reject,x,", "rules_csv.bad_action_allow"),
        ("block,081234567890,,pass,x,", "rules_csv.bad_action_block"),
        ("block,081234567890,,,,", "rules_csv.reason_required"),
        ("block,081234567890,,,x,tomorrow", "rules_csv.bad_expires"),
        ("block,081234567890,,,x,2026-02-30", "rules_csv.bad_expires"),
        ("block,081234567890,,,x,0h", "rules_csv.bad_expires"),
        ("block,081234567890,,,x,2026-11-21", "rules_csv.expires_past"),
        ("block,081234567890,,,x,,extra", "rules_csv.bad_cells"),
        ("block,081234567890,,," + "x" * 201 + ",", "rules_csv.reason_long"),
    ],
)
def test_each_bad_row_has_its_error(line: str, key: str) -> None:
    result = parse(HEADER + "allow,0811111111111,,,,\n" + line + "\n")
    assert len(result.rows) == 1
    assert [(error.row, error.key) for error in result.errors] == [(3, key)]
    for language in ("id", "en"):  # every message fills in with its values
        assert translate(language, key, **result.errors[0].values)


def test_duplicate_in_the_file_is_an_error_naming_the_first() -> None:
    result = parse(HEADER + "block,081234567890,,,x,\nblock,+62 812 3456 7890,,,y,\n")
    assert len(result.rows) == 1
    assert result.errors[0].key == "rules_csv.duplicate"
    assert result.errors[0].values == {"other": "2"}


@pytest.mark.parametrize(
    ("text", "key", "named"),
    [
        ("", "rules_csv.header_missing", "kind, number"),
        ("block,081234567890,,,x,\n", "rules_csv.header_missing", "kind, number"),
        ("kind,number,colour\nblock,0812,,\n", "rules_csv.header_unknown", "colour"),
        ("kind,number,kind\n", "rules_csv.header_unknown", "kind"),
    ],
)
def test_header_problems_are_one_error(text: str, key: str, named: str) -> None:
    result = parse(text)
    assert result.rows == ()
    assert len(result.errors) == 1
    assert result.errors[0].key == key
    assert named in translate("en", key, **result.errors[0].values)
    assert not result.header_ok


def test_quoted_multiline_cell_and_blank_lines() -> None:
    result = parse(HEADER + '\nblock,081234567890,,,"two\nlines",\n\nallow,0811111111111,,,,\n')
    assert [r.row for r in result.rows] == [3, 6]
    assert result.rows[0].reason == "two lines"
    assert result.blank == 2


def test_too_many_rows_are_errors_not_dropped() -> None:
    lines = "".join(f"allow,+6281{n:09d},,,,\n" for n in range(MAX_ROWS + 2))
    result = parse(HEADER + lines)
    assert len(result.rows) == MAX_ROWS
    assert [e.key for e in result.errors] == ["rules_csv.too_many_rows"] * 2


def _accounted(result: RulesImport) -> None:
    if result.header_ok:
        assert len(result.rows) + len(result.errors) + result.blank == result.records
    else:
        assert result.rows == ()
        assert len(result.errors) == 1
    for error in result.errors:
        translate("en", error.key, **error.values)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_a_result(text: str) -> None:
    _accounted(parse(text))


cells = st.one_of(
    st.sampled_from(["allow", "block", "exact", "prefix", "reject", "7d", "24h", "0812", ""]),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(cells, max_size=8), max_size=20))
def test_every_data_line_is_a_row_or_an_error(records: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(records)
    result = parse(out.getvalue())
    assert result.header_ok
    assert result.records == len(records)
    _accounted(result)


@pytest.mark.parametrize("bom", ["\ufeff", ""])
def test_the_semicolon_csv_excel_saves_in_indonesia_is_read(bom: str) -> None:
    result = parse(
        bom + "Jenis;Nomor;Cocok;Tindakan;Alasan;Kedaluwarsa\r\n"
        "block;0812-3456-7890;;reject;iseng, berulang;\r\n"
        "allow;+62 811 1111 1111;exact;;rumah sakit;\r\n"
        "block;0813;prefix;;;30/11/2026\r\n"
    )
    assert result.errors == ()
    assert [(r.row, r.kind, r.pattern, r.reason) for r in result.rows] == [
        (2, "block", "+6281234567890", "iseng, berulang"),
        (3, "allow", "+6281111111111", "rumah sakit"),
        (4, "block", "+62813", ""),
    ]
    assert result.rows[2].expires_ts == datetime(2026, 12, 1, tzinfo=WIB).timestamp()


def test_the_rules_pages_words_are_read_in_either_language() -> None:
    result = parse(
        "Jenis;Nomor;Cocok;Tindakan;Alasan\r\n"
        "Blokir;0812-3456-7890;Persis;Tolak;iseng\r\n"
        "blokir;0813;awalan;pesan;ganggu\r\n"
        "Izin;0811 1111 1111;;Lolos;rumah sakit\r\n"
        "Block;0814;Prefix;Challenge;x\r\n"
    )
    assert result.errors == ()
    assert [(r.kind, r.match, r.action) for r in result.rows] == [
        ("block", "exact", "reject"),
        ("block", "prefix", "announce"),
        ("allow", "exact", "pass"),
        ("block", "prefix", "challenge"),
    ]
    wrong = parse(HEADER + "izin,081234567890,,tolak,,\n")  # allow rules only pass
    assert [error.key for error in wrong.errors] == ["rules_csv.bad_action_allow"]


def test_excel_sep_line_and_english_headings_are_understood() -> None:
    result = parse("sep=;\nkind;number;reason\nblock;081234567890;a, b, c\nallow;081234567891\n")
    assert result.errors == ()
    assert [(r.row, r.reason) for r in result.rows] == [(3, "a, b, c"), (4, "")]


def test_commas_inside_quotes_do_not_make_a_semicolon_file_a_comma_file() -> None:
    result = parse('kind;number;"reason, why"\nblock;081234567890;x\n')
    assert result.header_ok is False  # the quoted heading is one unknown column
    assert "reason, why" in result.errors[0].values["unknown"]


def test_expiry_is_read_in_the_grammar_the_cli_reads() -> None:
    # `30m` and the Indonesian words were bad expiries here before the grammar was shared.
    result = parse(
        HEADER + "block,081234567890,,,x,7 hari\n"
        "block,081234567891,,,x,30m\n"
        "block,081234567892,,,x,2 Minggu\n"
        "block,081234567893,,,x,selamanya\n"
    )
    assert result.errors == ()
    assert [r.expires_ts for r in result.rows] == [
        NOW + 7 * 86400,
        NOW + 1800,
        NOW + 14 * 86400,
        None,
    ]
