"""The per-line call state machine over real pseudo-terminals, for every modem family.

Each test runs the real `LineService` (policy, rules, the `Line` under test) against a
`VirtualModem` speaking the family's AT dialect on a real pty, with the call log on a
SQLite file in `tmp_path` (see `conftest.py`). Decisions are forced with real rules
(allow/block with an action) or the policy's own defaults (an unknown number is
challenged with reason `no_history`); nothing of the line, the channel, the modem or the
database is mocked. Time is virtual: a 60 s call costs a few milliseconds.
"""

from __future__ import annotations

import itertools
import logging
import re
import sqlite3
import wave
from pathlib import Path
from typing import Any

import pytest

from appliance.line import (
    BACKOFF_FIRST_S,
    BACKOFF_MAX_S,
    HOLD_REPEAT_S,
    ActiveCall,
    Line,
    describe_call,
)
from appliance.model import Action, CallerNumber, Decision, LineState, NumberClass, Reason
from appliance.service import OperatorDesk
from firmware.virtual_modem import CallerSound, CallState, EndedBy, VirtualCall, VirtualModem
from tests.appliance.conftest import (
    AUDIO_FAMILIES,
    CALLER,
    CALLER_E164,
    FAMILIES,
    PROMPT_S,
    Bench,
    make_config,
    open_bench,
    run_virtual,
)

pytestmark = pytest.mark.timeout(60)

# What each family must send (spelled out here, not taken from firmware.families, so a
# wrong adapter cannot agree with itself).
HANGUP = {
    "sim800": "ATH",
    "sim7600": "AT+CHUP",
    "ec25": "AT+CHUP",
    "m95": "ATH",
    "huawei": "AT+CHUP",
    "generic": "ATH",
}
TTS_PLAY = {
    "sim800": 'AT+CTTS=2,"',
    "sim7600": 'AT+CTTS=2,"',
    "ec25": 'AT+QWTTS=1,1,2,"',
    "m95": 'AT+QWTTS=1,1,2,"',
}
FILE_PLAY = {
    "sim800": 'AT+CREC=4,"C:\\User\\tekan5.amr",0,90',
    "sim7600": 'AT+CCMXPLAY="C:/tekan5.amr",1,0',
    "ec25": 'AT+QPSND=1,"tekan5.amr",0,1,1',
    "m95": 'AT+QPSND=1,"tekan5.amr",0,1,1',
}
TTS_STOP = {"sim800": "AT+CTTS=0", "sim7600": "AT+CTTS=0"}  # Quectel QWTTS has no stop
# Call audio to the host's voice port while challenging, and back to the modem afterwards
# (Huawei's AT^DDSETEX=2 is sent on every answer and lasts for the call).
LISTEN = {"sim7600": "AT+CPCMREG=1", "ec25": "AT+QPCMV=1,0"}
STOP_LISTEN = {"sim7600": "AT+CPCMREG=0", "ec25": "AT+QPCMV=0"}
LISTENING_FAMILIES = ("sim7600", "ec25", "huawei")
DEAF_FAMILIES = ("sim800", "m95")  # analogue audio: the host cannot hear the caller
PLAYER_FAMILIES = tuple(TTS_PLAY)  # on-modem players; Huawei streams PCM from the host
BOOTING_FAMILIES = ("sim800", "sim7600", "ec25", "m95")  # reboot in place with boot URCs

CHALLENGE_WORDS = "connected to the 112"
CONNECTING_WORDS = "connected to an operator"
GOODBYE_WORDS = "could not hear you"
ANNOUNCE_WORDS = "restricted"
DEFLECT_TO = "+62254112112"
SILENT_CHALLENGE_S = 2 * (PROMPT_S + 6.0) + 5.0  # two plays + waits, and some slack
PCM_BYTES_PER_S = 16_000  # Huawei voice port: s16le mono at 8 kHz


# --------------------------------------------------------------------------- helpers


async def wait_answered(bench: Bench, virtual: VirtualCall) -> float:
    """Wait until the line took `virtual` off-hook; its loop time."""
    await bench.wait_until(lambda: virtual.answered_at is not None, "the call to be answered")
    assert virtual.answered_at is not None
    return virtual.answered_at


async def operator_takes_call(bench: Bench, operator: str = "op1") -> None:
    """The desk was alerted; an operator answers and the line connects."""
    await bench.wait_state(LineState.OPERATOR_RINGING)
    assert bench.service.answer("line1", operator)
    await bench.wait_state(LineState.CONNECTED)


async def hang_up_and_settle(bench: Bench, virtual: VirtualCall) -> None:
    """The caller hangs up; wait for the line to be idle again."""
    bench.modem.caller_hangs_up(virtual)
    await bench.wait_idle_after(virtual)


def prompts_with(virtual: VirtualCall, words: str) -> list[str]:
    """The prompts played on the modem for `virtual` that contain `words`."""
    return [prompt for prompt in virtual.prompts if words in prompt]


def assert_log_consistent(bench: Bench, calls: int) -> list[dict[str, Any]]:
    """Exactly `calls` rows, each ended once, with a decision and its timing recorded."""
    rows = bench.rows()
    assert len(rows) == calls, rows
    assert len({row["id"] for row in rows}) == calls
    for row in rows:
        assert row["line"] == "line1"
        assert row["started_at"] is not None
        assert row["ended_at"] is not None, row
        assert row["ended_ts"] >= row["started_ts"]
        assert row["end_cause"], row
        assert row["decision"] in ("pass", "challenge", "announce", "reject")
        assert row["reason"]
        if row["rule"] != "ended_before_screening":
            assert isinstance(row["decision_us"], int) and row["decision_us"] >= 0, row
        assert row["reached_operator"] == (1 if row["operator_at"] else 0), row
    return rows


