"""The voice detector on audio this project did not make: espeak-ng speech, sox noises.

The targets (docs/voice-detector.md): Indonesian speech at -40 dBFS active level or
louder is heard within a few seconds of speaking; no noise class is heard at any level
up to -15 dBFS; speech over street noise at +10 and +5 dB SNR is heard; a caller muffled
by cloth is heard down to the level the docs promise for its cutoff, and a pocket dial
whose owner talks to someone else is heard as a voice too (the detector cannot tell); a
caller in an echoing room is heard down to the level promised for the room and no noise
class is heard through one (a far talker in a tiled bathroom is not: an expected failure,
a finding); the network's comfort noise is not heard; a caller through a handset's noise
suppression is heard down to the level promised for the gate, and no noise class is; a
caller speaking while the phone rubs against cloth is heard down to the speech-to-rubbing
ratio promised for the kind of rubbing, and the rubbing alone, a whisper over it and the
noise classes with it under are not, nor a tone (the key pressed, a dial tone) with the
rubbing 10 dB under it or steady noise 10-40 dB under it, nor a dual tone with white
rubbing 5 dB under it (a lone sentence under rubbing as loud as the voice is not met: an
expected failure, a finding); through the network's speech codecs (AMR-NB, GSM full rate)
speech at -40 dBFS is heard and no noise class or tone is in 10 s (loud noise over a
whole challenge through a low-rate coder is: an expected failure, a finding).
These tests assert them on a representative subset; `bench/bench_voice.py` sweeps
everything and prints the confusion table (`--muffled`, `--reverberant`,
`--phone-processing`, `--rubbing`, `--codecs`: those worlds' sweeps).
The audio is made by `external_audio` with Debian's `espeak-ng` and `sox` (and
alsa-utils' recorded words): without them these tests fail, they never skip, and
`./dev test` installs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pytest

from firmware.audio import FRAME_S, VoiceSettings, band_levels_dbfs
from tests.firmware import external_audio as audio

# Voices and sentences for the per-level checks: a deep man, a woman, a high voice, the
# klatt synthesiser; a short "halo?" and a long report.
SUBSET_TALKERS = (audio.TALKERS[4], audio.TALKERS[1], audio.TALKERS[2], audio.TALKERS[6])
SUBSET_SENTENCES = (audio.SENTENCES[0], audio.SENTENCES[1])
HEARD_WITHIN_S = 3.0  # of speaking, from the first word
TARGET_DBFS = -40.0  # speech at this active level or louder is heard


@pytest.fixture(scope="session")
def library() -> audio.Library:
    """One cache of generated audio for the whole session (in memory, never on disk)."""
    missing = audio.missing_tools()
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: ./dev test installs them (apt)")
    return audio.Library()


def test_the_recorded_speech_corpus_is_installed() -> None:
    """alsa-utils' recorded words: 8 files of a real voice (./dev test installs it)."""
    assert len(audio.recorded_speech_files()) == 8


# ------------------------------------------------------------------ the level definition


def test_active_level_of_a_steady_sound_is_its_rms() -> None:
    t = np.arange(audio.RATE_HZ * 4) / audio.RATE_HZ
    sine = 0.1 * np.sin(2 * np.pi * 440 * t)  # RMS 0.0707: -23.0 dBFS
    assert audio.active_level_dbfs(sine) == pytest.approx(audio.rms_dbfs(sine), abs=0.3)
    noise = np.random.default_rng(3).normal(scale=0.01, size=audio.RATE_HZ * 4)
    assert audio.active_level_dbfs(noise) == pytest.approx(-40.0, abs=0.3)
    assert audio.active_level_dbfs(np.zeros(800)) == -math.inf


def test_active_level_of_speech_ignores_its_pauses(library: audio.Library) -> None:
    speech = audio.at_level(library.speech(audio.SENTENCES[1], audio.TALKERS[0]), -30.0)
    paused = np.concatenate([speech, np.zeros(len(speech) * 2), speech])  # half silence
    assert audio.active_level_dbfs(speech) == pytest.approx(-30.0, abs=0.05)
    assert audio.active_level_dbfs(paused) == pytest.approx(-30.0, abs=0.5)
    assert audio.rms_dbfs(paused) == pytest.approx(audio.rms_dbfs(speech) - 3.0, abs=0.1)
    assert audio.rms_dbfs(speech) < -30.0  # its own short pauses, too


# ------------------------------------------------------------------ speech is heard


@pytest.mark.parametrize("talker", audio.TALKERS, ids=lambda t: t.name)
def test_speech_at_minus_40_dbfs_is_heard_within_seconds(
    library: audio.Library, talker: audio.Talker
) -> None:
    """Every voice, every sentence, at -40 dBFS active level."""
    for sentence in audio.SENTENCES:
        clip = library.speech_clip(sentence, talker, -40.0)
        heard = audio.listen(clip.pcm)
        assert heard.heard, f"{clip.detail}: only {heard.heard_s:.2f} s of voice"
        assert heard.heard_after_s is not None
        assert heard.heard_after_s - audio.LEAD_S <= HEARD_WITHIN_S, clip.detail


