"""What a virtual caller sounds like: synthetic call audio for the voice port.

Real modems stream the call's audio to the host as 8 kHz s16le PCM; the virtual modem
streams one of these instead, so the host's voice detector runs on real bytes over a real
pseudo-terminal:

- `voice`: someone talking into the phone ("halo? ... halo?"): voiced syllables built by
  formant synthesis (a pitch pulse train shaped by vowel resonances, with a wandering
  pitch), about -20 dBFS, with pauses, from `start_s` after the answer;
- `noise`: a phone in a pocket or bag: bursts of unvoiced rustle around -45 dBFS and,
  underneath, voices in the room muffled by cloth (about -50 dBFS while they speak);
- `silence`: a quiet room: faint hiss around -66 dBFS.

Before `start_s` a `voice` caller sounds like `silence`. Each kind is rendered once per
process (a few seconds, looped), so streaming costs one slice per chunk.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any

import numpy as np

PCM_RATE_HZ = 8000
SAMPLE_BYTES = 2
_LOOP_S = 6.0
_VOWELS_HZ = ((730, 1090, 2440), (300, 2290, 3010), (570, 840, 2410), (440, 1020, 2240))
_FORMANT_BANDWIDTHS_HZ = (90, 110, 170)


class SoundKind(StrEnum):
    """The three kinds of caller audio."""

    VOICE = "voice"
    NOISE = "noise"
    SILENCE = "silence"


class CallerSound:
    """The audio one caller sends, read in consecutive chunks from the answer on."""

    def __init__(
        self,
        kind: SoundKind | str = SoundKind.SILENCE,
        *,
        start_s: float = 0.0,
        pitch_hz: float = 160.0,
    ) -> None:
        self.kind = SoundKind(kind)
        self.start_s = start_s
        self.pitch_hz = pitch_hz
        self._position = 0  # samples sent since the answer

    def next_chunk(self, duration_s: float) -> bytes:
        """The next `duration_s` of audio as s16le bytes."""
        count = max(0, round(duration_s * PCM_RATE_HZ))
        start = self._position
        self._position += count
        speech_from = round(self.start_s * PCM_RATE_HZ)
        if self.kind is not SoundKind.VOICE or start + count <= speech_from:
            source = _rendered(SoundKind.SILENCE if self.kind is SoundKind.VOICE else self.kind, 0)
            return _slice(source, start, count)
        if start >= speech_from:
            return _slice(
                _rendered(SoundKind.VOICE, round(self.pitch_hz)), start - speech_from, count
            )
        quiet = _slice(_rendered(SoundKind.SILENCE, 0), start, speech_from - start)
        talk = _slice(
            _rendered(SoundKind.VOICE, round(self.pitch_hz)), 0, start + count - speech_from
        )
        return quiet + talk


def _slice(loop: bytes, start_sample: int, count: int) -> bytes:
    """`count` samples of a looped rendering from `start_sample` on."""
    size = len(loop) // SAMPLE_BYTES
    out = bytearray()
    position = start_sample % size
    while count > 0:
        take = min(count, size - position)
        out += loop[position * SAMPLE_BYTES : (position + take) * SAMPLE_BYTES]
        count -= take
        position = 0
    return bytes(out)


@functools.cache
def _rendered(kind: SoundKind, pitch_hz: int) -> bytes:
    rng = np.random.default_rng(7)
    samples = int(_LOOP_S * PCM_RATE_HZ)
    if kind is SoundKind.VOICE:
        signal = _talking(samples, pitch_hz, rng) + _hiss(samples, -66, rng)
    elif kind is SoundKind.NOISE:
        signal = _rustle(samples, rng) + _muffled_voices(samples, rng) + _hiss(samples, -66, rng)
    else:
        signal = _hiss(samples, -66, rng)
    pcm = np.clip(signal, -1.0, 1.0) * 32767
    return bytes(pcm.astype("<i2").tobytes())


def _at_level(signal: np.ndarray[Any, Any], dbfs: float) -> np.ndarray[Any, Any]:
    rms = float(np.sqrt(np.mean(signal**2))) or 1.0
    return signal * (10 ** (dbfs / 20) / rms)


def _hiss(samples: int, dbfs: float, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    return _at_level(rng.normal(size=samples), dbfs)


def _talking(
    samples: int, pitch_hz: float, rng: np.random.Generator, dbfs: float = -20.0
) -> np.ndarray[Any, Any]:
    """ "Halo?" and again: pairs of voiced syllables of 180-260 ms with pauses between.

    `dbfs` is the active speech level (measured over the syllables, not the pauses), as
    telephone levels are quoted: about -20 dBFS for a caller speaking into the phone.
    """
    out = np.zeros(samples)
    position = int(0.2 * PCM_RATE_HZ)
    vowel = 0
    while position < samples:
        for _syllable in range(2):
            length = int(rng.uniform(0.18, 0.26) * PCM_RATE_HZ)
            end = min(samples, position + length)
            out[position:end] = _vowel(end - position, pitch_hz, _VOWELS_HZ[vowel % 4], rng)
            vowel += 1
            position = end + int(rng.uniform(0.05, 0.12) * PCM_RATE_HZ)
        position += int(rng.uniform(1.0, 1.8) * PCM_RATE_HZ)
    spoken = out != 0
    out[spoken] = _at_level(out[spoken], dbfs)
    return out


def _vowel(
    samples: int, pitch_hz: float, formants: tuple[int, int, int], rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """A vowel: harmonics of a gliding pitch, weighted by three formant resonances."""
    t = np.arange(samples) / PCM_RATE_HZ
    glide = pitch_hz * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(2, 4) * t))
    phase = 2 * np.pi * np.cumsum(glide) / PCM_RATE_HZ
    signal = np.zeros(samples)
    for harmonic in range(1, int(3400 / pitch_hz) + 1):
        frequency = harmonic * pitch_hz
        weight = 0.02 + sum(
            1 / (1 + ((frequency - centre) / width) ** 2)
            for centre, width in zip(formants, _FORMANT_BANDWIDTHS_HZ, strict=True)
        )
        signal += weight * np.sin(harmonic * phase)
    envelope = np.sin(np.pi * np.arange(samples) / samples) ** 0.5
    return np.asarray(signal * envelope)


def _rustle(samples: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Cloth on a microphone: low-passed noise in bursts of 50-400 ms."""
    noise = np.convolve(rng.normal(size=samples), np.ones(6) / 6, mode="same")
    gate = np.zeros(samples)
    position = 0
    while position < samples:
        length = int(rng.uniform(0.05, 0.4) * PCM_RATE_HZ)
        gate[position : position + length] = rng.uniform(0.3, 1.0)
        position += length + int(rng.uniform(0.1, 0.8) * PCM_RATE_HZ)
    return _at_level(noise * gate, -45)


def _muffled_voices(samples: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """A conversation in the room, heard through cloth: low-passed, and some 30 dB below
    a caller speaking into the phone (active level about -50 dBFS)."""
    talk = _talking(samples, 130.0, rng)
    muffled = np.convolve(talk, np.ones(10) / 10, mode="same")
    spoken = np.abs(talk) > 0
    muffled[spoken] = _at_level(muffled[spoken], -50)
    return muffled
