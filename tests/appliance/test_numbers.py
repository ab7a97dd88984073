"""Caller-ID normalisation: one subscriber, one E.164 key; never an exception."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.model import NumberClass
from appliance.numbers import normalise, normalise_pattern
from firmware.at.parser import parse_clip_fields
from firmware.at.urc import CallerId, CliValidity

MOBILE = "+6281234567890"


@pytest.mark.parametrize(
    "raw",
    [
        "081234567890",
        "0812-3456-7890",
        "0812 3456 7890",
        "6281234567890",
        "+6281234567890",
        "+62 812-3456-7890",
        "(0812) 3456.7890",
        "81234567890",
        "006281234567890",
        " 081234567890\r\n",
        "+62 (0)812 3456 7890",
        "+62081234567890",
    ],
)
def test_every_indonesian_form_of_a_mobile_is_one_e164_number(raw: str) -> None:
    caller = normalise(raw)
    assert caller.number_class is NumberClass.NUMBER
    assert caller.e164 == MOBILE
    assert caller.raw == raw


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0254 123456", "+62254123456"),
        ("0254 7123456", "+622547123456"),
        ("62254123456", "+62254123456"),
        ("+62 254 123456", "+62254123456"),
        ("021 5551234", "+62215551234"),
        ("0895123456789", "+62895123456789"),
        ("+442079460000", "+442079460000"),
        ("+1 202 555 0143", "+12025550143"),
    ],
)
def test_fixed_lines_and_foreign_numbers_normalise(raw: str, e164: str) -> None:
    assert normalise(raw).e164 == e164


def test_a_number_in_a_range_unknown_to_the_metadata_is_still_a_number() -> None:
    # 084x is not a valid range in phonenumbers' metadata today, but its length is
    # possible: a genuine caller from a newly opened range must not become "unparseable".
    caller = normalise("0841 1234 5678")
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+6284112345678"))
    assert caller.number_class is NumberClass.NUMBER
    assert caller.e164 == "+6284112345678"


@pytest.mark.parametrize(
    ("caller_id", "e164"),
    [
        (CallerId("081234567890", 129, CliValidity.VALID), MOBILE),
        (CallerId("+6281234567890", 145, CliValidity.VALID), MOBILE),
        (CallerId("6281234567890", 145, CliValidity.VALID), MOBILE),
        (CallerId("81234567890", 161, CliValidity.VALID), MOBILE),
        (CallerId("81234567890", 129, CliValidity.VALID), MOBILE),
        (CallerId("0254123456", 129, CliValidity.VALID, alpha="RSUD"), "+62254123456"),
    ],
)
def test_modem_caller_ids_use_the_type_of_number(caller_id: CallerId, e164: str) -> None:
    assert normalise(caller_id).e164 == e164


@pytest.mark.parametrize(
    ("validity", "number_class"),
    [
        (CliValidity.WITHHELD, NumberClass.WITHHELD),
        (CliValidity.UNAVAILABLE, NumberClass.UNAVAILABLE),
        (CliValidity.PAYPHONE, NumberClass.UNAVAILABLE),
        (CliValidity.OTHER, NumberClass.UNAVAILABLE),
    ],
)
def test_cli_validity_wins_over_the_digits(
    validity: CliValidity, number_class: NumberClass
) -> None:
    caller = normalise(CallerId("+6281234567890", 145, validity))
    assert caller.number_class is number_class
    assert caller.e164 is None
    assert caller.raw == "+6281234567890"


@pytest.mark.parametrize(
    "caller_id",
    [None, CallerId(None, None, CliValidity.VALID), CallerId("", 128, CliValidity.VALID), ""],
)
def test_no_caller_id_at_all_is_unavailable(caller_id: CallerId | str | None) -> None:
    assert normalise(caller_id).number_class is NumberClass.UNAVAILABLE


@pytest.mark.parametrize(
    ("raw", "number_class"),
    [
        ("PRIVATE", NumberClass.WITHHELD),
        ("Private", NumberClass.WITHHELD),
        ("restricted", NumberClass.WITHHELD),
        ("Anonymous", NumberClass.WITHHELD),
        ("<Withheld>", NumberClass.WITHHELD),
        ("Unknown", NumberClass.UNAVAILABLE),
        ("UNAVAILABLE", NumberClass.UNAVAILABLE),
        ("Payphone", NumberClass.UNAVAILABLE),
    ],
)
def test_words_in_the_number_field_are_classes_not_numbers(
    raw: str, number_class: NumberClass
) -> None:
    caller = normalise(raw)
    assert caller.number_class is number_class
    assert caller.e164 is None
    assert caller.raw == raw


@pytest.mark.parametrize(
    "raw",
    [
        "112",
        "0812",
        "1234",
        "12345",  # a local-only length: possibly a shared pseudo-CLI, so no per-number key
        "hello",
        "0812345678O",
        "0812\x003456789",
        "0812\x1b[2J3456789",
        "<script>alert(1)</script>",
        "<b>081234567890</b>",
        "+6281234567890123456",
        "9" * 40,
        "0812" * 5000,
        "+999123456789",
        "*#06#",
        "+",
        "++6281234567890",
        "٠٨١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits: not what a modem sends
    ],
)
def test_anything_that_is_not_a_phone_number_is_unparseable_with_raw_kept(raw: str) -> None:
    caller = normalise(raw)
    assert caller.number_class is NumberClass.UNPARSEABLE
    assert caller.e164 is None
    assert caller.raw == raw


@pytest.mark.parametrize("sender", ["TELKOMSEL", "BANK1", "Telkomsel 123", "INFO-PLN"])
@pytest.mark.parametrize("layout", ['"{}",208,"",0,"",0', '"{}",208', '"{}",129,,,,0'])
def test_alphanumeric_caller_ids_follow_one_rule_from_the_modem_line(
    sender: str, layout: str
) -> None:
    """An operator's or a bank's sender name, with or without digits, is unparseable:
    never a number and never 'no caller ID' (the rule in the module docstring)."""
    caller = normalise(parse_clip_fields(layout.format(sender)))
    assert caller.number_class is NumberClass.UNPARSEABLE
    assert (caller.e164, caller.raw) == (None, sender)


@pytest.mark.parametrize(
    ("payload", "number_class"),
    [
        ('"PRIVATE",128', NumberClass.WITHHELD),
        ('"PRIVATE NUMBER",128,"",0,"",0', NumberClass.WITHHELD),
        ('"Unknown",128', NumberClass.UNAVAILABLE),
        ('"",128,"",0,"",2', NumberClass.UNAVAILABLE),
    ],
)
def test_network_labels_from_the_modem_line_are_classes(
    payload: str, number_class: NumberClass
) -> None:
    assert normalise(parse_clip_fields(payload)).number_class is number_class


def test_a_non_string_input_does_not_raise() -> None:
    caller = normalise(12345678901)  # type: ignore[arg-type]
    assert caller.number_class is NumberClass.UNPARSEABLE


def test_an_unknown_region_does_not_raise() -> None:
    assert normalise("081234567890", region="XX").number_class is NumberClass.UNPARSEABLE
    assert normalise("+6281234567890", region="XX").e164 == MOBILE


def test_region_is_case_insensitive() -> None:
    assert normalise("081234567890", region="id").e164 == MOBILE
    assert normalise_pattern("0812", region="id") == "+62812"


def test_repeat_callers_are_served_from_the_cache() -> None:
    assert normalise("081299990000") is normalise("081299990000")


@given(st.text(max_size=200))
@settings(max_examples=500, deadline=None)
def test_normalise_never_raises_on_arbitrary_text(raw: str) -> None:
    caller = normalise(raw)
    assert caller.raw == raw
    if caller.number_class is NumberClass.NUMBER:
        assert caller.e164 is not None and caller.e164.startswith("+")
        assert caller.e164[1:].isdigit() and len(caller.e164) <= 16
    else:
        assert caller.e164 is None


@given(
    st.one_of(st.none(), st.text(max_size=40)),
    st.one_of(st.none(), st.integers(min_value=-1, max_value=300)),
    st.sampled_from(list(CliValidity)),
)
@settings(max_examples=300, deadline=None)
def test_normalise_never_raises_on_arbitrary_caller_ids(
    raw: str | None, number_type: int | None, validity: CliValidity
) -> None:
    caller = normalise(CallerId(raw, number_type, validity))
    assert caller.is_number == (caller.e164 is not None)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("+62812", "+62812"),
        ("0812", "+62812"),
        ("62812", "+62812"),
        ("+62 812", "+62812"),
        ("0812*", "+62812"),
        ("0254", "+62254"),
        ("081234567890", MOBILE),
        ("+62 812-3456-7890", MOBILE),
        ("+44 20", "+4420"),
    ],
)
def test_normalise_pattern_gives_an_e164_number_or_prefix(text: str, pattern: str) -> None:
    assert normalise_pattern(text) == pattern


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "not a number or prefix"),
        ("08<12>", "not a number or prefix"),
        ("+62", "too broad"),
        ("0", "too broad"),
        ("+6", "no known country code"),
        ("+999812", "no known country code"),
        ("+62812345678901234", "too many digits"),
    ],
)
def test_normalise_pattern_refuses_junk_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_pattern(text)
