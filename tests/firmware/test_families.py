"""Modem family adapters: per-family commands, detection, escaping, host PCM prompts."""

from __future__ import annotations

import asyncio
import os
import re
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.clock import VirtualTimeLoop
from firmware.families import (
    FAMILY_NAMES,
    PCM_FRAME_BYTES,
    ModemFamily,
    Prompt,
    at_text,
    detect_family,
    family_by_name,
    pcm_tone_frame,
    read_pcm_recording,
    stream_pcm_prompt,
)
from tests.firmware.conftest import RawPty, run

SPEECH = Prompt("challenge", 'Tekan "5" untuk\r\nlanjut', 4.0)
RECORDED = Prompt("challenge", "Tekan 5", 4.0, file="tekan5.amr")


def test_every_family_is_known_by_name() -> None:
    assert FAMILY_NAMES == ("sim800", "sim7600", "ec25", "m95", "huawei", "generic")
    for name in FAMILY_NAMES:
        assert family_by_name(name).name == name
    assert family_by_name(" SIM800 ").name == "sim800"


def test_unknown_family_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="sim800, sim7600, ec25, m95, huawei, generic"):
        family_by_name("nokia")


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_init_enables_errors_caller_id_extended_ring_and_waiting_reports(name: str) -> None:
    commands = family_by_name(name).init_commands()
    assert commands[0] == "AT+CMEE=1"
    for needed in ("AT+CLIP=1", "AT+CRC=1", "AT+CCWA=1"):
        assert needed in commands
    assert len(commands) == len(set(commands))
    assert all(command.startswith("AT") and command.isascii() for command in commands)


@pytest.mark.parametrize(
    ("name", "extras"),
    [
        ("sim800", ["AT+CVHU=0", "AT+DDET=1,0,0,0"]),
        ("sim7600", ["AT+DDET=1", "AT+CDTAM=1"]),
        ("ec25", ['AT+QURCCFG="urcport","usbat"', "AT+QTONEDET=1"]),
        ("m95", ["AT+QTONEDET=1"]),
        ("huawei", ["AT^CURC=0"]),
        ("generic", []),
    ],
)
def test_init_has_the_family_extras(name: str, extras: list[str]) -> None:
    commands = family_by_name(name).init_commands()
    base = {"AT+CMEE=1", "AT+CLIP=1", "AT+CRC=1", "AT+CCWA=1"}
    assert [command for command in commands if command not in base] == extras


def test_urc_routing_and_noise_suppression_come_before_caller_id() -> None:
    ec25 = family_by_name("ec25").init_commands()
    assert ec25.index('AT+QURCCFG="urcport","usbat"') < ec25.index("AT+CLIP=1")
    huawei = family_by_name("huawei").init_commands()
    assert huawei.index("AT^CURC=0") < huawei.index("AT+CLIP=1")


@pytest.mark.parametrize(
    ("name", "hangup"),
    [
        ("sim800", "ATH"),
        ("sim7600", "AT+CHUP"),
        ("ec25", "AT+CHUP"),
        ("m95", "ATH"),
        ("huawei", "AT+CHUP"),
        ("generic", "ATH"),
    ],
)
def test_answer_hangup_and_reject_commands(name: str, hangup: str) -> None:
    family = family_by_name(name)
    assert family.answer_command() == "ATA"
    assert family.hangup_command() == hangup
    assert family.reject_command("hangup") == hangup
    assert family.reject_command("chup") == "AT+CHUP"
    assert family.reject_command("busy") == "AT+CHLD=0"
    with pytest.raises(ValueError):
        family.reject_command("drop")  # type: ignore[arg-type]


def test_optional_init_tries_dtmf_on_generic_and_network_time_where_known() -> None:
    """Commands whose ERROR is tolerable: DTMF reports on unknown modems, and letting the
    network set the module's clock (AT+CCLK? then tells whether the Pi's clock is right)."""
    assert family_by_name("generic").optional_init_commands() == ["AT+DDET=1"]
    assert family_by_name("sim800").optional_init_commands() == ["AT+CLTS=1"]
    assert family_by_name("sim7600").optional_init_commands() == ["AT+CTZU=1"]
    assert family_by_name("ec25").optional_init_commands() == ["AT+CTZU=3"]
    assert family_by_name("m95").optional_init_commands() == ["AT+CTZU=3"]
    assert family_by_name("huawei").optional_init_commands() == []


def test_only_huawei_needs_audio_routing_after_answer_and_host_audio() -> None:
    assert family_by_name("huawei").after_answer_commands() == ["AT^DDSETEX=2"]
    assert family_by_name("huawei").host_audio
    for name in ("sim800", "sim7600", "ec25", "m95", "generic"):
        assert family_by_name(name).after_answer_commands() == []
        assert not family_by_name(name).host_audio