@pytest.mark.parametrize("dbfs", [-35.0, -30.0, -20.0, -10.0])
def test_louder_speech_is_heard(library: audio.Library, dbfs: float) -> None:
    """Up to a shout that clips (-10 dBFS active level peaks beyond full scale)."""
    for talker in SUBSET_TALKERS:
        for sentence in SUBSET_SENTENCES:
            clip = library.speech_clip(sentence, talker, dbfs)
            assert audio.listen(clip.pcm).heard, clip.detail


def test_recorded_words_of_a_real_voice_are_heard(library: audio.Library) -> None:
    """Each word alone is short (about 1 s, "Front left"): most are heard alone at
    -40 dBFS, and any three of them in a row are."""
    words = list(library.recorded_words(-40.0))
    alone = [audio.listen(word.pcm).heard for word in words]
    assert sum(alone) >= 6, [w.detail for w, h in zip(words, alone, strict=True) if not h]
    for first in range(0, len(words) - 2, 3):
        run = np.concatenate([word.samples for word in words[first : first + 3]])
        assert audio.listen(audio.to_pcm(run)).heard, [w.detail for w in words[first:][:3]]


def test_speech_over_street_noise_at_10_db_snr_is_heard(library: audio.Library) -> None:
    for talker in SUBSET_TALKERS:
        for sentence in SUBSET_SENTENCES:
            clip = library.street_clip(sentence, talker, 10.0)
            heard = audio.listen(clip.pcm)
            assert heard.heard, f"{clip.detail}: {heard.heard_s:.2f} s"


def test_speech_over_street_noise_at_5_db_snr_is_heard_within_two_sentences(
    library: audio.Library,
) -> None:
    """At +5 dB a lone "halo?" is only just heard (docs/voice-detector.md, worst cases);
    a caller who goes on to say what happened is heard with room to spare."""
    for talker in SUBSET_TALKERS:
        clips = [library.street_clip(s, talker, 5.0) for s in SUBSET_SENTENCES]
        call = audio.to_pcm(np.concatenate([clip.samples for clip in clips]))
        heard = audio.listen(call)
        assert heard.heard_s >= 2 * VoiceSettings().min_voice_s, talker.name


def test_whispering_is_not_heard(library: audio.Library) -> None:
    """By design: a whisper has no pitch (firmware/audio.py says why that is accepted)."""
    for sentence in SUBSET_SENTENCES:
        clip = library.speech_clip(sentence, audio.WHISPER, -20.0)
        assert audio.listen(clip.pcm).heard_s == 0.0, clip.detail


# ------------------------------------------------------------------ noise is not heard


@pytest.mark.parametrize("kind", audio.NOISES)
def test_no_noise_class_is_heard_at_any_level(library: audio.Library, kind: str) -> None:
    """-60 to -15 dBFS, as made; 10 s each."""
    for level in audio.NOISE_LEVELS_DBFS:
        clip = library.noise_clip(kind, level)
        heard = audio.listen(clip.pcm)
        assert not heard.heard, f"{kind} at {level:g} dBFS: {heard.heard_s:.2f} s of voice"


@pytest.mark.parametrize("kind", [k for k in audio.NOISES if k != audio.SILENCE])
def test_no_noise_class_is_heard_through_the_telephone_band(
    library: audio.Library, kind: str
) -> None:
    """Band-limiting rings at the band edges: the loudest levels, 10 s each."""
    for level in (-22.0, -15.0):
        clip = library.noise_clip(kind, level, phone_band=True)
        heard = audio.listen(clip.pcm)
        assert not heard.heard, f"{clip.kind} at {level:g} dBFS: {heard.heard_s:.2f} s"


def test_pocket_rustle_is_not_heard_for_as_long_as_a_challenge_listens(
    library: audio.Library,
) -> None:
    """The rhythm closest to speech, 36 s (two 12 s prompts and 6 s waits), loudest."""
    for kind in ("brown-tremolo", "pink-tremolo"):
        clip = library.noise_clip(kind, -15.0, duration_s=36.0, phone_band=True)
        assert not audio.listen(clip.pcm).heard, clip.kind


def test_the_caller_pressing_the_key_is_not_a_voice(library: audio.Library) -> None:
    """DTMF "5" repeated (the challenge key, heard in the audio as well as reported)."""
    clip = library.noise_clip("dtmf", -10.0)
    assert audio.listen(clip.pcm).heard_s == 0.0


# ------------------------------------------------------------------ the muffled caller

# Per cloth cutoff, the quietest active level at which every sentence (7 voices x 5) is
# promised to be heard (docs/voice-detector.md, "A caller through cloth"): 2 dB above the
# lowest level at which the sweep heard all 35, alone and over room noise.
MUFFLED_PROMISE_DBFS = {300.0: -40.0, 500.0: -42.0, 800.0: -46.0, audio.NO_CLOTH_HZ: -48.0}


