"""What the line service stores for machines, in words (`web_ui.core.wording`,
`web_ui.users.audit_view`).

The texts matched here are the line service's own (`appliance.line`, `appliance.recovery`,
`appliance.policy`, `firmware.at.channel`): when one of them changes its wording, these
tests say the page would fall back to the English text.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from appliance.model import LINE_ERRORS
from appliance.policy import FLOOD_REASONS, flood_reason
from appliance.recovery import RECOVERY_DETAILS
from firmware.at.channel import AT_ERRORS, ATCommandError, ATTimeoutError
from web_ui.core.i18n import MESSAGES
from web_ui.core.wording import (
    error_words,
    event_words,
    fields_words,
    flood_reason_words,
    format_count,
    format_percent,
    seconds_words,
)
from web_ui.users.audit import AuditEntry
from web_ui.users.audit_view import audit_row

ZONE = ZoneInfo("Asia/Jakarta")


def as_the_line_stores(exc: Exception) -> str:
    """`appliance.line`'s `last_error` for an exception of the AT channel."""
    return f"{type(exc).__name__}: {exc}"


def test_modem_errors_become_words_and_keep_the_original() -> None:
    timeout = as_the_line_stores(ATTimeoutError("AT+CSQ", 5.0))
    words = error_words(timeout, "id")
    assert words.sentence == "Modem tidak menjawab perintah AT+CSQ dalam 5 detik"
    assert words.raw == timeout
    refused = as_the_line_stores(ATCommandError("AT+CLIP=1", "+CME ERROR: 3", []))
    assert error_words(refused, "en").text == "the modem refused AT+CLIP=1 (answer: +CME ERROR: 3)"
    assert error_words(f"health poll: {ATTimeoutError('AT', 2.0)}", "id").text == (
        "pemeriksaan berkala modem gagal: modem tidak menjawab perintah AT dalam 2 detik"
    )
    assert "Error" not in error_words("KeyError: 'state'", "en").text
    assert error_words("+CME ERROR: 10", "id").text == "+CME ERROR: 10"  # unknown: as it is


ERROR_TEMPLATES = {**LINE_ERRORS, **AT_ERRORS, **RECOVERY_DETAILS}


@pytest.mark.parametrize("kind", sorted(ERROR_TEMPLATES))
def test_every_error_a_line_stores_is_worded_in_both_languages(kind: str) -> None:
    """Whatever a line writes as its error (`appliance.model.line_error`, the AT channel's
    errors, a recovery step's detail), with or without the exception's name, reads as
    words with its figures: no modem error reaches a page in the line service's English."""
    template = ERROR_TEMPLATES[kind]
    figures = {
        name: "AT+CSQ" if name == "command" else "+CME ERROR: 9" if name == "reply" else "9"
        for name in re.findall(r"\{(\w+)\}", template)
    }
    if "inner" in figures:
        figures["inner"] = str(ATTimeoutError("AT+CSQ", 9.0))
    raw = template.format(**figures)
    # A line stores an exception with its name; a recovery step's detail is stored bare.
    stored_as = [raw] if kind in RECOVERY_DETAILS else [raw, f"ATCommandError: {raw}"]
    for stored in stored_as:
        indonesian = error_words(stored, "id").text
        english = error_words(stored, "en").text
        assert indonesian != english
        assert indonesian not in (stored, raw)
        for words in (indonesian, english):
            assert "Error:" not in words and "no final result" not in words
            for name, value in figures.items():
                if name in ("command", "reply", "call"):
                    assert value in words


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("rate: 31 calls in 60 s (limit 30)", "31 panggilan dalam 1 menit (batas 30)"),
        ("one number: 14 calls from +6281234 in 600 s", "Satu nomor: 14 panggilan dari "
         "+6281234 dalam 10 menit"),
        ("withheld: 9 of 12 calls without a number in 60 s", "9 dari 12 panggilan tanpa nomor "
         "dalam 1 menit"),
        ("restart", "Masih aktif saat layanan saluran dimulai ulang"),
        ("something new", "something new"),
    ],
)  # fmt: skip
def test_flood_reasons_become_words(reason: str, words: str) -> None:
    assert flood_reason_words(reason, "id") == words


def test_recovery_steps_and_durations_are_words_in_each_language() -> None:
    recovered = {
        "step": "recovered",
        "after": "power_cycle",
        "steps": ["reinitialise", "usb_reset"],
    }
    assert event_words("recovery", recovered, "id", ZONE) == (
        "Modem menjawab lagi setelah: inisialisasi ulang, reset USB"
    )
    degraded = {"missing": ["no_caller_id"], "found_on": "health poll", "retry_s": 604800.0}
    assert event_words("line_degraded", degraded, "en", ZONE) == (
        "Not available: no caller ID; tried again every 7 d"
    )


def test_unknown_event_details_are_named_values_never_json() -> None:
    text = event_words("sync_connected", {"servers": ["nats://hub"], "ok": True}, "id", ZONE)
    assert "{" not in text and "[" not in text and "True" not in text
    pairs = fields_words({"created_ts": 0.0, "role": "technician", "disabled": False}, "id", ZONE)
    assert pairs == [
        ("Dibuat", "1 Jan 1970 07.00.00 WIB"),
        ("Peran", "Teknisi"),
        ("Nonaktif", "tidak"),
    ]