@pytest.mark.parametrize(
    ("name", "speech", "recorded"),
    [
        (
            "sim800",
            "AT+CTTS=2,\"Tekan '5' untuk lanjut\"",
            'AT+CREC=4,"C:\\User\\tekan5.amr",0,90',
        ),
        ("sim7600", "AT+CTTS=2,\"Tekan '5' untuk lanjut\"", 'AT+CCMXPLAY="C:/tekan5.amr",1,0'),
        ("ec25", "AT+QWTTS=1,1,2,\"Tekan '5' untuk lanjut\"", 'AT+QPSND=1,"tekan5.amr",0,1,1'),
        ("m95", "AT+QWTTS=1,1,2,\"Tekan '5' untuk lanjut\"", 'AT+QPSND=1,"tekan5.amr",0,1,1'),
        ("huawei", None, None),
        ("generic", None, None),
    ],
)
def test_play_commands(name: str, speech: str | None, recorded: str | None) -> None:
    family = family_by_name(name)
    assert family.play_command(SPEECH) == speech
    assert family.play_command(RECORDED) == recorded


@pytest.mark.parametrize(
    ("name", "speech", "recorded"),
    [
        ("sim800", "AT+CTTS=0", "AT+CREC=5"),
        ("sim7600", "AT+CTTS=0", "AT+CCMXSTOP"),
        ("ec25", None, "AT+QPSND=0"),
        ("m95", None, "AT+QPSND=0"),
        ("huawei", None, None),
        ("generic", None, None),
    ],
)
def test_stop_play_commands(name: str, speech: str | None, recorded: str | None) -> None:
    family = family_by_name(name)
    assert family.stop_play_command(SPEECH) == speech
    assert family.stop_play_command(RECORDED) == recorded


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ('say "hi"', "say 'hi'"),
        ("line\r\nbreak\x00here", "line break here"),
        ("back\\slash", "back slash"),
        ("Déjà vu", "Deja vu"),
        ("  many   spaces ", "many spaces"),
        ("", ""),
    ],
)
def test_text_is_escaped_for_quoted_at_strings(text: str, safe: str) -> None:
    assert at_text(text) == safe


def test_every_play_command_is_one_safe_ascii_line() -> None:
    nasty = Prompt("x", 'a"b\r\nATH\x1a;ö', 1.0)
    for name in FAMILY_NAMES:
        command = family_by_name(name).play_command(nasty)
        if command is not None:
            assert command.isascii()
            assert "\r" not in command and "\n" not in command and "\x1a" not in command
            assert command.count('"') == 2


@pytest.mark.parametrize("file", ["../etc/passwd", 'a".amr', "a b.amr", "", "x\r.amr"])
def test_prompt_refuses_unsafe_file_names(file: str) -> None:
    with pytest.raises(ValueError):
        Prompt("bad", "text", 1.0, file=file)


def test_prompt_refuses_negative_duration() -> None:
    with pytest.raises(ValueError):
        Prompt("bad", "text", -1.0)


@pytest.mark.parametrize(
    ("number", "command"),
    [
        ("+6281234567890", 'AT+CTFR="+6281234567890",145'),
        ("081234567890", 'AT+CTFR="081234567890",129'),
        ("0812-3456 7890", 'AT+CTFR="081234567890",129'),
    ],
)
def test_deflect_command(number: str, command: str) -> None:
    for name in FAMILY_NAMES:
        assert family_by_name(name).deflect_command(number) == command


@pytest.mark.parametrize("number", ["", "abc", '0812"', "0812\r\nATH", "++62"])
def test_deflect_refuses_non_dial_strings(number: str) -> None:
    with pytest.raises(ValueError):
        family_by_name("sim800").deflect_command(number)


@pytest.mark.parametrize(
    ("cgmi", "cgmm", "name"),
    [
        ("SIMCOM_Ltd", "SIMCOM_SIM800L", "sim800"),
        ("SIMCOM_Ltd", "SIM800", "sim800"),
        ("SIMCOM_Ltd", "SIMCOM_SIM900", "sim800"),
        ("SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H", "sim7600"),
        ("SIMCOM_SIM7600E-H", "SIMCOM_SIM7600E-H", "sim7600"),
        ("Quectel", "EC25", "ec25"),
        ("Quectel", "EC21", "ec25"),
        ("Quectel", "UC20", "ec25"),
        ("Quectel", "EG25", "ec25"),
        ("Quectel_Ltd", "Quectel_M95", "m95"),
        ("Quectel", "M66", "m95"),
        ("huawei", "E1550", "huawei"),
        ("Huawei Technologies", "E173", "huawei"),
        ("+CGMI: Quectel", "+CGMM: EC25", "ec25"),
        ("u-blox", "SARA-U201", "generic"),
        ("Quectel", "BG96", "generic"),
        ("", "", "generic"),
    ],
)
def test_detect_family_from_cgmi_and_cgmm(cgmi: str, cgmm: str, name: str) -> None:
    family = detect_family(cgmi, cgmm)
    assert isinstance(family, ModemFamily)
    assert family.name == name