@pytest.mark.slow  # 35 sentences made through the cloth and heard: 1-2 s each
@pytest.mark.parametrize("noise_dbfs", [None, audio.ROOM_NOISE_DBFS], ids=["alone", "room"])
@pytest.mark.parametrize("cutoff_hz", list(MUFFLED_PROMISE_DBFS), ids=lambda c: f"{c:g}Hz")
def test_a_caller_through_cloth_is_heard_down_to_the_promised_level(
    library: audio.Library, cutoff_hz: float, noise_dbfs: float | None
) -> None:
    """A phone in a pocket or under cloth, or a caller far from it: every voice and
    sentence, one sentence alone, at the promised level, with and without room noise."""
    dbfs = MUFFLED_PROMISE_DBFS[cutoff_hz]
    missed = []
    for talker in audio.TALKERS:
        for sentence in audio.SENTENCES:
            clip = library.muffled_clip(sentence, talker, dbfs, cutoff_hz, noise_dbfs)
            heard = audio.listen(clip.pcm)
            if not heard.heard:
                missed.append(f"{clip.detail} ({heard.heard_s:.2f} s)")
    assert not missed, missed


@pytest.mark.parametrize("cutoff_hz", list(MUFFLED_PROMISE_DBFS), ids=lambda c: f"{c:g}Hz")
def test_a_pocket_owner_talking_to_someone_else_is_heard_as_a_voice(
    library: audio.Library, cutoff_hz: float
) -> None:
    """The mirror of the muffled caller, and the detector cannot tell them apart: a pocket
    dial whose owner talks to someone else through the whole challenge, muffled, at
    -48 dBFS over room noise, is heard, so it reaches an operator as speech (what
    protects the centre then is the operator's verdict: docs/voice-detector.md)."""
    for owner, other in (
        (audio.TALKERS[0], audio.TALKERS[1]),
        (audio.TALKERS[6], audio.TALKERS[3]),
    ):
        clip = library.pocket_talk_clip(owner, other, -48.0, cutoff_hz, audio.ROOM_NOISE_DBFS)
        assert audio.listen(clip.pcm).heard, clip.detail


@pytest.mark.parametrize("cutoff_hz", [300.0, audio.NO_CLOTH_HZ], ids=lambda c: f"{c:g}Hz")
def test_nothing_quieter_than_the_start_gate_is_heard_however_long(
    library: audio.Library, cutoff_hz: float
) -> None:
    """The floor that holds whatever the voice: no run of voice starts below
    `level_dbfs` (a run already going may go on down to `level_hold_dbfs`, never start
    there). A 36 s conversation whose loudest 40 ms stays 0.5 dB under the gate (an active
    level of about -59 dBFS), with half a second or more of it between the hold and the
    gate, counts nothing."""
    settings = VoiceSettings()
    for owner, other in (
        (audio.TALKERS[4], audio.TALKERS[5]),
        (audio.TALKERS[2], audio.TALKERS[6]),
    ):
        clip = library.pocket_talk_clip(owner, other, -50.0, cutoff_hz)
        levels = band_levels_dbfs(clip.pcm)
        samples = clip.samples * 10 ** ((settings.level_dbfs - 0.5 - levels.max()) / 20)
        levels = band_levels_dbfs(audio.to_pcm(samples))
        assert levels.max() < settings.level_dbfs
        assert np.count_nonzero(levels >= settings.level_hold_dbfs) * FRAME_S >= 0.5
        assert audio.listen(audio.to_pcm(samples)).heard_s == 0.0, clip.detail


# ------------------------------------------------------------------ a caller in an echoing room

REVERB_BATHROOM_FAR = audio.Room(50, wet_only=True)
# Per room, the quietest active level at which every sentence (7 voices x 5) is promised
# to be heard, at that level and at every louder one of the sweep down from -20 dBFS
# (docs/voice-detector.md, "A caller in an echoing room"): 2 dB above the lowest level
# down to which the sweep heard all 35; for a far talker in a tiled bathroom (the echo
# alone, reverberance 50 %), the sweep's level above the one where a sentence is missed.
REVERB_PROMISE_DBFS = {
    audio.Room(0): -48.0,
    audio.Room(50): -48.0,
    audio.Room(100): -48.0,
    audio.Room(100, wet_only=True): -42.0,
    REVERB_BATHROOM_FAR: -35.0,
}


def _missed_down_to(
    promise_dbfs: float, make: Callable[[audio.Talker, str, float], audio.Clip]
) -> list[str]:
    """The clips `make(talker, sentence, level)` gives, for every voice and sentence at
    every sweep level from the loudest down to `promise_dbfs` (and at that level), that
    are not heard."""
    louder = [level for level in audio.WORLD_LEVELS_DBFS if level > promise_dbfs]
    return _not_heard(
        (level, make(talker, sentence, level))
        for level in [*louder, promise_dbfs]
        for talker in audio.TALKERS
        for sentence in audio.SENTENCES
    )


def _not_heard(clips: Iterable[tuple[float, audio.Clip]]) -> list[str]:
    """Of `clips` (each after the level it was made at), those not heard."""
    return [
        f"{clip.kind} at {level:g} dBFS, {clip.detail}"
        for level, clip in clips
        if not audio.listen(clip.pcm).heard
    ]