def block_or_abuse(bench: Bench, reason: str) -> None:
    """Give CALLER junk evidence: a supervisor's challenge block, or three pranks today."""
    if reason == "blocklist":
        bench.add_rule("block", "challenge")
        return
    caller = CallerNumber(CALLER, CALLER_E164, NumberClass.NUMBER)
    for _ in range(3):
        bench.service.policy.record_disposition(caller, "prank", bench.clock.timestamp())


# --------------------------------------------------------------------------- pass


@pytest.mark.parametrize("family", FAMILIES)
def test_passed_call_alerts_the_desk_connects_on_answer_and_ends_when_the_caller_hangs_up(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            assert [call.caller for call in bench.desk.waiting] == [
                CallerNumber(CALLER, CALLER_E164, NumberClass.NUMBER)
            ]
            await bench.sleep(12.0)  # the desk rings a while: the caller is not answered
            assert virtual.answered_at is None and "ATA" not in bench.commands_sent()
            assert bench.line.state is LineState.OPERATOR_RINGING

            assert bench.service.answer("line1", "op1")
            assert not bench.service.answer("line1", "op2")  # already taken
            await bench.wait_state(LineState.CONNECTED)
            assert virtual.state is CallState.ACTIVE
            assert bench.commands_sent().count("ATA") == 1
            if family == "huawei":
                assert "AT^DDSETEX=2" in bench.commands_sent()  # call audio to the voice port

            await bench.sleep(40.0)
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["decision"] == "pass" and row["reason"] == "allowlist"
            assert row["caller_raw"] == CALLER and row["caller"] == CALLER_E164
            assert row["reached_operator"] == 1 and row["operator"] == "op1"
            assert row["operator_at"] is not None and row["operator_ts"] >= row["started_ts"] + 12
            assert row["end_cause"] == "caller_hung_up"
            assert row["challenge_result"] is None
            assert [call.call_id for call in bench.desk.ended] == [row["id"]]
            assert bench.line.state is LineState.IDLE
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAMILIES)
def test_operator_hang_up_releases_the_call_with_the_family_hang_up(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await operator_takes_call(bench)
            await bench.sleep(20.0)
            assert bench.service.hang_up("line1")
            await bench.wait_idle_after(virtual)
            assert virtual.ended_by is EndedBy.HOST and virtual.release == HANGUP[family]
            row = bench.row()
            assert row["end_cause"] == "operator_hung_up" and row["reached_operator"] == 1
            assert not bench.service.hang_up("line1")  # nothing connected any more
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAMILIES)
def test_operator_answering_a_caller_who_just_hung_up_is_not_logged_as_reached(
    tmp_path: Path, family: str
) -> None:
    """The operator clicks 'answer' as the caller gives up: nobody spoke to anybody."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            bench.modem.caller_hangs_up(virtual)  # the end URC is still on the wire ...
            bench.service.answer("line1", "op1")  # ... when the operator answers
            await bench.wait_idle_after(virtual)
            row = bench.row()
            assert row["end_cause"] == "caller_hung_up"
            assert row["reached_operator"] == 0 and row["operator_at"] is None
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


# --------------------------------------------------------------------------- challenge


CHALLENGE_SOURCES = [(family, "tts") for family in PLAYER_FAMILIES]
CHALLENGE_SOURCES += [(family, "file") for family in PLAYER_FAMILIES]
CHALLENGE_SOURCES += [("huawei", "pcm")]


@pytest.mark.parametrize(("family", "source"), CHALLENGE_SOURCES)
def test_challenge_passed_when_the_caller_presses_the_key_after_the_prompt(
    tmp_path: Path, family: str, source: str
) -> None:
    prompts = {"challenge_file": "tekan5.amr"} if source == "file" else None

    async def scenario() -> None:
        async with open_bench(tmp_path, family, config=make_config(prompts=prompts)) as bench:
            virtual = bench.ring()  # an unknown number: challenged (no_history)
            answered = await wait_answered(bench, virtual)
            assert bench.line.state is LineState.CHALLENGING
            after_answer = bench.commands_since(answered)
            assert after_answer[0] == "ATA"
            after_answer = after_answer[1:]
            if family in LISTEN:  # the line listens before the prompt starts
                assert after_answer[0] == LISTEN[family]
                after_answer = after_answer[1:]
            if source == "tts":
                assert after_answer[0].startswith(TTS_PLAY[family]), after_answer
                assert CHALLENGE_WORDS in after_answer[0]
                assert prompts_with(virtual, CHALLENGE_WORDS)
            elif source == "file":
                assert after_answer[0] == FILE_PLAY[family], after_answer
                assert "tekan5.amr" in virtual.prompts[0]
            else:
                assert after_answer[0] == "AT^DDSETEX=2"

            await bench.sleep(PROMPT_S + 2.0)  # the prompt is over; the line still listens
            assert bench.line.state is LineState.CHALLENGING
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            assert bench.desk.waiting[0].unverified is False
            if family in STOP_LISTEN:  # the audio goes back to the desk's side
                assert STOP_LISTEN[family] in bench.commands_since(answered)
            if source != "pcm":
                assert prompts_with(virtual, CONNECTING_WORDS), virtual.prompts
            else:
                assert virtual.voice_bytes > 0  # the host streamed the prompts
            row = bench.row()
            assert row["decision"] == "challenge" and row["reason"] == "no_history"
            assert row["challenge_result"] == "passed" and row["challenge_at"] is not None

            assert bench.service.answer("line1", "op1")
            await bench.wait_state(LineState.CONNECTED)
            assert bench.commands_sent().count("ATA") == 1  # answered once, by the challenge
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["reached_operator"] == 1 and row["end_cause"] == "caller_hung_up"
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", AUDIO_FAMILIES)
def test_key_pressed_during_the_prompt_barges_in(tmp_path: Path, family: str) -> None:
    long_prompt = {"challenge_seconds": 12.0}

    async def scenario() -> None:
        async with open_bench(tmp_path, family, config=make_config(prompts=long_prompt)) as bench:
            bench.modem.prompt_duration_s = 12.0
            virtual = bench.ring()
            answered = await wait_answered(bench, virtual)
            await bench.sleep(1.0)
            pressed = bench.loop.time()
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            # Well before the 12 s prompt would have ended.
            assert bench.loop.time() - pressed < 2.0
            if family in TTS_STOP:
                assert TTS_STOP[family] in bench.commands_since(pressed)
            if family == "huawei":
                await bench.sleep(15.0)  # long after the challenge prompt would have ended
                streamed_s = virtual.voice_bytes / PCM_BYTES_PER_S
                # The challenge tone stopped at the key: 1 s of it plus the 3 s connecting.
                assert streamed_s < 1.0 + PROMPT_S + 1.0, streamed_s
            else:
                assert prompts_with(virtual, CONNECTING_WORDS)
            assert pressed - answered < PROMPT_S
            row = bench.row()
            assert row["challenge_result"] == "passed"
            await hang_up_and_settle(bench, virtual)
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", AUDIO_FAMILIES)
def test_caller_who_speaks_but_never_presses_is_passed_to_an_operator_unverified(
    tmp_path: Path, family: str
) -> None:
    """A genuine caller who does not understand the prompt but says "halo?" gets through."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring(sound=CallerSound("voice", start_s=1.0))
            await wait_answered(bench, virtual)
            await bench.wait_state(LineState.OPERATOR_RINGING, timeout_s=SILENT_CHALLENGE_S)
            assert virtual.live and virtual.ended_at is None  # never hung up on
            assert bench.desk.waiting[0].unverified is True
            if family != "huawei":
                assert len(prompts_with(virtual, CHALLENGE_WORDS)) == 2  # played twice
                assert prompts_with(virtual, CONNECTING_WORDS)
                assert not prompts_with(virtual, GOODBYE_WORDS)
            row = bench.row()
            assert row["challenge_result"] == "timeout" and row["reason"] == "no_history"
            # Heard on lines that can listen; not asked on lines with analogue audio only.
            assert row["voice_heard"] == (1 if family in LISTENING_FAMILIES else None)
            assert bench.service.answer("line1", "op1")
            await bench.wait_state(LineState.CONNECTED)
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["reached_operator"] == 1 and row["end_cause"] == "caller_hung_up"
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("sound", ["silence", "noise"])
@pytest.mark.parametrize("family", LISTENING_FAMILIES)
def test_line_that_hears_no_voice_releases_a_caller_who_never_presses(
    tmp_path: Path, family: str, sound: str
) -> None:
    """A quiet line or a phone in a pocket: goodbye and release, no operator alerted."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring(sound=CallerSound(sound))
            answered = await wait_answered(bench, virtual)
            await bench.wait_idle_after(virtual)
            assert virtual.ended_by is EndedBy.HOST and virtual.release == HANGUP[family]
            assert virtual.ended_at is not None
            assert virtual.ended_at - answered >= 2 * (PROMPT_S + 6.0) + PROMPT_S - 0.01
            # The line really listened: the caller's audio reached it on the voice port.
            assert virtual.audio_bytes_sent >= 2 * (PROMPT_S + 6.0) * PCM_BYTES_PER_S * 0.9
            if family != "huawei":
                assert prompts_with(virtual, GOODBYE_WORDS)
                assert not prompts_with(virtual, CONNECTING_WORDS)
            assert bench.desk.waiting == []
            row = bench.row()
            assert row["reason"] == "no_history" and row["challenge_result"] == "timeout"
            assert row["voice_heard"] == 0 and row["reached_operator"] == 0
            assert row["end_cause"] == "challenge_timeout"
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


def test_a_pocket_heard_speaking_after_it_was_heard_silent_is_released(tmp_path: Path) -> None:
    """A phone in a pocket dials again: rustle first, then its owner's voice, no key.
    The second call is released too (and listed for a call-back); the key still passes."""

    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25") as bench:
            rustle = bench.ring(sound=CallerSound("noise"))
            await wait_answered(bench, rustle)
            await bench.wait_idle_after(rustle)
            talking = bench.ring(sound=CallerSound("voice", start_s=1.0))
            await wait_answered(bench, talking)
            await bench.wait_idle_after(talking)
            assert talking.ended_by is EndedBy.HOST and bench.desk.waiting == []
            first, second = bench.rows()
            assert (first["voice_heard"], second["voice_heard"]) == (0, 1)
            assert second["end_cause"] == "challenge_timeout" and second["reached_operator"] == 0
            [listed] = bench.callbacks()  # one entry per number, its latest release
            assert (listed["reason"], listed["attempts"]) == ("spoke_without_key", 2)
            pressing = bench.ring(sound=CallerSound("voice", start_s=1.0))
            await wait_answered(bench, pressing)
            await bench.sleep(1.0)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            assert bench.rows()[2]["challenge_result"] == "passed"
            await hang_up_and_settle(bench, pressing)

    run_virtual(scenario)


@pytest.mark.parametrize(
    ("family", "line_options"),
    [
        ("sim800", {}),  # analogue audio only
        ("m95", {}),
        ("sim7600", {"listen": False}),  # listening switched off for the line
        ("ec25", {"voice_port": "/dev/siaga-no-such-port"}),  # the voice port will not open
    ],
    ids=["sim800", "m95", "sim7600-listen-off", "ec25-port-missing"],
)
def test_line_that_cannot_listen_passes_a_silent_caller_to_an_operator(
    tmp_path: Path, family: str, line_options: dict[str, Any]
) -> None:
    """Unheard is not silent: a line that could not listen never releases on silence."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family, **line_options) as bench:
            virtual = bench.ring(sound=CallerSound("silence"))
            await wait_answered(bench, virtual)
            await bench.wait_state(LineState.OPERATOR_RINGING, timeout_s=SILENT_CHALLENGE_S)
            assert bench.desk.waiting[0].unverified is True
            assert virtual.audio_bytes_sent == 0
            assert LISTEN.get(family) not in bench.commands_sent()
            row = bench.row()
            assert row["challenge_result"] == "timeout" and row["voice_heard"] is None
            await hang_up_and_settle(bench, virtual)
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", LISTENING_FAMILIES)
def test_caller_who_presses_the_key_passes_whatever_the_line_hears(
    tmp_path: Path, family: str
) -> None:
    """A genuine caller who cannot speak (silent line) is verified by the key alone."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring(sound=CallerSound("silence"))
            await wait_answered(bench, virtual)
            await bench.sleep(PROMPT_S + 3.0)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            assert bench.desk.waiting[0].unverified is False
            row = bench.row()
            assert row["challenge_result"] == "passed" and row["voice_heard"] == 0
            await hang_up_and_settle(bench, virtual)

    run_virtual(scenario)


@pytest.mark.parametrize("reason", ["blocklist", "abuse"])
@pytest.mark.parametrize("family", AUDIO_FAMILIES)
def test_silent_caller_with_junk_evidence_hears_goodbye_and_is_released(
    tmp_path: Path, family: str, reason: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            block_or_abuse(bench, reason)
            virtual = bench.ring()
            answered = await wait_answered(bench, virtual)
            await bench.wait_idle_after(virtual)
            assert virtual.ended_by is EndedBy.HOST and virtual.release == HANGUP[family]
            # Two prompt plays with their waits, then the goodbye played in full.
            assert virtual.ended_at is not None
            assert virtual.ended_at - answered >= 2 * (PROMPT_S + 6.0) + PROMPT_S - 0.01
            if family != "huawei":
                assert len(prompts_with(virtual, CHALLENGE_WORDS)) == 2
                assert prompts_with(virtual, GOODBYE_WORDS)
                assert not prompts_with(virtual, CONNECTING_WORDS)
            assert bench.desk.waiting == []
            row = bench.row()
            assert row["decision"] == "challenge" and row["reason"] == reason
            assert row["challenge_result"] == "timeout"
            assert row["end_cause"] == "challenge_timeout" and row["reached_operator"] == 0
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


def test_huawei_line_streams_the_recorded_prompt_from_the_host(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The stick has no player: the host sends the WAV recording, sample for sample."""
    recording = tmp_path / "tekan5.wav"
    with wave.open(str(recording), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x10\x00" * 4000)  # 0.5 s
    prompts = {"challenge_file": recording.name, "challenge_seconds": 0.5}
    config = make_config(prompts=prompts, site={"language": "en", "recordings_dir": tmp_path})

    async def scenario() -> None:
        async with open_bench(tmp_path, "huawei", config=config) as bench:
            virtual = bench.ring()
            answered = await wait_answered(bench, virtual)
            await bench.sleep(answered + 2.0 - bench.loop.time())  # played; waiting for 5
            assert virtual.voice_bytes == 8000
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            await hang_up_and_settle(bench, virtual)

    with caplog.at_level(logging.ERROR, logger="appliance.line"):
        run_virtual(scenario)
    # The "connecting" prompt has no recording: a tone, said once.
    complaints = [r.message for r in caplog.records if "cannot speak text" in r.message]
    assert len(complaints) == 1 and "connecting" in complaints[0]


REPORTED_WORDS = "reported for prank calls"
REPORTED_HOLD_S = 30.0


@pytest.mark.parametrize("family", PLAYER_FAMILIES)
def test_reported_number_that_presses_the_key_hears_a_warning_and_waits_for_an_operator(
    tmp_path: Path, family: str
) -> None:
    """Operators recorded pranks from it: warned and held, then put through, never cut off."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            block_or_abuse(bench, "abuse")
            virtual = bench.ring()
            answered = await wait_answered(bench, virtual)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.HOLDING)
            pressed_at = bench.loop.time()
            await bench.wait_state(LineState.OPERATOR_RINGING, timeout_s=2 * REPORTED_HOLD_S)
            waited_s = bench.loop.time() - pressed_at
            assert PROMPT_S + REPORTED_HOLD_S - 0.5 <= waited_s <= PROMPT_S + REPORTED_HOLD_S + 4
            assert prompts_with(virtual, REPORTED_WORDS)
            assert bench.desk.waiting[0].unverified is False
            row = bench.row()
            assert row["reason"] == "abuse" and row["challenge_result"] == "passed"
            assert row["hold_s"] == pytest.approx(waited_s, abs=2.0)
            assert bench.service.answer("line1", "op1")
            await bench.wait_state(LineState.CONNECTED)
            await hang_up_and_settle(bench, virtual)
            assert bench.row()["reached_operator"] == 1
            assert answered < pressed_at

    run_virtual(scenario)


def test_reported_caller_who_hangs_up_during_the_hold_never_alerts_an_operator(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim7600") as bench:
            block_or_abuse(bench, "abuse")
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.HOLDING)
            await bench.sleep(PROMPT_S + 5.0)
            bench.modem.caller_hangs_up(virtual)
            await bench.wait_idle_after(virtual)
            assert bench.desk.waiting == []
            row = bench.row()
            assert row["challenge_result"] == "passed" and row["reached_operator"] == 0
            assert row["end_cause"] == "caller_hung_up" and row["hold_s"] is None
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("reason", ["blocklist", "no_history"])
def test_numbers_nobody_reported_are_not_held(tmp_path: Path, reason: str) -> None:
    """A supervisor's block or an unknown number passes straight on after the key."""

    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25") as bench:
            if reason == "blocklist":
                bench.add_rule("block", "challenge")
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            assert not prompts_with(virtual, REPORTED_WORDS)
            assert bench.row()["hold_s"] is None
            await hang_up_and_settle(bench, virtual)

    run_virtual(scenario)


@pytest.mark.parametrize("reason", ["blocklist", "no_history"])
@pytest.mark.parametrize("family", AUDIO_FAMILIES)
def test_wrong_key_on_both_attempts_fails_the_challenge(
    tmp_path: Path, family: str, reason: str
) -> None:
    """Failed; released on junk evidence, otherwise (a confused human?) passed unverified."""

    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            if reason == "blocklist":
                bench.add_rule("block", "challenge")
            virtual = bench.ring()
            answered = await wait_answered(bench, virtual)
            await bench.sleep(1.0)
            bench.modem.caller_presses("1")  # during the first play
            await bench.sleep(answered + PROMPT_S + 6.0 + 1.5 - bench.loop.time())
            bench.modem.caller_presses("2")  # during the second play
            if reason == "blocklist":
                await bench.wait_idle_after(virtual)
                assert virtual.release == HANGUP[family]
                if family != "huawei":
                    assert prompts_with(virtual, GOODBYE_WORDS)
                assert bench.desk.waiting == []
                end_cause = "challenge_failed"
            else:
                await bench.wait_state(LineState.OPERATOR_RINGING, timeout_s=SILENT_CHALLENGE_S)
                assert bench.desk.waiting[0].unverified is True
                await hang_up_and_settle(bench, virtual)
                end_cause = "caller_hung_up"
            assert virtual.keys_reported == "12"
            row = bench.row()
            assert row["reason"] == reason and row["challenge_result"] == "failed"
            assert row["end_cause"] == end_cause
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", AUDIO_FAMILIES)
def test_caller_hanging_up_during_the_challenge_is_logged_as_caller_hung_up(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring()
            await wait_answered(bench, virtual)
            await bench.sleep(1.0)
            assert bench.line.state is LineState.CHALLENGING
            await hang_up_and_settle(bench, virtual)
            assert virtual.ended_by is EndedBy.CALLER
            row = bench.row()
            assert row["challenge_result"] == "caller_hung_up"
            assert row["end_cause"] == "caller_hung_up" and row["reached_operator"] == 0
            assert bench.desk.waiting == []
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


# --------------------------------------------------------------------------- announce, reject


@pytest.mark.parametrize("family", AUDIO_FAMILIES)
def test_announce_answers_plays_the_message_and_hangs_up(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("block", "announce")
            virtual = bench.ring()
            answered = await wait_answered(bench, virtual)
            await bench.wait_idle_after(virtual)
            assert virtual.release == HANGUP[family] and virtual.ended_by is EndedBy.HOST
            assert virtual.ended_at is not None and virtual.ended_at - answered >= PROMPT_S - 0.01
            if family == "huawei":
                assert virtual.voice_bytes > 0
            else:
                assert prompts_with(virtual, ANNOUNCE_WORDS)
            row = bench.row()
            assert row["decision"] == "announce" and row["reason"] == "blocklist"
            assert row["end_cause"] == "announced" and row["reached_operator"] == 0
            assert bench.desk.waiting == []
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("method", ["hangup", "chup", "busy"])
@pytest.mark.parametrize("family", FAMILIES)
def test_reject_releases_before_answering_with_the_configured_method(
    tmp_path: Path, family: str, method: str
) -> None:
    expected = {"hangup": HANGUP[family], "chup": "AT+CHUP", "busy": "AT+CHLD=0"}[method]

    async def scenario() -> None:
        async with open_bench(tmp_path, family, reject_method=method) as bench:
            bench.add_rule("block", "reject")
            virtual = bench.ring()
            await bench.wait_idle_after(virtual)
            assert virtual.answered_at is None
            assert virtual.ended_by is EndedBy.HOST and virtual.release == expected
            assert expected in bench.commands_sent() and "ATA" not in bench.commands_sent()
            row = bench.row()
            assert row["decision"] == "reject" and row["reason"] == "blocklist"
            assert row["end_cause"] == "rejected" and row["reached_operator"] == 0
            assert bench.desk.waiting == []
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("action", ["challenge", "announce"])
def test_generic_modem_without_audio_fails_open_to_an_operator(tmp_path: Path, action: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "generic") as bench:
            if action == "announce":
                bench.add_rule("block", "announce")
            virtual = bench.ring()  # challenge: an unknown number
            await operator_takes_call(bench)
            assert virtual.state is CallState.ACTIVE
            row = bench.row()
            assert row["decision"] == "pass" and row["reason"] == "fail_open"
            assert row["rule"] == f"{action}_unavailable"
            assert row["challenge_result"] is None
            assert [event["line"] for event in bench.events("fail_open")] == ["line1"]
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["reached_operator"] == 1 and row["end_cause"] == "caller_hung_up"
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


# --------------------------------------------------------------------------- caller ID on the wire


def _clip_every_200_ms(modem: VirtualModem) -> None:
    modem.clip_delay_s = 0.2


@pytest.mark.parametrize("family", FAMILIES)
def test_ring_and_clip_in_separate_reads_make_one_call_with_its_number(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, modem_setup=_clip_every_200_ms) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            await bench.sleep(12.0)  # two more RING ... +CLIP repeats
            assert virtual.rings >= 3
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["caller_raw"] == CALLER and row["caller"] == CALLER_E164
            assert row["reason"] == "allowlist"
            assert len(bench.desk.waiting) == 1
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


def _split_every_write(modem: VirtualModem) -> None:
    modem.split_writes = True


@pytest.mark.parametrize("family", FAMILIES)
def test_clip_split_across_writes_still_gives_the_number(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, modem_setup=_split_every_write) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await operator_takes_call(bench)
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["caller_raw"] == CALLER and row["caller"] == CALLER_E164
            assert row["end_cause"] == "caller_hung_up" and row["reached_operator"] == 1
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAMILIES)
def test_call_urcs_inside_a_command_reply_do_not_lose_the_call(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=1.0) as bench:
            bench.add_rule("allow", "pass")
            bench.modem.urc_inside_next_reply = True
            virtual = bench.ring()  # held by the modem until the next reply (a health poll)
            await bench.wait_state(LineState.OPERATOR_RINGING)
            lines = [text for _, _, text in bench.modem.transcript]
            poll = lines.index("AT+CSQ")
            ring = next(i for i, text in enumerate(lines) if text in ("RING", "+CRING: VOICE"))
            final = lines.index("OK", poll)
            assert poll < ring < final, lines[poll : final + 1]
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["caller"] == CALLER_E164
            assert bench.line.health.signal == bench.modem.signal  # the poll itself worked
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAMILIES)
def test_garbage_before_a_ring_does_not_lose_the_call(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass")
            channel = bench.line.channel
            assert channel is not None
            bench.modem.inject(b"\xff\xfe garbage\r\n")
            virtual = bench.ring()
            await operator_takes_call(bench)
            assert channel.garbage_lines >= 1
            await hang_up_and_settle(bench, virtual)
            assert bench.row()["caller"] == CALLER_E164
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", AUDIO_FAMILIES)
def test_withheld_caller_is_classed_withheld_challenged_and_never_dropped(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring(None)  # +CLIP: "",128,... validity 1
            await wait_answered(bench, virtual)
            row = bench.row()
            assert row["number_class"] == "withheld" and row["caller"] is None
            assert row["decision"] == "challenge" and row["reason"] == "withheld"
            # No number to call back: a silent withheld caller goes to an operator.
            await bench.wait_state(LineState.OPERATOR_RINGING, timeout_s=SILENT_CHALLENGE_S)
            assert bench.desk.waiting[0].unverified is True
            await hang_up_and_settle(bench, virtual)
            assert bench.row()["challenge_result"] == "timeout"
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


def test_generic_modem_without_a_validity_field_reports_a_withheld_caller_unavailable(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "generic") as bench:
            virtual = bench.ring(None)  # +CLIP: "",128 (27.007 minimum: no validity)
            await bench.wait_state(LineState.OPERATOR_RINGING)
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["number_class"] == "unavailable" and row["caller"] is None
            assert row["decision"] == "pass" and row["reason"] == "fail_open"
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


# --------------------------------------------------------------------------- deflection


@pytest.mark.parametrize("family", FAMILIES)
def test_deflect_to_sends_the_call_on_with_ctfr(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, deflect_to=DEFLECT_TO) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await bench.wait_idle_after(virtual)
            assert f'AT+CTFR="{DEFLECT_TO}",145' in bench.commands_sent()
            assert virtual.release == "AT+CTFR" and virtual.deflected_to == DEFLECT_TO
            assert virtual.answered_at is None
            assert bench.desk.waiting == []
            row = bench.row()
            assert row["decision"] == "pass" and row["end_cause"] == "deflected"
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


def _no_deflection(modem: VirtualModem) -> None:
    modem.deflect_supported = False  # AT+CTFR -> +CME ERROR: 3 (not provisioned)


@pytest.mark.parametrize("family", FAMILIES)
def test_refused_deflection_falls_back_to_alerting_the_desk(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(
            tmp_path, family, deflect_to=DEFLECT_TO, modem_setup=_no_deflection
        ) as bench:
            bench.add_rule("allow", "pass")
            virtual = bench.ring()
            await operator_takes_call(bench)
            assert any(cmd.startswith("AT+CTFR=") for cmd in bench.commands_sent())
            assert virtual.deflected_to is None and virtual.state is CallState.ACTIVE
            await hang_up_and_settle(bench, virtual)
            row = bench.row()
            assert row["reached_operator"] == 1 and row["end_cause"] == "caller_hung_up"
            # One refusal does not switch deflection off: the next call tries again.
            second = bench.ring()
            await operator_takes_call(bench)
            deflections = [cmd for cmd in bench.commands_sent() if cmd.startswith("AT+CTFR=")]
            assert len(deflections) == 2
            await hang_up_and_settle(bench, second)
            assert_log_consistent(bench, calls=2)

    run_virtual(scenario)


@pytest.mark.parametrize("family", ["sim800", "ec25"])
def test_a_caller_waiting_after_the_challenge_hears_the_hold_message_again(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            virtual = bench.ring()  # unknown number: challenged
            await wait_answered(bench, virtual)
            bench.modem.caller_presses("5")
            await bench.wait_state(LineState.OPERATOR_RINGING)
            assert len(prompts_with(virtual, CONNECTING_WORDS)) == 1
            await bench.sleep(2 * HOLD_REPEAT_S + 1.0)  # no operator free for a while
            assert len(prompts_with(virtual, CONNECTING_WORDS)) == 3
            assert bench.service.answer("line1", "op1")
            await bench.wait_state(LineState.CONNECTED)
            await bench.sleep(2 * HOLD_REPEAT_S)  # once connected, no more recordings
            assert len(prompts_with(virtual, CONNECTING_WORDS)) == 3
            await hang_up_and_settle(bench, virtual)
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


# --------------------------------------------------------------------------- call waiting


@pytest.mark.parametrize("family", FAMILIES)
def test_second_call_while_busy_is_released_busy_and_logged(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass")
            first = bench.ring()
            await operator_takes_call(bench)
            second = bench.ring("082299887766")
            await bench.wait_until(lambda: not second.live, "the waiting call to be released")
            assert second.answered_at is None
            assert second.ended_by is EndedBy.HOST and second.release == "AT+CHLD=0"
            assert first.state is CallState.ACTIVE and bench.line.state is LineState.CONNECTED
            events = bench.events("call_waiting")
            assert len(events) == 1 and '"reject"' in events[0]["detail"]
            assert "+6282299887766" in events[0]["detail"]
            await hang_up_and_settle(bench, first)
            assert bench.row()["end_cause"] == "caller_hung_up"
            assert_log_consistent(bench, calls=1)  # a waiting call is an event, not a row

    run_virtual(scenario)


# --------------------------------------------------------------------------- port and modem faults


@pytest.mark.parametrize("family", FAMILIES)
def test_unplug_fails_the_line_and_ends_the_call_in_progress(tmp_path: Path, family: str) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, link=tmp_path / "modem") as bench:
            bench.add_rule("allow", "pass")
            bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            bench.unplug()
            await bench.wait_state(LineState.FAILED)
            assert bench.line.call is None and bench.line.channel is None
            row = bench.row()
            assert row["end_cause"] == "line_failed" and row["reached_operator"] == 0
            assert len(bench.desk.ended) == 1
            await bench.sleep(30.0)  # it keeps trying the vanished port, and keeps failing
            assert bench.line.state is LineState.FAILED
            assert len(bench.events("line_failed")) == 1
            assert not bench.service.answer("line1", "op1")
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


def _backoff_delays(records: list[logging.LogRecord]) -> list[float]:
    pattern = re.compile(r"reconnecting in (\d+) s")
    delays = []
    for record in records:
        found = pattern.search(record.getMessage())
        if found:
            delays.append(float(found.group(1)))
    return delays


@pytest.mark.parametrize("family", FAMILIES)
def test_replugged_modem_on_a_new_path_is_reconnected_with_back_off(
    tmp_path: Path, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="appliance.line")

    async def scenario() -> None:
        # What udev gives: a stable name (/dev/serial/by-id/...) for a tty that moves.
        async with open_bench(tmp_path, family, link=tmp_path / "modem") as bench:
            bench.add_rule("allow", "pass")
            old_path = bench.modem.port
            bench.unplug()
            await bench.wait_state(LineState.FAILED)
            await bench.sleep(40.0)
            assert bench.line.state is LineState.FAILED
            # Boot lines go out before the line reopens the port (its open() flushes them).
            new_path = await bench.modem.replug()
            assert new_path != old_path
            bench.plug_in_as(new_path)
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 10.0)
            assert bench.line.channel is not None and bench.modem.settings.clip

            delays = _backoff_delays(caplog.records)
            assert delays[0] == BACKOFF_FIRST_S and len(delays) >= 4
            assert all(b == min(a * 2, BACKOFF_MAX_S) for a, b in itertools.pairwise(delays))
            assert len(bench.events("line_failed")) == 1
            assert len(bench.events("line_up")) == 2

            virtual = bench.ring()  # the next call is handled on the new port
            await operator_takes_call(bench)
            await hang_up_and_settle(bench, virtual)
            assert bench.row()["caller"] == CALLER_E164
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


@pytest.mark.parametrize("family", BOOTING_FAMILIES)
def test_rebooted_modem_is_initialised_again_and_takes_the_next_call(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass")
            before = bench.ring()
            await bench.wait_state(LineState.OPERATOR_RINGING)
            bench.modem.reboot(delay_s=2.0)
            assert not before.live and not bench.modem.settings.clip  # settings are lost
            await bench.wait_until(
                lambda: bool(bench.events("line_reinitialised")), "re-initialisation"
            )
            await bench.wait_state(LineState.IDLE)
            assert bench.modem.settings.clip and not bench.modem.settings.echo
            assert bench.rows()[0]["end_cause"] == "modem_rebooted"

            after = bench.ring("082299887766")
            await operator_takes_call(bench)
            await hang_up_and_settle(bench, after)
            rows = assert_log_consistent(bench, calls=2)
            assert rows[1]["caller"] == "+6282299887766" and rows[1]["reached_operator"] == 1
            assert bench.line.state is LineState.IDLE

    run_virtual(scenario)


@pytest.mark.parametrize("family", FAMILIES)
def test_silent_modem_fails_health_polls_then_reconnects_when_it_answers(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, health_interval_s=2.0) as bench:
            await bench.sleep(10.0)
            assert bench.line.state is LineState.IDLE and bench.line.health.signal is not None
            bench.modem.silent = True
            await bench.wait_state(LineState.FAILED, timeout_s=60.0)
            assert "AT+CSQ" in (bench.line.health.last_error or "")
            await bench.sleep(20.0)
            assert bench.line.state is not LineState.IDLE
            bench.modem.silent = False
            await bench.wait_state(LineState.IDLE, timeout_s=BACKOFF_MAX_S + 30.0)
            assert len(bench.events("line_failed")) == 1
            assert len(bench.events("line_up")) == 2

            virtual = bench.ring()  # the line works again: the call is handled
            if family == "generic":
                await operator_takes_call(bench)
            else:
                await wait_answered(bench, virtual)
            await hang_up_and_settle(bench, virtual)
            assert_log_consistent(bench, calls=1)

    run_virtual(scenario)


# --------------------------------------------------------------------------- the call log


@pytest.mark.parametrize("family", FAMILIES)
def test_every_call_ends_in_exactly_one_row_with_its_decision_time(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family) as bench:
            bench.add_rule("allow", "pass", "+6281111111111")
            bench.add_rule("block", "reject", "+6282222222222")
            bench.add_rule("block", "announce", "+6283333333333")

            passed = bench.ring("081111111111")
            await operator_takes_call(bench)
            await hang_up_and_settle(bench, passed)

            rejected = bench.ring("082222222222")
            await bench.wait_idle_after(rejected)

            announced = bench.ring("083333333333")
            if family == "generic":  # no audio: fails open to the desk
                await operator_takes_call(bench)
                await hang_up_and_settle(bench, announced)
            else:
                await bench.wait_idle_after(announced)

            challenged = bench.ring("084444444444")
            if family == "generic":
                await operator_takes_call(bench)
            else:
                await wait_answered(bench, challenged)
                bench.modem.caller_presses("5")
                await operator_takes_call(bench)
            await hang_up_and_settle(bench, challenged)

            # A caller who gives up before the caller ID arrives still leaves a row.
            bench.modem.clip_delay_s = 0.5
            early = bench.ring("085555555555")
            await bench.sleep(0.1)
            await hang_up_and_settle(bench, early)

            rows = assert_log_consistent(bench, calls=5)
            ends = [row["end_cause"] for row in rows]
            assert ends[0] == "caller_hung_up" and ends[1] == "rejected"
            assert ends[2] == ("caller_hung_up" if family == "generic" else "announced")
            assert ends[3] == "caller_hung_up" and ends[4] == "caller_hung_up"
            assert rows[4]["rule"] == "ended_before_screening"
            assert [row["reached_operator"] for row in rows] == [
                1,
                0,
                1 if family == "generic" else 0,
                1,
                0,
            ]
            assert [call.call_id for call in bench.desk.ended] == [row["id"] for row in rows]

    run_virtual(scenario)


class DiskCheckingDesk(OperatorDesk):
    """A desk that, when told a call ended, reads that call's row from the file."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.ended_rows_on_disk: list[bool] = []

    def call_waiting(self, line: Line, call: ActiveCall) -> None:
        """Nothing to do."""

    def call_ended(self, line: Line, call: ActiveCall) -> None:
        """Record whether the ended row is already committed."""
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            row = connection.execute(
                "select ended_at from calls where id = ?", [call.call_id]
            ).fetchone()
        finally:
            connection.close()
        self.ended_rows_on_disk.append(row is not None and row[0] is not None)


def test_a_call_is_reported_ended_only_once_its_row_is_on_disk(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            desk = DiskCheckingDesk(bench.db_path)
            bench.service.desks.append(desk)
            bench.add_rule("block", "reject", "+6282222222222")
            for _ in range(5):
                await bench.wait_idle_after(bench.ring("082222222222"))
            await bench.wait_until(lambda: len(desk.ended_rows_on_disk) == 5, "five reports")
            assert desk.ended_rows_on_disk == [True] * 5

    run_virtual(scenario)


@pytest.mark.parametrize("family", ["sim800", "huawei"])
def test_waiting_call_in_ignore_mode_is_logged_once_and_rings_when_the_line_frees(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, call_waiting="ignore") as bench:
            bench.add_rule("allow", "pass")
            first = bench.ring()
            await operator_takes_call(bench)
            second = bench.ring("082299887766")
            await bench.sleep(12.0)  # +CCWA repeats while it waits
            assert second.state is CallState.WAITING and "AT+CHLD=0" not in bench.commands_sent()
            assert bench.line.state is LineState.CONNECTED
            bench.modem.caller_hangs_up(first)
            await bench.wait_until(lambda: not first.live, "the first call to end")
            # Promoted to ringing once the line is free: a call of its own, taken at once
            # (its RING may share a read with the first call's end).
            await operator_takes_call(bench)
            await hang_up_and_settle(bench, second)
            rows = assert_log_consistent(bench, calls=2)
            assert rows[1]["caller"] == "+6282299887766"
            events = bench.events("call_waiting")
            assert len(events) == 1 and '"ignore"' in events[0]["detail"]

    run_virtual(scenario)


def _silent_from_power_on(modem: VirtualModem) -> None:
    modem.silent = True


@pytest.mark.parametrize("family", ["sim800", "ec25"])
def test_stopping_the_service_while_a_line_initialises_releases_the_port(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(
            tmp_path, family, modem_setup=_silent_from_power_on, wait_idle=False
        ) as bench:
            await bench.wait_state(LineState.INITIALISING)
            await bench.sleep(1.0)  # waiting for the modem's first "OK"
            channel = bench.line.channel
            assert channel is not None and channel.is_open
        assert not channel.is_open  # the port (and its exclusive lock) is released
        assert bench.line.channel is None and bench.line.state is LineState.DOWN

    run_virtual(scenario)


def test_the_call_log_line_cannot_be_forged_by_caller_id_text() -> None:
    call = ActiveCall(call_id=7, started_ts=0.0)
    call.caller = CallerNumber(
        raw="0812\nline2 call 8 +62811 pass/default -> operator_hung_up\x1b[2J",
        e164=None,
        number_class=NumberClass.UNPARSEABLE,
    )
    call.decision = Decision(Action.CHALLENGE, Reason.UNPARSEABLE)
    call.ended_ts = 1.0
    call.end_cause = "caller_hung_up"
    text = describe_call("line1", call)
    assert "\n" not in text and "\x1b" not in text
    assert text.startswith("line1 call 7 0812?line2")
    assert text.endswith("challenge/unparseable -> caller_hung_up")


def test_a_different_modem_on_the_port_raises_an_alarm_and_screening_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800", imei="490154203237518") as bench:
            [event] = bench.events("modem_changed")
            assert "490154203237518" in event["detail"] and event["line"] == "line1"
            virtual = bench.ring()
            await bench.wait_state(LineState.CHALLENGING)  # still screening
            await hang_up_and_settle(bench, virtual)

    with caplog.at_level(logging.WARNING, logger="appliance.line"):
        run_virtual(scenario)
    assert any("ALARM modem_changed" in record.message for record in caplog.records)


def test_the_configured_modem_raises_no_alarm(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "ec25", imei="356938035643809") as bench:
            assert bench.events("modem_changed") == []

    run_virtual(scenario)
