"""Call audio made by tools this project did not write, to test the voice detector on.

The detector in `firmware/audio.py` must not be judged only on the audio the project
synthesises itself (`firmware/virtual_modem/sound.py`): a detector and a test signal
written by the same hands share the same blind spots. So this module makes its test audio
with Debian's tools, at test time, in memory (no audio file is committed or kept):

- speech: `espeak-ng` speaking Indonesian sentences an emergency caller would say, in
  several voices (`id+m3`, `id+f2`, `id+f4`, ...), speeds and pitches, converted by `sox`
  to 8 kHz mono 16-bit and band-limited to the telephone band (300-3400 Hz);
- recorded speech: the words a real person speaks in the WAV files Debian's `alsa-utils`
  ships in /usr/share/sounds/alsa ("Front left", "Rear center", ...; its `Noise.wav` is
  noise, not speech, and is left out), converted the same way;
- noises made by `sox synth`: brown, pink and white noise, each also with tremolo (cloth
  rubbing a microphone in bursts), hiss, mains hum (50 Hz and harmonics) and buzz, single
  and dual tones (Indonesia's 425 Hz dial, busy and ringback tones, the DTMF digit "5",
  a 1 kHz tone), and silence; each as made or through the telephone band;
- street noise (brown plus pink noise swelling slowly, telephone band) to mix speech into;
- muffled speech: the same sentences through cloth (a phone in a pocket or under a
  blanket, a caller far from it), `sox lowpass` at a cutoff (300-800 Hz; 3400 Hz is the
  telephone band alone) before the telephone band, at a quiet level, alone or over the
  room's noise muffled the same way (`muffled_clip`);
- its mirror, a pocket dial whose owner talks to someone else all through the call: two
  talkers taking turns, muffled, the other one 6 dB quieter (`pocket_talk_clip`);
- reverberant speech: the same sentences in a tiled bathroom or stairwell, or from a talker
  far from the phone, through sox `reverb` (its freeverb) before the telephone band, and
  every noise class through the same room (`Room`, `reverberant_clip`);
- a network's comfort noise: the low pink-ish noise GSM/AMR discontinuous transmission
  plays while the caller is silent, its level jumping every 160 ms (`comfort_noise`);
- a handset's noise suppression: a gate that cuts the frames whose energy is under a
  threshold to silence and opens late, clipping each onset (`NoiseGate`, `gated`).
- a caller speaking while the phone rubs against cloth: the tremolo noises above (cloth
  rubbing) mixed under a sentence, or under a whisper or a noise class, at a ratio below
  its level, each clip over its own seeded stretch of the rubbing (`Rubbing`,
  `rubbing_clip`, `under_rubbing`);
- the network's speech codec: any clip above coded and decoded by sox with AMR-NB (12.2
  and 4.75 kbit/s: opencore-amrnb) or GSM full rate (libgsm), as a mobile call reaches
  the modem (`Codec`, `through_codec`, `codec_clip`).

Every level here is an *active level* in dBFS (0 dBFS: the RMS of a full-scale square
wave), measured by `active_level_dbfs`: ITU-T P.56 method B, the way telephone speech
levels are quoted. For a steady noise or tone it equals the plain RMS level; for speech,
a tremolo or a cadenced tone it is the level while the sound is on, not diluted by its
pauses. A signal-to-noise ratio is the speech's active level over the noise's RMS level.

`tests/firmware/test_audio_external.py` asserts the detector's targets on a subset of
this audio; `bench/bench_voice.py` sweeps all of it and prints the confusion table.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from firmware.audio import VoiceDetector, VoiceSettings

RATE_HZ = 8000
FULL_SCALE = 32768.0
TOOLS = ("espeak-ng", "sox")
RECORDED_SPEECH_DIR = Path("/usr/share/sounds/alsa")  # Debian package alsa-utils
RECORDED_NOT_SPEECH = ("Noise",)
NOISE_S = 10.0
LEAD_S = 0.5  # silence before an utterance, as a caller draws breath after the prompt
TAIL_S = 0.5  # and after it: a run of voice counts once it has ended

# What someone calling 112 says first, in Indonesian.
SENTENCES = (
    "Halo? Halo, tolong saya.",
    "Tolong, ada kecelakaan di jalan tol, cepat kirim ambulans.",
    "Rumah saya kebakaran, di Jalan Merdeka nomor dua belas.",
    "Pak, ada orang pingsan di sini, dia tidak bernapas.",
    "Saya dirampok, tolong kirim polisi sekarang juga.",
)

Signal = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Talker:
    """An espeak-ng voice: `voice` (language+variant), words per minute, pitch 0-99."""

    voice: str
    speed_wpm: int
    pitch: int

    @property
    def name(self) -> str:
        """A short label for tables and test ids."""
        return f"{self.voice}/s{self.speed_wpm}/p{self.pitch}"


# Deep to high voices (median pitch measured: id+m1 at p15 71 Hz, id+f3 at p70 251 Hz),
# slow to hurried, and espeak-ng's two synthesisers (the default and klatt).
TALKERS = (
    Talker("id+m3", 150, 40),
    Talker("id+f2", 170, 60),
    Talker("id+f4", 130, 80),
    Talker("id", 190, 30),
    Talker("id+m1", 140, 15),
    Talker("id+f3", 210, 70),
    Talker("id+klatt2", 160, 50),
)
WHISPER = Talker("id+whisper", 150, 50)  # unvoiced: by design not heard

SILENCE = "silence"


def _noise_chain(kind: str, duration_s: float) -> tuple[str, ...]:
    """The `sox` synth effect chain that makes `duration_s` of noise class `kind`."""
    seconds = f"{duration_s:g}"
    cycles = {  # cadenced tones: (cycle length, the chain for one cycle)
        # Indonesia's busy (0.5 s on, 0.5 s off) and ringback (1 s on, 4 s off) tones.
        "busy-425": (1.0, ("synth", "0.5", "sine", "425", "pad", "0", "0.5")),
        "ringback-425": (5.0, ("synth", "1", "sine", "425", "pad", "0", "4")),
        # The caller pressing the challenge key: DTMF "5" (770 + 1336 Hz), 100 ms on/off.
        "dtmf": (0.2, ("synth", "0.1", "sine", "770", "sine", "mix", "1336", "pad", "0", "0.1")),
        # Beyond the targets: a GSM handset's 217 Hz interference buzz in 0.5 s bursts.
        "buzz-217-bursts": (1.0, ("synth", "0.5", "square", "217", "pad", "0", "0.5")),
    }
    if kind in cycles:
        cycle_s, chain = cycles[kind]
        return (*chain, "repeat", str(max(0, round(duration_s / cycle_s) - 1)))
    # Tremolo at 1.5-4 Hz and full depth is cloth rubbing a microphone in bursts, at about
    # the rate syllables come: the hardest rhythm for a speech detector.
    chains: dict[str, tuple[str, ...]] = {
        "brown": ("synth", seconds, "brownnoise"),
        "pink": ("synth", seconds, "pinknoise"),
        "white": ("synth", seconds, "whitenoise"),
        "brown-tremolo": ("synth", seconds, "brownnoise", "tremolo", "3", "100"),
        "pink-tremolo": ("synth", seconds, "pinknoise", "tremolo", "4", "100"),
        "white-tremolo": ("synth", seconds, "whitenoise", "tremolo", "1.5", "90"),
        "hiss": ("synth", seconds, "whitenoise", "highpass", "2500"),
        "hum": ("synth", seconds, "sine", "50", "sine", "mix", "100", "sine", "mix", "150"),
        "buzz": ("synth", seconds, "sawtooth", "50", "lowpass", "1000"),
        "tone-1k": ("synth", seconds, "sine", "1000"),
        "dial-425": ("synth", seconds, "sine", "425"),
        "dual-tone": ("synth", seconds, "sine", "697", "sine", "mix", "1209"),
        SILENCE: ("trim", "0", seconds, "dither"),
    }
    return chains[kind]


NOISES = (
    "brown",
    "pink",
    "white",
    "brown-tremolo",
    "pink-tremolo",
    "white-tremolo",
    "hiss",
    "hum",
    "buzz",
    "tone-1k",
    "dial-425",
    "busy-425",
    "ringback-425",
    "dtmf",
    "dual-tone",
    SILENCE,
)
# Sounds a pitch detector cannot tell from a voice, reported apart (docs/voice-detector.md).
BEYOND_TARGETS = ("buzz-217-bursts",)
NOISE_LEVELS_DBFS = (-60.0, -50.0, -40.0, -30.0, -22.0, -15.0)
SPEECH_LEVELS_DBFS = (-55.0, -50.0, -45.0, -40.0, -35.0, -30.0, -20.0, -10.0)
SNRS_DB = (20.0, 10.0, 5.0, 0.0)
STREET_SPEECH_LEVEL_DBFS = -26.0  # a caller speaking into the phone, a typical level

# Cloth over the microphone takes the highs away: sox's `lowpass` (two poles, 12 dB an
# octave past the cutoff, as cloth damps gradually), then the telephone band. 3400 Hz:
# no cloth, the telephone band alone (the quiet, distant talker).
NO_CLOTH_HZ = 3400.0
CLOTH_CUTOFFS_HZ = (300.0, 500.0, 800.0, NO_CLOTH_HZ)
MUFFLED_LEVELS_DBFS = tuple(float(level) for level in range(-40, -60, -2))  # -40 .. -58
# A caller speaking into the phone (-26 dBFS is typical) and louder, then the muffled
# sweep's quiet levels: the levels the reverberant and processed worlds are swept at. An
# echo that carries the voicing across the gaps between words matters most when loud.
WORLD_LEVELS_DBFS = (-20.0, -26.0, -30.0, -35.0, *MUFFLED_LEVELS_DBFS)
# "A little" room noise under a muffled caller: RMS, muffled by the same cloth. -60 dBFS
# sits at the top of a mobile call's own noise floor (about -60 to -70 dBFS).
ROOM_NOISE_DBFS = -60.0
ROOM_NOISE_S = 40.0  # one draw per cutoff, long enough for any clip made here
POCKET_TALK_S = 36.0  # as long as the default challenge listens
POCKET_OTHER_DOWN_DB = 6.0  # the owner's companion, further from the pocket
POCKET_GAPS_S = (0.4, 0.9, 0.6, 1.2, 0.5)  # between turns, in this order, round and round


# A room's echo: sox `reverb` (freeverb). Room scale 100 % (the largest room the effect
# models), high-frequency damping at sox's default 50 %, stereo depth 0 (one microphone:
# mono in, mono out), no pre-delay, the wet part at 0 dB. Each sentence is padded with
# REVERB_TAIL_S of silence first so the echo can ring out: 50 % is gone within it, 100 %
# decays only about 8.5 dB a second and is cut some 25 dB down (measured).
REVERB_ROOM_SCALE_PCT = 100
REVERB_HF_DAMPING_PCT = 50
REVERB_TAIL_S = 3.0
# sox's reverb adds the echo to the sound, and its comb filters ring up a steady tone
# near their resonances: 20 dB of headroom first, so that no sound made here clips (with
# 6 dB, a 425 Hz tone through reverberance 100 % clipped and gained the harmonics of a
# buzz). The level is set afterwards anyway; clipping is an error (`_run`).
_REVERB_HEADROOM = ("gain", "-20")


@dataclass(frozen=True)
class Room:
    """The echo between a talker and the phone: sox `reverb` at `reverberance_pct`
    (0-100 %), the direct sound and its echo, or with `wet_only` the echo alone (a
    talker far from the microphone, heard only by what the walls send back)."""

    reverberance_pct: int
    wet_only: bool = False

    @property
    def name(self) -> str:
        """A short label for tables and test ids."""
        return f"reverb {self.reverberance_pct}%{' wet only' if self.wet_only else ''}"

    @property
    def effects(self) -> tuple[str, ...]:
        """The sox effects: headroom, then `reverb [-w] reverberance 50 100 0`."""
        wet = ("-w",) if self.wet_only else ()
        settings = (self.reverberance_pct, REVERB_HF_DAMPING_PCT, REVERB_ROOM_SCALE_PCT, 0)
        return (*_REVERB_HEADROOM, "reverb", *wet, *(str(value) for value in settings))


# A small room (0 %: sox's shortest echo, 0.2 s), a tiled bathroom (50 %: about 1.7 s
# to fall 60 dB), a stairwell or hall (100 %: about 7 s), and a talker far from the phone in
# the last two: the echo alone.
ROOMS = (Room(0), Room(50), Room(100), Room(50, wet_only=True), Room(100, wet_only=True))

# GSM/AMR discontinuous transmission: while the caller is silent the handset sends a
# silence descriptor every 8 frames (160 ms) and the network plays comfort noise shaped
# by it, so the noise's level steps every 160 ms. Modelled as sox's pink (or brown)
# noise through the telephone band, its level set per 160 ms frame: drawn evenly in dB
# within `jump_db` of the clip's level, stepping abruptly (the harder case: a decoder
# may smooth the steps). The draws are seeded: the same clip every run.
COMFORT_FRAME_S = 0.16
COMFORT_SEED = 8
COMFORT_LEVELS_DBFS = (-70.0, -65.0, -60.0, -55.0, -50.0, -45.0, -40.0, -35.0, -30.0)
COMFORT_PROMISE_LEVELS_DBFS = (-70.0, -65.0, -60.0, -55.0, -50.0)  # what networks play


@dataclass(frozen=True)
class ComfortNoise:
    """Comfort noise of one colour (`pink` or `brown`) whose level jumps, every
    COMFORT_FRAME_S, anywhere within `jump_db` either side of its level."""

    colour: str
    jump_db: float

    @property
    def name(self) -> str:
        """A short label for tables and test ids."""
        return f"{self.colour} +-{self.jump_db:g} dB"


# A steady background (the level wanders 3 dB), one that changes (10 dB), and a darker
# one (brown: most of its energy under the 400 Hz the detector's gate reads).
COMFORT_NOISES = (
    ComfortNoise("pink", 3.0),
    ComfortNoise("pink", 10.0),
    ComfortNoise("brown", 10.0),
)

# A handset's noise suppression, modelled as a gate on 10 ms frames: a frame whose RMS is
# under the threshold is cut (gain 0, or `floor_db`); the gate opens only after the
# energy has stayed above the threshold for `onset_s` (so every onset loses that much)
# and closes `release_s` after it drops. The gain steps are smoothed over 1 ms. The
# room's noise sits at ROOM_NOISE_DBFS, so a threshold 6 dB above it passes little of
# the noise, 12 dB above it none, and cuts more of a quiet talker.
GATE_FRAME_S = 0.01
GATE_RAMP_S = 0.001


@dataclass(frozen=True)
class NoiseGate:
    """A handset's noise suppression: frames under `threshold_dbfs` are cut to
    `floor_db` (-inf: digital silence), or filled with comfort noise at
    `comfort_dbfs` (the network's discontinuous transmission after the gate)."""

    threshold_dbfs: float
    onset_s: float
    release_s: float = 0.02
    floor_db: float = -math.inf
    comfort_dbfs: float | None = None

    @property
    def name(self) -> str:
        """A short label for tables and test ids."""
        cut = "comfort noise" if self.comfort_dbfs is not None else "cut"
        return f"gate {self.threshold_dbfs:g} dBFS, onset {self.onset_s * 1000:g} ms, {cut}"


NOISE_GATES = (
    NoiseGate(ROOM_NOISE_DBFS + 6, 0.02),
    NoiseGate(ROOM_NOISE_DBFS + 6, 0.05),
    NoiseGate(ROOM_NOISE_DBFS + 12, 0.02),
    NoiseGate(ROOM_NOISE_DBFS + 12, 0.05),
    NoiseGate(ROOM_NOISE_DBFS + 12, 0.05, comfort_dbfs=ROOM_NOISE_DBFS),
)

# Cloth rubbing the microphone while the caller speaks (a phone held against clothing, in a
# shirt pocket on speaker): the tremolo noise classes, sox's rubbing, as made and through
# the telephone band, under the voice for the whole clip. The ratio is the speech's active
# level over the rubbing's RMS (as for every SNR here; for these noises, over a clip's
# few seconds, the two levels agree to 0.3 dB). Each clip takes its own stretch of one
# RUBBING_S draw of each kind, starting where a generator seeded by RUBBING_SEED and the
# clip's name says, so that the bursts fall differently on each sentence, the same at
# every level and ratio and run.
RUBBING_KINDS = ("brown-tremolo", "pink-tremolo", "white-tremolo")
RUBBING_RATIOS_DB = (10.0, 5.0, 0.0, -5.0)
RUBBING_SPEECH_LEVELS_DBFS = (STREET_SPEECH_LEVEL_DBFS, -40.0)
RUBBING_S = 40.0  # longer than any clip rubbed here (a challenge's 36 s of noise)
RUBBING_SEED = 13


@dataclass(frozen=True)
class Rubbing:
    """Cloth rubbing the microphone: a tremolo noise class (`RUBBING_KINDS`), as made or
    through the telephone band."""

    kind: str
    phone_band: bool = False

    @property
    def name(self) -> str:
        """A short label for tables and test ids, as the noise tables name the class."""
        return f"{self.kind} (phone band)" if self.phone_band else self.kind


RUBBINGS = tuple(Rubbing(kind, band) for band in (False, True) for kind in RUBBING_KINDS)

# The network's speech codec: a mobile call reaches the modem as the codec decoded it. The
# caller's handset codes it (AMR-NB, at a rate the cell chooses, lower when it is busy or
# the signal is weak), and the modem's own leg codes it again on the way down (AMR-NB, or
# GSM full rate on older cells); a key pressed on the handset is sent as signalling and
# played as a tone into the modem's leg, so it crosses one codec. sox codes and decodes
# with the libraries Debian's sox uses (opencore-amrnb, libgsm), not the project's code.
# Codec noise follows the coder's pitch predictor, so a tone comes out of a CELP codec
# with noise that repeats at a pitch: the case the detector's tone check must still catch.


@dataclass(frozen=True)
class Codec:
    """A speech codec sox can code 8 kHz audio to and decode back: its sox file type
    and options (`-C`: AMR-NB's mode, 0 = 4.75 to 7 = 12.2 kbit/s)."""

    name: str
    sox_type: str
    options: tuple[str, ...] = ()


CODECS = (
    Codec("AMR-NB 12.2 kbit/s", "amr-nb", ("-C", "7")),
    Codec("AMR-NB 4.75 kbit/s", "amr-nb", ("-C", "0")),
    Codec("GSM full rate", "gsm"),
)


class ToolMissing(RuntimeError):
    """`espeak-ng` or `sox` is not installed (`./dev test` installs both)."""


def missing_tools() -> list[str]:
    """The external commands this module needs that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def recorded_speech_files() -> list[Path]:
    """The recorded spoken words shipped by alsa-utils ([] when it is not installed)."""
    if not RECORDED_SPEECH_DIR.is_dir():
        return []
    return [
        path
        for path in sorted(RECORDED_SPEECH_DIR.glob("*.wav"))
        if path.stem not in RECORDED_NOT_SPEECH
    ]


def _clipped_from_reverb_on(command: list[str], stderr: bytes) -> list[str]:
    """The effects of a sox `command` from `reverb` on (and those sox adds after the
    chain: rate, dither) that warned they clipped; what clipped before it is the sound
    as the class makes it without a room (sox's `hiss` clips in its high-pass)."""
    before = command[: command.index("reverb")] if "reverb" in command else command
    clipped = re.findall(rb"WARN (\w+): \1 clipped", stderr)
    return [name.decode() for name in clipped if name.decode() not in before]


def _run(command: list[str], stdin: bytes | None = None, unclipped: bool = False) -> bytes:
    """The command's stdout; with `unclipped`, an error too when sox warns that the room's
    echo or an effect after it clipped (a clipped tone gains harmonics a pitch detector
    hears: not the sound meant)."""
    missing = missing_tools()
    if missing:
        raise ToolMissing(f"missing {', '.join(missing)}: apt-get install them (./dev test)")
    done = subprocess.run(command, input=stdin, capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr.decode(errors='replace')}")
    if unclipped and _clipped_from_reverb_on(command, done.stderr):
        raise RuntimeError(f"{command[0]} clipped: {done.stderr.decode(errors='replace')}")
    return done.stdout


# `-R`: sox's noise generators start from the same seed every run, so every figure in the
# docs and every test result is reproducible.
_SOX = ("sox", "-R")
_RAW_OUT = (
    "-t",
    "raw",
    "-r",
    str(RATE_HZ),
    "-c",
    "1",
    "-b",
    "16",
    "-e",
    "signed-integer",
    "-L",
    "-",
)
_TELEPHONE_BAND = ("sinc", "300-3400")
_RAW_IN = ("-t", "raw", "-r", str(RATE_HZ), "-c", "1", "-b", "16", "-e", "signed-integer", "-")


def _from_raw(raw: bytes) -> Signal:
    """s16le bytes as float samples, full scale 1.0."""
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / FULL_SCALE


def from_pcm(pcm: bytes) -> Signal:
    """s16le bytes (a modem's voice port, the simulator's sounds) as float samples."""
    return _from_raw(pcm)


def to_pcm(signal: Signal) -> bytes:
    """Float samples (full scale 1.0) as the s16le bytes a modem's voice port carries;
    anything beyond full scale clips, as it would in the phone."""
    clipped = np.clip(np.round(signal * FULL_SCALE), -32768, 32767)
    return bytes(clipped.astype("<i2").tobytes())


def telephone_wav(wav: bytes, cutoff_hz: float = NO_CLOTH_HZ, room: Room | None = None) -> Signal:
    """Any WAV as 8 kHz mono telephone-band samples (sox's resampler and sinc filter),
    through a room's echo first when `room` is given (`Room.effects`, the reverberant
    tail kept) and through cloth when `cutoff_hz` is below NO_CLOTH_HZ (`cloth`)."""
    echo = () if room is None else ("pad", "0", f"{REVERB_TAIL_S:g}", *room.effects)
    chain = (*echo, *cloth(cutoff_hz), *_TELEPHONE_BAND)
    command = [*_SOX, "-t", "wav", "-", *_RAW_OUT, *chain]
    return _from_raw(_run(command, wav, unclipped=room is not None))


def spoken(
    sentence: str, talker: Talker, cutoff_hz: float = NO_CLOTH_HZ, room: Room | None = None
) -> Signal:
    """`sentence` spoken by espeak-ng as `talker`, telephone band, unscaled; in `room`
    (its echo, `Room`) when given; muffled by cloth at `cutoff_hz` when that is below
    NO_CLOTH_HZ."""
    speed, pitch = str(talker.speed_wpm), str(talker.pitch)
    wav = _run(["espeak-ng", "-v", talker.voice, "-s", speed, "-p", pitch, "--stdout", sentence])
    return telephone_wav(wav, cutoff_hz, room)


def recorded(path: Path) -> Signal:
    """A recorded speech file as telephone-band samples, unscaled."""
    return telephone_wav(path.read_bytes())


def noise(
    kind: str, duration_s: float = NOISE_S, phone_band: bool = False, room: Room | None = None
) -> Signal:
    """`duration_s` of noise class `kind` (one of NOISES), unscaled; as made at 8 kHz (a
    modem's own audio path is not always band-limited, and rumble is the harder case) or
    through the telephone band; heard through `room`'s echo first when given."""
    band = _TELEPHONE_BAND if phone_band else ()
    echo = () if room is None else room.effects
    chain = (*_noise_chain(kind, duration_s), *echo, *band)
    return _from_raw(_run([*_SOX, "-n", *_RAW_OUT, *chain], unclipped=room is not None))


def through_room(pcm: bytes, room: Room) -> Signal:
    """8 kHz s16le audio (the simulator's own sounds) heard through `room`'s echo, as
    long as it was (the echo of its last second is cut off with it)."""
    return _from_raw(_run([*_SOX, *_RAW_IN, *_RAW_OUT, *room.effects], pcm, unclipped=True))


def through_codec(samples: Signal, codec: Codec) -> Signal:
    """`samples` coded by `codec` and decoded back (sox), as long as they were: a
    network's codec between the caller and the modem. Beyond full scale clips first."""
    coded = _run([*_SOX, *_RAW_IN, "-t", codec.sox_type, *codec.options, "-"], to_pcm(samples))
    decoded = _from_raw(_run([*_SOX, "-t", codec.sox_type, "-", *_RAW_OUT], coded))
    if len(decoded) < len(samples):
        decoded = np.concatenate([decoded, np.zeros(len(samples) - len(decoded))])
    return decoded[: len(samples)]


def cloth(cutoff_hz: float) -> tuple[str, ...]:
    """The sox effect for cloth over the microphone: a two-pole low-pass at `cutoff_hz`
    (none from NO_CLOTH_HZ up: the telephone band cuts there anyway)."""
    if cutoff_hz <= 0:
        raise ValueError(f"cutoff must be positive, not {cutoff_hz:g} Hz")
    return () if cutoff_hz >= NO_CLOTH_HZ else ("lowpass", "-2", f"{cutoff_hz:g}")


def street_noise(duration_s: float, cutoff_hz: float = NO_CLOTH_HZ) -> Signal:
    """Traffic heard through a phone: brown and pink noise swelling slowly, phone band;
    with `cutoff_hz` below NO_CLOTH_HZ, heard through cloth as well (`cloth`)."""
    seconds = f"{duration_s:.3f}"
    band = (*cloth(cutoff_hz), *_TELEPHONE_BAND)
    rumble = _run([*_SOX, "-n", *_RAW_OUT, "synth", seconds, "brownnoise", *band])
    swell = ("synth", seconds, "pinknoise", "tremolo", "0.3", "40", *band)
    traffic = _run([*_SOX, "-n", *_RAW_OUT, *swell])
    brown, pink = _from_raw(rumble), _from_raw(traffic)
    size = min(len(brown), len(pink))
    return np.asarray(brown[:size] + 0.7 * pink[:size])


# ---------------------------------------------------------------------------------------
# Active level, ITU-T P.56 method B.

_P56_TIME_CONSTANT_S = 0.03  # envelope smoothing
_P56_HANGOVER_S = 0.2  # a sample stays active this long after the envelope drops
_P56_MARGIN_DB = 15.9  # the threshold used sits this far below the active level
_P56_THRESHOLDS = 2.0 ** np.arange(16) / FULL_SCALE  # 1 LSB to full scale, 6 dB apart


def _envelope(magnitude: Signal) -> Signal:
    """P.56's envelope: |x| through two first-order smoothers of 30 ms, by FFT."""
    decay = math.exp(-1 / (_P56_TIME_CONSTANT_S * RATE_HZ))
    taps = np.arange(int(12 * _P56_TIME_CONSTANT_S * RATE_HZ))
    # Two identical one-pole smoothers in a row: impulse response (1-g)^2 (n+1) g^n.
    kernel = (1 - decay) ** 2 * (taps + 1) * decay**taps
    size = len(magnitude) + len(kernel) - 1
    n_fft = 1 << (size - 1).bit_length()
    smoothed = np.fft.irfft(np.fft.rfft(magnitude, n_fft) * np.fft.rfft(kernel, n_fft), n_fft)
    return np.asarray(smoothed[: len(magnitude)])


def _active_counts(envelope: Signal) -> Signal:
    """Per P.56 threshold, how many samples are active (envelope above it, or hangover)."""
    hangover = int(_P56_HANGOVER_S * RATE_HZ)
    index = np.arange(len(envelope))
    counts = np.zeros(len(_P56_THRESHOLDS))
    for j, threshold in enumerate(_P56_THRESHOLDS):
        above = np.where(envelope >= threshold, index, -(10**9))
        last_above = np.maximum.accumulate(above)
        counts[j] = np.count_nonzero(index - last_above <= hangover)
    return counts


def active_level_dbfs(signal: Signal) -> float:
    """The active level of `signal` (float, full scale 1.0) in dBFS, ITU-T P.56 method B.

    The mean square over the samples counted active, where a sample is active when the
    envelope of |x| (two 30 ms smoothers) is above a threshold c, or was within the last
    200 ms. Of the thresholds 2^j LSB (6 dB apart) the one used sits 15.9 dB below the
    resulting level, interpolated linearly (in dB) between the two thresholds that
    straddle that margin. -inf for digital silence.
    """
    energy = float(np.sum(signal**2))
    if energy == 0.0:
        return -math.inf
    counts = _active_counts(_envelope(np.abs(signal)))
    with np.errstate(divide="ignore"):
        levels_db = 10 * np.log10(energy / np.maximum(counts, 1))
    thresholds_db = 20 * np.log10(_P56_THRESHOLDS)
    margins_db = np.where(counts > 0, levels_db - thresholds_db, -np.inf)
    below = np.flatnonzero(margins_db <= _P56_MARGIN_DB)
    if len(below) == 0:
        return float(levels_db[-1])
    j = int(below[0])
    if j == 0:
        return float(levels_db[0])
    over, under = margins_db[j - 1], margins_db[j]
    fraction = (over - _P56_MARGIN_DB) / (over - under)
    return float(levels_db[j - 1] + fraction * (levels_db[j] - levels_db[j - 1]))


def rms_dbfs(signal: Signal) -> float:
    """Plain long-term RMS level in dBFS."""
    mean_square = float(np.mean(signal**2)) if len(signal) else 0.0
    return 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


def at_level(signal: Signal, dbfs: float) -> Signal:
    """`signal` scaled so that its active level is `dbfs` (to 0.01 dB: P.56 is not quite
    scale-free at its 6 dB thresholds, so the gain is refined)."""
    scaled = signal
    for _ in range(4):
        level = active_level_dbfs(scaled)
        if not math.isfinite(level) or abs(level - dbfs) < 0.01:
            break
        scaled = scaled * 10 ** ((dbfs - level) / 20)
    return np.asarray(scaled)


def framed(speech: Signal) -> Signal:
    """`speech` with LEAD_S of silence before it and TAIL_S after it."""
    return np.concatenate(
        [np.zeros(round(LEAD_S * RATE_HZ)), speech, np.zeros(round(TAIL_S * RATE_HZ))]
    )


def over_noise(speech: Signal, background: Signal, snr_db: float) -> Signal:
    """`speech` (framed by LEAD_S and TAIL_S) over `background`, the background's RMS
    `snr_db` below the speech's active level and running for the whole clip."""
    clip = framed(speech)
    if len(background) < len(clip):
        raise ValueError("background shorter than the framed speech")
    gain_db = active_level_dbfs(speech) - snr_db - rms_dbfs(background)
    return np.asarray(clip + background[: len(clip)] * 10 ** (gain_db / 20))


def with_noise_at(clip: Signal, background: Signal, noise_dbfs: float) -> Signal:
    """`clip` with `background` under it for its whole length, the background scaled to
    `noise_dbfs` RMS (an absolute level, whatever the clip's)."""
    if len(background) < len(clip):
        raise ValueError("background shorter than the clip")
    part = background[: len(clip)]
    return np.asarray(clip + part * 10 ** ((noise_dbfs - rms_dbfs(part)) / 20))


def rubbed(samples: Signal, dbfs: float, rubbing: Signal, ratio_db: float, name: str) -> Signal:
    """`samples` (whose active level is `dbfs`) with a stretch of `rubbing` under them for
    their whole length, its RMS `ratio_db` below `dbfs`. The stretch starts where a
    generator seeded by RUBBING_SEED and `name` (the clip's, not its level's) says."""
    if len(rubbing) < len(samples):
        raise ValueError("rubbing shorter than the clip")
    rng = np.random.default_rng([RUBBING_SEED, zlib.crc32(name.encode())])
    start = int(rng.integers(0, len(rubbing) - len(samples) + 1))
    part = rubbing[start : start + len(samples)]
    return np.asarray(samples + part * 10 ** ((dbfs - ratio_db - rms_dbfs(part)) / 20))


def comfort_noise(
    comfort: ComfortNoise, dbfs: float, duration_s: float, seed: int = COMFORT_SEED
) -> Signal:
    """`duration_s` of a network's comfort noise: sox's `comfort.colour` noise through
    the telephone band at `dbfs` RMS, each COMFORT_FRAME_S frame then stepped to a level
    drawn evenly within `comfort.jump_db` of it (seeded by `seed`)."""
    made = ("synth", f"{duration_s:.3f}", f"{comfort.colour}noise", *_TELEPHONE_BAND)
    steady = _from_raw(_run([*_SOX, "-n", *_RAW_OUT, *made]))
    steady = steady * 10 ** ((dbfs - rms_dbfs(steady)) / 20)
    frame = round(COMFORT_FRAME_S * RATE_HZ)
    frames = -(-len(steady) // frame)
    jumps_db = np.random.default_rng(seed).uniform(-comfort.jump_db, comfort.jump_db, frames)
    gains = np.repeat(10 ** (jumps_db / 20), frame)[: len(steady)]
    return np.asarray(steady * gains)


def _gate_open(levels_dbfs: Signal, gate: NoiseGate) -> Signal:
    """Per gate frame, whether the gate is open: after `onset_s` above the threshold,
    until `release_s` below it."""
    onset = round(gate.onset_s / GATE_FRAME_S)
    release = round(gate.release_s / GATE_FRAME_S)
    is_open = np.zeros(len(levels_dbfs), dtype=bool)
    above_run = 0  # frames above the threshold in a row
    since_above = release + 1  # frames since the last one above
    opened = False
    for index, level in enumerate(levels_dbfs):
        if level >= gate.threshold_dbfs:
            above_run, since_above = above_run + 1, 0
            opened = opened or above_run > onset
        else:
            above_run, since_above = 0, since_above + 1
            opened = opened and since_above <= release
        is_open[index] = opened
    return is_open


def gated(samples: Signal, gate: NoiseGate, fill: Signal | None = None) -> Signal:
    """`samples` through a handset's noise suppression (`NoiseGate`): the 10 ms frames
    the gate holds closed cut to its floor, or replaced by `fill` (comfort noise, at
    least as long) where `gate.comfort_dbfs` is set."""
    frame = round(GATE_FRAME_S * RATE_HZ)
    frames = len(samples) // frame
    whole = samples[: frames * frame].reshape(frames, frame)
    with np.errstate(divide="ignore"):
        levels = 10 * np.log10(np.mean(whole**2, axis=1))
    floor = 0.0 if gate.floor_db == -math.inf else 10 ** (gate.floor_db / 20)
    gains = np.where(_gate_open(levels, gate), 1.0, floor)
    gains = np.append(gains, gains[-1:] if frames else [floor])  # the ragged last frame
    per_sample = np.repeat(gains, frame)[: len(samples)]
    ramp = max(1, round(GATE_RAMP_S * RATE_HZ))
    per_sample = np.convolve(per_sample, np.ones(ramp) / ramp, mode="same")
    out = samples * per_sample
    if gate.comfort_dbfs is not None:
        if fill is None or len(fill) < len(samples):
            raise ValueError("a gate that fills with comfort noise needs enough of it")
        out = out + fill[: len(samples)] * (1.0 - per_sample)
    return np.asarray(out)


# ---------------------------------------------------------------------------------------
# Clips and listening.


@dataclass(frozen=True)
class Clip:
    """One piece of test audio: its class, level (or SNR), whether it is a voice."""

    kind: str
    level_db: float
    is_voice: bool
    samples: Signal
    detail: str = ""

    @property
    def pcm(self) -> bytes:
        """The samples as s16le bytes."""
        return to_pcm(self.samples)

    @property
    def duration_s(self) -> float:
        """Length of the clip."""
        return len(self.samples) / RATE_HZ


@dataclass(frozen=True)
class Heard:
    """What a fresh detector made of a clip fed in `chunk_s` pieces."""

    heard: bool
    heard_s: float
    listened_s: float
    heard_after_s: float | None  # listening time when `heard` first held


def listen(pcm: bytes, settings: VoiceSettings | None = None, chunk_s: float = 0.1) -> Heard:
    """Feed `pcm` to a new `VoiceDetector` in `chunk_s` pieces (what it counts does not
    depend on their size; `heard_after_s` has their resolution)."""
    detector = VoiceDetector(settings)
    step = round(chunk_s * RATE_HZ) * 2
    heard_after_s = None
    for start in range(0, len(pcm), step):
        detector.feed(pcm[start : start + step])
        if heard_after_s is None and detector.heard:
            heard_after_s = detector.listened_s
    return Heard(detector.heard, detector.heard_s, detector.listened_s, heard_after_s)


class Library:
    """Makes the sounds once (cached, unscaled); scaled clips are made on demand."""

    def __init__(self) -> None:
        self._speech: dict[tuple[str, Talker, float, Room | None], Signal] = {}
        self._noise: dict[tuple[str, float, bool, Room | None], Signal] = {}
        self._recorded: dict[Path, Signal] = {}
        self._room: dict[float, Signal] = {}
        self._comfort: dict[tuple[ComfortNoise, float, float], Signal] = {}

    def speech(
        self,
        sentence: str,
        talker: Talker,
        cutoff_hz: float = NO_CLOTH_HZ,
        room: Room | None = None,
    ) -> Signal:
        """The sentence spoken by the talker, unscaled; through cloth below NO_CLOTH_HZ;
        in `room` (its echo ringing out after the words) when given."""
        key = (sentence, talker, cutoff_hz, room)
        if key not in self._speech:
            self._speech[key] = spoken(sentence, talker, cutoff_hz, room)
        return self._speech[key]

    def room_noise(self, cutoff_hz: float) -> Signal:
        """ROOM_NOISE_S of street noise through the same cloth, unscaled."""
        if cutoff_hz not in self._room:
            self._room[cutoff_hz] = street_noise(ROOM_NOISE_S, cutoff_hz)
        return self._room[cutoff_hz]

    def muffled_clip(
        self,
        sentence: str,
        talker: Talker,
        dbfs: float,
        cutoff_hz: float,
        noise_dbfs: float | None = None,
    ) -> Clip:
        """A caller heard through cloth (`cutoff_hz`) at an active level `dbfs`, framed
        by silence, or by the room's noise (muffled alike) at `noise_dbfs` RMS throughout."""
        samples = framed(at_level(self.speech(sentence, talker, cutoff_hz), dbfs))
        if noise_dbfs is not None:
            samples = with_noise_at(samples, self.room_noise(cutoff_hz), noise_dbfs)
        detail = f"{talker.name}: {sentence}"
        return Clip(f"muffled-{cutoff_hz:g}", dbfs, True, samples, detail)

    def pocket_talk_clip(
        self,
        owner: Talker,
        other: Talker,
        dbfs: float,
        cutoff_hz: float,
        noise_dbfs: float | None = None,
        duration_s: float = POCKET_TALK_S,
    ) -> Clip:
        """A pocket dial whose owner talks to someone else all through it: `owner` and
        `other` take turns through the sentences (gaps of POCKET_GAPS_S), both through
        cloth at `cutoff_hz`; the owner at active level `dbfs`, the other
        POCKET_OTHER_DOWN_DB quieter; over the room's noise at `noise_dbfs` if given.
        The owner's first word comes LEAD_S after the answer, as a caller's would; the
        clip lasts `duration_s`."""
        size = round(duration_s * RATE_HZ)
        parts: list[Signal] = [np.zeros(round(LEAD_S * RATE_HZ))]
        made = len(parts[0])
        turn = 0
        while made < size:
            talker, down_db = (owner, 0.0) if turn % 2 == 0 else (other, POCKET_OTHER_DOWN_DB)
            sentence = SENTENCES[turn % len(SENTENCES)]
            speech = at_level(self.speech(sentence, talker, cutoff_hz), dbfs - down_db)
            gap = np.zeros(round(POCKET_GAPS_S[turn % len(POCKET_GAPS_S)] * RATE_HZ))
            parts += [speech, gap]
            made += len(speech) + len(gap)
            turn += 1
        samples = np.concatenate(parts)[:size]
        if noise_dbfs is not None:
            samples = with_noise_at(samples, self.room_noise(cutoff_hz), noise_dbfs)
        detail = f"{owner.name} and {other.name}, {duration_s:g} s"
        return Clip(f"pocket-talk-{cutoff_hz:g}", dbfs, True, samples, detail)

    def noise(
        self,
        kind: str,
        duration_s: float = NOISE_S,
        phone_band: bool = False,
        room: Room | None = None,
    ) -> Signal:
        """A noise class, unscaled; through `room`'s echo when given."""
        key = (kind, duration_s, phone_band, room)
        if key not in self._noise:
            self._noise[key] = noise(kind, duration_s, phone_band, room)
        return self._noise[key]

    def speech_clip(self, sentence: str, talker: Talker, dbfs: float) -> Clip:
        """A sentence at an active level, framed by silence."""
        samples = framed(at_level(self.speech(sentence, talker), dbfs))
        return Clip("speech", dbfs, True, samples, f"{talker.name}: {sentence}")

    def noise_clip(
        self,
        kind: str,
        dbfs: float,
        duration_s: float = NOISE_S,
        phone_band: bool = False,
        room: Room | None = None,
    ) -> Clip:
        """A noise class at an active level (silence as made, whatever `dbfs` says),
        through `room`'s echo when given (the level is set after it)."""
        samples = self.noise(kind, duration_s, phone_band, room)
        if kind != SILENCE:
            samples = at_level(samples, dbfs)
        name = f"{kind} (phone band)" if phone_band else kind
        return Clip(name, dbfs, False, samples, "" if room is None else room.name)

    def reverberant_clip(
        self, sentence: str, talker: Talker, dbfs: float, room: Room | None
    ) -> Clip:
        """A caller in `room` (None: dry, no echo), one sentence and its echo at active
        level `dbfs` as the phone hears them, framed by silence."""
        samples = framed(at_level(self.speech(sentence, talker, room=room), dbfs))
        kind = "dry" if room is None else room.name
        return Clip(kind, dbfs, True, samples, f"{talker.name}: {sentence}")

    def comfort(self, comfort: ComfortNoise, dbfs: float, duration_s: float) -> Signal:
        """`comfort_noise` at `dbfs`, made once per colour, jump, level and length."""
        key = (comfort, dbfs, duration_s)
        if key not in self._comfort:
            self._comfort[key] = comfort_noise(comfort, dbfs, duration_s)
        return self._comfort[key]

    def comfort_clip(self, comfort: ComfortNoise, dbfs: float, duration_s: float) -> Clip:
        """A caller's silence as the network plays it: comfort noise only."""
        samples = self.comfort(comfort, dbfs, duration_s)
        return Clip(f"comfort {comfort.name}", dbfs, False, samples)

    def suppressed_clip(
        self, sentence: str, talker: Talker, dbfs: float, gate: NoiseGate | None
    ) -> Clip:
        """A sentence at active level `dbfs` over the room's noise at ROOM_NOISE_DBFS
        (telephone band, no cloth), through a handset's noise suppression `gate` (None:
        none, the same clip as `muffled_clip` makes with no cloth)."""
        clip = self.muffled_clip(sentence, talker, dbfs, NO_CLOTH_HZ, ROOM_NOISE_DBFS)
        if gate is None:
            return clip
        fill = self._gate_fill(gate)
        return Clip(gate.name, dbfs, True, gated(clip.samples, gate, fill), clip.detail)

    def gate_clip(self, clip: Clip, gate: NoiseGate) -> Clip:
        """`clip` (a noise class: the background the handset hears) through `gate`."""
        samples = gated(clip.samples, gate, self._gate_fill(gate, clip.duration_s))
        return Clip(clip.kind, clip.level_db, clip.is_voice, samples, gate.name)

    def _gate_fill(self, gate: NoiseGate, duration_s: float = ROOM_NOISE_S) -> Signal | None:
        """The comfort noise a gate fills its gaps with (steady pink, 3 dB jumps)."""
        if gate.comfort_dbfs is None:
            return None
        return self.comfort(COMFORT_NOISES[0], gate.comfort_dbfs, max(duration_s, ROOM_NOISE_S))

    def rubbing(self, rubbing: Rubbing) -> Signal:
        """RUBBING_S of cloth rubbing of one kind, unscaled (sox, made once)."""
        return self.noise(rubbing.kind, RUBBING_S, rubbing.phone_band)

    def under_rubbing(self, clip: Clip, rubbing: Rubbing, ratio_db: float) -> Clip:
        """`clip` (a sentence, a whisper, a noise class: `level_db` its active level) with
        cloth rubbing under it for its whole length, `ratio_db` below its level; the
        stretch of rubbing is chosen by the clip's kind and detail (`rubbed`)."""
        name = f"{clip.kind}: {clip.detail}"
        samples = rubbed(clip.samples, clip.level_db, self.rubbing(rubbing), ratio_db, name)
        detail = f"{clip.detail}, over {rubbing.name} at {ratio_db:+g} dB".lstrip(", ")
        return Clip(clip.kind, clip.level_db, clip.is_voice, samples, detail)

    def rubbing_clip(
        self, sentence: str, talker: Talker, dbfs: float, rubbing: Rubbing, ratio_db: float
    ) -> Clip:
        """A caller speaking while the phone rubs against cloth: the sentence at active
        level `dbfs`, framed by LEAD_S and TAIL_S, the rubbing under it throughout with
        its RMS `ratio_db` below `dbfs` (the speech-to-rubbing ratio)."""
        clip = self.under_rubbing(self.speech_clip(sentence, talker, dbfs), rubbing, ratio_db)
        kind = f"{rubbing.name}, {ratio_db:+g} dB"
        return Clip(kind, dbfs, True, clip.samples, f"{talker.name}: {sentence}")

    def codec_clip(self, clip: Clip, codec: Codec) -> Clip:
        """`clip` (a sentence or a noise class) as it reaches the modem through `codec`."""
        detail = f"{clip.detail}, through {codec.name}".lstrip(", ")
        return Clip(
            clip.kind, clip.level_db, clip.is_voice, through_codec(clip.samples, codec), detail
        )

    def street_clip(self, sentence: str, talker: Talker, snr_db: float) -> Clip:
        """A sentence at a typical level over street noise at `snr_db`."""
        speech = at_level(self.speech(sentence, talker), STREET_SPEECH_LEVEL_DBFS)
        background = street_noise(len(speech) / RATE_HZ + LEAD_S + TAIL_S + 0.1)
        samples = over_noise(speech, background, snr_db)
        return Clip("street", snr_db, True, samples, f"{talker.name}: {sentence}")

    def recorded_word(self, path: Path, dbfs: float) -> Clip:
        """One recorded word of alsa-utils at an active level, framed by silence."""
        if path not in self._recorded:
            self._recorded[path] = recorded(path)
        samples = framed(at_level(self._recorded[path], dbfs))
        return Clip("recorded", dbfs, True, samples, path.stem)

    def recorded_words(self, dbfs: float) -> Iterator[Clip]:
        """Every recorded word of alsa-utils at an active level."""
        for path in recorded_speech_files():
            yield self.recorded_word(path, dbfs)