def _noise_heard(
    levels: Sequence[float], make: Callable[[str, float, bool], audio.Clip]
) -> list[str]:
    """Every noise class, as made and through the telephone band (silence only as made),
    at each of `levels`, as `make(kind, level, phone_band)` gives it: where a voice was
    heard, and for how long."""
    heard_where = []
    for phone_band in (False, True):
        for kind in audio.NOISES:
            if kind == audio.SILENCE and phone_band:
                continue
            for level in levels:
                clip = make(kind, level, phone_band)
                heard = audio.listen(clip.pcm)
                if heard.heard:
                    heard_where.append(f"{clip.kind} at {level:g} dBFS: {heard.heard_s:.2f} s")
    return heard_where


@pytest.mark.slow  # 35 sentences and their echo at up to 9 levels: 10-20 s a room
@pytest.mark.parametrize("room", list(REVERB_PROMISE_DBFS), ids=lambda room: room.name)
def test_a_caller_in_an_echoing_room_is_heard_down_to_the_promised_level(
    library: audio.Library, room: audio.Room
) -> None:
    """A caller in a tiled bathroom or stairwell, or far from the phone in one: every
    voice and sentence, one sentence and its echo, from -20 dBFS down to the level
    promised for the room. Louder is not easier here: an echo carries the voicing
    across the gaps between words (see the far talker in a bathroom below)."""
    missed = _missed_down_to(
        REVERB_PROMISE_DBFS[room],
        lambda talker, sentence, level: library.reverberant_clip(sentence, talker, level, room),
    )
    assert not missed, missed


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="a finding (docs/voice-detector.md): the echo alone breaks a short word's "
    "pitch into runs too short to count: 'Halo? Halo, tolong saya.' counts 0.28 s at -40",
)
def test_a_far_talker_in_a_tiled_bathroom_is_heard_at_minus_40_dbfs_and_louder(
    library: audio.Library,
) -> None:
    """The -40 dBFS target in the echo alone at reverberance 50 %: every sentence is heard
    down to -35 dBFS (the room's promise above), one short one is missed at -40. Strict:
    when the detector hears them all, this fails and the docs and promise must change."""
    missed = _missed_down_to(
        TARGET_DBFS,
        lambda talker, sentence, level: library.reverberant_clip(
            sentence, talker, level, REVERB_BATHROOM_FAR
        ),
    )
    assert not missed, missed


@pytest.mark.slow  # every class at 6 levels through the room, 10 s each: about 10 s a room
@pytest.mark.parametrize("room", audio.ROOMS, ids=lambda room: room.name)
def test_no_noise_class_is_heard_through_an_echoing_room(
    library: audio.Library, room: audio.Room
) -> None:
    """A room's echo smears rustle and stretches a cadenced tone's bursts: every noise
    class, as made and through the telephone band, -60 to -15 dBFS, through the room."""
    heard_where = _noise_heard(
        audio.NOISE_LEVELS_DBFS,
        lambda kind, level, phone_band: library.noise_clip(
            kind, level, phone_band=phone_band, room=room
        ),
    )
    assert not heard_where, heard_where


# ------------------------------------------------------------------ the network and the handset


@pytest.mark.parametrize("comfort", audio.COMFORT_NOISES, ids=lambda comfort: comfort.name)
def test_a_networks_comfort_noise_is_not_heard(
    library: audio.Library, comfort: audio.ComfortNoise
) -> None:
    """While the caller is silent, GSM/AMR discontinuous transmission plays comfort noise
    whose level steps every 160 ms: as long as a challenge listens, at -70 to -50 dBFS (what
    a network plays) and on to -30 dBFS, it counts nothing as voice."""
    for level in audio.COMFORT_LEVELS_DBFS:
        clip = library.comfort_clip(comfort, level, 36.0)
        heard = audio.listen(clip.pcm)
        assert heard.heard_s == 0.0, f"{clip.kind} at {level:g} dBFS: {heard.heard_s:.2f} s"


# Per gate, the quietest active level at which every sentence over the room's noise is
# promised to be heard through a handset's noise suppression (and at every louder level
# of the sweep): 2 dB above the lowest level down to which the sweep heard all 35. Without
# a gate the same clips are promised down to -48 dBFS (MUFFLED_PROMISE_DBFS, no cloth).
SUPPRESSED_PROMISE_DBFS = {
    audio.NOISE_GATES[0]: -46.0,
    audio.NOISE_GATES[1]: -44.0,
    audio.NOISE_GATES[2]: -44.0,
    audio.NOISE_GATES[3]: -38.0,
    audio.NOISE_GATES[4]: -38.0,
}


@pytest.mark.slow  # 35 sentences at up to 9 levels through the gate: 10-15 s a gate
@pytest.mark.parametrize("gate", list(SUPPRESSED_PROMISE_DBFS), ids=lambda gate: gate.name)
def test_a_caller_through_noise_suppression_is_heard_down_to_the_promised_level(
    library: audio.Library, gate: audio.NoiseGate
) -> None:
    """A handset that cuts its microphone between words and clips each onset: every
    voice and sentence over the room's noise, from -20 dBFS down to the level promised
    for the gate (quieter than without it: the gate costs a quiet caller 2 to 10 dB)."""
    missed = _missed_down_to(
        SUPPRESSED_PROMISE_DBFS[gate],
        lambda talker, sentence, level: library.suppressed_clip(sentence, talker, level, gate),
    )
    assert not missed, missed