# -- host PCM -----------------------------------------------------------------------------


def test_tone_frame_is_one_20ms_s16le_frame() -> None:
    frame = pcm_tone_frame()
    assert len(frame) == PCM_FRAME_BYTES == 320
    assert frame[:2] == b"\x00\x00"  # starts at a zero crossing: frames join without clicks


def _drain(pty: RawPty) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(pty.master, 65536)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_pcm_prompt_writes_real_time_frames(pty: RawPty) -> None:
    run(stream_pcm_prompt(pty.path, 0.2))
    data = _drain(pty)
    assert len(data) == 10 * PCM_FRAME_BYTES
    assert data[:PCM_FRAME_BYTES] == pcm_tone_frame()


def test_pcm_prompt_takes_virtual_time_on_the_virtual_loop(pty: RawPty) -> None:
    loop = VirtualTimeLoop()
    try:
        started = loop.time()
        loop.run_until_complete(stream_pcm_prompt(pty.path, 0.2))
        assert loop.time() - started == pytest.approx(0.2, abs=0.021)
    finally:
        loop.close()
    assert len(_drain(pty)) == 10 * PCM_FRAME_BYTES


def write_wav(path: Path, data: bytes, *, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as recording:
        recording.setnchannels(channels)
        recording.setsampwidth(2)
        recording.setframerate(rate)
        recording.writeframes(data)
    return path


def test_recorded_prompt_is_streamed_sample_for_sample(pty: RawPty, tmp_path: Path) -> None:
    """A WAV recording replaces the tone; the last frame is padded with silence."""
    samples = bytes(range(256)) * 13  # 3,328 bytes: 10 frames and a part
    recording = read_pcm_recording(write_wav(tmp_path / "tekan5.wav", samples))
    assert recording == samples
    run(stream_pcm_prompt(pty.path, 99.0, recording))  # the recording's length wins
    data = _drain(pty)
    assert len(data) == 11 * PCM_FRAME_BYTES
    assert data[: len(samples)] == samples and set(data[len(samples) :]) == {0}


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: write_wav(p, b"\0" * 640, rate=44100), "need 8000 Hz mono 16-bit PCM"),
        (lambda p: write_wav(p, b"\0" * 640, channels=2), "2 channel(s)"),
        (lambda p: p.write_bytes(b"ID3\x03 not a wav at all") and p, "not a PCM WAV file"),
        (lambda p: p, "no such file"),
    ],
    ids=["44.1-kHz", "stereo", "mp3", "missing"],
)
def test_unusable_recording_is_refused_with_the_reason(
    tmp_path: Path, make: Callable[[Path], object], problem: str
) -> None:
    path = tmp_path / "prompt.wav"
    make(path)
    with pytest.raises(ValueError, match=re.escape(problem)):
        read_pcm_recording(path)


def test_pcm_prompt_on_a_missing_port_raises_os_error() -> None:
    with pytest.raises(OSError):
        asyncio.run(stream_pcm_prompt("/dev/does-not-exist-siaga", 0.1))


# -- contract with the virtual modem ------------------------------------------------------


async def _drive_family_on_virtual_modem(family_name: str) -> None:
    """Every command a family produces is answered OK by that family's virtual modem."""
    virtual_modem = pytest.importorskip("firmware.virtual_modem")
    from firmware.at.channel import ATChannel

    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    modem = virtual_modem.VirtualModem(family_name)
    await modem.start()
    channel = ATChannel(modem.port, name=family_name, on_urc=lambda u: None, on_lost=print)
    loop.add_in_flight_probe(
        lambda: (
            channel.bytes_sent != modem.bytes_received or modem.bytes_sent != channel.bytes_received
        )
    )
    await channel.open()
    try:
        for command in ("ATZ", "ATE0"):
            await channel.command(command)
        maker = (await channel.command("AT+CGMI"))[0]
        model = (await channel.command("AT+CGMM"))[0]
        family = detect_family(maker, model)
        assert family.name == family_name
        for command in family.init_commands() + family.optional_init_commands():
            await channel.command(command)
        for method in ("hangup", "chup", "busy"):
            modem.incoming_call("081234567890")
            await channel.command(family.reject_command(method))
        modem.incoming_call("081234567890")
        await channel.command(family.deflect_command("+62254112"))
        modem.incoming_call("081234567890")
        await channel.command(family.answer_command())
        for command in family.after_answer_commands():
            await channel.command(command)
        for prompt in (SPEECH, RECORDED):
            for media in (family.play_command(prompt), family.stop_play_command(prompt)):
                if media is not None:
                    await channel.command(media)
        await channel.command(family.hangup_command())
    finally:
        channel.close()
        modem.close()


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_virtual_modem_accepts_every_family_command(name: str) -> None:
    loop = VirtualTimeLoop()
    try:
        loop.run_until_complete(asyncio.wait_for(_drive_family_on_virtual_modem(name), 300))
    finally:
        loop.close()
