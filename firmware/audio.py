"""Hearing the caller: a voiced-speech detector for call audio and the voice-port reader.

Some modems hand the call's audio to the host as 8 kHz signed 16-bit little-endian mono
PCM on a second USB serial port: SIMCom SIM7600 after `AT+CPCMREG=1`, Quectel EC25 after
`AT+QPCMV=1,0`, Huawei E1550/E173 after `AT^DDSETEX=2` (docs/modems.md). Siaga
listens while it challenges a caller, to tell a person on the line from a phone in a
pocket: the one thing a first pocket dial and a genuine caller who never presses the key
do not share is a voice.

Why voicing and not a general voice-activity detector: we tried WebRTC's VAD
(`webrtcvad`); on telephone-band noise it calls most rustle and even faint hiss "speech",
because it is tuned never to clip a talker, whereas here noise must *not* count. Voiced
speech (vowels: "halo?", "tolong") is periodic at the speaker's pitch, 55-400 Hz for deep
men's voices to children's; rustle, street noise and hiss are not. Whispering is
unvoiced and is not heard: a caller who can only whisper is in the same place as one who
cannot speak, and the challenge key, not this detector, is their way through.

How a 20 ms frame counts as voiced (all of it on the 40 ms that end with the frame):

1. Loud enough: its level in the 400-3400 Hz band is at least `level_dbfs` to start a
   run of voice, and at least `level_hold_dbfs` (6 dB lower) to go on with one. A voice
   aimed at the phone has its vowel formants there; a voice through cloth or across the
   room has lost most of them, and rumble below 400 Hz is not speech. A quiet or muffled
   voice whose loudest vowels just reach the gate has syllables that rise to it and fall
   away from it: held to the gate frame by frame, it was cut into runs too short to count
   (of 35 sentences through cloth at 300 Hz and -48 dBFS active level, 15 were heard;
   with the hold, 29). Only a run already started goes on below the gate, and only on the
   same pitch (point 3 and below), where the chance peaks of noise do not chain: the most
   any noise class counted in 36 s went from 0.06 to 0.12 s of the 0.3 s needed. The
   start gate stays where it is: lower, the simulator's pocket dial (room voices through
   cloth at about -50 dBFS) is heard, and from about -55 dBFS down 16-bit rounding blurs
   the tone check (point 2) enough for a DTMF digit to pass (docs/voice-detector.md).
2. Not a tone: a 10th-order linear predictor must not predict the window almost perfectly
   (prediction gain at most `MAX_PREDICTION_GAIN_DB`). Up to five steady sines (dial,
   busy and ringback tones, DTMF digits, mains hum) are predicted to within 40-75 dB;
   speech, whose source is a train of glottal pulses, only to within 5-32 dB. Noise under
   a tone defeats that (DTMF "5" with cloth rubbing 10 dB under it is predicted to within
   9 dB, and its two lines repeat every 42 samples, a 190 Hz "pitch"), so a window is a
   tone too when its two strongest lines hold most of the band's energy and the rest,
   once they are taken out and it is whitened, has hardly a pitch (`LINE_TONE_TIERS`). A
   voice's two strongest harmonics can hold as much, but its other harmonics still
   repeat at its pitch: of the frames the rest of the detector takes for voiced, 0.4 %
   of 35 sentences' at -26 and -40 dBFS are such, and 93 % of six tones' under rubbing
   or white noise 10-40 dB below them (docs/voice-detector.md).
3. Periodic after whitening: the residual of a 4th-order predictor (the spectral tilt and
   the formants taken out, the pitch pulses left), correlated (normalised) over the frame
   with itself 20-145 samples earlier, peaks at `voicing` or more. Whitening first is
   what matters: any strongly low-pass sound (brown noise, a pocket rubbing the
   microphone) is correlated with itself at every short lag, so the raw signal looks
   "periodic" at 400 Hz; its residual is white and does not.

4. Not a tone over its run (checked when a run ends, below): a network's codec defeats
   point 2. A CELP codec (AMR-NB) rebuilds a tone with coding noise that repeats at the
   coder's pitch lag, so the prediction gain falls to 18-33 dB and the rest of the
   lines is periodic: a continuous dual tone through AMR-NB 12.2 kbit/s counted 4.18 s in
   10 s, DTMF "5" through AMR-NB 4.75 kbit/s 3.92 s and through GSM full rate 2.2 s. What
   a codec keeps is where the lines are: a voice's harmonics move with its pitch, a
   tone's lines do not. So a run does not count when half its frames or more hold a
   line that stays put through it (two strongest lines holding `TONE_RUN_SHARE` of the
   band, one of them within `FIXED_LINE_TOLERANCE`, 0.5 %, of the run's median strongest
   line, found between bins), or are a DTMF digit (two strongest lines holding
   `DTMF_RUN_SHARE`, a row and a column frequency within `DTMF_TOLERANCE`): AMR-NB
   4.75 kbit/s smears a digit's lines by up to 1.5 % from one frame to the next, as a
   voice's pitch glides, but leaves them on the digit's frequencies. A peak on the
   band's edge is the skirt of a line below it, not a line, and does not hold. The DTMF
   test also takes a digit with loud rubbing under it, which point 2 lets by. Six
   tones through three codecs (AMR-NB 12.2 and 4.75 kbit/s, GSM full rate) at -60 to
   -15 dBFS then count at most 0.24 s in 10 s (busy tone through AMR-NB 4.75), while
   sentences lose 0.4-1.4 % of the voice they counted, through echo, noise gates or
   rubbing 0.3-2.2 %, through cloth 1.3-5.1 %, and no promised one is missed.

Speech comes in runs of 60 ms to 2 s (syllables, words). A run starts on a frame at
`voicing` and goes on while each next frame has a correlation of `voicing_hold` within
`LAG_TOLERANCE` of the previous frame's pitch lag: a voice's pitch glides, so street noise
can dent the correlation of a vowel without breaking the run, while the chance peaks of
noise land at any lag and do not chain. A run counts once it has ended, and only if it
lasted `MIN_RUN_FRAMES` to `MAX_RUN_FRAMES` and is not a tone (point 4): a lone periodic
blip is chance, and a periodic sound that never stops (a buzz) is not a voice. A longer
run counts when its pitch glided over `MIN_LONG_RUN_GLIDE` (octave jumps of the pitch pick
left out): a room's echo joins a sentence's words into one run over 2 s, which rises and
falls as a voice does, while a buzz holds its pitch. Counting on the run's end, not on its
way, matters because `VoiceListener` stops feeding once `heard`: a count that was to be
taken back later never would be. The caller is "heard" after `min_voice_s`.

A pitch detector cannot tell a voice from other periodic sounds that come and go: music,
a ringtone, a buzz in bursts are heard. That errs towards passing a pocket dial to an
operator, the safe side for an emergency line.

Why this design replaces the one before it, which took the autocorrelation of the raw
audio and gated frames at -38 dBFS broadband: on audio made by other tools (espeak-ng
speech, sox noises; docs/voice-detector.md, tests/firmware/test_audio_external.py) it
heard brown noise from -30 dBFS up (the raw-signal problem of point 3), heard busy,
ringback and DTMF tones (periodic, in runs shorter than 2 s), heard none of the sentences
spoken at -45 dBFS active level and only 25 of 35 at -40 (a broadband frame gate sits
above the quieter vowels of a quiet talker). The level, the predictors and the
correlation are vectorised NumPy over every frame a chunk brings, and quiet frames stop
after the level: about 2 ms of one x86 core per second of speech fed 100 ms at a time,
and 1.45-1.66 times that with the lines-over-noise tone check of point 2, which a quiet
line does not reach; the tone check over a run (point 4) adds 7-13 % for continuous
speech (docs/voice-detector.md, `bench/bench_voice.py`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import serial

logger = logging.getLogger(__name__)

PCM_RATE_HZ = 8000
SAMPLE_BYTES = 2  # s16le mono
FRAME_SAMPLES = 160  # 20 ms, the frame every one of these modems uses
FRAME_S = FRAME_SAMPLES / PCM_RATE_HZ
WINDOW_SAMPLES = 2 * FRAME_SAMPLES  # each frame is analysed with the one before it: 40 ms
PITCH_MIN_HZ = 55
PITCH_MAX_HZ = 400
_LAG_MIN = PCM_RATE_HZ // PITCH_MAX_HZ  # 20 samples
_LAG_MAX = PCM_RATE_HZ // PITCH_MIN_HZ  # 145 samples, within the frame before
BAND_HZ = (400.0, 3400.0)
LPC_ORDER = 4  # whitening: flattens spectral tilt and formants, keeps the pitch pulses
TONE_ORDER = 10  # the tone check: predicts up to five steady sines
MAX_PREDICTION_GAIN_DB = 36.0  # speech reaches about 32 dB at order 10, tones 40 and more
# The tone check under noise (point 2 of the module doc): the two strongest lines of the
# window's spectrum, each taken out with LINE_NOTCH_BINS either side (about 60 Hz, the
# taper's main lobe and its first side lobes), hold at least a share of the band's energy
# and what is left is hardly periodic (its whitened autocorrelation at every pitch lag
# stays under a bound): (share, bound) pairs, either enough.
LINE_NOTCH_BINS = 4
LINE_TONE_TIERS: tuple[tuple[float, float], ...] = ((0.9, 0.3), (0.8, 0.22))
# The tone check over a run (point 4 of the module doc): a frame of a run holds a tone's
# lines when its two strongest lines hold at least TONE_RUN_SHARE of the band's energy
# and one of them is within FIXED_LINE_TOLERANCE (relative) of the run's median strongest
# line, or when they hold at least DTMF_RUN_SHARE and are a DTMF row and column frequency
# (ITU-T Q.23) within DTMF_TOLERANCE; a run at least TONE_RUN_FRAMES of whose frames do
# is a tone and does not count.
TONE_RUN_SHARE = 0.8
FIXED_LINE_TOLERANCE = 0.005
DTMF_ROWS_HZ = (697.0, 770.0, 852.0, 941.0)
DTMF_COLUMNS_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
DTMF_RUN_SHARE = 0.5
DTMF_TOLERANCE = 0.02
TONE_RUN_FRAMES = 0.5
LAG_TOLERANCE = 0.1  # how far (relative) the pitch lag may move from one frame to the next
MIN_RUN_FRAMES = 3  # 60 ms
MAX_RUN_FRAMES = 100  # 2 s
# A run longer than MAX_RUN_FRAMES still counts when its pitch glided over this range
# (log of the highest over the lowest lag, octave jumps left out: about 16 %). Words
# joined by a room's echo rise and fall as a voice does; a buzz holds its pitch.
MIN_LONG_RUN_GLIDE = 0.15
_FULL_SCALE = 32768.0
# One read takes whatever audio has queued up: a modem sends a 20 ms frame at a time, a
# busy loop may find several waiting, and the simulator's virtual modems send 0.5 s at once.
_READ_BYTES = 16384
_FEED_BYTES = 50 * FRAME_SAMPLES * SAMPLE_BYTES  # the listener analyses 1 s at a time

_HANN = np.hanning(WINDOW_SAMPLES + 2)[1:-1]
_SPECTRUM_SIZE = 512  # zero-padded past WINDOW_SAMPLES + TONE_ORDER: linear autocorrelation
_BAND_BINS = slice(
    int(np.ceil(BAND_HZ[0] * _SPECTRUM_SIZE / PCM_RATE_HZ)),
    int(BAND_HZ[1] * _SPECTRUM_SIZE / PCM_RATE_HZ) + 1,
)
# Mean square in the band from the Hann-windowed spectrum: one-sided bins count twice, and
# the window's own energy is divided out (Parseval).
_BAND_SCALE = 2.0 / (_SPECTRUM_SIZE * float(np.sum(_HANN**2)) * _FULL_SCALE**2)
_LAGS = np.arange(_LAG_MIN, _LAG_MAX + 1)


@dataclass(frozen=True)
class VoiceSettings:
    """What counts as a voice.

    `level_dbfs`: quietest frame that can start a run of speech aimed at the phone, as the
    RMS in the 400-3400 Hz band over 40 ms, dB below full scale. Telephone speech is
    quoted at an active level (ITU-T P.56) of about -26 dBFS; speech at -40 dBFS active
    level (a quiet or distant talker) must still be heard, and its vowels sit around -50
    to -35 dBFS here. `level_hold_dbfs`: quietest frame that keeps a run going (the
    fading end of a syllable). `voicing`: the correlation (0..1) of the whitened frame
    with itself one pitch period earlier that starts a run of voice; `voicing_hold`: what
    keeps a run going.
    `min_voice_s`: voiced audio needed to call it a voice (a short "halo?" has about
    0.3 s of vowels).
    """

    level_dbfs: float = -48.0
    level_hold_dbfs: float = -54.0
    voicing: float = 0.4
    voicing_hold: float = 0.25
    min_voice_s: float = 0.3


class VoiceDetector:
    """Counts voiced frames in a stream of PCM bytes fed in chunks of any size."""

    def __init__(self, settings: VoiceSettings | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self._level_mean_square = 10 ** (self.settings.level_dbfs / 10)
        hold_dbfs = min(self.settings.level_hold_dbfs, self.settings.level_dbfs)
        self._hold_mean_square = 10 ** (hold_dbfs / 10)
        self._pending = b""
        self._previous = np.zeros(FRAME_SAMPLES)  # the frame before the next one fed
        self.frames = 0  # frames analysed
        self.voiced_frames = 0  # voiced frames in runs that count as speech
        self._run = 0  # voiced frames in the run going on
        self._previous_lag = 0  # pitch lag of the last frame analysed (0: none)
        # The run's pitch path: log lag relative to its first frame, octave jumps left out.
        self._glide_at = 0.0
        self._glide_low = 0.0
        self._glide_high = 0.0
        self._glide_lag = 0  # lag the path last moved from (0: none yet)
        # The run's lines, per frame: (share of the two strongest, strongest line's Hz or
        # 0 at the band's edge, the other's Hz); see `_is_tone_run`.
        self._run_lines: list[list[float]] = []

    @property
    def heard_s(self) -> float:
        """Seconds of voiced audio so far (in runs that have ended)."""
        return self.voiced_frames * FRAME_S

    @property
    def listened_s(self) -> float:
        """Seconds of audio analysed so far."""
        return self.frames * FRAME_S

    @property
    def heard(self) -> bool:
        """True once `min_voice_s` of voice has been heard."""
        return self.heard_s >= self.settings.min_voice_s - 1e-9

    def feed(self, pcm: bytes) -> None:
        """Analyse `pcm`; a partial frame waits for the next chunk."""
        data = self._pending + pcm
        usable = len(data) - len(data) % (FRAME_SAMPLES * SAMPLE_BYTES)
        self._pending = data[usable:]
        if usable == 0:
            return
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float64)
        frames = samples.reshape(-1, FRAME_SAMPLES)
        self.frames += len(frames)
        before = np.vstack([self._previous[np.newaxis, :], frames[:-1]])
        self._previous = frames[-1].copy()
        strengths, lags, lines = self._strengths(np.hstack([before, frames]))
        for strength, lag, frame_lines in zip(
            strengths.tolist(), lags.tolist(), lines.tolist(), strict=True
        ):
            self._count(strength, lag, frame_lines)

    def _count(self, strength: int, lag: int, lines: list[float]) -> None:
        """Follow runs: 2 starts or extends one, 1 only extends one, 0 ends it."""
        if strength == 2 or (strength == 1 and self._run > 0):
            self._run += 1
            self._follow_pitch(lag)
            self._run_lines.append(lines)
            return
        if (
            MIN_RUN_FRAMES <= self._run <= MAX_RUN_FRAMES
            or (
                self._run > MAX_RUN_FRAMES
                and self._glide_high - self._glide_low >= MIN_LONG_RUN_GLIDE
            )
        ) and not _is_tone_run(self._run_lines):
            self.voiced_frames += self._run
        self._run = 0
        self._glide_at = self._glide_low = self._glide_high = 0.0
        self._glide_lag = 0
        self._run_lines = []

    def _follow_pitch(self, lag: int) -> None:
        """Move the run's pitch path by this frame's step, unless it jumps (an octave
        error of the pitch pick, not a glide)."""
        if lag <= 0:
            return
        if self._glide_lag > 0:
            step = math.log(self._glide_lag / lag)
            if abs(step) <= math.log1p(LAG_TOLERANCE):
                self._glide_at += step
                self._glide_low = min(self._glide_low, self._glide_at)
                self._glide_high = max(self._glide_high, self._glide_at)
        self._glide_lag = lag

    def _strengths(
        self, windows: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Per frame: 2 if it can start a run of voice, 1 if it can only extend one, 0;
        its pitch lag in samples (0: none); and its lines (`_lines_over_noise`; all 0
        for a quiet frame, which no run holds)."""
        count = len(windows)
        centred = windows - windows.mean(axis=1, keepdims=True)
        strengths = np.zeros(count, dtype=np.int64)
        best_lags = np.zeros(count, dtype=np.int64)  # 0: no pitch (quiet, tonal)
        lines = np.zeros((count, 3))
        power = _tapered_power(centred)
        band_mean_square = _band_mean_square(power)
        loud = np.flatnonzero(band_mean_square >= self._hold_mean_square)
        if len(loud):
            starts = band_mean_square[loud] >= self._level_mean_square
            correlation, lines[loud] = _whitened_correlation(centred[loud], power[loud])
            peak = correlation.max(axis=1)
            best_lags[loud] = np.where(peak > 0, _LAGS[correlation.argmax(axis=1)], 0)
            previous_lags = np.concatenate([[self._previous_lag], best_lags[:-1]])[loud]
            kept = _near_lag(correlation, previous_lags)
            strengths[loud] = np.where(
                starts & (peak >= self.settings.voicing),
                2,
                np.where(kept >= self.settings.voicing_hold, 1, 0),
            )
        self._previous_lag = int(best_lags[-1])
        return strengths, best_lags, lines