@pytest.mark.slow  # every class at 8 levels through the gate, 10 s each: about 10 s a gate
@pytest.mark.parametrize("gate", audio.NOISE_GATES, ids=lambda gate: gate.name)
def test_no_noise_class_is_heard_through_noise_suppression(
    library: audio.Library, gate: audio.NoiseGate
) -> None:
    """A gate chops a background that hovers about its threshold into bursts: every noise
    class, as made and through the telephone band, -60 to -15 dBFS and at and just above
    the gate's threshold, through the gate."""
    levels = sorted({*audio.NOISE_LEVELS_DBFS, gate.threshold_dbfs, gate.threshold_dbfs + 2})
    heard_where = _noise_heard(
        levels,
        lambda kind, level, phone_band: library.gate_clip(
            library.noise_clip(kind, level, phone_band=phone_band), gate
        ),
    )
    assert not heard_where, heard_where


def test_the_noise_gate_cuts_the_quiet_frames_and_clips_each_onset() -> None:
    """The model itself: a burst over the threshold loses its first `onset_s`, the frames
    under the threshold go to silence (or to comfort noise), the frames after the onset
    pass unchanged."""
    rate = audio.RATE_HZ
    quiet = np.full(rate // 2, 10 ** (-70 / 20))  # 0.5 s at -70 dBFS
    loud = np.full(rate // 2, 10 ** (-30 / 20))
    signal = np.concatenate([quiet, loud, quiet])
    gate = audio.NoiseGate(threshold_dbfs=-54.0, onset_s=0.05)
    out = audio.gated(signal, gate)
    assert np.all(out[: rate // 2 - 8] == 0.0)  # the quiet start: cut (ramps aside)
    onset = round(0.05 * rate)
    assert np.all(out[rate // 2 : rate // 2 + onset - 8] == 0.0)  # the onset: clipped
    assert np.allclose(out[rate // 2 + onset + 8 : rate - 8], loud[0])  # then passed
    released = rate + round(gate.release_s * rate) + 8
    assert np.all(out[released:] == 0.0)  # cut again once released
    fill = np.full(len(signal), 1e-4)
    filled = audio.gated(signal, audio.NoiseGate(-54.0, 0.05, comfort_dbfs=-80.0), fill)
    assert np.allclose(filled[: rate // 2 - 8], 1e-4)  # the gaps hold the comfort noise


# ------------------------------------------------------------------ a caller over cloth rubbing

# Per kind of rubbing, the lowest speech-to-rubbing ratio at which every sentence alone
# (7 voices x 5) is promised to be heard, at -26 and -40 dBFS active level and at every
# larger ratio of the sweep (docs/voice-detector.md, "A caller speaking over cloth
# rubbing"): the lowest ratio at which the sweep's stretches of rubbing, and five other
# draws of them, left every sentence heard.
RUBBING_PROMISE_DB = {
    audio.Rubbing("brown-tremolo"): -5.0,
    audio.Rubbing("pink-tremolo"): 5.0,
    audio.Rubbing("white-tremolo"): 10.0,
    audio.Rubbing("brown-tremolo", phone_band=True): 5.0,
    audio.Rubbing("pink-tremolo", phone_band=True): 10.0,
    audio.Rubbing("white-tremolo", phone_band=True): 10.0,
}
# The tones, single and dual: noise under them defeated the prediction-gain tone check;
# the lines-over-noise check holds them with the rubbing 10 dB under and with steady noise
# 10-40 dB under, not with white rubbing 5 dB under or louder (the finding below), so they
# are asserted apart from the other classes.
TONES = ("tone-1k", "dial-425", "busy-425", "ringback-425", "dtmf", "dual-tone")
TONE_RUBBING_RATIO_DB = 10.0
TONE_NOISE_UNDER_DB = (10.0, 20.0, 30.0, 40.0)


def _missed_over_rubbing(
    library: audio.Library,
    rubbing: audio.Rubbing,
    ratios: Sequence[float],
    levels: Sequence[float] = audio.RUBBING_SPEECH_LEVELS_DBFS,
) -> list[str]:
    """Every voice and sentence alone, at each of `levels`, over `rubbing` at each of
    `ratios`: the clips not heard."""
    return _not_heard(
        (level, library.rubbing_clip(sentence, talker, level, rubbing, ratio))
        for level in levels
        for ratio in ratios
        for talker in audio.TALKERS
        for sentence in audio.SENTENCES
    )


@pytest.mark.slow  # 35 sentences at 2 levels and up to 4 ratios: 3-10 s a kind
@pytest.mark.parametrize("rubbing", list(RUBBING_PROMISE_DB), ids=lambda rubbing: rubbing.name)
def test_a_caller_over_cloth_rubbing_is_heard_down_to_the_promised_ratio(
    library: audio.Library, rubbing: audio.Rubbing
) -> None:
    """A phone held against clothing or in a shirt pocket while the caller speaks: every
    voice and sentence alone, at -26 and -40 dBFS, with the rubbing under it at every
    ratio of the sweep down to the one promised for the kind (+10 dB for every kind)."""
    promise = RUBBING_PROMISE_DB[rubbing]
    ratios = [ratio for ratio in audio.RUBBING_RATIOS_DB if ratio >= promise]
    missed = _missed_over_rubbing(library, rubbing, ratios)
    assert not missed, missed


@pytest.mark.slow  # two sentences of 7 voices, 2 levels, 3 ratios: about 2 s a kind
@pytest.mark.parametrize("rubbing", audio.RUBBINGS, ids=lambda rubbing: rubbing.name)
def test_a_caller_who_goes_on_is_heard_over_rubbing_as_loud_as_the_voice(
    library: audio.Library, rubbing: audio.Rubbing
) -> None:
    """A lone "halo?" can be lost under rubbing as loud as the voice (below); a caller
    who goes on to say what happened is heard: the first two sentences in a row, every
    voice, at -26 and -40 dBFS, the rubbing 10, 5 and 0 dB under the voice."""
    missed = []
    for level in audio.RUBBING_SPEECH_LEVELS_DBFS:
        for ratio in (10.0, 5.0, 0.0):
            for talker in audio.TALKERS:
                clips = [
                    library.rubbing_clip(sentence, talker, level, rubbing, ratio)
                    for sentence in SUBSET_SENTENCES
                ]
                heard = audio.listen(audio.to_pcm(np.concatenate([c.samples for c in clips])))
                if not heard.heard:
                    missed.append(f"{clips[0].kind} at {level:g} dBFS, {talker.name}")
    assert not missed, missed


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="a finding (docs/voice-detector.md): rubbing as loud as the voice hides the short "
    "'Halo? Halo, tolong saya.': 10 of 210 clips missed, all that sentence, over pink and "
    "white rubbing",
)
def test_a_caller_at_minus_26_dbfs_is_heard_over_rubbing_as_loud_as_the_voice(
    library: audio.Library,
) -> None:
    """What a user would expect: a caller speaking into the phone at a typical level is
    heard, every sentence alone, over rubbing as loud as the voice (0 dB), every kind.
    Strict: when the detector hears them all, this fails and the docs and promise must
    change."""
    level = audio.STREET_SPEECH_LEVEL_DBFS
    missed = [
        where
        for rubbing in audio.RUBBINGS
        for where in _missed_over_rubbing(library, rubbing, [0.0], [level])
    ]
    assert not missed, missed


def _rubbing_levels() -> list[float]:
    """Every level the mixes put the rubbing at: each speech level less each ratio."""
    return sorted(
        {
            level - ratio
            for level in audio.RUBBING_SPEECH_LEVELS_DBFS
            for ratio in audio.RUBBING_RATIOS_DB
        }
    )


@pytest.mark.slow  # 8 levels of 36 s: about 3 s a kind
@pytest.mark.parametrize("rubbing", audio.RUBBINGS, ids=lambda rubbing: rubbing.name)
def test_cloth_rubbing_alone_is_not_heard_at_the_levels_it_is_mixed_at(
    library: audio.Library, rubbing: audio.Rubbing
) -> None:
    """The other side of the mixes: the rubbing alone, as long as a challenge listens, at
    every level the mixes put it under a voice (-50 to -21 dBFS), counts nothing."""
    for level in _rubbing_levels():
        clip = library.noise_clip(rubbing.kind, level, 36.0, rubbing.phone_band)
        heard = audio.listen(clip.pcm)
        assert heard.heard_s == 0.0, f"{rubbing.name} at {level:g} dBFS: {heard.heard_s:.2f} s"


@pytest.mark.slow  # 5 whispered sentences at 2 levels and 4 ratios: about 2 s a kind
@pytest.mark.parametrize("rubbing", audio.RUBBINGS, ids=lambda rubbing: rubbing.name)
def test_a_whisper_over_cloth_rubbing_is_not_heard(
    library: audio.Library, rubbing: audio.Rubbing
) -> None:
    """A whisper is not heard (by design) and rubbing under it does not make it a voice:
    every sentence whispered at -26 and -40 dBFS, the rubbing at every ratio."""
    for level in audio.RUBBING_SPEECH_LEVELS_DBFS:
        for ratio in audio.RUBBING_RATIOS_DB:
            for sentence in audio.SENTENCES:
                clip = library.speech_clip(sentence, audio.WHISPER, level)
                rubbed = library.under_rubbing(clip, rubbing, ratio)
                heard = audio.listen(rubbed.pcm)
                assert not heard.heard, f"{rubbed.detail}: {heard.heard_s:.2f} s"


@pytest.mark.slow  # 18 classes at 2 levels and 4 ratios, 10 s each: about 8 s a kind
@pytest.mark.parametrize("rubbing", audio.RUBBINGS, ids=lambda rubbing: rubbing.name)
def test_no_noise_class_but_the_tones_is_heard_with_rubbing_under_it(
    library: audio.Library, rubbing: audio.Rubbing
) -> None:
    """Two sounds that are not a voice do not make one: every noise class but the tones
    (the finding below), as made and through the telephone band, at -26 and -40 dBFS,
    with the rubbing under it at every ratio, 10 s each."""
    heard_where = []
    for phone_band in (False, True):
        for kind in audio.NOISES:
            if kind in TONES or kind == audio.SILENCE:
                continue
            for level in audio.RUBBING_SPEECH_LEVELS_DBFS:
                clip = library.noise_clip(kind, level, phone_band=phone_band)
                for ratio in audio.RUBBING_RATIOS_DB:
                    rubbed = library.under_rubbing(clip, rubbing, ratio)
                    heard = audio.listen(rubbed.pcm)
                    if heard.heard:
                        where = f"{clip.kind} at {level:g} dBFS, {rubbed.detail}"
                        heard_where.append(f"{where}: {heard.heard_s:.2f} s")
    assert not heard_where, heard_where


@pytest.mark.parametrize("rubbing", audio.RUBBINGS, ids=lambda rubbing: rubbing.name)
def test_the_caller_pressing_the_key_while_the_phone_rubs_is_not_a_voice(
    library: audio.Library, rubbing: audio.Rubbing
) -> None:
    """What a user would expect, as for the key alone: DTMF "5" at -26 dBFS with rubbing
    10 dB under it is not a voice (it was, 0.6-4.5 s in 10 s, before the lines-over-noise
    tone check)."""
    clip = library.noise_clip("dtmf", audio.STREET_SPEECH_LEVEL_DBFS)
    heard = audio.listen(library.under_rubbing(clip, rubbing, TONE_RUBBING_RATIO_DB).pcm)
    assert not heard.heard, f"{rubbing.name}: {heard.heard_s:.2f} s"


@pytest.mark.slow  # 6 tones, 2 bands, 2 levels: 6 rubbings and 4 noise levels, 10 s each
def test_no_tone_is_heard_with_rubbing_10_db_under_it_or_steady_noise_under_it(
    library: audio.Library,
) -> None:
    """A tone (dial, busy, ringback, DTMF digits, a 1 kHz test tone), as made and through
    the telephone band, at -26 and -40 dBFS: with any rubbing 10 dB under it, and with
    steady white noise 10 to 40 dB under it (a line's own noise floor), it is not a voice
    in 10 s. Over a whole 36 s challenge a dual tone with pink or white rubbing 10 dB
    under it is heard now and then (docs/voice-detector.md, the bench's `--rubbing`)."""
    white = audio.noise("white", audio.NOISE_S)
    heard_where = []
    for phone_band in (False, True):
        for kind in TONES:
            for level in audio.RUBBING_SPEECH_LEVELS_DBFS:
                clip = library.noise_clip(kind, level, phone_band=phone_band)
                mixes = [
                    library.under_rubbing(clip, rubbing, TONE_RUBBING_RATIO_DB)
                    for rubbing in audio.RUBBINGS
                ]
                for under in TONE_NOISE_UNDER_DB:
                    noisy = audio.with_noise_at(clip.samples, white, level - under)
                    mixes.append(
                        audio.Clip(clip.kind, level, False, noisy, f"white {under:g} dB under")
                    )
                for mix in mixes:
                    heard = audio.listen(mix.pcm)
                    if heard.heard:
                        where = f"{clip.kind} at {level:g} dBFS, {mix.detail}"
                        heard_where.append(f"{where}: {heard.heard_s:.2f} s")
    assert not heard_where, heard_where


def test_a_dual_tone_with_white_rubbing_5_db_under_it_is_not_a_voice(
    library: audio.Library,
) -> None:
    """What a user would expect: a dual tone (697 + 1209 Hz, DTMF "1") through the
    telephone band at -26 dBFS, white rubbing through the band 5 dB under it, is not a
    voice. The rubbing swells past the lines-over-noise check (2.3 s in 10 s before the
    tone check over a run); the run's lines still sit on a DTMF digit."""
    clip = library.noise_clip("dual-tone", audio.STREET_SPEECH_LEVEL_DBFS, phone_band=True)
    rubbing = audio.Rubbing("white-tremolo", phone_band=True)
    heard = audio.listen(library.under_rubbing(clip, rubbing, 5.0).pcm)
    assert not heard.heard, f"{heard.heard_s:.2f} s"


# ------------------------------------------------------------------ the network's codec


@pytest.mark.slow  # 35 sentences coded and decoded by sox, then heard: about 10 s a codec
@pytest.mark.parametrize("codec", audio.CODECS, ids=lambda codec: codec.name)
def test_speech_through_a_network_codec_is_heard_at_minus_40_dbfs(
    library: audio.Library, codec: audio.Codec
) -> None:
    """Every voice, every sentence, at -40 dBFS active level as the caller's phone sends
    it, through the codec a mobile call crosses to reach the modem: heard within
    HEARD_WITHIN_S of the first word."""
    missed = []
    for talker in audio.TALKERS:
        for sentence in audio.SENTENCES:
            clip = library.codec_clip(library.speech_clip(sentence, talker, TARGET_DBFS), codec)
            heard = audio.listen(clip.pcm)
            late = (
                heard.heard_after_s is None or heard.heard_after_s - audio.LEAD_S > HEARD_WITHIN_S
            )
            if late:
                missed.append(f"{clip.detail}: {heard.heard_s:.2f} s")
    assert not missed, missed


def _heard_through_codec(
    library: audio.Library, codec: audio.Codec, kinds: Sequence[str]
) -> list[str]:
    """Each noise class of `kinds`, as made and through the telephone band, at every level
    of NOISE_LEVELS_DBFS, 10 s, through `codec`: where it was heard, and for how long."""
    heard_where = []
    for phone_band in (False, True):
        for kind in kinds:
            if kind == audio.SILENCE and phone_band:
                continue
            for level in audio.NOISE_LEVELS_DBFS:
                noise = library.noise_clip(kind, level, phone_band=phone_band)
                heard = audio.listen(library.codec_clip(noise, codec).pcm)
                if heard.heard:
                    heard_where.append(f"{noise.kind} at {level:g} dBFS: {heard.heard_s:.2f} s")
    return heard_where


@pytest.mark.slow  # 11 classes, 2 bands, 6 levels, 10 s each: about 15 s a codec
@pytest.mark.parametrize("codec", audio.CODECS, ids=lambda codec: codec.name)
def test_no_noise_class_but_the_tones_is_heard_through_a_network_codec(
    library: audio.Library, codec: audio.Codec
) -> None:
    """Rustle, street-like noise, hiss, hum and silence, as made and through the telephone
    band, -60 to -15 dBFS, 10 s each, through the codec: the coder's pitch predictor
    does not make a voice of them. The tones are tested apart, below."""
    non_tones = [kind for kind in audio.NOISES if kind not in TONES]
    heard_where = _heard_through_codec(library, codec, non_tones)
    assert not heard_where, heard_where


# A low-rate coder's pitch predictor gives loud noise, over a whole challenge, a few runs
# of "voice" (docs/voice-detector.md, the bench's `--codecs`): a finding.
NOISE_PITCHED_BY_THE_CODER = pytest.mark.xfail(
    strict=True,
    reason="a finding (docs/voice-detector.md): over 36 s a low-rate coder's pitch predictor "
    "makes loud rustle and noise repeat at a pitch long enough to be heard",
)


@pytest.mark.slow  # 6 classes, 2 levels, 2 bands, 36 s each: about 10 s a codec
@pytest.mark.parametrize(
    "codec",
    [
        audio.CODECS[0],
        pytest.param(audio.CODECS[1], marks=NOISE_PITCHED_BY_THE_CODER),
        pytest.param(audio.CODECS[2], marks=NOISE_PITCHED_BY_THE_CODER),
    ],
    ids=lambda codec: codec.name,
)
def test_loud_rustle_and_noise_through_a_network_codec_are_not_heard_for_a_whole_challenge(
    library: audio.Library, codec: audio.Codec
) -> None:
    """Pocket rustle (the tremolo noises) and steady noise at -22 and -15 dBFS, as made and
    through the telephone band, for as long as the default challenge listens (36 s),
    through the codec: not a voice. Through AMR-NB 12.2 kbit/s the most counted is 0.06 s;
    through AMR-NB 4.75 kbit/s and GSM full rate up to 0.8 s (expected failures)."""
    heard_where = []
    for kind in ("brown-tremolo", "pink-tremolo", "white-tremolo", "brown", "pink", "white"):
        for level in (-22.0, -15.0):
            for phone_band in (False, True):
                noise = library.noise_clip(kind, level, duration_s=36.0, phone_band=phone_band)
                heard = audio.listen(library.codec_clip(noise, codec).pcm)
                if heard.heard:
                    heard_where.append(f"{noise.kind} at {level:g} dBFS: {heard.heard_s:.2f} s")
    assert not heard_where, heard_where


@pytest.mark.slow  # 6 tones, 2 bands, 6 levels, 10 s each: about 8 s a codec
@pytest.mark.parametrize("codec", audio.CODECS, ids=lambda codec: codec.name)
def test_no_tone_through_a_network_codec_is_a_voice(
    library: audio.Library, codec: audio.Codec
) -> None:
    """A tone (a key pressed on the caller's phone, played into the modem's leg by the
    network; a dial, busy or ringback tone; a test tone), as made and through the
    telephone band, -60 to -15 dBFS, 10 s, through the codec, is not a voice. The codec's
    pitched coding noise gets past the checks on each window (before the tone check over
    a run: a dual tone through AMR-NB 12.2 kbit/s 4.2 s, DTMF "5" through AMR-NB
    4.75 kbit/s 3.9 s and through GSM full rate 2.2 s); the run's lines stay put."""
    heard_where = _heard_through_codec(library, codec, TONES)
    assert not heard_where, heard_where
