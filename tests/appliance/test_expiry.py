"""The one expiry grammar the CLI and the web UI share (`appliance.expiry`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.expiry import MAX_EXPIRY_DAYS, ExpiryError, duration_s, parse_expiry

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=WIB).timestamp()
MINUTE, HOUR, DAY = 60.0, 3600.0, 86_400.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 30 * MINUTE),
        ("24h", 24 * HOUR),
        ("7d", 7 * DAY),
        ("2w", 14 * DAY),
        ("90s", 90.0),
        ("1.5h", 1.5 * HOUR),
        ("30 menit", 30 * MINUTE),
        ("24 jam", 24 * HOUR),
        ("7 hari", 7 * DAY),
        ("2 minggu", 14 * DAY),
        ("90 detik", 90.0),
        (" 7  HARI ", 7 * DAY),
        ("24H", 24 * HOUR),
        ("7 d", 7 * DAY),
    ],
)
def test_durations_in_english_letters_and_indonesian_words(text: str, seconds: float) -> None:
    assert parse_expiry(text, NOW, WIB) == NOW + seconds
    assert duration_s(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "   ", "never", "NEVER", "permanent", "selamanya", "Tidak  Pernah"]
)
def test_blank_and_the_never_words_mean_no_expiry(text: str) -> None:
    assert parse_expiry(text, NOW, WIB) is None


@pytest.mark.parametrize("text", ["2026-11-30", "30/11/2026"])
def test_a_date_is_in_force_through_that_local_day(text: str) -> None:
    assert parse_expiry(text, NOW, WIB) == datetime(2026, 12, 1, tzinfo=WIB).timestamp()


def test_today_is_still_in_force_until_midnight() -> None:
    assert parse_expiry("2026-11-22", NOW, WIB) == datetime(2026, 11, 23, tzinfo=WIB).timestamp()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("soon", "bad"),
        ("tomorrow", "bad"),
        ("7 tahun", "bad"),  # years are not a unit: a typing slip more often than meant
        ("0h", "bad"),
        ("0 hari", "bad"),
        ("-1d", "bad"),
        (f"{MAX_EXPIRY_DAYS + 1}d", "bad"),
        ("2026-02-30", "bad"),
        ("31/02/2027", "bad"),
        ("2026-11-21", "past"),
        ("9999-01-01", "bad"),
        ("٣d", "bad"),  # digits of another script are not read
    ],
)
def test_anything_else_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(ExpiryError) as refused:
        parse_expiry(text, NOW, WIB)
    assert refused.value.problem == problem
    assert isinstance(refused.value, ValueError)
    assert "24h" in str(refused.value) or problem == "past"


def test_the_longest_duration_is_allowed() -> None:
    assert parse_expiry(f"{MAX_EXPIRY_DAYS}d", NOW, WIB) == NOW + MAX_EXPIRY_DAYS * DAY


@pytest.mark.parametrize("text", ["never", "", "2026-12-01", "0h"])
def test_duration_s_takes_only_durations(text: str) -> None:
    with pytest.raises(ExpiryError):
        duration_s(text)


@given(st.text(max_size=30))
def test_any_text_is_an_expiry_none_or_an_expiry_error(text: str) -> None:
    try:
        expires = parse_expiry(text, NOW, WIB)
    except ExpiryError:
        return
    assert expires is None or NOW < expires <= NOW + MAX_EXPIRY_DAYS * DAY
