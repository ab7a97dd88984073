"""Hearing the caller: a voiced-speech detector for call audio and the voice-port reader.

Some modems hand the call's audio to the host as 8 kHz signed 16-bit little-endian mono
PCM on a second USB serial port: SIMCom SIM7600 after `AT+CPCMREG=1`, Quectel EC25 after
`AT+QPCMV=1,0`, Huawei E1550/E173 after `AT^DDSETEX=2` (../reference modems.md). Siaga
listens while it challenges a caller, to tell a person on the line from a phone in a
pocket: the one thing a first pocket dial and a genuine caller who never presses the key
do not share is a voice.

Why voicing and not a general voice-activity detector: we tried WebRTC's VAD
(`webrtcvad`); on telephone-band noise it calls most rustle and even faint hiss "speech",
because it is tuned never to clip a talker, whereas here noise must *not* count. Voiced
speech (vowels: "halo?", "tolong") is periodic at the speaker's pitch, 70-400 Hz for
men, women and children; fabric rustle, street noise and hiss are not. So a frame counts
as voice when it is loud enough to be speech aimed at the phone and its normalised
autocorrelation has a strong peak at a pitch lag. A caller is "heard" after
`min_voice_s` of such frames. Whispering is unvoiced and is not heard: a caller who can
only whisper is in the same place as one who cannot speak, and the challenge key, not
this detector, is their way through.

The analysis is vectorised with NumPy: about 1 ms of CPU for a second of audio on a Pi 4
class core, and nearly nothing for quiet frames, which are rejected on level alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import serial

logger = logging.getLogger(__name__)

PCM_RATE_HZ = 8000
SAMPLE_BYTES = 2  # s16le mono
FRAME_SAMPLES = 160  # 20 ms, the frame every one of these modems uses
FRAME_S = FRAME_SAMPLES / PCM_RATE_HZ
PITCH_MIN_HZ = 70
PITCH_MAX_HZ = 400
_LAG_MIN = PCM_RATE_HZ // PITCH_MAX_HZ  # 20 samples
_LAG_MAX = PCM_RATE_HZ // PITCH_MIN_HZ  # 114 samples
WINDOW_SAMPLES = 2 * FRAME_SAMPLES  # pitch is measured over 40 ms: two periods of 70 Hz
MIN_RUN_FRAMES = 3  # 60 ms
MAX_RUN_FRAMES = 100  # 2 s
_FULL_SCALE = 32768.0
_READ_BYTES = 4096


@dataclass(frozen=True)
class VoiceSettings:
    """What counts as a voice.

    `level_dbfs`: quietest frame (RMS, dB below full scale) that can be speech aimed at
    the phone; telephone speech sits around -25 to -15 dBFS, a voice muffled by a pocket
    or from across a room well below -40. `voicing`: the autocorrelation peak (0..1) a
    frame needs at a pitch lag. `min_voice_s`: voiced audio needed to call it a voice
    (a short "halo?" has about 0.3 s of vowels).
    """

    level_dbfs: float = -38.0
    voicing: float = 0.5
    min_voice_s: float = 0.3


class VoiceDetector:
    """Counts voiced frames in a stream of PCM bytes fed in chunks of any size."""

    def __init__(self, settings: VoiceSettings | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self._level_rms = _FULL_SCALE * 10 ** (self.settings.level_dbfs / 20)
        self._pending = b""
        self._previous = np.zeros(FRAME_SAMPLES)  # the frame before the next one fed
        self.frames = 0  # frames analysed
        self.voiced_frames = 0  # voiced frames in runs that count as speech
        self._run = 0  # voiced frames in the run going on

    @property
    def heard_s(self) -> float:
        """Seconds of voiced audio so far."""
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
        for voiced in self._voiced(frames).tolist():
            self._count(voiced)
        self._previous = frames[-1]

    def _count(self, voiced: bool) -> None:
        """Speech comes in runs of 60 ms to 2 s (syllables, words); a lone periodic frame
        in noise is chance, and a periodic sound that never stops (mains hum, a tone) is
        not a voice. Frames count once their run reaches `MIN_RUN_FRAMES`; a run that
        outlasts `MAX_RUN_FRAMES` is taken back."""
        if not voiced:
            self._run = 0
            return
        self._run += 1
        if self._run == MIN_RUN_FRAMES:
            self.voiced_frames += MIN_RUN_FRAMES
        elif MIN_RUN_FRAMES < self._run <= MAX_RUN_FRAMES:
            self.voiced_frames += 1
        elif self._run == MAX_RUN_FRAMES + 1:
            self.voiced_frames -= MAX_RUN_FRAMES

    def _voiced(self, frames: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Per frame: loud enough, and periodic over the 40 ms that end with it."""
        centred = frames - frames.mean(axis=1, keepdims=True)
        rms = np.sqrt(np.mean(centred**2, axis=1))
        loud = rms >= self._level_rms
        voiced = np.zeros(len(frames), dtype=bool)
        if not loud.any():
            return voiced
        before = np.vstack([self._previous[np.newaxis, :], frames[:-1]])
        windows = np.hstack([before, frames])[loud]
        windows = windows - windows.mean(axis=1, keepdims=True)
        voiced[loud] = _periodicity(windows) >= self.settings.voicing
        return voiced


# A lag-k autocorrelation sums WINDOW_SAMPLES - k products; this undoes that shrinkage so
# a low voice (long lag) scores like a high one.
_LAG_WEIGHTS = WINDOW_SAMPLES / (WINDOW_SAMPLES - np.arange(_LAG_MIN, _LAG_MAX + 1))


def _periodicity(windows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per window, the highest normalised autocorrelation over pitch lags (about 0..1)."""
    size = 2 * WINDOW_SAMPLES  # zero-padded: linear, not circular, correlation
    spectrum = np.fft.rfft(windows, n=size, axis=1)
    autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)
    energy = autocorrelation[:, 0]
    lags = autocorrelation[:, _LAG_MIN : _LAG_MAX + 1] * _LAG_WEIGHTS
    peak = lags.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(energy > 0, peak / energy, 0.0)
    return np.asarray(ratio, dtype=np.float64)


class VoiceListener:
    """Reads a modem's voice port on the event loop and feeds a `VoiceDetector`.

    `open()` raises pyserial's SerialException (an OSError) when the port cannot be opened;
    read errors later (an unplugged stick) stop the listener quietly with a warning, since
    screening goes on without it. Once `analyse` is switched off the listener keeps
    draining the port (a modem streams audio for the whole call and a full buffer stalls
    it) without analysing.
    """

    def __init__(self, port: str, settings: VoiceSettings | None = None) -> None:
        self.port = port
        self.detector = VoiceDetector(settings)
        self.analyse = True
        self.bytes_read = 0
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
        if self.analyse and not self.detector.heard:
            self.detector.feed(data)