def band_levels_dbfs(pcm: bytes) -> np.ndarray[Any, Any]:
    """Per whole 20 ms frame of `pcm` (s16le), the level the gate reads: the RMS of the
    400-3400 Hz content of the 40 ms that end with the frame (silence before the first),
    dBFS. No run of voice starts on a frame below `VoiceSettings.level_dbfs`, so audio
    that never reaches it is never heard, however long it goes on."""
    usable = len(pcm) - len(pcm) % (FRAME_SAMPLES * SAMPLE_BYTES)
    samples = np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float64)
    frames = samples.reshape(-1, FRAME_SAMPLES)
    if len(frames) == 0:
        return np.zeros(0)
    before = np.vstack([np.zeros((1, FRAME_SAMPLES)), frames[:-1]])
    windows = np.hstack([before, frames])
    mean_square = _band_mean_square(_tapered_power(windows - windows.mean(axis=1, keepdims=True)))
    with np.errstate(divide="ignore"):
        return np.asarray(10 * np.log10(mean_square))


def _band_mean_square(power: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per window, the mean square of its 400-3400 Hz content (full scale 1.0) from its
    tapered power spectrum."""
    return np.asarray(power[:, _BAND_BINS].sum(axis=1) * _BAND_SCALE)


def _near_lag(
    correlation: np.ndarray[Any, Any], previous_lags: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Per row, the highest correlation within `LAG_TOLERANCE` of the previous frame's
    pitch lag (-1 where there was none). A voice's pitch glides, chance peaks in noise
    land anywhere: holding a run only near the last pitch is what keeps noise out."""
    tolerance = np.maximum(2.0, LAG_TOLERANCE * previous_lags)[:, np.newaxis]
    near = np.abs(_LAGS[np.newaxis, :] - previous_lags[:, np.newaxis]) <= tolerance
    near &= previous_lags[:, np.newaxis] > 0
    return np.asarray(np.where(near, correlation, -1.0).max(axis=1))


def _tapered_power(windows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per window, the power spectrum of the Hann-windowed window (`_SPECTRUM_SIZE`)."""
    spectrum = np.fft.rfft(windows * _HANN, n=_SPECTRUM_SIZE, axis=1)
    return np.asarray(spectrum.real**2 + spectrum.imag**2)


def _levinson(
    r: np.ndarray[Any, Any], order: int, keep_order: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Levinson-Durbin per row of autocorrelations `r` (lags 0..order): the predictor of
    `keep_order` on the way (a[0] = 1), and the residual power at `order`."""
    a = np.zeros((len(r), order + 1))
    a[:, 0] = 1.0
    kept = a[:, : keep_order + 1]
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        reflection = -(r[:, i] + (a[:, 1:i] * r[:, i - 1 : 0 : -1]).sum(axis=1)) / error
        a[:, 1:i] += reflection[:, np.newaxis] * a[:, i - 1 : 0 : -1]
        a[:, i] = reflection
        error *= 1 - reflection**2
        if i == keep_order:
            kept = a[:, : keep_order + 1].copy()
    return kept, error


def _whitener(
    power: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """From each window's tapered power spectrum: the LPC_ORDER whitening filter (a[0] =
    1); whether the window is a tone: predicted to within `MAX_PREDICTION_GAIN_DB` by
    a TONE_ORDER predictor, or a few lines over noise (`_lines_over_noise`); and its
    lines (`_lines_over_noise`)."""
    r = np.fft.irfft(power, n=_SPECTRUM_SIZE, axis=1)[:, : TONE_ORDER + 1]
    # A whisker of white noise (-90 dB) keeps the recursion stable on a pure tone.
    r[:, 0] = r[:, 0] * (1 + 1e-9) + 1e-9
    whitening, error = _levinson(r, TONE_ORDER, LPC_ORDER)
    gain_db = 10 * np.log10(r[:, 0] / np.maximum(error, 1e-12))
    lines_tone, lines = _lines_over_noise(power)
    return whitening, (gain_db > MAX_PREDICTION_GAIN_DB) | lines_tone, lines


def _lines_over_noise(
    power: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Per window, whether it is one or two steady lines over noise (a tone, a DTMF digit
    with the line's or the pocket's noise under it): the two strongest lines of its band
    hold most of the band's energy, and the rest, whitened by its own envelope, has
    hardly a pitch (`LINE_TONE_TIERS`). A voice's strongest harmonics can hold as much,
    but its other harmonics repeat at its pitch. And per window its lines, for the tone
    check over a run (`_is_tone_run`): the two strongest lines' share of the band's
    energy, the strongest line's frequency (0 when it is at the band's edge: the skirt
    of a line outside the band, not a line) and the other's, in Hz, each between bins by
    a parabola through the log power of its peak bin and their neighbours."""
    band = np.zeros_like(power)
    band[:, _BAND_BINS] = power[:, _BAND_BINS]
    total = band.sum(axis=1)
    bins = np.arange(band.shape[1])
    peaks = []
    for _ in range(2):
        peak = band.argmax(axis=1)
        peaks.append(peak)
        band[np.abs(bins[np.newaxis, :] - peak[:, np.newaxis]) <= LINE_NOTCH_BINS] = 0.0
    rest = band.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lines_share = np.where(total > 0, 1.0 - rest / total, 0.0)
    r = np.fft.irfft(band, n=_SPECTRUM_SIZE, axis=1)[:, : LPC_ORDER + 1]
    r[:, 0] = r[:, 0] * (1 + 1e-9) + 1e-30
    envelope, _ = _levinson(r, LPC_ORDER, LPC_ORDER)
    response = np.fft.rfft(envelope, n=_SPECTRUM_SIZE, axis=1)
    whitened = band * (response.real**2 + response.imag**2)
    autocorrelation = np.fft.irfft(whitened, n=_SPECTRUM_SIZE, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        voicing = autocorrelation[:, _LAGS].max(axis=1) / autocorrelation[:, 0]
    voicing = np.nan_to_num(voicing, nan=0.0, posinf=0.0, neginf=0.0)
    tone = np.zeros(len(power), dtype=bool)
    for min_share, max_voicing in LINE_TONE_TIERS:
        tone |= (lines_share >= min_share) & (voicing < max_voicing)
    lines = np.column_stack([lines_share, _line_hz(power, np.column_stack(peaks))])
    at_edge = (peaks[0] <= _BAND_BINS.start) | (peaks[0] >= _BAND_BINS.stop - 1)
    lines[at_edge, 1] = 0.0
    return tone, lines


def _line_hz(power: np.ndarray[Any, Any], peaks: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per window (row of `power`), the frequencies of the lines whose peak bins are the
    row of `peaks`, between bins: the vertex of the parabola through the log power of
    each peak bin and its neighbours."""
    rows = np.arange(len(power))[:, np.newaxis]
    below, at, above = (np.log(power[rows, peaks + step] + 1e-30) for step in (-1, 0, 1))
    curve = below - 2 * at + above
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curve < 0, 0.5 * (below - above) / curve, 0.0)
    return np.asarray((peaks + np.clip(offset, -0.5, 0.5)) * PCM_RATE_HZ / _SPECTRUM_SIZE)


def _is_tone_run(lines: list[list[float]]) -> bool:
    """Whether a run of voice, by its frames' lines (`_lines_over_noise`), is a tone: at
    least TONE_RUN_FRAMES of its frames hold a line that stays put through it (within
    FIXED_LINE_TOLERANCE of the run's median strongest line), or are a DTMF digit. A
    voice's harmonics move with its pitch; a tone's lines do not."""
    if not lines:
        return False
    needed = TONE_RUN_FRAMES * len(lines)
    fixed_at = [strongest for share, strongest, _ in lines if share >= TONE_RUN_SHARE and strongest]
    if fixed_at and len(fixed_at) >= needed:
        median = statistics.median(fixed_at)
        tolerance = FIXED_LINE_TOLERANCE * median
        fixed = sum(
            1
            for share, strongest, other in lines
            if share >= TONE_RUN_SHARE
            and strongest
            and (abs(strongest - median) <= tolerance or abs(other - median) <= tolerance)
        )
        if fixed >= needed:
            return True
    digits = sum(
        1
        for share, strongest, other in lines
        if share >= DTMF_RUN_SHARE and _is_dtmf(strongest, other)
    )
    return digits >= needed


def _is_dtmf(first_hz: float, second_hz: float) -> bool:
    """Whether two lines are a DTMF digit: a row and a column frequency (ITU-T Q.23),
    each within DTMF_TOLERANCE."""
    low, high = sorted((first_hz, second_hz))
    return any(abs(low - row) <= DTMF_TOLERANCE * row for row in DTMF_ROWS_HZ) and any(
        abs(high - column) <= DTMF_TOLERANCE * column for column in DTMF_COLUMNS_HZ
    )


def _whitened_correlation(
    windows: np.ndarray[Any, Any], power: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Per window and pitch lag (`_LAGS`), the normalised correlation (about -1..1) of the
    whitened last frame with the whitened signal that lag earlier, all 0 for a tone; and
    per window its lines (`_lines_over_noise`)."""
    a, tonal, lines = _whitener(power)
    residual = windows.copy()
    for k in range(1, LPC_ORDER + 1):
        residual[:, k:] += a[:, k : k + 1] * windows[:, :-k]
    residual[:, :LPC_ORDER] = 0.0
    frame = np.zeros_like(residual)
    frame[:, :FRAME_SAMPLES] = residual[:, FRAME_SAMPLES:]
    # Circular correlation of length WINDOW_SAMPLES is linear here: frame sample n meets
    # residual sample n + FRAME_SAMPLES - lag < WINDOW_SAMPLES, with no wrap.
    spectrum = np.fft.rfft(residual, axis=1) * np.conj(np.fft.rfft(frame, axis=1))
    correlation = np.fft.irfft(spectrum, n=WINDOW_SAMPLES, axis=1)[:, FRAME_SAMPLES - _LAGS]
    energy = np.concatenate([np.zeros((len(windows), 1)), np.cumsum(residual**2, axis=1)], axis=1)
    frame_energy = energy[:, WINDOW_SAMPLES] - energy[:, FRAME_SAMPLES]
    lagged_energy = energy[:, WINDOW_SAMPLES - _LAGS] - energy[:, FRAME_SAMPLES - _LAGS]
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = correlation / np.sqrt(frame_energy[:, np.newaxis] * lagged_energy)
    normalised = np.nan_to_num(normalised, nan=0.0, posinf=0.0, neginf=0.0)
    normalised[tonal] = 0.0
    return np.asarray(normalised), lines


class VoiceListener:
    """Reads a modem's voice port on the event loop and feeds a `VoiceDetector`.

    `open()` raises pyserial's SerialException (an OSError) when the port cannot be opened;
    read errors later (an unplugged stick) stop the listener quietly with a warning, since
    screening goes on without it. Once `analyse` is switched off the listener keeps
    draining the port (a modem streams audio for the whole call and a full buffer stalls
    it) without analysing. Reads arrive a 20 ms frame at a time; they are analysed a second
    at a time, since NumPy's cost is mostly per call, not per frame (1 s costs half the
    CPU of ten 100 ms pieces). What the detector counts does not depend on the size of
    the pieces, and the line reads `heard` only when the challenge ends, after `flush()`
    has analysed the rest: nothing is heard later for it.
    """

    def __init__(self, port: str, settings: VoiceSettings | None = None) -> None:
        self.port = port
        self.detector = VoiceDetector(settings)
        self.analyse = True
        self.bytes_read = 0
        self._unfed = b""  # read but not yet analysed: less than _FEED_BYTES
        self._serial: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def heard(self) -> bool:
        """True once the detector has heard a voice."""
        return self.detector.heard

    def fileno(self) -> int:
        """The open port's descriptor, to write PCM to the caller (Huawei prompts)."""
        if self._serial is None:
            raise OSError(f"voice port {self.port} is not open")
        return int(self._serial.fileno())

    @property
    def is_open(self) -> bool:
        """True from `open()` until `close()` (or a read error)."""
        return self._serial is not None

    def open(self) -> None:
        """Open the port (exclusive: one reader per call) and start reading on the loop."""
        self._serial = serial.Serial(self.port, 115200, timeout=0, exclusive=True)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._serial.fileno(), self._on_readable)

    def close(self) -> None:
        """Stop reading and close the port; safe to call twice."""
        if self._serial is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(self._serial.fileno())
        try:
            self._serial.close()
        except OSError as exc:
            logger.debug("voice port %s: close: %s", self.port, exc)
        self._serial = None

    def flush(self) -> None:
        """Analyse what was read but not yet fed (less than `_FEED_BYTES`): call it before
        reading `heard` at the end of a challenge, so its last moments count too."""
        if self._unfed and self.analyse and not self.detector.heard:
            self.detector.feed(self._unfed)
        self._unfed = b""

    def _on_readable(self) -> None:
        assert self._serial is not None
        try:
            data = os.read(self._serial.fileno(), _READ_BYTES)
        except BlockingIOError:
            return
        except OSError as exc:
            logger.warning("voice port %s: %s; listening stopped", self.port, exc)
            self.close()
            return
        if not data:
            logger.warning("voice port %s closed; listening stopped", self.port)
            self.close()
            return
        self.bytes_read += len(data)
        if not self.analyse or self.detector.heard:
            self._unfed = b""
            return
        self._unfed += data
        if len(self._unfed) >= _FEED_BYTES:
            self.detector.feed(self._unfed)
            self._unfed = b""
