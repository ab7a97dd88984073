"""The voice detector on synthetic call audio, and call audio over a real voice pty."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from firmware import audio as detector_module
from firmware.at.channel import ATChannel, ATCommandError
from firmware.audio import FRAME_S, VoiceDetector, VoiceListener
from firmware.virtual_modem import CallerSound, VirtualModem

RATE = 8000


def pcm(signal: np.ndarray) -> bytes:
    """Float samples (-1..1) as s16le bytes."""
    return bytes((np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes())


def heard_after(sound: CallerSound, seconds: float, chunk_s: float = 0.2) -> VoiceDetector:
    detector = VoiceDetector()
    for _ in range(round(seconds / chunk_s)):
        detector.feed(sound.next_chunk(chunk_s))
    return detector


@pytest.mark.parametrize("pitch_hz", [95, 130, 180, 240, 320])
def test_a_voice_is_heard_within_two_seconds_of_speaking(pitch_hz: int) -> None:
    """Men, women and children: "halo?" once is enough."""
    detector = heard_after(CallerSound("voice", start_s=1.0, pitch_hz=pitch_hz), 3.0)
    assert detector.heard
    assert detector.listened_s == pytest.approx(3.0)


def test_nothing_is_heard_before_the_caller_starts_speaking() -> None:
    detector = heard_after(CallerSound("voice", start_s=5.0), 5.0)
    assert detector.voiced_frames == 0 and not detector.heard


@pytest.mark.parametrize("kind", ["voice", "noise"])
def test_what_is_counted_does_not_depend_on_the_size_of_the_pieces_fed(kind: str) -> None:
    """The listener feeds a second at a time and reads `heard` only at the end: it must
    count what a frame-by-frame feed counts, for any cut of the audio."""
    audio = CallerSound(kind, start_s=0.7, pitch_hz=150).next_chunk(12.0)
    counted = set()
    for piece_bytes in (320, 1_600, 4_095, 16_000, len(audio)):
        detector = VoiceDetector()
        for start in range(0, len(audio), piece_bytes):
            detector.feed(audio[start : start + piece_bytes])
        counted.add((detector.frames, detector.voiced_frames))
    assert len(counted) == 1
    if kind == "voice":
        assert next(iter(counted))[1] > 0


@pytest.mark.parametrize("kind", ["noise", "silence"])
def test_a_pocket_or_a_quiet_line_is_never_heard_as_a_voice(kind: str) -> None:
    """A minute of rustle and cloth-muffled room voices, or of hiss: no voice."""
    detector = heard_after(CallerSound(kind), 60.0)
    assert detector.voiced_frames == 0


@pytest.mark.parametrize("dbfs", [-35.0, -20.0, -10.0])
def test_loud_broadband_noise_is_not_a_voice(dbfs: float) -> None:
    rng = np.random.default_rng(11)
    noise = rng.normal(size=RATE * 10)
    noise *= 10 ** (dbfs / 20) / np.sqrt(np.mean(noise**2))
    detector = VoiceDetector()
    detector.feed(pcm(noise))
    assert not detector.heard


def test_a_tone_that_never_stops_is_not_a_voice() -> None:
    """Mains hum is periodic like a vowel but does not come and go like speech."""
    t = np.arange(RATE * 10) / RATE
    hum = sum(np.sin(2 * np.pi * 100 * k * t) / k for k in range(1, 6))
    detector = VoiceDetector()
    detector.feed(pcm(0.2 * hum / np.max(np.abs(hum))))
    assert not detector.heard


def test_a_faint_voice_below_the_level_is_not_heard() -> None:
    """Speech 30 dB down (-50 dBFS: across a room, through cloth) is not a caller speaking;
    20 dB down (-40 dBFS, a quiet caller) still is."""
    speech = np.frombuffer(CallerSound("voice", start_s=0.0).next_chunk(6.0), dtype="<i2")
    for down_db, heard in ((30, False), (20, True), (0, True)):
        detector = VoiceDetector()
        detector.feed(pcm(speech.astype(float) / 32768 * 10 ** (-down_db / 20)))
        assert detector.heard is heard, f"{down_db} dB down"


def test_a_buzz_that_never_stops_is_never_heard_even_for_a_moment() -> None:
    """Periodic like a vowel, but one run with no end: it must not count on its way, since
    the listener stops analysing the moment `heard` holds."""
    t = np.arange(RATE * 10) / RATE
    # 28 harmonics of 120 Hz up to 3.4 kHz: a pulse train, too rich to predict as a tone.
    buzz = sum(np.sin(2 * np.pi * 120 * k * t + k * k) / k for k in range(1, 29))
    audio = pcm(0.1 * buzz / np.max(np.abs(buzz)))
    detector = VoiceDetector()
    for start in range(0, len(audio), 1600):
        detector.feed(audio[start : start + 1600])
        assert not detector.heard
    assert detector.voiced_frames == 0
    assert detector._run == detector.frames  # voiced all along: one run with no end


def test_a_run_of_voice_counts_once_it_has_ended() -> None:
    """A vowel still going on is not yet counted; the pause after it counts it."""
    audio = CallerSound("voice", start_s=0.0, pitch_hz=150).next_chunk(6.0)
    first_pause = 0.2 + 0.26 + 0.12 + 0.26  # lead-in and the first two syllables, at most
    detector = VoiceDetector()
    detector.feed(audio[: round(0.3 * RATE) * 2])  # into the first syllable
    assert detector.voiced_frames == 0
    detector.feed(audio[round(0.3 * RATE) * 2 : round((first_pause + 0.2) * RATE) * 2])
    assert detector.voiced_frames > 0


def _run_lines(strongest_hz: np.ndarray, share: float = 0.95) -> list[list[float]]:
    """A run's frames as the tone check over a run sees them: the two strongest lines'
    share of the band, the strongest line's Hz and the other's (here 1.25 times it)."""
    return [[share, float(hz), float(hz) * 1.25] for hz in strongest_hz]


def test_a_run_whose_strongest_line_stands_still_is_a_tone() -> None:
    """A tone through a codec: its line wobbles by a tenth of a percent, not with a pitch."""
    wobbling = 1000.0 * (1 + 0.001 * np.sin(np.arange(8)))
    assert detector_module._is_tone_run(_run_lines(wobbling))


def test_a_run_whose_lines_glide_with_a_pitch_is_not_a_tone() -> None:
    """A vowel's harmonics move with its pitch: 5 % over 160 ms is a voice, however much of
    the band its two strongest lines hold; and lines that hold little of it are no tone."""
    assert not detector_module._is_tone_run(_run_lines(np.linspace(800.0, 840.0, 8)))
    assert not detector_module._is_tone_run(_run_lines(np.full(8, 1000.0), share=0.4))
    assert not detector_module._is_tone_run([])


def test_a_line_on_the_bands_edge_is_not_a_line_that_stands_still() -> None:
    """0 Hz marks a strongest peak on the band's edge: the skirt of a line outside it."""
    assert not detector_module._is_tone_run(_run_lines(np.zeros(8)))