def test_an_audit_update_shows_only_what_changed() -> None:
    entry = AuditEntry(
        id=1, ts=0.0, actor="agus", action="user.update", target="siti",
        before={"role": "operator", "username": "siti", "disabled": False},
        after={"role": "supervisor", "username": "siti", "disabled": False}, remote=None,
    )  # fmt: skip
    row = audit_row(entry, "id", ZONE)
    assert (row.before, row.after) == ([("Peran", "Operator")], [("Peran", "Supervisor")])
    assert row.action_label == "Pengguna diubah"
    setting = AuditEntry(
        id=2, ts=0.0, actor="agus", action="settings.change", target="settings",
        before={"policy.throttle.window_s": 600.0}, after={"policy.throttle.window_s": 604800.0},
        remote=None,
    )  # fmt: skip
    row = audit_row(setting, "id", ZONE)
    assert row.target_text == "Pengaturan penyaringan"
    assert row.after == [("Jangka waktu", "7 hari")]


@pytest.mark.parametrize("signal", sorted(FLOOD_REASONS))
def test_every_reason_the_flood_detector_gives_is_worded_in_both_languages(signal: str) -> None:
    """Whatever the detector writes (`appliance.policy.flood_reason`) reads as words: no
    reason reaches the dashboard in the detector's own English."""
    figures = {
        name: f"9{index}"
        for index, name in enumerate(re.findall(r"\{(\w+)\}", FLOOD_REASONS[signal]))
    }
    raw = flood_reason(signal, **figures)
    for language in ("id", "en"):
        words = flood_reason_words(raw, language)
        assert words != raw
        for name, value in figures.items():
            if name not in ("window", "within"):  # durations are worded ("9 detik")
                assert value in words


def test_a_negative_duration_is_minus_its_length_in_both_languages() -> None:
    """A clock stepped back an hour (`step_s` -3600) reads as minus one hour, not as
    minus a day plus 23 hours."""
    step = {"step_s": -3600.0}
    assert event_words("clock_step", step, "id", ZONE) == "Jam bergeser -1 jam"
    assert event_words("clock_step", step, "en", ZONE) == "The clock stepped by -1 h"
    assert seconds_words(-90.5, "id") == "-1 menit 30,5 detik"
    assert seconds_words("-5400", "en") == "-1 h 30 min"
    assert seconds_words(3600, "id") == "1 jam"


def test_sizes_in_an_alarm_carry_the_languages_thousands_separator() -> None:
    """`29000 MB` is `29.000 MB` in Bahasa Indonesia and `29,000 MB` in English, as every
    other count on the pages (`format_count`)."""
    alarm = {"kind": "disk_low", "message": "180 MB free of 29000 MB on /var/lib/siaga"}
    assert event_words("alarm", alarm, "id", ZONE) == (
        "180 MB kosong dari 29.000 MB di /var/lib/siaga"
    )
    assert event_words("alarm", alarm, "en", ZONE) == "180 MB free of 29,000 MB on /var/lib/siaga"


def test_counts_and_percentages_are_written_one_way_per_language() -> None:
    assert (format_count(1234567, "id"), format_count(1234567, "en")) == ("1.234.567", "1,234,567")
    assert (format_percent(1234.5, "id"), format_percent(1234.5, "en")) == ("1.234,5%", "1,234.5%")
    assert (format_percent(50, "id"), format_percent(50, "en")) == ("50,0%", "50.0%")
    assert (format_percent(68, "id", digits=0), format_percent(68, "en", digits=0)) == (
        "68%",
        "68%",
    )


GHOST_EN = re.compile(r"\bghosts?\b", re.IGNORECASE)
GHOST_ID = re.compile(r"\bhantu\b", re.IGNORECASE)
# Names the ghost category has had in Indonesian: the English word, or a second name.
OTHER_GHOST_NAMES_ID = re.compile(r"ghost|hantu\s*\(\s*diam", re.IGNORECASE)


def test_the_ghost_category_has_one_name_in_each_language() -> None:
    """Operators file a silent caller as "Hantu" ("Ghost"); the dashboard, the reports,
    their exports and the settings' help name that category the same way, so a count
    of "hantu" in a report is the count of what operators picked."""
    assert MESSAGES["disposition.ghost"] == ("Hantu", "Ghost")
    naming = [key for key, (_, english) in MESSAGES.items() if GHOST_EN.search(english)]
    assert len(naming) >= 10  # the rule below is checked on the messages that name it
    unpaired = [
        key
        for key, (indonesian, english) in MESSAGES.items()
        if bool(GHOST_EN.search(english)) != bool(GHOST_ID.search(indonesian))
    ]
    assert unpaired == []
    other_names = [
        key for key, (indonesian, _) in MESSAGES.items() if OTHER_GHOST_NAMES_ID.search(indonesian)
    ]
    assert other_names == []