def test_a_run_on_a_dtmf_digit_is_a_tone_even_when_the_coder_smears_its_lines() -> None:
    """AMR-NB 4.75 kbit/s moves a digit's lines by up to 1.5 % from frame to frame and
    swaps the stronger one: still the key "5" (770 + 1336 Hz)."""
    smear = 1 + 0.015 * np.array([1, -1, 0.5, -0.5, 1, -1])
    frames = [[0.6, 770.0 * f, 1336.0 / f] for f in smear[:3]]
    frames += [[0.6, 1336.0 * f, 770.0 / f] for f in smear[3:]]
    assert detector_module._is_tone_run(frames)
    assert detector_module._is_dtmf(1336.0, 770.0)
    assert not detector_module._is_dtmf(770.0, 1100.0)  # no column
    assert not detector_module._is_dtmf(740.0, 1336.0)  # 3.9 % off the row


def test_a_lines_frequency_is_found_between_bins() -> None:
    """A bin is 15.6 Hz; the parabola through the peak's log power finds a sine to 2 Hz."""
    t = np.arange(2 * 160) / RATE
    for hz in (697.0, 1003.7, 1336.0, 2211.1):
        window = 8000 * np.sin(2 * np.pi * hz * t + 0.3)
        power = detector_module._tapered_power(window[np.newaxis, :])
        peak = np.array([[int(np.argmax(power[0]))]])
        assert detector_module._line_hz(power, peak)[0, 0] == pytest.approx(hz, abs=2.0)


def test_chunk_size_does_not_change_what_is_heard() -> None:
    """Modems deliver 20 ms frames, pipes split them anywhere: same result either way."""
    audio = CallerSound("voice", start_s=0.5, pitch_hz=150).next_chunk(4.0)
    whole = VoiceDetector()
    whole.feed(audio)
    pieces = VoiceDetector()
    for start in range(0, len(audio), 317):  # odd sizes: half samples and half frames
        pieces.feed(audio[start : start + 317])
    assert whole.frames == pieces.frames == round(4.0 / FRAME_S)
    assert whole.voiced_frames == pieces.voiced_frames > 0


def test_garbage_bytes_on_the_voice_port_do_not_break_the_detector() -> None:
    detector = VoiceDetector()
    detector.feed(b"\xff" * 1001 + b"\x00\x80" * 500 + b"RING\r\n" * 50)
    detector.feed(struct.pack("<3h", 32767, -32768, 0))
    assert detector.frames > 0 and not detector.heard


async def answered_call(modem: VirtualModem, sound: CallerSound) -> ATChannel:
    """Ring `modem` and answer over its AT pty with the appliance's own channel."""
    channel = ATChannel(modem.port, name="test", on_urc=lambda urc: None, on_lost=lambda exc: None)
    await channel.open()
    modem.incoming_call("081234567890", sound=sound)
    await channel.command("ATA", timeout_s=2.0)
    return channel


@pytest.mark.slow  # a caller's voice streamed at the real PCM rate
@pytest.mark.parametrize(
    ("family", "on", "off"),
    [
        ("sim7600", "AT+CPCMREG=1", "AT+CPCMREG=0"),
        ("ec25", "AT+QPCMV=1,0", "AT+QPCMV=0"),
        ("huawei", "AT^DDSETEX=2", None),
    ],
)
def test_virtual_modem_streams_the_callers_voice_to_a_listener_on_its_voice_port(
    family: str, on: str, off: str | None
) -> None:
    """Real AT on the AT pty switches PCM on the voice pty; the listener hears the caller."""

    async def scenario() -> None:
        modem = VirtualModem(family)
        await modem.start()
        assert modem.voice_port is not None
        listener = VoiceListener(modem.voice_port)
        listener.open()
        channel = await answered_call(modem, CallerSound("voice", start_s=0.5))
        try:
            assert listener.bytes_read == 0  # nothing before the host asks for audio
            await channel.command(on, timeout_s=2.0)
            await asyncio.sleep(2.0)
            listener.flush()  # as the line does when the challenge ends
            assert listener.heard
            # 20 ms frames in real time: about 16,000 bytes a second.
            assert 0.7 * 2.0 * 16_000 <= listener.bytes_read <= 1.3 * 2.0 * 16_000
            if off is not None:
                await channel.command(off, timeout_s=2.0)
                await asyncio.sleep(0.2)
                stopped_at = listener.bytes_read
                await asyncio.sleep(0.5)
                assert listener.bytes_read == stopped_at
        finally:
            channel.close()
            listener.close()
            modem.close()

    asyncio.run(scenario())


def test_huawei_voice_routing_needs_a_call_and_a_deaf_family_has_no_voice_port() -> None:
    async def scenario() -> None:
        huawei = VirtualModem("huawei")
        sim800 = VirtualModem("sim800")
        await huawei.start()
        await sim800.start()
        channel = ATChannel(
            huawei.port, name="test", on_urc=lambda urc: None, on_lost=lambda exc: None
        )
        await channel.open()
        try:
            with pytest.raises(ATCommandError):  # no call in progress
                await channel.command("AT^DDSETEX=2", timeout_s=2.0)
            assert sim800.voice_port is None
        finally:
            channel.close()
            huawei.close()
            sim800.close()

    asyncio.run(scenario())


def test_listener_stops_quietly_when_the_stick_is_unplugged() -> None:
    async def scenario() -> None:
        modem = VirtualModem("sim7600")
        await modem.start()
        assert modem.voice_port is not None
        listener = VoiceListener(modem.voice_port)
        listener.open()
        channel = await answered_call(modem, CallerSound("noise"))
        await channel.command("AT+CPCMREG=1", timeout_s=2.0)
        await asyncio.sleep(0.3)
        assert listener.bytes_read > 0
        modem.unplug()
        await asyncio.sleep(0.2)
        assert not listener.is_open and not listener.heard
        listener.close()  # safe twice
        channel.close()
        modem.close()

    asyncio.run(scenario())
